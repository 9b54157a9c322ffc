/**
 * The pollset core without Node (test/native/core_test.cc, linked with native/pollset*.cc): fork, a
 * half-applied kqueue registration, and the token path at 32 bits, which JavaScript cannot reach. Built with
 * the flags the addon is built with (native/build-config.js; POLLSET_KQUEUE adds libkqueue as it does for
 * the addon), once for the host and once with -m32, where kevent's udata is a 32-bit pointer.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Pollset } from '../lib';

const root = path.join(__dirname, '..');
const cxx = process.env.CXX || 'g++';
const sources = [
  'test/native/core_test.cc',
  'native/pollset.cc',
  'native/pollset_epoll.cc',
  'native/pollset_poll.cc',
  'native/pollset_kqueue.cc',
];
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pollset-core-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** One field of native/build.json for this platform, with POLLSET_KQUEUE=kqueuePrefix (or without it). */
function config(field: string, kqueuePrefix: string | undefined): string[] {
  const env = { ...process.env };
  if (kqueuePrefix) env.POLLSET_KQUEUE = kqueuePrefix;
  else delete env.POLLSET_KQUEUE;
  const out = execFileSync(process.execPath, ['native/build-config.js', field], { cwd: root, env, encoding: 'utf8' });
  return out.split(' ').filter(Boolean);
}

/** Compiles and runs the core checks; returns the program's summary line. */
function buildAndRun(name: string, extra: string[], kqueuePrefix: string | undefined): string {
  const exe = path.join(dir, name);
  const args = [
    ...config('cflags_cc', kqueuePrefix),
    ...extra,
    ...config('defines', kqueuePrefix).map((d) => `-D${d}`),
    ...config('include_dirs', kqueuePrefix).map((d) => `-I${d}`),
    '-Inative',
    ...sources,
    '-o',
    exe,
    '-pthread',
    ...config('libraries', kqueuePrefix),
  ];
  try {
    execFileSync(cxx, args, { cwd: root, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { stderr?: string };
    throw new Error(`${cxx} ${args.join(' ')} failed:\n${e.stderr}`);
  }
  try {
    return execFileSync(exe, [], { encoding: 'utf8', stdio: 'pipe', timeout: 60_000 }).trim();
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`${name} failed:\n${e.stdout}${e.stderr}`);
  }
}

test('the pollset core built for this host passes its checks on every backend the addon has', () => {
  // The addon was built against libkqueue: the core must be too, or its kqueue backend goes unchecked.
  if (os.platform() === 'linux' && Pollset.backends.includes('kqueue') && !process.env.POLLSET_KQUEUE) {
    throw new Error('the addon has the kqueue backend: set POLLSET_KQUEUE=<libkqueue prefix> for the tests too');
  }
  const summary = buildAndRun('core_test', [], process.env.POLLSET_KQUEUE);
  expect(summary).toBe(
    `backends ${Pollset.backends.join(',')} pointer-bits ${['x64', 'arm64', 'ppc64', 's390x', 'riscv64', 'loong64'].includes(process.arch) ? 64 : 32} failures 0`,
  );
});

// -m32 exists where the host is x86-64 Linux (i386 code on the same kernel); macOS has no 32-bit target and
// arm64 Linux compilers have no -m32, so the check is defined there only, as the backend suites are per backend.
if (os.platform() === 'linux' && process.arch === 'x64') {
  test('built with -m32 (udata a 32-bit pointer), every backend delivers its events through the token path', () => {
    // Debian's gcc-multilib only adds the /usr/include/asm link to the x86 headers (which serve both widths),
    // and conflicts with the aarch64 cross compiler that npm run prebuild:arm64 installs: the same link is
    // made here instead, searched last. g++-<major>-multilib (32-bit libc and libstdc++) is what -m32 needs.
    const inc = path.join(dir, 'include');
    fs.mkdirSync(inc, { recursive: true });
    if (fs.existsSync('/usr/include/x86_64-linux-gnu/asm'))
      fs.symlinkSync('/usr/include/x86_64-linux-gnu/asm', path.join(inc, 'asm'));
    // POLLSET_KQUEUE_M32: a 32-bit libkqueue install, to run the kqueue backend at 32 bits too.
    const kqueue32 = process.env.POLLSET_KQUEUE_M32;
    const summary = buildAndRun('core_test32', ['-m32', '-idirafter', inc], kqueue32);
    const backends = kqueue32 ? ['epoll', 'kqueue', 'poll'] : ['epoll', 'poll'];
    expect(summary).toBe(`backends ${backends.join(',')} pointer-bits 32 failures 0`);
  });
}
