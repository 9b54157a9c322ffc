/**
 * The relay's log: every accepted message, once, with a sequence number, in the framing subscribers
 * receive. Subscribers are cursors into it (see subscriber.ts), so appending costs the same whatever
 * their number, and a subscriber writes a contiguous run of framed bytes straight from here.
 *
 * Storage: framed messages are laid end to end in chunks of CHUNK_BYTES; a message never spans two
 * chunks, so any run of consecutive messages within one chunk is one contiguous view (no copy).
 * Per message, typed arrays in a ring hold where it lies, its length, when it arrived and from whom
 * (sources are interned: one number per message, one string per distinct sender). Nothing is
 * allocated per message.
 *
 * Bounds: the newest `messages` messages and `bytes` framed bytes; the oldest go first, counted as
 * evicted. A chunk is refilled (or released) once its last message is evicted and no subscriber is
 * writing from it; memory is therefore the byte bound plus one partly used chunk and two spare ones,
 * plus the per-message arrays (41 bytes a message: the PRI is read once, here, for filters).
 *
 * Hole: a log recovered after a power cut may have lost seqs it had handed out (the journal's
 * `Recovery.lost`). They are one range below the head that no message will ever fill; the history
 * knows it (`hole`) so that a subscriber that reaches it is told (GAP … lost), and stores the
 * messages on either side of it contiguously in the ring: a seq after the hole sits `hole size`
 * slots lower. It is kept for the whole run, also once the messages before it are evicted, so a
 * subscriber resuming from before it still learns which seqs were lost rather than evicted.
 */
import { randomBytes } from 'crypto';
import { Framing, framedLength, frameInto } from './framing';
import { priOf } from './pri';

/**
 * Bytes per chunk. It must hold the largest framed message (a 64 KiB datagram in LF framing with
 * every byte escaped is 128 KiB + 1) and is the longest run a subscriber can write in one go; a
 * subscriber whose write waits keeps the chunk it writes from alive, so it is also what one stalled
 * subscriber can hold beyond the history bound.
 */
export const CHUNK_BYTES = 256 * 1024;

/** Sequence numbers are exact JS numbers: at a million messages a second this lasts 285 years. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;

export interface HistoryLimits {
  /** Most messages retained. */
  messages: number;
  /** Most framed bytes retained (the newest message is kept even when it alone is bigger). */
  bytes: number;
}

/** Distinct message sources, one number each, forgotten when no retained message refers to them. */
class Sources {
  readonly #ids = new Map<string, number>();
  #keys: string[] = [];
  #texts: string[] = [];
  #refs = new Uint32Array(16);
  readonly #free: number[] = [];

  /** The id of `key` (adding it, with `text()` as its printable form, if new), for one more message. */
  acquire(key: string, text: () => string): number {
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = this.#free.pop() ?? this.#keys.length;
      if (id >= this.#refs.length) {
        const grown = new Uint32Array(this.#refs.length * 2);
        grown.set(this.#refs);
        this.#refs = grown;
      }
      this.#ids.set(key, id);
      this.#keys[id] = key;
      this.#texts[id] = text();
    }
    this.#refs[id]++;
    return id;
  }

  /** One more message for an id that is live (its key still maps to it). */
  hold(id: number): void {
    this.#refs[id]++;
  }

  release(id: number): void {
    if (--this.#refs[id] > 0) return;
    this.#ids.delete(this.#keys[id]);
    this.#keys[id] = '';
    this.#texts[id] = '';
    this.#free.push(id);
  }

  /** The key `id` stands for now ('' once released). */
  keyOf(id: number): string {
    return this.#keys[id] ?? '';
  }

  text(id: number): string {
    return this.#texts[id];
  }

  get size(): number {
    return this.#ids.size;
  }
}

/** A run of consecutive messages as their framed bytes (a view into the log: valid while held). */
export interface Run {
  bytes: Buffer;
  count: number;
}

export class History {
  readonly logId: string;
  #oldest: number;
  #next: number;
  /** Messages retained (next - oldest, less the hole when the hole lies between them). */
  #count = 0;
  // The hole: seqs holeFrom…holeTo that will never come (none: an empty range, so every test below is false).
  #holeFrom = 0;
  #holeTo = -1;
  #holeSize = 0;
  /** Retained framed bytes, and the log-wide byte position where the next message starts. */
  #bytes = 0;
  #headOffset = 0;
  // The ring of per-message records: index of the oldest, capacity (a power of two), and columns.
  #head = 0;
  #capacity = 0;
  #start = new Float64Array(0); // log-wide byte position (framed bytes before it, ever)
  #chunkOf = new Float64Array(0); // chunk serial number
  #at = new Uint32Array(0); // offset within the chunk
  #length = new Uint32Array(0); // framed length
  #time = new Float64Array(0); // ms since the epoch, when the relay received it
  #source = new Uint32Array(0);
  #pri = new Uint8Array(0); // the message's PRI (see pri.ts), for subscriber filters
  // Chunks in order; #chunks[0] has serial #firstChunk. The last one is being filled up to #fill.
  #chunks: Buffer[] = [];
  #firstChunk = 0;
  #fill = CHUNK_BYTES;
  /** Chunks being written from (serial → writers): an evicted chunk is reused only when nobody holds it. */
  readonly #pins = new Map<number, number>();
  /** Evicted chunks nobody held, ready to be filled again (no garbage, no allocation in a steady flood). */
  readonly #spare: Buffer[] = [];
  readonly #sources = new Sources();
  /** Called with how many messages an append evicted. */
  onEvict: (count: number) => void = () => {};

  constructor(
    readonly framing: Framing,
    readonly limits: HistoryLimits,
    start: { logId?: string; nextSeq?: number } = {},
  ) {
    if (!(limits.messages >= 1) || !(limits.bytes >= 1)) throw new RangeError('history limits must be at least 1');
    this.logId = start.logId ?? randomBytes(8).toString('hex');
    this.#oldest = this.#next = start.nextSeq ?? 1;
    this.#grow(Math.min(1024, ceilPow2(limits.messages)));
  }

  /** Oldest retained seq (= next when empty). */
  get oldest(): number {
    return this.#oldest;
  }

  /** The seq the next message will get. */
  get next(): number {
    return this.#next;
  }

  /** Messages retained. */
  get count(): number {
    return this.#count;
  }

  /** The seqs that were lost (handed out before a power cut, gone from disk), or undefined. */
  get hole(): { from: number; to: number } | undefined {
    return this.#holeSize > 0 ? { from: this.#holeFrom, to: this.#holeTo } : undefined;
  }

  /**
   * Marks seqs from…to as lost: they will never be in the log, and the next message gets to + 1.
   * Only at the head (from = next) and only once: recovery calls it after replaying the records
   * before the hole.
   */
  lose(from: number, to: number): void {
    if (this.#holeSize > 0) throw new Error(`the log already has a hole (${this.#holeFrom}…${this.#holeTo})`);
    if (from !== this.#next || !Number.isSafeInteger(to) || to < from || to >= MAX_SEQ) {
      throw new RangeError(`a hole ${from}…${to} must start at the head (seq ${this.#next}) and end below ${MAX_SEQ}`);
    }
    this.#holeFrom = from;
    this.#holeTo = to;
    this.#holeSize = to - from + 1;
    if (this.#count === 0) this.#oldest = to + 1;
    this.#next = to + 1;
  }

  /** How many messages seqs from…to-1 hold (the hole's seqs are none). */
  countBetween(from: number, to: number): number {
    const inHole = Math.min(to, this.#holeTo + 1) - Math.max(from, this.#holeFrom);
    return to - from - (inHole > 0 ? inHole : 0);
  }

  /** Framed bytes retained. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Distinct sources of retained messages. */
  get sourceCount(): number {
    return this.#sources.size;
  }

  /**
   * The source id for a sender: `key` identifies it cheaply (its raw address bytes), `text` makes its
   * printable form once. Pass the id to `append`, which holds it for as long as the message is kept.
   */
  source(key: string, text: () => string): number {
    return this.#sources.acquire(key, text);
  }

  /**
   * `source()` again for a sender seen before, without looking its key up: `id` must still stand
   * for `key` (check with `sourceKey`), since an id is reused once no retained message refers to it.
   */
  holdSource(id: number): number {
    this.#sources.hold(id);
    return id;
  }

  /** The key a source id stands for now ('' when no retained message refers to it any more). */
  sourceKey(id: number): string {
    return this.#sources.keyOf(id);
  }

  /**
   * Appends one (non-empty) message received at `time` from `source` (an id from `source()`, whose
   * hold this message takes over): frames it into the log, evicting the oldest as the bounds say.
   * Returns its seq.
   */
  append(message: Uint8Array, time: number, source: number): number {
    if (this.#next >= MAX_SEQ) throw new RangeError(`the log has reached seq ${MAX_SEQ}: start a new one`);
    const length = framedLength(message, this.framing);
    this.#evictFor(length);
    if (this.#count === this.#capacity) this.#grow(this.#capacity * 2);
    if (this.#fill + length > CHUNK_BYTES || this.#chunks.length === 0) this.#newChunk(length);
    const chunk = this.#chunks[this.#chunks.length - 1];
    frameInto(message, this.framing, chunk, this.#fill, length);
    const i = (this.#head + this.#count) & (this.#capacity - 1);
    this.#start[i] = this.#headOffset;
    this.#chunkOf[i] = this.#firstChunk + this.#chunks.length - 1;
    this.#at[i] = this.#fill;
    this.#length[i] = length;
    this.#time[i] = time;
    this.#source[i] = source;
    this.#pri[i] = priOf(message);
    this.#fill += length;
    this.#headOffset += length;
    this.#bytes += length;
    this.#count++;
    return this.#next++;
  }

  /**
   * Log-wide byte position of `seq` (oldest ≤ seq ≤ next; `next` gives the head position). The
   * hole's seqs hold no bytes: they start where the message after the hole does.
   */
  startOf(seq: number): number {
    if (seq >= this.#holeFrom && seq <= this.#holeTo) seq = this.#holeTo + 1;
    return seq === this.#next ? this.#headOffset : this.#start[this.#index(seq)];
  }

  /** Framed bytes of messages from..to-1 (both within oldest…next). */
  bytesBetween(from: number, to: number): number {
    return this.startOf(to) - this.startOf(from);
  }

  /** When `seq` was received (ms since the epoch). */
  timeOf(seq: number): number {
    return this.#time[this.#index(seq)];
  }

  /** Who sent `seq` ('' for an unnamed unix sender). */
  sourceOf(seq: number): string {
    return this.#sources.text(this.#source[this.#index(seq)]);
  }

  /** The PRI of `seq` (0…191; user.notice for a message without a valid one). */
  priOf(seq: number): number {
    return this.#pri[this.#index(seq)];
  }

  /**
   * The first seq from `seq` (retained) up to `end` (≤ next) whose PRI is selected (`want` 1) or not
   * (`want` 0) by `selects`; `end` when there is none. Stops at the hole, like `run`.
   */
  scan(seq: number, end: number, selects: Uint8Array, want: 0 | 1): number {
    if (seq < this.#holeFrom && end > this.#holeFrom) end = this.#holeFrom;
    if (seq >= end) return end;
    const mask = this.#capacity - 1;
    const pri = this.#pri;
    let i = this.#index(seq);
    for (let s = seq; s < end; s++, i = (i + 1) & mask) if (selects[pri[i]] === want) return s;
    return end;
  }

  /** How many of the messages from…to-1 (retained; the hole holds none) `selects` selects. */
  countSelected(from: number, to: number, selects: Uint8Array): number {
    let n = 0;
    for (let s = from; s < to; s++) {
      if (s >= this.#holeFrom && s <= this.#holeTo) s = this.#holeTo;
      else n += selects[this.#pri[this.#index(s)]];
    }
    return n;
  }

  /**
   * The longest run of messages from `seq` (retained) that lies in one chunk, stops before `end`
   * (≤ next) and before the hole, and holds at most `maxBytes` — but always at least the message at `seq`.
   */
  run(seq: number, maxBytes: number, end = this.#next): Run {
    const first = this.#index(seq);
    if (seq < this.#holeFrom && end > this.#holeFrom) end = this.#holeFrom;
    const chunk = this.#chunkOf[first];
    const base = this.#start[first];
    // The last message of the run: the largest e < end with the same chunk and within maxBytes.
    // Every framed message is at least 2 bytes (one byte and LF), which bounds the search.
    let lo = seq;
    let hi = Math.min(end - 1, seq + Math.floor(maxBytes / 2));
    while (lo < hi) {
      const mid = lo + Math.ceil((hi - lo) / 2);
      const i = this.#index(mid);
      if (this.#chunkOf[i] === chunk && this.#start[i] + this.#length[i] - base <= maxBytes) lo = mid;
      else hi = mid - 1;
    }
    const last = this.#index(lo);
    const at = this.#at[first];
    const bytes = this.#chunks[chunk - this.#firstChunk].subarray(at, this.#at[last] + this.#length[last]);
    return { bytes, count: lo - seq + 1 };
  }

  /**
   * Marks the chunk holding `seq` as being written from (the caller holds a run of it), so it is not
   * refilled even if evicted meanwhile. Returns the token to pass to `unpin`.
   */
  pin(seq: number): number {
    const chunk = this.#chunkOf[this.#index(seq)];
    this.#pins.set(chunk, (this.#pins.get(chunk) ?? 0) + 1);
    return chunk;
  }

  unpin(chunk: number): void {
    const n = (this.#pins.get(chunk) ?? 0) - 1;
    if (n > 0) this.#pins.set(chunk, n);
    else this.#pins.delete(chunk);
  }

  /** The smallest seq s in [from, to] such that messages s…to-1 hold at most `maxBytes`. */
  firstWithin(from: number, to: number, maxBytes: number): number {
    const end = this.startOf(to);
    let lo = from;
    let hi = to;
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (end - this.startOf(mid) <= maxBytes) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The largest seq e in [from, to] such that messages from…e-1 hold at most `maxBytes`. */
  endWithin(from: number, to: number, maxBytes: number): number {
    const start = this.startOf(from);
    let lo = from;
    let hi = to;
    while (lo < hi) {
      const mid = lo + Math.ceil((hi - lo) / 2);
      if (this.startOf(mid) - start <= maxBytes) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  #index(seq: number): number {
    if (!(seq >= this.#oldest && seq < this.#next) || (seq >= this.#holeFrom && seq <= this.#holeTo)) {
      throw new RangeError(
        `seq ${seq} is not in the log (${this.#oldest}…${this.#next - 1}${this.#holeSize > 0 ? `, lost ${this.#holeFrom}…${this.#holeTo}` : ''})`,
      );
    }
    // Seqs after the hole sit hole-size slots lower (the oldest may lie on either side of it).
    const slot = seq > this.#holeTo ? seq - this.#holeSize : seq;
    const base = this.#oldest > this.#holeTo ? this.#oldest - this.#holeSize : this.#oldest;
    return (this.#head + (slot - base)) & (this.#capacity - 1);
  }

  #evictFor(length: number): void {
    let evicted = 0;
    while (this.#count > 0 && (this.#count >= this.limits.messages || this.#bytes + length > this.limits.bytes)) {
      const i = this.#head;
      this.#bytes -= this.#length[i];
      this.#sources.release(this.#source[i]);
      this.#head = (i + 1) & (this.#capacity - 1);
      this.#count--;
      // The oldest steps over the hole: the message after it (or the head) is next in line.
      this.#oldest = this.#oldest + 1 === this.#holeFrom ? this.#holeTo + 1 : this.#oldest + 1;
      evicted++;
    }
    if (evicted === 0) return;
    // Chunks wholly before the oldest message go (the one being filled stays).
    const keepFrom = this.#count > 0 ? this.#chunkOf[this.#head] : this.#firstChunk + this.#chunks.length - 1;
    while (this.#firstChunk < keepFrom) {
      const chunk = this.#chunks.shift()!;
      if (!this.#pins.has(this.#firstChunk) && this.#spare.length < 2 && chunk.length === CHUNK_BYTES)
        this.#spare.push(chunk);
      this.#firstChunk++;
    }
    this.onEvict(evicted);
  }

  #newChunk(length: number): void {
    // Own memory, not Node's pool: a chunk is reused or released whole once its messages are evicted.
    const spare = length <= CHUNK_BYTES ? this.#spare.pop() : undefined;
    this.#chunks.push(spare ?? Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, length)));
    this.#fill = 0;
  }

  #grow(capacity: number): void {
    const count = this.#count;
    const mask = this.#capacity - 1;
    const head = this.#head;
    // Oldest first, from index 0: the ring unrolled into the larger arrays.
    const moved = <A extends Float64Array | Uint32Array | Uint8Array>(from: A, to: A): A => {
      for (let n = 0; n < count; n++) to[n] = from[(head + n) & mask];
      return to;
    };
    this.#start = moved(this.#start, new Float64Array(capacity));
    this.#chunkOf = moved(this.#chunkOf, new Float64Array(capacity));
    this.#at = moved(this.#at, new Uint32Array(capacity));
    this.#length = moved(this.#length, new Uint32Array(capacity));
    this.#time = moved(this.#time, new Float64Array(capacity));
    this.#source = moved(this.#source, new Uint32Array(capacity));
    this.#pri = moved(this.#pri, new Uint8Array(capacity));
    this.#head = 0;
    this.#capacity = capacity;
  }
}

function ceilPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
