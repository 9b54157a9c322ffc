/**
 * `for await (const batch of ps.watchEvents({ signal }))` on every compiled-in backend: batches as
 * the kernel reports them, the three ways it ends (break, close, abort), nothing left watching
 * afterwards, and, under random interleavings of writes and of a consumer that reads some or all of
 * what is there, synchronously or after awaiting, no readiness lost and none reported that the
 * consumer had already used up.
 */
import { execFile } from 'child_process';
import fc from 'fast-check';
import * as path from 'path';
import { AbortError, close, pipe, PollEvent, Pollset, read, write, WOULD_BLOCK } from '../lib';
import { expectFdsBackTo, openFds } from './helpers/loops';

const SEED = 20261129;
const RUNS = 40;

function runFixture(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const fixture = path.join(__dirname, 'fixtures', 'watch-events-exit.js');
    execFile(process.execPath, [fixture, ...args], { timeout: 10_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({
        code: err
          ? (err as { code?: unknown }).code === undefined
            ? null
            : Number((err as { code?: unknown }).code) || null
          : 0,
        out: stdout + stderr,
      });
    });
  });
}

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(Pollset.backends)('%s backend', (backend) => {
  let before = 0;
  beforeAll(() => new Pollset({ backend }).close());
  beforeEach(() => {
    before = openFds();
  });
  afterEach(() => expectFdsBackTo(before));

  test('each batch holds the ready fds of one wait, with their objects; break stops watching', async () => {
    const ps = new Pollset<string>({ backend });
    const [r1, w1] = pipe();
    const [r2, w2] = pipe();
    try {
      ps.insert(r1, 'r', 'one');
      ps.insert(r2, 'r', 'two');
      setTimeout(() => {
        write(w1, Buffer.from('a'));
        write(w2, Buffer.from('b'));
      }, 5);
      const seen: string[] = [];
      for await (const batch of ps.watchEvents()) {
        expect(batch.length).toBeGreaterThan(0);
        for (const ev of batch) {
          expect(ev.read).toBe(true);
          expect(read(ev.fd, Buffer.alloc(8))).toBe(1);
          seen.push(ev.obj);
        }
        if (seen.length === 2) break;
      }
      expect(seen.sort()).toEqual(['one', 'two']);
      // Nothing is watching any more: the pollset can be watched again.
      ps.watch(() => {});
      ps.unwatch();
    } finally {
      ps.close();
      [r1, w1, r2, w2].forEach((fd) => close(fd));
    }
  });

  test('close() ends a pending iteration (done), and an iteration of a closed pollset cannot start', async () => {
    const ps = new Pollset({ backend });
    const [r, w] = pipe();
    ps.insert(r, 'r');
    const batches = ps.watchEvents();
    const next = batches.next();
    setTimeout(() => ps.close(), 5);
    await expect(next).resolves.toEqual({ done: true, value: undefined });
    await expect(batches.next()).resolves.toEqual({ done: true, value: undefined });
    expect(() => ps.watchEvents()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    close(r);
    close(w);
  });

  test('an abort rejects the pending next() with an AbortError carrying the reason; the pollset stays usable', async () => {
    const ps = new Pollset({ backend });
    const [r, w] = pipe();
    try {
      ps.insert(r, 'r');
      const controller = new AbortController();
      const reason = new Error('shutting down');
      setTimeout(() => controller.abort(reason), 5);
      let error: unknown;
      try {
        for await (const batch of ps.watchEvents({ signal: controller.signal }))
          throw new Error(`unexpected ${batch.length}`);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(AbortError);
      expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', message: 'The operation was aborted' });
      expect((error as Error).cause).toBe(reason);
      // Not watched any more, still open.
      write(w, Buffer.from('x'));
      expect(ps.wait(1000)).toBe(1);
      ps.watch(() => {});
    } finally {
      ps.close();
      close(r);
      close(w);
    }
  });

  test('an already aborted signal: the first next() rejects, nothing is watched', async () => {
    const ps = new Pollset({ backend });
    try {
      const batches = ps.watchEvents({ signal: AbortSignal.abort('no') });
      await expect(batches.next()).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: 'no' });
      await expect(batches.next()).resolves.toMatchObject({ done: true });
      ps.watch(() => {});
    } finally {
      ps.close();
    }
  });

  test('a signal that is not an AbortSignal is an ERR_INVALID_ARG_TYPE', () => {
    const ps = new Pollset({ backend });
    try {
      expect(() => ps.watchEvents({ signal: 'soon' as never })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
      );
      expect(() => ps.watch(() => {}, { signal: {} as never })).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
      );
    } finally {
      ps.close();
    }
  });

  test('`await using` of the iterator releases the watch at the end of the block', async () => {
    const ps = new Pollset({ backend });
    const [r, w] = pipe();
    try {
      ps.insert(r, 'r');
      write(w, Buffer.from('x'));
      {
        await using batches = ps.watchEvents();
        const first = await batches.next();
        expect(first.done).toBe(false);
        expect(() => ps.watch(() => {})).toThrow(expect.objectContaining({ code: 'EALREADY' }));
      }
      ps.watch(() => {});
    } finally {
      ps.close();
      close(r);
      close(w);
    }
  });

  test('watch(onReady, { signal }): aborting stops watching; an aborted signal throws an AbortError', async () => {
    const ps = new Pollset({ backend });
    const [r, w] = pipe();
    try {
      ps.insert(r, 'r');
      write(w, Buffer.from('x'));
      const controller = new AbortController();
      let calls = 0;
      await new Promise<void>((resolve) =>
        ps.watch(
          () => {
            calls++;
            controller.abort();
            resolve();
          },
          { signal: controller.signal },
        ),
      );
      await tick(20); // level-triggered and still readable: only a stopped watch stays quiet
      expect(calls).toBe(1);
      ps.watch(() => {}); // free again
      ps.unwatch();
      expect(() => ps.watch(() => {}, { signal: AbortSignal.abort() })).toThrow(AbortError);
    } finally {
      ps.close();
      close(r);
      close(w);
    }
  });

  test.each(['break', 'throw', 'abort', 'abort-later'])(
    'nothing keeps the process alive after the iteration ends: %s',
    async (scenario) => {
      const { code, out } = await runFixture([scenario, backend]);
      expect(out).toContain('batch pipe:true');
      if (scenario === 'break') expect(out).toContain('ended after 1');
      if (scenario === 'throw') expect(out).toContain('caught Error undefined undefined after 1');
      if (scenario === 'abort') expect(out).toContain('caught AbortError ABORT_ERR enough after 1');
      if (scenario === 'abort-later') expect(out).toMatch(/caught AbortError ABORT_ERR later after \d+/);
      expect(out).toContain('size 1');
      expect(code).toBe(0);
    },
  );

  test(`random interleavings of writes and consumption: no readiness lost, none reported after it was used up (${RUNS} runs)`, async () => {
    const program = fc.record({
      pipes: fc.integer({ min: 1, max: 4 }),
      writes: fc.array(
        fc.record({
          pipe: fc.nat(3),
          bytes: fc.integer({ min: 1, max: 300 }),
          delayMs: fc.integer({ min: 0, max: 6 }),
        }),
        { minLength: 1, maxLength: 25 },
      ),
      consumers: fc.array(
        fc.record({
          readMax: fc.constantFrom(1, 7, 64, 4096),
          pause: fc.constantFrom('none' as const, 'microtask' as const, 'immediate' as const, 'timer' as const),
        }),
        { minLength: 1, maxLength: 8 },
      ),
    });
    await fc.assert(
      fc.asyncProperty(program, async ({ pipes, writes, consumers }) => {
        const ps = new Pollset<number>({ backend });
        const fds = Array.from({ length: pipes }, () => pipe());
        const timers: NodeJS.Timeout[] = [];
        try {
          fds.forEach(([r], i) => ps.insert(r, 'r', i));
          const written = new Array<number>(pipes).fill(0);
          const got = new Array<number>(pipes).fill(0);
          // Per pipe: the consumer emptied it and nothing was written since. A report of it then is stale.
          const empty = new Array<boolean>(pipes).fill(true);
          const total = writes.reduce((n, x) => n + x.bytes, 0);
          let sent = 0;
          for (const x of writes) {
            timers.push(
              setTimeout(() => {
                const i = x.pipe % pipes;
                expect(write(fds[i][1], Buffer.alloc(x.bytes, i))).toBe(x.bytes);
                written[i] += x.bytes;
                empty[i] = false;
                sent += x.bytes;
              }, x.delayMs),
            );
          }
          const seenBatches = new Set<PollEvent<number>[]>();
          let received = 0;
          let round = 0;
          const deadline = setTimeout(() => ps.close(), 10_000); // a lost readiness would wait forever
          timers.push(deadline);
          for await (const batch of ps.watchEvents()) {
            expect(seenBatches.has(batch)).toBe(false);
            seenBatches.add(batch);
            const c = consumers[round++ % consumers.length];
            if (c.pause === 'microtask') await Promise.resolve();
            if (c.pause === 'immediate') await new Promise(setImmediate);
            if (c.pause === 'timer') await tick(1);
            for (const ev of batch) {
              expect(empty[ev.obj]).toBe(false);
              const buf = Buffer.alloc(c.readMax);
              const n = read(ev.fd, buf);
              expect(n).not.toBe(WOULD_BLOCK);
              got[ev.obj] += n as number;
              received += n as number;
              // A pipe gives what it holds up to the buffer's size: less means it is empty now.
              if ((n as number) < c.readMax) empty[ev.obj] = true;
            }
            if (received === total) break;
          }
          expect(sent).toBe(total);
          expect(got).toEqual(written);
        } finally {
          timers.forEach(clearTimeout);
          ps.close();
          fds.forEach(([r, w]) => {
            close(r);
            close(w);
          });
        }
      }),
      { seed: SEED, numRuns: RUNS }, // a failure's message names the seed and the shrunk counterexample
    );
  }, 120_000);
});
