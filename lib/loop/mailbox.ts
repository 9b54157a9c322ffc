/**
 * Mailboxes: bounded FIFO channels between tasks (and from ordinary Node code into tasks).
 * This is the only way values reach a task: a task receives data only while it is explicitly
 * taking from a mailbox, never while it waits on I/O.
 */
import { errnoOf, systemError } from '../errors';
import { fail, next, Operation, perform } from './operation';
import type { Task } from './task';

/** What `take()` returns once the mailbox is closed and drained. */
export const CLOSED: unique symbol = Symbol('CLOSED');
/** The type of {@link CLOSED}: what `take` returns from a mailbox that is closed and empty. */
export type Closed = typeof CLOSED;

interface Putter<T> {
  task: Task<unknown>;
  value: T;
}

function closedError(): Error {
  const err = systemError(errnoOf('EPIPE'), 'put');
  err.message = 'EPIPE: mailbox is closed, put';
  return err;
}

/**
 * A bounded mailbox of `T`.
 *
 * ```ts
 * const box = new Mailbox<string>(64);
 * yield* box.put('hello');              // waits while the mailbox is full
 * const msg = yield* box.take();        // waits while it is empty
 * if (msg === CLOSED) return;           // closed and drained
 * ```
 *
 * `close()` lets takers drain what is buffered, then they get {@link CLOSED}; putting into a
 * closed mailbox (and any put still waiting when it closes) throws an error with `code === 'EPIPE'`.
 */
export class Mailbox<T> {
  /** Most values buffered at once. */
  readonly capacity: number;
  #items: T[] = [];
  #head = 0;
  #takers = new Set<Task<unknown>>();
  /**
   * Takers woken because a value was put for them, not yet run, and those values in put order. The
   * values stay here until a taker runs: one halted before it runs leaves its value to the next
   * waiting taker, or to the front of the buffer, instead of taking it down with it.
   */
  #promised = new Set<Task<unknown>>();
  #handed: T[] = [];
  #putters = new Set<Putter<T>>();
  #closed = false;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('Mailbox capacity must be an integer >= 1');
    this.capacity = capacity;
  }

  /** Values buffered (not counting those already handed to a woken taker that has yet to run). */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Adds `value`, waiting while the mailbox is full. Throws EPIPE once closed. */
  put(value: T): Operation<void> {
    return perform<void>((task) => {
      if (this.tryPut(value)) return next();
      const putter = { task, value };
      this.#putters.add(putter);
      task.block('putting into mailbox', () => this.#putters.delete(putter));
      return undefined;
    });
  }

  /** Adds `value` if there is room: true if added, false if full. Throws EPIPE once closed. Usable outside tasks. */
  tryPut(value: T): boolean {
    if (this.#closed) throw closedError();
    const taker = this.#first(this.#takers);
    if (taker) {
      this.#handed.push(value);
      this.#promise(taker);
      return true;
    }
    if (this.size >= this.capacity) return false;
    this.#items.push(value);
    return true;
  }

  /** The oldest value, waiting while empty; {@link CLOSED} once closed and drained. */
  *take(): Operation<T | Closed> {
    if (this.size > 0) return this.#shift();
    if (this.#closed) return CLOSED;
    let me: Task<unknown> | undefined;
    let resumed = false;
    try {
      yield* perform<void>((task) => {
        me = task;
        this.#takers.add(task);
        task.block('taking from mailbox', () => this.#takers.delete(task));
        return undefined;
      });
      resumed = true;
    } finally {
      if (!resumed && this.#promised.delete(me!)) this.#passOn();
    }
    // Woken by a put (a value was handed over) or by close (CLOSED once drained).
    if (this.#promised.delete(me!)) return this.#handed.shift()!;
    return this.size > 0 ? this.#shift() : CLOSED;
  }

  /** The oldest value if any, else {@link CLOSED} when closed, else undefined. Usable outside tasks. */
  tryTake(): T | Closed | undefined {
    if (this.size > 0) return this.#shift();
    return this.#closed ? CLOSED : undefined;
  }

  /** Closes: waiting takers get {@link CLOSED} (after the buffered values), waiting putters EPIPE. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const takers = [...this.#takers];
    this.#takers.clear();
    for (const t of takers) t.wake(next());
    const putters = [...this.#putters];
    this.#putters.clear();
    for (const p of putters) p.task.wake(fail(closedError()));
  }

  #promise(taker: Task<unknown>): void {
    this.#takers.delete(taker);
    this.#promised.add(taker);
    taker.wake(next());
  }

  /**
   * A taker that was handed a value went away before it ran: that value (the newest handed, as
   * takers run in the order they were woken) goes to the longest-waiting taker, else back to the
   * front of the buffer, ahead of every value put after it.
   */
  #passOn(): void {
    const taker = this.#first(this.#takers);
    if (taker) {
      this.#promise(taker);
      return;
    }
    const value = this.#handed.pop()!;
    if (this.#head > 0) this.#items[--this.#head] = value;
    else this.#items.unshift(value);
  }

  #shift(): T | Closed {
    if (this.size === 0) return CLOSED;
    const value = this.#items[this.#head];
    this.#items[this.#head++] = undefined as T;
    if (this.#head * 2 > this.#items.length && this.#head > 64) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    // Room was made: the longest-waiting putter's value moves in and it goes on.
    const putter = this.size < this.capacity ? this.#first(this.#putters) : undefined;
    if (putter) {
      this.#putters.delete(putter);
      this.#items.push(putter.value);
      putter.task.wake(next());
    }
    return value;
  }

  #first<X>(set: Set<X>): X | undefined {
    for (const x of set) return x;
    return undefined;
  }
}
