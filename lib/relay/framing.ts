/**
 * How a syslog message travels down a subscriber's TLS stream.
 *
 * - `octet` (RFC 5425 octet counting): `MSG-LEN SP MSG`, the message bytes untouched.
 * - `lf` (the classic syslog relay framing): the message, then LF. So that one line is always one message, an embedded LF is
 *   written `\n`, an embedded CR `\r`, and a backslash `\\`; nothing else changes. `unescapeLf` (and
 *   `logtail`) undo it exactly.
 */
export type Framing = 'lf' | 'octet';

const BACKSLASH = 0x5c;
const LF = 0x0a;
const CR = 0x0d;

/** Bytes the LF escape rewrites. */
function needsEscape(b: number): boolean {
  return b === LF || b === CR || b === BACKSLASH;
}

/** The framed bytes of one message. */
export function frame(message: Uint8Array, framing: Framing): Buffer {
  const out = Buffer.allocUnsafe(framedLength(message, framing));
  frameInto(message, framing, out, 0);
  return out;
}

/** How many bytes `frame(message, framing)` makes. */
export function framedLength(message: Uint8Array, framing: Framing): number {
  if (message.length === 0) throw new RangeError('an empty message cannot be framed (RFC 5425 MSG-LEN is nonzero)');
  if (framing === 'octet') return decimalDigits(message.length) + 1 + message.length;
  // Most lines need no escape: three native byte searches (memchr) find that several times faster
  // than a JS loop over every byte, which only runs when one of them is there.
  const bytes = Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.length);
  if (bytes.indexOf(LF) < 0 && bytes.indexOf(CR) < 0 && bytes.indexOf(BACKSLASH) < 0) return message.length + 1;
  let extra = 0;
  for (let i = 0; i < message.length; i++) if (needsEscape(message[i])) extra++;
  return message.length + extra + 1;
}

function decimalDigits(n: number): number {
  let digits = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    digits++;
  }
  return digits;
}

/**
 * Writes the framed message into `out` at `offset`, which must have `length` (= framedLength) bytes
 * of room. Framing straight into the destination is what lets the relay's log hold every message
 * framed once, without an intermediate buffer.
 */
export function frameInto(
  message: Uint8Array,
  framing: Framing,
  out: Buffer,
  offset: number,
  length = framedLength(message, framing),
): void {
  if (framing === 'octet') {
    const header = length - message.length;
    // The decimal length, written digit by digit from the right (cheaper than making a string).
    for (let n = message.length, at = offset + header - 2; at >= offset; at--, n = Math.floor(n / 10))
      out[at] = 0x30 + (n % 10);
    out[offset + header - 1] = 0x20;
    out.set(message, offset + header);
    return;
  }
  if (length === message.length + 1) {
    out.set(message, offset);
  } else {
    let o = offset;
    for (let i = 0; i < message.length; i++) {
      const b = message[i];
      if (!needsEscape(b)) {
        out[o++] = b;
        continue;
      }
      out[o++] = BACKSLASH;
      out[o++] = b === LF ? 0x6e /* n */ : b === CR ? 0x72 /* r */ : BACKSLASH;
    }
  }
  out[offset + length - 1] = LF;
}

/**
 * How many whole framed messages `bytes` (a framed stream starting at a message boundary) holds:
 * what a peer that received exactly these bytes can decode.
 */
export function wholeMessages(bytes: Uint8Array, framing: Framing): number {
  let count = 0;
  if (framing === 'lf') {
    for (let i = 0; i < bytes.length; i++) if (bytes[i] === LF) count++;
    return count;
  }
  let at = 0;
  while (at < bytes.length) {
    let len = 0;
    let i = at;
    for (; i < bytes.length && bytes[i] !== 0x20; i++) len = len * 10 + (bytes[i] - 0x30);
    if (i + 1 + len > bytes.length) break;
    at = i + 1 + len;
    count++;
  }
  return count;
}

/** The original message bytes of one LF-framed line (without its LF). Unknown escapes are kept as they are. */
export function unescapeLf(line: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(line.length);
  let o = 0;
  for (let i = 0; i < line.length; i++) {
    const b = line[i];
    if (b === BACKSLASH && i + 1 < line.length) {
      const next = line[i + 1];
      if (next === 0x6e || next === 0x72 || next === BACKSLASH) {
        out[o++] = next === 0x6e ? LF : next === 0x72 ? CR : BACKSLASH;
        i++;
        continue;
      }
    }
    out[o++] = b;
  }
  return out.subarray(0, o);
}

/**
 * Incremental parser for a subscriber's side of the stream: feed it bytes as they arrive, get whole
 * messages back (original bytes, framing removed).
 */
export class Deframer {
  #pending: Buffer = Buffer.alloc(0);

  constructor(
    /** The framing the stream carries. */
    readonly framing: Framing,
  ) {}

  /** Messages completed by `chunk`. Throws on a malformed octet-counted frame. */
  push(chunk: Uint8Array): Buffer[] {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : Buffer.from(chunk);
    return this.framing === 'octet' ? this.#octets() : this.#lines();
  }

  /** Bytes received that do not complete a message yet. */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  #lines(): Buffer[] {
    const out: Buffer[] = [];
    let start = 0;
    for (let nl = this.#pending.indexOf(LF); nl >= 0; nl = this.#pending.indexOf(LF, start)) {
      out.push(unescapeLf(this.#pending.subarray(start, nl)));
      start = nl + 1;
    }
    this.#pending = this.#pending.subarray(start);
    return out;
  }

  #octets(): Buffer[] {
    const out: Buffer[] = [];
    for (;;) {
      const sp = this.#pending.indexOf(0x20);
      if (sp < 0) {
        if (this.#pending.length > 10) throw new Error('octet framing: no length before 10 bytes');
        break;
      }
      const digits = this.#pending.subarray(0, sp).toString('latin1');
      // RFC 5425: MSG-LEN = NONZERO-DIGIT *DIGIT (an empty message cannot be framed).
      if (!/^[1-9][0-9]{0,9}$/.test(digits)) throw new Error(`octet framing: bad length ${JSON.stringify(digits)}`);
      const len = Number(digits);
      if (this.#pending.length < sp + 1 + len) break;
      out.push(Buffer.from(this.#pending.subarray(sp + 1, sp + 1 + len)));
      this.#pending = this.#pending.subarray(sp + 1 + len);
    }
    return out;
  }
}
