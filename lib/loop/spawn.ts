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

/**
 * Starts `op` as a new task: on the calling task's loop when called inside a task, otherwise on
 * the default loop, which is then running (integrated) until no task is left.
 */
export function spawn<T>(op: Operation<T> | (() => Operation<T>)): Task<T> {
  const running = currentTask();
  if (running) return new Task(running.loop, typeof op === 'function' ? op() : op);
  const loop = getDefaultLoop();
  const task = loop.spawn(op);
  // The default loop's run() never rejects for a task's sake (task errors go to onError or join).
  loop.run().catch((err) => queueMicrotask(() => {
    throw err;
  }));
  return task;
}
