/**
 * What receiving costs the relay in system calls, seen from outside with strace attached to a
 * real `logrelay`: a UDP input that keeps being read stays registered in the pollset (no epoll_ctl per
 * batch), and one that ran dry waits for readiness instead of asking recvmmsg again only to hear
 * EAGAIN. Datagrams arrive in small bursts with pauses, so the input runs dry after every burst.
 */
import { spawnSync } from 'child_process';
import { attachStrace, cleanup, identity, makeCerts, message, RelayProcess, sendUdp, Tail } from './relay-helpers';

afterEach(cleanup);

const BURSTS = 100;
const PER_BURST = 10;

const haveStrace = spawnSync('strace', ['-V']).status === 0;

test('a busy UDP input stays registered and is not read again once dry', async () => {
  expect(haveStrace).toBe(true);
  const certs = makeCerts();
  const relay = await RelayProcess.start(identity(certs));
  const tail = await Tail.start(relay, certs);
  // Attached to the running relay: what its input costs from here on, start-up left out.
  const strace = await attachStrace(relay.child.pid!, ['epoll_ctl', 'recvmmsg']);
  const total = BURSTS * PER_BURST;
  await sendUdp(
    relay.udpPort,
    Array.from({ length: total }, (_, i) => message(i, 300, 'burst')),
    { batch: PER_BURST, pauseMs: 5 },
  );
  await tail.waitFor(total, 30000);
  const lines = await strace.stop();
  expect(await relay.stop()).toBe(0);

  // The UDP input is the fd recvmmsg reads (the relay's only datagram socket).
  const fds = new Set(lines.map((l) => /recvmmsg\((\d+),/.exec(l)?.[1]).filter((fd): fd is string => fd !== undefined));
  expect(fds.size).toBe(1);
  const [fd] = [...fds];
  const ctl = lines.filter((l) => new RegExp(`epoll_ctl\\(\\d+, EPOLL_CTL_\\w+, ${fd},`).test(l));
  const reads = lines.filter((l) => l.includes(`recvmmsg(${fd},`) && !l.includes('resumed>'));
  const eagain = lines.filter(
    (l) => /recvmmsg.*EAGAIN/.test(l) && (l.includes(`recvmmsg(${fd},`) || l.includes('resumed>')),
  );
  console.log(
    `${total} datagrams: ${reads.length} recvmmsg (${eagain.length} EAGAIN), ${ctl.length} epoll_ctl on the input`,
  );
  expect(reads.length).toBeGreaterThanOrEqual(total / 64);
  // Registered since the relay started waiting on it; changed only around a batch that filled
  // every slot (bursts that piled up on a slow machine): never per burst.
  expect(ctl.length).toBeLessThanOrEqual(8);
  // Likewise a read that finds nothing: after a full batch at most, never after every burst.
  expect(eagain.length * 4).toBeLessThanOrEqual(reads.length + 8);
}, 60000);
