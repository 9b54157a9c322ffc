/** Tasks: typed results and errors, crash reporting, halt and what it releases, schedule, fairness. */
import {
  CLOSED,
  ensure,
  FdStream,
  Loop,
  HaltedError,
  Mailbox,
  Operation,
  park,
  schedule,
  sleep,
  spawn,
  Task,
  yieldNow,
} from '../lib';
import { closeAndFinish, describeMatrix, drive, newLoop } from './helpers/loops';

describeMatrix((backend, mode) => {
  test('join returns the typed result and rethrows the error; promises too', async () => {
    const { loop, crashes } = newLoop(backend);
    function* double(n: number): Operation<number> {
      yield* sleep(1);
      return n * 2;
    }
    function* boom(): Operation<never> {
      yield* sleep(1);
      throw Object.assign(new Error('boom'), { code: 'EBOOM' });
    }
    const a = loop.spawn(double(21));
    const b = loop.spawn(boom);
    const joiner = loop.spawn(function* () {
      let code = 'no error';
      try {
        yield* b.join();
      } catch (e) {
        code = (e as { code: string }).code;
      }
      const x: number = yield* a.join();
      return `${x} ${code}`;
    });
    await drive(loop, mode);
    expect(await joiner).toBe('42 EBOOM');
    expect(await a).toBe(42);
    await expect(b.toPromise()).rejects.toThrow('boom');
    expect(crashes).toEqual([]); // observed failures are not "crashes"
    loop.close();
  });

  test('an unobserved crash goes to onError and the loop goes on', async () => {
    const { loop, crashes } = newLoop(backend);
    loop.spawn(function* () {
      throw new Error('crash 1');
    });
    const survivor = loop.spawn(function* () {
      yield* sleep(5);
      return 'alive';
    });
    await drive(loop, mode);
    expect(crashes.map((e) => (e as Error).message)).toEqual(['crash 1']);
    expect(await survivor).toBe('alive');
    loop.close();
  });

  test('halt runs finally and releases fd interest, timers and mailbox places (read, write, take, put, sleep)', async () => {
    const { loop, crashes } = newLoop(backend);
    const [a, b] = FdStream.socketpair();
    const [c, d] = FdStream.socketpair();
    const box = new Mailbox<number>(1);
    const full = new Mailbox<number>(1);
    full.tryPut(0);
    const cleaned: string[] = [];
    function guarded(name: string, op: () => Operation<unknown>): () => Operation<void> {
      return function* () {
        try {
          yield* op();
        } finally {
          cleaned.push(name);
        }
      };
    }
    const blocked = [
      loop.spawn(guarded('read', () => a.read())),
      // fill c's send buffer: the write blocks once the peer stops reading
      loop.spawn(guarded('write', () => c.write(Buffer.alloc(8 * 1024 * 1024)))),
      loop.spawn(guarded('take', () => box.take())),
      loop.spawn(guarded('put', () => full.put(1))),
      loop.spawn(guarded('sleep', () => sleep(60_000))),
    ];
    const halter = loop.spawn(function* () {
      while (blocked.some((t) => t.state !== 'blocked')) yield* yieldNow();
      expect(blocked.map((t) => t.blockedOn)).toEqual([
        `blocked reading fd ${a.fd}`,
        `blocked writing fd ${c.fd}`,
        'taking from mailbox',
        'putting into mailbox',
        'sleeping',
      ]);
      expect(loop.stats).toMatchObject({ pollsetSize: 2, fdWaiters: 2, timers: 1 });
      for (const t of blocked) t.halt();
      expect(loop.stats).toMatchObject({ pollsetSize: 0, fdWaiters: 0, timers: 0 });
      // the mailboxes forgot the halted waiters: a put is taken by nobody, a take frees no putter
      expect(box.tryPut(5)).toBe(true);
      expect(full.tryTake()).toBe(0);
      expect(full.size).toBe(0);
    });
    await drive(loop, mode);
    await halter;
    expect(cleaned.sort()).toEqual(['put', 'read', 'sleep', 'take', 'write']);
    for (const t of blocked) await expect(t.toPromise()).rejects.toBeInstanceOf(HaltedError);
    expect(crashes).toEqual([]);
    expect(loop.stats).toEqual({ tasks: 0, queued: 0, timers: 0, pollsetSize: 0, fdWaiters: 0 });
    await closeAndFinish(loop, mode, a, b, c, d);
  });

  test('a task halting itself stops at its next yield; cleanup may itself wait', async () => {
    const { loop, crashes } = newLoop(backend);
    const steps: string[] = [];
    const t: Task<void> = loop.spawn(function* () {
      try {
        t.halt();
        steps.push('after halt()');
        yield* sleep(1);
        steps.push('never');
      } finally {
        yield* sleep(1);
        steps.push('cleanup done');
      }
    });
    await drive(loop, mode);
    expect(steps).toEqual(['after halt()', 'cleanup done']);
    await expect(t.toPromise()).rejects.toThrow(`task ${t.id} was halted`);
    expect(crashes).toEqual([]);
    loop.close();
  });

  test('schedule() of a task that is not parked throws, naming what it is blocked on', async () => {
    const { loop, crashes } = newLoop(backend);
    const [a, b] = FdStream.socketpair();
    const box = new Mailbox<string>(1);
    const sleeper = loop.spawn(() => sleep(60_000));
    const taker = loop.spawn(() => box.take());
    const reader = loop.spawn(() => a.read());
    const parked = loop.spawn(() => park<string>());
    const messages = loop.spawn(function* () {
      yield* yieldNow();
      const out: string[] = [];
      for (const t of [sleeper, taker, reader]) {
        try {
          schedule(t, 'data');
        } catch (e) {
          out.push((e as Error).message);
        }
      }
      schedule(parked, 'hello');
      for (const t of [sleeper, taker, reader]) t.halt();
      return out;
    });
    await drive(loop, mode);
    expect(await messages).toEqual([
      `task ${sleeper.id} is sleeping`,
      `task ${taker.id} is taking from mailbox`,
      `task ${reader.id} is blocked reading fd ${a.fd}`,
    ]);
    expect(await parked).toBe('hello');
    expect(crashes).toEqual([]);
    await closeAndFinish(loop, mode, a, b);
  });

  test('a self-rescheduling task does not starve a task whose fd is ready', async () => {
    const { loop, crashes } = newLoop(backend);
    const [a, b] = FdStream.socketpair();
    let readerDone = false;
    const spinner = loop.spawn(function* () {
      let spins = 0;
      while (!readerDone && spins < 1_000_000) {
        spins++;
        yield* yieldNow();
      }
      return spins;
    });
    const reader = loop.spawn(function* () {
      yield* yieldNow(); // the spinner is in the run queue from now on
      const got = yield* a.read();
      readerDone = true;
      return got?.toString();
    });
    loop.spawn(function* () {
      yield* sleep(5);
      yield* b.write(Buffer.from('ping'));
    });
    await drive(loop, mode);
    expect(await reader).toBe('ping');
    expect(await spinner).toBeLessThan(1_000_000);
    expect(crashes).toEqual([]);
    await closeAndFinish(loop, mode, a, b);
  });
});

test('spawn outside any task uses the default loop, which runs itself', async () => {
  const t = spawn(function* () {
    const inner = spawn(function* () {
      yield* sleep(1);
      return 'inner';
    });
    return `outer+${yield* inner.join()}`;
  });
  expect(await t).toBe('outer+inner');
});

test('a mailbox closed under a waiting taker hands it CLOSED', async () => {
  const box = new Mailbox<number>(2);
  const t = spawn(() => box.take());
  setTimeout(() => box.close(), 5);
  expect(await t).toBe(CLOSED);
});

describe('a halt stays in force past a delegated operation whose cleanup runs instructions', () => {
  /** Spawns `outer`, which delegates to `op()`; halts it from plain code once `op` waits. */
  async function haltDuring(op: () => Operation<unknown>) {
    const loop = new Loop();
    const seen = { after: 0, outerFinally: 0 };
    const task = loop.spawn(function* () {
      try {
        const x = yield* op();
        seen.after++;
        (x as { close(): void }).close();
        yield* sleep(1);
        seen.after++;
      } finally {
        seen.outerFinally++;
      }
    });
    const running = loop.run();
    await new Promise((r) => setTimeout(r, 20));
    task.halt();
    await running;
    const outcome = await task.toPromise().catch((e: Error) => e.message);
    loop.close();
    return { ...seen, outcome, id: task.id };
  }

  test('ensure(): cleanup that sleeps, then no code after the interrupted yield* runs', async () => {
    let cleanups = 0;
    const r = await haltDuring(() =>
      ensure(sleep(1e6), function* () {
        yield* sleep(10);
        cleanups++;
      }),
    );
    expect(r).toEqual({ after: 0, outerFinally: 1, outcome: `task ${r.id} was halted`, id: r.id });
    expect(cleanups).toBe(1);
  });

  test('a plain finally that closes streams (no wait) lets the halt unwind the caller', async () => {
    const r = await haltDuring(function* () {
      const [a, b] = FdStream.socketpair();
      try {
        return yield* a.read();
      } finally {
        yield* a.close();
        yield* b.close();
      }
    });
    expect(r).toEqual({ after: 0, outerFinally: 1, outcome: `task ${r.id} was halted`, id: r.id });
  });
});
