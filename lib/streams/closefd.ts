/**
 * Closing an fd the loop may be watching. The loop's registration must go before the number is
 * closed: otherwise a new socket that reuses the number would inherit a stale registration (and
 * its first wait would fail). Tasks still waiting on the fd are woken with EBADF.
 */
import { next, Operation, perform } from '../loop/operation';

/** Drops the loop's interest in `fd` (waking its waiters with EBADF), then runs `close`. */
export function* closeFd(fd: number, close: () => void): Operation<void> {
  yield* perform<void>((task) => {
    task.loop.fds.forget(fd);
    return next();
  });
  close();
}
