/**
 * The published tarball: `npm pack` ships the runtime and the build inputs (not tests, bench or demo
 * certificates), and installs and runs in an empty project on a machine with no compiler, from the prebuild.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');
let work: string;
let tarball: string;
let files: string[];

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'pollset-pack-test-'));
  // dist/ is fresh (npm test's pretest built it), so skip `prepare` here.
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
    cwd: root,
    encoding: 'utf8',
  });
  const [info] = JSON.parse(out) as [{ filename: string; files: { path: string }[] }];
  tarball = path.join(work, info.filename);
  files = info.files.map((f) => f.path);
}, 60000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test('the tarball ships dist, native sources, both build files, prebuilds, README and LICENSE', () => {
  const wanted = ['dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'native/pollset.h', 'native/build.json'];
  wanted.push('native/build-config.js', 'binding.gyp', 'CMakeLists.txt', 'scripts/install.js', 'README.md', 'LICENSE');
  expect(files).toEqual(expect.arrayContaining(wanted));
  const prebuild = new RegExp(`^prebuilds/${os.platform()}-${os.arch()}/pollset\\.uv\\d+(\\.(glibc|musl))?\\.node$`);
  expect(files.filter((f) => prebuild.test(f))).toHaveLength(1);
  const sources = fs.readdirSync(path.join(root, 'native')).filter((f) => f.endsWith('.cc'));
  expect(files.filter((f) => f.endsWith('.cc')).sort()).toEqual(sources.map((f) => `native/${f}`).sort());
});

test('the tarball leaves out tests, bench, CI, dev scripts, sources and keys', () => {
  const unwanted = files.filter((f) =>
    /^(test|bench|lib|build|\.ci|\.github|node_modules)\/|^scripts\/(?!install\.js$)|\.(pem|key|crt|tgz)$|^(tsconfig|jest)/.test(
      f,
    ),
  );
  expect(unwanted).toEqual([]);
});

/** A PATH holding only `node`, `npm` and `sh` (npm runs scripts with it): no cc, c++, make or python. */
function nodeOnlyPath(dir: string): string {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const npm = execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim();
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync(fs.realpathSync(npm), path.join(bin, 'npm'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  return bin;
}

test('installs into an empty project with no compiler on PATH and runs from the prebuild', () => {
  const project = path.join(work, 'consumer');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, allowScripts: { pollset: true } }));
  const env = { HOME: os.homedir(), PATH: nodeOnlyPath(work), npm_config_update_notifier: 'false' };
  for (const tool of ['cc', 'gcc', 'c++', 'g++', 'make', 'python3']) {
    expect(spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { env }).status).not.toBe(0);
  }

  const install = spawnSync('npm', ['install', '--foreground-scripts', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
    cwd: project,
    env,
    encoding: 'utf8',
    timeout: 120000,
  });
  expect(install.stderr).not.toMatch(/gyp|make:|g\+\+|not found/);
  expect(install.status).toBe(0);
  // The install script ran (node-gyp-build) and found the prebuild: nothing was compiled.
  expect(install.stdout).toContain('> pollset@0.1.0 install');
  const installed = path.join(project, 'node_modules', 'pollset');
  expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);

  // The example runs from inside the consumer project (from the repo, `pollset` would self-resolve to it).
  fs.copyFileSync(path.join(root, 'scripts/smoke.js'), path.join(project, 'example.js'));
  const opts = { cwd: project, env, encoding: 'utf8', timeout: 20000 } as const;
  const run = spawnSync('node', ['example.js', 'pollset'], opts);
  expect(run.stderr).toBe('');
  const result = JSON.parse(run.stdout);
  expect(result).toMatchObject({ ok: true, addon: expect.stringMatching(/^prebuilds\//) });

  const esmEntry = "import { Pollset } from 'pollset'; console.log(Pollset.backends.join(','))";
  const esm = spawnSync('node', ['--input-type=module', '-e', esmEntry], opts);
  expect(esm.stdout.trim()).toBe(result.backends.join(','));
}, 180000);
