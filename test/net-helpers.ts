/** Shared by the net tests: readiness waits through a Pollset (bounded), fd counting, temp dirs. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Address, DatagramBatch, DatagramSocket, Pollset, WOULD_BLOCK } from '../lib';

/** Resolves once `fd` is ready for `events`, inside Node's loop (so Node peers keep running). */
export function ready(fd: number, events: 'r' | 'w', ms = 5000): Promise<void> {
  const ps = new Pollset();
  ps.insert(fd, events);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ps.close();
      reject(new Error(`fd ${fd} not ready for ${events} within ${ms} ms`));
    }, ms);
    ps.watch(() => {
      clearTimeout(timer);
      ps.close();
      resolve();
    });
  });
}

/** Blocks until `fd` is ready for `events` (for tests whose peers are all our own sockets). */
export function readySync(fd: number, events: 'r' | 'w', ms = 2000): void {
  const ps = new Pollset();
  ps.insert(fd, events);
  const n = ps.wait(ms);
  ps.close();
  if (n === 0) throw new Error(`fd ${fd} not ready for ${events} within ${ms} ms`);
}

/** Open fds of this process. */
export { openFds as fdCount } from './helpers/fds';

/** A fresh temp dir and its remover. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pollset-net-'));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Waits until `sock` is readable and takes the batch (which must then be non-empty). */
export function receiveNow(sock: DatagramSocket): DatagramBatch {
  readySync(sock.fd, 'r');
  const batch = sock.receive();
  if (batch === WOULD_BLOCK) throw new Error('readable socket returned WOULD_BLOCK');
  return batch;
}

/** Sends `big` then a small datagram to `rx` (whose slots are `slotSize`): the first is truncated, the second whole. */
export function expectTruncatedThenNext(
  tx: DatagramSocket,
  rx: DatagramSocket,
  to: string | Address,
  big: Buffer,
  slotSize: number,
): void {
  expect(tx.send(big, to)).toBe(big.length);
  expect(tx.send(Buffer.from('next'), to)).toBe(4);
  const batch = receiveNow(rx);
  expect(batch.count).toBe(2);
  expect(batch.truncated(0)).toBe(true);
  expect(batch.length(0)).toBe(slotSize);
  expect(batch.data(0).equals(big.subarray(0, slotSize))).toBe(true);
  expect(batch.truncated(1)).toBe(false);
  expect(batch.data(1).toString()).toBe('next');
}
