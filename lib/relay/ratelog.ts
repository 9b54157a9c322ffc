/**
 * A log line that anyone can cause, bounded: per window of `intervalMs`, the first `burst` events
 * are logged in full; the rest are only counted, and the window ends with one summary line (the
 * count, and which reasons and sources were most frequent). So a flood costs at most `burst + 1`
 * lines per interval, however fast and from however many addresses it comes, while the caller's
 * own counter stays exact.
 *
 * A window opens with the first event after the previous one ended (nothing is logged while all
 * is quiet). The summary is written by `flush()`: the owner calls it when `flushAt` has passed
 * (and once more before it stops, so that nothing counted goes unreported).
 */
import { sleep } from '../loop/timers';
import type { Operation } from '../loop/operation';
import type { Loop, Task } from '../loop';
import type { Fields, Level, Logger } from './log';

/** Distinct reasons or sources tallied per window; beyond that they count as `others`. */
const TALLY_KEYS = 1000;
/** How many of the most frequent reasons and sources a summary names. */
const TOP = 3;

/** Counts per key, with a bounded number of keys (a flood from many addresses costs no more memory). */
class Tally {
  readonly #counts = new Map<string, number>();
  others = 0;

  add(key: string): void {
    const n = this.#counts.get(key);
    if (n !== undefined) this.#counts.set(key, n + 1);
    else if (this.#counts.size < TALLY_KEYS) this.#counts.set(key, 1);
    else this.others++;
  }

  /** `"1500× timed out, 400× peer closed"`: the most frequent first. */
  top(): string {
    return [...this.#counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP)
      .map(([key, n]) => `${n}× ${key}`)
      .join(', ');
  }
}

export interface RateLimitedEvent {
  /** Where it came from, as summaries group it (an address without its port). */
  source: string;
  /** Why, as summaries group it. */
  reason: string;
  /** Logged as they are when the event is logged in full. */
  fields: Fields;
}

export class RateLimitedLog {
  #windowEnd = 0;
  #logged = 0;
  #suppressed = 0;
  #reasons = new Tally();
  #sources = new Tally();

  constructor(
    readonly log: Logger,
    readonly level: Level,
    readonly event: string,
    readonly burst: number,
    readonly intervalMs: number,
    /** Milliseconds on a clock that never jumps (a wall clock set back would stretch a window). */
    readonly now: () => number = () => performance.now(),
  ) {}

  /** When the summary of what is being suppressed is due; undefined while nothing is. */
  get flushAt(): number | undefined {
    return this.#suppressed > 0 ? this.#windowEnd : undefined;
  }

  /** Logs `e` in full, or counts it for the window's summary. */
  note(e: RateLimitedEvent): void {
    const now = this.now();
    if (now >= this.#windowEnd) {
      this.flush();
      this.#windowEnd = now + this.intervalMs;
    }
    if (this.#logged < this.burst) {
      this.#logged++;
      this.log(this.level, this.event, e.fields);
      return;
    }
    this.#suppressed++;
    this.#reasons.add(e.reason);
    this.#sources.add(e.source);
  }

  /** Writes the summary of what was suppressed (if anything was) and ends the window. */
  flush(): void {
    if (this.#suppressed > 0) {
      this.log(this.level, `${this.event}-suppressed`, {
        count: this.#suppressed,
        logged: this.#logged,
        window_s: this.intervalMs / 1000,
        reasons: this.#reasons.top() + (this.#reasons.others ? `, ${this.#reasons.others}× others` : ''),
        sources: this.#sources.top() + (this.#sources.others ? `, ${this.#sources.others}× others` : ''),
      });
    }
    this.#windowEnd = 0;
    this.#logged = 0;
    this.#suppressed = 0;
    this.#reasons = new Tally();
    this.#sources = new Tally();
  }
}

/**
 * Rejections of peers, logged within a RateLimitedLog's bounds, whose summary a task of `loop`
 * writes when its window ends (even if no rejection follows). Summaries group by reason: without
 * the fd number that system errors name, one cause is one entry.
 */
export class RejectionLog {
  readonly #limited: RateLimitedLog;
  #flusher: Task<void> | undefined;
  #closed = false;

  constructor(
    readonly loop: Loop,
    log: Logger,
    event: string,
    burst: number,
    intervalMs: number,
  ) {
    this.#limited = new RateLimitedLog(log, 'warn', event, burst, intervalMs);
  }

  /** One rejection: `fields` are logged as they are (with `address` and `reason`) when it is logged in full. */
  note(address: string, source: string, reason: string, fields: Fields = {}): void {
    this.#limited.note({ source, reason: reason.replace(/ \(fd \d+\)/g, ''), fields: { ...fields, address, reason } });
    if (this.#limited.flushAt !== undefined && !this.#flusher && !this.#closed)
      this.#flusher = this.loop.spawn(this.#flushWhenDue());
  }

  /** Writes the pending summary now; nothing is scheduled after this. */
  close(): void {
    this.#closed = true;
    this.#flusher?.halt();
    this.#limited.flush();
  }

  *#flushWhenDue(): Operation<void> {
    try {
      for (let at = this.#limited.flushAt; at !== undefined; at = this.#limited.flushAt) {
        const now = this.#limited.now();
        if (now >= at) this.#limited.flush();
        else yield* sleep(at - now);
      }
    } finally {
      this.#flusher = undefined;
    }
  }
}
