/**
 * Stream sockets over raw fds (TCP, and unix stream sockets given a path): listen, accept in
 * batches, non-blocking connect, read/write/writev, shutdown, TCP_NODELAY. Functions take and
 * return plain fds so the stream layer can wrap them; "not now" is WOULD_BLOCK, never an error.
 * Writes never raise SIGPIPE: a peer that went away is an EPIPE or ECONNRESET error.
 */
import {
  argRangeError,
  argTypeError,
  check,
  errnoOf,
  hasOwn,
  ioResult,
  systemError,
  WouldBlock,
  WOULD_BLOCK,
} from '../errors';
import { closeOnThrow } from '../dispose';
import { close, read as readFd } from '../fd';
import { native, SocketOption } from '../native';
import { Address, toAddress } from './address';
import { bind, getOption, openSocket, setOption } from './socket';

export { localAddress, remoteAddress } from './socket';
export { getKeepAlive, getUserTimeout, keepAliveAfter, keepAliveDeadline, setKeepAlive } from './keepalive';
export type { KeepAlive } from './keepalive';

const EINPROGRESS = errnoOf('EINPROGRESS');

/** Options of {@link listen}. */
export interface ListenOptions {
  /** Queue of connections not yet accepted; at least 511 (Node's default) is always used. */
  backlog?: number;
  /** SO_REUSEPORT: several listeners (processes or workers) share the port; the kernel spreads connections. */
  reusePort?: boolean;
}

/** A listening socket's fd bound to `address` (SO_REUSEADDR set for TCP, so a restart can rebind at once). */
export function listen(address: string | Address, options: ListenOptions = {}): number {
  const addr = toAddress(address);
  const where = { address: addr.toString() };
  return closeOnThrow(openSocket(addr.family, 'stream'), close, (fd) => {
    if (addr.family !== 'unix') setOption(fd, SocketOption.ReuseAddr, 1);
    if (options.reusePort) setOption(fd, SocketOption.ReusePort, 1);
    bind(fd, addr);
    check(native.listen(fd, Math.max(511, options.backlog ?? 511)), 'listen', where);
    return fd;
  });
}

/** A connection taken off a listener's queue. */
export interface Accepted {
  /** Its fd: non-blocking and close-on-exec, like every fd here. */
  fd: number;
  /** The peer (`''` for an unnamed unix client). */
  remote: Address;
}

/** Most connections one accept() call takes. */
const ACCEPT_MAX = 128;
// Scratch for the native call, reused: accept() copies out what it returns.
const acceptOut = new Int32Array(ACCEPT_MAX * 2);
const acceptAddresses = new Uint8Array(ACCEPT_MAX * native.addressSize);

/**
 * Accepts pending connections until the queue is empty or `max` were taken (one readiness event
 * may stand for many). WOULD_BLOCK when none is pending.
 */
export function accept(fd: number, max = 64): Accepted[] | WouldBlock {
  if (typeof max !== 'number') throw argTypeError('accept: max must be a number');
  if (!(max >= 1)) throw argRangeError(`accept: max must be at least 1, got ${max}`);
  const limit = Math.min(ACCEPT_MAX, Math.floor(max));
  const out = limit === ACCEPT_MAX ? acceptOut : acceptOut.subarray(0, limit * 2);
  const n = ioResult(native.accept(fd, out, acceptAddresses), 'accept', { fd });
  if (n === WOULD_BLOCK) return n;
  const size = native.addressSize;
  const accepted: Accepted[] = [];
  for (let i = 0; i < n; i++) {
    const raw = acceptAddresses.subarray(i * size, i * size + out[2 * i + 1]);
    accepted.push({ fd: out[2 * i], remote: Address.fromRaw(raw) });
  }
  return accepted;
}

/** A connect in flight or done. */
export interface Connection {
  /** The socket's fd (non-blocking, close-on-exec); the caller owns it and closes it. */
  fd: number;
  /** The address connected to (for error messages and connectResult). */
  address: Address;
  /** True while the handshake runs: wait for the fd to be writable, then call {@link connectResult}. */
  pending: boolean;
}

/**
 * Starts a non-blocking connect. Loopback and unix connects may complete at once (`pending`
 * false); otherwise wait for writability and call {@link connectResult}. A failure known at once
 * (a unix path with no listener) throws, `connect ECONNREFUSED /run/x.sock` style.
 */
export function connect(address: string | Address): Connection {
  const addr = toAddress(address);
  return closeOnThrow(openSocket(addr.family, 'stream'), close, (fd) => {
    const rc = native.connect(fd, addr.raw);
    if (rc < 0 && -rc !== EINPROGRESS) throw systemError(rc, 'connect', { address: addr.toString() });
    return { fd, address: addr, pending: rc < 0 };
  });
}

/**
 * How a pending connect ended (read through SO_ERROR): true when connected, WOULD_BLOCK while it
 * is still under way, or throws the failure, e.g. `ECONNREFUSED: connection refused, connect 127.0.0.1:9`.
 * Call it once the fd is writable; the kernel reports a failure only once.
 */
export function connectResult(fd: number, address?: Address): true | WouldBlock {
  const rc = native.connectResult(fd);
  if (rc === 0) return true;
  if (-rc === EINPROGRESS) return WOULD_BLOCK;
  throw systemError(rc, 'connect', address ? { address: address.toString() } : { fd });
}

/** Reads into `buf` (optionally a window of it): bytes read, 0 at end of stream, or WOULD_BLOCK. */
export function read(fd: number, buf: Uint8Array, offset?: number, length?: number): number | WouldBlock {
  return readFd(fd, buf, offset, length);
}

/** Writes from `buf` (optionally a window of it) without SIGPIPE: bytes written (maybe fewer), or WOULD_BLOCK. */
export function write(fd: number, buf: Uint8Array, offset?: number, length?: number): number | WouldBlock {
  // As in fd.write: window arguments that are not given are left out.
  const n = offset === undefined && length === undefined ? native.send(fd, buf) : native.send(fd, buf, offset, length);
  return n >= 0 ? n : ioResult(n, 'write', { fd });
}

/** Writes several buffers in one system call: total bytes written (maybe fewer), or WOULD_BLOCK. */
export function writev(fd: number, buffers: Uint8Array[]): number | WouldBlock {
  return ioResult(native.writev(fd, buffers), 'writev', { fd });
}

const SHUT = { read: 0, write: 1, both: 2 } as const;

/** Ends one or both directions; after `'write'` the peer reads end of stream. */
export function shutdown(fd: number, how: 'read' | 'write' | 'both' = 'write'): void {
  if (!hasOwn(SHUT, how)) throw argTypeError(`shutdown: how must be 'read', 'write' or 'both'`);
  check(native.shutdown(fd, SHUT[how]), 'shutdown', { fd });
}

/** TCP_NODELAY on (default) or off: small writes go out at once instead of waiting to coalesce. */
export function setNoDelay(fd: number, on = true): void {
  setOption(fd, SocketOption.NoDelay, on ? 1 : 0);
}

/** Whether TCP_NODELAY is on. */
export function getNoDelay(fd: number): boolean {
  return getOption(fd, SocketOption.NoDelay) !== 0;
}
