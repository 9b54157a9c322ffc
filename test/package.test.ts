/**
 * The published tarball: `npm pack` ships the runtime and the build inputs (not tests, bench or demo
 * certificates), and installs and runs in an empty project on a machine with no compiler, from the prebuild.
 */
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as dgram from 'dgram';
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

test('installs into an empty project with no compiler on PATH and runs from the prebuild', async () => {
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

  // The CLIs from the installed package: help, then the demo relay carrying one message to logtail.
  const bin = (name: string) => path.join(project, 'node_modules', '.bin', name);
  expect(spawnSync(bin('logrelay'), ['--help'], opts).stdout).toContain('--demo');
  const demo = path.join(work, 'demo');
  const relay = spawn(bin('logrelay'), ['--demo', demo, '--udp', '127.0.0.1:0', '--tls', '127.0.0.1:0', '--json'], {
    cwd: project,
    env,
  });
  try {
    const listening = await new Promise<{ inputs: string; tls: string }>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`logrelay did not start: ${err}`)), 20000);
      relay.stderr.on('data', (d: Buffer) => {
        err += d;
        const line = err.split('\n').find((l) => l.includes('"listening"'));
        if (line) {
          clearTimeout(timer);
          resolve(JSON.parse(line));
        }
      });
    });
    expect(fs.statSync(path.join(demo, 'client-key.pem')).mode & 0o777).toBe(0o600);
    const tail = spawn(bin('logtail'), ['--demo', demo, '--connect', listening.tls, '--count', '1'], { cwd: project, env });
    let got = '';
    let tailErr = '';
    tail.stdout.on('data', (d: Buffer) => (got += d));
    tail.stderr.on('data', (d: Buffer) => (tailErr += d));
    const tailExit = new Promise((resolve) => tail.on('exit', resolve));
    const [host, port] = [listening.inputs.slice(0, listening.inputs.lastIndexOf(':')), Number(listening.inputs.split(':').pop())];
    const sender = dgram.createSocket('udp4');
    const deadline = Date.now() + 20000;
    // Until logtail's subscription is up, datagrams have nobody to go to: send until one arrives.
    while (!got && Date.now() < deadline) {
      sender.send('<13>from the tarball', port, host);
      await new Promise((r) => setTimeout(r, 200));
    }
    sender.close();
    if (!got) tail.kill();
    // stderr holds logtail's progress lines only (connected, where it started), no error.
    expect({ exit: await tailExit, stderr: tailErr }).toEqual({ exit: 0, stderr: expect.stringMatching(/^logtail: connected to \S+ \(subject CN=logrelay demo server\)\nlogtail: starting live \(the relay's next message is seq \d+\)\n$/) });
    expect(got.split('\n')[0]).toBe('<13>from the tarball');
  } finally {
    relay.kill('SIGTERM');
  }
  expect(await new Promise((resolve) => relay.on('exit', resolve))).toBe(0);
}, 180000);
