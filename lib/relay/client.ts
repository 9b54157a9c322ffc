/**
 * The subscriber's side of the `logrelay/1` protocol: the request line it sends and an incremental
 * parser for what the relay sends back (HELLO, then MSG / TIME / GAP / SKIP / RESET / BYE frames).
 *
 * The parser checks syntax and the pairing of a TIME frame with the MSG frame that follows it; the
 * order of sequence numbers across frames is the caller's to check (it knows where it asked to start).
 * Any malformed input is an `ERR_LOGRELAY_PROTOCOL` error naming what was wrong; after one the
 * parser refuses further input (the stream is out of step and cannot be trusted).
 */
import { Buffer } from 'buffer';
import { Deframer, Framing, unescapeLf } from './framing';

/** The ALPN name of the protocol, offered by a subscriber and selected by the relay (the version is part of the name). */
export const PROTOCOL = 'logrelay/1';

/** Longest line accepted (LF excluded): frame headers are short; a TIME line holds a source address or unix path. */
export const MAX_LINE = 4096;
/**
 * Largest MSG payload accepted. The relay sends runs of up to a few hundred KiB; the bound stops a
 * broken or hostile relay from making the client buffer without limit.
 */
export const MAX_PAYLOAD = 16 * 1024 * 1024;

/** The relay's first line: which log it serves and what it holds. */
export interface Hello {
  type: 'hello';
  version: 1;
  /** 16 lowercase hex digits. */
  log: string;
  framing: Framing;
  /** Oldest retained seq (equal to `next` when the history is empty). */
  oldest: number;
  /** The seq the next message appended will carry. */
  next: number;
  /** The relay takes `filter=` in the request (HELLO `filter=1`). */
  filter: boolean;
}

/** Relay receive time (ms since the epoch) and source address of one message (TIME frames, `meta=1`). */
export interface Meta {
  time: number;
  source: string;
}

/** `count` consecutive messages starting at `firstSeq`. */
export interface MsgFrame {
  type: 'msg';
  firstSeq: number;
  count: number;
  /** The messages' original bytes (the framing undone), `count` of them. */
  messages: Buffer[];
  /** From the TIME frame that preceded it, when the relay sent one. */
  meta?: Meta[];
}

/** Messages `firstSeq … firstSeq + count − 1` will never come. */
export interface GapFrame {
  type: 'gap';
  firstSeq: number;
  count: number;
  reason: string;
}

/** Messages `firstSeq … firstSeq + count − 1` exist but the request's filter did not select them. */
export interface SkipFrame {
  type: 'skip';
  firstSeq: number;
  count: number;
}

/** The requested log id is not the relay's log `log`: the relay streams from its oldest message next. */
export interface ResetFrame {
  type: 'reset';
  log: string;
}

/** The relay is about to close the connection, and why. */
export interface ByeFrame {
  type: 'bye';
  reason: string;
}

export type Frame = Hello | MsgFrame | GapFrame | SkipFrame | ResetFrame | ByeFrame;

/** Where to start, as the request line says it. */
export type From = { from: 'oldest' } | { from: 'live' } | { from: 'after'; seq: number; log: string };

/** A malformed stream from the relay. */
export interface ProtocolError extends Error {
  code: 'ERR_LOGRELAY_PROTOCOL';
}

function protocolError(why: string, line?: Buffer): ProtocolError {
  const shown =
    line === undefined
      ? ''
      : `: ${JSON.stringify(line.subarray(0, 80).toString('latin1'))}${line.length > 80 ? '…' : ''}`;
  const err = new Error(`ERR_LOGRELAY_PROTOCOL: ${why}${shown}`) as ProtocolError;
  err.code = 'ERR_LOGRELAY_PROTOCOL';
  return err;
}

const LOG_ID = /^[0-9a-f]{16}$/;
const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

/**
 * The request line for `from` (LF included). `meta` asks for TIME frames; `filter` (a selector, see
 * selector.ts; checked by the relay) for only the messages it selects.
 */
export function requestLine(from: From, options: { meta?: boolean; filter?: string } = {}): Buffer {
  let line: string;
  if (from.from === 'after') {
    if (!Number.isSafeInteger(from.seq) || from.seq < 0)
      throw new RangeError(`seq must be a safe integer ≥ 0, not ${from.seq}`);
    if (!LOG_ID.test(from.log))
      throw new RangeError(`log id must be 16 lowercase hex digits, not ${JSON.stringify(from.log)}`);
    line = `FROM ${from.seq} log=${from.log}`;
  } else {
    line = `FROM ${from.from}`;
  }
  if (options.meta) line += ' meta=1';
  if (options.filter !== undefined) {
    if (!/^[\x21-\x7e]+$/.test(options.filter))
      throw new RangeError(`a filter is printable ASCII without spaces, not ${JSON.stringify(options.filter)}`);
    line += ` filter=${options.filter}`;
  }
  return Buffer.from(`${line}\n`, 'latin1');
}

type State =
  | { at: 'hello' }
  | { at: 'frame'; meta?: { firstSeq: number; count: number; entries: Meta[] } }
  | { at: 'time'; firstSeq: number; count: number; entries: Meta[] }
  | { at: 'payload'; firstSeq: number; count: number; bytes: number; parts: Buffer[]; have: number; meta?: Meta[] };

/**
 * Feed it the bytes read from the relay, in chunks of any size; it returns the frames each chunk
 * completes. It keeps references to the chunks it is given (no copy): do not modify them afterwards.
 */
export class FrameParser {
  #state: State = { at: 'hello' };
  #framing: Framing = 'lf';
  #buf: Buffer = Buffer.alloc(0);
  /** How far #buf was already searched for LF (a line arriving byte by byte is scanned once). */
  #scanned = 0;
  #failed: ProtocolError | undefined;

  push(chunk: Uint8Array): Frame[] {
    if (this.#failed) throw this.#failed;
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.#buf = this.#buf.length === 0 ? bytes : Buffer.concat([this.#buf, bytes]);
    const frames: Frame[] = [];
    try {
      this.#parse(frames);
    } catch (err) {
      this.#failed = err as ProtocolError;
      throw err;
    }
    return frames;
  }

  #parse(frames: Frame[]): void {
    for (;;) {
      const s = this.#state;
      if (s.at === 'payload') {
        if (this.#buf.length === 0) return;
        const take = Math.min(s.bytes - s.have, this.#buf.length);
        s.parts.push(this.#buf.subarray(0, take));
        s.have += take;
        this.#buf = this.#buf.subarray(take);
        if (s.have < s.bytes) return;
        frames.push(this.#msg(s));
        this.#state = { at: 'frame' };
        continue;
      }
      const line = this.#line();
      if (line === undefined) return;
      if (s.at === 'hello') {
        frames.push(this.#hello(line));
        this.#state = { at: 'frame' };
      } else if (s.at === 'time') {
        s.entries.push(timeLine(line));
        if (s.entries.length === s.count)
          this.#state = { at: 'frame', meta: { firstSeq: s.firstSeq, count: s.count, entries: s.entries } };
      } else {
        const frame = this.#frameLine(line, s);
        if (frame) frames.push(frame);
      }
    }
  }

  /** The next complete line (LF removed), or undefined when it has not all arrived. */
  #line(): Buffer | undefined {
    const lf = this.#buf.indexOf(10, this.#scanned);
    if (lf < 0) {
      if (this.#buf.length > MAX_LINE) throw protocolError(`line longer than ${MAX_LINE} bytes`, this.#buf);
      this.#scanned = this.#buf.length;
      return undefined;
    }
    if (lf > MAX_LINE) throw protocolError(`line longer than ${MAX_LINE} bytes`, this.#buf);
    const line = this.#buf.subarray(0, lf);
    this.#buf = this.#buf.subarray(lf + 1);
    this.#scanned = 0;
    return line;
  }

  #hello(line: Buffer): Hello {
    const words = line.toString('latin1').split(' ');
    if (words[0] !== 'HELLO') throw protocolError('expected HELLO', line);
    if (words[1] !== '1') throw protocolError('unsupported protocol version', line);
    const fields = new Map<string, string>();
    for (const word of words.slice(2)) {
      const eq = word.indexOf('=');
      // Unknown keys are allowed: a later revision of version 1 may add fields.
      if (eq > 0) fields.set(word.slice(0, eq), word.slice(eq + 1));
      else throw protocolError('bad HELLO field', line);
    }
    const log = fields.get('log') ?? '';
    if (!LOG_ID.test(log)) throw protocolError('bad log id in HELLO', line);
    const framing = fields.get('framing');
    if (framing !== 'lf' && framing !== 'octet') throw protocolError('bad framing in HELLO', line);
    const oldest = decimal(fields.get('oldest'), line, 1);
    const next = decimal(fields.get('next'), line, 1);
    if (oldest > next) throw protocolError('oldest is after next in HELLO', line);
    this.#framing = framing;
    return { type: 'hello', version: 1, log, framing, oldest, next, filter: fields.get('filter') === '1' };
  }

  #frameLine(line: Buffer, s: Extract<State, { at: 'frame' }>): Frame | undefined {
    const text = line.toString('latin1');
    const sp = text.indexOf(' ');
    const kind = sp < 0 ? text : text.slice(0, sp);
    const args = sp < 0 ? [] : text.slice(sp + 1).split(' ');
    if (s.meta && kind !== 'MSG') throw protocolError('a TIME frame must be followed by its MSG frame', line);
    switch (kind) {
      case 'MSG': {
        if (args.length !== 3) throw protocolError('MSG needs firstSeq, count and bytes', line);
        const { firstSeq, count } = run(args, line);
        const bytes = decimal(args[2], line, 1);
        if (bytes > MAX_PAYLOAD) throw protocolError(`MSG payload larger than ${MAX_PAYLOAD} bytes`, line);
        if (s.meta && (s.meta.firstSeq !== firstSeq || s.meta.count !== count))
          throw protocolError('MSG does not match the TIME frame before it', line);
        this.#state = { at: 'payload', firstSeq, count, bytes, parts: [], have: 0, meta: s.meta?.entries };
        return undefined;
      }
      case 'TIME': {
        if (args.length !== 2) throw protocolError('TIME needs firstSeq and count', line);
        const { firstSeq, count } = run(args, line);
        this.#state = { at: 'time', firstSeq, count, entries: [] };
        return undefined;
      }
      case 'GAP': {
        if (args.length < 3) throw protocolError('GAP needs firstSeq, count and a reason', line);
        return { type: 'gap', ...run(args, line), reason: args.slice(2).join(' ') };
      }
      case 'SKIP': {
        if (args.length !== 2) throw protocolError('SKIP needs firstSeq and count', line);
        return { type: 'skip', ...run(args, line) };
      }
      case 'RESET': {
        if (args.length !== 1 || !LOG_ID.test(args[0])) throw protocolError('RESET needs a log id', line);
        return { type: 'reset', log: args[0] };
      }
      case 'BYE':
        return { type: 'bye', reason: args.join(' ') };
      default:
        throw protocolError('unknown frame', line);
    }
  }

  #msg(s: Extract<State, { at: 'payload' }>): MsgFrame {
    const payload = s.parts.length === 1 ? s.parts[0] : Buffer.concat(s.parts, s.bytes);
    const deframer = new Deframer(this.#framing);
    let messages: Buffer[];
    try {
      messages = deframer.push(payload);
    } catch (err) {
      throw protocolError(`MSG ${s.firstSeq} payload: ${(err as Error).message}`);
    }
    if (messages.length !== s.count || deframer.pendingBytes !== 0) {
      throw protocolError(
        `MSG ${s.firstSeq} announces ${s.count} messages in ${s.bytes} bytes but holds ${messages.length}${deframer.pendingBytes ? ` and ${deframer.pendingBytes} stray bytes` : ''}`,
      );
    }
    return s.meta
      ? { type: 'msg', firstSeq: s.firstSeq, count: s.count, messages, meta: s.meta }
      : { type: 'msg', firstSeq: s.firstSeq, count: s.count, messages };
  }
}

function decimal(text: string | undefined, line: Buffer, min: number): number {
  if (text === undefined || !DECIMAL.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) < min) {
    throw protocolError(`bad number ${JSON.stringify(text ?? '')}`, line);
  }
  return Number(text);
}

/** `firstSeq count` of a MSG, TIME, GAP or SKIP line: a non-empty run of safe seqs. */
function run(args: string[], line: Buffer): { firstSeq: number; count: number } {
  const firstSeq = decimal(args[0], line, 1);
  const count = decimal(args[1], line, 1);
  if (!Number.isSafeInteger(firstSeq + count - 1)) throw protocolError('sequence beyond 2^53 − 1', line);
  return { firstSeq, count };
}

/**
 * `<timeMs> <source>`: the source may be empty or hold spaces (a unix path), and is escaped as in
 * LF framing (`\n`, `\r`, `\\`) so that it stays on its line.
 */
function timeLine(line: Buffer): Meta {
  const sp = line.indexOf(0x20);
  const time = decimal((sp < 0 ? line : line.subarray(0, sp)).toString('latin1'), line, 0);
  return { time, source: sp < 0 ? '' : unescapeLf(line.subarray(sp + 1)).toString('utf8') };
}
