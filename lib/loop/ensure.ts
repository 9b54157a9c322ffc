/**
 * Cleanup that may wait, without losing a halt.
 *
 * A halt unwinds a task with `generator.return()`. When a `finally` block suspends (any `yield*`
 * that waits, or any instruction at all), JavaScript resumes it with `next()`, and once such a
 * `finally` belongs to a delegated operation, its caller's `yield*` then completes *normally*: the
 * caller carries on after the interrupted operation as if it had returned `undefined`. No scheduler
 * can see that moment (the language gives it no hook), so the operation whose cleanup waits says
 * when its cleanup is over: `ensure` does, and puts the halt back in force right there.
 */
import type { Resume } from './contracts';
import { next, Operation, perform } from './operation';

const RETURN: Resume = Object.freeze({ kind: 'return' });

/**
 * Runs `body`, then `cleanup(completed)` however `body` ended (`completed` is true only when it
 * returned). `cleanup` may wait (close a TLS session, flush, sleep). If the task is halted while
 * `body` runs, the halt stays in force after `cleanup`: the caller's code after `yield* ensure(…)`
 * never runs, and its `finally` blocks run once each on the way out.
 *
 * ```ts
 * function* connected(): Operation<Conn> {
 *   const conn = open();
 *   return yield* ensure(handshake(conn), function* (completed) {
 *     if (!completed) yield* conn.close();   // may wait; a halt during handshake still stops the caller
 *   });
 * }
 * ```
 *
 * Use it instead of a `try`/`finally` whose `finally` waits, inside operations that others call
 * with `yield*`. (A plain `finally` that waits is fine in the task's own generator.)
 */
export function* ensure<T>(body: Operation<T>, cleanup: (completed: boolean) => Operation<void>): Operation<T> {
  const haltedBefore = yield* perform<boolean>((task) => next(task.halting));
  let completed = false;
  try {
    const value = yield* body;
    completed = true;
    return value;
  } finally {
    yield* cleanup(completed);
    // The halt reached this frame through `body`: every caller is suspended in `yield*` on it, so a
    // return from here unwinds them all, as if the cleanup had not waited.
    if (!haltedBefore) yield* perform<void>((task) => (task.halting ? RETURN : next()));
  }
}
