/**
 * Tasks: a generator stepped by its loop. A task is queued, running, blocked on exactly one
 * described wait, or done. Only the waker of that wait (or a timeout, or halt) may resume it, which
 * is what turns a mis-resume (a task suspended inside a write resumed with data, as if the socket
 * were writable) into a loud error instead of a stalled stream.
 */
import { fail, Instruction, next, Operation, perform } from './operation';
import type { Resume, Scheduler, TaskContext, Wait } from './contracts';

/** Where a task is: see {@link Task.state}. */
export type TaskState = 'queued' | 'running' | 'blocked' | 'done';

/** The error `join()` and the task's promise reject with after `halt()`: `code === 'ECANCELED'`. */
export class HaltedError extends Error {
  /** Always `'ECANCELED'`. */
  readonly code = 'ECANCELED';
  /** @param taskId the halted task's id. */
  constructor(
    /** The halted task's id. */
    readonly taskId: number,
  ) {
    super(`task ${taskId} was halted`);
    this.name = 'HaltedError';
  }
}

type Result<T> = { kind: 'ok'; value: T } | { kind: 'error'; error: unknown } | { kind: 'halted' };

/** The task whose generator is executing right now (per thread: each worker has its own module). */
let current: Task<unknown> | undefined;

/** The running task, or undefined outside any task. */
export function currentTask(): Task<unknown> | undefined {
  return current;
}

/**
 * A running operation. Make one with `spawn(op)` or `loop.spawn(op)`.
 *
 * - `yield* task.join()` waits for it inside another task: its result, typed, or its error rethrown.
 * - `await task` (or `task.toPromise()`) does the same from ordinary Node code.
 * - `task.halt()` stops it: its `finally` blocks run and whatever it waited on is released.
 *
 * A task spawned with `spawn(op)` inside another task is that task's child: when the parent ends
 * (returns, throws or is halted), its children still running are halted, and the parent's result
 * reaches its joiners only once every child is done (their `finally` blocks have run, even cleanup
 * that waits). `loop.spawn(op)` and `spawn(op, { detached: true })` make a top-level task instead.
 */
export class Task<T> implements PromiseLike<T> {
  // A TaskContext (contracts.ts) by shape: its members are @internal, and an `implements` clause would
  // outlive them in the published types (stripInternal), where they are not declared.
  /** Small integer, unique within the process (thread), for messages. */
  readonly id: number;
  /** @internal The loop that runs this task and interprets its instructions. */
  readonly loop: Scheduler;
  /** @internal Run-queue ticket (see RunQueue). */
  ticket = 0;

  #state: TaskState = 'queued';
  #gen: Operation<T>;
  #resume: Resume = next();
  #wait: Wait | undefined;
  #interrupt: unknown;
  #haltRequested = false;
  #halting = false;
  #result: Result<T> | undefined;
  /** The generator is done with this result; the task waits for its children before it is. */
  #ending: Result<T> | undefined;
  #reaping = false;
  readonly #parent: Task<unknown> | undefined;
  readonly #children = new Set<Task<unknown>>();
  #joiners = new Set<TaskContext>();
  #promise: Promise<T> | undefined;
  // Typed loosely so that Task<T> stays assignable to Task<unknown> (the result is a T by construction).
  #settle: ((r: Result<unknown>) => void) | undefined;

  static #ids = 0;

  /** Not for direct use: {@link spawn} and `loop.spawn` make tasks, and start them. A task with a `parent` is halted and awaited when the parent ends. */
  constructor(loop: Scheduler, gen: Operation<T>, parent?: Task<unknown>) {
    this.id = ++Task.#ids;
    this.loop = loop;
    this.#gen = gen;
    if (parent) {
      if (parent.#state === 'done' || parent.#ending)
        throw new Error(`task ${parent.id} has ended: it cannot spawn a child`);
      this.#parent = parent;
      parent.#children.add(this);
    }
    loop.adopt(this);
  }

  /** queued (ready to run), running, blocked (waiting; see {@link blockedOn}) or done. */
  get state(): TaskState {
    return this.#state;
  }

  /** What the task is doing, as in "task 7 is blocked writing fd 12": `blocked writing fd 12`, `sleeping`, `parked`… */
  get blockedOn(): string {
    switch (this.#state) {
      case 'blocked':
        return this.#wait?.what ?? 'being released';
      case 'queued':
        return 'queued to run';
      case 'running':
        return 'running';
      default:
        return 'finished';
    }
  }

  /** @internal True once `halt()` has taken effect (the generator is being unwound). */
  get halting(): boolean {
    return this.#halting || this.#haltRequested;
  }

  /** True while the task waits in `park()`: only then may `schedule` resume it. */
  get parked(): boolean {
    return this.#state === 'blocked' && this.#wait!.parked;
  }

  /** Waits for the task to finish: returns its result or rethrows its error (a {@link HaltedError} once halted). */
  join(): Operation<T> {
    return perform<T>((joiner) => {
      if (this.#result) return this.#outcome();
      if (joiner === this) return fail(new Error(`task ${this.id} cannot join itself`));
      this.#joiners.add(joiner);
      joiner.block(`joining task ${this.id}`, () => this.#joiners.delete(joiner));
      return undefined;
    });
  }

  /**
   * Stops the task: releases what it waits on (fd interest, timers, mailbox places), then runs its
   * `finally` blocks at once through `generator.return()`. A task halting itself stops at its next
   * `yield`. Cleanup that itself waits (a `yield*` inside `finally`) continues on the loop.
   * Idempotent; a finished task is left alone.
   */
  halt(): void {
    if (this.#state === 'done' || this.#halting || this.#ending) return;
    if (this.#state === 'running') {
      this.#haltRequested = true;
      return;
    }
    if (this.#state === 'blocked') this.#release();
    this.#halting = true;
    this.ticket++; // a queued entry of this task goes stale
    this.#step({ kind: 'return' });
  }

  /** A Promise of the task's result, for ordinary Node code. */
  toPromise(): Promise<T> {
    if (!this.#promise) {
      this.#promise = new Promise<T>((resolve, reject) => {
        this.#settle = (r) =>
          r.kind === 'ok' ? resolve(r.value as T) : reject(r.kind === 'error' ? r.error : new HaltedError(this.id));
      });
      if (this.#result) this.#settle!(this.#result);
    }
    return this.#promise;
  }

  /** Makes a task awaitable: `await task` is `await task.toPromise()`. */
  then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.toPromise().then(onFulfilled, onRejected);
  }

  /** @internal Suspends the running task on `what` until `wake`, `interrupt` or `halt`. */
  block(what: string, cancel: () => void, parked = false): void {
    this.blockOn({ what, cancel, parked });
  }

  /** @internal Suspends the running task on a prepared `wait` (see {@link Wait}). */
  blockOn(wait: Wait): void {
    this.#state = 'blocked';
    this.#wait = wait;
  }

  /** @internal The waker of the current wait resumes the task (through the run queue). */
  wake(resume: Resume): void {
    if (this.#state !== 'blocked') throw new Error(`internal: task ${this.id} woken while ${this.blockedOn}`);
    this.#wait = undefined;
    this.requeue(resume);
  }

  /** @internal Queues the task to run with `resume`. */
  requeue(resume: Resume): void {
    this.#resume = resume;
    this.#state = 'queued';
    this.loop.enqueue(this);
  }

  /** @internal A deadline passed: release the wait and throw `error` into the task (now or at its next yield). */
  interrupt(error: unknown): void {
    if (this.#ending) return;
    if (this.#state === 'blocked') {
      this.#release();
      this.requeue(fail(error));
    } else if (this.#state !== 'done' && !this.#halting) {
      this.#interrupt ??= error;
    }
  }

  /** @internal The deadline that raised `error` was cancelled before the task saw it. */
  clearInterrupt(error: unknown): void {
    if (this.#interrupt === error) this.#interrupt = undefined;
  }

  /** @internal Called by the run queue. */
  run(): void {
    const resume = this.#resume;
    this.#resume = next();
    this.#step(resume);
  }

  /** Lets go of the current wait (its waker will not resume the task); the caller resumes it. */
  #release(): void {
    this.#wait!.cancel(this);
    this.#wait = undefined;
  }

  #outcome(): Resume {
    const r = this.#result!;
    return r.kind === 'ok' ? next(r.value) : fail(r.kind === 'error' ? r.error : new HaltedError(this.id));
  }

  #step(input: Resume): void {
    const outer = current;
    // Not an alias: `current` is the module's record of which task is executing (see currentTask).
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    current = this;
    this.#state = 'running';
    try {
      for (;;) {
        let r: IteratorResult<Instruction, T>;
        try {
          if (input.kind === 'next') r = this.#gen.next(input.value);
          else if (input.kind === 'throw') r = this.#gen.throw(input.error);
          else r = this.#gen.return(undefined as T);
        } catch (error) {
          this.#finish({ kind: 'error', error });
          return;
        }
        if (r.done) {
          this.#finish(this.#halting ? { kind: 'halted' } : { kind: 'ok', value: r.value });
          return;
        }
        if (this.#haltRequested && !this.#halting) {
          this.#halting = true;
          input = { kind: 'return' };
          continue;
        }
        if (this.#interrupt !== undefined) {
          input = fail(this.#interrupt);
          this.#interrupt = undefined;
          continue;
        }
        if (!Instruction.is(r.value)) {
          input = fail(new TypeError(`task ${this.id} yielded ${String(r.value)}: use yield* with operations`));
          continue;
        }
        let outcome: Resume | undefined;
        try {
          outcome = r.value.perform(this);
        } catch (error) {
          outcome = fail(error);
        }
        if (outcome === undefined) return; // blocked or requeued; its waker takes it from here
        input = outcome;
      }
    } finally {
      current = outer;
    }
  }

  /** The generator is done: halt the children still running, and complete once none is left. */
  #finish(result: Result<T>): void {
    this.#wait = undefined;
    if (this.#children.size === 0) {
      this.#complete(result);
      return;
    }
    this.#ending = result;
    this.#state = 'blocked';
    this.#wait = { what: `ending: waiting for ${this.#children.size} child task(s)`, cancel: () => {}, parked: false };
    this.#reaping = true;
    try {
      for (const child of [...this.#children]) child.halt();
    } finally {
      this.#reaping = false;
    }
    if (this.#children.size === 0) this.#complete(result);
  }

  #childDone(child: Task<unknown>): void {
    this.#children.delete(child);
    if (this.#ending && this.#children.size === 0 && !this.#reaping) this.#complete(this.#ending);
  }

  #complete(result: Result<T>): void {
    this.#state = 'done';
    this.#result = result;
    this.#ending = undefined;
    this.#wait = undefined;
    const observed = this.#joiners.size > 0 || this.#settle !== undefined;
    for (const joiner of this.#joiners) joiner.wake(this.#outcome());
    this.#joiners.clear();
    this.#settle?.(result);
    this.loop.finished(this, result.kind === 'error' && !observed ? result : undefined);
    if (this.#parent) this.#parent.#childDone(this);
  }
}
