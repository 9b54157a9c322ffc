/**
 * What an operator sees of a real `logrelay` and `logtail`: host names in address flags, the
 * certificate a refused subscriber presented, log levels, and logtail's `connected to` line.
 */
import { X509Certificate } from 'crypto';
import * as dns from 'dns';
import * as fs from 'fs';
import * as net from 'net';
import * as tls from 'tls';
import { makeClientCert, makeDevCa } from '../lib';
import {
  clientIdentity,
  cleanup,
  exitOf,
  LOGRELAY,
  LOGTAIL,
  makeCerts,
  message,
  RelayProcess,
  runToExit,
  sendUdp,
  spawnChild,
  Tail,
  identity,
} from './relay-helpers';

afterEach(cleanup);

/** A TLS client of the relay that presents `client` (or nothing); resolves once the relay has closed it. */
async function knock(port: number, ca: string, client?: { cert: string; key: string }): Promise<number> {
  const socket = tls.connect({ host: '127.0.0.1', port, ca, cert: client?.cert, key: client?.key });
  socket.on('error', () => undefined); // refused: that is the point
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const local = socket.localPort!;
  await new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.resume();
  });
  return local;
}

/** Waits (bounded) until a TCP connect to `port` succeeds. */
async function listeningOn(port: number): Promise<void> {
  const deadline = Date.now() + 10000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const probe = net.connect(port, '127.0.0.1');
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("a refused subscriber's line carries the subject, issuer and fingerprint it presented, and none when it presented nothing", async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start([...identity(certs), '--issuer', 'CN=relay test CA']);
  // Another CA's certificate: the chain does not verify, and OpenSSL itself would keep nothing of it.
  const stranger = makeClientCert(makeDevCa({ cn: 'some other CA' }), { cn: 'stranger', o: 'Elsewhere' });
  let port = await knock(relay.tlsPort, certs.caPair.cert, stranger);
  let line = await relay.waitEvent('subscriber-rejected', (e) => e.address === `127.0.0.1:${port}`);
  expect(line).toMatchObject({
    reason: expect.stringMatching(/unable to get local issuer certificate/),
    subject: 'CN=stranger,O=Elsewhere',
    issuer: 'CN=some other CA',
    fingerprint: new X509Certificate(stranger.cert).fingerprint256,
  });
  // A certificate the chain accepts and the issuer pin refuses.
  const pinned = await RelayProcess.start([...identity(certs), '--issuer', 'CN=not this CA']);
  const client = { cert: fs.readFileSync(certs.clientCert, 'utf8'), key: fs.readFileSync(certs.clientKey, 'utf8') };
  port = await knock(pinned.tlsPort, certs.caPair.cert, client);
  line = await pinned.waitEvent('subscriber-rejected', (e) => e.address === `127.0.0.1:${port}`);
  expect(line).toMatchObject({
    reason: expect.stringMatching(/issuer/),
    subject: 'CN=relay test subscriber',
    issuer: 'CN=relay test CA',
    fingerprint: new X509Certificate(client.cert).fingerprint256,
  });
  // No certificate at all: the line says why, and has no certificate fields.
  port = await knock(relay.tlsPort, certs.caPair.cert);
  line = await relay.waitEvent('subscriber-rejected', (e) => e.address === `127.0.0.1:${port}`);
  expect(line.reason).toMatch(/did not return a certificate/);
  expect(line).not.toHaveProperty('subject');
  expect(line).not.toHaveProperty('fingerprint');
});

test('host names: --udp and --tls localhost bind the first address localhost resolves to; logtail --connect localhost finds it and names the relay certificate', async () => {
  const first = (await dns.promises.lookup('localhost', { all: true }))[0];
  const host = first.family === 6 ? `[${first.address}]` : first.address;
  const certs = makeCerts();
  const relay = await RelayProcess.start(
    ['--udp', 'localhost:0', '--tls', 'localhost:0', '--log-level', 'debug', ...identity(certs)],
    {
      defaults: false,
    },
  );
  expect(relay.inputs).toEqual([expect.stringMatching(new RegExp(`^${host.replace(/[[\].]/g, '\\$&')}:\\d+$`))]);
  const listening = relay.all('listening')[0];
  expect(listening.tls).toBe(`${host}:${relay.tlsPort}`);
  // debug shows what each name became.
  expect(relay.all('resolved').map((e) => [e.flag, e.name])).toEqual([
    ['udp', 'localhost:0'],
    ['tls', 'localhost:0'],
  ]);
  const tail = await Tail.spawn(relay, process.execPath, [
    LOGTAIL,
    '--connect',
    `localhost:${relay.tlsPort}`,
    ...clientIdentity(certs),
  ]);
  const m = message(1, 100, 'by-name');
  await sendUdp(relay.udpPort, [m], { host: first.address });
  expect((await tail.waitFor(1))[0]).toEqual(m);
  expect(tail.stderr).toContain(
    `logtail: connected to localhost:${relay.tlsPort} (${host}:${relay.tlsPort}; subject CN=relay test server)\n`,
  );
});

test('a host name that does not resolve: one line naming it, exit 2 (logrelay at start, logtail before its first connect)', async () => {
  const certs = makeCerts();
  const files = [...identity(certs)];
  for (const args of [
    ['--udp', 'nonexistent.invalid:514', '--tls', '127.0.0.1:0'],
    ['--udp', '127.0.0.1:0', '--tls', 'nonexistent.invalid:6514'],
  ]) {
    const r = await runToExit(LOGRELAY, [...args, ...files]);
    const flag = args[args.indexOf(args.find((a) => a.startsWith('nonexistent'))!) - 1];
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: `logrelay: ${flag}: cannot resolve nonexistent.invalid (no such host) in ${args.find((a) => a.startsWith('nonexistent'))}\n`,
    });
  }
  const tail = await runToExit(LOGTAIL, ['--connect', 'nonexistent.invalid:6514', ...clientIdentity(certs)]);
  expect(tail).toEqual({
    code: 2,
    stdout: '',
    stderr: 'logtail: --connect: cannot resolve nonexistent.invalid (no such host) in nonexistent.invalid:6514\n',
  });
});

test("--log-level: warn keeps rejections and drops the relay's info lines; error drops both; a bad level is one line, exit 2", async () => {
  const certs = makeCerts();
  const files = [...identity(certs)];
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  for (const level of ['warn', 'error']) {
    const child = spawnChild(process.execPath, [
      LOGRELAY,
      '--json',
      '--log-level',
      level,
      '--udp',
      '127.0.0.1:0',
      '--tls',
      `127.0.0.1:${port}`,
      ...files,
    ]);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c));
    // Nothing is logged at start at these levels: the port answering says it is up.
    await listeningOn(port);
    const local = await knock(port, certs.caPair.cert);
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    const events =
      stderr.trim() === ''
        ? []
        : stderr
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l));
    expect(events.map((e) => e.level).filter((l) => l === 'info' || l === 'debug')).toEqual([]);
    expect(events.filter((e) => e.event === 'subscriber-rejected' && e.address === `127.0.0.1:${local}`).length).toBe(
      level === 'warn' ? 1 : 0,
    );
  }
  const bad = await runToExit(LOGRELAY, ['--log-level', 'verbose', ...files]);
  expect(bad).toEqual({
    code: 2,
    stdout: '',
    stderr: 'logrelay: --log-level must be one of error, warn, info, debug, not "verbose"\n',
  });
});
