/**
 * A path to the relay that dies silently — no FIN, no reset: a NAT entry that expired, a cable
 * pulled further up — with real logrelay and logtail processes. Neither side has anything to send,
 * so only TCP keepalive can notice. The path is cut inside a network namespace of the test's own
 * (never the host's): the relay listens on 127.0.0.2, and blackhole rules ahead of the local
 * routing table drop every packet to and from that address without a word, while the relay's UDP
 * input on 127.0.0.1 keeps working. Needs root and iproute2's `ip` (.ci/run installs it).
 */
import { execFileSync } from 'child_process';
import {
  clientIdentity,
  cleanup,
  LOGTAIL,
  makeCerts,
  RelayProcess,
  spawnChild,
  Tail,
  until,
  exitOf,
  identity,
} from './relay-helpers';

const NS = `pollset-keepalive-${process.pid}`;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const inNs = ['ip', 'netns', 'exec', NS];

beforeAll(() => {
  ip('netns', 'add', NS);
  ip('-n', NS, 'link', 'set', 'lo', 'up');
  // The local table is looked up first (rule 0) and holds 127.0.0.0/8: move it behind room for the blackhole rules.
  ip('-n', NS, 'rule', 'add', 'pref', '100', 'lookup', 'local');
  ip('-n', NS, 'rule', 'del', 'pref', '0');
});

afterAll(() => {
  ip('netns', 'del', NS);
});

afterEach(cleanup);

/** Every packet to or from 127.0.0.2 vanishes (on) or flows again (off). */
function cutPath(on: boolean): void {
  for (const [dir, pref] of [
    ['to', '10'],
    ['from', '11'],
  ])
    ip('-n', NS, 'rule', on ? 'add' : 'del', 'pref', pref, dir, '127.0.0.2', 'blackhole');
}

/** Sends syslog lines to the relay's UDP input from inside the namespace. */
async function send(port: number, lines: string[]): Promise<void> {
  const script = `const s = require('dgram').createSocket('udp4'); const lines = JSON.parse(process.argv[1]);
    let left = lines.length; for (const l of lines) s.send(l, ${port}, '127.0.0.1', () => { if (--left === 0) s.close(); });`;
  expect(
    await exitOf(spawnChild(inNs[0], [...inNs.slice(1), process.execPath, '-e', script, JSON.stringify(lines)])),
  ).toBe(0);
}

const lines = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `keepalive line ${from + i}`);

// `in flight`: the relay has lines to send when the path dies. Keepalive never probes a connection
// with unacknowledged data; TCP_USER_TIMEOUT is what ends it then (else retransmissions go on for ~15 min).
test.each(['idle', 'in flight'])(
  'a silently dead path (%s): logtail notices, says it timed out, reconnects and resumes; the relay drops the subscriber',
  async (when) => {
    const certs = makeCerts();
    const relay = await RelayProcess.start(
      ['--tls', '127.0.0.2:0', '--udp', '127.0.0.1:0', ...identity(certs), '--keepalive', '2'],
      { defaults: false, prefix: inNs },
    );
    const tail = await Tail.spawn(relay, inNs[0], [
      ...inNs.slice(1),
      process.execPath,
      LOGTAIL,
      ...['--connect', `127.0.0.2:${relay.tlsPort}`, '--servername', '127.0.0.1', ...clientIdentity(certs)],
      ...['--from', 'oldest', '--keepalive', '1'],
    ]);
    await send(relay.udpPort, lines(1, 5));
    await tail.waitFor(5);

    cutPath(true);
    if (when === 'in flight') await send(relay.udpPort, lines(6, 10));
    // logtail: 1 s idle + 3 probes 1 s apart; the relay: 2 s + 3 × 1 s. Generous bounds: these catch a hang, not a speed.
    // Both lines are awaited: they are separate writes, and may arrive as separate chunks.
    await until(
      () => `logtail to be cut off (stderr: ${tail.stderr})`,
      () => (/cut off: .*\n.*reconnecting in/.test(tail.stderr) ? true : undefined),
      30000,
    );
    expect(tail.stderr).toMatch(
      /logtail: cut off: ETIMEDOUT: connection timed out, SSL_read \(fd \d+\)\nlogtail: reconnecting in \d+\.\d s\n/,
    );
    const gone = await relay.waitEvent('subscriber-disconnected', () => true, 30000);
    expect(gone.reason).toBe('connection timed out');
    expect(gone.address).toMatch(/^127\.0\.0\.1:\d+$/);

    // Received while the path is down: kept in the log, delivered once it is back.
    if (when === 'idle') await send(relay.udpPort, lines(6, 10));
    cutPath(false);
    await until(
      () => `logtail to reconnect (stderr: ${tail.stderr})`,
      () => (relay.connectedCount >= 2 ? true : undefined),
      45000,
    );
    await tail.waitFor(10, 15000);
    expect(tail.messages.map(String)).toEqual(lines(1, 10));
    expect(tail.stderr).toMatch(/logtail: resuming after seq 5\n/);
    expect(tail.child.exitCode).toBeNull();
  },
  120000,
);
