/**
 * The loop: one pollset, one timer heap, one run queue, and the tasks they serve.
 *
 * A turn is: collect ready fds and move their waiters to the run queue; fire due timers; run one
 * pass of the run queue; bring fd registrations down to what the waiters still need. Two drivers
 * repeat turns: `run()` inside Node's own loop, and `runBlocking()` which is the seed's eventloop.
 */
import '../dispose';
import { abortError, checkSignal } from '../errors';
import { Backend, Pollset } from '../pollset';
import { FdWaiters } from './fdwaiters';
import { Operation } from './operation';
import { RunQueue } from './runqueue';
import { Task } from './task';
import { MAX_WAIT_MS, now, TimerHeap } from './timers';

/** Reports a task that failed with nobody joining it or awaiting its promise. */
export type ErrorHandler = (error: unknown, task: Task<unknown>) => void;

/** How a {@link Loop} is made. */
export interface LoopOptions {
  /** Pollset backend; defaults to the best compiled in (`Pollset.backends[0]`). */
  backend?: Backend;
  /** Called for a task that crashed unobserved; default: `console.error` with the stack. The loop goes on. */
  onError?: ErrorHandler;
}

/** Options of {@link Loop.run}. */
export interface RunOptions {
  /**
   * Aborting it halts every task (their `finally` blocks run, cleanup that waits is still driven),
   * and then the promise rejects with an `AbortError` whose `cause` is the signal's reason.
   */
  signal?: AbortSignal;
}

/** Counters for tests and monitoring. */
export interface LoopStats {
  /** Tasks not finished. */
  tasks: number;
  /** Entries in the run queue. */
  queued: number;
  /** Pending timers (sleeps and timeouts). */
  timers: number;
  /** fds registered in the pollset. */
  pollsetSize: number;
  /** Tasks blocked on fd readiness. */
  fdWaiters: number;
}

const defaultOnError: ErrorHandler = (error, task) => {
  console.error(`pollset: task ${task.id} crashed:`, error);
};

/**
 * A scheduler for tasks.
 *
 * ```ts
 * const loop = new Loop();
 * const task = loop.spawn(function* () { yield* sleep(10); return 42; });
 * await loop.run();        // integrated: Node's loop stays free; resolves when no task is left
 * loop.close();
 * ```
 */
export class Loop implements Disposable, AsyncDisposable {
  /** @internal */
  readonly timers = new TimerHeap();
  /** @internal */
  readonly fds: FdWaiters;
  readonly #pollset: Pollset<number>;
  readonly #runq = new RunQueue<Task<unknown>>();
  readonly #tasks = new Set<Task<unknown>>();
  readonly #onError: ErrorHandler;
  #mode: 'idle' | 'integrated' | 'blocking' = 'idle';
  /** An integrated turn is running: it looks at the run queue when it ends, so nobody needs to kick. */
  #inTurn = false;
  #immediate: NodeJS.Immediate | undefined;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  readonly #dispatch = (fd: number, flags: number): void => this.fds.dispatch(fd, flags);
  #running: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | undefined;
  /** The signal that aborted the current run: when the last task is gone, the run rejects with its AbortError. */
  #abortedBy: AbortSignal | undefined;
  readonly #abortListeners: (() => void)[] = [];

  constructor(options: LoopOptions = {}) {
    this.#pollset = new Pollset<number>({ backend: options.backend });
    this.fds = new FdWaiters(this.#pollset);
    this.#onError = options.onError ?? defaultOnError;
    this.timers.onAdd = () => this.#changed();
  }

  /** The pollset backend in use. */
  get backend(): Backend {
    return this.#pollset.backend;
  }

  /** Counters: tasks, run queue, timers, pollset size, fd waiters. */
  get stats(): LoopStats {
    return {
      tasks: this.#tasks.size,
      queued: this.#runq.length,
      timers: this.timers.size,
      pollsetSize: this.#pollset.size,
      fdWaiters: this.fds.waiting,
    };
  }

  /** Starts `op` (a generator function or a generator) as a new task of this loop; it runs on a later turn. */
  spawn<T>(op: Operation<T> | (() => Operation<T>)): Task<T> {
    const task = new Task<T>(this, typeof op === 'function' ? op() : op);
    this.#tasks.add(task);
    this.enqueue(task);
    return task;
  }

  /**
   * Integrated mode: runs the tasks inside Node's event loop (the pollset is watched by libuv, the
   * next deadline is a Node timer, run-queue passes are `setImmediate`s), so promises, Node timers
   * and other I/O keep running. Resolves when no task is left. Calling it again while running
   * returns the same promise (a signal given then aborts that same run).
   */
  run(options: RunOptions = {}): Promise<void> {
    let signal: AbortSignal | undefined;
    try {
      signal = checkSignal(options?.signal);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#mode === 'blocking') return Promise.reject(new Error('loop is running in blocking mode'));
    if (this.#running) {
      this.#listen(signal);
      return this.#running.promise;
    }
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#running = { promise, resolve, reject };
    this.#mode = 'integrated';
    this.#listen(signal);
    try {
      this.#pollset.watch(() => this.#integrated(true));
    } catch (err) {
      this.#stop(err);
      return promise;
    }
    this.#kick();
    return promise;
  }

  /**
   * Blocking mode, the seed's eventloop: `wait(next deadline)`, dispatch ready fds, fire timers, run
   * the run queue, until `done()` returns true or no task is left. Fastest, but nothing else in this
   * thread (promises, Node timers, Node I/O) runs until it returns: use it in a process or worker
   * that does nothing else. Throws when the remaining tasks can never be resumed (a deadlock).
   */
  runBlocking(done?: () => boolean): void {
    if (this.#mode !== 'idle') throw new Error(`loop is already running in ${this.#mode} mode`);
    this.#mode = 'blocking';
    try {
      while (this.#tasks.size > 0 && !done?.()) {
        let timeout = -1;
        if (this.#runq.length > 0) timeout = 0;
        else if (this.timers.next !== undefined) timeout = Math.min(MAX_WAIT_MS, Math.max(0, Math.ceil(this.timers.next - now())));
        else if (this.fds.waiting === 0) throw this.#deadlock();
        if (this.#pollset.size > 0 || timeout > 0) {
          if (this.#pollset.wait(timeout) > 0) this.#pollset.forEachEvent(this.#dispatch);
        }
        this.#turn();
      }
    } finally {
      this.#mode = 'idle';
    }
  }

  /** Halts every task, stops running and releases the pollset. */
  close(): void {
    this.#haltAll();
    this.#stop();
    this.#pollset.close();
  }

  /** `using loop = new Loop()`: {@link close} at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * `await using loop = new Loop()`: at the end of the block every task is halted and its cleanup,
   * even cleanup that waits (`ensure`), is run to the end in integrated mode; then the loop closes.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#mode === 'blocking') throw new Error('loop is running in blocking mode');
    this.#haltAll();
    try {
      if (this.#tasks.size > 0) await this.run();
    } finally {
      this.close();
    }
  }

  #haltAll(): void {
    for (const task of [...this.#tasks]) task.halt();
  }

  /** Makes `signal` abort the current integrated run. */
  #listen(signal: AbortSignal | undefined): void {
    if (!signal) return;
    const onAbort = (): void => {
      this.#abortedBy ??= signal;
      this.#haltAll();
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    this.#abortListeners.push(() => signal.removeEventListener('abort', onAbort));
  }

  /** @internal A task became ready. */
  enqueue(task: Task<unknown>): void {
    this.#runq.push(task);
    this.#changed();
  }

  /** @internal A task finished; `crash` is set when it failed and nobody was watching. */
  finished(task: Task<unknown>, crash?: { error: unknown }): void {
    this.#tasks.delete(task);
    if (crash) {
      try {
        this.#onError(crash.error, task);
      } catch (err) {
        queueMicrotask(() => {
          throw err; // an onError that throws is the caller's bug: surface it, but keep the loop consistent
        });
      }
    }
    this.#changed();
  }

  /**
   * The loop's work changed (a task queued or finished, a timer added). Inside a turn the check at
   * its end takes care of it (a setImmediate made here would also make libuv poll once more without
   * blocking). Outside a turn (a halt, schedule, spawn or mailbox call from plain Node code, whose
   * cleanup may queue tasks, add timers or finish the last task) one turn is kicked, and its end
   * re-arms the Node timer for the earliest deadline or stops the loop.
   */
  #changed(): void {
    if (this.#mode === 'integrated' && !this.#inTurn) this.#kick();
  }

  #turn(): void {
    if (this.timers.size > 0) this.timers.fireDue(now());
    this.#runq.pass((task) => task.run());
    this.fds.flush();
  }

  /** One integrated turn, from a setImmediate, a Node timer or the pollset watcher. */
  #integrated(fromPollset: boolean): void {
    if (this.#mode !== 'integrated') return;
    this.#inTurn = true;
    try {
      if (fromPollset) this.#pollset.forEachEvent(this.#dispatch);
      this.#turn();
    } catch (err) {
      this.#stop(err);
      return;
    } finally {
      this.#inTurn = false;
    }
    if (this.#tasks.size === 0) {
      this.#stop();
      return;
    }
    if (this.#runq.length > 0) this.#kick();
    this.#armTimer();
  }

  #kick(): void {
    this.#immediate ??= setImmediate(() => {
      this.#immediate = undefined;
      this.#integrated(false);
    });
  }

  /** Keeps one Node timer for the earliest deadline; a later or cancelled one at worst wakes us early. */
  #armTimer(): void {
    const next = this.timers.next;
    if (next === undefined) {
      this.#clearTimer();
      return;
    }
    if (this.#timer && this.#timerAt <= next) return;
    this.#clearTimer();
    this.#timerAt = next;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#integrated(false);
    }, Math.min(MAX_WAIT_MS, Math.max(1, Math.ceil(next - now()))));
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #stop(error?: unknown): void {
    if (this.#mode !== 'integrated') return;
    this.#mode = 'idle';
    this.#pollset.unwatch();
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#immediate = undefined;
    this.#clearTimer();
    const running = this.#running!;
    this.#running = undefined;
    for (const unlisten of this.#abortListeners.splice(0)) unlisten();
    const aborted = this.#abortedBy;
    this.#abortedBy = undefined;
    if (error !== undefined) running.reject(error);
    else if (aborted) running.reject(abortError(aborted));
    else running.resolve();
  }

  #deadlock(): Error {
    const blocked = [...this.#tasks].map((t) => `task ${t.id} is ${t.blockedOn}`);
    const shown = blocked.slice(0, 10).join('; ') + (blocked.length > 10 ? `; …${blocked.length - 10} more` : '');
    return new Error(`deadlock: ${blocked.length} task(s) can never resume: ${shown}`);
  }
}
