/**
 * The integrated driver: runs a loop's turns inside Node's own event loop. The pollset's fd is
 * watched by libuv, the next deadline is one Node timer, and a run-queue pass is a `setImmediate`,
 * so promises, Node timers and other I/O keep running. One driver lives for one `run()`: it holds
 * that run's promise, its abort signals and its Node handles, and gives them all back in `stop`.
 */
import { abortError } from '../errors';
import { MAX_WAIT_MS, now } from './timers';

/** What the driver needs from the scheduler core it drives. */
export interface Driven {
  /** One turn; `fromPollset` when the pollset's fd became readable. */
  turn(fromPollset: boolean): void;
  /** No task is left. */
  readonly idle: boolean;
  /** Tasks are queued to run. */
  readonly ready: boolean;
  /** The earliest timer deadline, if any. */
  readonly nextDeadline: number | undefined;
  watch(onReadable: () => void): void;
  unwatch(): void;
  haltAll(): void;
  /** The driver has stopped (the run settled). */
  stopped(): void;
}

export class IntegratedDriver {
  readonly promise: Promise<void>;
  readonly #core: Driven;
  #resolve!: () => void;
  #reject!: (e: unknown) => void;
  #stopped = false;
  /** A turn is running: it looks at the run queue when it ends, so nobody needs to kick. */
  #inTurn = false;
  #immediate: NodeJS.Immediate | undefined;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  /** The signal that aborted the run: when the last task is gone, the run rejects with its AbortError. */
  #abortedBy: AbortSignal | undefined;
  readonly #abortListeners: (() => void)[] = [];

  /** Starts driving `core`; `promise` settles when no task is left, or with the error that stopped it. */
  constructor(core: Driven) {
    this.#core = core;
    this.promise = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** Watches the pollset and kicks the first turn. */
  start(signal: AbortSignal | undefined): void {
    this.listen(signal);
    if (this.#stopped) return;
    try {
      this.#core.watch(() => this.#integrated(true));
    } catch (err) {
      this.stop(err);
      return;
    }
    this.#kick();
  }

  /** Makes `signal` abort this run: every task is halted, then the run rejects with an AbortError. */
  listen(signal: AbortSignal | undefined): void {
    if (!signal) return;
    const onAbort = (): void => {
      this.#abortedBy ??= signal;
      this.#core.haltAll();
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    this.#abortListeners.push(() => signal.removeEventListener('abort', onAbort));
  }

  /**
   * The loop's work changed (a task queued or finished, a timer added). Inside a turn the check at
   * its end takes care of it (a setImmediate made here would also make libuv poll once more without
   * blocking). Outside a turn (a halt, schedule, spawn or mailbox call from plain Node code, whose
   * cleanup may queue tasks, add timers or finish the last task) one turn is kicked, and its end
   * re-arms the Node timer for the earliest deadline or stops the run.
   */
  changed(): void {
    if (!this.#inTurn) this.#kick();
  }

  /** Ends the run: releases the Node handles and the signals, then settles the promise. */
  stop(error?: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#core.unwatch();
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#immediate = undefined;
    this.#clearTimer();
    for (const unlisten of this.#abortListeners.splice(0)) unlisten();
    this.#core.stopped();
    if (error !== undefined) this.#reject(error);
    else if (this.#abortedBy) this.#reject(abortError(this.#abortedBy));
    else this.#resolve();
  }

  /** One turn, from a setImmediate, a Node timer or the pollset watcher. */
  #integrated(fromPollset: boolean): void {
    if (this.#stopped) return;
    this.#inTurn = true;
    try {
      this.#core.turn(fromPollset);
    } catch (err) {
      this.stop(err);
      return;
    } finally {
      this.#inTurn = false;
    }
    if (this.#core.idle) {
      this.stop();
      return;
    }
    if (this.#core.ready) this.#kick();
    this.#armTimer();
  }

  #kick(): void {
    if (this.#stopped) return;
    this.#immediate ??= setImmediate(() => {
      this.#immediate = undefined;
      this.#integrated(false);
    });
  }

  /** Keeps one Node timer for the earliest deadline; a later or cancelled one at worst wakes us early. */
  #armTimer(): void {
    const next = this.#core.nextDeadline;
    if (next === undefined) {
      this.#clearTimer();
      return;
    }
    if (this.#timer && this.#timerAt <= next) return;
    this.#clearTimer();
    this.#timerAt = next;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Infinity;
        this.#integrated(false);
      },
      Math.min(MAX_WAIT_MS, Math.max(1, Math.ceil(next - now()))),
    );
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }
}
