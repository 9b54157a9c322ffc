/**
 * Operations: the typed unit of work of the coroutine layer.
 *
 * An operation is a generator that yields opaque instructions to the loop running it and returns a
 * typed result; it is used as `const x = yield* op()`. Because what a task may yield is an
 * `Instruction` (which only this package can make), a bare `yield op()` where `yield* op()` was
 * meant does not compile, and a task can never receive a value it did not ask its loop for.
 */
import type { Task } from './task';

/** How the loop resumes a suspended task: with a value, with an error, or by halting it. */
export type Resume = { kind: 'next'; value: unknown } | { kind: 'throw'; error: unknown } | { kind: 'return' };

/**
 * What an instruction did: resume the task at once (no trip through the run queue), or
 * `undefined` when the task is now suspended and something will wake it later.
 */
export type Outcome = Resume | undefined;

/**
 * A request from a task to the loop running it. Opaque: only this package makes instructions,
 * and the loop interprets each one for the task that yielded it, so operations need no global loop.
 */
export class Instruction {
  // A private field makes the type nominal: no object literal or foreign class is assignable.
  readonly #brand = true;
  /** @internal */
  readonly perform: (task: Task<unknown>) => Outcome;

  /** Only this package makes instructions: its operations yield them. */
  constructor(perform: (task: Task<unknown>) => Outcome) {
    this.perform = perform;
  }

  /** @internal Instructions are recognised at run time too, for plain-JS callers. */
  static is(value: unknown): value is Instruction {
    return value instanceof Instruction && value.#brand;
  }
}

/** A typed operation: run it with `yield*` inside a task, or hand it to `spawn`. */
export type Operation<T> = Generator<Instruction, T, unknown>;

// The resumption most waits end with, shared: a wake-up allocates nothing.
const NEXT: Resume = Object.freeze({ kind: 'next', value: undefined });

/** Resume with a value. */
export function next(value?: unknown): Resume {
  return value === undefined ? NEXT : { kind: 'next', value };
}

/** Resume by throwing into the task. */
export function fail(error: unknown): Resume {
  return { kind: 'throw', error };
}

/**
 * Yields one instruction and returns what the loop resumed the task with, typed by the caller.
 * This is the single place where the untyped resumption value is narrowed.
 */
export function* perform<T>(run: (task: Task<unknown>) => Outcome): Operation<T> {
  return (yield new Instruction(run)) as T;
}
