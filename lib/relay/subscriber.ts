/**
 * One TLS subscriber: a cursor into the relay's log (the next seq it will be sent), its lag limit,
 * and the task that writes the log down its stream from the cursor on.
 *
 * There is no queue of messages per subscriber: the inputs append to the one log and, after each
 * receive batch, call `notify()` — which rings the subscriber's doorbell (a one-slot mailbox it takes
 * from only when it has caught up) and applies its lag limit by moving its cursor, never by touching
 * its task or socket. A subscriber blocked in a write is woken by writability alone, and one that
 * stopped reading holds back nothing but its own cursor.
 */
import { CLOSED, Mailbox, Operation, timeout } from '../loop';
import type { Task } from '../loop';
import { Framing, wholeMessages } from './framing';
import type { History } from './history';
import type { Selector } from './selector';
import type { Counter, Counters } from './stats';

/** What happens to a subscriber that falls further behind the head than its lag limit. */
export type FullPolicy = 'drop-oldest' | 'drop-newest' | 'disconnect';

export interface LagLimits {
  /** Most messages it may be behind. */
  messages: number;
  /** Most framed bytes it may be behind. */
  bytes: number;
  policy: FullPolicy;
}

/** The ALPN name of the resume protocol, defined with the protocol's client side (one name for both ends). */
export { PROTOCOL } from './client';

/**
 * Largest write of a plain subscriber, and the most any one TLS write is given. 16 KiB is one TLS
 * record, and with partial writes OpenSSL reports a record written only once all of it is in the
 * kernel; so a plain subscriber's run is either wholly on its way to the peer (counted delivered) or,
 * if the subscriber is cut off while it waits, wholly lost (counted dropped) — the counters stay
 * exact. Never handing OpenSSL more than one record also keeps it off its multi-record write path,
 * whose retry rules differ.
 */
export const RECORD_BYTES = 16 * 1024;

/**
 * Largest MSG frame of a protocol subscriber: a subscriber catching up writes runs this big (one
 * frame header, then full records). Cut off mid-frame, it is counted exactly all the same: the
 * messages wholly inside the records that reached the kernel were delivered.
 */
export const FRAME_BYTES = 256 * 1024;

/** The part of a stream a subscriber needs. */
export interface SubscriberStream {
  /** Takes what the transport accepts now, without waiting: a byte count, 0 when it would have to wait (offer the same bytes again then). */
  writeNow(buf: Uint8Array): number;
  /** Waits until the transport can take more (what the last `writeNow` of 0 was waiting for). */
  waitWritable(): Operation<void>;
}

export interface SubscriberStart {
  /** The first seq to send. */
  cursor: number;
  /** Lag limit; none for a protocol subscriber that asked for history (the history bounds it). */
  limits?: LagLimits;
  /** Speaks logrelay/1 (frames) rather than receiving the plain stream. */
  protocol: boolean;
  /** Protocol only: send TIME frames. */
  meta?: boolean;
  /** Protocol only: send only the messages this selects (see selector.ts); the others are told as SKIP. */
  filter?: Selector;
}

interface Gap {
  first: number;
  count: number;
  /**
   * `lost`: seqs the log lost in a power cut before this run (the history's hole); `filtered`: not
   * selected by the subscriber's filter, sent as a SKIP frame rather than a GAP.
   */
  reason: 'evicted' | 'dropped' | 'lost' | 'filtered';
}

export class Subscriber {
  readonly protocol: boolean;
  readonly limits: LagLimits | undefined;
  readonly meta: boolean;
  /** `selects[pri]` is 1 for a PRI this subscriber wants; undefined: it wants everything. */
  readonly filter: Uint8Array | undefined;
  /** The next seq to write (messages before it were written, are in flight, or were skipped). */
  cursor: number;
  // drop-newest: messages skipFrom…skipTo-1 are skipped (counted when skipped, passed when reached).
  #skipFrom = 0;
  #skipTo = 0;
  /** Protocol: GAP frames to send before the next MSG frame. */
  readonly #gaps: Gap[] = [];
  readonly #bell = new Mailbox<true>(1);
  #parked = false;
  #draining = false;
  /** The head when it was taken off the relay's list: what arrives later is none of its business. */
  #leftAt: number | undefined;
  /** The run being written and how many of its bytes OpenSSL has taken (whole records). */
  #run: Buffer | undefined;
  #pin: number | undefined;
  #sent = 0;
  /** A filtered subscriber's write (frames and messages in one buffer): where each message in it ends. */
  #ends: number[] | undefined;
  /** Why it was told to go, if it was. */
  disconnectReason: string | undefined;
  /** A control or frame write is under way (so no BYE can be slipped in). */
  writing = false;
  /** Messages written to this subscriber (whole, in the kernel). */
  delivered = 0;
  /** Messages of the run being written: lost (or, for a protocol subscriber, left behind) if it is cut off now. */
  inFlight = 0;
  /** Messages this subscriber lost when it was disconnected (lag limit, stalled write, error, stop). */
  lost = 0;
  /** Messages it skipped by its policy, or that left the history before it got them. */
  dropped = 0;
  /** Messages its filter did not select (passed over, told as SKIP: not a loss). */
  filtered = 0;
  task: Task<void> | undefined;

  constructor(
    readonly id: number,
    readonly address: string,
    readonly history: History,
    private readonly counters: Counters,
    start: SubscriberStart,
  ) {
    this.cursor = start.cursor;
    this.limits = start.limits;
    this.protocol = start.protocol;
    this.meta = start.meta ?? false;
    this.filter = start.filter?.selects;
  }

  get #skipping(): boolean {
    return this.#skipTo > this.#skipFrom;
  }

  /** Messages it has yet to be sent (not counting skipped ones). */
  get pending(): number {
    const skipped = this.#skipping ? this.#skipTo - this.#skipFrom : 0;
    return Math.max(0, this.history.countBetween(this.cursor, this.#leftAt ?? this.history.next) - skipped);
  }

  /** Taken off the relay's list: messages appended from now on are not counted as missed by it. */
  leave(): void {
    this.#leftAt ??= this.history.next;
  }

  /** Cut off by its lag limit, which counted what it lost: nothing more it was behind is counted. */
  leaveAtHead(): void {
    this.cursor = this.#leftAt = this.history.next;
    this.#skipFrom = this.#skipTo = 0;
  }

  /**
   * Called by the inputs after each receive batch: wakes the subscriber if it waits for messages,
   * and applies its lag limit. Returns 0, or — under `disconnect`, when it fell too far behind — how
   * many messages it lost by it (those it was behind up to and including the one that did not fit);
   * the caller then cuts it off (and its cursor is at the head: nothing more is counted twice).
   */
  notify(): number {
    if (this.#parked) this.#bell.tryPut(true);
    return this.limits ? this.#enforce(this.limits) : 0;
  }

  /** Stop waiting for new messages: write up to the head, then return from `pump`. */
  drain(): void {
    this.#draining = true;
    this.#bell.tryPut(true);
  }

  /**
   * Adds the GAP frames to send first (a protocol subscriber resuming from before the history):
   * `evicted`, but `lost` for the part that is the log's hole.
   */
  gapBefore(first: number, count: number): void {
    this.#gapAround(first, count, 'evicted');
  }

  /**
   * Writes the log from the cursor on until drained; a write that makes no progress for
   * `writeTimeoutMs` throws ETIMEDOUT.
   */
  *pump(stream: SubscriberStream, writeTimeoutMs: number): Operation<void> {
    const h = this.history;
    for (;;) {
      this.#settle();
      const end = this.#skipping ? this.#skipFrom : h.next;
      if (this.filter && this.cursor < end) {
        // Passes over what the filter does not select (told as SKIP), up to the next message it does.
        const selected = h.scan(this.cursor, end, this.filter, 1);
        if (selected > this.cursor) {
          this.#filterOut(this.cursor, selected - this.cursor);
          this.cursor = selected;
          continue;
        }
      }
      const idle = this.cursor >= end;
      // SKIPs wait to go out with the next MSG frame (#writeSelected), or before the subscriber
      // parks; a GAP goes out at once.
      if (this.#gaps.length > 0 && (idle || this.#gaps.some((g) => g.reason !== 'filtered'))) {
        const gaps = this.#gaps.splice(0);
        yield* this.#write(stream, Buffer.from(gaps.map(gapLine).join(''), 'latin1'), writeTimeoutMs);
        this.counters.add('gaps', gaps.filter((g) => g.reason !== 'filtered').length);
        // The write may have waited, and the history moved on meanwhile: settle again.
        continue;
      }
      if (idle) {
        if (this.#draining) return;
        this.#parked = true;
        const rang = yield* this.#bell.take();
        this.#parked = false;
        if (rang === CLOSED) return;
        continue;
      }
      if (this.filter) {
        yield* this.#writeSelected(stream, end, writeTimeoutMs);
        continue;
      }
      const first = this.cursor;
      const run = h.run(first, this.protocol ? FRAME_BYTES : RECORD_BYTES, end);
      // Held until the run is written (or cut): the history must not refill its chunk meanwhile.
      this.#pin = h.pin(first);
      this.cursor += run.count;
      this.inFlight = run.count;
      if (this.protocol) {
        if (this.meta) yield* this.#write(stream, this.#timeFrame(first, run.count, ''), writeTimeoutMs);
        yield* this.#write(
          stream,
          Buffer.from(`MSG ${first} ${run.count} ${run.bytes.length}\n`, 'latin1'),
          writeTimeoutMs,
        );
      }
      this.#run = run.bytes;
      this.#sent = 0;
      yield* this.#write(stream, run.bytes, writeTimeoutMs);
      this.#release();
      this.inFlight = 0;
      this.delivered += run.count;
      this.counters.add('delivered', run.count);
      this.counters.add('bytesOut', run.bytes.length);
    }
  }

  /**
   * A filtered subscriber's write: the selected runs from the cursor up to `limit` (and the SKIPs
   * between them) as MSG frames copied into one buffer of about FRAME_BYTES, so that selected
   * messages scattered among others still go out in few, full TLS records rather than a frame each.
   */
  *#writeSelected(stream: SubscriberStream, limit: number, writeTimeoutMs: number): Operation<void> {
    const h = this.history;
    const filter = this.filter!;
    const hole = h.hole;
    // Runs never cross the hole: stop before it (#settle tells the subscriber about it next).
    if (hole && this.cursor < hole.from) limit = Math.min(limit, hole.from);
    const parts: Buffer[] = [];
    const ends: number[] = [];
    let size = 0;
    let payload = 0;
    let count = 0;
    let seq = this.cursor;
    while (seq < limit && size < FRAME_BYTES) {
      const selected = h.scan(seq, limit, filter, 1);
      if (selected > seq) {
        this.#filterOut(seq, selected - seq);
        seq = selected;
        continue;
      }
      const run = h.run(seq, Math.max(1, FRAME_BYTES - size), h.scan(seq, limit, filter, 0));
      const skips = this.#gaps.length > 0 ? this.#gaps.splice(0).map(gapLine).join('') : '';
      const msg = `MSG ${seq} ${run.count} ${run.bytes.length}\n`;
      const head = this.meta
        ? Buffer.concat([this.#timeFrame(seq, run.count, skips), Buffer.from(msg, 'latin1')])
        : Buffer.from(skips + msg, 'latin1');
      parts.push(head, run.bytes);
      size += head.length;
      const base = h.startOf(seq);
      for (let s = seq + 1; s <= seq + run.count; s++) ends.push(size + h.startOf(s) - base);
      size += run.bytes.length;
      payload += run.bytes.length;
      count += run.count;
      seq += run.count;
    }
    this.cursor = seq;
    if (count === 0) return;
    // Copied (the runs may lie in several chunks): nothing of the history is held while it is written.
    this.#run = Buffer.concat(parts, size);
    this.#ends = ends;
    this.#sent = 0;
    this.inFlight = count;
    yield* this.#write(stream, this.#run, writeTimeoutMs);
    this.#release();
    this.inFlight = 0;
    this.delivered += count;
    this.counters.add('delivered', count);
    this.counters.add('bytesOut', payload);
  }

  /**
   * Accounts for a subscriber cut off now: the messages of its run that reached the kernel whole
   * are delivered, the rest of the run and everything it was behind are not. Returns how many it
   * did not get (for a plain subscriber, lost for good; a protocol one can resume).
   */
  cutOff(framing: Framing): number {
    if (this.#run && this.#sent > 0) {
      const ends = this.#ends;
      const whole = ends ? countUpTo(ends, this.#sent) : wholeMessages(this.#run.subarray(0, this.#sent), framing);
      this.delivered += whole;
      this.counters.add('delivered', whole);
      this.counters.add('bytesOut', this.#sent);
      this.inFlight -= whole;
    }
    const missed = this.inFlight + this.pending;
    this.#release();
    this.inFlight = 0;
    this.leaveAtHead();
    return missed;
  }

  #release(): void {
    this.#run = undefined;
    this.#ends = undefined;
    if (this.#pin !== undefined) this.history.unpin(this.#pin);
    this.#pin = undefined;
  }

  *#write(stream: SubscriberStream, bytes: Buffer, writeTimeoutMs: number): Operation<void> {
    this.writing = true;
    let pos = 0;
    while (pos < bytes.length) {
      const piece = pos === 0 && bytes.length <= RECORD_BYTES ? bytes : bytes.subarray(pos, pos + RECORD_BYTES);
      const n = stream.writeNow(piece);
      if (n > 0) {
        pos += n;
        if (bytes === this.#run) this.#sent = pos;
        continue;
      }
      // Most writes go straight into the kernel's send buffer: only one that has to wait is given
      // a deadline (a timeout costs a timer and an error object, more than the write itself).
      yield* timeout(writeTimeoutMs, stream.waitWritable());
    }
    this.writing = false;
  }

  /** `TIME first count` and one `timeMs source` line per message (source escaped like LF framing), after `before`. */
  #timeFrame(first: number, count: number, before: string): Buffer {
    const h = this.history;
    const lines = [before, `TIME ${first} ${count}\n`];
    for (let seq = first; seq < first + count; seq++) lines.push(`${h.timeOf(seq)} ${escapeLine(h.sourceOf(seq))}\n`);
    return Buffer.from(lines.join(''), 'utf8');
  }

  /** Before taking the next run: passes messages evicted before it got them, the hole, and a skipped range it reached. */
  #settle(): void {
    this.#settleEvicted();
    const hole = this.history.hole;
    if (hole && this.cursor >= hole.from && this.cursor <= hole.to) {
      // Runs stop before the hole: a cursor that reached it is told, once, and goes on after it.
      this.#gap(this.cursor, hole.to - this.cursor + 1, 'lost');
      this.cursor = hole.to + 1;
    }
    if (this.#skipping && this.cursor >= this.#skipFrom) {
      this.#gap(this.#skipFrom, this.#skipTo - this.#skipFrom, 'dropped');
      this.cursor = this.#skipTo;
      this.#skipFrom = this.#skipTo = 0;
    }
  }

  /** Messages the history evicted before this subscriber got them: counted, and a GAP for a protocol subscriber. */
  #settleEvicted(): void {
    const oldest = this.history.oldest;
    if (this.cursor >= oldest) return;
    if (this.#skipping) {
      this.#missed(this.cursor, Math.min(this.#skipFrom, oldest) - this.cursor);
      if (oldest > this.#skipFrom) {
        // The skipped part below the oldest was counted when skipped; its GAP goes now, in order.
        this.#gap(this.#skipFrom, Math.min(this.#skipTo, oldest) - this.#skipFrom, 'dropped');
        if (oldest >= this.#skipTo) {
          this.#missed(this.#skipTo, oldest - this.#skipTo);
          this.#skipFrom = this.#skipTo = 0;
        } else {
          this.#skipFrom = oldest;
        }
      }
    } else {
      this.#missed(this.cursor, oldest - this.cursor);
    }
    this.cursor = oldest;
  }

  #missed(first: number, count: number): void {
    if (count <= 0) return;
    // The hole's seqs were never in this run's log: not counted as evicted, only told as lost.
    this.#drop('droppedEvicted', this.#gapAround(first, count, 'evicted'));
  }

  /**
   * GAP frames for first…first+count-1 for `reason`, with the part that is the log's hole as
   * `lost`; returns how many of them are outside the hole.
   */
  #gapAround(first: number, count: number, reason: Gap['reason']): number {
    const hole = this.history.hole;
    const end = first + count;
    if (!hole || hole.to < first || hole.from >= end) {
      this.#gap(first, count, reason);
      return count;
    }
    const from = Math.max(first, hole.from);
    const to = Math.min(end, hole.to + 1);
    this.#gap(first, from - first, reason);
    this.#gap(from, to - from, 'lost');
    this.#gap(to, end - to, reason);
    return count - (to - from);
  }

  /**
   * Counts `count` messages skipped by the lag policy or the history; for a filtered subscriber,
   * those of first…first+count-1 that its filter would have passed over count as filtered, not
   * dropped (when `first` is given: the messages are still in the history to be looked at).
   */
  #drop(counter: Counter, count: number, first?: number): void {
    if (this.filter && first !== undefined && count > 0) {
      const selected = this.history.countSelected(first, first + count, this.filter);
      this.#countFiltered(count - selected);
      count = selected;
    }
    this.dropped += count;
    this.counters.add(counter, count);
  }

  #countFiltered(count: number): void {
    this.filtered += count;
    this.counters.add('filtered', count);
  }

  /** Messages first…first+count-1, which the filter does not select: counted, and told as SKIP. */
  #filterOut(first: number, count: number): void {
    this.#countFiltered(count);
    this.#gap(first, count, 'filtered');
  }

  #gap(first: number, count: number, reason: Gap['reason']): void {
    if (!this.protocol || count <= 0) return;
    const last = this.#gaps[this.#gaps.length - 1];
    if (last && last.reason === reason && last.first + last.count === first) last.count += count;
    else this.#gaps.push({ first, count, reason });
  }

  /**
   * The lag limit, applied as if message by message: the subscriber keeps at most `messages` /
   * `bytes` unsent; beyond that drop-oldest moves its cursor to the newest that fit, drop-newest keeps
   * what it has and skips what arrives while it is full, and disconnect cuts it off at the first
   * message that did not fit.
   */
  #enforce(l: LagLimits): number {
    const h = this.history;
    const next = h.next;
    this.#settleEvicted();
    if (!this.#skipping) {
      const behind = next - this.cursor;
      if (behind <= l.messages && h.bytesBetween(this.cursor, next) <= l.bytes) {
        this.counters.max('queueHighWater', behind);
        return 0;
      }
      if (l.policy === 'drop-oldest') {
        const to = h.firstWithin(Math.max(this.cursor, next - l.messages), next, l.bytes);
        this.#drop('droppedOldest', to - this.cursor, this.cursor);
        this.#gap(this.cursor, to - this.cursor, 'dropped');
        this.cursor = to;
      } else if (l.policy === 'drop-newest') {
        const keep = h.endWithin(this.cursor, Math.min(this.cursor + l.messages, next), l.bytes);
        this.#drop('droppedNewest', next - keep, keep);
        this.#skipFrom = keep;
        this.#skipTo = next;
      } else {
        const fit = h.endWithin(this.cursor, Math.min(this.cursor + l.messages, next), l.bytes);
        return fit - this.cursor + 1;
      }
      this.counters.max('queueHighWater', this.pending);
      return 0;
    }
    // Skipping (drop-newest): its backlog stays; newer arrivals that do not fit join the skipped range.
    const backlog = this.#skipFrom - this.cursor;
    const backlogBytes = h.bytesBetween(this.cursor, this.#skipFrom);
    if (backlog + next - this.#skipTo > l.messages || backlogBytes + h.bytesBetween(this.#skipTo, next) > l.bytes) {
      const to = h.firstWithin(Math.max(this.#skipTo, next - (l.messages - backlog)), next, l.bytes - backlogBytes);
      this.#drop('droppedNewest', to - this.#skipTo, this.#skipTo);
      this.#skipTo = to;
    }
    this.counters.max('queueHighWater', this.pending);
    return 0;
  }
}

/** How many of the ascending `ends` are at most `n` (binary search). */
function countUpTo(ends: number[], n: number): number {
  let lo = 0;
  let hi = ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ends[mid] <= n) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A GAP frame, or for the filter's passes a SKIP frame (which says the seqs exist but were not selected). */
function gapLine(g: Gap): string {
  return g.reason === 'filtered' ? `SKIP ${g.first} ${g.count}\n` : `GAP ${g.first} ${g.count} ${g.reason}\n`;
}

/** A source as one line: LF, CR and backslash escaped as LF framing does. */
function escapeLine(text: string): string {
  return /[\n\r\\]/.test(text)
    ? text.replace(/[\n\r\\]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\\\'))
    : text;
}
