/**
 * Time: a binary min-heap of timers with per-timer cancellation, and the `sleep` and `timeout`
 * operations built on it. Deadlines are in `performance.now()` milliseconds.
 */
import { performance } from 'perf_hooks';
import { next, Operation, perform } from './operation';

/** A pending timer; `cancel()` removes it from its heap (idempotent). */
export interface Timer {
  readonly deadline: number;
  cancel(): void;
}

class HeapTimer implements Timer {
  /** Position in the heap; -1 once fired or cancelled. */
  index = -1;
  constructor(
    readonly heap: TimerHeap,
    readonly deadline: number,
    readonly seq: number,
    readonly fire: () => void,
  ) {}
  cancel(): void {
    this.heap.remove(this);
  }
}

/** The current time on the loop's clock. */
export const now = (): number => performance.now();

/** Timers ordered by deadline, then by creation (equal deadlines fire in the order they were set). */
export class TimerHeap {
  #heap: HeapTimer[] = [];
  #seq = 0;

  /** Pending timers. */
  get size(): number {
    return this.#heap.length;
  }

  /** The earliest deadline, or undefined when no timer is pending. */
  get next(): number | undefined {
    return this.#heap[0]?.deadline;
  }

  /** Calls `fire` once `deadline` has passed (unless cancelled first). */
  add(deadline: number, fire: () => void): Timer {
    const t = new HeapTimer(this, deadline, this.#seq++, fire);
    t.index = this.#heap.length;
    this.#heap.push(t);
    this.#up(t.index);
    return t;
  }

  /** @internal Used by Timer.cancel. */
  remove(t: HeapTimer): void {
    const i = t.index;
    if (i < 0) return;
    t.index = -1;
    const last = this.#heap.pop()!;
    if (i < this.#heap.length) {
      this.#heap[i] = last;
      last.index = i;
      this.#down(i);
      this.#up(last.index);
    }
  }

  /** Fires every timer due at `time`; timers added meanwhile wait for the next call. Returns the count. */
  fireDue(time: number): number {
    let fired = 0;
    const limit = this.#seq;
    while (this.#heap.length > 0 && this.#heap[0].deadline <= time && this.#heap[0].seq < limit) {
      const t = this.#heap[0];
      this.remove(t);
      fired++;
      t.fire();
    }
    return fired;
  }

  #less(a: HeapTimer, b: HeapTimer): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
  }

  #swap(i: number, j: number): void {
    const h = this.#heap;
    [h[i], h[j]] = [h[j], h[i]];
    h[i].index = i;
    h[j].index = j;
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(this.#heap[i], this.#heap[parent])) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const n = this.#heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.#less(this.#heap[l], this.#heap[m])) m = l;
      if (r < n && this.#less(this.#heap[r], this.#heap[m])) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }
}

/** Suspends the calling task for at least `ms` milliseconds. */
export function sleep(ms: number): Operation<void> {
  return perform<void>((task) => {
    const timer = task.loop.timers.add(now() + Math.max(0, ms), () => task.wake(next()));
    task.block('sleeping', () => timer.cancel());
    return undefined;
  });
}

/** The error a `timeout` throws: `code === 'ETIMEDOUT'`. */
export interface TimeoutError extends Error {
  code: 'ETIMEDOUT';
}

function timeoutError(ms: number): TimeoutError {
  const err = new Error(`ETIMEDOUT: operation timed out after ${ms} ms`) as TimeoutError;
  err.code = 'ETIMEDOUT';
  return err;
}

/**
 * Runs `op` in the calling task with a deadline. When `ms` passes first, whatever `op` waits on is
 * released (fd interest, timers, mailbox places), `op`'s `finally` blocks run, and a
 * {@link TimeoutError} is thrown. When `op` finishes first the deadline is cancelled and never fires.
 */
export function* timeout<T>(ms: number, op: Operation<T>): Operation<T> {
  const deadline = yield* perform<Timer>((task) => {
    const error = timeoutError(ms);
    const timer = task.loop.timers.add(now() + Math.max(0, ms), () => task.interrupt(error));
    return next({
      deadline: timer.deadline,
      cancel() {
        timer.cancel();
        task.clearInterrupt(error); // it fired while the task was already queued: it must not land later
      },
    });
  });
  try {
    return yield* op;
  } finally {
    deadline.cancel();
  }
}
