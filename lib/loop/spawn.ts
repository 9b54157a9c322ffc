/**
 * `spawn` without naming a loop: inside a task it joins the loop running that task; elsewhere it
 * uses this thread's default loop, which runs integrated and starts itself. So operations and
 * spawns always find "their" loop without a process-wide global scheduler.
 */
import { Loop } from './loop';
import { Operation } from './operation';
import { currentTask, Task } from './task';

let defaultLoop: Loop | undefined;

/** This thread's default loop (integrated mode; created on first use). */
export function getDefaultLoop(): Loop {
  defaultLoop ??= new Loop();
  return defaultLoop;
}

/** Options of {@link spawn}. */
export interface SpawnOptions {
  /**
   * Inside a task, make a top-level task that outlives its spawner (as `loop.spawn` does) instead of
   * a child that is halted and awaited when the spawner ends. Outside any task every spawn is top-level.
   */
  detached?: boolean;
}

/**
 * Starts `op` as a new task. Inside a task it runs on that task's loop as its child: when the
 * spawner ends (returns, throws or is halted) the child is halted, and the spawner's result reaches
 * its joiners once the child's `finally` blocks have run. With `{ detached: true }` it is a top-level
 * task instead. Outside any task it is a top-level task of the default loop, which is then running
 * (integrated) until no task is left.
 */
export function spawn<T>(op: Operation<T> | (() => Operation<T>), options: SpawnOptions = {}): Task<T> {
  const running = currentTask();
  if (running)
    return new Task(running.loop, typeof op === 'function' ? op() : op, options?.detached ? undefined : running);
  const loop = getDefaultLoop();
  const task = loop.spawn(op);
  // The default loop's run() never rejects for a task's sake (task errors go to onError or join).
  loop.run().catch((err) =>
    queueMicrotask(() => {
      throw err;
    }),
  );
  return task;
}
