/**
 * Pollset: a typed readiness set over raw fds (epoll, kqueue or poll), with the fd→object map
 * kept here in JS. The kernel writes (fd, flags) pairs into one shared Int32Array; no JS object is
 * made per event until `events()` is read.
 */
import './dispose';
import { abortError, argTypeError, check, checkSignal, EINVAL, errnoOf, stateError, systemError } from './errors';
import { Flag, native, NativePollset } from './native';
import { EventBatches, PollEvent, WatchEventsOptions } from './pollset-batches';

const EBADF = errnoOf('EBADF');
const ENOENT = errnoOf('ENOENT');

/** Backend names. */
export type Backend = 'epoll' | 'kqueue' | 'poll';

export type { PollEvent };

/** Options of {@link Pollset.watch}. */
export interface WatchOptions {
  /** Aborting it stops watching, as `unwatch()` does. Already aborted: `watch` throws an `AbortError`. */
  signal?: AbortSignal;
}

/** How an fd is registered (`insert`, `update`). */
export interface InterestOptions {
  /**
   * Report the fd from one wait only, then disarm it — in the kernel too, so it wakes nobody — until
   * `update(fd, …)` re-arms it (even with the same events). The same on every backend: epoll
   * `EPOLLONESHOT`; kqueue deletes the fd's filters as it reports it and `update` adds them again
   * (libkqueue loses events when a filter is re-enabled after `EV_DISPATCH`); poll emulated.
   * `update` keeps the registration's mode unless given one.
   */
  oneshot?: boolean;
}

/** How a {@link Pollset} is made. */
export interface PollsetOptions {
  /** Defaults to the best compiled-in backend (`Pollset.backends[0]`). */
  backend?: Backend;
}

/**
 * The events array starts small and doubles as the set grows, up to MAX_EVENTS: most events one
 * wait() reports; more stay pending for the next wait (level-triggered). Small sets stay cheap.
 */
const MIN_EVENTS = 64;
const MAX_EVENTS = 4096;

interface Registration<T> {
  obj: T;
  oneshot: boolean;
  /** The wait() count when this registration was made: events of earlier waits are not its own. */
  since: number;
}

function parseEvents(events: string, fd: number, syscall: string): number {
  let interest = 0;
  for (const letter of typeof events === 'string' ? events : '') {
    if (letter === 'r') interest |= Flag.Read;
    else if (letter === 'w') interest |= Flag.Write;
    else if (letter === 'p') interest |= Flag.Priority;
    else throw systemError(EINVAL, syscall, { fd });
  }
  if (interest === 0) throw systemError(EINVAL, syscall, { fd });
  return interest;
}

function parseOptions(options: InterestOptions | undefined, fd: number, syscall: string): boolean | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) {
    throw argTypeError(`${syscall}(fd ${fd}, events, obj, options): options must be an object`);
  }
  const { oneshot } = options;
  if (oneshot !== undefined && typeof oneshot !== 'boolean') {
    throw argTypeError(`${syscall}(fd ${fd}, events, obj, options): options.oneshot must be a boolean`);
  }
  return oneshot;
}

function checkFd(fd: number, syscall: string): void {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw systemError(EINVAL, syscall, { fd });
}

/**
 * A set of file descriptors to wait on. `T` is what you attach to each fd (defaults to the fd).
 *
 * ```ts
 * const ps = new Pollset<string>();
 * ps.insert(fd, 'r', 'my pipe');
 * if (ps.wait(1000) > 0) for (const ev of ps.events()) console.log(ev.obj, ev.read);
 * ```
 */
export class Pollset<T = number> implements Disposable {
  /** Compiled-in backends, best first, e.g. `['epoll', 'poll']`. */
  static readonly backends: readonly Backend[] = Object.freeze(native.backends() as Backend[]);

  /** The bits of the `flags` that {@link forEachEvent} passes: one per boolean of a {@link PollEvent}. */
  static readonly flags: Readonly<Record<'read' | 'write' | 'priority' | 'hangup' | 'error', number>> = Object.freeze({
    read: Flag.Read,
    write: Flag.Write,
    priority: Flag.Priority,
    hangup: Flag.Hangup,
    error: Flag.Error,
  });

  /** The backend in use. */
  readonly backend: Backend;

  #native: NativePollset | null;
  #events = new Int32Array(MIN_EVENTS * 2);
  readonly #regs: (Registration<T> | undefined)[] = [];
  #size = 0;
  #count = 0;
  #waits = 0;
  readonly #closeListeners = new Set<() => void>();
  /** Stops listening to the signal of the current watch, if it has one. */
  #unlistenAbort: (() => void) | undefined;

  constructor(options: PollsetOptions = {}) {
    const backend = options.backend ?? Pollset.backends[0];
    if (!Pollset.backends.includes(backend)) {
      const err = systemError(EINVAL, 'pollset');
      err.message += `: backend ${String(backend)} is not one of ${Pollset.backends.join(', ')}`;
      throw err;
    }
    const handle = new native.Pollset(backend, this.#events);
    if (handle.error) throw systemError(handle.error, backend === 'poll' ? 'pollset' : `${backend}_create`);
    this.#native = handle;
    this.backend = backend;
  }

  /** Number of registered fds. */
  get size(): number {
    this.#open();
    return this.#size;
  }

  /**
   * Registers `fd` for `events` (letters: r readable, w writable, p priority); `obj` defaults to the fd.
   * `{ oneshot: true }`: reported by one wait, then disarmed until `update` (see {@link InterestOptions}).
   * A regular file or a directory is refused with `EPERM` on every backend (it is always ready).
   */
  insert(fd: number, events: string, obj?: T, options?: InterestOptions): void {
    const handle = this.#open();
    checkFd(fd, 'insert');
    const interest = parseEvents(events, fd, 'insert');
    const oneshot = parseOptions(options, fd, 'insert') ?? false;
    const stale = this.#regs[fd];
    check(handle.insert(fd, interest | (oneshot ? Flag.Oneshot : 0)), 'insert', { fd });
    // A registration whose fd was closed and reused without remove() is replaced.
    if (!stale) this.#size++;
    if (this.#size * 2 > this.#events.length && this.#events.length < MAX_EVENTS * 2) this.#grow(handle);
    this.#regs[fd] = { obj: obj === undefined ? (fd as unknown as T) : obj, oneshot, since: this.#waits };
  }

  /**
   * Changes the events of a registered fd, and re-arms a one-shot registration; `obj` is kept when
   * omitted (pass `undefined` to keep it while giving options), and so is the one-shot mode.
   */
  update(fd: number, events: string, obj?: T, options?: InterestOptions): void {
    const handle = this.#open();
    checkFd(fd, 'update');
    const interest = parseEvents(events, fd, 'update');
    const reg = this.#regs[fd];
    const oneshot = parseOptions(options, fd, 'update') ?? reg?.oneshot ?? false;
    const result = handle.update(fd, interest | (oneshot ? Flag.Oneshot : 0));
    // The native pollset drops a registration whose file is gone, and says so: EBADF (the fd is
    // closed) or ENOENT (the number now names another file, or was never registered). Either way it
    // no longer holds the fd, so neither does this registry; any other error leaves it registered.
    if (result === -EBADF || result === -ENOENT) this.#forget(fd);
    check(result, 'update', { fd });
    if (reg && obj !== undefined) reg.obj = obj;
    if (reg) reg.oneshot = oneshot;
  }

  /** Whether `fd` is registered (a registration that `update` found closed is not). */
  has(fd: number): boolean {
    this.#open();
    return this.#regs[fd] !== undefined;
  }

  /** Unregisters `fd`. Works for an fd already closed; pending events of it are not delivered. */
  remove(fd: number): void {
    const handle = this.#open();
    checkFd(fd, 'remove');
    check(handle.remove(fd), 'remove', { fd });
    this.#forget(fd);
  }

  /**
   * Blocks until an fd is ready or `timeoutMs` passes (negative: forever; fractions round up).
   * Returns the number of ready fds; a signal interrupting the wait returns 0.
   */
  wait(timeoutMs = -1): number {
    const handle = this.#open();
    if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs)) throw systemError(EINVAL, 'wait');
    this.#waits++;
    this.#count = check(handle.wait(timeoutMs), 'wait');
    return this.#count;
  }

  /** The events of the last wait. An fd removed meanwhile is skipped; one added meanwhile is not reported. */
  *events(): IterableIterator<PollEvent<T>> {
    const events = this.#events;
    const wait = this.#waits;
    for (let i = 0; i < this.#count && wait === this.#waits; i++) {
      const fd = events[2 * i];
      const flags = events[2 * i + 1];
      const reg = this.#regs[fd];
      if (!reg || reg.since >= wait) continue;
      yield {
        fd,
        obj: reg.obj,
        read: (flags & Flag.Read) !== 0,
        write: (flags & Flag.Write) !== 0,
        priority: (flags & Flag.Priority) !== 0,
        hangup: (flags & Flag.Hangup) !== 0,
        error: (flags & Flag.Error) !== 0,
      };
    }
  }

  /**
   * The same events as {@link events}, with the same skipping rules, as `onEvent(fd, flags)` calls
   * where `flags` is a set of {@link Pollset.flags} bits: no object per event, for a dispatcher on a
   * hot path (the loop's scheduler uses it). The fd's `obj` is not passed: the caller maps fds itself.
   */
  forEachEvent(onEvent: (fd: number, flags: number) => void): void {
    const events = this.#events;
    const wait = this.#waits;
    for (let i = 0; i < this.#count && wait === this.#waits; i++) {
      const fd = events[2 * i];
      const reg = this.#regs[fd];
      if (!reg || reg.since >= wait) continue;
      onEvent(fd, events[2 * i + 1]);
    }
  }

  /**
   * Delivers events inside Node's event loop without blocking it: `onReady(count)` runs whenever
   * events are pending, already collected (read them with `events()`). The process stays alive
   * while fds are registered; `unwatch()`, `close()` or aborting `options.signal` stops.
   */
  watch(onReady: (count: number) => void, options: WatchOptions = {}): void {
    const handle = this.#open();
    if (typeof onReady !== 'function') throw argTypeError('watch(onReady): onReady must be a function');
    const signal = checkSignal(options?.signal);
    if (signal?.aborted) throw abortError(signal);
    check(
      handle.watch((count) => {
        this.#waits++;
        if (count < 0) {
          this.#count = 0;
          throw systemError(count, 'wait');
        }
        this.#count = count;
        onReady(count);
      }),
      'watch',
    );
    if (signal) {
      const onAbort = (): void => {
        if (this.#native) this.unwatch();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#unlistenAbort = () => signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * The events of each wait as one array, for `for await`, inside Node's loop:
   *
   * ```ts
   * for await (const batch of ps.watchEvents({ signal })) for (const ev of batch) handle(ev);
   * ```
   *
   * The pollset is watched only while the loop body waits for the next batch, so a body that
   * awaits is never told about readiness older than what it last acted on, and no batch is lost or
   * repeated. Ends on `break` and on `close()`; throws an `AbortError` when `signal` aborts. Uses the
   * pollset's watch: one watcher at a time (`watch` meanwhile is EALREADY).
   */
  watchEvents(options: WatchEventsOptions = {}): EventBatches<T> {
    this.#open();
    return new EventBatches<T>(
      {
        watch: (onReady) => this.watch(onReady),
        unwatch: () => this.unwatch(),
        events: () => this.events(),
        onClose: (listener) => {
          this.#closeListeners.add(listener);
          return () => this.#closeListeners.delete(listener);
        },
      },
      options,
    );
  }

  /** Stops watching; registrations stay. */
  unwatch(): void {
    this.#open().unwatch();
    this.#unlistenAbort?.();
    this.#unlistenAbort = undefined;
  }

  /** Releases the kernel object and every registration. Idempotent; any other call afterwards throws. */
  close(): void {
    if (!this.#native) return;
    this.#native.close();
    this.#native = null;
    this.#regs.length = 0;
    this.#size = 0;
    this.#count = 0;
    this.#unlistenAbort?.();
    this.#unlistenAbort = undefined;
    for (const listener of [...this.#closeListeners]) listener();
    this.#closeListeners.clear();
  }

  /** `using ps = new Pollset()` closes it at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }

  #open(): NativePollset {
    if (!this.#native) throw stateError('pollset is closed');
    return this.#native;
  }

  #grow(handle: NativePollset): void {
    // Only between waits: events() of the last wait keeps reading the array it was written to.
    const grown = new Int32Array(Math.min(MAX_EVENTS, this.#events.length) * 2);
    grown.set(this.#events);
    this.#events = grown;
    handle.setEvents(grown);
  }

  #forget(fd: number): void {
    if (this.#regs[fd]) {
      this.#regs[fd] = undefined;
      this.#size--;
    }
  }
}
