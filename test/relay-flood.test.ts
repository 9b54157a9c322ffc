/**
 * The flood that once stalled subscribers, end to end: 500 syslog messages of ~300 bytes sent back to back over UDP while
 * one `logtail` subscriber is stopped (SIGSTOP) and then continued. Every subscriber — the stopped
 * one and the others — receives all 500, in order, intact. Both run modes, both framings. The full
 * 3-s pause runs once per mode (lf); the octet variants pause 0.5 s to bound the suite's runtime.
 */
import {
  cleanup,
  expectMessages,
  makeCerts,
  message,
  RelayProcess,
  sendUdp,
  sleep,
  Tail,
  identity,
} from './relay-helpers';

afterEach(cleanup);

const COUNT = 500;
const SUBSCRIBERS = 3;

const cases = [
  { mode: 'integrated', framing: 'lf', pauseMs: 3000 },
  { mode: 'blocking', framing: 'lf', pauseMs: 3000 },
  { mode: 'integrated', framing: 'octet', pauseMs: 500 },
  { mode: 'blocking', framing: 'octet', pauseMs: 500 },
] as const;

describe.each(cases)('flood: $mode mode, $framing framing', ({ mode, framing, pauseMs }) => {
  test(`500 messages reach every subscriber in order while one is stopped for ${pauseMs} ms`, async () => {
    const certs = makeCerts();
    const relay = await RelayProcess.start(['--mode', mode, '--framing', framing, ...identity(certs)]);
    const tails: Tail[] = [];
    for (let i = 0; i < SUBSCRIBERS; i++) tails.push(await Tail.start(relay, certs, ['--framing', framing]));
    const sent = Array.from({ length: COUNT }, (_, i) => message(i, 300));

    tails[0].child.kill('SIGSTOP');
    await sendUdp(relay.udpPort, sent);
    await sleep(pauseMs);
    tails[0].child.kill('SIGCONT');

    for (const tail of tails) expectMessages(await tail.waitFor(COUNT), sent);
    const stats = await relay.statsUntil('all delivered', (s) => s.delivered === COUNT * SUBSCRIBERS);
    expect(stats).toMatchObject({
      received: COUNT,
      delivered: COUNT * SUBSCRIBERS,
      dropped_oldest: 0,
      dropped_newest: 0,
      dropped_disconnect: 0,
      subscribers: SUBSCRIBERS,
    });
    expect(await relay.stop()).toBe(0);
  }, 30000);
});
