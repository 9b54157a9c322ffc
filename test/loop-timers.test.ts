/** Timers: sleep and timeout deadlines, cancellation, and many sleepers at once. */
import { performance } from 'perf_hooks';
import { FdStream, Loop, Operation, sleep, timeout, yieldNow } from '../lib';
import { describeMatrix, drive, newLoop } from './helpers/loops';

function* elapsed<T>(op: Operation<T>): Operation<{ ms: number; error?: { code?: string } }> {
  const t0 = performance.now();
  try {
    yield* op;
    return { ms: performance.now() - t0 };
  } catch (error) {
    return { ms: performance.now() - t0, error: error as { code?: string } };
  }
}

describeMatrix((backend, mode) => {
  test('sleep and timeout fire not before their deadline and within 1 s after, with other tasks busy', async () => {
    const { loop, crashes } = newLoop(backend);
    // load: 50 tasks rescheduling themselves for a while
    for (let i = 0; i < 50; i++) {
      loop.spawn(function* () {
        for (let n = 0; n < 200; n++) yield* yieldNow();
      });
    }
    const slept = loop.spawn(() => elapsed(sleep(40)));
    const timedOut = loop.spawn(() => elapsed(timeout(50, sleep(60_000))));
    await drive(loop, mode);
    const s = await slept;
    const t = await timedOut;
    expect(s.error).toBeUndefined();
    expect(s.ms).toBeGreaterThanOrEqual(40);
    expect(s.ms).toBeLessThan(1040);
    expect(t.error?.code).toBe('ETIMEDOUT');
    expect(t.ms).toBeGreaterThanOrEqual(50);
    expect(t.ms).toBeLessThan(1050);
    expect(loop.stats.timers).toBe(0);
    expect(crashes).toEqual([]);
    loop.close();
  });

  test('a timeout whose operation finished first is cancelled and never fires', async () => {
    const { loop, crashes } = newLoop(backend);
    const task = loop.spawn(function* () {
      const value = yield* timeout(
        30,
        (function* () {
          yield* sleep(5);
          return 'done';
        })(),
      );
      const timersAfter = loop.stats.timers;
      yield* sleep(80); // well past the cancelled deadline: nothing may interrupt this
      for (let i = 0; i < 10; i++) yield* yieldNow();
      return { value, timersAfter };
    });
    await drive(loop, mode);
    expect(await task).toEqual({ value: 'done', timersAfter: 0 });
    expect(crashes).toEqual([]);
    loop.close();
  });

  test('a timeout releases what the operation waits on (fd interest) and runs its finally', async () => {
    const { loop, crashes } = newLoop(backend);
    const [a, b] = FdStream.socketpair();
    let cleaned = false;
    const task = loop.spawn(function* () {
      const r = yield* elapsed(
        timeout(
          20,
          (function* () {
            try {
              return yield* a.read();
            } finally {
              cleaned = true;
            }
          })(),
        ),
      );
      return { code: r.error?.code, stats: loop.stats };
    });
    await drive(loop, mode);
    const r = await task;
    expect(r.code).toBe('ETIMEDOUT');
    expect(r.stats).toMatchObject({ pollsetSize: 0, fdWaiters: 0, timers: 0 });
    expect(cleaned).toBe(true);
    loop.spawn(function* () {
      yield* a.close();
      yield* b.close();
    });
    await drive(loop, mode);
    expect(crashes).toEqual([]);
    loop.close();
  });

  test('a deadline passing while the task is queued interrupts it at its next yield', async () => {
    const { loop } = newLoop(backend);
    const task = loop.spawn(() =>
      elapsed(
        timeout(
          5,
          (function* () {
            const t0 = performance.now();
            // never blocks: only ever queued, so the interrupt must wait for a yield
            for (let n = 0; n < 1_000_000 && performance.now() - t0 < 2000; n++) yield* yieldNow();
          })(),
        ),
      ),
    );
    await drive(loop, mode);
    const r = await task;
    expect(r.error?.code).toBe('ETIMEDOUT');
    expect(r.ms).toBeGreaterThanOrEqual(5);
    expect(r.ms).toBeLessThan(1005);
    loop.close();
  });

  test('10,000 concurrent sleeping tasks all complete', async () => {
    const { loop, crashes } = newLoop(backend);
    let woke = 0;
    for (let i = 0; i < 10_000; i++) {
      loop.spawn(function* () {
        yield* sleep(10 + (i % 50));
        woke++;
      });
    }
    let peak = 0;
    loop.spawn(function* () {
      // Runs in the same first pass, after every sleeper registered its timer; timers fire only
      // between passes, so all 10,000 are pending here at once.
      peak = loop.stats.timers;
    });
    await drive(loop, mode);
    expect(woke).toBe(10_000);
    expect(peak).toBe(10_000);
    expect(loop.stats).toMatchObject({ tasks: 0, timers: 0 });
    expect(crashes).toEqual([]);
    loop.close();
  });
});

test('bad delays are errors naming the argument; Infinity sleeps until halted; timers go on firing', async () => {
  const loop = new Loop();
  const errors: string[] = [];
  const t = loop.spawn(function* () {
    for (const bad of [NaN, 'x' as unknown as number, undefined as unknown as number]) {
      try {
        yield* sleep(bad);
      } catch (e) {
        errors.push(`${(e as { code: string }).code} ${(e as Error).message}`);
      }
      try {
        yield* timeout(bad, sleep(1));
      } catch (e) {
        errors.push((e as { code: string }).code);
      }
    }
    yield* sleep(-5); // negative counts as 0
    yield* timeout(Infinity, sleep(2));
    yield* sleep(20); // the Node timer armed for the long sleep (clamped to 2^31-1 ms) has not spun meanwhile
  });
  const forever = loop.spawn(() => sleep(Infinity));
  const long = loop.spawn(() => timeout(2 ** 40, sleep(2 ** 33)));
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  const running = loop.run();
  await t;
  await new Promise((r) => setTimeout(r, 10));
  process.off('warning', onWarning);
  expect(warnings).toEqual([]);
  expect(errors).toEqual([
    'ERR_OUT_OF_RANGE The "ms" argument must be a number of milliseconds, not NaN',
    'ERR_OUT_OF_RANGE',
    'ERR_INVALID_ARG_TYPE The "ms" argument must be of type number, not string',
    'ERR_INVALID_ARG_TYPE',
    'ERR_INVALID_ARG_TYPE The "ms" argument must be of type number, not undefined',
    'ERR_INVALID_ARG_TYPE',
  ]);
  expect(forever.blockedOn).toBe('sleeping forever');
  expect(loop.stats.timers).toBe(2); // the long sleep and its timeout; nothing for Infinity
  forever.halt();
  long.halt();
  await running;
  expect(loop.stats).toEqual({ tasks: 0, queued: 0, timers: 0, pollsetSize: 0, fdWaiters: 0 });
  loop.close();
});

test('a halt from a Node timer callback whose cleanup sleeps finishes while another deadline is far away', async () => {
  const loop = new Loop();
  const far = loop.spawn(() => sleep(3_600_000)); // keeps a Node timer armed an hour ahead
  let cleaned = 0;
  const victim = loop.spawn(function* () {
    try {
      yield* sleep(3_600_000);
    } finally {
      yield* sleep(10);
      cleaned++;
    }
  });
  const running = loop.run();
  await new Promise((r) => setTimeout(r, 20));
  victim.halt(); // from a Node timer callback: outside any turn of the loop
  const outcome = await Promise.race([
    victim.toPromise().catch((e: Error) => e.message),
    new Promise((r) => setTimeout(() => r('cleanup stalled'), 5000)),
  ]);
  expect(outcome).toBe(`task ${victim.id} was halted`);
  expect(cleaned).toBe(1);
  far.halt();
  await running;
  loop.close();
});
