/** Pollset.watch inside Node's loop: delivery alongside timers, process lifetime, worker threads. */
import { execFile } from 'child_process';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { Pollset, pipe, read, write, close, socketpair, tcp, WOULD_BLOCK } from '../lib';

const fixture = (name: string) => path.join(__dirname, 'fixtures', name);

function runNode(
  args: string[],
  timeoutMs = 10_000,
): Promise<{ code: number | null; signal: string | null; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number; signal?: string }) | null;
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        signal: e?.signal ?? null,
        out: stdout + stderr,
      });
    });
  });
}

describe.each(Pollset.backends)('%s backend', (backend) => {
  test('events arrive while Node timers keep running', async () => {
    const ps = new Pollset<string>({ backend });
    const [r, w] = pipe();
    ps.insert(r, 'r', 'pipe');
    const log: string[] = [];
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 2);
    const done = new Promise<void>((resolve) => {
      let total = 0;
      ps.watch((count) => {
        expect(count).toBeGreaterThan(0);
        for (const ev of ps.events()) {
          expect(ev.obj).toBe('pipe');
          const n = read(r, Buffer.alloc(64));
          if (n !== WOULD_BLOCK) total += n;
          log.push(`event@${ticks}`);
        }
        if (total === 5) resolve();
      });
    });
    for (let i = 0; i < 5; i++) setTimeout(() => write(w, Buffer.from('x')), 10 + i * 15);
    await done;
    clearInterval(ticker);
    expect(log.length).toBeGreaterThanOrEqual(1);
    expect(ticks).toBeGreaterThan(0); // timers ran meanwhile (the writes themselves were timers too)
    ps.close();
    close(r);
    close(w);
  });

  test('one-shot under watch: one callback per arming, and the loop sleeps while the fd is disarmed', async () => {
    const ps = new Pollset<string>({ backend });
    const [r, w] = pipe();
    write(w, Buffer.from('x')); // stays unread: level-triggered, the fd would be reported forever
    ps.insert(r, 'r', 'once', { oneshot: true });
    let reports = 0;
    let callbacks = 0;
    let wake = () => {};
    ps.watch(() => {
      callbacks++;
      for (const ev of ps.events()) if (ev.obj === 'once') reports++;
      wake();
    });
    try {
      await new Promise<void>((resolve) => (wake = resolve));
      expect(reports).toBe(1);
      // Disarmed in the kernel (and in libkqueue's doorbell, and the poll helper thread's copy): nothing wakes
      // the loop, which spends the time idle in its own poll rather than spinning through empty callbacks.
      // Counted, not timed: a loop that spins is woken again and again (thousands of callbacks in
      // 200 ms) whatever the machine's load, where event-loop utilisation also rises when the
      // process merely waits for a CPU.
      const before = callbacks;
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(reports).toBe(1);
      expect(callbacks - before).toBeLessThanOrEqual(1);
      const again = new Promise<void>((resolve) => (wake = resolve));
      ps.update(r, 'r');
      await again;
      expect(reports).toBe(2);
    } finally {
      ps.close();
      close(r);
      close(w);
    }
  });

  test('watch twice is EALREADY; unwatch then watch again works', async () => {
    const ps = new Pollset({ backend });
    const [r, w] = pipe();
    ps.insert(w, 'w');
    ps.watch(() => {});
    expect(() => ps.watch(() => {})).toThrow(expect.objectContaining({ code: 'EALREADY' }));
    ps.unwatch();
    await new Promise<void>((resolve) =>
      ps.watch(() => {
        ps.unwatch();
        resolve();
      }),
    );
    ps.close();
    close(r);
    close(w);
  });

  test.each(['empty', 'unwatch', 'removed'])('the process exits naturally: %s', async (scenario) => {
    const { code, out } = await runNode([fixture('watch-exit.js'), scenario, backend]);
    expect(out).toContain(`exited ${scenario}`);
    expect(code).toBe(0);
    if (scenario === 'removed') expect(out).toContain('event true');
  });

  test('process.exit while watching does not crash', async () => {
    const { code, signal, out } = await runNode([fixture('watch-exit.js'), 'exit-while-watching', backend]);
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(out).toContain('exited exit-while-watching');
  });

  test('an exception thrown by onReady becomes an uncaught exception', async () => {
    const { code, out } = await runNode([fixture('watch-exit.js'), 'throw-in-callback', backend]);
    expect(out).toContain('uncaught boom');
    expect(code).toBe(0);
  });

  test('several workers, each with its own pollset, all at once', async () => {
    const results = await Promise.all(
      [1, 2, 3, 4].map(
        () =>
          new Promise<number>((resolve, reject) => {
            const worker = new Worker(fixture('watch-worker.js'), { workerData: { backend, messages: 100 } });
            let received = -1;
            worker.on('message', (m: { received: number }) => (received = m.received));
            worker.on('error', reject);
            worker.on('exit', (code) => (code === 0 ? resolve(received) : reject(new Error(`exit ${code}`))));
          }),
      ),
    );
    expect(results).toEqual([100, 100, 100, 100]);
  });

  test('a worker that exits or is terminated while watching does not crash the process', async () => {
    const exiting = new Worker(fixture('watch-worker.js'), {
      workerData: { backend, messages: 1000, mode: 'exit-early' },
    });
    expect(await new Promise((resolve) => exiting.on('exit', resolve))).toBe(0);
    const hanging = new Worker(fixture('watch-worker.js'), { workerData: { backend, messages: 1000, mode: 'hang' } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await hanging.terminate();
    // Still healthy: a fresh pollset in this thread works.
    const ps = new Pollset({ backend });
    const [r, w] = pipe();
    ps.insert(w, 'w');
    expect(ps.wait(1000)).toBe(1);
    ps.close();
    close(r);
    close(w);
  });
});

// The poll backend's watch runs poll(2) on a helper thread: it must wake for exactly what the backend itself
// reports. A peer's half-close is a hang-up (POLLRDHUP) even for an fd watched for priority data only.
test('poll backend under watch: a peer hang-up wakes the loop even when only priority data is asked for', async () => {
  const ps = new Pollset<string>({ backend: 'poll' });
  const [a, b] = socketpair();
  try {
    ps.insert(a, 'p', 'a');
    const seen = new Promise<boolean>((resolve) => {
      ps.watch(() => {
        for (const ev of ps.events()) if (ev.obj === 'a' && ev.hangup) resolve(true);
      });
      // Generous: only a watcher that never wakes gets here.
      setTimeout(() => resolve(false), 5000).unref();
    });
    tcp.shutdown(b, 'write');
    expect(await seen).toBe(true);
  } finally {
    ps.close();
    close(a);
    close(b);
  }
});
