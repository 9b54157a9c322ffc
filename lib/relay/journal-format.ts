/**
 * The byte format of the relay's history segments: one header per file, then records, each carrying its own
 * length and checksum so that a reader can tell a whole record from a torn or damaged one without trusting
 * anything else in the file.
 *
 * All integers are little-endian. A segment file is
 *
 * ```
 * header (32 bytes)
 *   0  magic   "PLRJ"            4 bytes
 *   4  version 1                 u32
 *   8  logId                     8 bytes (the log's 16-hex-digit id, raw)
 *  16  firstSeq                  u64 (also the file's name)
 *  24  reserved, zero            u32
 *  28  CRC-32C of bytes 0..27    u32
 * record, repeated
 *   0  CRC-32C of bytes 4..end   u32   (covers the length field too: a damaged length is caught)
 *   4  bodyLength                u32   (bytes after this field)
 *   8  seq                       u64
 *  16  time                      f64   (ms since the epoch)
 *  24  sourceLength              u16
 *  26  source                    UTF-8
 *  26+sourceLength message       raw bytes, to the end of the record
 * ```
 *
 * Seqs in one segment are consecutive from the header's firstSeq. A reader accepts a record only if its length
 * fits the file, its checksum matches and its seq is the one expected; anything else is a cut.
 */
import crc32c = require('crc-32/crc32c');

/** What the journal keeps per message. */
export interface JournalRecord {
  /** Position in the log: consecutive, never reused. */
  seq: number;
  /** Relay receive time, ms since the epoch. */
  time: number;
  /** The input peer ("ADDR:PORT", "[v6]:PORT", a unix path) or "". */
  source: string;
  /** The message bytes, unaltered. */
  message: Uint8Array;
}

export const HEADER_BYTES = 32;
/** Fixed part of a record: checksum, length, seq, time, source length. */
export const RECORD_FIXED_BYTES = 26;
const BODY_FIXED_BYTES = RECORD_FIXED_BYTES - 8;
/** The largest message a record holds (far above a datagram's 64 KiB; a bound on what a damaged length can claim). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
export const MAX_SOURCE_BYTES = 0xffff;
const MAX_BODY_BYTES = BODY_FIXED_BYTES + MAX_SOURCE_BYTES + MAX_MESSAGE_BYTES;
const MAGIC = 0x4a524c50; // "PLRJ" read as a little-endian u32
const VERSION = 1;
const TWO_32 = 2 ** 32;

function checksum(buf: Uint8Array, start: number, end: number): number {
  return crc32c.buf(buf.subarray(start, end), 0) >>> 0;
}

function readSeq(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + 4) * TWO_32 + buf.readUInt32LE(at);
}

function writeSeq(buf: Buffer, at: number, seq: number): void {
  buf.writeUInt32LE(seq >>> 0, at);
  buf.writeUInt32LE(Math.floor(seq / TWO_32), at + 4);
}

/** A segment header for `logId` (16 hex digits) whose first record will be `firstSeq`. */
export function encodeHeader(logId: string, firstSeq: number): Buffer {
  const buf = Buffer.alloc(HEADER_BYTES);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(VERSION, 4);
  buf.write(logId, 8, 8, 'hex');
  writeSeq(buf, 16, firstSeq);
  buf.writeUInt32LE(checksum(buf, 0, 28), 28);
  return buf;
}

/** Why a header is unusable, or null when it is a header of `logId` starting at `firstSeq`. */
function checkHeader(buf: Buffer, logId: string, firstSeq: number): string | null {
  if (buf.length < HEADER_BYTES) return 'short header';
  if (buf.readUInt32LE(28) !== checksum(buf, 0, 28)) return 'header checksum mismatch';
  if (buf.readUInt32LE(0) !== MAGIC) return 'not a segment file';
  if (buf.readUInt32LE(4) !== VERSION) return `unknown segment version ${buf.readUInt32LE(4)}`;
  if (buf.toString('hex', 8, 16) !== logId) return `segment of another log (${buf.toString('hex', 8, 16)})`;
  if (readSeq(buf, 16) !== firstSeq) return `header says first seq ${readSeq(buf, 16)}`;
  return null;
}

/**
 * Encodes records into one buffer, for one write. The scratch buffer is reused from call to call and grows
 * (doubling) when a batch does not fit; encoded source strings are cached, since a relay has few peers.
 */
export class RecordEncoder {
  private scratch = Buffer.allocUnsafe(64 * 1024);
  private sources = new Map<string, Buffer>();

  /** Encodes `records` and returns a view of the scratch buffer valid until the next call. */
  encode(records: readonly JournalRecord[]): Buffer {
    let size = 0;
    for (const r of records) {
      if (!(r.message instanceof Uint8Array) || r.message.length > MAX_MESSAGE_BYTES) {
        throw new RangeError(
          `journal: the message of seq ${r.seq} is not a Uint8Array of at most ${MAX_MESSAGE_BYTES} bytes`,
        );
      }
      size += RECORD_FIXED_BYTES + this.sourceBytes(r.source).length + r.message.length;
    }
    if (size > this.scratch.length) {
      let n = this.scratch.length;
      while (n < size) n *= 2;
      this.scratch = Buffer.allocUnsafe(n);
    }
    const buf = this.scratch;
    let at = 0;
    for (const r of records) {
      const source = this.sourceBytes(r.source);
      const body = BODY_FIXED_BYTES + source.length + r.message.length;
      buf.writeUInt32LE(body, at + 4);
      writeSeq(buf, at + 8, r.seq);
      buf.writeDoubleLE(r.time, at + 16);
      buf.writeUInt16LE(source.length, at + 24);
      buf.set(source, at + 26);
      buf.set(r.message, at + 26 + source.length);
      const end = at + 8 + body;
      buf.writeUInt32LE(checksum(buf, at + 4, end), at);
      at = end;
    }
    return buf.subarray(0, size);
  }

  private sourceBytes(source: string): Buffer {
    let bytes = this.sources.get(source);
    if (bytes === undefined) {
      bytes = Buffer.from(source, 'utf8');
      if (bytes.length > MAX_SOURCE_BYTES)
        throw new RangeError(`journal: source longer than ${MAX_SOURCE_BYTES} bytes`);
      // Bounded: a relay that sees ever new peers (a port per sender) must not grow this without end.
      if (this.sources.size >= 4096) this.sources.clear();
      this.sources.set(source, bytes);
    }
    return bytes;
  }
}

/** The result of reading one segment's records. */
export interface SegmentScan {
  /** Records read in order from the header on, consecutive from the segment's first seq. */
  records: JournalRecord[];
  /** File offset just past the last record of `records`, or 0 when the header is unusable. */
  end: number;
  /** Where the first unusable byte is and why, or null when the records run to the end of the file. */
  cut: { offset: number; reason: string } | null;
  /**
   * With `findMax`, the highest seq of any record that checks out anywhere in the segment, including records found
   * past the cut by scanning forward byte by byte (firstSeq - 1 when none). Those records are not returned: they do not
   * continue the segment's run, and bytes found by scanning may lie inside another record's message. They only
   * prove that their seqs were written once, so that a new append never reuses them.
   */
  maxSeq: number;
}

/** Why the record at `at` is unusable, or null; its seq must lie in [min, max]. */
function checkRecord(buf: Buffer, at: number, min: number, max: number): string | null {
  if (buf.length - at < 8) return 'torn record header';
  const body = buf.readUInt32LE(at + 4);
  if (body < BODY_FIXED_BYTES || body > MAX_BODY_BYTES) return `impossible record length ${body}`;
  if (at + 8 + body > buf.length) return 'torn record';
  const seq = readSeq(buf, at + 8);
  if (seq < min || seq > max) return min === max ? `seq ${seq} where ${min} was expected` : `seq ${seq} out of range`;
  if (buf.readUInt32LE(at) !== checksum(buf, at + 4, at + 8 + body)) return 'checksum mismatch';
  if (BODY_FIXED_BYTES + buf.readUInt16LE(at + 24) > body) return 'source longer than record';
  return null;
}

function decodeRecord(buf: Buffer, at: number): JournalRecord {
  const body = buf.readUInt32LE(at + 4);
  const sourceEnd = at + 26 + buf.readUInt16LE(at + 24);
  return {
    seq: readSeq(buf, at + 8),
    time: buf.readDoubleLE(at + 16),
    source: buf.toString('utf8', at + 26, sourceEnd),
    // A copy: the file's buffer is dropped once it is read, and a record must not pin it.
    message: Uint8Array.prototype.slice.call(buf, sourceEnd, at + 8 + body),
  };
}

/**
 * Reads and checks one segment file of `logId` named `firstSeq`; `limitSeq` is the first seq that cannot be in it
 * (the next segment's first seq, or MAX_SAFE_INTEGER + 1). `findMax`: scan past a cut for `maxSeq` (only the newest
 * segment needs it: an older one's seqs are all below the next one's name). Any byte content gives a result, never
 * an exception.
 */
export function scanSegment(
  buf: Buffer,
  logId: string,
  firstSeq: number,
  limitSeq: number,
  findMax: boolean,
): SegmentScan {
  const problem = checkHeader(buf, logId, firstSeq);
  if (problem !== null) {
    return {
      records: [],
      end: 0,
      cut: { offset: 0, reason: problem },
      maxSeq: findMax ? resync(buf, 1, firstSeq - 1, limitSeq) : firstSeq - 1,
    };
  }
  const records: JournalRecord[] = [];
  let at = HEADER_BYTES;
  let cut: SegmentScan['cut'] = null;
  while (at < buf.length) {
    const expected = firstSeq + records.length;
    const reason = expected >= limitSeq ? 'records beyond the next segment' : checkRecord(buf, at, expected, expected);
    if (reason !== null) {
      cut = { offset: at, reason };
      break;
    }
    records.push(decodeRecord(buf, at));
    at += 8 + buf.readUInt32LE(at + 4);
  }
  const last = firstSeq + records.length - 1;
  return {
    records,
    end: at,
    cut,
    maxSeq: cut === null || !findMax ? last : resync(buf, cut.offset + 1, last, limitSeq),
  };
}

/**
 * The highest seq of the records that check out from `from` on, found by trying every offset. A candidate must
 * carry a seq above the highest found so far and below `limitSeq`, and no further above it than the bytes since
 * the last good record could hold records (each takes at least RECORD_FIXED_BYTES): random bytes almost never
 * pass those tests, so the checksum is rarely computed and the scan stays linear.
 */
function resync(buf: Buffer, from: number, floor: number, limitSeq: number): number {
  let max = floor;
  let base = from - 1;
  for (let at = from; at + RECORD_FIXED_BYTES <= buf.length;) {
    const reach = Math.min(limitSeq - 1, max + 1 + Math.floor((at - base) / RECORD_FIXED_BYTES));
    // The cheap tests first, without the reason strings checkRecord builds: this runs once per byte of garbage.
    const body = buf.readUInt32LE(at + 4);
    const seq = body >= BODY_FIXED_BYTES && at + 8 + body <= buf.length ? readSeq(buf, at + 8) : 0;
    if (seq <= max || seq > reach || checkRecord(buf, at, max + 1, reach) !== null) {
      at++;
      continue;
    }
    max = readSeq(buf, at + 8);
    at += 8 + buf.readUInt32LE(at + 4);
    base = at;
  }
  return max;
}
