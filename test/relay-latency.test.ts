/**
 * A subscriber that never reads does not slow the others down. One `logrelay`, a reading `logtail`
 * whose delivery latency is measured (UDP send in this process → line printed by logtail, seen
 * here), first alone, then with a second subscriber stopped (SIGSTOP) whose kernel buffers and
 * queue have been filled first. Only a generous bound is asserted; the figures are printed (exact
 * figures belong in bench/).
 */
import {
  cleanup,
  makeCerts,
  message,
  numberOf,
  percentile,
  RelayProcess,
  sendUdp,
  sleep,
  Tail,
  until,
  identity,
} from './relay-helpers';

afterEach(cleanup);

const PROBES = 150;

/** Sends PROBES messages 4 ms apart and returns each one's latency at `tail`, in ms. */
async function probe(relay: RelayProcess, tail: Tail, tag: string): Promise<number[]> {
  const sentAt: number[] = [];
  const first = tail.messages.length;
  for (let i = 0; i < PROBES; i++) {
    sentAt.push(performance.now());
    await sendUdp(relay.udpPort, [message(i, 300, tag)]);
    await sleep(4);
  }
  await tail.waitFor(first + PROBES);
  const latencies: number[] = [];
  for (let k = first; k < tail.messages.length; k++) {
    const n = numberOf(tail.messages[k]);
    if (tail.messages[k].includes(tag)) latencies.push(tail.times[k] - sentAt[n]);
  }
  expect(latencies).toHaveLength(PROBES);
  return latencies;
}

test('the p50 latency of a reading subscriber hardly changes when another subscriber never reads', async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start(['--queue', '200', ...identity(certs)]);
  const reader = await Tail.start(relay, certs);
  const alone = await probe(relay, reader, 'alone');

  const stalled = await Tail.start(relay, certs, ['--plain']); // a plain live peer: held to --queue
  stalled.child.kill('SIGSTOP');
  // Fill the stalled one's socket buffers and queue (the reader takes these too).
  await sendUdp(
    relay.udpPort,
    Array.from({ length: 6000 }, (_, i) => message(i, 1024, 'fill')),
    { batch: 16, pauseMs: 1 },
  );
  await relay.statsUntil('the stalled queue full', (s) => s.dropped_oldest > 0, 15000);
  // The reader has caught up once it printed the last fill message (drop-oldest always keeps the newest).
  await until(
    'the reader to catch up',
    () => (reader.messages.some((m) => m.includes('fill 005999')) ? true : undefined),
    15000,
  );
  const withStalled = await probe(relay, reader, 'stalled');

  const p50a = percentile(alone, 50);
  const p50b = percentile(withStalled, 50);
  console.log(
    `reader latency p50/p99: alone ${p50a.toFixed(2)}/${percentile(alone, 99).toFixed(2)} ms, ` +
      `with a stalled subscriber ${p50b.toFixed(2)}/${percentile(withStalled, 99).toFixed(2)} ms`,
  );
  expect(Math.abs(p50b - p50a)).toBeLessThan(50);
  const stats = await relay.stats();
  expect(stats.subscribers).toBe(2); // the stalled one was neither disconnected nor allowed to block anything
}, 40000);
