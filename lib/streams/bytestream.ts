/**
 * ByteStream: reading and writing a byte stream as operations, over any {@link ByteIo}.
 * A task waits for readiness only when the transport says "not now", and only for the readiness
 * the transport asked for; nothing else can resume it while it waits.
 */
// Imported, not the global: Node's global Buffer is a getter, paid on every read.
import '../dispose';
import { Buffer } from 'buffer';
import { errnoOf, systemError, WOULD_BLOCK } from '../errors';
import { fdWait } from '../loop/fdwaiters';
import { Instruction, Operation } from '../loop/operation';
import { closeFd, closeFdNow } from '../loop/closefd';
import { ByteIo, fdIo, IoResult, WANT_READ } from './io';
import { pipe, socketpair } from '../fd';

const EMPTY = Buffer.alloc(0);
const CHUNK = 64 * 1024;

/**
 * Where every stream of this thread reads into before copying out exactly what arrived: one buffer,
 * not one per stream (a relay with many idle subscriber streams would otherwise hold 64 KiB each).
 * Safe to share because a read copies out before anything else can run.
 */
let scratch = Buffer.allocUnsafe(CHUNK);

/** Options of {@link ByteStream.readLine}. */
export interface ReadLineOptions {
  /** Longest line accepted, LF excluded (default 65536); a longer one throws `EMSGSIZE`. */
  max?: number;
}

function streamError(code: string, message: string): Error & { code: string } {
  const err = new Error(`${code}: ${message}`) as Error & { code: string };
  err.code = code;
  return err;
}

/**
 * A byte stream over a non-blocking transport.
 *
 * End of stream is `null` from `read` and `readLine`; bytes already received are always delivered
 * before it, even when the peer has hung up. `readExactly` throws `ERR_STREAM_PREMATURE_CLOSE` when
 * the stream ends first.
 */
export class ByteStream {
  readonly #io: ByteIo;
  #pending: Buffer = EMPTY;
  #eof = false;
  #closed = false;
  /** The last read was short on a transport where that means "empty now": wait before reading again. */
  #drained = false;
  // The two waits this stream ever makes, built once: a wait on the hot path allocates nothing.
  readonly #readable: Instruction;
  readonly #writable: Instruction;

  constructor(io: ByteIo) {
    this.#io = io;
    this.#readable = fdWait(io.fd, 'read');
    this.#writable = fdWait(io.fd, 'write');
  }

  /** The fd underneath. */
  get fd(): number {
    return this.#io.fd;
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Up to `max` bytes: what is buffered, else one read's worth (waiting if none); `null` at end of stream. */
  *read(max = CHUNK): Operation<Buffer | null> {
    // #fill's loop, inlined: the hottest path is one generator level shallower (each level is paid on every resume).
    for (;;) {
      if (this.#pending.length > 0) return this.#take(Math.min(max, this.#pending.length));
      const step = this.#fillStep(max);
      if (step === false) return null;
      if (step !== true) yield step;
    }
  }

  /**
   * The next line, without its LF (a CR before it is kept: bytes are not altered). A last line
   * without LF is returned at end of stream; `null` after that. Throws `EMSGSIZE` for a line longer
   * than `max` (the stream is then positioned inside that line: close it).
   */
  *readLine(options: ReadLineOptions = {}): Operation<Buffer | null> {
    const max = options.max ?? CHUNK;
    let scanned = 0;
    for (;;) {
      const lf = this.#pending.indexOf(10, scanned);
      if (lf >= 0) {
        if (lf > max) break;
        const line = this.#take(lf);
        this.#take(1);
        return line;
      }
      if (this.#pending.length > max) break;
      scanned = this.#pending.length;
      if (!(yield* this.#fill(CHUNK))) return this.#pending.length > 0 ? this.#take(this.#pending.length) : null;
    }
    throw streamError('EMSGSIZE', `line longer than ${max} bytes (fd ${this.fd})`);
  }

  /** Exactly `n` bytes, waiting as needed; throws `ERR_STREAM_PREMATURE_CLOSE` if the stream ends first. */
  *readExactly(n: number): Operation<Buffer> {
    while (this.#pending.length < n) {
      if (!(yield* this.#fill(Math.max(CHUNK, n - this.#pending.length)))) {
        throw streamError(
          'ERR_STREAM_PREMATURE_CLOSE',
          `stream ended after ${this.#pending.length} of ${n} bytes (fd ${this.fd})`,
        );
      }
    }
    return this.#take(n);
  }

  /**
   * Writes all of `buf`. Tries at once; waits for writability only after a partial write or
   * WOULD_BLOCK. Errors from the transport (EPIPE, ECONNRESET…) are thrown.
   */
  *write(buf: Uint8Array): Operation<void> {
    let off = 0;
    while (off < buf.length) {
      this.#open();
      const r = this.#io.writeSome(off === 0 ? buf : buf.subarray(off));
      if (typeof r === 'number') {
        off += r;
        if (off < buf.length) yield this.#writable;
      } else {
        yield this.#waitFor(r, 'write');
      }
    }
  }

  /**
   * Hands the fd to a new owner (for example a TLS stream taking over a TCP connection): this
   * stream is closed without closing the fd. Throws if bytes are buffered here, since the new
   * owner would never see them.
   */
  detach(): number {
    this.#open();
    if (this.#pending.length > 0)
      throw new Error(`cannot detach fd ${this.fd}: ${this.#pending.length} bytes are buffered`);
    this.#closed = true;
    return this.fd;
  }

  /** Closes the stream: other tasks waiting on its fd get EBADF, the registration goes, the fd is closed. Idempotent. */
  *close(): Operation<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = EMPTY;
    yield* closeFd(this.fd, () => this.#io.close());
  }

  /**
   * `using conn = …` in a task (or in plain code) closes the stream at the end of the block, as
   * `close()` does but without waiting for anything (a TLS stream sends its close_notify only if it
   * leaves at once).
   */
  [Symbol.dispose](): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = EMPTY;
    closeFdNow(this.fd, () => this.#io.close());
  }

  /** Appends one read's worth to the pending bytes; false at end of stream. */
  *#fill(max: number): Operation<boolean> {
    for (;;) {
      const step = this.#fillStep(max);
      if (step === true || step === false) return step;
      yield step;
    }
  }

  /**
   * One attempt at appending a read's worth: true when bytes were appended, false at end of stream,
   * else the wait to yield before the next attempt. Not a generator, so callers yield the wait
   * themselves instead of delegating through one more level.
   */
  #fillStep(max: number): boolean | Instruction {
    if (this.#eof) return false;
    this.#open();
    if (this.#drained) {
      // Saves the read syscall that would answer WOULD_BLOCK; readiness is level-triggered, so bytes
      // that came meanwhile make this wait end on the loop's next look at the fds.
      this.#drained = false;
      return this.#readable;
    }
    if (scratch.length < max) scratch = Buffer.allocUnsafe(max);
    const r = this.#io.readSome(scratch.length === max ? scratch : scratch.subarray(0, max));
    if (typeof r !== 'number') return this.#waitFor(r, 'read');
    if (r === 0) {
      this.#eof = true;
      return false;
    }
    this.#drained = r < max && this.#io.shortReadDrains === true;
    const bytes = Buffer.allocUnsafe(r); // a copy: the scratch buffer is reused
    scratch.copy(bytes, 0, 0, r);
    this.#pending = this.#pending.length === 0 ? bytes : Buffer.concat([this.#pending, bytes]);
    return true;
  }

  /** The wait for what the transport asked: WOULD_BLOCK means the direction of the call. */
  #waitFor(r: Exclude<IoResult, number>, direction: 'read' | 'write'): Instruction {
    return r === WANT_READ || (r === WOULD_BLOCK && direction === 'read') ? this.#readable : this.#writable;
  }

  #take(n: number): Buffer {
    if (n === this.#pending.length) {
      const all = this.#pending; // the common case: no new view
      this.#pending = EMPTY;
      return all;
    }
    const out = this.#pending.subarray(0, n);
    this.#pending = this.#pending.subarray(n);
    return out;
  }

  #open(): void {
    if (this.#closed) throw systemError(errnoOf('EBADF'), 'stream', { fd: this.fd });
  }
}

/** A ByteStream over a plain non-blocking fd: a pipe end, a socketpair end, a TCP socket. It owns the fd. */
export class FdStream extends ByteStream {
  constructor(fd: number) {
    super(fdIo(fd));
  }

  /** A pipe as `[readEnd, writeEnd]` streams. */
  static pipe(): [FdStream, FdStream] {
    const [r, w] = pipe();
    return [new FdStream(r), new FdStream(w)];
  }

  /** A connected pair of unix stream sockets. */
  static socketpair(): [FdStream, FdStream] {
    const [a, b] = socketpair('stream');
    return [new FdStream(a), new FdStream(b)];
  }
}
