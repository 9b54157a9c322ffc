/**
 * Properties of the scheduler under random interleavings (fast-check, fixed seed and run count):
 * tasks that sleep, time out, wait on fds (socketpairs), put into and take from a mailbox, run
 * cleanup that waits (`ensure`) and are halted from plain Node code or from other tasks. Whatever
 * happens, every `finally` runs exactly once, the loop's counters and the process's fds come back
 * to where they were, and no mailbox value is lost or duplicated.
 */
import fc from 'fast-check';
import { Backend, CLOSED, ensure, FdStream, Loop, Mailbox, Operation, sleep, Task, timeout, yieldNow } from '../lib';
import { expectFdsBackTo, matrix, Mode, openFds } from './helpers/loops';

const SEED = 20261129;
const RUNS = 60;

type Step =
  | { kind: 'sleep'; ms: number }
  | { kind: 'timeout'; ms: number; inner: number }
  | { kind: 'fd'; ms: number }
  | { kind: 'poke'; target: number }
  | { kind: 'put'; ms: number }
  | { kind: 'take'; ms: number }
  | { kind: 'yield' }
  | { kind: 'nested'; ms: number; cleanupMs: number }
  | { kind: 'halt'; target: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('sleep' as const), ms: fc.integer({ min: 0, max: 3 }) }),
  fc.record({
    kind: fc.constant('timeout' as const),
    ms: fc.integer({ min: 0, max: 3 }),
    inner: fc.integer({ min: 0, max: 4 }),
  }),
  fc.record({ kind: fc.constant('fd' as const), ms: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ kind: fc.constant('poke' as const), target: fc.nat(7) }),
  fc.record({ kind: fc.constant('put' as const), ms: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ kind: fc.constant('take' as const), ms: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ kind: fc.constant('yield' as const) }),
  fc.record({
    kind: fc.constant('nested' as const),
    ms: fc.integer({ min: 0, max: 4 }),
    cleanupMs: fc.integer({ min: 0, max: 2 }),
  }),
  fc.record({ kind: fc.constant('halt' as const), target: fc.nat(7) }),
);

interface Program {
  capacity: number;
  tasks: Step[][];
  halts: [number, number][];
}

const program: fc.Arbitrary<Program> = fc.record({
  capacity: fc.integer({ min: 1, max: 3 }),
  tasks: fc.array(fc.array(step, { maxLength: 8 }), { minLength: 1, maxLength: 6 }),
  /** Halts from plain code (integrated) or from a controller task (blocking): [task, after ms]. */
  halts: fc.array(fc.tuple(fc.nat(7), fc.integer({ min: 0, max: 6 })), { maxLength: 4 }),
});

interface Ledger {
  /** A task halted before its first step never runs at all (JavaScript's return() on a fresh generator). */
  started: number[];
  finallies: number[];
  nestedIn: number;
  nestedOut: number;
  cleanups: number;
  /** Tasks halted by someone else, and steps that went on after it (there must be none). */
  halted: boolean[];
  ranAfterHalt: number;
  /** Values whose put returned, values offered to a put, values a take returned. */
  confirmed: number[];
  offered: number[];
  taken: number[];
}

function* runProgram(
  me: number,
  steps: Step[],
  box: Mailbox<number>,
  pairs: [FdStream, FdStream][],
  tasks: Task<unknown>[],
  ledger: Ledger,
  nextValue: () => number,
): Operation<void> {
  const [a, b] = pairs[me];
  ledger.started[me]++;
  try {
    for (const s of steps) {
      try {
        switch (s.kind) {
          case 'sleep':
            yield* sleep(s.ms);
            break;
          case 'timeout':
            yield* timeout(s.ms, sleep(s.inner));
            break;
          case 'fd':
            yield* timeout(s.ms, b.read(16)); // data only if another task poked this one
            break;
          case 'poke': {
            const [peer] = pairs[s.target % pairs.length];
            if (!peer.closed) yield* timeout(5, peer.write(Buffer.from([me])));
            break;
          }
          case 'put': {
            const v = nextValue();
            ledger.offered.push(v);
            yield* timeout(s.ms, box.put(v));
            ledger.confirmed.push(v);
            break;
          }
          case 'take': {
            const v = yield* timeout(s.ms, box.take());
            if (v !== CLOSED) ledger.taken.push(v);
            break;
          }
          case 'yield':
            yield* yieldNow();
            break;
          case 'nested':
            // A delegated operation whose cleanup waits: a halt must not resume the code after it.
            yield* ensure(
              (function* () {
                ledger.nestedIn++;
                yield* sleep(s.ms);
              })(),
              function* () {
                ledger.nestedOut++;
                yield* sleep(s.cleanupMs); // a halt arriving now cuts this wait short (and only this)
              },
            );
            break;
          case 'halt': {
            const target = s.target % tasks.length;
            if (target !== me) ledger.halted[target] = true; // a task halting itself stops at its next yield
            tasks[target].halt();
            break;
          }
        }
      } catch (e) {
        if ((e as { code?: string }).code !== 'ETIMEDOUT') throw e;
      }
      if (ledger.halted[me]) ledger.ranAfterHalt++;
    }
  } finally {
    ledger.finallies[me]++;
    yield* a.close();
    yield* b.close();
    ledger.cleanups++;
    // Cleanup that itself waits. A halt arriving while a task is in the `finally` of a normal exit
    // cuts the wait short (JavaScript's return() at that yield), hence nothing to release after it.
    yield* sleep(0);
  }
}

async function check(backend: Backend, mode: Mode, p: Program): Promise<void> {
  const fdsBefore = openFds();
  const crashes: unknown[] = [];
  const loop = new Loop({ backend, onError: (e) => crashes.push(e) });
  const box = new Mailbox<number>(p.capacity);
  const n = p.tasks.length;
  const ledger: Ledger = {
    started: new Array(n).fill(0),
    finallies: new Array(n).fill(0),
    nestedIn: 0,
    nestedOut: 0,
    cleanups: 0,
    halted: new Array(n).fill(false),
    ranAfterHalt: 0,
    confirmed: [],
    offered: [],
    taken: [],
  };
  let counter = 0;
  const pairs = p.tasks.map(() => FdStream.socketpair());
  const tasks: Task<unknown>[] = [];
  for (let i = 0; i < n; i++)
    tasks.push(loop.spawn(runProgram(i, p.tasks[i], box, pairs, tasks, ledger, () => ++counter)));
  const timers: NodeJS.Timeout[] = [];
  if (mode === 'integrated') {
    const halt = (i: number) => {
      ledger.halted[i] = true;
      tasks[i].halt();
    };
    for (const [t, ms] of p.halts) timers.push(setTimeout(() => halt(t % n), ms));
    await loop.run();
  } else {
    for (const [t, ms] of p.halts) {
      loop.spawn(function* () {
        yield* sleep(ms);
        ledger.halted[t % n] = true;
        tasks[t % n].halt();
      });
    }
    loop.runBlocking();
  }
  for (const t of timers) clearTimeout(t);
  const remaining: number[] = [];
  for (let v = box.tryTake(); v !== undefined && v !== CLOSED; v = box.tryTake()) remaining.push(v);
  const stats = loop.stats;
  loop.close();
  pairs.forEach(([a, b], i) => {
    if (ledger.started[i] === 0) for (const s of [a, b]) s.close().next(); // never suspends: closeFd is synchronous
  });

  expect(crashes).toEqual([]);
  for (const x of ledger.started) expect(x === 0 || x === 1).toBe(true);
  expect(ledger.finallies).toEqual(ledger.started);
  expect(ledger.cleanups).toBe(ledger.started.reduce((x, y) => x + y, 0));
  expect(ledger.nestedOut).toBe(ledger.nestedIn);
  expect(ledger.ranAfterHalt).toBe(0);
  expect(stats).toEqual({ tasks: 0, queued: 0, timers: 0, pollsetSize: 0, fdWaiters: 0 });
  // Nothing lost, nothing duplicated: every value is taken or still in the mailbox at most once, every
  // confirmed put among them, and nothing appears that was never offered.
  const out = [...ledger.taken, ...remaining];
  expect(new Set(out).size).toBe(out.length);
  for (const v of ledger.confirmed) expect(out).toContain(v);
  const offered = new Set(ledger.offered);
  for (const v of out) expect(offered.has(v)).toBe(true);
  await expectFdsBackTo(fdsBefore);
}

describe.each(matrix)('%s backend, %s mode', (backend, mode) => {
  test(`random spawn/halt/sleep/timeout/fd/mailbox interleavings: finally once, counters to 0, no value lost (${RUNS} runs)`, async () => {
    await fc.assert(
      fc.asyncProperty(program, (p) => check(backend, mode, p)),
      { seed: SEED, numRuns: RUNS }, // a failure's message names the seed and the shrunk counterexample
    );
  }, 120_000);
});
