/**
 * The loop: one pollset, one timer heap, one run queue, and the tasks they serve.
 *
 * A turn is: collect ready fds and move their waiters to the run queue; fire due timers; run one
 * pass of the run queue; bring fd registrations down to what the waiters still need. Two drivers
 * repeat turns: `run()` inside Node's own loop (see integrated.ts), and `runBlocking()`, the classic
 * event loop that sleeps in the pollset's wait.
 */
import '../dispose';
import { checkSignal } from '../errors';
import { Backend, Pollset } from '../pollset';
import type { TaskContext } from './contracts';
import { FdWaiters } from './fdwaiters';
import { IntegratedDriver } from './integrated';
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
  // A Scheduler (contracts.ts) by shape: its members are @internal, and an `implements` clause would
  // outlive them in the published types (stripInternal), where they are not declared.
  /** @internal */
  readonly timers = new TimerHeap();
  /** @internal */
  readonly fds: FdWaiters;
  readonly #pollset: Pollset<number>;
  readonly #runq = new RunQueue<TaskContext>();
  readonly #tasks = new Set<TaskContext>();
  readonly #onError: ErrorHandler;
  #blocking = false;
  /** Set while integrated mode runs. */
  #driver: IntegratedDriver | undefined;
  readonly #dispatch = (fd: number, flags: number): void => this.fds.dispatch(fd, flags);

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

  /**
   * Starts `op` (a generator function or a generator) as a new top-level task of this loop, even when
   * called inside a task: it lives until it ends or is halted (or the loop closes), whoever spawned it.
   * It runs on a later turn.
   */
  spawn<T>(op: Operation<T> | (() => Operation<T>)): Task<T> {
    return new Task<T>(this, typeof op === 'function' ? op() : op);
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
    if (this.#blocking) return Promise.reject(new Error('loop is running in blocking mode'));
    if (this.#driver) {
      this.#driver.listen(signal);
      return this.#driver.promise;
    }
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the getters below have their own `this`
    const loop = this;
    const driver = new IntegratedDriver({
      turn: (fromPollset) => {
        if (fromPollset) this.#pollset.forEachEvent(this.#dispatch);
        this.#turn();
      },
      get idle() {
        return loop.#tasks.size === 0;
      },
      get ready() {
        return loop.#runq.length > 0;
      },
      get nextDeadline() {
        return loop.timers.next;
      },
      watch: (onReadable) => this.#pollset.watch(onReadable),
      unwatch: () => this.#pollset.unwatch(),
      haltAll: () => this.#haltAll(),
      stopped: () => {
        if (this.#driver === driver) this.#driver = undefined;
      },
    });
    this.#driver = driver;
    driver.start(signal);
    return driver.promise;
  }

  /**
   * Blocking mode, the classic event loop: `wait(next deadline)`, dispatch ready fds, fire timers,
   * run the run queue, until `done()` returns true or no task is left. Fastest, but nothing else in
   * this thread (promises, Node timers, Node I/O) runs until it returns: use it in a process or
   * worker that does nothing else. Throws when the remaining tasks can never be resumed (a deadlock).
   */
  runBlocking(done?: () => boolean): void {
    if (this.#blocking || this.#driver)
      throw new Error(`loop is already running in ${this.#blocking ? 'blocking' : 'integrated'} mode`);
    this.#blocking = true;
    try {
      while (this.#tasks.size > 0 && !done?.()) {
        let timeout = -1;
        if (this.#runq.length > 0) timeout = 0;
        else if (this.timers.next !== undefined)
          timeout = Math.min(MAX_WAIT_MS, Math.max(0, Math.ceil(this.timers.next - now())));
        else if (this.fds.waiting === 0) throw this.#deadlock();
        if (this.#pollset.size > 0 || timeout > 0) {
          if (this.#pollset.wait(timeout) > 0) this.#pollset.forEachEvent(this.#dispatch);
        }
        this.#turn();
      }
    } finally {
      this.#blocking = false;
    }
  }

  /** Halts every task, stops running and releases the pollset. */
  close(): void {
    this.#haltAll();
    this.#driver?.stop();
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
    if (this.#blocking) throw new Error('loop is running in blocking mode');
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

  /** @internal A new task: it is queued to take its first step. */
  adopt(task: TaskContext): void {
    this.#tasks.add(task);
    this.enqueue(task);
  }

  /** @internal A task became ready. */
  enqueue(task: TaskContext): void {
    this.#runq.push(task);
    this.#changed();
  }

  /** @internal A task finished; `crash` is set when it failed and nobody was watching. */
  finished(task: TaskContext, crash?: { error: unknown }): void {
    this.#tasks.delete(task);
    if (crash) {
      try {
        // Every task of a loop is a Task: only Task's constructor adopts one.
        this.#onError(crash.error, task as Task<unknown>);
      } catch (err) {
        queueMicrotask(() => {
          throw err; // an onError that throws is the caller's bug: surface it, but keep the loop consistent
        });
      }
    }
    this.#changed();
  }

  /** The loop's work changed (a task queued or finished, a timer added): see IntegratedDriver.changed. */
  #changed(): void {
    this.#driver?.changed();
  }

  #turn(): void {
    if (this.timers.size > 0) this.timers.fireDue(now());
    this.#runq.pass((task) => task.run());
    this.fds.flush();
  }

  #deadlock(): Error {
    const blocked = [...this.#tasks].map((t) => `task ${t.id} is ${t.blockedOn}`);
    const shown = blocked.slice(0, 10).join('; ') + (blocked.length > 10 ? `; …${blocked.length - 10} more` : '');
    return new Error(`deadlock: ${blocked.length} task(s) can never resume: ${shown}`);
  }
}
