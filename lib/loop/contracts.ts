/**
 * The contracts the parts of the coroutine layer share: what a suspended task waits on, how it is
 * resumed, what a task offers the operations it runs, and what the scheduler offers a task. The
 * implementations (task, loop, operations, fd waiters, timers) import these as types only and
 * never each other's types, so no two of them are tied together in a circle.
 */

/** How the loop resumes a suspended task: with a value, with an error, or by halting it. */
export type Resume = { kind: 'next'; value: unknown } | { kind: 'throw'; error: unknown } | { kind: 'return' };

/**
 * What an instruction did: resume the task at once (no trip through the run queue), or
 * `undefined` when the task is now suspended and something will wake it later.
 */
export type Outcome = Resume | undefined;

/**
 * What a blocked task waits on: a description for messages, how to let go of it, and whether
 * `schedule` may resume it. `cancel` gets the task, so one Wait can serve every task blocked on the
 * same thing (the fd waiters keep two per fd instead of making one per wait).
 */
export interface Wait {
  readonly what: string;
  cancel(task: TaskContext): void;
  readonly parked: boolean;
}

/** A pending timer; `cancel()` removes it from its heap (idempotent). */
export interface Timer {
  readonly deadline: number;
  cancel(): void;
}

/** Which readiness a task waits for. */
export type Direction = 'read' | 'write';

/** What the scheduler offers the tasks it runs and the operations they perform. */
export interface Scheduler {
  /** Calls `fire` once `deadline` (on the `performance.now()` clock) has passed, unless cancelled first. */
  readonly timers: { add(deadline: number, fire: () => void): Timer };
  readonly fds: {
    /** Blocks `task` until `fd` is ready for `dir`; throws if the pollset refuses the fd. */
    wait(task: TaskContext, fd: number, dir: Direction): void;
    /** `fd` is about to be closed: its waiters get an error and its registration goes now. */
    forget(fd: number): void;
  };
  /** A new task exists (it is queued by the scheduler to take its first step). */
  adopt(task: TaskContext): void;
  /** A task became ready. */
  enqueue(task: TaskContext): void;
  /** A task finished; `crash` is set when it failed and nobody was watching. */
  finished(task: TaskContext, crash?: { error: unknown }): void;
}

/** A task as its scheduler and the operations it runs see it. */
export interface TaskContext {
  /** Small integer, unique within the process (thread), for messages. */
  readonly id: number;
  /** The scheduler that runs the task and interprets its instructions. */
  readonly loop: Scheduler;
  /** Run-queue ticket: an entry queued with an older ticket is stale. */
  ticket: number;
  /** True once a halt has taken effect or is pending. */
  readonly halting: boolean;
  /** True while the task waits in `park()`. */
  readonly parked: boolean;
  /** What the task is doing, for messages. */
  readonly blockedOn: string;
  /** Suspends the running task on `what` until woken, interrupted or halted. */
  block(what: string, cancel: () => void, parked?: boolean): void;
  /** Suspends the running task on a prepared wait. */
  blockOn(wait: Wait): void;
  /** The waker of the current wait resumes the task (through the run queue). */
  wake(resume: Resume): void;
  /** Queues the task to run with `resume`. */
  requeue(resume: Resume): void;
  /** A deadline passed: release the wait and throw `error` into the task (now or at its next yield). */
  interrupt(error: unknown): void;
  /** The deadline that raised `error` was cancelled before the task saw it. */
  clearInterrupt(error: unknown): void;
  /** Takes the task's next step (called by the run queue). */
  run(): void;
  /** Stops the task (see `Task.halt`). */
  halt(): void;
}
