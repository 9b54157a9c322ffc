/**
 * rsyslog (the Debian packages rsyslog and rsyslog-openssl, installed by .ci/run) as a real sender:
 * `logger` writes to rsyslog's own input (imuxsock on a socket in a temp dir), and rsyslog forwards
 * with `omfwd` over TLS (ossl stream driver, RFC 5425 octet counting) and over plain TCP (octet
 * counting and LF framing) to a real `logrelay`; every message arrives, in order, at a TLS
 * subscriber. The forwarding configuration is the README's, read from it: what the README tells an
 * operator is what runs here.
 *
 * rsyslogd runs in the foreground with its own config, work dir and pid file, never the system's.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { makeClientCert, makeDevCa } from '../lib';
import {
  cleanup,
  exitOf,
  makeCerts,
  RelayProcess,
  ROOT,
  spawnChild,
  Tail,
  tempDir,
  until,
  writePem,
  identity,
} from './relay-helpers';

afterEach(cleanup);

const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((f) => fs.existsSync(f));
if (!RSYSLOGD)
  throw new Error('rsyslogd is not installed (Debian: apt-get install rsyslog rsyslog-openssl; .ci/run does)');

/** The README's configuration block between `<!-- NAME:start -->` and `<!-- NAME:end -->`. */
function readmeBlock(name: string): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const m = new RegExp(`<!-- ${name}:start -->\\n\`\`\`\\n([\\s\\S]*?)\`\`\`\\n<!-- ${name}:end -->`).exec(readme);
  if (!m) throw new Error(`README.md has no ${name} block`);
  return m[1];
}

/** `text` with each `from` replaced by its `to`, every one of which must occur. */
function substitute(text: string, pairs: [string, string][]): string {
  for (const [from, to] of pairs) {
    if (!text.includes(from)) throw new Error(`the README block no longer contains ${from}`);
    text = text.split(from).join(to);
  }
  return text;
}

/**
 * Starts rsyslogd with `forwarding` (the README's block) behind an imuxsock input on a socket of
 * its own; resolves with that socket's path once rsyslog listens on it.
 */
async function startRsyslog(forwarding: string): Promise<{ socket: string; stop: () => Promise<void> }> {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'work'));
  const socket = path.join(dir, 'log.sock');
  const conf = path.join(dir, 'rsyslog.conf');
  fs.writeFileSync(
    conf,
    [
      `global(workDirectory="${path.join(dir, 'work')}")`,
      // Only this socket: not /dev/log, not the kernel log. No rate limit: the test sends a burst.
      `module(load="imuxsock" SysSock.Use="off")`,
      `input(type="imuxsock" Socket="${socket}" RateLimit.Interval="0")`,
      forwarding,
    ].join('\n'),
  );
  const daemon = spawnChild(RSYSLOGD!, ['-n', '-f', conf, '-i', path.join(dir, 'rsyslogd.pid')]);
  let stderr = '';
  daemon.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  daemon.stdout!.resume();
  await until(
    () => `rsyslogd to listen on ${socket} (stderr: ${stderr})`,
    () => (fs.existsSync(socket) ? true : undefined),
    15000,
  );
  return {
    socket,
    stop: async () => {
      daemon.kill('SIGTERM');
      await exitOf(daemon);
    },
  };
}

/** Sends `count` messages through rsyslog's input with `logger`, one per line of its stdin. */
function logger(socket: string, tag: string, count: number, from = 0): string[] {
  const lines = Array.from({ length: count }, (_, i) => `${tag} message ${String(from + i).padStart(6, '0')}`);
  execFileSync('logger', ['-u', socket, '-t', tag], { input: lines.join('\n') + '\n', timeout: 30000 });
  return lines;
}

/** What the subscriber got from `tag` (rsyslog forwards its own start-up lines too), as the message text. */
function fromTag(tail: Tail, tag: string): string[] {
  return tail.messages
    .map((m) => m.toString())
    .filter((m) => m.includes(`${tag}: `))
    .map((m) => m.slice(m.indexOf(`${tag}: `) + tag.length + 2));
}

async function forwardAndCheck(
  relay: RelayProcess,
  tail: Tail,
  forwarding: string,
  tag: string,
  framing: 'octet' | 'lf',
): Promise<void> {
  const rsyslog = await startRsyslog(forwarding);
  try {
    // Two bursts, the second after the first is through: the connection stays up and order holds across.
    const sent = logger(rsyslog.socket, tag, 500);
    await until(
      () =>
        `500 messages from rsyslog (have ${fromTag(tail, tag).length}; relay: ${JSON.stringify(relay.all('sender-disconnected'))})`,
      () => (fromTag(tail, tag).length >= 500 ? true : undefined),
      30000,
    );
    sent.push(...logger(rsyslog.socket, tag, 500, 500));
    await until(
      () => `1000 messages from rsyslog (have ${fromTag(tail, tag).length})`,
      () => (fromTag(tail, tag).length >= 1000 ? true : undefined),
      30000,
    );
    expect(fromTag(tail, tag)).toEqual(sent);
  } finally {
    await rsyslog.stop();
  }
  const closed = await relay.waitEvent(
    'sender-disconnected',
    (e) => e.reason === 'peer closed' && e.framing === framing,
  );
  expect(Number(closed.received)).toBeGreaterThanOrEqual(1000);
  expect(closed.cut).toBe(0);
}

test('rsyslog omfwd over TLS (ossl, x509/name, octet-counted), as the README configures it: every message in order at a subscriber', async () => {
  const certs = makeCerts();
  const senders = makeDevCa({ cn: 'senders CA' });
  const sender = makeClientCert(senders, { cn: 'rsyslog sender' });
  const inCa = writePem(certs.dir, 'senders-ca.pem', senders.cert);
  const relay = await RelayProcess.start(['--tls-in', '127.0.0.1:0', '--in-ca', inCa, ...identity(certs)]);
  const port = String(relay.all('listening')[0].tlsIn).split(':').pop()!;
  const tail = await Tail.start(relay, certs);
  const forwarding = substitute(readmeBlock('rsyslog-tls'), [
    ['port="6515"', `port="${port}"`],
    ['/etc/logrelay/relay-ca.pem', certs.ca],
    ['/etc/logrelay/sender.pem', writePem(certs.dir, 'sender.pem', sender.cert)],
    ['/etc/logrelay/sender-key.pem', writePem(certs.dir, 'sender-key.pem', sender.key)],
  ]);
  await forwardAndCheck(relay, tail, forwarding, 'rtls', 'octet');
  expect(relay.all('sender-connected')[0]).toMatchObject({ subject: 'CN=rsyslog sender' });
}, 90000);

test.each([
  ['octet-counted', 'octet'],
  ['traditional', 'lf'],
] as const)(
  'rsyslog omfwd over plain TCP, TCP_Framing="%s", as the README configures it: every message in order',
  async (rsyslogFraming, framing) => {
    const certs = makeCerts();
    const relay = await RelayProcess.start(['--tcp', '127.0.0.1:0', ...identity(certs)]);
    const port = String(relay.all('listening')[0].tcp).split(':').pop()!;
    const tail = await Tail.start(relay, certs);
    const forwarding = substitute(readmeBlock('rsyslog-tcp'), [
      ['port="5515"', `port="${port}"`],
      ['TCP_Framing="octet-counted"', `TCP_Framing="${rsyslogFraming}"`],
    ]);
    await forwardAndCheck(relay, tail, forwarding, `rtcp-${framing}`, framing);
  },
  90000,
);
