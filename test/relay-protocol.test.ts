/**
 * The relay as one sequence-numbered log: history kept while nobody is connected, `logrelay/1`
 * subscribers resuming by seq (MSG, TIME, GAP, RESET, BYE frames), plain peers unchanged, lag
 * policies with a stalled subscriber, and kernel drops made visible. Real `logrelay` processes,
 * real TLS (Node's client offering ALPN, `openssl s_client` offering none), loopback only.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tls from 'tls';
import { frame } from '../lib/relay/framing';
import {
  cleanup,
  expectMessages,
  LOGRELAY,
  makeCerts,
  message,
  powerCut,
  RelayProcess,
  sendUdp,
  sleep,
  Tail,
  until,
  identity,
} from './relay-helpers';
import { describeOnLinux } from './helpers/platform';
import { ProtocolClient } from './relay-protocol-client';

afterEach(cleanup);

type Certs = ReturnType<typeof makeCerts>;

const clients: ProtocolClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

async function relayWith(args: string[], mode: 'integrated' | 'blocking' = 'integrated') {
  const certs = makeCerts();
  const relay = await RelayProcess.start(['--mode', mode, ...identity(certs), ...args]);
  return { certs, relay };
}

/** Starts a relay with `args`, sends it 300 messages and reads them all as a subscriber from the oldest. */
async function firstRun(args: string[], certs: Certs) {
  const first = await RelayProcess.start(args);
  const before = Array.from({ length: 300 }, (_, i) => message(i, 200, 'before'));
  const c = await connect(first, certs, 'FROM oldest');
  const log = c.hello!.log;
  await sendUdp(first.udpPort, before);
  await c.waitFor('300 messages', (x) => x.messages.size === 300);
  return { first, before, c, log };
}
async function connect(
  relay: RelayProcess,
  certs: ReturnType<typeof makeCerts>,
  request: string | null,
  alpn?: string[] | null,
): Promise<ProtocolClient> {
  const c = await ProtocolClient.connect(relay.tlsPort, certs, request, alpn);
  clients.push(c);
  return c;
}

const seqs = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);

test.each(['integrated', 'blocking'] as const)(
  '%s mode: messages received while nobody is connected are kept; a resume peer gets them as MSG frames with their seqs, then live ones',
  async (mode) => {
    const { certs, relay } = await relayWith([], mode);
    const early = Array.from({ length: 200 }, (_, i) => message(i, 300, 'early'));
    await sendUdp(relay.udpPort, early);
    const kept = await relay.statsUntil('every datagram received', (s) => s.received === 200);
    expect(kept).toMatchObject({
      history_messages: 200,
      history_bytes: 200 * 301,
      history_oldest: 1,
      history_next: 201,
      evicted: 0,
      delivered: 0,
    });

    const c = await connect(relay, certs, 'FROM oldest');
    expect(c.alpn).toBe('logrelay/1');
    expect(c.hello).toMatchObject({ version: 1, framing: 'lf', oldest: 1, next: 201 });
    expect(c.hello!.log).toMatch(/^[0-9a-f]{16}$/);
    await c.waitFor('200 messages', (x) => x.messages.size === 200);
    expectMessages(c.range(1, 200), early);
    // The backlog goes as one run (200 × 301 bytes is well under a frame), not message by message.
    expect(c.frames[0]).toMatchObject({ kind: 'MSG', first: 1, count: 200 });

    const live = Array.from({ length: 50 }, (_, i) => message(i, 120, 'live'));
    await sendUdp(relay.udpPort, live);
    await c.waitFor('250 messages', (x) => x.messages.size === 250);
    expectMessages(c.range(201, 250), live);
    expect(c.order).toEqual(seqs(1, 250));

    // Resume after 120 of this log: exactly 121…250, no gap.
    const r = await connect(relay, certs, `FROM 120 log=${c.hello!.log}`);
    await r.waitFor('130 messages', (x) => x.messages.size === 130);
    expect(r.order).toEqual(seqs(121, 250));
    expect(r.gaps()).toEqual([]);
    // Resume after the last one: nothing until the next message, which is 251 for both.
    const caughtUp = await connect(relay, certs, `FROM 250 log=${c.hello!.log}`);
    const liveOnly = await connect(relay, certs, 'FROM live');
    await relay.waitEvent('subscriber-connected', (e) => e.from === 251);
    await sendUdp(relay.udpPort, [message(0, 50, 'last')]);
    for (const x of [c, r, caughtUp, liveOnly]) await x.waitFor('seq 251', (y) => y.messages.has(251));
    expect(caughtUp.order).toEqual([251]);
    expect(liveOnly.order).toEqual([251]);

    // A stop lets them catch up, then says why it ends.
    expect(await relay.stop('SIGTERM')).toBe(0);
    for (const x of [c, r, caughtUp, liveOnly]) {
      await x.waitClosed();
      expect(x.frames[x.frames.length - 1]).toEqual({ kind: 'BYE', reason: 'shutdown' });
    }
  },
  30000,
);

test('resuming from before the history: one GAP frame with the exact count, then the oldest retained message', async () => {
  const { certs, relay } = await relayWith(['--history', '100']);
  const sent = Array.from({ length: 250 }, (_, i) => message(i, 200, 'gap'));
  await sendUdp(relay.udpPort, sent);
  const s = await relay.statsUntil('every datagram received', (x) => x.received === 250);
  expect(s).toMatchObject({
    evicted: 150,
    history_messages: 100,
    history_oldest: 151,
    history_next: 251,
    dropped_evicted: 0,
  });

  const probe = await connect(relay, certs, 'FROM live');
  const log = probe.hello!.log;
  const c = await connect(relay, certs, `FROM 10 log=${log}`);
  await c.waitFor('100 messages', (x) => x.messages.size === 100);
  expect(c.frames[0]).toEqual({ kind: 'GAP', first: 11, count: 140, reason: 'evicted' });
  expect(c.frames[1]).toMatchObject({ kind: 'MSG', first: 151 });
  expect(c.order).toEqual(seqs(151, 250));
  expectMessages(c.range(151, 250), sent.slice(150));

  const fromStart = await connect(relay, certs, `FROM 0 log=${log}`);
  await fromStart.waitFor('100 messages', (x) => x.messages.size === 100);
  expect(fromStart.frames[0]).toEqual({ kind: 'GAP', first: 1, count: 150, reason: 'evicted' });
  expect((await relay.stats()).gaps).toBe(2);
}, 30000);

test('a resume request for another log gets RESET with this log id, then everything from the oldest', async () => {
  const { certs, relay } = await relayWith([]);
  const sent = Array.from({ length: 30 }, (_, i) => message(i, 100, 'reset'));
  await sendUdp(relay.udpPort, sent);
  await relay.statsUntil('received', (x) => x.received === 30);
  const c = await connect(relay, certs, 'FROM 5 log=0123456789abcdef');
  await c.waitFor('30 messages', (x) => x.messages.size === 30);
  expect(c.hello!.log).not.toBe('0123456789abcdef');
  expect(c.frames[0]).toEqual({ kind: 'RESET', log: c.hello!.log });
  expect(c.order).toEqual(seqs(1, 30));
  expectMessages(c.range(1, 30), sent);
}, 20000);

test('a bad request gets BYE bad-request with the reason, and the connection ends', async () => {
  const { certs, relay } = await relayWith(['--handshake-timeout', '1500']);
  await sendUdp(relay.udpPort, [message(1, 80)]);
  await relay.statsUntil('received', (x) => x.received === 1);
  const log = (await connect(relay, certs, 'FROM live')).hello!.log;
  const cases: [string | null, string][] = [
    ['GET / HTTP/1.0', 'bad-request expected FROM oldest|live|SEQ'],
    ['FROM 1', 'bad-request FROM SEQ needs log='],
    [`FROM 5 log=${log}`, 'bad-request seq ahead of log'],
    [`FROM -1 log=${log}`, 'bad-request SEQ must be a decimal integer'],
    ['FROM live colour=red', 'bad-request unknown parameter colour'],
    ['FROM live filter=auth.*;bogus.info', 'bad-request filter: unknown facility "bogus" at column 8'],
    ['FROM oldest meta=2', 'bad-request meta must be 0 or 1'],
    [`FROM live log=${log}`, 'bad-request log= goes with FROM SEQ only'],
    [`FROM ${'9'.repeat(2000)}`, 'bad-request request too long'],
    [null, 'bad-request no request in time'],
  ];
  for (const [request, reason] of cases) {
    const c = await connect(relay, certs, request);
    await c.waitClosed();
    expect(c.frames).toEqual([{ kind: 'BYE', reason }]);
    expect(c.messages.size).toBe(0);
  }
  expect(relay.all('subscriber-refused')).toHaveLength(cases.length);
}, 30000);

test('meta=1: a TIME frame before each MSG frame gives every message its receive time and source', async () => {
  const { certs, relay } = await relayWith([]);
  const before = Date.now();
  const sent = Array.from({ length: 40 }, (_, i) => message(i, 100, 'meta'));
  await sendUdp(relay.udpPort, sent);
  await relay.statsUntil('received', (x) => x.received === 40);
  const after = Date.now();
  const c = await connect(relay, certs, 'FROM oldest meta=1');
  await c.waitFor('40 messages', (x) => x.messages.size === 40);
  const times = c.frames.filter((f) => f.kind === 'TIME');
  const msgs = c.frames.filter((f) => f.kind === 'MSG');
  expect(times.map((t) => [t.first, t.count])).toEqual(msgs.map((m) => [m.first, m.count]));
  const lines = times.flatMap((t) => (t.kind === 'TIME' ? t.lines : []));
  expect(lines).toHaveLength(40);
  for (const l of lines) {
    expect(l.time).toBeGreaterThanOrEqual(before);
    expect(l.time).toBeLessThanOrEqual(after);
    expect(l.source).toMatch(/^127\.0\.0\.1:\d+$/);
  }
}, 20000);

test.each(['lf', 'octet'] as const)(
  '%s framing: plain peers (openssl s_client, Node tls with another ALPN) get exactly today’s bytes, live from admission',
  async (framing) => {
    const { certs, relay } = await relayWith(['--framing', framing]);
    await sendUdp(
      relay.udpPort,
      Array.from({ length: 20 }, (_, i) => message(i, 100, 'before')),
    );
    await relay.statsUntil('received', (x) => x.received === 20);
    const openssl = await Tail.openssl(relay, certs);
    const other = await connect(relay, certs, null, ['h2']);
    expect(other.alpn).toBe(false);
    let otherBytes = Buffer.alloc(0);
    other.socket.removeAllListeners('data');
    other.socket.on('data', (d: Buffer) => (otherBytes = Buffer.concat([otherBytes, d])));
    await until('two subscribers', () => (relay.connectedCount === 2 ? true : undefined));
    // Bytes the LF framing escapes, and lengths around the octet header's digit counts.
    const sent = [
      Buffer.from('a\nb\rc\\d'),
      Buffer.from('x'),
      ...[9, 10, 99, 100, 999, 1000, 65000].map((n) => message(n, n, 'len')),
    ];
    await sendUdp(relay.udpPort, sent);
    const expected = Buffer.concat(sent.map((m) => frame(m, framing)));
    const got = await openssl.waitBytes(expected.length);
    expect(got.equals(expected)).toBe(true);
    await until('the other plain peer', () => (otherBytes.length >= expected.length ? true : undefined));
    expect(otherBytes.equals(expected)).toBe(true);
    const s = await relay.stats();
    expect(s).toMatchObject({ received: 20 + sent.length, delivered: 2 * sent.length });
  },
  20000,
);

test('no subscriber for a while: the history fills and evicts, every eviction counted; a resume gets exactly the newest', async () => {
  const { certs, relay } = await relayWith(['--history', '1000', '--history-bytes', '1000000']);
  const sent = Array.from({ length: 5000 }, (_, i) => message(i, 300, 'alone'));
  await sendUdp(relay.udpPort, sent, { batch: 32, pauseMs: 1 });
  const s = await relay.statsUntil('received', (x) => x.received === 5000);
  expect(s).toMatchObject({
    evicted: 4000,
    history_messages: 1000,
    history_bytes: 301_000,
    history_oldest: 4001,
    delivered: 0,
  });
  expect(s.dropped_oldest + s.dropped_newest + s.dropped_disconnect + s.dropped_evicted).toBe(0);
  const c = await connect(relay, certs, 'FROM oldest');
  await c.waitFor('1000 messages', (x) => x.messages.size === 1000);
  expect(c.order).toEqual(seqs(4001, 5000));
  expectMessages(c.range(4001, 5000), sent.slice(4000));
  // The byte bound: 1,000,000 bytes hold 3,322 of these (301 framed bytes each); the count bound is lower.
  const bytes = await relayWith(['--history', '100000', '--history-bytes', '100000']);
  await sendUdp(bytes.relay.udpPort, sent.slice(0, 1000), { batch: 32, pauseMs: 1 });
  const b = await bytes.relay.statsUntil('received', (x) => x.received === 1000);
  expect(b).toMatchObject({ history_messages: 332, history_bytes: 332 * 301, evicted: 668 });
}, 30000);

/** Resident memory of a process, from /proc (Linux). */
function rssOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

describeOnLinux('relay memory under a flood', "the relay's resident memory is read from /proc/<pid>/status", () => {
  test('a flood five times the history with nobody connected: memory grows by the history bound, not by the flood', async () => {
    const historyBytes = 8 * 1024 * 1024;
    const { relay } = await relayWith(['--history-bytes', String(historyBytes), '--stats-interval', '0']);
    const before = rssOf(relay.child.pid!);
    const total = 150_000; // 300 bytes each: 45 MB through an 8 MiB history
    const batch = Array.from({ length: 1000 }, (_, i) => message(i, 299, 'rss'));
    for (let sent = 0; sent < total; sent += batch.length) await sendUdp(relay.udpPort, batch, { batch: 100 });
    const s = await relay.statsUntil('received', (x) => x.received + x.kernel_drops === total, 30000);
    expect(s.history_bytes).toBeLessThanOrEqual(historyBytes);
    expect(s.evicted).toBe(s.received - s.history_messages);
    const grown = rssOf(relay.child.pid!) - before;
    console.log(
      `RSS grew by ${(grown / 2 ** 20).toFixed(1)} MiB for an ${historyBytes / 2 ** 20} MiB history (${s.history_messages} messages) after ${total} messages`,
    );
    // The bound, its records (40 bytes a message), three chunks, and generous room for the JS heap.
    expect(grown).toBeLessThan(historyBytes + 40 * s.history_messages + 3 * 256 * 1024 + 16 * 2 ** 20);
  }, 60000);
});

const SENT = 6000;
const QUEUE = 100;

test.each(['drop-oldest', 'drop-newest'] as const)(
  '%s: a stalled live protocol subscriber gets GAP dropped frames that account for every message exactly; a healthy one gets all',
  async (policy) => {
    const { certs, relay } = await relayWith(['--queue', String(QUEUE), '--on-full', policy]);
    const healthy = await Tail.openssl(relay, certs);
    const stalled = await connect(relay, certs, 'FROM live');
    stalled.socket.pause(); // stops reading: its kernel buffers fill, then its lag limit applies
    await relay.waitEvent('subscriber-connected', (e) => e.protocol === 'logrelay/1');
    const sent = Array.from({ length: SENT }, (_, i) => message(i, 1024, policy));
    await sendUdp(relay.udpPort, sent, { batch: 16, pauseMs: 1 });
    const expected = Buffer.concat(sent.map((m) => frame(m, 'lf')));
    const got = await healthy.waitBytes(expected.length, 20000);
    expect(got.equals(expected)).toBe(true);
    const mid = await relay.stats();
    const counter = policy === 'drop-oldest' ? 'dropped_oldest' : 'dropped_newest';
    expect(mid[counter]).toBeGreaterThan(0);
    stalled.socket.resume();
    const dropped = () => stalled.gaps('dropped').reduce((n, g) => n + g.count, 0);
    await stalled.waitFor('every seq accounted for', (c) => c.messages.size + dropped() === SENT, 20000);
    // Each seq exactly once: received, or inside a GAP frame, never both; in order.
    const gapSeqs = stalled.gaps('dropped').flatMap((g) => seqs(g.first, g.first + g.count - 1));
    expect([...stalled.order, ...gapSeqs].sort((a, b) => a - b)).toEqual(seqs(1, SENT));
    expect(stalled.order).toEqual([...stalled.order].sort((a, b) => a - b));
    for (const seq of stalled.order) expect(stalled.messages.get(seq)!.equals(sent[seq - 1])).toBe(true);
    const final = await relay.statsUntil('delivered', (s) => s.delivered === SENT + stalled.messages.size);
    expect(final[counter]).toBe(dropped());
    expect(final).toMatchObject({
      dropped_disconnect: 0,
      dropped_evicted: 0,
      queue_high_water: QUEUE,
      gaps: stalled.gaps('dropped').length,
    });
    console.log(
      `${policy}, protocol: ${stalled.messages.size} delivered, ${dropped()} in ${stalled.gaps().length} GAP frames`,
    );
  },
  40000,
);

test('a resuming subscriber has no lag limit but the history: overtaken while stalled, it gets GAP evicted frames, counted exactly', async () => {
  const { certs, relay } = await relayWith(['--history', '500', '--queue', '10', '--on-full', 'disconnect']);
  const c = await connect(relay, certs, 'FROM oldest');
  c.socket.pause();
  await relay.waitEvent('subscriber-connected', (e) => e.protocol === 'logrelay/1');
  const sent = Array.from({ length: SENT }, (_, i) => message(i, 1024, 'resume'));
  await sendUdp(relay.udpPort, sent, { batch: 16, pauseMs: 1 });
  await relay.statsUntil('received', (s) => s.received === SENT);
  c.socket.resume();
  const evicted = () => c.gaps('evicted').reduce((n, g) => n + g.count, 0);
  await c.waitFor('every seq accounted for', (x) => x.messages.size + evicted() === SENT, 20000);
  const gapSeqs = c.gaps('evicted').flatMap((g) => seqs(g.first, g.first + g.count - 1));
  expect([...c.order, ...gapSeqs].sort((a, b) => a - b)).toEqual(seqs(1, SENT));
  expect(c.order).toEqual([...c.order].sort((a, b) => a - b));
  expect(c.order.slice(-500)).toEqual(seqs(SENT - 499, SENT)); // it caught up with everything still held
  for (const seq of c.order) expect(c.messages.get(seq)!.equals(sent[seq - 1])).toBe(true);
  const s = await relay.stats();
  // Not cut off: a lag limit (10, disconnect) does not apply to a subscriber that asked for history.
  expect(s).toMatchObject({
    subscribers: 1,
    dropped_evicted: evicted(),
    dropped_disconnect: 0,
    gaps: c.gaps().length,
    delivered: c.messages.size,
  });
  expect(evicted()).toBeGreaterThan(0);
}, 40000);

test('disconnect: a stalled subscriber is cut off at its lag limit, counted; the healthy one gets everything', async () => {
  const { certs, relay } = await relayWith(['--queue', String(QUEUE), '--on-full', 'disconnect']);
  const healthy = await Tail.openssl(relay, certs);
  const stalled = await Tail.openssl(relay, certs);
  stalled.child.kill('SIGSTOP');
  const sent = Array.from({ length: SENT }, (_, i) => message(i, 1024, 'cut'));
  await sendUdp(relay.udpPort, sent, { batch: 16, pauseMs: 1 });
  const expected = Buffer.concat(sent.map((m) => frame(m, 'lf')));
  expect((await healthy.waitBytes(expected.length, 20000)).equals(expected)).toBe(true);
  const gone = await relay.waitEvent('subscriber-disconnected');
  expect(gone.reason).toBe('queue full');
  const s = await relay.stats();
  expect(s.dropped_disconnect).toBe(gone.lost);
  expect(s.delivered).toBe(SENT + (gone.delivered as number));
}, 40000);

test.each(['integrated', 'blocking'] as const)(
  '%s mode: datagrams the kernel dropped before the relay read them are counted per input',
  async (mode) => {
    const { relay } = await relayWith(['--receive-buffer', '4096'], mode);
    relay.child.kill('SIGSTOP');
    const burst = 500;
    await sendUdp(
      relay.udpPort,
      Array.from({ length: burst }, (_, i) => message(i, 300, 'burst')),
    );
    relay.child.kill('SIGCONT');
    // Drops are reported with the next datagram queued after them.
    await sleep(200);
    await sendUdp(relay.udpPort, [message(0, 300, 'after')]);
    const s = await relay.statsUntil(
      'every datagram received or counted dropped',
      (x) => x.received + x.kernel_drops === burst + 1,
    );
    expect(s.kernel_drops).toBeGreaterThan(0);
    expect(s.kernel_drops_by_input).toBe(`127.0.0.1:${relay.udpPort}=${s.kernel_drops}`);
  },
  20000,
);

test('a peer that goes away before or after HELLO leaves the relay serving others', async () => {
  const { certs, relay } = await relayWith([]);
  for (let i = 0; i < 6; i++) {
    const s = tls.connect({
      host: '127.0.0.1',
      port: relay.tlsPort,
      ca: fs.readFileSync(certs.ca),
      cert: fs.readFileSync(certs.clientCert),
      key: fs.readFileSync(certs.clientKey),
      servername: 'localhost',
      ALPNProtocols: ['logrelay/1'],
    });
    await new Promise((resolve) => s.once(i % 2 ? 'data' : 'secureConnect', resolve));
    if (i % 3 === 2) s.end('FROM li'); // half a request, then close_notify
    s.destroy();
  }
  const c = await connect(relay, certs, 'FROM live');
  await relay.waitEvent('subscriber-connected');
  await sendUdp(relay.udpPort, [message(1, 60)]);
  await c.waitFor('the message', (x) => x.messages.size === 1);
}, 20000);

describe('--history-dir', () => {
  test.each([
    { signal: 'SIGTERM', mode: 'integrated' },
    { signal: 'SIGKILL', mode: 'integrated' },
    { signal: 'SIGKILL', mode: 'blocking' },
  ] as const)(
    '$mode mode: a relay stopped with $signal and started again keeps its log id and sequence; a resuming subscriber misses nothing',
    async ({ signal, mode }) => {
      const certs = makeCerts();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-history-'));
      try {
        const args = ['--mode', mode, ...identity(certs), '--history-dir', dir, '--fsync', 'always'];
        const { first, before, log } = await firstRun(args, certs);
        // A subscriber that had written out 250 of them resumes after 250.
        expect(await first.stop(signal)).toBe(signal === 'SIGTERM' ? 0 : 'SIGKILL');

        const second = await RelayProcess.start(args);
        const recovered = await second.waitEvent('history-recovered');
        expect(recovered).toMatchObject({ log, messages: 300, oldest: 1, next: 301 });
        const after = Array.from({ length: 100 }, (_, i) => message(i, 200, 'after'));
        await sendUdp(second.udpPort, after);
        await second.statsUntil('received', (s) => s.received === 100);
        const r = await connect(second, certs, `FROM 250 log=${log}`);
        expect(r.hello).toMatchObject({ log, oldest: 1, next: 401 });
        await r.waitFor('150 messages', (x) => x.messages.size === 150);
        expect(r.frames.filter((f) => f.kind === 'GAP' || f.kind === 'RESET')).toEqual([]);
        expect(r.order).toEqual(seqs(251, 400));
        expectMessages(r.range(251, 400), [...before.slice(250), ...after]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    30000,
  );

  test('a power cut under --fsync interval: a subscriber resuming past what the disk kept gets GAP lost with the exact range, then seqs above every one handed out', async () => {
    const certs = makeCerts();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-history-'));
    try {
      const args = [...identity(certs), '--history-dir', dir, '--fsync', 'interval'];
      const { first, before, c, log } = await firstRun(args, certs);
      const handedOut = new Map(c.messages);
      expect(await first.stop('SIGKILL')).toBe('SIGKILL');
      const reserved = powerCut(dir);
      expect(reserved).toBeGreaterThan(300);

      const second = await RelayProcess.start(args);
      const recovered = await second.waitEvent('history-recovered');
      const kept = recovered.messages as number;
      // Half a segment of 300 records keeps some of them, not all.
      expect(kept).toBeGreaterThan(10);
      expect(kept).toBeLessThan(300);
      expect(recovered).toMatchObject({ log, oldest: 1, next: reserved });
      const lostLine = await second.waitEvent('history-lost');
      expect(lostLine).toMatchObject({ from: kept + 1, to: reserved - 1, count: reserved - 1 - kept });
      expect((await second.stats()).history_lost).toBe(reserved - 1 - kept);

      const resumed = await connect(second, certs, `FROM 300 log=${log}`);
      expect(resumed.hello).toMatchObject({ log, oldest: 1, next: reserved });
      const oldest = await connect(second, certs, 'FROM oldest');
      const early = await connect(second, certs, `FROM 10 log=${log}`);
      // Seqs inside the lost range were really handed out: resuming after one is accepted.
      const inHole = await connect(second, certs, `FROM ${kept + 5} log=${log}`);
      const atEnd = await connect(second, certs, `FROM ${reserved - 1} log=${log}`);
      const ahead = await connect(second, certs, `FROM ${reserved} log=${log}`);
      await ahead.waitClosed();
      expect(ahead.frames).toEqual([{ kind: 'BYE', reason: 'bad-request seq ahead of log' }]);
      await second.waitEvent('subscriber-connected', () => second.connectedCount === 5);
      const after = Array.from({ length: 50 }, (_, i) => message(i, 150, 'after'));
      await sendUdp(second.udpPort, after);
      const last = reserved + 49;
      for (const x of [resumed, oldest, early, inHole, atEnd])
        await x.waitFor(`seq ${last}`, (y) => y.messages.has(last));

      const lostGap = (first: number) => ({ kind: 'GAP', first, count: reserved - first, reason: 'lost' });
      const msgsOnly = (x: ProtocolClient) => x.frames.filter((f) => f.kind !== 'MSG');
      expect(msgsOnly(resumed)).toEqual([lostGap(301)]);
      expect(resumed.order).toEqual(seqs(reserved, last));
      expect(msgsOnly(oldest)).toEqual([lostGap(kept + 1)]);
      expect(oldest.order).toEqual([...seqs(1, kept), ...seqs(reserved, last)]);
      expect(msgsOnly(early)).toEqual([lostGap(kept + 1)]);
      expect(early.order).toEqual([...seqs(11, kept), ...seqs(reserved, last)]);
      expect(msgsOnly(inHole)).toEqual([lostGap(kept + 6)]);
      expect(inHole.order).toEqual(seqs(reserved, last));
      expect(msgsOnly(atEnd)).toEqual([]);
      expect(atEnd.order).toEqual(seqs(reserved, last));
      expectMessages(resumed.range(reserved, last), after);
      // No seq is ever delivered twice with different content: what survived is what was sent before.
      for (const x of [resumed, oldest, early, inHole, atEnd]) {
        for (const [seq, m] of x.messages) if (handedOut.has(seq)) expect(m.equals(handedOut.get(seq)!)).toBe(true);
      }
      expectMessages(oldest.range(1, kept), before.slice(0, kept));
      const stats = await second.stats();
      // The hole's seqs are not messages this run evicted: counted only as GAP frames.
      expect(stats).toMatchObject({
        gaps: 4,
        dropped_evicted: 0,
        evicted: 0,
        history_messages: kept + 50,
        history_oldest: 1,
        history_next: last + 1,
      });
      expect(await second.stop()).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30000);

  test('a power cut, then a history that evicts what was kept before the hole: a subscriber resuming from before it gets GAP evicted, GAP lost, GAP evicted, in order', async () => {
    const certs = makeCerts();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-history-'));
    try {
      const args = [
        '--mode',
        'blocking',
        ...identity(certs),
        '--history-dir',
        dir,
        '--fsync',
        'never',
        '--history',
        '20',
      ];
      const first = await RelayProcess.start(args);
      await sendUdp(
        first.udpPort,
        Array.from({ length: 200 }, (_, i) => message(i, 100, 'before')),
      );
      await first.statsUntil('received', (s) => s.received === 200);
      expect(await first.stop('SIGKILL')).toBe('SIGKILL');
      const reserved = powerCut(dir);

      const second = await RelayProcess.start(args);
      const lost = await second.waitEvent('history-lost');
      const from = lost.from as number;
      expect(lost).toMatchObject({ to: reserved - 1 });
      expect(from).toBeGreaterThan(20);
      expect(await second.waitEvent('history-recovered')).toMatchObject({
        messages: 20,
        oldest: from - 20,
        next: reserved,
      });
      // 30 new messages evict the 20 kept before the hole and 10 after it.
      const after = Array.from({ length: 30 }, (_, i) => message(i, 100, 'after'));
      await sendUdp(second.udpPort, after);
      await second.statsUntil('received', (s) => s.received === 30);
      const log = (await second.waitEvent('listening')).log as string;
      const c = await connect(second, certs, `FROM 5 log=${log}`);
      expect(c.hello).toMatchObject({ oldest: reserved + 10, next: reserved + 30 });
      await c.waitFor('20 messages', (x) => x.messages.size === 20);
      expect(c.gaps()).toEqual([
        { kind: 'GAP', first: 6, count: from - 6, reason: 'evicted' },
        { kind: 'GAP', first: from, count: reserved - from, reason: 'lost' },
        { kind: 'GAP', first: reserved, count: 10, reason: 'evicted' },
      ]);
      expect(c.order).toEqual(seqs(reserved + 10, reserved + 29));
      expectMessages(c.range(reserved + 10, reserved + 29), after.slice(10));
      const inHole = await connect(second, certs, `FROM ${from + 1} log=${log}`);
      await inHole.waitFor('20 messages', (x) => x.messages.size === 20);
      expect(inHole.gaps()).toEqual([
        { kind: 'GAP', first: from + 2, count: reserved - from - 2, reason: 'lost' },
        { kind: 'GAP', first: reserved, count: 10, reason: 'evicted' },
      ]);
      expect(await second.stop()).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30000);

  test('disk writes that fail while the relay runs are logged (once per run of failures); subscribers are served from memory all the same', async () => {
    const certs = makeCerts();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-history-'));
    try {
      // No file of the relay's can grow past 64 KiB (EFBIG, as ENOSPC would). Each
      // segment fills up; the journal starts the next one after the batch it could not write.
      const relay = await RelayProcess.start([...identity(certs), '--history-dir', dir], { fileSizeKiB: 64 });
      const sent = Array.from({ length: 2000 }, (_, i) => message(i, 200, 'full'));
      await sendUdp(relay.udpPort, sent, { batch: 32, pauseMs: 1 });
      await relay.statsUntil('received', (s) => s.received === 2000);
      const c = await connect(relay, certs, 'FROM oldest');
      await c.waitFor('2000 messages', (x) => x.messages.size === 2000);
      expectMessages(c.range(1, 2000), sent);
      const failed = relay.all('history-dir-failed');
      expect(failed.length).toBeGreaterThanOrEqual(1);
      // 2000 × 200 bytes fill a 64 KiB segment about every 300 messages: one line per full segment, not per batch.
      expect(failed.length).toBeLessThanOrEqual(10);
      for (const f of failed)
        expect(f).toMatchObject({
          code: 'EFBIG',
          kept: true,
          reason: expect.stringMatching(/cannot append seqs \d+…\d+/),
        });
      expect(await relay.stop()).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30000);

  test('an unusable directory, or one another relay holds, is a clear error at start', async () => {
    const certs = makeCerts();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-history-'));
    try {
      const file = path.join(dir, 'not-a-dir');
      fs.writeFileSync(file, 'x');
      const base = [
        '--json',
        '--tls',
        '127.0.0.1:0',
        '--udp',
        '127.0.0.1:0',
        '--cert',
        certs.serverCert,
        '--key',
        certs.serverKey,
        '--ca',
        certs.ca,
      ];
      const bad = spawnSync(process.execPath, [LOGRELAY, ...base, '--history-dir', file], {
        timeout: 10000,
        encoding: 'utf8',
      });
      expect(bad.status).toBe(1);
      expect(bad.stderr).toMatch(/not-a-dir/);
      const holder = await RelayProcess.start([...identity(certs), '--history-dir', dir]);
      const second = spawnSync(process.execPath, [LOGRELAY, ...base, '--history-dir', dir], {
        timeout: 10000,
        encoding: 'utf8',
      });
      expect(second.status).toBe(1);
      expect(second.stderr).toMatch(/lock|in use|another/i);
      expect(await holder.stop()).toBe(0);
      const usage = (extra: string[]) =>
        spawnSync(process.execPath, [LOGRELAY, ...base, ...extra], { timeout: 10000, encoding: 'utf8' });
      expect(usage(['--history-dir', dir, '--fsync', 'sometimes'])).toMatchObject({
        status: 2,
        stderr: 'logrelay: --fsync must be one of never, interval, always, not "sometimes"\n',
      });
      expect(usage(['--fsync', 'always'])).toMatchObject({
        status: 2,
        stderr: 'logrelay: --fsync applies to --history-dir only\n',
      });
      expect(usage(['--history-dir', ''])).toMatchObject({
        status: 2,
        stderr: 'logrelay: --history-dir needs a directory\n',
      });
      expect(usage(['--history', '0'])).toMatchObject({
        status: 2,
        stderr: 'logrelay: --history must be an integer from 1 to 100000000, not "0"\n',
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30000);
});
