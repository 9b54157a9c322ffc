/**
 * The published tarball: `npm pack` ships the runtime and the build inputs (not tests, bench or demo
 * certificates), is judged clean by attw and publint, its types compile in a consumer, and it installs and runs
 * in an empty project on a machine with no compiler, from the prebuild, quietly; without a prebuild the install
 * compiles quietly, and a failed build shows its errors.
 */
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as dgram from 'dgram';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';

const root = path.join(__dirname, '..');
let work: string;
let tarball: string;
let files: string[];
/** The tarball, unpacked: what a user's node_modules/pollset holds. */
let unpacked: string;

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
  fs.mkdirSync(path.join(work, 'unpacked'));
  execFileSync('tar', ['-xzf', tarball, '-C', path.join(work, 'unpacked')]);
  unpacked = path.join(work, 'unpacked', 'package');
}, 60000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test('the tarball ships dist, native sources, both build files, prebuilds, README and LICENSE', () => {
  const wanted = ['dist/index.js', 'dist/index.d.ts', 'dist/index.js.map', 'native/pollset.h', 'native/build.json'];
  wanted.push('native/build-config.js', 'binding.gyp', 'CMakeLists.txt', 'scripts/install.js', 'README.md', 'LICENSE');
  expect(files).toEqual(expect.arrayContaining(wanted));
  const prebuild = new RegExp(`^prebuilds/${os.platform()}-${os.arch()}/pollset\\.uv\\d+(\\.(glibc|musl))?\\.node$`);
  expect(files.filter((f) => prebuild.test(f))).toHaveLength(1);
  const sources = fs.readdirSync(path.join(root, 'native')).filter((f) => f.endsWith('.cc'));
  expect(files.filter((f) => f.endsWith('.cc')).sort()).toEqual(sources.map((f) => `native/${f}`).sort());
});

test('one entry point for require and import: no ESM copy of the package (its default loop would be a second one)', () => {
  expect(files.filter((f) => /\.(mjs|mts)$/.test(f))).toEqual([]);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
});

test('every source map in the tarball carries its sources (lib/ is not shipped)', () => {
  const maps = files.filter((f) => f.endsWith('.js.map'));
  expect(maps.length).toBe(files.filter((f) => /^dist\/.*\.js$/.test(f)).length);
  for (const f of maps) {
    const map = JSON.parse(fs.readFileSync(path.join(unpacked, f), 'utf8'));
    expect({ f, n: map.sourcesContent?.length }).toEqual({ f, n: map.sources.length });
    expect(map.sourcesContent.every((c: unknown) => typeof c === 'string' && c.length > 0)).toBe(true);
  }
});

test('no @internal declaration ships in the types', () => {
  const dts = files.filter((f) => f.endsWith('.d.ts'));
  const leaked = dts.filter((f) => fs.readFileSync(path.join(unpacked, f), 'utf8').includes('@internal'));
  expect(leaked).toEqual([]);
  // Members marked @internal in the sources, absent from the declarations users compile against.
  expect(fs.readFileSync(path.join(unpacked, 'dist/loop/task.d.ts'), 'utf8')).not.toMatch(/\bwake\(/);
});

test('every public export of the packed types, and every member of its classes and interfaces, has TSDoc', () => {
  const entry = path.join(unpacked, 'dist/index.d.ts');
  const program = ts.createProgram([entry], { types: ['node'], typeRoots: [path.join(root, 'node_modules/@types')] });
  const checker = program.getTypeChecker();
  // A namespace (`export * as tcp`) is documented by the comment that opens its module file.
  const opening = (f: ts.SourceFile) =>
    /^\/\*\*/.test(f.text.slice(ts.getLeadingCommentRanges(f.text, 0)?.[0]?.pos ?? -1));
  const documented = (sym: ts.Symbol) =>
    (sym.getDeclarations() ?? []).some((d) =>
      ts.isSourceFile(d) ? opening(d) : ts.getJSDocCommentsAndTags(d).length > 0,
    );
  const hidden = ts.ModifierFlags.Private | ts.ModifierFlags.Protected;
  const undocumented: string[] = [];
  const seen = new Set<ts.Symbol>();
  const visit = (exported: ts.Symbol, name: string, members: boolean) => {
    const sym = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    if (seen.has(sym)) return;
    seen.add(sym);
    if (!documented(exported) && !documented(sym)) undocumented.push(name);
    if (sym.flags & ts.SymbolFlags.ValueModule) {
      for (const e of checker.getExportsOfModule(sym)) visit(e, `${name}.${e.name}`, true);
    }
    if (!members || !(sym.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface))) return;
    for (const table of [sym.members, sym.exports]) {
      table?.forEach((m, key) => {
        const decl = m.getDeclarations()?.[0];
        const skip =
          /^(__constructor|__index|prototype|__#)/.test(String(key)) || m.flags & ts.SymbolFlags.TypeParameter;
        if (skip || (decl && ts.getCombinedModifierFlags(decl) & hidden)) return;
        visit(m, `${name}.${String(key)}`, false);
      });
    }
  };
  const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(entry)!)!);
  for (const e of exports) visit(e, e.name, true);
  expect(exports.length).toBeGreaterThan(80);
  expect(seen.size).toBeGreaterThan(300);
  expect(undocumented).toEqual([]);
}, 60000);

test('attw (are the types wrong) finds no problem in the tarball for node10, node16 CJS and ESM, bundlers', () => {
  const attw = path.join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js');
  const run = spawnSync(process.execPath, [attw, tarball, '--format', 'json'], { encoding: 'utf8', timeout: 60000 });
  const report = JSON.parse(run.stdout);
  expect(report.analysis.problems).toEqual([]);
  expect(Object.keys(report.analysis.entrypoints)).toEqual(['.', './package.json']);
  expect(run.status).toBe(0);
}, 90000);

test('publint finds nothing in the tarball, suggestions included', () => {
  const script = `
    import { publint } from 'publint';
    import { formatMessage } from 'publint/utils';
    import { readFileSync } from 'fs';
    const b = readFileSync(process.argv[1]);
    const tarball = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    const r = await publint({ pack: { tarball }, level: 'suggestion', strict: true });
    console.log(JSON.stringify(r.messages.map((m) => m.type + ': ' + formatMessage(m, r.pkg))));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script, tarball], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60000,
  });
  expect(run.stderr).toBe('');
  expect(JSON.parse(run.stdout)).toEqual([]);
}, 90000);

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
  fs.writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, allowScripts: { pollset: true } }),
  );
  const env = { HOME: os.homedir(), PATH: nodeOnlyPath(work), npm_config_update_notifier: 'false' };
  for (const tool of ['cc', 'gcc', 'c++', 'g++', 'make', 'python3']) {
    expect(spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { env }).status).not.toBe(0);
  }

  const install = spawnSync(
    'npm',
    ['install', '--foreground-scripts', '--prefer-offline', '--no-audit', '--no-fund', tarball],
    {
      cwd: project,
      env,
      encoding: 'utf8',
      timeout: 120000,
    },
  );
  expect(install.stderr).not.toMatch(/gyp|make:|g\+\+|not found/);
  expect(install.status).toBe(0);
  // The install script ran, found that the prebuild loads, and said nothing: nothing was compiled.
  expect(install.stdout).toContain('> pollset@0.1.0 install\n> node scripts/install.js\n');
  expect(install.stdout + install.stderr).not.toMatch(/pollset:|compil/);
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
  // Node's CJS named-export detection gives import every name require has, from the same module instance
  // (one default loop per thread, whichever way it is loaded).
  const same = [
    "import * as esm from 'pollset'; import { createRequire } from 'module';",
    "const cjs = createRequire(process.cwd() + '/')('pollset');",
    'console.log(JSON.stringify({ missing: Object.keys(cjs).filter((k) => !(k in esm)), names: Object.keys(cjs).length,',
    '  sameLoop: esm.getDefaultLoop() === cjs.getDefaultLoop(), defaultIsCjs: esm.default === cjs }));',
  ].join('\n');
  const both = spawnSync('node', ['--input-type=module', '-e', same], opts);
  expect(both.stderr).toBe('');
  expect(JSON.parse(both.stdout)).toEqual({
    missing: [],
    names: expect.any(Number),
    sameLoop: true,
    defaultIsCjs: true,
  });
  expect(JSON.parse(both.stdout).names).toBeGreaterThan(40);

  // Source maps carry their sources: stack traces name lib/*.ts lines of the installed package.
  const thrower = "try { new (require('pollset').Pollset)({ backend: 'nope' }) } catch (e) { console.log(e.stack) }";
  const mapped = spawnSync('node', ['--enable-source-maps', '-e', thrower], opts);
  expect(mapped.stdout).toMatch(/at new Pollset \(.*node_modules\/pollset\/lib\/pollset\.ts:\d+:\d+\)/);

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
    const tail = spawn(bin('logtail'), ['--demo', demo, '--connect', listening.tls, '--count', '1'], {
      cwd: project,
      env,
    });
    let got = '';
    let tailErr = '';
    tail.stdout.on('data', (d: Buffer) => (got += d));
    tail.stderr.on('data', (d: Buffer) => (tailErr += d));
    const tailExit = new Promise((resolve) => tail.on('exit', resolve));
    const [host, port] = [
      listening.inputs.slice(0, listening.inputs.lastIndexOf(':')),
      Number(listening.inputs.split(':').pop()),
    ];
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
    expect({ exit: await tailExit, stderr: tailErr }).toEqual({
      exit: 0,
      stderr: expect.stringMatching(
        /^logtail: connected to \S+ \(subject CN=logrelay demo server\)\nlogtail: starting live \(the relay's next message is seq \d+\)\n$/,
      ),
    });
    expect(got.split('\n')[0]).toBe('<13>from the tarball');
  } finally {
    relay.kill('SIGTERM');
  }
  expect(await new Promise((resolve) => relay.on('exit', resolve))).toBe(0);
}, 180000);

test('a TypeScript consumer compiles against the packed types, from CommonJS and from ESM (node16), libs checked', () => {
  const project = path.join(work, 'types-consumer');
  const modules = path.join(project, 'node_modules');
  fs.mkdirSync(path.join(modules, '@types'), { recursive: true });
  fs.cpSync(unpacked, path.join(modules, 'pollset'), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules/@types/node'), path.join(modules, '@types/node'));
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'types-consumer', private: true }));
  const compilerOptions = {
    module: 'node16',
    moduleResolution: 'node16',
    target: 'ES2022',
    strict: true,
    noEmit: true,
  };
  fs.writeFileSync(
    path.join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { ...compilerOptions, skipLibCheck: false, types: ['node'] },
      include: ['*.mts', '*.cts'],
    }),
  );
  // Public API across the layers; internals (stripped from the declarations) must not be reachable.
  const body = (from: string) => `
    ${from}
    const ps: Pollset<string> = new Pollset<string>({ backend: 'poll' });
    for (const ev of ps.events()) { const o: string = ev.obj; const r: boolean = ev.read; void o; void r; }
    const task: Task<number> = spawn(function* (): Operation<number> { yield* sleep(1); return 1; });
    // @ts-expect-error Task.wake is internal
    task.wake();
    // @ts-expect-error Loop.timers is internal
    getDefaultLoop().timers;
    // @ts-expect-error tasks come from spawn (a stripped constructor would have left an implicit \`new Task()\`)
    new Task();
    const box = new Mailbox<string>(8);
    const opts: RelayOptions = { udp: ['127.0.0.1:0'], tls: '127.0.0.1:0', cert: 'c', key: 'k', ca: 'a', onFull: 'drop-oldest' };
    const log: Logger = createLogger({ json: true });
    const relay = new Relay(opts, log);
    const ctx: TlsContextOptions = { verify: 'require', servername: 'localhost' };
    void [box, relay, ctx, TlsContext, ps];`;
  fs.writeFileSync(
    path.join(project, 'esm.mts'),
    body(
      "import { Pollset, spawn, sleep, getDefaultLoop, Mailbox, Relay, createLogger, TlsContext } from 'pollset';\n" +
        "import type { Operation, RelayOptions, Logger, TlsContextOptions } from 'pollset';\n" +
        "import { Task } from 'pollset';",
    ),
  );
  fs.writeFileSync(
    path.join(project, 'cjs.cts'),
    body(
      "import pollset = require('pollset');\nconst { Pollset, spawn, sleep, getDefaultLoop, Mailbox, Relay, createLogger, TlsContext, Task } = pollset;\n" +
        'type Pollset<T> = pollset.Pollset<T>; type Task<T> = pollset.Task<T>; type Operation<T> = pollset.Operation<T>;\n' +
        'type RelayOptions = pollset.RelayOptions;\n' +
        'type Logger = pollset.Logger; type TlsContextOptions = pollset.TlsContextOptions;',
    ),
  );
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  const run = spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8', timeout: 120000 });
  expect(run.stdout + run.stderr).toBe('');
  expect(run.status).toBe(0);
}, 150000);

/** The tarball as `npm pack` makes it from a clone with no prebuilds (POLLSET_PACK_WITHOUT_PREBUILDS=1). */
function tarballWithoutPrebuilds(): string {
  const dir = path.join(work, 'no-prebuilds');
  if (!fs.existsSync(dir)) {
    fs.cpSync(unpacked, path.join(dir, 'package'), { recursive: true });
    fs.rmSync(path.join(dir, 'package', 'prebuilds'), { recursive: true });
    execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], {
      cwd: path.join(dir, 'package'),
      stdio: 'ignore',
    });
  }
  return path.join(dir, path.basename(tarball));
}

function consumer(name: string): string {
  const project = path.join(work, name);
  fs.mkdirSync(project);
  fs.writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name, private: true, allowScripts: { pollset: true } }),
  );
  return project;
}

const installArgs = ['install', '--foreground-scripts', '--prefer-offline', '--no-audit', '--no-fund'];

test("without a prebuild or a compiler, the install fails and shows the build tool's own errors", () => {
  const project = consumer('no-compiler');
  const env = { HOME: os.homedir(), PATH: nodeOnlyPath(project), npm_config_update_notifier: 'false' };
  const install = spawnSync('npm', [...installArgs, tarballWithoutPrebuilds()], {
    cwd: project,
    env,
    encoding: 'utf8',
    timeout: 120000,
  });
  expect(install.status).not.toBe(0);
  const platform = `${os.platform()}-${os.arch()}`;
  expect(install.stderr).toContain(
    `pollset: compiling the native addon with node-gyp (no prebuilt binary for ${platform}`,
  );
  // node-gyp's output, held back while it ran, is printed in full: here, that it found no Python.
  expect(install.stderr).toMatch(/gyp ERR! .*Python/);
  expect(install.stderr).toContain('pollset: the build failed (exit 1); it needs python3, make and a C++17 compiler');
}, 150000);

test("without a prebuild, the install compiles from source and prints two lines instead of node-gyp's progress", () => {
  const project = consumer('from-source');
  const env = { ...process.env, npm_config_update_notifier: 'false' };
  // At low priority: a full compile, while the other suites' load tests run beside it.
  const install = spawnSync('nice', ['-n', '10', 'npm', ...installArgs, tarballWithoutPrebuilds()], {
    cwd: project,
    env,
    encoding: 'utf8',
    timeout: 400000,
  });
  expect(install.status).toBe(0);
  const ours = install.stderr.split('\n').filter((l) => l.startsWith('pollset:'));
  expect(ours).toEqual([
    expect.stringMatching(/^pollset: compiling the native addon with node-gyp \(no prebuilt binary for /),
    expect.stringMatching(/^pollset: built build\/Release\/pollset\.node in \d+ s$/),
  ]);
  expect(install.stdout + install.stderr).not.toMatch(/gyp info|CXX\(target\)|make: /);
  fs.copyFileSync(path.join(root, 'scripts/smoke.js'), path.join(project, 'example.js'));
  const run = spawnSync('node', ['example.js', 'pollset'], { cwd: project, env, encoding: 'utf8', timeout: 20000 });
  expect(run.stderr).toBe('');
  expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, addon: 'build/Release/pollset.node' });
}, 450000);

describe('prepack refuses a tarball without the Linux x64 and arm64 prebuilds', () => {
  /** A copy of the package's packing inputs, with its prepack script and the given prebuilds only. */
  function stage(tuples: string[]): string {
    const dir = fs.mkdtempSync(path.join(work, 'prepack-'));
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    pkg.scripts = { prepack: pkg.scripts.prepack };
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg));
    fs.mkdirSync(path.join(dir, 'scripts'));
    fs.copyFileSync(path.join(root, 'scripts/prepack.js'), path.join(dir, 'scripts/prepack.js'));
    const [built] = files.filter((f) => /^prebuilds\/.*\.node$/.test(f));
    for (const t of tuples) {
      fs.mkdirSync(path.join(dir, 'prebuilds', t), { recursive: true });
      fs.copyFileSync(path.join(unpacked, built), path.join(dir, 'prebuilds', t, path.basename(built)));
    }
    return dir;
  }
  const pack = (dir: string, env: NodeJS.ProcessEnv = {}) =>
    spawnSync('npm', ['pack', '--dry-run', '--json'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, ...env },
      timeout: 60000,
    });

  test('none, or only linux-x64: refused, naming what is missing and the override', () => {
    for (const [tuples, missing] of [
      [[], 'linux-x64 and linux-arm64'],
      [['linux-x64'], 'linux-arm64'],
    ] as const) {
      const run = pack(stage([...tuples]));
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain(`pollset: refusing to pack without prebuilds for ${missing} `);
      expect(run.stderr).toContain('POLLSET_PACK_WITHOUT_PREBUILDS=1');
    }
  }, 60000);

  test('both present: packed, with them', () => {
    const run = pack(stage(['linux-x64', 'linux-arm64']));
    expect(run.status).toBe(0);
    const [info] = JSON.parse(run.stdout) as [{ files: { path: string }[] }];
    expect(
      info.files
        .filter((f) => f.path.startsWith('prebuilds/'))
        .map((f) => f.path.split('/')[1])
        .sort(),
    ).toEqual(['linux-arm64', 'linux-x64']);
  }, 60000);

  test('POLLSET_PACK_WITHOUT_PREBUILDS=1: packed without them', () => {
    const run = pack(stage([]), { POLLSET_PACK_WITHOUT_PREBUILDS: '1' });
    expect(run.stderr).not.toContain('refusing');
    expect(run.status).toBe(0);
  }, 60000);
});
