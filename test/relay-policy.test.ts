/**
 * A small queue (`--queue 100`) and a subscriber that does not read (SIGSTOP): 6,000 messages of
 * 1 KiB fill its kernel socket buffers (about 4 MB on loopback here) and then its queue, so the
 * full-policy really applies. What the subscriber finally receives, the relay's stats line (SIGUSR1)
 * and its disconnect line must agree exactly: received by the subscriber + dropped == sent.
 *
 * The queue holds more than one receive batch (64 datagrams), and the sender is paced (16
 * datagrams, then 1 ms): drops then begin only once the kernel buffers are full, never because one
 * batch outran an empty queue before the subscriber's task had its turn — so the prefix shapes
 * below are exact.
 */
import {
  cleanup,
  exitOf,
  expectMessages,
  makeCerts,
  message,
  numberOf,
  RelayProcess,
  runs,
  sendUdp,
  StatsLine,
  Tail,
  identity,
} from './relay-helpers';

afterEach(cleanup);

const SENT = 6000;
const QUEUE = 100;
/** Messages of one batch (a 16 KiB write) that can be lost with a subscriber cut off mid-write. */
const BATCH = 16;

async function stalled(
  policy: string,
  extra: string[] = [],
): Promise<{ relay: RelayProcess; tail: Tail; sent: Buffer[]; stats: StatsLine }> {
  const certs = makeCerts();
  const relay = await RelayProcess.start(['--queue', String(QUEUE), '--on-full', policy, ...identity(certs), ...extra]);
  const tail = await Tail.start(relay, certs, ['--no-reconnect', '--plain']);
  tail.child.kill('SIGSTOP');
  const sent = Array.from({ length: SENT }, (_, i) => message(i, 1024, policy));
  await sendUdp(relay.udpPort, sent, { batch: 16, pauseMs: 1 });
  const stats = await relay.statsUntil('every datagram received', (s) => s.received === SENT);
  return { relay, tail, sent, stats };
}

/**
 * A dropping policy: once its queue really filled, the stopped subscriber is continued and receives
 * exactly `expected(count)`, and received + dropped (that policy's counter, the other two 0) == sent.
 */
async function expectDropping(
  policy: 'drop-newest' | 'drop-oldest',
  expected: (sent: Buffer[], count: number) => Buffer[],
): Promise<void> {
  const counter = policy === 'drop-newest' ? 'dropped_newest' : 'dropped_oldest';
  const other = policy === 'drop-newest' ? 'dropped_oldest' : 'dropped_newest';
  const { relay, tail, sent, stats } = await stalled(policy);
  expect(stats[counter]).toBeGreaterThan(0); // the queue really filled
  expect(stats.queue_high_water).toBe(QUEUE);
  tail.child.kill('SIGCONT');
  const got = await tail.waitFor(SENT - stats[counter]);
  const final = await relay.statsUntil('queue written', (s) => s.delivered === got.length);
  expectMessages(got, expected(sent, got.length));
  expect(got.length + final[counter]).toBe(SENT);
  expect(final).toMatchObject({ delivered: got.length, [other]: 0, dropped_disconnect: 0, subscribers: 1 });
  console.log(`${policy}: ${got.length} delivered (${runs(got.map(numberOf))}), ${final[counter]} dropped`);
}

test('drop-newest: the subscriber gets a contiguous prefix, and every other message is counted dropped_newest', async () => {
  // Once the kernel buffers and the queue are full, every later message is dropped.
  await expectDropping('drop-newest', (sent, count) => sent.slice(0, count));
}, 30000);

test('drop-oldest: the subscriber gets a prefix plus the newest queue-full, and the gap is counted dropped_oldest', async () => {
  // A prefix (what the kernel buffers took, and the batch in flight), then the newest queue-full.
  await expectDropping('drop-oldest', (sent, count) => [...sent.slice(0, count - QUEUE), ...sent.slice(SENT - QUEUE)]);
}, 30000);

test('disconnect: the subscriber is cut off after a prefix, and the loss is reported and counted', async () => {
  const { relay, tail, sent, stats } = await stalled('disconnect');
  const gone = await relay.waitEvent('subscriber-disconnected');
  expect(gone.reason).toBe('queue full');
  const lost = gone.lost as number;
  // What was queued, the message that did not fit, and the batch cut off mid-write if there was one.
  expect(lost).toBeGreaterThanOrEqual(QUEUE + 1);
  expect(lost).toBeLessThanOrEqual(QUEUE + 1 + BATCH);
  expect(stats.dropped_disconnect).toBe(lost);
  tail.child.kill('SIGCONT');
  // Cut mid-write, the stream is cut (no close_notify: logtail reports the truncation, exit 1);
  // otherwise it ends cleanly. Either way logtail prints only what arrived whole.
  const code = await exitOf(tail.child);
  expect(code).toBe(lost > QUEUE + 1 ? 1 : 0);
  const got = tail.messages;
  expect(got.length).toBe(gone.delivered);
  expect(got.length).toBeGreaterThan(0);
  expectMessages(got, sent.slice(0, got.length));
  const final = await relay.stats();
  expect(final).toMatchObject({
    delivered: got.length,
    dropped_disconnect: lost,
    dropped_oldest: 0,
    dropped_newest: 0,
    subscribers: 0,
  });
  console.log(`disconnect: ${got.length} delivered before the cut, ${lost} lost, logtail exit ${code}`);
}, 30000);

test('a write stalled past --write-timeout disconnects the subscriber, and what it lost is counted exactly', async () => {
  // drop-oldest keeps the subscriber through the full queue: only the stalled write can end it. The
  // deadline is long enough for every datagram to be offered before it (the send takes ~0.5 s).
  const { relay, tail, sent } = await stalled('drop-oldest', ['--write-timeout', '3000']);
  const gone = await relay.waitEvent('subscriber-disconnected');
  expect(gone.reason).toBe('timed out');
  const final = await relay.stats();
  const lost = gone.lost as number;
  // The queue, and the batch that was waiting for the peer when the deadline came.
  expect(lost).toBeGreaterThanOrEqual(1);
  expect(lost).toBeLessThanOrEqual(QUEUE + BATCH);
  expect(final).toMatchObject({
    delivered: gone.delivered,
    dropped_disconnect: lost,
    dropped_newest: 0,
    subscribers: 0,
  });
  tail.child.kill('SIGCONT');
  await exitOf(tail.child);
  // Whatever reached its socket before the cut, in order; nothing after it.
  expect(tail.messages.length).toBe(gone.delivered);
  expectMessages(tail.messages, sent.slice(0, tail.messages.length));
  expect(final.delivered + final.dropped_oldest + lost).toBe(sent.length);
  console.log(`write timeout: ${gone.delivered} delivered, ${final.dropped_oldest} dropped oldest, ${lost} lost`);
}, 30000);
