/**
 * The run queue: tasks ready to run, first in first out.
 *
 * A pass runs only the entries that were queued when it began; whatever they queue (themselves
 * included) waits for the next pass, after the loop has looked at the fds and timers again. So a
 * task that keeps rescheduling itself cannot starve I/O.
 */

/**
 * A FIFO with stale-entry skipping (an item dequeued by other means is not run twice). An entry is
 * an item and the ticket it had when queued (a newer or cancelled ticket makes the entry stale),
 * kept in two parallel arrays so that queueing allocates nothing.
 */
export class RunQueue<T extends { ticket: number }> {
  #items: (T | undefined)[] = [];
  #tickets: number[] = [];
  #head = 0;

  /** Entries waiting, stale ones included. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Queues `item`; any earlier entry of it becomes stale. */
  push(item: T): void {
    this.#items.push(item);
    this.#tickets.push(++item.ticket);
  }

  /** Makes a queued item's entry stale (it will not run). */
  static cancel(item: { ticket: number }): void {
    item.ticket++;
  }

  /** Runs `run(item)` for each live entry queued before this call; returns how many ran. */
  pass(run: (item: T) => void): number {
    const end = this.#items.length;
    let ran = 0;
    while (this.#head < end) {
      const item = this.#items[this.#head]!;
      const ticket = this.#tickets[this.#head];
      this.#items[this.#head++] = undefined;
      if (item.ticket === ticket) {
        ran++;
        run(item);
      }
    }
    if (this.#head === this.#items.length) {
      // Drained (the usual end of a pass): start over without reallocating.
      this.#items.length = 0;
      this.#tickets.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      // Compact once the consumed prefix dominates, so the arrays do not grow without bound.
      this.#items = this.#items.slice(this.#head);
      this.#tickets = this.#tickets.slice(this.#head);
      this.#head = 0;
    }
    return ran;
  }
}
