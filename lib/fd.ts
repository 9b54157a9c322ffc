/**
 * Raw fd primitives: every fd made here is non-blocking and close-on-exec from birth.
 * Reads and writes never block; "not now" is the WOULD_BLOCK result, never an error.
 */
import { check, ioResult, WouldBlock } from './errors';
import { native } from './native';

function pair(result: [number, number] | number, syscall: string): [number, number] {
  if (typeof result === 'number') check(result, syscall);
  return result as [number, number];
}

/** A pipe: `[readEnd, writeEnd]`. */
export function pipe(): [number, number] {
  return pair(native.pipe(), 'pipe');
}

/** A connected pair of unix sockets (stream by default). */
export function socketpair(type: 'stream' | 'dgram' = 'stream'): [number, number] {
  return pair(native.socketpair(type), 'socketpair');
}

/** Reads into `buf` (optionally a window of it): bytes read, 0 at end of file, or WOULD_BLOCK. */
export function read(fd: number, buf: Uint8Array, offset?: number, length?: number): number | WouldBlock {
  // A window argument that is not given is left out, not passed as undefined: the addon then skips
  // checking it, on every read of every stream.
  const n = offset === undefined && length === undefined ? native.read(fd, buf) : native.read(fd, buf, offset, length);
  return n >= 0 ? n : ioResult(n, 'read', { fd });
}

/** Writes from `buf` (optionally a window of it): bytes written, or WOULD_BLOCK. */
export function write(fd: number, buf: Uint8Array, offset?: number, length?: number): number | WouldBlock {
  const n =
    offset === undefined && length === undefined ? native.write(fd, buf) : native.write(fd, buf, offset, length);
  return n >= 0 ? n : ioResult(n, 'write', { fd });
}

/** Closes an fd. */
export function close(fd: number): void {
  check(native.close(fd), 'close', { fd });
}

/** Turns O_NONBLOCK on (default) or off, for an fd that came from elsewhere. */
export function setNonBlocking(fd: number, on = true): void {
  check(native.setNonBlocking(fd, on), 'fcntl', { fd });
}

/**
 * Takes an exclusive advisory lock (flock) on an open file, without waiting: throws EWOULDBLOCK/EAGAIN when
 * another open file description holds it. The kernel drops the lock when the fd closes or the process dies,
 * so a crashed holder never leaves a stale lock behind.
 */
export function lockExclusive(fd: number): void {
  check(native.lockExclusive(fd), 'flock', { fd });
}
