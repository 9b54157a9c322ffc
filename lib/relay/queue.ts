/**
 * A subscriber's bounded message queue. The UDP reader only ever appends here — it never waits and
 * never touches the subscriber's socket — so one slow subscriber cannot delay the reader or anyone
 * else. When full, the policy decides: drop the oldest, drop the newest, or disconnect the subscriber.
 */
export type FullPolicy = 'drop-oldest' | 'drop-newest' | 'disconnect';

export interface QueueLimits {
  /** Most messages held. */
  messages: number;
  /** Most bytes held (framed bytes). */
  bytes: number;
  policy: FullPolicy;
}

/** What `push` did with the message. */
export type PushResult = 'queued' | 'dropped-oldest' | 'dropped-newest' | 'disconnect';

export class MessageQueue<M extends { length: number }> {
  #items: (M | undefined)[] = [];
  #head = 0;
  #bytes = 0;
  /** Most messages ever held at once. */
  highWater = 0;
  /** Messages dropped because the queue was full, by policy. */
  droppedOldest = 0;
  droppedNewest = 0;

  constructor(readonly limits: QueueLimits) {
    if (!(limits.messages >= 1) || !(limits.bytes >= 1)) throw new RangeError('queue limits must be at least 1');
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Appends `message` or applies the full-policy. A message larger than the byte limit alone can
   * never fit: it is dropped as newest under any policy but `disconnect`.
   */
  push(message: M): PushResult {
    if (!this.#fits(message)) {
      const { bytes, policy } = this.limits;
      if (policy === 'disconnect') return 'disconnect';
      if (policy === 'drop-newest' || message.length > bytes) {
        this.droppedNewest++;
        return 'dropped-newest';
      }
      let dropped = 0;
      while (!this.#fits(message)) {
        this.shift();
        dropped++;
      }
      this.droppedOldest += dropped;
      this.#append(message);
      return 'dropped-oldest';
    }
    this.#append(message);
    return 'queued';
  }

  /** The oldest message, left in place; undefined when empty. */
  peek(): M | undefined {
    return this.#head === this.#items.length ? undefined : this.#items[this.#head];
  }

  /** The oldest message, removed; undefined when empty. */
  shift(): M | undefined {
    if (this.#head === this.#items.length) return undefined;
    const message = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    this.#bytes -= message!.length;
    // Compact now and then so the array does not grow without bound.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return message;
  }

  /** Removes everything (a disconnected subscriber). */
  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
  }

  #fits(message: M): boolean {
    return this.length < this.limits.messages && this.#bytes + message.length <= this.limits.bytes;
  }

  #append(message: M): void {
    this.#items.push(message);
    this.#bytes += message.length;
    if (this.length > this.highWater) this.highWater = this.length;
  }
}
