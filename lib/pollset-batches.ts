/**
 * `for await` over a pollset: each wait's events as one array, inside Node's loop.
 *
 * Waits are pulled, not pushed. The pollset is watched only while the consumer asks for the next
 * batch: when it takes its time over a batch (it awaits something), watching pauses, so the kernel
 * is asked again only once the consumer has acted on what it was told. A readiness it has already
 * consumed is then never reported from an older wait, and a one-shot registration, disarmed by the
 * wait that reported it, is never reported in a batch that is thrown away: every batch a wait
 * produced is delivered once, in order.
 */
import './dispose';
import { abortError, checkSignal } from './errors';

/** One ready fd from the last wait. */
export interface PollEvent<T> {
  /** The ready file descriptor. */
  fd: number;
  /** The object registered with the fd (`insert(fd, interest, obj)`). */
  obj: T;
  /** Readable: a read would not block (data, a pending connection, or end of file). */
  read: boolean;
  /** Writable: a write would not block. */
  write: boolean;
  /** Priority data is readable (POLLPRI / EPOLLPRI: TCP urgent data, some device files). */
  priority: boolean;
  /** The peer hung up (POLLHUP / EPOLLHUP / EV_EOF); reads return what is left, then end of file. */
  hangup: boolean;
  /** An error is pending on the fd (POLLERR / EPOLLERR); the next operation on it reports it. */
  error: boolean;
}

/** @internal What the batches need from their pollset. */
export interface BatchSource<T> {
  watch(onReady: () => void): void;
  unwatch(): void;
  events(): IterableIterator<PollEvent<T>>;
  /** Calls `listener` once when the pollset closes; returns how to stop listening. */
  onClose(listener: () => void): () => void;
}

/** Options of the pollset's event-batch iteration. */
export interface WatchEventsOptions {
  /** Ends the iteration: the pending and every later `next()` reject with an `AbortError` (the signal's reason as `cause`). */
  signal?: AbortSignal;
}

type Pending<T> = { resolve: (r: IteratorResult<PollEvent<T>[], undefined>) => void; reject: (e: unknown) => void };

/**
 * The iterator `Pollset.watchEvents()` returns. It ends (done) on `break`/`return()` and when the
 * pollset is closed; it throws an `AbortError` when its signal aborts. Once it has ended nothing of
 * it stays behind: the pollset is no longer watched and Node may exit.
 */
export class EventBatches<T> implements AsyncIterableIterator<PollEvent<T>[], undefined>, AsyncDisposable {
  readonly #source: BatchSource<T>;
  readonly #signal: AbortSignal | undefined;
  /** Batches a wait produced while nobody was asking (rare: the pause came a turn late). */
  readonly #queue: PollEvent<T>[][] = [];
  #pending: Pending<T> | undefined;
  #watching = false;
  #pauseCheck: NodeJS.Immediate | undefined;
  /** Why the iteration is over: done, or the error every later `next()` rejects with. */
  #end: { error?: unknown } | undefined;
  readonly #stopClose: () => void;
  readonly #onAbort = (): void => this.#finish({ error: abortError(this.#signal!) });

  /** @internal Use `Pollset.watchEvents()`. */
  constructor(source: BatchSource<T>, options: WatchEventsOptions = {}) {
    this.#source = source;
    this.#signal = checkSignal(options?.signal);
    this.#stopClose = source.onClose(() => this.#finish({}));
    if (this.#signal?.aborted) this.#finish({ error: abortError(this.#signal) });
    else this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next wait's events (never empty), waiting inside Node's loop until there are some. */
  next(): Promise<IteratorResult<PollEvent<T>[], undefined>> {
    if (this.#end) return this.#ended();
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve({ done: false, value: queued });
    if (this.#pending)
      return Promise.reject(new Error('watchEvents: next() called again before the previous one settled'));
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      if (this.#watching) return;
      try {
        this.#source.watch(() => this.#onReady());
        this.#watching = true;
      } catch (err) {
        this.#finish({ error: err });
      }
    });
  }

  /** Stops: what `break` calls. Idempotent. */
  return(): Promise<IteratorResult<PollEvent<T>[], undefined>> {
    this.#finish({});
    return Promise.resolve({ done: true, value: undefined });
  }

  /** `await using` support: the same as `return()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }

  #onReady(): void {
    const batch = [...this.#source.events()];
    if (batch.length === 0) return; // every event belonged to an fd removed meanwhile
    const pending = this.#pending;
    if (!pending) {
      this.#queue.push(batch);
      this.#pause();
      return;
    }
    this.#pending = undefined;
    pending.resolve({ done: false, value: batch });
    // A consumer that handles the batch synchronously has asked again before the check phase of
    // this loop turn; one that awaits something has not, and the kernel is left alone until it does.
    this.#pauseCheck ??= setImmediate(() => {
      this.#pauseCheck = undefined;
      if (!this.#pending) this.#pause();
    });
  }

  #pause(): void {
    if (!this.#watching) return;
    this.#watching = false;
    this.#source.unwatch();
  }

  #finish(end: { error?: unknown }): void {
    if (this.#end) return;
    this.#end = end;
    this.#queue.length = 0;
    if (this.#pauseCheck) clearImmediate(this.#pauseCheck);
    this.#pauseCheck = undefined;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#stopClose();
    try {
      this.#pause();
    } catch {
      // The pollset is closed: nothing is watched any more.
    }
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending) this.#ended().then(pending.resolve, pending.reject);
  }

  #ended(): Promise<IteratorResult<PollEvent<T>[], undefined>> {
    const end = this.#end!;
    if ('error' in end) {
      // Thrown once; afterwards the iteration is simply over, like any finished iterator.
      const { error } = end;
      this.#end = {};
      return Promise.reject(error);
    }
    return Promise.resolve({ done: true, value: undefined });
  }
}
