/**
 * Loads the compiled addon (a prebuild or the local build, through node-gyp-build; or the file named by
 * `POLLSET_ADDON`) and declares its exact shape. Native calls return a number >= 0 on success and -errno
 * on failure; the typed wrappers in this package turn that into Node-style errors.
 */
import * as fs from 'fs';
import * as path from 'path';

/** The native Pollset: a registry of fds over one kernel readiness mechanism. */
export interface NativePollset {
  /** errno from construction; 0 when the backend was created. */
  readonly error: number;
  readonly size: number;
  readonly backend: string;
  insert(fd: number, interest: number): number;
  update(fd: number, interest: number): number;
  remove(fd: number): number;
  /** Fills the events array given at construction with (fd, flags) pairs; returns the count or -errno. */
  wait(timeoutMs: number): number;
  /** Replaces the events array (to grow it). */
  setEvents(events: Int32Array): void;
  watch(onPending: (count: number) => void): number;
  unwatch(): void;
  close(): void;
}

/** Batched datagram receive into JS-owned memory (see native/datagram.h for the layout). */
export interface NativeReceiver {
  /** Datagrams received (>= 1) or -errno; fills the slots, meta and address arrays given at construction. */
  receive(fd: number): number;
  /** The socket's kernel drop counter (uint32, wraps) as the last datagram carried it; 0 until one does. */
  drops(): number;
}

declare const socketOptionBrand: unique symbol;
/**
 * A socket option's number. native/socket.h is the one place the numbers are written: the addon exports
 * them (`socketOptions`) and {@link SocketOption} is that object, so lib never repeats a number.
 */
export type SocketOption = number & { readonly [socketOptionBrand]: true };

/** The socket options the addon exposes; names as native/socket.h lists them. */
export interface SocketOptions {
  readonly ReuseAddr: SocketOption;
  readonly ReusePort: SocketOption;
  readonly RecvBuffer: SocketOption;
  readonly SendBuffer: SocketOption;
  readonly NoDelay: SocketOption;
  readonly Error: SocketOption;
  /** Linux SO_RXQ_OVFL: datagrams carry the socket's drop count (ENOPROTOOPT elsewhere). */
  readonly RxqOverflow: SocketOption;
  /** SO_KEEPALIVE: probe an idle connection, drop it (ETIMEDOUT) when probes go unanswered. */
  readonly KeepAlive: SocketOption;
  /** Seconds idle before the first probe: TCP_KEEPIDLE (macOS TCP_KEEPALIVE). */
  readonly KeepIdle: SocketOption;
  /** Seconds between probes: TCP_KEEPINTVL. */
  readonly KeepInterval: SocketOption;
  /** Unanswered probes before the connection is dropped: TCP_KEEPCNT. */
  readonly KeepCount: SocketOption;
  /** Linux TCP_USER_TIMEOUT: ms sent data may stay unacknowledged (ENOPROTOOPT elsewhere). */
  readonly UserTimeout: SocketOption;
  /** SO_TYPE, read-only: 1 for a stream socket, 2 for a datagram socket, 0 for anything else. */
  readonly Type: SocketOption;
  /** SO_ACCEPTCONN, read-only: 1 for a listening socket. */
  readonly AcceptConn: SocketOption;
}

/** Native TLS context: an SSL_CTX. `error` is empty when it was built. */
export interface NativeTlsContext {
  readonly error: string;
  free(): void;
}

/** A certificate as x509_info.cc describes it. */
export interface NativeCertInfo {
  /** RFC 2253, exactly as `openssl x509 -noout -subject -nameopt RFC2253` prints it (without `subject=`). */
  subject: string;
  issuer: string;
  /** SHA-256 of the DER, `AB:CD:…` (Node's `X509Certificate.fingerprint256` format). */
  fingerprint256: string;
  /** ISO 8601 UTC, e.g. `2025-01-31T12:00:00Z`. */
  validFrom: string;
  validTo: string;
  pem: string;
}

/**
 * Native TLS session: an SSL bound to an fd (never owned). Calls return >= 0 on progress, -errno
 * for a socket failure, or one of `tlsResult` (want-read, want-write, failed → `lastError`).
 */
export interface NativeTlsSession {
  readonly error: string;
  readonly lastError: string;
  handshake(): number;
  read(buf: Uint8Array, offset?: number, length?: number): number;
  write(buf: Uint8Array, offset?: number, length?: number): number;
  shutdown(): number;
  free(): void;
  info(): {
    protocol: string;
    cipher: string;
    verifyCode: number;
    verifyText: string;
    servername: string | null;
    alpn: string | null;
  };
  peerCertificate(): NativeCertInfo | null;
  presentedCertificate(): NativeCertInfo | null;
}

export interface NativeCertSpec {
  role: 'ca' | 'server' | 'client';
  cn: string;
  o?: string;
  altNames?: string;
  notBefore: number;
  notAfter: number;
  issuerCert?: string;
  issuerKey?: string;
}

export interface NativeAddon {
  TlsContext: new (options: {
    server: boolean;
    cert?: string | Uint8Array;
    key?: string | Uint8Array;
    ca?: string | Uint8Array;
    verify: 0 | 1 | 2;
    issuer?: string;
    fingerprints?: string[];
    alpn?: string[];
  }) => NativeTlsContext;
  TlsSession: new (context: NativeTlsContext, fd: number, servername?: string) => NativeTlsSession;
  makeCertificate(spec: NativeCertSpec): { cert: string; key: string } | { error: string };
  readonly tlsResult: { readonly wantRead: number; readonly wantWrite: number; readonly failed: number };
  readonly opensslVersion: string;
  Pollset: new (backend: string, events: Int32Array) => NativePollset;
  backends(): string[];
  pipe(): [number, number] | number;
  socketpair(type?: 'stream' | 'dgram'): [number, number] | number;
  read(fd: number, buf: Uint8Array, offset?: number, length?: number): number;
  write(fd: number, buf: Uint8Array, offset?: number, length?: number): number;
  close(fd: number): number;
  setNonBlocking(fd: number, on?: boolean): number;
  /** flock(fd, LOCK_EX | LOCK_NB): 0, or -errno (-EWOULDBLOCK when another open file holds it). */
  lockExclusive(fd: number): number;
  /** sizeof(struct sockaddr_storage): the stride of address slots. */
  readonly addressSize: number;
  /** sockaddr bytes of an address text, or -EINVAL. */
  parseAddress(text: string): Uint8Array | number;
  formatAddress(raw: Uint8Array, offset?: number, length?: number): string | number;
  socket(family: 'ipv4' | 'ipv6' | 'unix', type: 'dgram' | 'stream'): number;
  bind(fd: number, address: Uint8Array): number;
  /** 0 when connected, -EINPROGRESS while pending, or -errno. */
  connect(fd: number, address: Uint8Array): number;
  /** 0 connected, -EINPROGRESS still pending, or -errno of the failed connect. */
  connectResult(fd: number): number;
  listen(fd: number, backlog: number): number;
  /** Fills (fd, address length) pairs and address slots; returns the count or -errno. */
  accept(fd: number, out: Int32Array, addresses: Uint8Array): number;
  socketName(fd: number, peer: boolean): Uint8Array | number;
  /** The socket option numbers (a frozen object), read once at load as {@link SocketOption}. */
  readonly socketOptions: SocketOptions;
  getOption(fd: number, option: SocketOption): number;
  setOption(fd: number, option: SocketOption, value: number): number;
  shutdown(fd: number, how: number): number;
  send(fd: number, buf: Uint8Array, offset?: number, length?: number, address?: Uint8Array | null): number;
  sendMany(fd: number, datagrams: Uint8Array[], address?: Uint8Array | null): number;
  writev(fd: number, buffers: Uint8Array[]): number;
  Receiver: new (slots: Uint8Array, slotSize: number, meta: Int32Array, addresses: Uint8Array) => NativeReceiver;
  /** The event and interest flag bits by name, as native/pollset.h defines them (a frozen object). */
  readonly flags: { readonly [name in keyof typeof Flag]: number };
}

// eslint-disable-next-line @typescript-eslint/no-require-imports -- node-gyp-build ships no types
const load = require('node-gyp-build') as (dir: string) => unknown;

/**
 * The addon file node-gyp-build picks (a local build, else a matching prebuild), unless the environment
 * variable `POLLSET_ADDON` names a compiled `pollset.node` to load instead. That override exists for tests
 * against another build of the same sources (`npm run test:sanitize` points it at the AddressSanitizer build);
 * a name that is not a file is an error, so a test run can never fall back to the ordinary build unnoticed.
 */
function loadAddon(): unknown {
  const override = process.env.POLLSET_ADDON;
  if (!override) return load(path.join(__dirname, '..'));
  const file = path.resolve(override);
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
    throw Object.assign(new Error(`ENOENT: POLLSET_ADDON names no addon file, ${file}`), {
      code: 'ENOENT',
      path: file,
    });
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file);
}

/** The addon, loaded once per process (and once per worker thread). */
export const native = loadAddon() as NativeAddon;

/** The socket options by name, with the addon's numbers: `setOption(fd, SocketOption.NoDelay, 1)`. */
export const SocketOption: SocketOptions = native.socketOptions;

/**
 * Event and interest flag bits. native/pollset.h writes them once (`POLLSET_FLAGS`) and the addon exports
 * them as `native.flags`; this enum repeats them because it has to be a `const enum`: the compiler inlines
 * its members as literals and types every interest and event with them, which an object read from the
 * addon at load time cannot do. test/native-flags.test.ts fails when a name or a number here differs from
 * the addon's, so the two sides cannot drift apart unnoticed.
 */
export const enum Flag {
  Read = 1,
  Write = 2,
  Priority = 4,
  Hangup = 8,
  Error = 16,
  /** Interest modifier: report once, then disarm until the next update. */
  Oneshot = 32,
}
