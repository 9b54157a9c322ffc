/**
 * The run queue: tasks ready to run, first in first out.
 *
 * A pass runs only the entries that were queued when it began; whatever they queue (themselves
 * included) waits for the next pass, after the loop has looked at the fds and timers again. So a
 * task that keeps rescheduling itself cannot starve I/O.
 */

interface Entry<T> {
  item: T;
  /** The ticket the item had when queued: a newer or cancelled ticket makes this entry stale. */
  ticket: number;
}

/** A FIFO with stale-entry skipping (an item dequeued by other means is not run twice). */
export class RunQueue<T extends { ticket: number }> {
  #entries: (Entry<T> | undefined)[] = [];
  #head = 0;

  /** Entries waiting, stale ones included. */
  get length(): number {
    return this.#entries.length - this.#head;
  }

  /** Queues `item`; any earlier entry of it becomes stale. */
  push(item: T): void {
    item.ticket++;
    this.#entries.push({ item, ticket: item.ticket });
  }

  /** Makes a queued item's entry stale (it will not run). */
  static cancel(item: { ticket: number }): void {
    item.ticket++;
  }

  /** Runs `run(item)` for each live entry queued before this call; returns how many ran. */
  pass(run: (item: T) => void): number {
    const end = this.#entries.length;
    let ran = 0;
    while (this.#head < end) {
      const entry = this.#entries[this.#head];
      this.#entries[this.#head++] = undefined;
      if (entry && entry.item.ticket === entry.ticket) {
        ran++;
        run(entry.item);
      }
    }
    // Compact once the consumed prefix dominates, so the array does not grow without bound.
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    return ran;
  }
}
