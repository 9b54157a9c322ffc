/**
 * Per-fd waiters, the course's fd_state: for each fd, the tasks blocked reading it and the tasks
 * blocked writing it. The pollset interest is exactly "r if any reader waits, w if any writer
 * waits", and the registration goes away when nobody waits.
 *
 * Growing the interest happens at once (so a failure such as EPERM lands in the waiting task).
 * Shrinking after readiness is deferred to `flush()` at the end of a pass: the common cycle "woken,
 * read until WOULD_BLOCK, wait again" then costs no pollset syscall at all.
 */
import { errnoOf, systemError } from '../errors';
import { Flag } from '../native';
import { Pollset } from '../pollset';
import { fail, Instruction, next, Operation } from './operation';
import type { Task } from './task';

/** Which readiness a task waits for. */
export type Direction = 'read' | 'write';

interface FdState {
  readers: Set<Task<unknown>>;
  writers: Set<Task<unknown>>;
  /** What the pollset has registered for this fd, as READ | WRITE bits (0 when nothing). */
  registered: number;
}

// Interest as bits while computing (every wait does), as the pollset's letters only when it changes.
const READ = 1;
const WRITE = 2;
const LETTERS = ['', 'r', 'w', 'rw'];
const BROKEN = Flag.Hangup | Flag.Error;

function interestOf(s: FdState): number {
  return (s.readers.size > 0 ? READ : 0) | (s.writers.size > 0 ? WRITE : 0);
}

/** The waiters of one loop, over that loop's pollset. */
export class FdWaiters {
  readonly #pollset: Pollset<number>;
  readonly #fds = new Map<number, FdState>();
  readonly #dirty = new Set<number>();
  #waiting = 0;

  constructor(pollset: Pollset<number>) {
    this.#pollset = pollset;
  }

  /** Tasks blocked on some fd. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Blocks `task` until `fd` is ready for `dir` (or hangs up / errs). Throws if the pollset refuses the fd. */
  wait(task: Task<unknown>, fd: number, dir: Direction): void {
    let s = this.#fds.get(fd);
    if (!s) {
      s = { readers: new Set(), writers: new Set(), registered: 0 };
      this.#fds.set(fd, s);
    }
    const set = dir === 'read' ? s.readers : s.writers;
    set.add(task);
    try {
      this.#apply(fd, s, true);
    } catch (err) {
      set.delete(task);
      if (s.registered === 0) this.#fds.delete(fd);
      throw err;
    }
    this.#waiting++;
    task.block(`blocked ${dir === 'read' ? 'reading' : 'writing'} fd ${fd}`, () => {
      set.delete(task);
      this.#waiting--;
      this.#apply(fd, s, false);
    });
  }

  /** Moves the tasks waiting on a ready fd to the run queue; `flags` are the pollset's `Flag` bits. */
  dispatch(fd: number, flags: number): void {
    const s = this.#fds.get(fd);
    if (!s) return;
    const broken = (flags & BROKEN) !== 0;
    if (broken || (flags & Flag.Read) !== 0) this.#wakeAll(s.readers, next());
    if (broken || (flags & Flag.Write) !== 0) this.#wakeAll(s.writers, next());
    this.#dirty.add(fd);
  }

  /** Brings deferred registrations down to what the waiters need. */
  flush(): void {
    for (const fd of this.#dirty) {
      const s = this.#fds.get(fd);
      if (s) this.#apply(fd, s, false);
    }
    this.#dirty.clear();
  }

  /**
   * The fd is about to be closed: its waiters get `error` and its registration is removed now,
   * before the number can be reused by a new fd.
   */
  forget(fd: number, error: Error = systemError(errnoOf('EBADF'), 'close', { fd })): void {
    const s = this.#fds.get(fd);
    if (!s) return;
    this.#wakeAll(s.readers, fail(error));
    this.#wakeAll(s.writers, fail(error));
    this.#apply(fd, s, false);
  }

  #wakeAll(set: Set<Task<unknown>>, resume: ReturnType<typeof next>): void {
    if (set.size === 0) return;
    // wake() only queues the task (it cannot touch this set), so the set is walked as it is, then emptied.
    for (const task of set) {
      this.#waiting--;
      task.wake(resume);
    }
    set.clear();
  }

  /** Makes the registration match the waiters; with `growOnly` it may add but not drop interest. */
  #apply(fd: number, s: FdState, growOnly: boolean): void {
    const want = interestOf(s);
    const target = growOnly ? s.registered | want : want;
    if (target === s.registered) return;
    if (target === 0) {
      // A fd closed behind our back is already gone from the kernel's set: nothing left to undo.
      try {
        this.#pollset.remove(fd);
      } catch {
        /* see above */
      }
      this.#fds.delete(fd);
      this.#dirty.delete(fd);
    } else if (s.registered === 0) {
      this.#pollset.insert(fd, LETTERS[target], fd);
    } else {
      this.#pollset.update(fd, LETTERS[target]);
    }
    s.registered = target;
  }
}

/**
 * The instruction "block until `fd` is ready for `dir`". Instructions are immutable and interpreted
 * per task, so a stream makes its two once and yields them directly on every wait: no generator
 * level and no allocation per wait on its hot path.
 */
export function fdWait(fd: number, dir: Direction): Instruction {
  return new Instruction((task) => {
    task.loop.fds.wait(task, fd, dir);
    return undefined;
  });
}

/** Waits until `fd` is readable (or hung up). Resumed only by that readiness, a timeout or halt. */
export function* waitReadable(fd: number): Operation<void> {
  yield fdWait(fd, 'read');
}

/** Waits until `fd` is writable (or broken). Resumed only by that readiness, a timeout or halt. */
export function* waitWritable(fd: number): Operation<void> {
  yield fdWait(fd, 'write');
}
