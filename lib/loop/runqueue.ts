/**
 * The run queue: tasks ready to run, first in first out.
 *
 * A pass runs only the entries that were queued when it began; whatever they queue (themselves
 * included) waits for the next pass, after the loop has looked at the fds and timers again. So a
 * task that keeps rescheduling itself cannot starve I/O.
 */

/**
 * A FIFO with stale-entry skipping (an item dequeued by other means is not run twice). An entry is
 * an item and the ticket it had when queued (a newer ticket makes the entry stale: the task was queued again, or halted),
 * kept in slots [head, tail) of two parallel arrays that are reused, never truncated: queueing
 * allocates nothing once they have grown to the working size.
 */
export class RunQueue<T extends { ticket: number }> {
  readonly #items: (T | undefined)[] = [];
  readonly #tickets: number[] = [];
  #head = 0;
  #tail = 0;

  /** Entries waiting, stale ones included. */
  get length(): number {
    return this.#tail - this.#head;
  }

  /** Queues `item`; any earlier entry of it becomes stale. */
  push(item: T): void {
    this.#items[this.#tail] = item;
    this.#tickets[this.#tail++] = ++item.ticket;
  }

  /** Runs `run(item)` for each live entry queued before this call. */
  pass(run: (item: T) => void): void {
    const end = this.#tail;
    while (this.#head < end) {
      const item = this.#items[this.#head]!;
      const ticket = this.#tickets[this.#head];
      this.#items[this.#head++] = undefined;
      if (item.ticket === ticket) run(item);
    }
    if (this.#head === this.#tail) {
      this.#head = this.#tail = 0; // drained, the usual end of a pass
    } else if (this.#head > 1024 && this.#head * 2 > this.#tail) {
      // Tasks that requeue themselves every pass never let it drain: move the live part to the front.
      this.#items.copyWithin(0, this.#head, this.#tail);
      this.#tickets.copyWithin(0, this.#head, this.#tail);
      this.#items.fill(undefined, this.#tail - this.#head, this.#tail);
      this.#tail -= this.#head;
      this.#head = 0;
    }
  }
}
