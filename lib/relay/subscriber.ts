/**
 * One TLS subscriber: its bounded queue, and the task that writes the queue down its stream.
 *
 * The seed's bug was an input resuming a subscriber that was suspended inside a TLS write. Here the
 * inputs never touch the subscriber's task or socket: they append to its queue and ring its doorbell,
 * a one-slot mailbox the subscriber takes from only when its queue is empty. A subscriber blocked in
 * a write is woken by writability alone.
 */
import { CLOSED, Mailbox, Operation, timeout } from '../loop';
import type { Task } from '../loop';
import { MessageQueue, QueueLimits } from './queue';
import type { Counters } from './stats';

/**
 * Largest single write: several queued messages go out in one TLS write, up to this many bytes.
 * 16 KiB is one TLS record, and OpenSSL reports a record written only once all of it is in the
 * kernel; so a batch is either wholly on its way to the peer (counted delivered) or, if the
 * subscriber is cut off while it waits, wholly lost (counted dropped) — the counters stay exact.
 */
const BATCH_BYTES = 16 * 1024;

/** The part of a stream a subscriber needs. */
export interface SubscriberStream {
  /** Takes what the transport accepts now, without waiting: a byte count, 0 when it would have to wait. */
  writeNow(buf: Uint8Array): number;
  /** Writes all of `buf`, waiting for writability as needed. */
  write(buf: Uint8Array): Operation<void>;
}

export class Subscriber {
  readonly queue: MessageQueue<Buffer>;
  readonly #bell = new Mailbox<true>(1);
  /** Where a batch of several messages is assembled: reused, so a batch allocates nothing. */
  #scratch: Buffer | undefined;
  #draining = false;
  /** Why it was told to go, if it was. */
  disconnectReason: string | undefined;
  /** Messages written to this subscriber (whole batches in the kernel). */
  delivered = 0;
  /** Messages taken from the queue whose write has not completed yet: lost if the subscriber is cut off now. */
  inFlight = 0;
  /** Messages this subscriber lost when it was disconnected (full queue, stalled write, error, stop). */
  lost = 0;
  task: Task<void> | undefined;

  constructor(
    readonly id: number,
    readonly address: string,
    limits: QueueLimits,
    private readonly counters: Counters,
  ) {
    this.queue = new MessageQueue(limits);
  }

  /**
   * Called by the inputs for every message: queue it (or apply the full-policy) and wake the
   * subscriber if it is idle. Returns false when the policy says this subscriber must go.
   */
  offer(framed: Buffer): boolean {
    const q = this.queue;
    const oldest = q.droppedOldest;
    const idle = q.length === 0;
    const result = q.push(framed);
    if (result === 'disconnect') return false;
    if (result === 'dropped-newest') this.counters.add('droppedNewest');
    else if (result === 'dropped-oldest') this.counters.add('droppedOldest', q.droppedOldest - oldest);
    this.counters.max('queueHighWater', q.length);
    // The subscriber waits on its bell only with an empty queue; a queue that already held
    // messages has been rung for (or is being written) — ringing again would only cost.
    if (idle) this.#bell.tryPut(true);
    return true;
  }

  /** Stop waiting for new messages: write what is queued, then return from `pump`. */
  drain(): void {
    this.#draining = true;
    this.#bell.tryPut(true);
  }

  /** Writes queued messages until drained; a write that makes no progress for `writeTimeoutMs` throws ETIMEDOUT. */
  *pump(stream: SubscriberStream, writeTimeoutMs: number): Operation<void> {
    for (;;) {
      if (this.queue.length === 0) {
        if (this.#draining) return;
        if ((yield* this.#bell.take()) === CLOSED) return;
        continue;
      }
      const { bytes, count } = this.#batch();
      this.inFlight = count;
      // Most writes go straight into the kernel's send buffer: only one that has to wait is given
      // a deadline (a timeout costs a timer and an error object, more than the write itself).
      const now = stream.writeNow(bytes);
      if (now < bytes.length) yield* timeout(writeTimeoutMs, stream.write(now === 0 ? bytes : bytes.subarray(now)));
      this.inFlight = 0;
      this.delivered += count;
      this.counters.add('delivered', count);
      this.counters.add('bytesOut', bytes.length);
    }
  }

  /**
   * Takes queued messages up to BATCH_BYTES in all (at least one message) as one buffer: the
   * message itself when it goes alone, else a view of the scratch buffer (valid until the next batch,
   * which is after this one's write completed).
   */
  #batch(): { bytes: Buffer; count: number } {
    const q = this.queue;
    const first = q.shift()!;
    const second = q.peek();
    // Never past BATCH_BYTES: a second record in the same write could be cut half-way.
    if (!second || first.length + second.length > BATCH_BYTES) return { bytes: first, count: 1 };
    const scratch = (this.#scratch ??= Buffer.allocUnsafe(BATCH_BYTES));
    scratch.set(first, 0);
    let size = first.length;
    let count = 1;
    for (let next: Buffer | undefined = second; next && size + next.length <= BATCH_BYTES; next = q.peek()) {
      q.shift();
      scratch.set(next, size);
      size += next.length;
      count++;
    }
    return { bytes: scratch.subarray(0, size), count };
  }
}
