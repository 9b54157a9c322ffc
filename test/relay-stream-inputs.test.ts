/**
 * Syslog over TCP (RFC 6587) and TLS (RFC 5425) into a real `logrelay`, from real sockets: framing
 * detected per connection, messages in order at a subscriber, and everything a sender can do wrong
 * or hostile — a broken frame, a huge length prefix, a line that never ends, one byte a second, a
 * reset mid-frame, a thousand connections, a relay short of fds, and TLS senders with the wrong
 * certificate.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import * as tls from 'tls';
import { createLogger, makeClientCert, makeDevCa, Relay, RelayOptions, tcp as tcpSocket } from '../lib';
import {
  cleanup,
  CertFiles,
  makeCerts,
  message,
  numberOf,
  RelayProcess,
  sleep,
  Tail,
  until,
  writePem,
  identity,
  LOGRELAY,
} from './relay-helpers';
import { opensslClientCert } from './tls-helpers';
import { openFdList } from './helpers/fds';

afterEach(cleanup);

interface Started {
  certs: CertFiles & { caPair: ReturnType<typeof makeDevCa> };
  relay: RelayProcess;
  tcp: number;
  tlsIn: number;
}

async function start(args: string[], options: { fdLimit?: number } = {}): Promise<Started> {
  const certs = makeCerts();
  const relay = await RelayProcess.start([...identity(certs), ...args], options);
  const listening = relay.all('listening')[0];
  const port = (field: string) =>
    Number(
      String((listening[field] as string | undefined) ?? ':0')
        .split(',')[0]
        .split(':')
        .pop(),
    );
  return { certs, relay, tcp: port('tcp'), tlsIn: port('tlsIn') };
}

/** Per input: [received, cut, connections, closed] from the stats line's `stream_inputs`. */
async function inputStats(relay: RelayProcess): Promise<number[]> {
  const s = (await relay.stats()) as unknown as { stream_inputs: string };
  return s.stream_inputs.split('=')[1].split('/').map(Number);
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Connects, writes `data`, ends, and waits until the relay has closed its side too. */
async function send(port: number, data: Buffer): Promise<void> {
  const s = await connect(port);
  s.resume();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.once('close', () => resolve());
    s.end(data);
  });
}

/** A TLS sender with `cert`/`key` (or none); resolves once the relay's verdict is known. */
function tlsSend(port: number, ca: string, id: { cert?: string; key?: string }, data: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ port, host: '127.0.0.1', ca, servername: 'localhost', ...id }, () => {
      s.resume();
      s.end(data);
    });
    let error = '';
    s.on('error', (e) => (error = e.message));
    s.on('close', () => resolve(error || 'sent'));
  });
}

const octet = (m: Buffer) => Buffer.concat([Buffer.from(`${m.length} `), m]);
const lf = (m: Buffer) => Buffer.concat([m, Buffer.from('\n')]);

describe.each(['integrated', 'blocking'] as const)('%s mode', (mode) => {
  test('TCP: an octet-counted sender and an LF-terminated one, told apart per connection, every message in order at a subscriber', async () => {
    const { certs, relay, tcp } = await start(['--tcp', '127.0.0.1:0', '--mode', mode]);
    const tail = await Tail.start(relay, certs);
    const first = Array.from({ length: 300 }, (_, i) => message(i, 200, 'octet'));
    const second = Array.from({ length: 300 }, (_, i) => message(300 + i, 200, 'lf'));
    // One write each: the relay reads the stream in chunks that split frames anywhere.
    await send(tcp, Buffer.concat(first.map(octet)));
    await tail.waitFor(300);
    await send(tcp, Buffer.concat(second.map(lf)));
    const got = await tail.waitFor(600);
    expect(got.map(numberOf)).toEqual(Array.from({ length: 600 }, (_, i) => i));
    expect(Buffer.concat(got).equals(Buffer.concat([...first, ...second]))).toBe(true);
    const closed = relay.all('sender-disconnected');
    expect(closed.map((e) => [e.framing, e.received, e.reason])).toEqual([
      ['octet', 300, 'peer closed'],
      ['lf', 300, 'peer closed'],
    ]);
    expect(await inputStats(relay)).toEqual([600, 0, 0, 0]);
    const stats = await relay.stats();
    expect(stats.received).toBe(600);
    expect(await relay.stop()).toBe(0);
  }, 30000);
});

test('a sender that breaks the framing is closed with a line naming it and the byte; what it sent before is delivered', async () => {
  const { certs, relay, tcp } = await start(['--tcp', '127.0.0.1:0']);
  const tail = await Tail.start(relay, certs);
  const good = [message(1, 100), message(2, 100)];
  const s = await connect(tcp);
  const address = `127.0.0.1:${s.localPort}`; // gone from the socket once it is closed
  const closed = new Promise((resolve) => s.once('close', resolve));
  s.resume();
  s.write(
    Buffer.concat([
      ...good.map(octet),
      Buffer.from('<13>an LF-framed line in an octet-counted stream\n'),
      octet(message(3, 100)),
    ]),
  );
  await closed; // the relay closed it: no end() from this side
  const line = await relay.waitEvent('sender-disconnected');
  expect(line).toMatchObject({
    level: 'warn',
    input: `tcp:127.0.0.1:${tcp}`,
    address,
    received: 2,
    framing: 'octet',
    reason: `framing error at byte ${octet(good[0]).length * 2}: '<' where an octet-counted frame should start (expected a digit 1-9)`,
  });
  expect((await tail.waitFor(2)).map(numberOf)).toEqual([1, 2]);
  expect(await inputStats(relay)).toEqual([2, 0, 0, 1]);
}, 30000);

test('--max-message: a longer message is cut to it and counted, in both framings, and the sender goes on', async () => {
  const { certs, relay, tcp } = await start(['--tcp', '127.0.0.1:0', '--max-message', '100']);
  const tail = await Tail.start(relay, certs);
  const long = message(1, 5000);
  await send(tcp, Buffer.concat([octet(long), octet(message(2, 100)), octet(message(3, 101))]));
  await send(tcp, Buffer.concat([lf(message(4, 50)), lf(message(5, 100000)), lf(message(6, 100))]));
  const got = await tail.waitFor(6);
  expect(got.map((m) => m.length)).toEqual([100, 100, 100, 50, 100, 100]);
  expect(got.map(numberOf)).toEqual([1, 2, 3, 4, 5, 6]);
  expect(got[0].equals(long.subarray(0, 100))).toBe(true);
  expect(await inputStats(relay)).toEqual([6, 3, 0, 0]);
  expect(relay.all('sender-disconnected').map((e) => e.cut)).toEqual([2, 1]);
}, 30000);

test('a huge length prefix: 10 digits is a framing error; 9 digits holds --max-message at most and the idle limit ends it', async () => {
  const { relay, tcp } = await start(['--tcp', '127.0.0.1:0', '--max-message', '1000', '--sender-idle', '2']);
  await send(tcp, Buffer.from('1234567890 <13>x'));
  expect((await relay.waitEvent('sender-disconnected')).reason).toBe(
    'framing error at byte 9: octet-counted length longer than 9 digits',
  );
  // 999,999,999 announced; 4 MiB sent (kept: 1,000 bytes), then silence.
  const s = await connect(tcp);
  const address = `127.0.0.1:${s.localPort}`; // gone from the socket once it is closed
  s.resume();
  s.on('error', () => undefined);
  s.write(Buffer.concat([Buffer.from('999999999 '), Buffer.alloc(4 << 20, 0x61)]));
  const closed = await relay.waitEvent('sender-disconnected', (e) => e.address === address, 15000);
  expect(closed).toMatchObject({ reason: 'no complete message for 2 s', received: 0, partial: true });
  s.destroy();
  expect(await inputStats(relay)).toEqual([0, 0, 0, 2]);
}, 30000);

/** The relay's resident set, in KiB. */
function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

test('a line that never ends: the relay holds --max-message of it, not what was sent, and closes it when no message completes in --sender-idle', async () => {
  const { relay, tcp } = await start(['--tcp', '127.0.0.1:0', '--max-message', '1024', '--sender-idle', '3']);
  const before = rssKiB(relay.child.pid!);
  const s = await connect(tcp);
  s.on('error', () => undefined);
  const block = Buffer.alloc(1 << 20, 0x61);
  let sent = 0;
  let open = true;
  s.once('close', () => (open = false));
  // As fast as the relay reads, until it closes the connection (bounded: 512 MiB or 20 s).
  const deadline = Date.now() + 20000;
  while (open && sent < 512 && Date.now() < deadline) {
    if (!s.write(block)) await new Promise((r) => s.once('drain', r).once('close', r));
    sent++;
  }
  const closed = await relay.waitEvent('sender-disconnected');
  expect(closed).toMatchObject({ reason: 'no complete message for 3 s', received: 0, framing: 'lf', partial: true });
  expect(sent).toBeGreaterThan(64); // far more than any buffer went through
  expect(rssKiB(relay.child.pid!) - before).toBeLessThan(64 * 1024);
}, 40000);

test('slowloris, one byte every 300 ms: closed when no message completes within --sender-idle; another sender is served meanwhile', async () => {
  const { certs, relay, tcp } = await start(['--tcp', '127.0.0.1:0', '--sender-idle', '2']);
  const tail = await Tail.start(relay, certs);
  const slow = await connect(tcp);
  const slowAddress = `127.0.0.1:${slow.localPort}`; // gone from the socket once it is closed
  slow.on('error', () => undefined);
  let open = true;
  slow.once('close', () => (open = false));
  const trickle = (async () => {
    const bytes = Buffer.from('<13>a message that arrives one byte at a time and never ends');
    for (let i = 0; open && i < 60; i++) {
      slow.write(bytes.subarray(i % bytes.length, (i % bytes.length) + 1));
      await sleep(300);
    }
  })();
  await send(tcp, lf(message(7, 100)));
  expect((await tail.waitFor(1)).map(numberOf)).toEqual([7]);
  const closed = await relay.waitEvent('sender-disconnected', (e) => e.address === slowAddress, 10000);
  expect(closed).toMatchObject({ reason: 'no complete message for 2 s', received: 0, partial: true });
  await trickle;
  expect(open).toBe(false);
  expect(await inputStats(relay)).toEqual([1, 0, 0, 1]);
}, 30000);

test('a reset mid-frame: the whole messages before it are delivered, the torn one is counted, the input goes on', async () => {
  const { certs, relay, tcp } = await start(['--tcp', '127.0.0.1:0']);
  const tail = await Tail.start(relay, certs);
  const s = await connect(tcp);
  s.write(Buffer.concat([octet(message(1, 100)), octet(message(2, 300)).subarray(0, 150)]));
  await until('the first message', () => (tail.messages.length === 1 ? true : undefined));
  s.resetAndDestroy();
  const closed = await relay.waitEvent('sender-disconnected');
  expect(closed).toMatchObject({ received: 1, partial: true });
  expect(String(closed.reason)).toMatch(/ECONNRESET/);
  await send(tcp, octet(message(3, 100)));
  expect((await tail.waitFor(2)).map(numberOf)).toEqual([1, 3]);
  expect(await inputStats(relay)).toEqual([2, 0, 0, 0]);
}, 30000);

test('1,000 connections against --max-senders 100: 100 senders, the rest closed at once and counted; once they leave, new senders get in', async () => {
  const { certs, relay, tcp } = await start([
    '--tcp',
    '127.0.0.1:0',
    '--max-senders',
    '100',
    '--rejection-log',
    '5/60',
  ]);
  const tail = await Tail.start(relay, certs);
  const sockets: net.Socket[] = [];
  for (let i = 0; i < 1000; i++) {
    const s = await connect(tcp);
    s.on('error', () => undefined);
    s.resume();
    sockets.push(s);
  }
  const stats = async () => ((await relay.stats()) as unknown as { stream_inputs: string }).stream_inputs;
  const deadline = Date.now() + 15000;
  let refused = 0;
  while (Date.now() < deadline) {
    refused = sockets.filter((s) => s.destroyed || s.readableEnded).length;
    if (refused >= 900) break;
    await sleep(100);
  }
  expect(refused).toBe(900);
  expect(await stats()).toBe(`127.0.0.1:${tcp}=0/0/100/900`);
  // The log is bounded: 5 lines in full, the rest summed up at the window's end (or at stop).
  expect(relay.all('sender-rejected').length).toBe(5);
  for (const s of sockets) s.destroy();
  await until('senders gone', async () => ((await stats()).endsWith('/0/900') ? true : undefined), 15000);
  await send(tcp, lf(message(1, 100)));
  expect((await tail.waitFor(1)).map(numberOf)).toEqual([1]);
  expect(await relay.stop()).toBe(0);
  expect(relay.all('sender-rejected-suppressed')[0]).toMatchObject({ count: 895 });
}, 60000);

test('ulimit -n 64 and 200 connections: accept pauses on EMFILE, logs it once, and resumes by itself', async () => {
  const { certs, relay, tcp } = await start(['--tcp', '127.0.0.1:0', '--max-senders', '1000'], { fdLimit: 64 });
  const tail = await Tail.start(relay, certs);
  const sockets: net.Socket[] = [];
  for (let i = 0; i < 200; i++) {
    const s = await connect(tcp); // the kernel completes them into the backlog whether the relay accepts or not
    s.on('error', () => undefined);
    sockets.push(s);
  }
  const paused = await relay.waitEvent('accept-paused', (e) => e.input === `tcp:127.0.0.1:${tcp}`);
  expect(paused.code).toBe('EMFILE');
  for (const s of sockets) s.destroy();
  await relay.waitEvent('accept-resumed', (e) => e.input === `tcp:127.0.0.1:${tcp}`, 15000);
  await send(tcp, lf(message(5, 100)));
  expect((await tail.waitFor(1)).map(numberOf)).toEqual([5]);
  expect(relay.all('accept-paused').length).toBe(1);
}, 60000);

test('senders are never slowed by a subscriber that stopped reading: 50,000 messages go in while it is SIGSTOPped', async () => {
  const { certs, relay, tcp } = await start(['--tcp', '127.0.0.1:0', '--history', '100000']);
  const tail = await Tail.openssl(relay, certs);
  tail.child.kill('SIGSTOP');
  try {
    await send(tcp, Buffer.concat(Array.from({ length: 50000 }, (_, i) => octet(message(i, 200)))));
    const s = await relay.statsUntil('all received', (x) => x.received === 50000, 20000);
    expect(s.history_messages).toBe(50000);
  } finally {
    tail.child.kill('SIGCONT');
  }
}, 60000);

describe('TLS input (RFC 5425)', () => {
  test('a sender with a certificate from --in-ca: every octet-counted message in order; wrong CA, a CA:TRUE certificate and none are refused', async () => {
    const senders = makeDevCa({ cn: 'senders CA' });
    const { certs, relay, tlsIn } = await start([
      '--tls-in',
      '127.0.0.1:0',
      '--in-ca',
      writePem(makeCerts().dir, 'senders-ca.pem', senders.cert),
    ]);
    const ca = fs.readFileSync(certs.ca, 'utf8');
    const tail = await Tail.start(relay, certs);
    const sender = makeClientCert(senders, { cn: 'web1 rsyslog' });
    const messages = Array.from({ length: 500 }, (_, i) => message(i, 300));
    expect(await tlsSend(tlsIn, ca, sender, Buffer.concat(messages.map(octet)))).toBe('sent');
    expect((await tail.waitFor(500)).map(numberOf)).toEqual(messages.map((_, i) => i));
    expect(relay.all('sender-connected')[0]).toMatchObject({
      input: `tls:127.0.0.1:${tlsIn}`,
      subject: 'CN=web1 rsyslog',
    });

    const other = makeClientCert(makeDevCa({ cn: 'another CA' }), { cn: 'intruder' });
    const caLeaf = opensslClientCert(
      senders,
      'a CA as sender',
      'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,keyCertSign\nextendedKeyUsage=clientAuth\n',
    );
    const subscriberCert = {
      cert: fs.readFileSync(certs.clientCert, 'utf8'),
      key: fs.readFileSync(certs.clientKey, 'utf8'),
    };
    for (const id of [other, caLeaf, {}, subscriberCert]) await tlsSend(tlsIn, ca, id, octet(message(999, 100)));
    await until('4 rejections', () => (relay.all('sender-rejected').length === 4 ? true : undefined));
    const reasons = relay.all('sender-rejected').map((e) => String(e.reason));
    expect(reasons[0]).toMatch(/unable to get local issuer certificate|certificate verify failed/);
    expect(reasons[1]).toMatch(/is a CA certificate/);
    expect(reasons[2]).toMatch(/did not return a certificate/);
    // A subscriber's certificate (from --ca) is not a sender's (--in-ca): the two CAs are apart.
    expect(reasons[3]).toMatch(/unable to get local issuer certificate|certificate verify failed/);
    expect(await inputStats(relay)).toEqual([500, 0, 0, 4]);
    expect(tail.messages.length).toBe(500);
  }, 60000);

  test('--in-verify optional admits a sender without a certificate but refuses one whose certificate does not verify; --in-fingerprint pins', async () => {
    const senders = makeDevCa({ cn: 'senders CA' });
    const dir = makeCerts().dir;
    const inCa = writePem(dir, 'senders-ca.pem', senders.cert);
    const { certs, relay, tlsIn } = await start([
      '--tls-in',
      '127.0.0.1:0',
      '--in-ca',
      inCa,
      '--in-verify',
      'optional',
    ]);
    const ca = fs.readFileSync(certs.ca, 'utf8');
    const tail = await Tail.start(relay, certs);
    expect(await tlsSend(tlsIn, ca, {}, octet(message(1, 100)))).toBe('sent');
    await tlsSend(
      tlsIn,
      ca,
      makeClientCert(makeDevCa({ cn: 'another CA' }), { cn: 'intruder' }),
      octet(message(2, 100)),
    );
    expect(await tlsSend(tlsIn, ca, makeClientCert(senders, { cn: 'web2' }), octet(message(3, 100)))).toBe('sent');
    expect((await tail.waitFor(2)).map(numberOf)).toEqual([1, 3]);
    expect(String(relay.all('sender-rejected')[0].reason)).toMatch(/certificate not verified/);

    const allowed = makeClientCert(senders, { cn: 'pinned' });
    const fingerprint = new (require('crypto').X509Certificate)(allowed.cert).fingerprint256;
    const pinned = await start([
      '--tls-in',
      '127.0.0.1:0',
      '--in-ca',
      inCa,
      '--in-fingerprint',
      `sha256:${fingerprint}`,
    ]);
    const pinnedTail = await Tail.start(pinned.relay, pinned.certs);
    const pinnedCa = fs.readFileSync(pinned.certs.ca, 'utf8');
    await tlsSend(pinned.tlsIn, pinnedCa, makeClientCert(senders, { cn: 'not pinned' }), octet(message(4, 100)));
    expect(await tlsSend(pinned.tlsIn, pinnedCa, allowed, octet(message(5, 100)))).toBe('sent');
    expect((await pinnedTail.waitFor(1)).map(numberOf)).toEqual([5]);
    expect(String(pinned.relay.all('sender-rejected')[0].reason)).toMatch(/fingerprint .* is not allowed/);
  }, 60000);

  test('flags: --tls-in needs --in-ca, pins need --in-verify require, limits are checked (one line, exit 2)', async () => {
    const { execFile } = require('child_process') as typeof import('child_process');
    const certs = makeCerts();
    const run = (args: string[], demo = true) =>
      new Promise<{ code: number; stderr: string }>((resolve) => {
        const flags = demo ? ['--demo', makeCerts().dir] : identity(certs);
        execFile(process.execPath, [LOGRELAY, ...flags, '--tls', '127.0.0.1:0', ...args], (e, _o, stderr) =>
          resolve({ code: (e as { code?: number } | null)?.code ?? 0, stderr }),
        );
      });
    const cases: [string[], RegExp][] = [
      [
        ['--in-verify', 'optional', '--in-issuer', 'CN=x', '--tls-in', '127.0.0.1:0'],
        /--in-issuer and --in-fingerprint need --in-verify require/,
      ],
      [['--max-message', '0', '--tcp', '127.0.0.1:0'], /--max-message must be an integer from 1 to 1048576/],
      [['--max-senders', 'many'], /--max-senders must be an integer/],
      [['--sender-idle', '-1'], /--sender-idle/],
      [['--tcp', 'nowhere'], /--tcp: not an address/],
      [['--in-verify', 'maybe'], /--in-verify must be one of none, optional, require/],
    ];
    for (const [args, expected] of [
      ...cases,
      [['--tls-in', '127.0.0.1:0'], /--tls-in needs --in-ca FILE \(or --in-verify none\)/] as [string[], RegExp],
    ]) {
      const { code, stderr } = await run(args, args.length > 2);
      expect([code, stderr.trim().split('\n').length]).toEqual([2, 1]);
      expect(stderr).toMatch(expected);
    }
  }, 60000);
});

test('from code: listening.tcp names each TCP input (IPv4 and IPv6), relay.stats().streamInputs counts per input', async () => {
  const certs = makeCerts();
  const lines: string[] = [];
  const relay = new Relay(
    {
      tcp: ['127.0.0.1:0', '[::1]:0'],
      tls: '127.0.0.1:0',
      cert: { file: certs.serverCert },
      key: { file: certs.serverKey },
      ca: { file: certs.ca },
      maxMessage: 10,
      statsIntervalS: 0,
    },
    createLogger({ write: (line) => lines.push(line) }),
  );
  const listening = await relay.start();
  try {
    expect(listening.inputs).toEqual([]); // no datagram input: a stream input is an input
    expect(listening.tcp).toEqual([
      expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      expect.stringMatching(/^\[::1\]:\d+$/),
    ]);
    const v6 = net.connect(Number(listening.tcp[1].split(':').pop()), '::1');
    v6.end('3 abc20 0123456789abcdefghij');
    await until('both messages', () =>
      relay.stats().streamInputs[listening.tcp[1]].received === 2 ? true : undefined,
    );
    await until('the sender gone', () =>
      relay.stats().streamInputs[listening.tcp[1]].connections === 0 ? true : undefined,
    );
    const stats = relay.stats();
    expect(stats.streamInputs[listening.tcp[1]]).toEqual({
      received: 2,
      cut: 1,
      accepted: 1,
      connections: 0,
      closedFraming: 0,
      closedIdle: 0,
      refused: 0,
      rejected: 0,
      partial: 0,
    });
    expect(stats.streamInputs[listening.tcp[0]].received).toBe(0);
    expect([stats.received, stats.bytesIn, stats.history.messages]).toEqual([2, 13, 2]);
    expect(lines.some((l) => l.includes('sender-disconnected') && l.includes('address=[::1]:'))).toBe(true);
  } finally {
    await relay.stop();
  }
}, 30000);

/** A relay made from code with `certs`, listening for subscribers on a free port, that logs nothing. */
function quietRelay(certs: CertFiles, inputs: Partial<RelayOptions>): Relay {
  return new Relay(
    {
      tls: '127.0.0.1:0',
      cert: { file: certs.serverCert },
      key: { file: certs.serverKey },
      ca: { file: certs.ca },
      statsIntervalS: 0,
      ...inputs,
    },
    createLogger({ write: () => {} }),
  );
}

test('from code: an adopted TCP socket (listenFds.tcp) is listed in listening.tcp, not tlsIn, and counts as that input', async () => {
  const fd = tcpSocket.listen('127.0.0.1:0');
  const relay = quietRelay(makeCerts(), { tcp: ['127.0.0.1:0'], listenFds: { tcp: [fd] } });
  const listening = await relay.start();
  try {
    expect(listening.tlsIn).toEqual([]);
    expect(listening.tcp).toEqual([
      expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    ]);
    const adopted = listening.tcp[1];
    const sender = net.connect(Number(adopted.split(':').pop()), '127.0.0.1');
    sender.end('adopted\n');
    await until('the message', () => (relay.stats().streamInputs[adopted]?.received === 1 ? true : undefined));
  } finally {
    await relay.stop();
  }
}, 30000);

test('from code: a stream input on a unix path takes senders that did not bind a path (no TCP keepalive on them)', async () => {
  const certs = makeCerts();
  const sock = path.join(certs.dir, 'in.sock');
  const relay = quietRelay(certs, { tcp: [sock] });
  const listening = await relay.start();
  try {
    expect(listening.tcp).toEqual([sock]);
    const sender = net.connect(sock);
    sender.on('error', () => {}); // a reset is what the assertions below report
    sender.end('over a unix stream socket\n');
    await until(
      () => `the message (stats: ${JSON.stringify(relay.stats().streamInputs[sock])})`,
      () => (relay.stats().streamInputs[sock].received === 1 ? true : undefined),
    );
    expect(relay.stats().streamInputs[sock]).toMatchObject({ accepted: 1, rejected: 0 });
  } finally {
    await relay.stop();
  }
}, 30000);

test('from code: a reload keeps serving a TLS input passed only by socket activation (listenFds tls-in)', async () => {
  const certs = makeCerts();
  const fd = tcpSocket.listen('127.0.0.1:0');
  const relay = quietRelay(certs, { listenFds: { 'tls-in': [fd] }, inVerify: 'none' });
  const listening = await relay.start();
  try {
    expect(await relay.reload()).toBe(true);
    const port = Number(listening.tlsIn[0].split(':').pop());
    expect(await tlsSend(port, fs.readFileSync(certs.ca, 'utf8'), {}, octet(message(1, 100)))).toBe('sent');
    await until(
      () => `the message (stats: ${JSON.stringify(relay.stats().streamInputs)})`,
      () => (relay.stats().streamInputs[listening.tlsIn[0]].received === 1 ? true : undefined),
    );
  } finally {
    await relay.stop();
  }
}, 30000);

test('SIGHUP re-reads --in-ca: a sender from the new CA gets in, existing senders stay connected', async () => {
  const before = makeDevCa({ cn: 'senders CA 1' });
  const after = makeDevCa({ cn: 'senders CA 2' });
  const dir = makeCerts().dir;
  const inCa = writePem(dir, 'senders-ca.pem', before.cert);
  const { certs, relay, tlsIn } = await start(['--tls-in', '127.0.0.1:0', '--in-ca', inCa]);
  const ca = fs.readFileSync(certs.ca, 'utf8');
  const tail = await Tail.start(relay, certs);
  const early = makeClientCert(before, { cn: 'early' });
  const late = makeClientCert(after, { cn: 'late' });
  // A sender of the old CA that stays connected across the reload.
  const staying = tls.connect({ port: tlsIn, host: '127.0.0.1', ca, servername: 'localhost', ...early });
  staying.on('error', () => undefined);
  await new Promise((r) => staying.once('secureConnect', r));
  staying.write(octet(message(1, 100)));
  await tail.waitFor(1);
  await tlsSend(tlsIn, ca, late, octet(message(2, 100)));
  await relay.waitEvent('sender-rejected');
  fs.writeFileSync(inCa, after.cert);
  relay.child.kill('SIGHUP');
  await relay.waitEvent('reloaded');
  expect(await tlsSend(tlsIn, ca, late, octet(message(3, 100)))).toBe('sent');
  staying.end(octet(message(4, 100)));
  expect((await tail.waitFor(3)).map(numberOf)).toEqual([1, 3, 4]);
}, 30000);

test.each(['integrated', 'blocking'] as const)(
  'a relay that fails to start (subscriber port taken) closes every fd it had opened: TCP and TLS input sockets, its control pipe (%s mode)',
  async (mode) => {
    const certs = makeCerts();
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const options = {
        mode,
        tcp: ['127.0.0.1:0'],
        tlsIn: ['127.0.0.1:0'],
        inCa: { file: certs.ca },
        tls: `127.0.0.1:${port}`,
      };
      const identity = {
        cert: { file: certs.serverCert },
        key: { file: certs.serverKey },
        ca: { file: certs.ca },
        statsIntervalS: 0,
      };
      // One start first: a worker thread's first run opens fds of Node's own that stay (its event loop's).
      // A blocking relay's worker runs the compiled worker.js, which exists under dist/ only.
      const lib = (mode === 'blocking' ? require('../dist') : require('../lib')) as typeof import('../lib');
      const attempt = async () => {
        const relay = new lib.Relay({ ...options, ...identity }, lib.createLogger({ write: () => undefined }));
        await expect(relay.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
      };
      await attempt();
      // A failed blocking start rejects before its worker thread has exited and closed its own loop's fds.
      const settled = async () => {
        let last = '';
        let same = 0;
        await until('the fd list to settle', () => {
          const now = openFdList().join(',');
          same = now === last ? same + 1 : 0;
          last = now;
          return same >= 20 ? true : undefined;
        });
        return last;
      };
      const before = await settled();
      for (let i = 0; i < 5; i++) await attempt();
      expect(await settled()).toEqual(before);
    } finally {
      taken.close();
    }
  },
  30000,
);

test('SIGHUP with an --in-ca file that cannot be used: reload-failed, and the previous CA stays in force', async () => {
  const senders = makeDevCa({ cn: 'senders CA' });
  const inCa = writePem(makeCerts().dir, 'senders-ca.pem', senders.cert);
  const { certs, relay, tlsIn } = await start(['--tls-in', '127.0.0.1:0', '--in-ca', inCa]);
  const tail = await Tail.start(relay, certs);
  fs.writeFileSync(inCa, 'not a certificate\n');
  relay.child.kill('SIGHUP');
  expect(String((await relay.waitEvent('reload-failed')).reason)).toContain(inCa);
  expect(
    await tlsSend(
      tlsIn,
      fs.readFileSync(certs.ca, 'utf8'),
      makeClientCert(senders, { cn: 'web' }),
      octet(message(1, 100)),
    ),
  ).toBe('sent');
  expect((await tail.waitFor(1)).map(numberOf)).toEqual([1]);
}, 30000);
