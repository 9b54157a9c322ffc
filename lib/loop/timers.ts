/**
 * Time: a binary min-heap of timers with per-timer cancellation, and the `sleep` and `timeout`
 * operations built on it. Deadlines are in `performance.now()` milliseconds.
 */
import { performance } from 'perf_hooks';
import { abortable, interruptible } from './interrupt';
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

/**
 * The longest single wait handed to a Node timer or to `Pollset.wait` (2³¹−1 ms, about 24.8 days):
 * Node turns anything longer into 1 ms, and a deadline further away is simply re-armed on waking.
 */
export const MAX_WAIT_MS = 2 ** 31 - 1;

/**
 * Checks a delay given to `sleep` or `timeout`: a number, not NaN. Negative delays count as 0 (a
 * deadline computed as "time left" may already have passed); `Infinity` means never.
 */
export function checkDelay(ms: unknown, name = 'ms'): number {
  if (typeof ms !== 'number') {
    const err = new TypeError(`The "${name}" argument must be of type number, not ${ms === null ? 'null' : typeof ms}`);
    (err as TypeError & { code: string }).code = 'ERR_INVALID_ARG_TYPE';
    throw err;
  }
  if (Number.isNaN(ms)) {
    const err = new RangeError(`The "${name}" argument must be a number of milliseconds, not NaN`);
    (err as RangeError & { code: string }).code = 'ERR_OUT_OF_RANGE';
    throw err;
  }
  return Math.max(0, ms);
}

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

  /** Called when a timer is added (the loop's driver may have to wake up sooner). */
  onAdd: (() => void) | undefined;

  /** Calls `fire` once `deadline` has passed (unless cancelled first). `deadline` must be a finite number. */
  add(deadline: number, fire: () => void): Timer {
    if (!Number.isFinite(deadline)) throw new RangeError(`timer deadline must be a finite number, not ${deadline}`);
    const t = new HeapTimer(this, deadline, this.#seq++, fire);
    t.index = this.#heap.length;
    this.#heap.push(t);
    this.#up(t.index);
    this.onAdd?.();
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

/** A timer that never fires: `Infinity` needs no heap entry. */
const NEVER: Timer = { deadline: Infinity, cancel() {} };

/**
 * Suspends the calling task for at least `ms` milliseconds. A negative `ms` counts as 0;
 * `Infinity` sleeps until the task is halted.
 *
 * @throws TypeError (`code` `ERR_INVALID_ARG_TYPE`) when `ms` is not a number.
 * @throws RangeError (`code` `ERR_OUT_OF_RANGE`) when `ms` is NaN.
 */
export function sleep(ms: number): Operation<void> {
  const delay = checkDelay(ms);
  return perform<void>((task) => {
    const timer = delay === Infinity ? NEVER : task.loop.timers.add(now() + delay, () => task.wake(next()));
    task.block(delay === Infinity ? 'sleeping forever' : 'sleeping', () => timer.cancel());
    return undefined;
  });
}

/** The error a `timeout` throws: `code === 'ETIMEDOUT'`. */
export interface TimeoutError extends Error {
  /** Always `'ETIMEDOUT'`. */
  code: 'ETIMEDOUT';
}

// The errors timeout() made: a system error has the same code (a connection the kernel gave up on).
const deadlines = new WeakSet<Error>();

function timeoutError(ms: number): TimeoutError {
  const err = new Error(`ETIMEDOUT: operation timed out after ${ms} ms`) as TimeoutError;
  err.code = 'ETIMEDOUT';
  deadlines.add(err);
  return err;
}

/** Whether `err` is a {@link timeout}'s deadline passing, rather than some other ETIMEDOUT. */
export function isTimeoutError(err: unknown): err is TimeoutError {
  return err instanceof Error && deadlines.has(err);
}

/**
 * Runs `op` in the calling task with a deadline. When `ms` passes first, whatever `op` waits on is
 * released (fd interest, timers, mailbox places), `op`'s `finally` blocks run, and a
 * {@link TimeoutError} is thrown. When `op` finishes first the deadline is cancelled and never fires.
 * A negative `ms` counts as 0; `Infinity` sets no deadline. With `options.signal`, an abort
 * before the deadline ends `op` the same way with an `AbortError` (see {@link abortable}).
 *
 * @throws TypeError (`code` `ERR_INVALID_ARG_TYPE`) when `ms` is not a number or the signal not an AbortSignal.
 * @throws RangeError (`code` `ERR_OUT_OF_RANGE`) when `ms` is NaN.
 */
export function timeout<T>(ms: number, op: Operation<T>, options: { signal?: AbortSignal } = {}): Operation<T> {
  const delay = checkDelay(ms);
  return abortable(options?.signal, delay === Infinity ? op : withDeadline(delay, ms, op));
}

function withDeadline<T>(delay: number, ms: number, op: Operation<T>): Operation<T> {
  return interruptible((interrupt, task) => {
    const error = timeoutError(ms);
    const timer = task.loop.timers.add(now() + delay, () => interrupt(error));
    return () => timer.cancel();
  }, op);
}
