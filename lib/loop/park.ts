/**
 * The seed's low-level style: a task parks itself and someone schedules it with a value.
 * Unlike the seed, `schedule` checks that the task really is parked; a task blocked on anything
 * else (an fd, a timer, a mailbox) cannot be resumed this way, and saying so loudly is the point.
 */
import { next, Operation, perform } from './operation';
import type { Task } from './task';

/** The error `schedule` throws for a task that is not parked: `code === 'ERR_TASK_NOT_PARKED'`. */
export interface NotParkedError extends Error {
  /** Always `'ERR_TASK_NOT_PARKED'`. */
  code: 'ERR_TASK_NOT_PARKED';
  /** The id of the task that was not parked. */
  taskId: number;
}

/** Suspends the calling task until `schedule(task, value)`; returns that value. */
export function park<T = unknown>(): Operation<T> {
  return perform<T>((task) => {
    task.block('parked', () => {}, true);
    return undefined;
  });
}

/**
 * Resumes a parked task with `value`. Throws when the task is not parked, naming what it is
 * blocked on: `task 7 is blocked writing fd 12`, `task 3 is sleeping`, `task 4 is taking from mailbox`.
 */
export function schedule<T>(task: Task<unknown>, value?: T): void {
  if (!task.parked) {
    const err = new Error(`task ${task.id} is ${task.blockedOn}`) as NotParkedError;
    err.code = 'ERR_TASK_NOT_PARKED';
    err.taskId = task.id;
    throw err;
  }
  task.wake(next(value));
}

/** Lets every other ready task run once (and the loop look at fds and timers) before continuing. */
export function yieldNow(): Operation<void> {
  return perform<void>((task) => {
    task.requeue(next());
    return undefined;
  });
}

/** The calling task itself (for example to hand to a producer that will `schedule` it). */
export function self(): Operation<Task<unknown>> {
  return perform<Task<unknown>>((task) => next(task));
}
