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
const uvMajor = process.versions.uv!.split('.')[0];
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
