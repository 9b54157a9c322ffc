/**
 * How the relay sets up a subscriber's TCP connection, seen from outside with strace attached to a
 * real `logrelay`: the accepted socket gets TCP_NODELAY (a write is a run of the log and must leave
 * at once: Nagle would hold a short one until the peer's delayed ACK, 40 ms on Linux) and TCP
 * keepalive (a subscriber that vanished without a FIN is noticed).
 */
import { spawnSync } from 'child_process';
import { attachStrace, cleanup, identity, makeCerts, RelayProcess, Tail } from './relay-helpers';

afterEach(cleanup);

test('a TLS subscriber socket is set TCP_NODELAY and SO_KEEPALIVE on the fd accept returned', async () => {
  expect(spawnSync('strace', ['-V']).status).toBe(0);
  const certs = makeCerts();
  const relay = await RelayProcess.start(identity(certs));
  const strace = await attachStrace(relay.child.pid!, ['accept', 'accept4', 'setsockopt']);
  const tail = await Tail.start(relay, certs);
  const lines = await strace.stop();
  tail.child.kill();
  expect(await relay.stop()).toBe(0);

  // accept4(listener, …) = fd, possibly split by strace into "unfinished" and "resumed" halves.
  const accepted = lines.map((l) => /accept4?\(.*\)\s+=\s+(\d+)/.exec(l)?.[1]).filter((fd) => fd !== undefined);
  expect(accepted).toHaveLength(1);
  const fd = accepted[0];
  const set = (option: string) =>
    lines.some((l) => l.includes(`setsockopt(${fd}, `) && l.includes(`${option}, [1], 4) = 0`));
  expect(set('TCP_NODELAY')).toBe(true);
  expect(set('SO_KEEPALIVE')).toBe(true);
});
