/**
 * `npm start` equivalence: `logrelay --demo DIR` prints commands, and they work exactly as printed.
 * Once on port 0, once on the default ports 5514/6514. A newcomer runs `npm test` while `npm start`
 * runs in another shell, so the default-port run must not depend on those ports being free on the
 * host: it runs (relay, logger, node, logtail, openssl alike) in a network namespace of its own
 * (test/netns.ts), and while it does, this test itself holds UDP 127.0.0.1:5514 and TCP
 * 127.0.0.1:6514 on the host with real listeners (or finds them held by someone else).
 *
 * Where no namespace can be made (no unshare/nsenter/ip, or not permitted), the default ports cannot
 * be had while the host holds them: the test then checks what `npm start` says in that case — exit
 * code 1 and one line naming the taken address (EADDRINUSE) — and prints why the full run was left
 * out. That check runs in every case too, as its own test, with the ports held by this test.
 */
import * as dgram from 'dgram';
import * as net from 'net';
import { NetNamespace } from './netns';
import { cleanup, exitOf, LOGRELAY, RelayProcess, spawnChild, Tail, tempDir, until } from './relay-helpers';

afterEach(cleanup);

/** The printed command lines, by what they do. */
function commands(stdout: string): { logger: string; node: string; logtail: string; openssl: string } {
  const line = (re: RegExp) => {
    const m = re.exec(stdout);
    if (!m) throw new Error(`no command matching ${re} in:\n${stdout}`);
    return m[1];
  };
  return {
    logger: line(/send a message:\s+(logger .*)$/m),
    node: line(/^\s+or:\s+(node -e .*)$/m),
    logtail: line(/subscribe:\s+(node .*logtail\.js .*)$/m),
    openssl: line(/^\s+or:\s+(openssl s_client .*)$/m),
  };
}

/**
 * Starts `logrelay --demo` and runs the commands it prints through the shell, as a user pasting them
 * would; `prefix` runs every one of them (and the relay) inside a network namespace.
 */
async function runPrinted(args: string[], prefix: string[] = []): Promise<void> {
  const cwd = tempDir();
  const relay = await RelayProcess.start(['--demo', 'demo', ...args], { cwd, defaults: false, prefix });
  await until('the printed commands', () => (/openssl s_client/.test(relay.stdout) ? true : undefined));
  const c = commands(relay.stdout);
  // A process group each: sh may fork the command, and cleanup() must reach it (logtail would reconnect forever).
  const sh = (command: string) => [...prefix, 'sh', '-c', command];
  const [tailCmd, ...tailArgs] = sh(c.logtail);
  const tail = await Tail.spawn(relay, tailCmd, tailArgs, { detached: true });
  const [opensslCmd, ...opensslArgs] = sh(c.openssl);
  const openssl = await Tail.spawn(relay, opensslCmd, opensslArgs, { detached: true });
  for (const send of [c.logger, c.node]) {
    const [cmd, ...rest] = sh(send);
    const sender = spawnChild(cmd, rest, { detached: true });
    await new Promise((resolve) => sender.once('exit', resolve));
    expect(sender.exitCode).toBe(0);
  }
  const got = await tail.waitFor(2);
  expect(got[0].toString()).toMatch(/hello from logger$/);
  expect(got[1].toString()).toBe('<13>hello from node');
  await openssl.waitBytes(Buffer.concat(got.map((m) => Buffer.concat([m, Buffer.from('\n')]))).length);
  expect(await relay.stop()).toBe(0);
}

test('the printed commands work as printed (ports chosen by the kernel)', async () => {
  await runPrinted(['--udp', '127.0.0.1:0', '--tls', '127.0.0.1:0']);
}, 30000);

const DEMO_UDP = 5514;
const DEMO_TLS = 6514;

/** Whether 127.0.0.1:port can be bound in this (the host's) namespace right now. */
async function taken(kind: 'udp' | 'tcp', port: number): Promise<boolean> {
  const server = kind === 'udp' ? dgram.createSocket('udp4') : net.createServer();
  const bound = await new Promise<boolean>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(false) : reject(e)));
    if (server instanceof net.Server) server.listen(port, '127.0.0.1', () => resolve(true));
    else server.bind(port, '127.0.0.1', () => resolve(true));
  });
  if (server instanceof net.Server) {
    if (bound) await new Promise<void>((resolve) => server.close(() => resolve()));
  } else {
    await new Promise<void>((resolve) => server.close(resolve)); // a failed bind leaves the socket open too
  }
  return !bound;
}

/**
 * Holds UDP 127.0.0.1:5514 and TCP 127.0.0.1:6514 on the host, as a running `npm start` does; a port
 * someone else holds already stays theirs.
 */
async function holdDemoPorts() {
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    udp.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve() : reject(e)));
    udp.bind(DEMO_UDP, '127.0.0.1', () => resolve());
  });
  const tcp = net.createServer((socket) => socket.destroy());
  const heldTcp = await new Promise<boolean>((resolve, reject) => {
    tcp.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(false) : reject(e)));
    tcp.listen(DEMO_TLS, '127.0.0.1', () => resolve(true));
  });
  // Held by us or by someone else: either way the demo's ports cannot be bound on the host now.
  expect(await taken('udp', DEMO_UDP)).toBe(true);
  expect(await taken('tcp', DEMO_TLS)).toBe(true);
  return {
    release: async () => {
      await new Promise<void>((resolve) => udp.close(resolve));
      if (heldTcp) await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

/** What `npm start` does while another process holds its ports: one line naming the address, exit 1. */
async function expectPortsTakenError(): Promise<void> {
  const relay = spawnChild(process.execPath, [LOGRELAY, '--demo', 'demo'], { cwd: tempDir() });
  let stderr = '';
  relay.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  expect(await exitOf(relay)).toBe(1);
  expect(stderr).toMatch(
    new RegExp(`^logrelay: EADDRINUSE: address already in use, bind 127\\.0\\.0\\.1:(${DEMO_UDP}|${DEMO_TLS})\n$`),
  );
}

test('npm start as is, while another process holds 5514/6514 on the host: the default ports and the printed commands, in a network namespace', async () => {
  const host = await holdDemoPorts();
  try {
    const ns = await NetNamespace.open();
    if ('unavailable' in ns) {
      process.stderr.write(
        `relay-demo: no network namespace (${ns.unavailable}); checked the error npm start gives instead\n`,
      );
      await expectPortsTakenError();
      return;
    }
    try {
      await runPrinted([], ns.prefix);
    } finally {
      await cleanup();
      await ns.close();
    }
  } finally {
    await host.release();
  }
}, 30000);

test('npm start while another process holds 5514/6514 on the host: says which address is taken, exits 1', async () => {
  const host = await holdDemoPorts();
  try {
    await expectPortsTakenError();
  } finally {
    await host.release();
  }
}, 30000);
