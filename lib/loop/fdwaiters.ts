/**
 * Per-fd waiters (the per-fd reader/writer bookkeeping of event-driven servers): for each fd, the tasks blocked reading it and the tasks
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
import type { Direction, Resume, TaskContext, Wait } from './contracts';

/**
 * One direction of one fd: the tasks blocked on it, and the Wait they all hold (made once, not per
 * wait). The first `count` slots of `tasks` are used; the array is never truncated, since V8 frees
 * the storage of an array set to length 0 and the next wait would allocate it again.
 */
interface Waiters {
  tasks: (TaskContext | undefined)[];
  count: number;
  wait: Wait;
}

interface FdState {
  fd: number;
  readers: Waiters;
  writers: Waiters;
  /** What the pollset has registered for this fd, as READ | WRITE bits (0 when nothing). */
  registered: number;
  /** Listed for the next `flush()`. */
  dirty: boolean;
}

// Interest as bits while computing (every wait does), as the pollset's letters only when it changes.
const READ = 1;
const WRITE = 2;
const LETTERS = ['', 'r', 'w', 'rw'];
const BROKEN = Flag.Hangup | Flag.Error;

function interestOf(s: FdState): number {
  return (s.readers.count > 0 ? READ : 0) | (s.writers.count > 0 ? WRITE : 0);
}

/** The waiters of one loop, over that loop's pollset. */
export class FdWaiters {
  readonly #pollset: Pollset<number>;
  /** Indexed by fd (small integers): cheaper than a Map on every wait and event. */
  readonly #fds: (FdState | undefined)[] = [];
  #dirty: FdState[] = [];
  #waiting = 0;

  constructor(pollset: Pollset<number>) {
    this.#pollset = pollset;
  }

  /** Tasks blocked on some fd. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Blocks `task` until `fd` is ready for `dir` (or hangs up / errs). Throws if the pollset refuses the fd. */
  wait(task: TaskContext, fd: number, dir: Direction): void {
    let s = this.#fds[fd];
    if (!s) {
      s = this.#state(fd);
      this.#fds[fd] = s;
    }
    const waiters = dir === 'read' ? s.readers : s.writers;
    waiters.tasks[waiters.count++] = task;
    try {
      this.#apply(s, true);
    } catch (err) {
      waiters.tasks[--waiters.count] = undefined;
      if (s.registered === 0) this.#fds[fd] = undefined;
      throw err;
    }
    this.#waiting++;
    task.blockOn(waiters.wait);
  }

  /** Moves the tasks waiting on a ready fd to the run queue; `flags` are the pollset's `Flag` bits. */
  dispatch(fd: number, flags: number): void {
    const s = this.#fds[fd];
    if (!s) return;
    const broken = (flags & BROKEN) !== 0;
    if (broken || (flags & Flag.Read) !== 0) this.#wakeAll(s.readers, next());
    if (broken || (flags & Flag.Write) !== 0) this.#wakeAll(s.writers, next());
    if (!s.dirty) {
      s.dirty = true;
      this.#dirty.push(s);
    }
  }

  /** Brings deferred registrations down to what the waiters need. */
  flush(): void {
    if (this.#dirty.length === 0) return;
    const dirty = this.#dirty;
    this.#dirty = [];
    for (const s of dirty) {
      // A state dropped since it was listed (or replaced by a newer one for the same fd) is clean.
      if (!s.dirty) continue;
      s.dirty = false;
      this.#apply(s, false);
    }
  }

  /**
   * The fd is about to be closed: its waiters get `error` and its registration is removed now,
   * before the number can be reused by a new fd.
   */
  forget(fd: number, error: Error = systemError(errnoOf('EBADF'), 'close', { fd })): void {
    const s = this.#fds[fd];
    if (!s) return;
    this.#wakeAll(s.readers, fail(error));
    this.#wakeAll(s.writers, fail(error));
    this.#apply(s, false);
  }

  /** A fresh state for `fd`, with the two Waits its blocked tasks will hold. */
  #state(fd: number): FdState {
    const waiters = (what: string): Waiters => {
      const w: Waiters = {
        tasks: [],
        count: 0,
        wait: {
          what: `blocked ${what} fd ${fd}`,
          parked: false,
          cancel: (task) => {
            const i = w.tasks.indexOf(task);
            if (i < 0 || i >= w.count) return;
            w.tasks.copyWithin(i, i + 1, w.count);
            w.tasks[--w.count] = undefined;
            this.#waiting--;
            this.#apply(s, false);
          },
        },
      };
      return w;
    };
    const s: FdState = { fd, readers: waiters('reading'), writers: waiters('writing'), registered: 0, dirty: false };
    return s;
  }

  #wakeAll(w: Waiters, resume: Resume): void {
    // wake() only queues the task (it cannot touch this list), so the list is walked as it is, then emptied.
    const n = w.count;
    w.count = 0;
    for (let i = 0; i < n; i++) {
      const task = w.tasks[i]!;
      w.tasks[i] = undefined;
      this.#waiting--;
      task.wake(resume);
    }
  }

  /** Makes the registration match the waiters; with `growOnly` it may add but not drop interest. */
  #apply(s: FdState, growOnly: boolean): void {
    const want = interestOf(s);
    const target = growOnly ? s.registered | want : want;
    if (target === s.registered) return;
    if (target === 0) {
      // An update that found the fd closed (EBADF) or its number reused (ENOENT) already dropped the
      // registration; anything else the pollset refuses here is a real failure and goes up.
      if (this.#pollset.has(s.fd)) this.#pollset.remove(s.fd);
      if (this.#fds[s.fd] === s) this.#fds[s.fd] = undefined;
      s.dirty = false;
    } else if (s.registered === 0) {
      this.#pollset.insert(s.fd, LETTERS[target], s.fd);
    } else {
      this.#pollset.update(s.fd, LETTERS[target]);
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
