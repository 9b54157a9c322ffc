/**
 * SIGINT/SIGTERM for logtail: stop without tearing a batch. While the task waits on the network
 * (connecting, reading, backing off) nothing is pending, so it is halted at once; while it writes a
 * batch or records the state, the request is noted and honoured at the next wait. A second signal
 * halts at once, for an output that no longer drains.
 */
import { Operation } from '../loop/operation';
import { Task } from '../loop/task';

/** Thrown out of a wait that a stop request ended. */
export class StopRequested extends Error {
  readonly code = 'ERR_LOGTAIL_STOPPED';
  constructor() {
    super('stopped by a signal');
  }
}

export class Stop {
  #requested = false;
  #task: Task<unknown> | undefined;
  #waiting = false;

  /** The task to halt. */
  attach(task: Task<unknown>): void {
    this.#task = task;
  }

  get requested(): boolean {
    return this.#requested;
  }

  /** A signal arrived. */
  request(): void {
    const again = this.#requested;
    this.#requested = true;
    if (again || this.#waiting) this.#task?.halt();
  }

  /** Runs `op` (a wait with nothing pending) so that a stop request ends it at once. */
  *wait<T>(op: Operation<T>): Operation<T> {
    if (this.#requested) throw new StopRequested();
    this.#waiting = true;
    let value: T;
    try {
      value = yield* op;
    } finally {
      this.#waiting = false;
    }
    // Reached after a halt too when some `finally` inside `op` waited: the halt must still stop us.
    if (this.#requested) throw new StopRequested();
    return value;
  }
}
