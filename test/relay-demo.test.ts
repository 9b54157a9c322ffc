/**
 * `npm start` equivalence: `logrelay --demo DIR` prints commands, and they work exactly as printed.
 * Once on port 0 (always runs), once on the default ports 5514/6514 — which fails loudly, never
 * silently, when something else holds them.
 */
import * as dgram from 'dgram';
import * as net from 'net';
import { cleanup, RelayProcess, spawnChild, Tail, tempDir, until } from './relay-helpers';

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

/** Runs a printed command line through the shell, as a user pasting it would. */
function sh(command: string) {
  return spawnChild('sh', ['-c', command]);
}

async function runPrinted(args: string[]): Promise<void> {
  const cwd = tempDir();
  const relay = await RelayProcess.start(['--demo', 'demo', ...args], { cwd, defaults: false });
  await until('the printed commands', () => (/openssl s_client/.test(relay.stdout) ? true : undefined));
  const c = commands(relay.stdout);
  const tail = await Tail.spawn(relay, 'sh', ['-c', c.logtail]);
  const openssl = await Tail.spawn(relay, 'sh', ['-c', c.openssl]);
  for (const send of [c.logger, c.node]) {
    const sender = sh(send);
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

/** Throws (naming the port) if 127.0.0.1:port is taken for UDP or TCP. */
async function expectFree(udpPort: number, tcpPort: number): Promise<void> {
  const u = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => u.once('error', reject).bind(udpPort, '127.0.0.1', resolve)).catch((e) => {
    throw new Error(`UDP 127.0.0.1:${udpPort} (logrelay --demo's default) is taken: ${e.message}`);
  });
  u.close();
  const t = net.createServer();
  await new Promise<void>((resolve, reject) => t.once('error', reject).listen(tcpPort, '127.0.0.1', resolve)).catch((e) => {
    throw new Error(`TCP 127.0.0.1:${tcpPort} (logrelay --demo's default) is taken: ${e.message}`);
  });
  await new Promise((resolve) => t.close(resolve));
}

test('npm start as is: the default ports 5514/6514 and the printed commands', async () => {
  await expectFree(5514, 6514);
  await runPrinted([]);
}, 30000);
