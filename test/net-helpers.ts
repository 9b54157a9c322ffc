/** Shared by the net tests: readiness waits through a Pollset (bounded), fd counting, temp dirs. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Pollset } from '../lib';

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
export function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** A fresh temp dir and its remover. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pollset-net-'));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
