/**
 * The seam between byte streams and what moves the bytes: a plain fd or a TLS session.
 * `readSome`/`writeSome` never block. Besides a byte count they may answer WOULD_BLOCK ("not now,
 * wait for the usual readiness") or, for protocols that must sometimes write to read or read to
 * write (TLS), WANT_READ / WANT_WRITE naming the readiness to wait for.
 */
import { fstatSync } from 'fs';
import type { WouldBlock } from '../errors';
import { close, read, write } from '../fd';

// TLS sessions already answer with these two symbols; sharing them makes a session's results IoResults as they are.
import { WANT_READ, WANT_WRITE } from '../tls/session';

export { WANT_READ, WANT_WRITE };

/** What a non-blocking transfer did: bytes moved (0 from readSome = end of stream) or what to wait for. */
export type IoResult = number | WouldBlock | typeof WANT_READ | typeof WANT_WRITE;

/** A non-blocking byte transport over one fd. */
export interface ByteIo {
  /** The fd whose readiness the stream waits on. */
  readonly fd: number;
  /** Reads into `buf`: bytes read, 0 at end of stream, or what to wait for. */
  readSome(buf: Uint8Array): IoResult;
  /** Writes from `buf`: bytes written (maybe fewer than asked), or what to wait for. */
  writeSome(buf: Uint8Array): IoResult;
  /** Releases the fd (and whatever else the transport holds). */
  close(): void;
  /**
   * True when a read returning fewer bytes than asked means the fd had no more at that moment (the
   * kernel buffer of a socket or pipe). The stream then waits for readability before its next read
   * instead of trying a read that would almost always say WOULD_BLOCK (libuv reads the same way).
   * Not for TLS: a session may hold decrypted bytes while its socket is empty.
   */
  readonly shortReadDrains?: boolean;
}

/** Whether `fd` is a socket or a pipe, whose short reads mean "empty for now" (see {@link ByteIo.shortReadDrains}). */
export function isStreamFd(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    return st.isSocket() || st.isFIFO();
  } catch {
    return false; // a bad fd: its first read reports the error
  }
}

/** The plain transport: `read(2)`/`write(2)` on a non-blocking fd (pipes, socketpairs, TCP sockets). */
export function fdIo(fd: number): ByteIo {
  return {
    fd,
    readSome: (buf) => read(fd, buf),
    writeSome: (buf) => write(fd, buf),
    close: () => close(fd),
    // A regular file or a tty never gets this: waiting on a file's readiness fails (epoll says EPERM).
    shortReadDrains: isStreamFd(fd),
  };
}
