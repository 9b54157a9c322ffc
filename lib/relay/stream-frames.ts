/**
 * Syslog messages out of a TCP or TLS byte stream (RFC 6587), as a sender frames them.
 *
 * The framing is detected once per connection, from its first byte: a digit 1–9 starts an
 * octet-counted frame (`MSG-LEN SP MSG`, RFC 6587 §3.4.1, the only framing RFC 5425 allows), and
 * anything else is non-transparent framing with LF as the trailer (§3.4.2: the message is every byte
 * up to the LF). A connection keeps the framing it started with: an octet-counted stream whose next
 * frame does not start with a length is broken — from there on nobody can tell where a message
 * begins — and the reader throws a FramingError naming what it found and where.
 *
 * Messages longer than `maxMessage` are cut to it and the rest of the frame is skipped (RFC 5424
 * §6.1: a receiver SHOULD truncate a message longer than it supports), so one oversized message
 * neither ends the connection nor costs more memory than `maxMessage`: the stream stays in step
 * because the frame's end is still known (its length, or the next LF). A length prefix of more than
 * 9 digits (a gigabyte or more) is not a message size any syslog sender uses: it is a FramingError.
 *
 * Bytes are never altered: a CR before the LF, NULs, invalid UTF-8 all stay in the message. An empty
 * line carries no message (RFC 5425 cannot frame an empty one) and is counted, not appended.
 */

/** Longest length prefix read, in digits: 999,999,999 bytes. */
export const MAX_LENGTH_DIGITS = 9;

const LF = 0x0a;
const SP = 0x20;
const ZERO = 0x30;
const NINE = 0x39;

export type StreamFraming = 'octet' | 'lf';

/** A sender broke the framing; the connection cannot be read on. */
export class FramingError extends Error {
  readonly code = 'ERR_SYSLOG_FRAMING';
  constructor(
    readonly reason: string,
    /** Offset in the stream (bytes from the connection's start) of the offending byte. */
    readonly offset: number,
  ) {
    super(`framing error at byte ${offset}: ${reason}`);
  }
}

/** What the reader hands out for each message. */
export interface FrameSink {
  /** A whole message (or its first `maxMessage` bytes when `cut`); the bytes are valid only during the call. */
  message(bytes: Buffer, cut: boolean): void;
  /** An empty LF-framed line: nothing to append. */
  empty(): void;
}

function printable(byte: number): string {
  return byte >= 0x21 && byte <= 0x7e ? `'${String.fromCharCode(byte)}'` : `0x${byte.toString(16).padStart(2, '0')}`;
}

export class FrameReader {
  #framing: StreamFraming | undefined;
  /** Bytes of the connection consumed so far (for error offsets). */
  #offset = 0;
  /** Octet: reading the length (digits so far) or the body (bytes left of the frame). */
  #inLength = true;
  #length = 0;
  #digits = 0;
  #left = 0;
  /** The current message's bytes so far (up to maxMessage), and whether some were cut. */
  #parts: Buffer[] = [];
  #have = 0;
  #cut = false;

  constructor(readonly maxMessage: number) {
    if (!Number.isInteger(maxMessage) || maxMessage < 1)
      throw new RangeError(`maxMessage must be a positive integer, not ${maxMessage}`);
  }

  /** The framing detected, once the first byte has arrived. */
  get framing(): StreamFraming | undefined {
    return this.#framing;
  }

  /** True when a frame has begun and not ended (its bytes would be lost if the stream ended now). */
  get partial(): boolean {
    if (this.#framing === 'octet') return !this.#inLength || this.#digits > 0;
    return this.#have > 0 || this.#cut;
  }

  /** Reads `chunk` on from where the last one ended; every message completed is given to `sink`. Throws FramingError. */
  push(chunk: Buffer, sink: FrameSink): void {
    if (chunk.length === 0) return;
    this.#framing ??= chunk[0] > ZERO && chunk[0] <= NINE ? 'octet' : 'lf';
    if (this.#framing === 'octet') this.#octet(chunk, sink);
    else this.#lf(chunk, sink);
  }

  /**
   * The stream ended: a last LF-framed line without its LF is a message all the same (the sender
   * closed after it); a partial octet-counted frame is not (its length says more was coming) —
   * `partial` tells the caller that bytes were lost.
   */
  end(sink: FrameSink): void {
    if (this.#framing === 'lf' && (this.#have > 0 || this.#cut)) this.#emit(sink);
  }

  #octet(chunk: Buffer, sink: FrameSink): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#inLength) {
        const b = chunk[i];
        if (b === SP && this.#digits > 0) {
          this.#inLength = false;
          this.#left = this.#length;
        } else if (b >= ZERO && b <= NINE && !(b === ZERO && this.#digits === 0)) {
          if (this.#digits === MAX_LENGTH_DIGITS) {
            throw new FramingError(`octet-counted length longer than ${MAX_LENGTH_DIGITS} digits`, this.#offset + i);
          }
          this.#length = this.#length * 10 + (b - ZERO);
          this.#digits++;
        } else {
          const where =
            this.#digits === 0 ? 'where an octet-counted frame should start' : 'inside an octet-counted length';
          throw new FramingError(
            `${printable(b)} ${where} (expected ${this.#digits === 0 ? 'a digit 1-9' : 'a digit or a space'})`,
            this.#offset + i,
          );
        }
        i++;
        continue;
      }
      const take = Math.min(this.#left, chunk.length - i);
      this.#collect(chunk.subarray(i, i + take));
      this.#left -= take;
      i += take;
      if (this.#left === 0) {
        this.#emit(sink);
        this.#inLength = true;
        this.#length = 0;
        this.#digits = 0;
      }
    }
    this.#offset += chunk.length;
  }

  #lf(chunk: Buffer, sink: FrameSink): void {
    let i = 0;
    while (i < chunk.length) {
      const lf = chunk.indexOf(LF, i);
      const end = lf < 0 ? chunk.length : lf;
      this.#collect(chunk.subarray(i, end));
      if (lf < 0) break;
      if (this.#have === 0 && !this.#cut) sink.empty();
      else this.#emit(sink);
      i = lf + 1;
    }
    this.#offset += chunk.length;
  }

  /** Keeps up to maxMessage bytes of the current message; anything beyond marks it cut. */
  #collect(bytes: Buffer): void {
    const room = this.maxMessage - this.#have;
    if (bytes.length > room) this.#cut = true;
    const kept = bytes.length > room ? bytes.subarray(0, room) : bytes;
    if (kept.length === 0) return;
    this.#parts.push(kept);
    this.#have += kept.length;
  }

  #emit(sink: FrameSink): void {
    const parts = this.#parts;
    // A message inside one chunk (the common case) is a view of it: no copy.
    const bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts, this.#have);
    const cut = this.#cut;
    this.#parts = [];
    this.#have = 0;
    this.#cut = false;
    sink.message(bytes, cut);
  }
}
