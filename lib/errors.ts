/** Node-style system errors from the addon's -errno results. */
import * as os from 'os';
import * as util from 'util';

/** An Error carrying Node's system-error fields. */
export interface SystemError extends Error {
  /** The errno name, e.g. `'ECONNREFUSED'`. */
  code: string;
  /** The errno number, negated as Node's own system errors carry it (`-111` for ECONNREFUSED on Linux). */
  errno: number;
  /** The system call (or pollset operation) that failed, e.g. `'connect'`, `'insert'`. */
  syscall: string;
  /** The file descriptor it failed on, when there is one. */
  fd?: number;
  /** The socket address it failed on (`HOST:PORT` or a path), when there is one. */
  address?: string;
}

const descriptions = util.getSystemErrorMap();

/** The errno number of a code name (for example 'EAGAIN' → 11 on Linux). */
export function errnoOf(code: keyof typeof os.constants.errno): number {
  return os.constants.errno[code];
}

/**
 * Builds the error Node itself would throw: `EEXIST: file already exists, insert (fd 7)`.
 * `errno` is positive here; Node's own errors use the negated libuv value, so `errno` follows Node
 * and is negative.
 */
export function systemError(errno: number, syscall: string, detail?: { fd?: number; address?: string }): SystemError {
  const positive = Math.abs(errno);
  const [code, description] = descriptions.get(-positive) ?? [`E${positive}`, 'unknown error'];
  // String(): a caller's bad fd may be any value, a Symbol included, and the error about it must still be made.
  const where =
    detail?.fd !== undefined ? ` (fd ${String(detail.fd)})` : detail?.address ? ` ${String(detail.address)}` : '';
  const err = new Error(`${code}: ${description}, ${syscall}${where}`) as SystemError;
  err.code = code;
  err.errno = -positive;
  err.syscall = syscall;
  if (detail?.fd !== undefined) err.fd = detail.fd;
  if (detail?.address !== undefined) err.address = detail.address;
  return err;
}

/** Whether `key` names one of `table`'s own entries (not something inherited, like `toString`). */
export function hasOwn<T extends object>(table: T, key: unknown): key is keyof T {
  return (typeof key === 'string' || typeof key === 'number') && Object.prototype.hasOwnProperty.call(table, key);
}

/** An error carrying one of Node's `ERR_*` codes. */
export type CodedError<E extends Error = Error> = E & { code: string };

function coded<E extends Error>(err: E, code: string): CodedError<E> {
  return Object.assign(err, { code });
}

/** A wrong argument type, as Node reports it: TypeError `ERR_INVALID_ARG_TYPE`. */
export function argTypeError(message: string): CodedError<TypeError> {
  return coded(new TypeError(message), 'ERR_INVALID_ARG_TYPE');
}

/** An argument value out of range, as Node reports it: RangeError `ERR_OUT_OF_RANGE`. */
export function argRangeError(message: string): CodedError<RangeError> {
  return coded(new RangeError(message), 'ERR_OUT_OF_RANGE');
}

/** A call on an object that can no longer do it (closed, freed): `ERR_INVALID_STATE`, as the addon reports it too. */
export function stateError(message: string): CodedError {
  return coded(new Error(message), 'ERR_INVALID_STATE');
}

/** Throws for a negative native result; passes a non-negative one through. */
export function check(result: number, syscall: string, detail?: { fd?: number; address?: string }): number {
  if (result < 0) throw systemError(result, syscall, detail);
  return result;
}

/** The errno values the I/O layers treat as "not now" rather than as failures. */
export const EAGAIN = errnoOf('EAGAIN');
export const EWOULDBLOCK = errnoOf('EWOULDBLOCK');
export const EINVAL = errnoOf('EINVAL');

/** Returned by non-blocking I/O when the kernel says "not now" (EAGAIN/EWOULDBLOCK). */
export const WOULD_BLOCK: unique symbol = Symbol('WOULD_BLOCK');
/** The type of {@link WOULD_BLOCK}: what a non-blocking call returns when it would have had to wait. */
export type WouldBlock = typeof WOULD_BLOCK;

/**
 * Returned by a transfer that must wait for a readiness other than its own direction's (a TLS read
 * that has to write first, a TLS write that has to read first): retry the same call once the fd is
 * readable (WANT_READ) or writable (WANT_WRITE).
 */
export const WANT_READ: unique symbol = Symbol('WANT_READ');
/** See {@link WANT_READ}. */
export const WANT_WRITE: unique symbol = Symbol('WANT_WRITE');
/** What a transfer needs before it is retried: the fd readable ({@link WANT_READ}) or writable ({@link WANT_WRITE}). */
export type Want = typeof WANT_READ | typeof WANT_WRITE;

/** A native result of -EAGAIN becomes WOULD_BLOCK; other failures throw. */
export function ioResult(
  result: number,
  syscall: string,
  detail?: { fd?: number; address?: string },
): number | WouldBlock {
  if (result >= 0) return result;
  if (-result === EAGAIN || -result === EWOULDBLOCK) return WOULD_BLOCK;
  throw systemError(result, syscall, detail);
}

/**
 * What Node itself throws when an AbortSignal cancels an operation (fs, timers/promises, events.once):
 * `name` 'AbortError', `code` 'ABORT_ERR', and the signal's reason as `cause`.
 */
export class AbortError extends Error {
  /** Always `'ABORT_ERR'`, as Node's own AbortError. */
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

/** The AbortError for `signal`, carrying its reason. */
export function abortError(signal: AbortSignal): AbortError {
  return new AbortError(undefined, { cause: signal.reason });
}

/** Checks an optional `signal` option: undefined or an AbortSignal (`ERR_INVALID_ARG_TYPE` otherwise). */
export function checkSignal(signal: unknown, name = 'options.signal'): AbortSignal | undefined {
  if (signal === undefined || signal instanceof AbortSignal) return signal;
  throw argTypeError(
    `The "${name}" property must be an instance of AbortSignal, not ${signal === null ? 'null' : typeof signal}`,
  );
}
