/**
 * Scoped task lifetimes: a task spawned with `spawn(op)` inside a task is its child; when the parent
 * ends (returns, throws or is halted) the child is halted, and the parent's join resolves only after
 * the child's `finally` blocks have run (cleanup that waits included). `spawn(op, { detached: true })`
 * and `loop.spawn(op)` make tasks that outlive their spawner. The property at the end runs random
 * trees of spawns, halts and endings (fast-check, fixed seed and run count).
 */
import fc from 'fast-check';
import { HaltedError, Loop, Operation, sleep, spawn, Task } from '../lib';
import { describeMatrix, drive, newLoop } from './helpers/loops';

/** A task body that records its cleanup in `log` once its `finally` (which may wait `cleanupMs`) is over. */
function* child(name: string, log: string[], cleanupMs = 0): Operation<void> {
  try {
    yield* sleep(Infinity);
  } finally {
    if (cleanupMs > 0) yield* sleep(cleanupMs);
    log.push(`${name} cleaned up`);
  }
}

/** Joins `task` from a top-level task, recording in `log` when the join resolved and how. */
function watch(loop: Loop, task: Task<unknown>, name: string, log: string[]): void {
  loop.spawn(function* () {
    try {
      const value = yield* task.join();
      log.push(`${name} joined: ${String(value)}`);
    } catch (err) {
      log.push(`${name} joined: ${err instanceof HaltedError ? 'halted' : (err as Error).message}`);
    }
  });
}

describeMatrix((backend, mode) => {
  test('a parent that returns halts its children, and its join resolves after their finally blocks', async () => {
    const { loop, crashes } = newLoop(backend);
    const log: string[] = [];
    const parent = loop.spawn(function* () {
      spawn(child('a', log));
      spawn(child('b', log, 3)); // cleanup that waits
      yield* sleep(1);
      return 'done';
    });
    watch(loop, parent, 'parent', log);
    await drive(loop, mode);
    expect(log).toEqual(['a cleaned up', 'b cleaned up', 'parent joined: done']);
    expect(crashes).toEqual([]);
    loop.close();
  });

  test('a parent that throws halts its children first; its join rethrows the error', async () => {
    const { loop, crashes } = newLoop(backend);
    const log: string[] = [];
    const parent = loop.spawn(function* (): Operation<never> {
      spawn(child('a', log, 2));
      yield* sleep(1);
      throw new Error('boom');
    });
    watch(loop, parent, 'parent', log);
    await drive(loop, mode);
    expect(log).toEqual(['a cleaned up', 'parent joined: boom']);
    expect(crashes).toEqual([]);
    loop.close();
  });

  test('a halted parent halts its children (grandchildren too) before its join says halted', async () => {
    const { loop, crashes } = newLoop(backend);
    const log: string[] = [];
    let grandchildStarted = false;
    const parent = loop.spawn(function* () {
      spawn(function* () {
        spawn(function* () {
          grandchildStarted = true;
          yield* child('grandchild', log, 2);
        });
        yield* child('child', log);
      });
      yield* sleep(Infinity);
    });
    watch(loop, parent, 'parent', log);
    loop.spawn(function* () {
      // Halted only once the grandchild runs: a task halted before its first step has no finally to
      // run, and on a loaded machine a fixed sleep can end before the grandchild's first turn.
      while (!grandchildStarted) yield* sleep(1);
      parent.halt();
    });
    await drive(loop, mode);
    expect(log).toEqual(['child cleaned up', 'grandchild cleaned up', 'parent joined: halted']);
    expect(crashes).toEqual([]);
    loop.close();
  });

  test('a detached task and a loop.spawn task outlive their spawner', async () => {
    const { loop, crashes } = newLoop(backend);
    const log: string[] = [];
    let detached!: Task<string>;
    let topLevel!: Task<string>;
    const parent = loop.spawn(function* () {
      detached = spawn(
        function* () {
          yield* sleep(5);
          return 'detached finished';
        },
        { detached: true },
      );
      topLevel = loop.spawn(function* () {
        yield* sleep(5);
        return 'top-level finished';
      });
      return 'parent finished';
    });
    watch(loop, parent, 'parent', log);
    loop.spawn(function* () {
      yield* sleep(1);
      watch(loop, detached, 'detached', log);
      watch(loop, topLevel, 'top-level', log);
    });
    await drive(loop, mode);
    expect(log).toEqual([
      'parent joined: parent finished',
      'detached joined: detached finished',
      'top-level joined: top-level finished',
    ]);
    expect(crashes).toEqual([]);
    loop.close();
  });

  test("a child spawned in its parent's finally is reaped with the parent, before it ever runs", async () => {
    const { loop, crashes } = newLoop(backend);
    const log: string[] = [];
    let late!: Task<void>;
    const parent = loop.spawn(function* () {
      try {
        yield* sleep(Infinity);
      } finally {
        late = spawn(function* () {
          log.push('late ran');
        });
      }
    });
    watch(loop, parent, 'parent', log);
    loop.spawn(function* () {
      yield* sleep(1);
      parent.halt();
    });
    await drive(loop, mode);
    expect(log).toEqual(['parent joined: halted']);
    expect(late.state).toBe('done');
    expect(crashes).toEqual([]);
    loop.close();
  });
});

// ---- property: random trees ----

type Ending = 'return' | 'throw' | 'forever';
interface Node {
  lifeMs: number;
  ending: Ending;
  cleanupMs: number;
  children: Node[];
}

function nodeOfDepth(depth: number): fc.Arbitrary<Node> {
  return fc.record({
    lifeMs: fc.integer({ min: 0, max: 4 }),
    ending: fc.constantFrom<Ending>('return', 'throw', 'forever'),
    cleanupMs: fc.integer({ min: 0, max: 2 }),
    children: depth === 0 ? fc.constant([]) : fc.array(nodeOfDepth(depth - 1), { maxLength: 3 }),
  });
}
const node = nodeOfDepth(3);

const SEED = 1529;
const RUNS = 60;

test(`random trees of spawn / halt / finish: every child is done before its parent's join resolves (seed ${SEED}, ${RUNS} runs)`, async () => {
  await fc.assert(
    fc.asyncProperty(
      node,
      fc.array(fc.record({ target: fc.nat(20), ms: fc.integer({ min: 0, max: 5 }) }), { maxLength: 6 }),
      async (root, halts) => {
        const loop = new Loop({ onError: () => {} });
        const tasks: Task<unknown>[] = [];
        const descendants = new Map<Task<unknown>, Task<unknown>[]>();
        const violations: string[] = [];
        let finallyRuns = 0;
        let started = 0;

        function* run(n: Node, ancestors: Task<unknown>[], self: { task?: Task<unknown> }): Operation<string> {
          {
            const me = self.task!;
            started++;
            try {
              for (const c of n.children) spawnNode(c, [...ancestors, me]);
              yield* sleep(n.ending === 'forever' ? Infinity : n.lifeMs);
              if (n.ending === 'throw') throw new Error('thrown');
              return 'returned';
            } finally {
              finallyRuns++; // counted on entry: a second halt may cut a cleanup wait short (by design)
              if (n.cleanupMs > 0) yield* sleep(n.cleanupMs);
            }
          }
        }

        function spawnNode(n: Node, ancestors: Task<unknown>[]): void {
          const self: { task?: Task<unknown> } = {};
          const body = run(n, ancestors, self);
          const task = ancestors.length === 0 ? loop.spawn(body) : spawn(body);
          self.task = task;
          tasks.push(task);
          descendants.set(task, []);
          for (const a of ancestors) descendants.get(a)!.push(task);
          loop.spawn(function* () {
            try {
              yield* task.join();
            } catch {
              // returned, thrown or halted: all three end the same way for this property
            }
            for (const d of descendants.get(task)!)
              if (d.state !== 'done') violations.push(`task ${d.id} (${d.blockedOn}) outlived ancestor ${task.id}`);
          });
        }

        spawnNode(root, []);
        loop.spawn(function* () {
          for (const h of halts) {
            yield* sleep(h.ms);
            tasks[h.target % tasks.length].halt();
          }
          yield* sleep(10);
          tasks[0].halt();
        });
        await loop.run();
        loop.close();
        expect(violations).toEqual([]);
        expect(tasks.every((t) => t.state === 'done')).toBe(true);
        expect(finallyRuns).toBe(started); // every task that started ran its finally
      },
    ),
    { seed: SEED, numRuns: RUNS },
  );
}, 120_000);
