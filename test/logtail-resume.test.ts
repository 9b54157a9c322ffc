/**
 * logtail over logrelay/1 with real logrelay and logtail processes on loopback: exactly-once output
 * into a regular file across kill -9, at-least-once into a pipe with duplicates bounded by one batch,
 * gaps and resets reported, --from, --json.
 */
import { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BATCH_BYTES } from '../lib/cli/tail-sink';
import {
  cleanup,
  exitOf,
  expectMessages,
  makeCerts,
  message,
  numberOf,
  powerCut,
  RelayProcess,
  runs,
  sendUdp,
  spawnChild,
  Tail,
  tempDir,
  until,
  logtailArgs,
  identity,
} from './relay-helpers';

afterEach(cleanup);

type Certs = ReturnType<typeof makeCerts>;

/** logtail with stdout appended to `out` (as `>> out` does) and stderr collected. */
function tailToFile(
  relay: RelayProcess,
  certs: Certs,
  out: string,
  args: string[],
): { child: ChildProcess; stderr: () => string } {
  const fd = fs.openSync(out, 'a');
  let stderr = '';
  try {
    const child = spawnChild(process.execPath, logtailArgs(relay, certs, args), { stdio: ['ignore', fd, 'pipe'] });
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    return { child, stderr: () => stderr };
  } finally {
    fs.closeSync(fd); // the child has its own copy
  }
}

/** The lines of a file (LF removed; a torn last line is kept, so the test sees it). */
function linesOf(file: string): Buffer[] {
  const data = fs.readFileSync(file);
  const out: Buffer[] = [];
  let start = 0;
  for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10, start)) {
    out.push(data.subarray(start, nl));
    start = nl + 1;
  }
  if (start < data.length) out.push(data.subarray(start));
  return out;
}

/**
 * How many datagrams the relay took once its count stops moving. UDP on a busy machine may lose a
 * few before the relay reads them; the tests then compare against what the relay holds.
 */
async function receivedWhenQuiet(relay: RelayProcess): Promise<number> {
  let last = -1;
  for (let still = 0; still < 3;) {
    const { received } = await relay.stats();
    still = received === last ? still + 1 : 0;
    last = received;
    await new Promise((r) => setTimeout(r, 200));
  }
  return last;
}

/** Everything the relay holds, in order, as a fresh logtail reads it (a reference independent of the runs under test). */
async function everything(relay: RelayProcess, certs: Certs, count: number): Promise<Buffer[]> {
  const tail = await Tail.start(relay, certs, ['--from', 'oldest', '--count', String(count)]);
  expect(await exitOf(tail.child, 60000)).toBe(0);
  return tail.messages;
}

test('kill -9 three times during a 100,000-message flood: the output file holds every message exactly once, in order', async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start([
    ...identity(certs),
    '--history',
    '200000',
    '--history-bytes',
    String(64 << 20),
  ]);
  const dir = tempDir();
  const out = path.join(dir, 'out.log');
  const state = path.join(dir, 'state');
  const TOTAL = 100000;
  const sent = Array.from({ length: TOTAL }, (_, i) => message(i, 100, 'flood'));
  const args = ['--state', state, '--from', 'oldest'];
  let sizeAtStart = 0;
  let tail = tailToFile(relay, certs, out, args);
  const stderrs: string[] = [];
  await until(
    () => `logtail to connect (${tail.stderr()})`,
    () => (/connected to/.test(tail.stderr()) ? true : undefined),
  );
  // The flood goes in four parts; after each of the first three, logtail is killed wherever it is
  // (mid-read, mid-write or mid-state) and started again at once, while the flood goes on.
  for (let part = 0; part < 4; part++) {
    await sendUdp(relay.udpPort, sent.slice((part * TOTAL) / 4, ((part + 1) * TOTAL) / 4));
    if (part === 3) break;
    await until(
      () => `output to grow (${tail.stderr()})`,
      () => (fs.statSync(out).size > sizeAtStart ? true : undefined),
      20000,
    );
    tail.child.kill('SIGKILL');
    expect(await exitOf(tail.child)).toBe('SIGKILL');
    stderrs.push(tail.stderr());
    sizeAtStart = fs.statSync(out).size;
    tail = tailToFile(relay, certs, out, args);
  }
  const received = await receivedWhenQuiet(relay);
  const reference = await everything(relay, certs, received);
  await until(
    () => `all ${received} messages in the output (have ${linesOf(out).length}; stderr: ${tail.stderr()})`,
    () => (linesOf(out).length >= received ? true : undefined),
    90000,
  );
  tail.child.kill('SIGTERM');
  expect(await exitOf(tail.child)).toBe(0);
  stderrs.push(tail.stderr());
  const got = linesOf(out);
  expectMessages(got, reference);
  // Nothing lost by the kernel on loopback would make the reference the whole flood; say so when it is not.
  if (received < TOTAL) console.log(`flood: ${TOTAL - received} datagrams were lost before the relay read them (UDP)`);
  else expectMessages(got, sent);
  expect(JSON.parse(fs.readFileSync(state, 'utf8'))).toMatchObject({
    seq: received,
    outputBytes: fs.statSync(out).size,
  });
  // Each restart resumed from its state, and one of them at least had to cut an unrecorded tail or resume mid-flood.
  expect(stderrs.slice(1).every((s) => /logtail: resuming after seq \d+\n/.test(s))).toBe(true);
  console.log(
    `kill -9 ×3: ${got.length} messages exactly once; restarts said: ${stderrs
      .slice(1)
      .map((s) =>
        s
          .split('\n')
          .filter((l) => /cut|resuming/.test(l))
          .join(' / '),
      )
      .join(' | ')}`,
  );
}, 180000);

test('into a pipe, kill -9 repeats at most one batch: every message at least once, in order', async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start([...identity(certs), '--history', '100000']);
  const state = path.join(tempDir(), 'state');
  const sent = Array.from({ length: 20000 }, (_, i) => message(i, 100, 'pipe'));
  await sendUdp(relay.udpPort, sent);
  const received = await receivedWhenQuiet(relay);
  const first = new Tail(
    spawnChild(process.execPath, logtailArgs(relay, certs, ['--state', state, '--from', 'oldest'])),
  );
  await first.waitFor(received / 2, 30000);
  const drained = new Promise((resolve) => first.child.stdout!.once('end', resolve));
  first.child.kill('SIGKILL');
  await exitOf(first.child);
  await drained; // every byte it wrote has been read
  const second = new Tail(spawnChild(process.execPath, logtailArgs(relay, certs, ['--state', state])));
  const recorded = JSON.parse(fs.readFileSync(state, 'utf8')).seq as number;
  const firstCount = first.messages.length; // whole lines only
  await second.waitFor(received - recorded, 30000);
  second.child.kill('SIGTERM');
  expect(await exitOf(second.child)).toBe(0);
  // The second run starts right after the recorded seq: what the first printed beyond it comes again.
  const numbers = [...first.messages.slice(0, firstCount), ...second.messages].map(numberOf);
  const repeated = firstCount - recorded;
  expect(repeated).toBeGreaterThanOrEqual(0);
  expect(repeated * (sent[0].length + 1)).toBeLessThanOrEqual(BATCH_BYTES + sent[0].length + 1);
  const reference = await everything(relay, certs, received);
  expect(runs(numbers.slice(0, recorded).concat(numbers.slice(firstCount)))).toBe(runs(reference.map(numberOf)));
  console.log(`pipe: first run printed ${firstCount}, recorded ${recorded}: ${repeated} repeated after kill -9`);
}, 120000);

test('a relay restarted without --history-dir: logtail reports the reset and continues with the new log', async () => {
  const certs = makeCerts();
  const first = await RelayProcess.start(identity(certs));
  const dir = tempDir();
  const out = path.join(dir, 'out.log');
  const state = path.join(dir, 'state');
  const before = [0, 1, 2].map((i) => message(i, 100, 'old'));
  await sendUdp(first.udpPort, before);
  await first.statsUntil('received', (s) => s.received === 3);
  const tail = tailToFile(first, certs, out, ['--state', state, '--from', 'oldest']);
  // The state is written right after the output: wait for both.
  const recorded = () => (fs.existsSync(state) ? JSON.parse(fs.readFileSync(state, 'utf8')) : undefined);
  await until(
    () => `the state at seq 3 (${tail.stderr()})`,
    () => (recorded()?.seq === 3 ? true : undefined),
  );
  const oldLog = recorded().log as string;
  await first.stop('SIGTERM');
  const second = await RelayProcess.start(['--tls', first.tls, '--udp', '127.0.0.1:0', ...identity(certs)], {
    defaults: false,
  });
  const after = [0, 1].map((i) => message(i, 100, 'new'));
  await sendUdp(second.udpPort, after);
  await until(
    () => `the state of the new log at seq 2 (${tail.stderr()})`,
    () => (recorded()?.seq === 2 && recorded().log !== oldLog ? true : undefined),
    40000,
  );
  expectMessages(linesOf(out), [...before, ...after]);
  const newState = recorded();
  expect(newState.log).not.toBe(oldLog);
  expect(newState).toMatchObject({ seq: 2, outputBytes: fs.statSync(out).size });
  expect(tail.stderr()).toMatch(/logtail: cut off: the relay said BYE shutdown\n/);
  expect(tail.stderr()).toMatch(
    new RegExp(
      `logtail: resuming after seq 3 of log ${oldLog}\\nlogtail: reset: the relay's log is ${newState.log}, not ${oldLog} .*continuing from its oldest message\\n`,
    ),
  );
}, 60000);

test('--from SEQ older than the history: a gap with the exact count, then the oldest held message', async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start([...identity(certs), '--history', '10']);
  const sent = Array.from({ length: 30 }, (_, i) => message(i, 80, 'gap'));
  await sendUdp(relay.udpPort, sent);
  await relay.statsUntil('received', (s) => s.received === 30);
  const tail = await Tail.start(relay, certs, ['--from', '5', '--count', '10']);
  expect(await exitOf(tail.child)).toBe(0);
  expectMessages(tail.messages, sent.slice(20));
  expect(tail.stderr).toMatch(
    /logtail: starting at seq 5\nlogtail: gap of 16 messages \(seq 5–20\): evicted \(the relay no longer held them\)\n/,
  );
}, 30000);

test("--from SEQ beyond the relay's log is an error, exit 1", async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start(identity(certs));
  const tail = new Tail(spawnChild(process.execPath, logtailArgs(relay, certs, ['--from', '7'])));
  expect(await exitOf(tail.child)).toBe(1);
  expect(tail.stderr).toMatch(/logtail: --from 7 is beyond the relay's log \(its next message will be seq 1\)\n$/);
}, 30000);

test('--json: seq, relay receive time, source, and the message as text or base64', async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start(identity(certs));
  const text = Buffer.from('<13>héllo "quoted"\n\ttab\\');
  const binary = Buffer.from([0x3c, 0x31, 0x3e, 0xff, 0xfe, 0x00, 0x0a]);
  // Valid UTF-8 that a terminal could act on: DEL, C1 CSI, a right-to-left override.
  const sneaky = Buffer.from('<13>del\x7f csi\u009b rlo\u202e end');
  const t0 = Date.now();
  await sendUdp(relay.udpPort, [text, binary, sneaky]);
  await relay.statsUntil('received', (s) => s.received === 3);
  const tail = await Tail.start(relay, certs, ['--from', 'oldest', '--json', '--count', '3']);
  expect(await exitOf(tail.child)).toBe(0);
  const objects = tail.messages.map((l) => JSON.parse(l.toString()));
  expect(objects).toHaveLength(3);
  expect(objects[2]).toMatchObject({ seq: 3, message: sneaky.toString() });
  for (const bytes of [[0x7f], [0xc2, 0x9b], [0xe2, 0x80, 0xae], [0x1b], [0x0a, 0x09]])
    expect(tail.output.includes(Buffer.from(bytes))).toBe(false);
  expect(objects[0]).toEqual({
    seq: 1,
    time: expect.any(String),
    source: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    message: text.toString(),
  });
  expect(objects[1]).toEqual({
    seq: 2,
    time: expect.any(String),
    source: objects[0].source,
    message_base64: binary.toString('base64'),
  });
  for (const o of objects) expect(Math.abs(Date.parse(o.time) - t0)).toBeLessThan(60000);
  expect(tail.output.toString()).toContain('del\\u007f csi\\u009b rlo\\u202e end');
}, 30000);

test('SIGTERM while a batch waits on a full pipe: the batch is finished and recorded, then exit 0', async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start(identity(certs));
  const sent = Array.from({ length: 20000 }, (_, i) => message(i, 200, 'term'));
  await sendUdp(relay.udpPort, sent);
  const received = await receivedWhenQuiet(relay);
  const state = path.join(tempDir(), 'state');
  const tail = new Tail(
    spawnChild(process.execPath, logtailArgs(relay, certs, ['--state', state, '--from', 'oldest'])),
  );
  // Stop reading its stdout: the pipe fills and logtail waits in the middle of its first batch.
  tail.child.stdout!.pause();
  await until(
    () => `logtail to start (${tail.stderr})`,
    () => (/starting from the oldest/.test(tail.stderr) ? true : undefined),
    20000,
  );
  await new Promise((r) => setTimeout(r, 500));
  expect(fs.existsSync(state)).toBe(false);
  tail.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  expect(tail.child.exitCode).toBeNull(); // still writing its batch
  const ended = new Promise((resolve) => tail.child.stdout!.once('end', resolve));
  tail.child.stdout!.resume();
  expect(await exitOf(tail.child)).toBe(0);
  await ended;
  const output = tail.output;
  expect(output[output.length - 1]).toBe(10); // no torn line
  const recorded = JSON.parse(fs.readFileSync(state, 'utf8'));
  expect(recorded.seq).toBe(tail.messages.length);
  expect(recorded.seq).toBeLessThan(received);
  expectMessages(tail.messages, await everything(relay, certs, recorded.seq));
}, 60000);

test('a relay restarted with --history-dir mid-stream: logtail resumes where it stood, every message exactly once', async () => {
  const certs = makeCerts();
  const dir = tempDir();
  const historyDir = path.join(dir, 'history');
  const relayArgs = [...identity(certs), '--history-dir', historyDir, '--fsync', 'always'];
  const first = await RelayProcess.start(relayArgs);
  const out = path.join(dir, 'out.log');
  const tail = tailToFile(first, certs, out, ['--state', path.join(dir, 'state'), '--from', 'oldest']);
  const sent = Array.from({ length: 4000 }, (_, i) => message(i, 150, 'disk'));
  await sendUdp(first.udpPort, sent.slice(0, 2000));
  const r1 = await receivedWhenQuiet(first);
  await until(
    () => `logtail to print from the first relay (${tail.stderr()})`,
    () => (linesOf(out).length > 0 ? true : undefined),
    20000,
  );
  expect(await first.stop('SIGTERM')).toBe(0);
  const second = await RelayProcess.start(['--tls', first.tls, '--udp', '127.0.0.1:0', ...relayArgs], {
    defaults: false,
  });
  await sendUdp(second.udpPort, sent.slice(2000));
  const held = r1 + (await receivedWhenQuiet(second));
  await until(
    () => `${held} lines (have ${linesOf(out).length}; ${tail.stderr()})`,
    () => (linesOf(out).length >= held ? true : undefined),
    40000,
  );
  tail.child.kill('SIGTERM');
  expect(await exitOf(tail.child)).toBe(0);
  expectMessages(linesOf(out), await everything(second, certs, held));
  if (held === sent.length) expectMessages(linesOf(out), sent);
  expect(tail.stderr()).not.toMatch(/reset|gap/);
  expect(tail.stderr()).toMatch(
    /logtail: cut off: the relay said BYE shutdown\n(logtail: .*\n)*logtail: connected to .*\nlogtail: resuming after seq \d+\n/,
  );
}, 90000);

test('a relay that lost messages it had sent in a power cut: logtail reports the lost gap, keeps going, and writes no seq twice', async () => {
  const certs = makeCerts();
  const dir = tempDir();
  const historyDir = path.join(dir, 'history');
  const relayArgs = [...identity(certs), '--history-dir', historyDir, '--fsync', 'interval'];
  const first = await RelayProcess.start(relayArgs);
  const out = path.join(dir, 'out.log');
  const statePath = path.join(dir, 'state');
  const tail = tailToFile(first, certs, out, ['--state', statePath, '--from', 'oldest']);
  const sent = Array.from({ length: 350 }, (_, i) => message(i, 150, 'cut'));
  await sendUdp(first.udpPort, sent.slice(0, 300));
  const r1 = await receivedWhenQuiet(first);
  await until(
    () => `${r1} lines (have ${linesOf(out).length}; ${tail.stderr()})`,
    () => (linesOf(out).length >= r1 ? true : undefined),
    20000,
  );
  expect(await first.stop('SIGKILL')).toBe('SIGKILL');
  const reserved = powerCut(historyDir);
  const second = await RelayProcess.start(['--tls', first.tls, '--udp', '127.0.0.1:0', ...relayArgs], {
    defaults: false,
  });
  const lost = await second.waitEvent('history-lost');
  expect(lost.from as number).toBeLessThanOrEqual(r1);
  await until(
    () => `logtail to resume (${tail.stderr()})`,
    () => (/gap of/.test(tail.stderr()) ? true : undefined),
    30000,
  );
  await sendUdp(second.udpPort, sent.slice(300));
  const held = r1 + (await receivedWhenQuiet(second));
  await until(
    () => `${held} lines (have ${linesOf(out).length}; ${tail.stderr()})`,
    () => (linesOf(out).length >= held ? true : undefined),
    30000,
  );
  tail.child.kill('SIGTERM');
  expect(await exitOf(tail.child)).toBe(0);
  // What it had written stays, once; the relay's new messages follow; nothing in between is invented or repeated.
  const lines = linesOf(out);
  expect(lines.length).toBe(held);
  expect(new Set(lines.map((l) => l.toString())).size).toBe(held);
  if (held === sent.length) expectMessages(lines, sent);
  expect(tail.stderr()).toContain(
    `logtail: resuming after seq ${r1}\nlogtail: gap of ${reserved - 1 - r1} messages (seq ${r1 + 1}–${reserved - 1}): lost (`,
  );
  expect(JSON.parse(fs.readFileSync(statePath, 'utf8')).seq).toBe(reserved - 1 + held - r1);
}, 90000);
