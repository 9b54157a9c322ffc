/**
 * When to try again after a connection ends: exponential backoff with full jitter. The ceiling
 * doubles after each attempt that delivered nothing (from `baseMs` up to `maxMs`) and the wait is
 * drawn uniformly below it, so many subscribers cut off at once by one relay restart do not all
 * come back at the same instant. A connection that delivered something starts the series again.
 */
export interface BackoffOptions {
  /** Ceiling of the first wait (ms). */
  baseMs: number;
  /** Largest ceiling (ms). */
  maxMs: number;
  /** A number in [0, 1); Math.random by default. */
  random?: () => number;
}

export class Backoff {
  readonly #base: number;
  readonly #max: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions) {
    if (!(options.baseMs > 0) || !(options.maxMs >= options.baseMs) || !Number.isFinite(options.maxMs)) {
      throw new RangeError(`backoff needs 0 < baseMs ≤ maxMs < Infinity, not ${options.baseMs} and ${options.maxMs}`);
    }
    this.#base = options.baseMs;
    this.#max = options.maxMs;
    this.#random = options.random ?? Math.random;
  }

  /** The ceiling of the next wait (ms). */
  get ceiling(): number {
    // The exponent is capped so 2 ** attempt never overflows to Infinity however long the relay stays away.
    return Math.min(this.#max, this.#base * 2 ** Math.min(this.#attempt, 52));
  }

  /** The wait before the next attempt (ms, in [0, ceiling)); each call raises the ceiling. */
  next(): number {
    const wait = this.#random() * this.ceiling;
    this.#attempt++;
    return wait;
  }

  /** After a connection that delivered: the next wait is drawn below `baseMs` again. */
  reset(): void {
    this.#attempt = 0;
  }
}
