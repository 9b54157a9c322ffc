/**
 * Cutting an operation short from outside it: a deadline (`timeout`) or an AbortSignal
 * (`abortable`). Whatever the operation waits on is released, its `finally` blocks run, and the
 * error is thrown where it waits.
 */
import { abortError, checkSignal } from '../errors';
import { next, Operation, perform } from './operation';
import type { TaskContext } from './contracts';

/**
 * Runs `op` in the calling task, cut short when `arm`'s trigger fires. `arm(interrupt, task)` starts
 * watching (a timer, a signal) and returns how to stop. Once `op` finishes the watch stops, and an
 * interrupt that fired while the task was already queued to run never lands later.
 */
export function* interruptible<T>(
  arm: (interrupt: (error: unknown) => void, task: TaskContext) => () => void,
  op: Operation<T>,
): Operation<T> {
  const disarm = yield* perform<() => void>((task) => {
    let fired: unknown;
    const stop = arm((error) => {
      fired = error;
      task.interrupt(error);
    }, task);
    return next(() => {
      stop();
      if (fired !== undefined) task.clearInterrupt(fired);
    });
  });
  try {
    return yield* op;
  } finally {
    disarm();
  }
}

/**
 * Runs `op` in the calling task until `signal` aborts: then whatever `op` waits on is released, its
 * `finally` blocks run, and an `AbortError` (name 'AbortError', code 'ABORT_ERR', the signal's
 * reason as `cause`) is thrown, as Node's own APIs do. A signal aborted before the task gets
 * there stops `op` before it starts. Without a signal, `op` itself.
 *
 * ```ts
 * const conn = yield* abortable(signal, TcpStream.connect('127.0.0.1:80'));
 * ```
 *
 * @throws TypeError (`code` `ERR_INVALID_ARG_TYPE`) when `signal` is neither undefined nor an AbortSignal.
 */
export function abortable<T>(signal: AbortSignal | undefined, op: Operation<T>): Operation<T> {
  const checked = checkSignal(signal, 'signal');
  return checked ? untilAborted(checked, op) : op;
}

function* untilAborted<T>(signal: AbortSignal, op: Operation<T>): Operation<T> {
  if (signal.aborted) {
    op.return(undefined as T); // never started: nothing of it runs
    throw abortError(signal);
  }
  return yield* interruptible((interrupt) => {
    const onAbort = (): void => interrupt(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    return () => signal.removeEventListener('abort', onAbort);
  }, op);
}
