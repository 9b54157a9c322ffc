/**
 * How the relay sets up a subscriber's TCP connection, seen from outside with strace attached to a
 * real `logrelay`: the accepted socket gets TCP_NODELAY (a write is a run of the log and must leave
 * at once: Nagle would hold a short one until the peer's delayed ACK, 40 ms on Linux) and TCP
 * keepalive (a subscriber that vanished without a FIN is noticed).
 */
import { spawnSync } from 'child_process';
import { readFileSync } from 'fs';
import * as path from 'path';
import { cleanup, exitOf, identity, makeCerts, RelayProcess, spawnChild, Tail, tempDir, until } from './relay-helpers';

afterEach(cleanup);

const haveStrace = spawnSync('strace', ['-V']).status === 0;

test('a TLS subscriber socket is set TCP_NODELAY and SO_KEEPALIVE on the fd accept returned', async () => {
  // strace is a real peer here, like openssl or logger: .ci/run installs it.
  expect(haveStrace).toBe(true);
  const certs = makeCerts();
  const trace = path.join(tempDir(), 'strace.txt');
  const relay = await RelayProcess.start(identity(certs));
  const strace = spawnChild('strace', [
    '-f',
    '-e',
    'trace=accept,accept4,setsockopt',
    '-o',
    trace,
    '-p',
    String(relay.child.pid),
  ]);
  let attached = '';
  strace.stderr!.on('data', (c: Buffer) => (attached += c.toString()));
  await until('strace to attach', () => (/attached/.test(attached) ? true : undefined), 10000);
  const tail = await Tail.start(relay, certs);
  strace.kill('SIGINT'); // detaches and writes out the trace
  await exitOf(strace, 10000);
  tail.child.kill();
  expect(await relay.stop()).toBe(0);

  const lines = readFileSync(trace, 'utf8').split('\n');
  // accept4(listener, …) = fd, possibly split by strace into "unfinished" and "resumed" halves.
  const accepted = lines.map((l) => /accept4?\(.*\)\s+=\s+(\d+)/.exec(l)?.[1]).filter((fd) => fd !== undefined);
  expect(accepted).toHaveLength(1);
  const fd = accepted[0];
  const set = (option: string) =>
    lines.some((l) => l.includes(`setsockopt(${fd}, `) && l.includes(`${option}, [1], 4) = 0`));
  expect(set('TCP_NODELAY')).toBe(true);
  expect(set('SO_KEEPALIVE')).toBe(true);
});
