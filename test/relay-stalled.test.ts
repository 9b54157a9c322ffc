/**
 * One stopped subscriber among many: the lag limit applies to it alone, whatever the policy.
 *
 * A real `logrelay` with a small lag limit; 999 plain subscribers held by one child process
 * (test/fixtures/tls-subscribers.js, handshakes 50 at a time), and one more in a process of its
 * own (test/fixtures/tls-stalled-peer.py: small socket buffers, so a flood of 1.5 MB is enough to
 * get past them) that is SIGSTOPped before the flood, so its buffers fill and the relay must apply
 * `--on-full` to it. The flood is 5,000 numbered datagrams of 300 bytes, sent in small bursts (the
 * kernel's drops on the input are counted and allowed for, and have been 0). A healthy
 * subscriber's lag in the relay stays far below the limit: its kernel buffers (megabytes on
 * loopback) take the whole flood, so it only ever waits for its task's turn.
 *
 * What must hold, from three independent sources — what each subscriber read (line count and
 * SHA-256 of its bytes; some keep every byte), the relay's counters (SIGUSR1 stats) and its
 * per-subscriber `subscriber-disconnected` lines at SIGTERM:
 * - every healthy subscriber read exactly the messages the relay received, byte for byte, in order;
 * - the stopped one read an exact, policy-shaped selection, and what it missed is in its policy's
 *   counter: delivered + dropped == received (disconnect: delivered + lost <= received, what it
 *   was behind when cut, and it alone is cut, by name);
 * - the counters sum: delivered == HEALTHY × received + the stopped one's, and no other drop.
 */
import * as crypto from 'crypto';
import * as path from 'path';
import { execFileSync } from 'child_process';
import {
  cleanup,
  exitOf,
  LogEvent,
  makeCerts,
  message,
  numberOf,
  RelayProcess,
  runs,
  sendUdp,
  spawnChild,
  StatsLine,
  until,
  identity,
} from './relay-helpers';
import * as fs from 'fs';

// How long one phase may take before the test calls it a hang: a thousand TLS subscribers on a
// loaded 2-core machine have taken 30 s for a phase that takes 2 s on a quiet one.
const LIMIT_MS = 90000;

afterEach(cleanup);

const FIXTURE = path.join(__dirname, 'fixtures', 'tls-subscribers.js');
const STALLED = path.join(__dirname, 'fixtures', 'tls-stalled-peer.py');
const SUBSCRIBERS = 1000;
const HEALTHY = SUBSCRIBERS - 1;
const SENT = 5000;
const SIZE = 300;
const FRAMED = SIZE + 1; // lf framing
/**
 * Lag limit: several receive batches (64 datagrams) — so a healthy subscriber whose task waits its
 * turn behind a thousand others is never near it — and a tenth of the flood. The message limit is
 * the one reached (QUEUE_BYTES holds more).
 */
const QUEUE = 500;
const QUEUE_BYTES = 1024 * 1024;
/** Datagrams per burst, and the pause after each: ~4,000 a second. */
const BURST = 16;
const PAUSE_MS = 4;
/** Healthy subscribers whose every byte is kept and checked message by message (all are checked by hash against it). */
const KEEP = 1;

interface Report {
  port: number;
  lines: number;
  bytes: number;
  sha256: string;
  ended: boolean;
  error?: string;
  data?: string;
}

/** A tls-subscribers.js child: resolves once all its subscribers are connected. */
async function subscribers(relay: RelayProcess, certs: ReturnType<typeof makeCerts>, count: number, keep: number) {
  const env = {
    ...process.env,
    PEER_TLS: JSON.stringify({
      ca: fs.readFileSync(certs.ca, 'utf8'),
      cert: fs.readFileSync(certs.clientCert, 'utf8'),
      key: fs.readFileSync(certs.clientKey, 'utf8'),
    }),
  };
  const child = spawnChild(
    process.execPath,
    [FIXTURE, JSON.stringify({ port: relay.tlsPort, count, batch: 50, keep })],
    { env },
  );
  const lines: string[] = [];
  let pending = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    pending += d.toString();
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      lines.push(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const first = await until(
    () => `${count} subscribers to connect (stderr: ${stderr})`,
    () => lines[0],
    120000,
  );
  const ready = JSON.parse(first) as { ready?: boolean; ports?: number[]; error?: string };
  if (!ready.ready) throw new Error(`subscribers failed: ${first} ${stderr}`);
  const report = async (): Promise<Report[]> => {
    const line = await until(
      () => `the subscribers' report (stderr: ${stderr})`,
      () => lines[1],
      30000,
    );
    expect(await exitOf(child)).toBe(0);
    return (JSON.parse(line) as { subscribers: Report[] }).subscribers;
  };
  return { child: child, ports: ready.ports!, report };
}

/** The python peer with small socket buffers (see the fixture for why): its port, then what it read. */
async function stalledPeer(relay: RelayProcess, certs: ReturnType<typeof makeCerts>) {
  const child = spawnChild('python3', [STALLED, String(relay.tlsPort), certs.ca, certs.clientCert, certs.clientKey]);
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => chunks.push(d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await until(
    () => `the stalled peer to connect (stderr: ${stderr})`,
    () => {
      const out = Buffer.concat(chunks);
      const nl = out.indexOf(10);
      return nl < 0 ? undefined : Number(out.subarray(0, nl).toString());
    },
    15000,
  );
  const report = async () => {
    const code = await exitOf(child, 30000);
    const out = Buffer.concat(chunks);
    return { code, stderr, data: out.subarray(out.indexOf(10) + 1) };
  };
  return { child: child, ports: [port], report };
}

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** The messages of an lf-framed stream (each is SIZE bytes). */
function split(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length;) {
    const nl = data.indexOf(10, at);
    if (nl < 0) throw new Error(`unterminated message at byte ${at}`);
    out.push(data.subarray(at, nl));
    at = nl + 1;
  }
  return out;
}

/** Checks that `got` is `sent` in order, byte for byte, minus some; returns the numbers. */
function exactSelection(got: Buffer[], sent: Buffer[]): number[] {
  const numbers = got.map(numberOf);
  numbers.forEach((n, i) => {
    if (n < 0 || n >= sent.length || !got[i].equals(sent[n]))
      throw new Error(`message ${i} is not a sent message: ${got[i].subarray(0, 60)}`);
    if (i > 0 && n <= numbers[i - 1]) throw new Error(`message ${i} (${n}) out of order after ${numbers[i - 1]}`);
  });
  return numbers;
}

type Policy = 'drop-oldest' | 'drop-newest' | 'disconnect';
const COUNTER = {
  'drop-oldest': 'dropped_oldest',
  'drop-newest': 'dropped_newest',
  disconnect: 'dropped_disconnect',
} as const;

async function stalledAmongMany(policy: Policy): Promise<void> {
  // The relay and the subscribers' process each hold SUBSCRIBERS sockets; Node raises its soft fd limit to the hard one.
  const hard = Number(execFileSync('bash', ['-c', 'ulimit -Hn']).toString().trim());
  if (hard < SUBSCRIBERS + 100)
    throw new Error(`this test needs a hard fd limit of at least ${SUBSCRIBERS + 100} (ulimit -Hn is ${hard})`);
  const t0 = Date.now();
  const certs = makeCerts();
  const relay = await RelayProcess.start([
    ...['--queue', String(QUEUE), '--queue-bytes', String(QUEUE_BYTES), '--on-full', policy],
    // Every subscriber comes from 127.0.0.1: let a batch of 50 handshakes through at once.
    ...['--max-handshakes-per-ip', '64', '--stats-interval', '0'],
    ...[...identity(certs)],
  ]);
  const stopped = await stalledPeer(relay, certs);
  const healthy = await subscribers(relay, certs, HEALTHY, KEEP);
  const before = await relay.statsUntil(`${SUBSCRIBERS} subscribers`, (s) => s.subscribers === SUBSCRIBERS, LIMIT_MS);
  expect(before.rejected).toBe(0);
  const tConnected = Date.now();
  const stoppedAddress = `127.0.0.1:${stopped.ports[0]}`;
  expect(relay.all('subscriber-connected', (e) => e.address === stoppedAddress)).toHaveLength(1);
  stopped.child.kill('SIGSTOP');

  const sent = Array.from({ length: SENT }, (_, i) => message(i, SIZE, policy));
  await sendUdp(relay.udpPort, sent, { batch: BURST, pauseMs: PAUSE_MS });
  const flood = await relay.statsUntil(
    'every datagram received or counted dropped by the kernel',
    (s) => s.received + s.kernel_drops === SENT,
    LIMIT_MS,
  );
  const tSent = Date.now();
  const received = flood.received;
  const counter = COUNTER[policy];
  // The stopped subscriber really reached its limit (else the test would prove nothing).
  expect(flood[counter]).toBeGreaterThan(0);
  let cutLine: LogEvent | undefined;
  if (policy === 'disconnect') {
    // The first and, until SIGTERM, only subscriber cut off: the stopped one, by its address.
    cutLine = await relay.waitEvent('subscriber-disconnected', () => true, 10000);
    expect(cutLine.address).toBe(stoppedAddress);
  }

  // Let the stopped one read what its buffers hold, then wait for the relay to have written everything.
  stopped.child.kill('SIGCONT');
  const stoppedShare = (s: StatsLine) =>
    policy === 'disconnect' ? (cutLine!.delivered as number) : received - s[counter];
  const settled = await relay.statsUntil(
    'every subscriber written to the head',
    (s) => s.delivered === HEALTHY * received + stoppedShare(s),
    LIMIT_MS,
  );
  const tSettled = Date.now();

  // The counters: only the stopped one's policy counter moved, by exactly what it missed.
  const others = (['dropped_oldest', 'dropped_newest', 'dropped_disconnect'] as const).filter((c) => c !== counter);
  for (const c of others) expect(settled[c]).toBe(0);
  expect(settled).toMatchObject({ dropped_evicted: 0, evicted: 0, rejected: 0, truncated: 0, dropped_empty: 0 });
  expect(settled.subscribers).toBe(policy === 'disconnect' ? HEALTHY : SUBSCRIBERS);
  expect(settled.bytes_in).toBe(received * SIZE);
  expect(settled.bytes_out).toBe(settled.delivered * FRAMED);
  expect(settled.queue_high_water).toBeLessThanOrEqual(QUEUE);

  // SIGTERM: every subscriber is drained (nothing is left to write) and logged, and the streams end.
  const from = relay.events.length;
  expect(await relay.stop('SIGTERM', 30000)).toBe(0);
  const gone = relay.events.slice(from).filter((e) => e.event === 'subscriber-disconnected');
  const mine = await stopped.report();
  const reports = await healthy.report();
  const tDone = Date.now();

  // Healthy: every one read exactly what the relay received, in order, byte for byte.
  expect(reports.length).toBe(HEALTHY);
  const kept = reports.filter((r) => r.data !== undefined);
  expect(kept.length).toBe(KEEP);
  const reference = Buffer.from(kept[0].data!, 'base64');
  const messages = split(reference);
  expect(messages.length).toBe(received);
  exactSelection(messages, sent);
  if (flood.kernel_drops === 0)
    expect(reference.equals(Buffer.concat(sent.map((m) => Buffer.concat([m, Buffer.from('\n')]))))).toBe(true);
  const expectedSha = sha256(reference);
  const wrong = reports.filter(
    (r) => r.lines !== received || r.bytes !== received * FRAMED || r.sha256 !== expectedSha || !r.ended || r.error,
  );
  expect(wrong.map((r) => `${r.port}: ${r.lines} lines ${r.bytes} bytes ended=${r.ended} ${r.error ?? ''}`)).toEqual(
    [],
  );
  const healthyPorts = new Set(healthy.ports.map((p) => `127.0.0.1:${p}`));
  const healthyGone = gone.filter((e) => healthyPorts.has(e.address as string));
  expect(healthyGone.length).toBe(HEALTHY);
  const unlike = healthyGone.filter(
    (e) => e.reason !== 'drained' || e.delivered !== received || e.lost !== 0 || e.dropped !== 0,
  );
  expect(unlike).toEqual([]);

  // The stopped one: what it read is what the relay says it delivered; the rest is its policy's counter.
  const got = split(mine.data);
  const numbers = exactSelection(got, sent);
  const stoppedLines = [...(cutLine ? [cutLine] : []), ...gone].filter((e) => e.address === stoppedAddress);
  expect(stoppedLines).toHaveLength(1);
  const line = stoppedLines[0];
  expect(line.delivered).toBe(got.length);
  expect(settled.delivered).toBe(HEALTHY * received + got.length);
  if (policy === 'disconnect') {
    expect(line.reason).toBe('queue full');
    expect(line.lost).toBe(settled.dropped_disconnect);
    // Cut off after a prefix of what the relay received, having lost a queue-full and more.
    expect(numbers).toEqual(messages.slice(0, got.length).map(numberOf));
    expect(got.length + (line.lost as number)).toBeLessThanOrEqual(received);
    // What it was behind (a queue-full), the message that did not fit, and a run cut off mid-write (one 16 KiB record at most).
    expect(line.lost as number).toBeGreaterThan(QUEUE);
    expect(line.lost as number).toBeLessThanOrEqual(QUEUE + 1 + Math.ceil((16 * 1024) / FRAMED));
  } else {
    expect(line).toMatchObject({ reason: 'drained', lost: 0, dropped: settled[counter] });
    expect(mine.code).toBe(0); // close_notify: its stream ended, not cut
    expect(got.length + settled[counter]).toBe(received);
    // In order, from the first message on. (Its buffers are not sealed while it is stopped: the
    // kernel lets a little more in now and then, so there can be more than one run.) drop-newest
    // kept the queue-full it had when it reached the limit; drop-oldest ends with the newest
    // queue-full, which it was sent once continued.
    expect(numbers[0]).toBe(numberOf(messages[0]));
    if (policy === 'drop-newest')
      expect(runs(numbers.slice(0, QUEUE))).toBe(runs(messages.slice(0, QUEUE).map(numberOf)));
    else expect(runs(numbers.slice(-QUEUE))).toBe(runs(messages.slice(-QUEUE).map(numberOf)));
  }
  console.log(
    `${policy}: ${SUBSCRIBERS} subscribers connected in ${tConnected - t0} ms, ${received} received (${flood.kernel_drops} kernel drops) in ${tSent - tConnected} ms, ` +
      `settled after ${tSettled - tSent} ms, reports after ${tDone - tSettled} ms; stopped one read ${got.length} (${runs(numbers)}), ` +
      `${settled[counter]} ${counter}, queue high water ${settled.queue_high_water}`,
  );
}

test.each(['drop-oldest', 'drop-newest', 'disconnect'] as Policy[])(
  '%s: one SIGSTOPped subscriber among many loses exactly what its counter says, and the others get every message',
  (policy) => stalledAmongMany(policy),
  240000,
);
