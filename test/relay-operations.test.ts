/**
 * Operating `logrelay`: --help, usage errors (one line, exit 2), SIGTERM/SIGINT (stop accepting,
 * drain, close_notify, exit 0), SIGHUP (new certificate, key and CA for new connections), stats
 * lines (periodic and on SIGUSR1), and --demo's certificates (mode 0600, made once).
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { makeClientCert, makeDevCa, makeServerCert } from '../lib';
import {
  cleanup,
  exitOf,
  expectMessages,
  LOGRELAY,
  LOGTAIL,
  spawnChild,
  makeCerts,
  message,
  RelayProcess,
  sendUdp,
  sleep,
  Tail,
  tempDir,
  writePem,
  identity,
  clientIdentity,
} from './relay-helpers';

afterEach(cleanup);

const FLAGS = [
  'udp',
  'unix',
  'tls',
  'cert',
  'key',
  'ca',
  'issuer',
  'fingerprint',
  'framing',
  'queue',
  'queue-bytes',
  'on-full',
  'handshake-timeout',
  'max-handshakes',
  'max-handshakes-per-ip',
  'rejection-log',
  'write-timeout',
  'stats-interval',
  'backend',
  'mode',
  'demo',
  'json',
  'help',
];

test('--help lists every flag and exits 0', () => {
  const out = execFileSync(process.execPath, [LOGRELAY, '--help'], { encoding: 'utf8', timeout: 10000 });
  // Flags start their line (after a one-letter alias column: `-h, --help`).
  for (const flag of FLAGS) expect(out).toMatch(new RegExp(`^ +(-[A-Za-z], )?--${flag}\\b`, 'm'));
});

test.each([
  [['--queue', 'abc'], /--queue/],
  [['--framing', 'xml'], /--framing/],
  [['--udp', 'nope'], /--udp/],
  [['--fingerprint', 'sha256:zz'], /--fingerprint/],
  [['--on-full', 'maybe'], /--on-full/],
  [['--mode', 'fast'], /--mode/],
  [['--max-handshakes', '0'], /--max-handshakes must be an integer/],
  [['--max-handshakes-per-ip', '1.5'], /--max-handshakes-per-ip must be an integer/],
  [['--rejection-log', '10'], /--rejection-log must be N\/S/],
  [['--rejection-log', '10/0'], /--rejection-log must be N\/S/],
  [['--rejection-log', '10/100000'], /--rejection-log must be N\/S/],
  [['--bogus'], /unknown flag --bogus/],
  [['--handshake-timeout', '2147483648'], /--handshake-timeout must be an integer from 1 to 2147483647/],
  [['--write-timeout', '1e9'], /--write-timeout/],
  [['--write-timeout', '99999999999999'], /--write-timeout must be an integer from 1 to 2147483647/],
  [['--stats-interval', '2147484'], /--stats-interval must be an integer from 0 to 2147483/],
  [['--keepalive', '32768'], /--keepalive must be an integer from 0 to 32767, not "32768"/],
  [['--keepalive', '-1'], /--keepalive must be an integer from 0 to 32767/],
])('bad value %j: one line on stderr, exit code 2', (args, pattern) => {
  const certs = makeCerts();
  const r = spawnSync(process.execPath, [LOGRELAY, ...identity(certs), '--tls', '127.0.0.1:0', ...args], {
    encoding: 'utf8',
    timeout: 10000,
  });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stdout).toBe('');
});

test.each(['SIGTERM', 'SIGINT'] as const)(
  '%s: queued messages are written, subscribers get close_notify, new connections are refused, exit 0',
  async (signal) => {
    const certs = makeCerts();
    const relay = await RelayProcess.start(identity(certs));
    const tail = await Tail.start(relay, certs, ['--no-reconnect']);
    const openssl = await Tail.openssl(relay, certs);
    const sent = Array.from({ length: 500 }, (_, i) => message(i, 300, 'stop'));
    tail.child.kill('SIGSTOP'); // its messages wait in the relay's queue and socket buffers when the signal comes
    await sendUdp(relay.udpPort, sent);
    await relay.statsUntil('all received', (s) => s.received === sent.length);
    relay.child.kill(signal);
    await sleep(200);
    tail.child.kill('SIGCONT');
    expect(await exitOf(relay.child)).toBe(0);
    // logtail exits 0 only on close_notify (a cut stream is an error, exit 1), after printing everything.
    expect(await exitOf(tail.child)).toBe(0);
    expectMessages(tail.messages, sent);
    expect(await exitOf(openssl.child)).toBe(0);
    expect(openssl.output.equals(Buffer.concat(sent.flatMap((m) => [m, Buffer.from('\n')])))).toBe(true);
    expect(relay.all('stopped')).toHaveLength(1);
    expect(relay.all('subscriber-disconnected').map((e) => e.reason)).toEqual(['drained', 'drained']);
    // Nothing listens any more.
    await expect(
      new Promise((resolve, reject) =>
        net.connect(relay.tlsPort, '127.0.0.1').once('connect', resolve).once('error', reject),
      ),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  },
  30000,
);

test('SIGHUP reloads certificate, key and CA for new connections: the old client certificate is refused, the new one accepted', async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start(identity(certs));
  const old = await Tail.start(relay, certs);
  await Tail.start(relay, certs); // still accepted before the reload

  const ca2 = makeDevCa({ cn: 'relay test CA 2' });
  const server2 = makeServerCert(ca2, { cn: 'relay test server 2' });
  const client2 = makeClientCert(ca2, { cn: 'relay test subscriber 2' });
  const dir2 = tempDir();
  const next = {
    ca: writePem(dir2, 'ca.pem', ca2.cert),
    clientCert: writePem(dir2, 'client.pem', client2.cert),
    clientKey: writePem(dir2, 'client-key.pem', client2.key),
  };
  // Replace the relay's files in place, as an operator renewing them would.
  fs.writeFileSync(certs.serverCert, server2.cert);
  fs.writeFileSync(certs.serverKey, server2.key);
  fs.writeFileSync(certs.ca, ca2.cert);
  const from = relay.events.length;
  relay.child.kill('SIGHUP');
  await relay.waitEvent('reloaded', () => true, 5000, from);

  // The old client certificate is refused now (its logtail trusts both CAs, so only the relay can refuse).
  const bothCas = writePem(dir2, 'both.pem', certs.caPair.cert + ca2.cert);
  const before = relay.all('subscriber-rejected').length;
  const oldClient = spawnChild(process.execPath, [
    LOGTAIL,
    '--connect',
    relay.tls,
    ...clientIdentity({ ...certs, ca: bothCas }),
    '--no-reconnect',
  ]);
  const rejected = await relay.waitEvent('subscriber-rejected', () => true, 10000, from);
  expect(relay.all('subscriber-rejected').length).toBe(before + 1);
  expect(rejected.reason).toMatch(/certificate verify failed/);
  expect(await exitOf(oldClient)).toBe(1);

  const fresh = await Tail.start(relay, next);
  const m = message(1, 100, 'reloaded');
  await sendUdp(relay.udpPort, [m]);
  expectMessages(await fresh.waitFor(1), [m]);
  // Connections made before the reload keep going.
  expectMessages(await old.waitFor(1), [m]);
}, 30000);

test.each([
  ['empty', 'integrated', ''],
  ['empty', 'blocking', ''],
  ['garbage', 'integrated', 'not a certificate\n'],
  ['a key only', 'integrated', 'KEY'],
])('a --ca file holding no certificate (%s, %s mode): one line naming the file, exit code 2', (_, mode, content) => {
  const certs = makeCerts();
  fs.writeFileSync(certs.ca, content === 'KEY' ? fs.readFileSync(certs.clientKey) : content);
  const r = spawnSync(
    process.execPath,
    [LOGRELAY, ...identity(certs), '--tls', '127.0.0.1:0', '--udp', '127.0.0.1:0', '--mode', mode],
    {
      encoding: 'utf8',
      timeout: 10000,
    },
  );
  expect(r.stderr).toBe(`logrelay: no certificate in CA PEM (${certs.ca})\n`);
  expect(r.status).toBe(2);
});

/**
 * A certificate, key or CA path that cannot be read: missing (ENOENT), a directory (EISDIR), or
 * under something that is not a directory (ENOTDIR). Each flag gets a different failure; the path
 * is named in the line since the system's own text for a directory names none.
 */
const unreadable: [string, string, (dir: string) => string][] = [
  ['ca', 'no such file or directory (ENOENT)', (dir) => path.join(dir, 'missing.pem')],
  ['cert', 'illegal operation on a directory (EISDIR)', (dir) => dir],
  ['key', 'not a directory (ENOTDIR)', (dir) => path.join(dir, 'ca.pem', 'key.pem')],
];
const PEM_NAME: Record<string, string> = { ca: 'CA PEM', cert: 'cert PEM', key: 'key PEM' };

test.each(
  ['integrated', 'blocking'].flatMap((mode) => unreadable.map(([flag, why, at]) => [flag, why, mode, at] as const)),
)(
  'a --%s file that cannot be read (%s, %s mode): one line naming the file and why, exit code 2',
  (flag, why, mode, at) => {
    const certs = makeCerts();
    const files: Record<string, string> = { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca };
    files[flag] = at(certs.dir);
    const r = spawnSync(
      process.execPath,
      [
        LOGRELAY,
        '--cert',
        files.cert,
        '--key',
        files.key,
        '--ca',
        files.ca,
        '--tls',
        '127.0.0.1:0',
        '--udp',
        '127.0.0.1:0',
        '--mode',
        mode,
      ],
      {
        encoding: 'utf8',
        timeout: 10000,
      },
    );
    expect(r.stderr).toBe(`logrelay: cannot read ${PEM_NAME[flag]} (${files[flag]}): ${why}\n`);
    expect(r.status).toBe(2);
  },
);

test.each(unreadable)(
  'logtail with a --%s file that cannot be read (%s): one line naming the file and why, exit code 2',
  (flag, why, at) => {
    const certs = makeCerts();
    const files: Record<string, string> = { cert: certs.clientCert, key: certs.clientKey, ca: certs.ca };
    files[flag] = at(certs.dir);
    // Port 1 on loopback: nothing is ever reached, the files are checked before connecting.
    const r = spawnSync(
      process.execPath,
      [LOGTAIL, '--connect', '127.0.0.1:1', '--cert', files.cert, '--key', files.key, '--ca', files.ca],
      {
        encoding: 'utf8',
        timeout: 10000,
      },
    );
    expect(r.stderr).toBe(`logtail: cannot read ${PEM_NAME[flag]} (${files[flag]}): ${why}\n`);
    expect(r.status).toBe(2);
  },
);

/**
 * A reload that fails on a --ca file that `spoil` made unusable is logged as reload-failed with `reason` (given
 * the file's path), and the previous certificate, key and CA stay in force: the subscriber connected before
 * keeps receiving, and a new one is still verified against the CA loaded at start, not refused wholesale.
 */
async function failedReloadKeepsMaterial(
  args: string[],
  spoil: (ca: string) => void,
  reason: (ca: string) => string,
): Promise<void> {
  const certs = makeCerts();
  const relay = await RelayProcess.start([...args, ...identity(certs)]);
  const subscriber = { ...certs, ca: writePem(tempDir(), 'ca.pem', certs.caPair.cert) }; // logtail's copy stays good
  const before = await Tail.start(relay, subscriber);
  spoil(certs.ca);
  const from = relay.events.length;
  relay.child.kill('SIGHUP');
  const failed = await relay.waitEvent('reload-failed', () => true, 5000, from);
  expect(failed.reason).toBe(reason(certs.ca));
  expect(relay.all('reloaded')).toHaveLength(0);
  const after = await Tail.start(relay, subscriber);
  const m = message(1, 100, 'after a failed reload');
  await sendUdp(relay.udpPort, [m]);
  expectMessages(await after.waitFor(1), [m]);
  expectMessages(await before.waitFor(1), [m]);
  expect(relay.all('subscriber-rejected')).toHaveLength(0);
  expect(relay.all('task-crashed')).toEqual([]);
  expect(await relay.stop()).toBe(0);
}

test.each(['integrated', 'blocking'])(
  '%s mode: SIGHUP with a --ca file gone: reload-failed naming it, and the previous material stays in force',
  (mode) =>
    failedReloadKeepsMaterial(
      ['--mode', mode],
      (ca) => fs.rmSync(ca),
      (ca) => `cannot read CA PEM (${ca}): no such file or directory (ENOENT)`,
    ),
  30000,
);

test(
  'SIGHUP with a --ca file holding no certificate: reload-failed, and the previous certificate, key and CA stay in force',
  () =>
    failedReloadKeepsMaterial(
      [],
      (ca) => fs.writeFileSync(ca, ''),
      (ca) => `no certificate in CA PEM (${ca})`,
    ),
  30000,
);

test('stats: a line every --stats-interval seconds and one on SIGUSR1, with every field', async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start(['--stats-interval', '1', ...identity(certs)]);
  await sendUdp(relay.udpPort, [message(1), Buffer.alloc(0)]);
  const first = await relay.waitEvent('stats', () => true, 3000);
  const second = await relay.waitEvent('stats', (e) => e !== first, 3000);
  const gap = Date.parse(second.time as string) - Date.parse(first.time as string);
  expect(gap).toBeGreaterThanOrEqual(900);
  const onDemand = await relay.stats();
  for (const field of [
    'received',
    'delivered',
    'dropped_oldest',
    'dropped_newest',
    'dropped_disconnect',
    'dropped_empty',
    'truncated',
    'subscribers',
    'rejected',
    'bytes_in',
    'bytes_out',
    'queue_high_water',
  ]) {
    expect(typeof (onDemand as unknown as Record<string, unknown>)[field]).toBe('number');
  }
  expect(onDemand).toMatchObject({ received: 2, dropped_empty: 1, bytes_in: 300 });
}, 15000);

test('--demo makes its keys with mode 0600 once and reuses them', async () => {
  const cwd = tempDir();
  const first = await RelayProcess.start(['--demo', 'demo'], { cwd });
  const dir = path.join(cwd, 'demo');
  const files = fs.readdirSync(dir).sort();
  expect(files).toEqual(['ca-key.pem', 'ca.pem', 'client-key.pem', 'client.pem', 'server-key.pem', 'server.pem']);
  for (const f of files) expect(fs.statSync(path.join(dir, f)).mode & 0o777).toBe(f.includes('key') ? 0o600 : 0o644);
  const contents = files.map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
  expect(await first.stop()).toBe(0);
  const second = await RelayProcess.start(['--demo', 'demo'], { cwd });
  expect(files.map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))).toEqual(contents);
  expect(await second.stop()).toBe(0);
}, 20000);

test.each(['integrated', 'blocking'])(
  '%s mode: SIGTERM sent the moment the listening line appears still stops cleanly (exit 0)',
  async (mode) => {
    const cwd = tempDir();
    for (let i = 0; i < 3; i++) {
      // --demo: printing its instructions after start widened the window where SIGTERM was fatal.
      const relay = await RelayProcess.start(['--mode', mode, '--demo', 'demo'], { cwd });
      expect(await relay.stop('SIGTERM')).toBe(0);
    }
  },
  20000,
);
