/**
 * The relay's log as its inputs write it: every message appended once to the history in memory
 * and, with a history directory, to the journal in one write per receive batch; what came in
 * counted; the history's size published for stats. Who is told that the log grew is the engine's
 * business (`onFlushed`): this file knows the log, not the subscribers.
 */
import { sleep } from '../loop';
import type { Operation } from '../loop';
import type { DatagramBatch } from '../net/datagram';
import type { History } from './history';
import type { Journal, JournalRecord } from './journal';
import { errorText, Logger } from './log';
import type { Counters } from './stats';
import type { LogAppender, Sender } from './stream-input';

export class LogWriter implements LogAppender {
  #journal: Journal | undefined;
  /** The records of the batch being received, for the journal. */
  readonly #batch: JournalRecord[] = [];
  /** The last journal write failed (its error was logged; the next one is logged only after a success). */
  #failing = false;
  /** The last datagram sender, by its raw address bytes, and its source id: a flood from one sender looks it up once. */
  #lastSender = new Uint8Array(0);
  #lastSource = -1;
  #lastKey = '';

  constructor(
    readonly history: History,
    journal: Journal | undefined,
    private readonly counters: Counters,
    private readonly log: Logger,
    /** The history directory, named in the log line when the journal fails. */
    private readonly dir: string | undefined,
    /** After a run of appends: wakes whoever reads the log. */
    private readonly onFlushed: () => void,
  ) {
    this.#journal = journal;
    history.onEvict = (n) => counters.add('evicted', n);
    this.publish();
  }

  /** Whether messages also go to the journal on disk. */
  get journaled(): boolean {
    return this.#journal !== undefined;
  }

  /** Datagram `i` of a receive batch: counted and appended (an empty one cannot be framed: counted, dropped). */
  appendDatagram(batch: DatagramBatch, i: number, time: number): void {
    const message = batch.data(i);
    if (message.length === 0) {
      this.empty();
      return;
    }
    if (batch.truncated(i)) this.counters.add('truncated');
    // A view of the receive slot: journaled by endBatch(), before the next receive reuses the slot.
    this.#append(message, time, this.#datagramSource(batch, i));
  }

  /** One message a stream input framed (TCP, TLS). */
  append(message: Buffer, time: number, sender: Sender): void {
    this.#append(message, time, this.#senderSource(sender));
  }

  /** An empty message (a datagram, or a stream input's frame): counted, nothing appended. */
  empty(): void {
    this.counters.add('received');
    this.counters.add('droppedEmpty');
  }

  /**
   * The end of a receive batch: its one journal write, after memory (subscribers never wait for
   * the disk). A failed write (disk full, I/O error) loses that batch on disk only: it is logged
   * once until a write succeeds again, and the journal takes the next batch after the hole
   * (recovery returns the run after it). A journal whose fdatasync failed is unusable: the relay
   * logs it and goes on from memory.
   */
  endBatch(): void {
    const journal = this.#journal;
    if (!journal || this.#batch.length === 0) return;
    try {
      journal.append(this.#batch);
      journal.evictBefore(this.history.oldest);
      this.#failing = false;
    } catch (e) {
      this.#failed(e);
    } finally {
      this.#batch.length = 0;
    }
  }

  /** After a run of appends: the journal's write, the stats, and the readers told. */
  flush(): void {
    this.endBatch();
    this.publish();
    this.onFlushed();
  }

  /** The history's size, for stats (shared memory: a relay in a worker is read from the main thread). */
  publish(): void {
    const c = this.counters;
    const h = this.history;
    c.set('historyMessages', h.count);
    c.set('historyBytes', h.bytes);
    c.set('historyOldest', h.oldest);
    c.set('historyNext', h.next);
    const hole = h.hole;
    c.set('historyLost', hole ? hole.to - hole.from + 1 : 0);
  }

  /** `--fsync interval`: data reaches the disk about every second. */
  *syncEverySecond(): Operation<void> {
    for (;;) {
      yield* sleep(1000);
      try {
        this.#journal?.sync();
      } catch (e) {
        this.#failed(e);
      }
    }
  }

  /** Closes the journal (the history stays readable). */
  close(): void {
    const journal = this.#journal;
    this.#journal = undefined;
    journal?.close();
  }

  /** Counts a (non-empty) message and appends it to the history, and to the journal's batch when there is one. */
  #append(message: Uint8Array, time: number, source: number): void {
    const c = this.counters;
    c.add('received');
    c.add('bytesIn', message.length);
    const seq = this.history.append(message, time, source);
    if (this.#journal) this.#batch.push({ seq, time, source: this.history.sourceOf(seq), message });
  }

  #failed(e: unknown): void {
    const code = (e as { code?: string }).code;
    if (!this.#failing || code === 'ERR_JOURNAL_FAILED') {
      this.log('error', 'history-dir-failed', {
        reason: errorText(e),
        code,
        dir: this.dir,
        kept: code !== 'ERR_JOURNAL_FAILED',
      });
    }
    this.#failing = true;
    if (code !== 'ERR_JOURNAL_FAILED') return;
    try {
      this.close();
    } catch {
      // already failed: closing is all that is left
    }
  }

  /** The history's source id for datagram i's sender; the same sender as last time costs a byte compare. */
  #datagramSource(batch: DatagramBatch, i: number): number {
    const raw = batch.rawAddress(i);
    const h = this.history;
    if (sameBytes(raw, this.#lastSender) && h.sourceKey(this.#lastSource) === this.#lastKey)
      return h.holdSource(this.#lastSource);
    const key = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('latin1');
    this.#lastSource = h.source(key, () => batch.address(i).toString());
    this.#lastSender = raw.slice();
    this.#lastKey = key;
    return this.#lastSource;
  }

  /** A stream sender's source id: looked up once per connection, again only if its id was reused meanwhile. */
  #senderSource(sender: Sender): number {
    const h = this.history;
    if (sender.id >= 0 && h.sourceKey(sender.id) === sender.key) return h.holdSource(sender.id);
    sender.id = h.source(sender.key, () => sender.address);
    return sender.id;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}
