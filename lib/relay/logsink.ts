/**
 * Where log lines go: an fd (stderr) whose writes never throw and never wait.
 *
 * stderr is often a pipe to a supervisor or a pager; when its reader is slow the pipe fills, and then
 * write(2) waits (a blocking description) or fails with EAGAIN (a non-blocking one, as Node leaves
 * some). A log line must neither crash the relay nor stall it, so
 * what the fd does not take waits in a bounded queue, written as soon as the fd takes it again (the
 * relay's loop waits for it to be writable, see `drainLog`; without one, a Node timer retries). Lines
 * that would grow the queue beyond its bound are dropped whole and counted; the logger reports the
 * count once the queue has drained.
 * Lines are never cut: a line the fd took part of is always finished before the next one.
 */
import { constants, fstatSync, openSync } from 'fs';
import { Mailbox, Operation, waitWritable } from '../loop';
import { WOULD_BLOCK, WouldBlock } from '../errors';
import { write } from '../fd';
import { write as send } from '../net/tcp';

/** Bytes a sink holds for a slow fd before it drops lines (about a thousand typical lines). */
export const DEFAULT_LOG_QUEUE_BYTES = 256 * 1024;

let stderr: number | undefined;

/**
 * An fd for stderr whose writes never block, made once per process. stderr is often a pipe or a
 * terminal opened in blocking mode and shared with other processes (the shell, a supervisor): setting
 * O_NONBLOCK on it would change their file description too. On Linux, opening /proc/self/fd/2 gives
 * this process a description of its own of the same pipe or terminal, which can be non-blocking.
 * Elsewhere, and for files (whose writes do not wait for a reader), stderr itself.
 */
export function stderrFd(): number {
  if (stderr !== undefined) return stderr;
  stderr = 2;
  try {
    const st = fstatSync(2);
    if (st.isFIFO() || st.isCharacterDevice()) {
      stderr = openSync(
        '/proc/self/fd/2',
        constants.O_WRONLY | constants.O_NONBLOCK | constants.O_APPEND /* and O_CLOEXEC, as Node opens every file */,
      );
    }
  } catch {
    // no /proc, or not reopenable: stderr as it is
  }
  return stderr;
}

/** How often a sink that no loop drains retries a full fd. */
const RETRY_MS = 50;

export class LineSink {
  /** Lines dropped since the sink was made. */
  dropped = 0;
  /** Called when lines start waiting in the queue (the fd refused bytes): time to wait for it to be writable. */
  onBacklog: (() => void) | undefined;
  /** Called when the queue has just been written out. */
  onDrained: (() => void) | undefined;
  readonly #queue: Buffer[] = [];
  #queued = 0;
  #broken = false;

  readonly #write: (fd: number, buf: Uint8Array, offset: number, length: number) => number | WouldBlock;

  /** `fd` should not block (see `stderrFd`); a socket is written with send(MSG_DONTWAIT) all the same. */
  constructor(
    readonly fd = stderrFd(),
    readonly limitBytes = DEFAULT_LOG_QUEUE_BYTES,
  ) {
    let socket = false;
    try {
      socket = fstatSync(fd).isSocket();
    } catch {
      // a closed fd: every write fails and the sink counts the lines as dropped
    }
    this.#write = socket ? send : write;
  }

  /** Bytes waiting for the fd. */
  get pendingBytes(): number {
    return this.#queued;
  }

  /**
   * Writes one whole line now if the fd takes it, queues it if there is room, or drops and counts it.
   * A `last` line (the log's final one) is queued even beyond the bound: it is one line, and it says
   * how the log ended.
   */
  write(line: Buffer, last = false): void {
    if (this.#broken) {
      this.dropped++;
      return;
    }
    // (flush can report drops, which queues a line of its own when the fd is full again)
    if (this.flush() && this.#queue.length === 0) {
      const n = this.#writeSome(line);
      if (n === line.length) return;
      if (this.#broken) {
        this.dropped++;
        return;
      }
      this.#enqueue(line.subarray(n)); // the rest of a started line is always kept
      return;
    }
    if (!last && this.#queued + line.length > this.limitBytes) {
      this.dropped++;
      return;
    }
    this.#enqueue(line);
  }

  /** Writes what is queued as far as the fd takes it; true when nothing is left. */
  flush(): boolean {
    if (this.#queue.length === 0) return true;
    while (this.#queue.length > 0) {
      const head = this.#queue[0];
      const n = this.#writeSome(head);
      if (this.#broken) return true; // the queue went with it, counted as dropped
      this.#queued -= n;
      if (n < head.length) {
        this.#queue[0] = head.subarray(n);
        return false;
      }
      this.#queue.shift();
    }
    this.onDrained?.();
    return true;
  }

  /**
   * Before the process (or thread) exits: writes what is queued, waiting for the fd as long as it
   * takes it within `ms` (a sleeping wait, for when no loop runs any more); true when all is out.
   */
  flushWithin(ms: number): boolean {
    const deadline = Date.now() + ms;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (;;) {
      if (this.flush()) return true;
      if (Date.now() >= deadline) return false;
      Atomics.wait(pause, 0, 0, 5);
    }
  }

  #enqueue(bytes: Buffer): void {
    const wasEmpty = this.#queue.length === 0;
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    if (!wasEmpty) return;
    if (this.onBacklog) this.onBacklog();
    else this.#retryLater();
  }

  /** No loop drains this sink (yet, or any more): retry from Node's loop until the queue is out. */
  #retryLater(): void {
    setTimeout(() => {
      if (!this.flush() && !this.onBacklog) this.#retryLater();
    }, RETRY_MS).unref();
  }

  /** Bytes of `bytes` the fd took (0 when it would block). An fd that fails otherwise (EPIPE: nobody reads) takes nothing ever again. */
  #writeSome(bytes: Buffer): number {
    if (this.#broken) return 0;
    let done = 0;
    while (done < bytes.length) {
      let n: number | typeof WOULD_BLOCK;
      try {
        n = this.#write(this.fd, bytes, done, bytes.length - done);
      } catch {
        this.#break();
        return 0;
      }
      if (n === WOULD_BLOCK) break;
      done += n;
    }
    return done;
  }

  #break(): void {
    this.#broken = true;
    this.dropped += this.#queue.length;
    this.#queue.length = 0;
    this.#queued = 0;
  }
}

/**
 * Runs on the relay's loop for as long as the relay runs: whenever lines wait in the sink, waits for
 * the fd to be writable and writes them.
 */
export function* drainLog(sink: LineSink): Operation<void> {
  const wake = new Mailbox<true>(1);
  sink.onBacklog = () => void wake.tryPut(true);
  try {
    for (;;) {
      while (!sink.flush()) yield* waitWritable(sink.fd);
      yield* wake.take();
    }
  } finally {
    sink.onBacklog = undefined;
  }
}
