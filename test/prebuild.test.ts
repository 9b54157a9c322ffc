/**
 * node-gyp-build loads the prebuild (prebuilds/<platform>-<arch>/pollset.uv<N>.<libc>.node, made by
 * `npm run build:prebuilds` in jest's global setup) when no local build exists, and only when its tags match.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');
const tuple = `${os.platform()}-${os.arch()}`;
const uvMajor = process.versions.uv.split('.')[0];
// Linux prebuilds also carry the libc (glibc, or musl on Alpine); other systems have one libc.
const libcTag = os.platform() !== 'linux' ? '' : fs.existsSync('/etc/alpine-release') ? '.musl' : '.glibc';
const expected = `prebuilds/${tuple}/pollset.uv${uvMajor}${libcTag}.node`;

/** A copy of the package as installed from a tarball minus the compiler's output: no build/. */
function stagePackage(prebuildName: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pollset-prebuild-test-'));
  fs.cpSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
  fs.cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'prebuilds', tuple), { recursive: true });
  fs.cpSync(path.join(root, expected), path.join(dir, 'prebuilds', tuple, prebuildName));
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

/** Runs scripts/smoke.js on the staged package with prebuilds only and every symbol bound at load. */
function smoke(dir: string) {
  return spawnSync(process.execPath, [path.join(root, 'scripts/smoke.js'), dir], {
    encoding: 'utf8',
    timeout: 20000,
    env: { ...process.env, PREBUILDS_ONLY: '1', LD_BIND_NOW: '1' },
  });
}

test('npm run build:prebuilds produced a stripped binary tagged with libuv (and libc on Linux)', () => {
  expect(fs.existsSync(path.join(root, expected))).toBe(true);
  const elf = fs.readFileSync(path.join(root, expected));
  if (os.platform() === 'linux') expect(elf.includes('.symtab')).toBe(false);
});

test('node-gyp-build loads the prebuild when there is no build/ and pollset works with it', () => {
  const dir = stagePackage(path.basename(expected));
  try {
    expect(fs.existsSync(path.join(dir, 'build'))).toBe(false);
    const run = smoke(dir);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ ok: true, addon: expected });
    expect(result.backends).toContain('poll');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a prebuild tagged for another libuv major is not loaded', () => {
  const dir = stagePackage(`pollset.uv999${libcTag}.node`);
  try {
    const run = smoke(dir);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('No native build was found');
    expect(run.stderr).toContain(`uv=${uvMajor}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe("jest's global setup says what it builds before the long, silent compile", () => {
  /** A copy of the setup's inputs whose build:prebuilds fails at once: what is printed before it is under test. */
  function stage(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pollset-setup-test-'));
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    pkg.scripts = { 'build:prebuilds': 'node -e "process.exit(3)"' };
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg));
    fs.cpSync(path.join(root, 'binding.gyp'), path.join(dir, 'binding.gyp'));
    fs.cpSync(path.join(root, 'native'), path.join(dir, 'native'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'test'));
    fs.cpSync(path.join(root, 'test/global-setup.js'), path.join(dir, 'test/global-setup.js'));
    return dir;
  }
  const setup = (dir: string) =>
    spawnSync(process.execPath, ['-e', "require('./test/global-setup.js')()"], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 60000,
    });

  test('missing, then stale: one line each naming the directory and why; fresh: silent, nothing built', () => {
    const dir = stage();
    try {
      const missing = setup(dir);
      expect(missing.status).not.toBe(0);
      expect(missing.stderr.split('\n')[0]).toBe(
        `pollset: building prebuilds/${tuple}/ for the prebuild and package tests (missing): ` +
          'a full compile of native/, a minute or more before the first test runs',
      );
      const built = path.join(dir, 'prebuilds', tuple, 'pollset.node');
      fs.mkdirSync(path.dirname(built), { recursive: true });
      fs.writeFileSync(built, '');
      fs.utimesSync(built, new Date(0), new Date(0));
      const stale = setup(dir);
      expect(stale.status).not.toBe(0);
      expect(stale.stderr).toContain(
        `pollset: building prebuilds/${tuple}/ for the prebuild and package tests (older than the native sources)`,
      );
      fs.utimesSync(built, new Date(), new Date());
      expect(setup(dir)).toMatchObject({ status: 0, stderr: '' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
