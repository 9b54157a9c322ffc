/**
 * Subscriber filters end to end: real `logrelay` and `logtail` processes, datagrams of RFC 3164 and
 * RFC 5424 messages (and some without a valid PRI) over UDP on loopback, subscribers speaking
 * logrelay/1 over real TLS. A filtered subscriber gets exactly the messages its selector selects,
 * with their sequence numbers; what it passes over is told as SKIP, counted as filtered (not as
 * dropped), and never seen as a gap — also when logtail resumes from its state file.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tls from 'tls';
import { priOf } from '../lib/relay/pri';
import { parseSelector } from '../lib/relay/selector';
import {
  clientIdentity,
  cleanup,
  exitOf,
  LOGTAIL,
  makeCerts,
  RelayProcess,
  sendUdp,
  sleep,
  spawnChild,
  tempDir,
  until,
  logtailArgs,
  identity,
} from './relay-helpers';
import { Frame, ProtocolClient } from './relay-protocol-client';

afterEach(cleanup);
const clients: ProtocolClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

type Certs = ReturnType<typeof makeCerts>;
const SELECTOR = 'auth,authpriv.*;*.warning';

/** The i-th message: a PRI from a fixed cycle (and some without a valid one), numbered; `wanted`: SELECTOR selects it. */
function sample(i: number): { bytes: Buffer; wanted: boolean } {
  const n = String(i).padStart(6, '0');
  const cycle: [string, boolean][] = [
    [`<13>Jan  1 00:00:00 host app[1]: user.notice ${n}`, false],
    [`<34>1 2026-11-29T19:00:00.003Z host su - ID47 - auth.crit ${n}`, true],
    [`<86>Jan  1 00:00:00 host sshd[2]: authpriv.info ${n}`, true],
    [`<30>Jan  1 00:00:00 host cron[3]: daemon.info ${n}`, false],
    [`<28>1 2026-11-29T19:00:00Z host ntpd 4 - - daemon.warning ${n}`, true],
    [`<191>Jan  1 00:00:00 host app: local7.debug ${n}`, false],
    [`<0>Jan  1 00:00:00 host kernel: kern.emerg ${n}`, true],
    [`no PRI: user.notice by the rule ${n}`, false],
    [`<013>leading zero, not a valid PRI: user.notice ${n}`, false],
    [`<38>Jan  1 00:00:00 host login[5]: auth.info ${n}`, true],
  ];
  const [text, wanted] = cycle[i % cycle.length];
  return { bytes: Buffer.from(text), wanted };
}

async function relayWith(args: string[], mode: 'integrated' | 'blocking' = 'integrated') {
  const certs = makeCerts();
  const relay = await RelayProcess.start(['--mode', mode, ...identity(certs), ...args]);
  return { certs, relay };
}

const samples = (from: number, count: number) => Array.from({ length: count }, (_, k) => sample(from + k).bytes);

async function send(relay: RelayProcess, messages: Buffer[]): Promise<void> {
  const before = (await relay.stats()).received;
  await sendUdp(relay.udpPort, messages);
  await relay.statsUntil(`${messages.length} more received`, (s) => s.received === before + messages.length);
}

/** Every seq first…last covered exactly once, in order, by the frames (MSG, SKIP, GAP). */
function coverage(frames: Frame[]): { seq: number; kind: string }[] {
  const out: { seq: number; kind: string }[] = [];
  for (const f of frames) {
    if (f.kind === 'MSG' || f.kind === 'SKIP' || f.kind === 'GAP')
      for (let s = f.first; s < f.first + f.count; s++) out.push({ seq: s, kind: f.kind });
  }
  return out;
}

test.each(['integrated', 'blocking'] as const)(
  '%s mode: a filtered subscriber gets exactly the selected messages with their seqs, the rest as SKIP, counted as filtered; an unfiltered one gets all',
  async (mode) => {
    const { certs, relay } = await relayWith([], mode);
    await send(relay, samples(0, 200));
    const filtered = await ProtocolClient.connect(relay.tlsPort, certs, `FROM oldest filter=${SELECTOR}`);
    const all = await ProtocolClient.connect(relay.tlsPort, certs, 'FROM oldest');
    clients.push(filtered, all);
    expect(filtered.hello).toMatchObject({ filter: true });
    const wanted = (last: number) =>
      Array.from({ length: last }, (_, k) => k + 1).filter((seq) => sample(seq - 1).wanted);
    await filtered.waitFor('coverage of seqs 1…200', (c) => coverage(c.frames).length === 200);
    await all.waitFor('200 messages', (c) => c.messages.size === 200);

    // Live messages after the backlog, the same way.
    await send(relay, samples(200, 100));
    await filtered.waitFor('coverage of seqs 1…300', (c) => coverage(c.frames).length === 300);
    await all.waitFor('300 messages', (c) => c.messages.size === 300);

    const covered = coverage(filtered.frames);
    expect(covered.map((x) => x.seq)).toEqual(Array.from({ length: 300 }, (_, k) => k + 1));
    expect(covered.filter((x) => x.kind === 'GAP')).toEqual([]);
    expect(filtered.order).toEqual(wanted(300));
    for (const seq of filtered.order) expect(filtered.messages.get(seq)).toEqual(sample(seq - 1).bytes);
    expect(covered.filter((x) => x.kind === 'SKIP').map((x) => x.seq)).toEqual(
      covered.map((x) => x.seq).filter((seq) => !sample(seq - 1).wanted),
    );
    expect(all.frames.some((f) => f.kind === 'SKIP')).toBe(false);
    for (let seq = 1; seq <= 300; seq++) expect(all.messages.get(seq)).toEqual(sample(seq - 1).bytes);

    const selected = wanted(300).length;
    const stats = await relay.statsUntil('deliveries counted', (s) => s.delivered === 300 + selected);
    expect(stats).toMatchObject({
      filtered: 300 - selected,
      dropped_oldest: 0,
      dropped_newest: 0,
      dropped_evicted: 0,
      gaps: 0,
    });

    filtered.close();
    const gone = await relay.waitEvent('subscriber-disconnected', (e) => e.filtered !== undefined);
    expect(gone).toMatchObject({ delivered: selected, filtered: 300 - selected, dropped: 0 });
    expect(relay.all('subscriber-connected', (e) => e.filter === SELECTOR)).toHaveLength(1);
  },
  40000,
);

test('a filter the relay cannot parse is refused with BYE bad-request naming the column', async () => {
  const { certs, relay } = await relayWith([]);
  const c = await ProtocolClient.connect(relay.tlsPort, certs, 'FROM live filter=auth.*;mail.loud');
  clients.push(c);
  await c.waitClosed();
  expect(c.frames).toEqual([{ kind: 'BYE', reason: 'bad-request filter: unknown severity "loud" at column 13' }]);
});

test('logtail --filter --state: after a restart it resumes past the messages it was told to skip, so history evicting them is no gap', async () => {
  const { certs, relay } = await relayWith(['--history', '100']);
  const dir = tempDir();
  const state = path.join(dir, 'state');
  const out = path.join(dir, 'out.log');
  // Seqs 1…57 mixed (seq 57 selected), then 58…77 that the filter does not select.
  const unselected = Array.from({ length: 20 }, (_, k) =>
    Buffer.from(`<30>Jan  1 00:00:00 host cron[3]: daemon.info tail ${k}`),
  );
  expect(sample(56).wanted).toBe(true);
  await send(relay, [...samples(0, 57), ...unselected]);
  const run = () => {
    const fd = fs.openSync(out, 'a');
    const child = spawnChild(
      process.execPath,
      logtailArgs(relay, certs, ['--filter', SELECTOR, '--state', state, '--from', 'oldest']),
      { stdio: ['ignore', fd, 'pipe'] },
    );
    fs.closeSync(fd);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    return { child, stderr: () => stderr };
  };
  const expected = (...ranges: [number, number][]) =>
    ranges
      .flatMap(([from, count]) => Array.from({ length: count }, (_, k) => sample(from + k)))
      .filter((m) => m.wanted)
      .map((m) => m.bytes.toString() + '\n')
      .join('');
  const lastSeq = () => (fs.existsSync(state) ? (JSON.parse(fs.readFileSync(state, 'utf8')).seq as number) : 0);
  /** Runs logtail until its state file records `seq`, then stops it with SIGTERM (exit 0). */
  const runTo = async (seq: number) => {
    const tail = run();
    await until(
      () => `state at seq ${seq} (${tail.stderr()})`,
      () => (lastSeq() === seq ? true : undefined),
    );
    tail.child.kill('SIGTERM');
    expect(await exitOf(tail.child)).toBe(0);
    return tail;
  };

  // The SKIP of 58…77 moved the recorded position to 77, though nothing was written for them.
  const first = await runTo(77);
  expect(fs.readFileSync(out, 'utf8')).toBe(expected([0, 57]));

  // 100 more (seqs 78…177): the history (100 messages) evicts 1…77, none of which the resume needs.
  await send(relay, samples(57, 100));
  const second = await runTo(177);
  expect(second.stderr()).toMatch(/resuming after seq 77/);
  expect(first.stderr() + second.stderr()).not.toMatch(/gap/);
  expect(fs.readFileSync(out, 'utf8')).toBe(expected([0, 57], [57, 100]));
}, 40000);

test('logtail --filter with a bad selector: exit 2 with the column', async () => {
  const child = spawnChild(process.execPath, [LOGTAIL, '--demo', tempDir(), '--filter', 'auth.*;kern,bogus.info']);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  expect(await exitOf(child)).toBe(2);
  expect(stderr).toBe('logtail: --filter "auth.*;kern,bogus.info": unknown facility "bogus" at column 13\n');
});

/** A TLS server standing in for another relay: it offers `alpn` and, when selected, sends `hello`. */
async function fakeRelay(
  certs: Certs,
  alpn: string[] | undefined,
  hello: string,
): Promise<{ port: number; close: () => void }> {
  const server = tls.createServer(
    {
      cert: fs.readFileSync(certs.serverCert),
      key: fs.readFileSync(certs.serverKey),
      ca: fs.readFileSync(certs.ca),
      requestCert: true,
      ALPNProtocols: alpn,
    },
    (socket) => {
      socket.on('error', () => undefined);
      socket.write(hello);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, close: () => server.close() };
}

test.each([
  [
    'a logrelay/1 relay whose HELLO has no filter=1 (an older version)',
    ['logrelay/1'],
    'HELLO 1 log=0123456789abcdef framing=lf oldest=1 next=1\n',
    /the relay does not take filters \(its HELLO has no filter=1\): upgrade it, or drop --filter/,
  ],
  [
    'a plain relay (no ALPN)',
    undefined,
    '<13>everything\n',
    /does not speak logrelay\/1: --filter needs it \(a plain relay sends everything\)/,
  ],
])(
  'logtail --filter against %s exits 1 with a clear line, rather than printing everything',
  async (_, alpn, hello, why) => {
    const certs = makeCerts();
    const fake = await fakeRelay(certs, alpn, hello);
    try {
      const child = spawnChild(process.execPath, [
        LOGTAIL,
        '--connect',
        `127.0.0.1:${fake.port}`,
        ...clientIdentity(certs),
        '--filter',
        'auth.*',
      ]);
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      expect(await exitOf(child)).toBe(1);
      expect(stderr).toMatch(why);
      expect(stdout).toBe('');
    } finally {
      fake.close();
    }
  },
);

test('meta=1 with a filter: each MSG frame has its TIME frame, SKIPs come before them, every seq covered once', async () => {
  const { certs, relay } = await relayWith([]);
  await send(relay, samples(0, 100));
  const c = await ProtocolClient.connect(relay.tlsPort, certs, `FROM oldest meta=1 filter=${SELECTOR}`);
  clients.push(c);
  await c.waitFor('coverage of seqs 1…100', (x) => coverage(x.frames).length === 100);
  expect(coverage(c.frames).map((x) => x.seq)).toEqual(Array.from({ length: 100 }, (_, k) => k + 1));
  c.frames.forEach((f, i) => {
    if (f.kind === 'MSG') expect(c.frames[i - 1]).toMatchObject({ kind: 'TIME', first: f.first, count: f.count });
  });
  const times = c.frames.flatMap((f) => (f.kind === 'TIME' ? f.lines : []));
  expect(times).toHaveLength(c.messages.size);
  expect(new Set(times.map((t) => t.source.split(':')[0]))).toEqual(new Set(['127.0.0.1']));
});

test('a filtered live subscriber that stalls under drop-oldest: of the seqs its lag limit skipped, the selected count as dropped, the rest as filtered', async () => {
  // 10,000 messages of 2 KiB: far more than the socket buffers of a subscriber that reads nothing hold.
  const { certs, relay } = await relayWith([
    '--queue',
    '200',
    '--on-full',
    'drop-oldest',
    '--history-bytes',
    String(64 << 20),
  ]);
  const c = await ProtocolClient.connect(relay.tlsPort, certs, `FROM live filter=${SELECTOR}`);
  clients.push(c);
  await relay.waitEvent('subscriber-connected');
  c.socket.pause();
  const pad = Buffer.from(' ' + 'x'.repeat(2000));
  // Paced (32 at a time, 2 ms apart) so that a loaded machine's relay reads most of them; UDP may still lose
  // some before the relay reads them: the relay's log is the reference.
  await sendUdp(
    relay.udpPort,
    Array.from({ length: 10000 }, (_, k) => Buffer.concat([sample(k).bytes, pad])),
    { batch: 32, pauseMs: 2 },
  );
  let n = -1;
  for (let still = 0; still < 3; await sleep(200)) {
    const next = (await relay.stats()).history_next - 1;
    still = next === n ? still + 1 : 0;
    n = next;
  }
  expect(n).toBeGreaterThan(5000);
  c.socket.resume();
  await c.waitFor(`coverage of seqs 1…${n}`, (x) => coverage(x.frames).length === n, 30000);
  const reference = await ProtocolClient.connect(relay.tlsPort, certs, 'FROM oldest');
  clients.push(reference);
  await reference.waitFor(`${n} messages`, (x) => x.messages.size === n, 30000);
  const selects = parseSelector(SELECTOR).selects;
  const wanted = (seq: number) => selects[priOf(reference.messages.get(seq)!)] === 1;

  const covered = coverage(c.frames);
  expect(covered.map((x) => x.seq)).toEqual(Array.from({ length: n }, (_, k) => k + 1));
  const gapped = covered.filter((x) => x.kind === 'GAP').map((x) => x.seq);
  expect(gapped.length).toBeGreaterThan(0);
  expect(c.gaps().every((g) => g.reason === 'dropped')).toBe(true);
  const selectedInGaps = gapped.filter(wanted).length;
  expect(c.order).toEqual(covered.filter((x) => x.kind === 'MSG').map((x) => x.seq));
  expect(c.order.every(wanted)).toBe(true);
  expect(covered.filter((x) => x.kind === 'SKIP').every((x) => !wanted(x.seq))).toBe(true);
  const filtered = n - c.messages.size - selectedInGaps;
  c.close();
  const gone = await relay.waitEvent('subscriber-disconnected', (e) => e.filtered !== undefined);
  expect(gone).toMatchObject({ delivered: c.messages.size, dropped: selectedInGaps, filtered });
  const stats = await relay.statsUntil('the reference delivered', (x) => x.delivered === c.messages.size + n);
  expect(stats).toMatchObject({ dropped_oldest: selectedInGaps, filtered });
}, 90000);
