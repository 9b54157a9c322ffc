/**
 * Closing an fd the loop may be watching. The loop's registration must go before the number is
 * closed: otherwise a new socket that reuses the number would inherit a stale registration (and
 * its first wait would fail). Tasks still waiting on the fd are woken with EBADF. The loop owns
 * that registration, so closing is the loop's operation; streams call it instead of reaching into
 * the loop's waiters.
 */
import { Operation } from './operation';
import { currentTask } from './task';

/**
 * Drops the loop's interest in `fd` (waking its waiters with EBADF), then runs `close`. It never
 * suspends the task: a `finally` that only closes fds stays synchronous, so a halt that runs it
 * unwinds every caller (a `finally` that suspends cannot, see `ensure`).
 */

export function* closeFd(fd: number, close: () => void): Operation<void> {
  closeFdNow(fd, close);
}

/** {@link closeFd} outside an operation: what `Symbol.dispose` (a `using` block) runs. */
export function closeFdNow(fd: number, close: () => void): void {
  currentTask()?.loop.fds.forget(fd);
  close();
}
