/**
 * TlsSession: TLS over an fd you own. Nothing here blocks: a call that needs the socket to be
 * readable or writable returns WANT_READ / WANT_WRITE; wait for that readiness (a Pollset) and
 * call the same method again with the same arguments. The session never closes the fd: free the
 * session, then close the fd (the socket layer owns it).
 */
import '../dispose';
import { stateError, systemError } from '../errors';
import { native, NativeCertInfo, NativeTlsSession } from '../native';
import { TlsContext } from './context';
import { tlsError, TlsError } from './error';

/** Retry the same call once the fd is readable. */
export const WANT_READ: unique symbol = Symbol('WANT_READ');
/** Retry the same call once the fd is writable. */
export const WANT_WRITE: unique symbol = Symbol('WANT_WRITE');
/** What a TLS call needs before it is retried: the fd readable ({@link WANT_READ}) or writable ({@link WANT_WRITE}). */
export type Want = typeof WANT_READ | typeof WANT_WRITE;

/** The peer's certificate, as seen after the handshake. */
export type PeerCertificate = NativeCertInfo;

/** Per-session options of a {@link TlsSession}. */
export interface TlsSessionOptions {
  /** Client only: host name or IP the server certificate must match; a host name is also sent as SNI. Defaults to the context's. */
  servername?: string;
}

const { wantRead, wantWrite, failed } = native.tlsResult;

/** A TLS session (server or client, after its context) bound to a non-blocking fd. */
export class TlsSession {
  /** The socket the session runs over; never closed by the session. */
  readonly fd: number;
  #native: NativeTlsSession | null;
  #handshaken = false;

  constructor(context: TlsContext, fd: number, options: TlsSessionOptions = {}) {
    this.fd = fd;
    const servername = context.role === 'client' ? (options.servername ?? context.servername) : undefined;
    const session = new native.TlsSession(context.native, fd, servername);
    if (session.error) throw tlsError('ERR_TLS_CONTEXT', session.error, 'SSL_new', fd);
    this.#native = session;
  }

  /** Drives the handshake: 'done', or what to wait for before calling again. Throws ERR_TLS_HANDSHAKE or a system error. */
  handshake(): 'done' | Want {
    const r = this.#result(this.#open().handshake(), 'SSL_do_handshake');
    if (typeof r === 'number') this.#handshaken = true;
    return typeof r === 'number' ? 'done' : r;
  }

  /**
   * Decrypted bytes into `buf`: the count, 0 once the peer sent close_notify, or what to wait for.
   * An empty window is a RangeError (a 0 here always means end of stream).
   */
  read(buf: Uint8Array, offset?: number, length?: number): number | Want {
    return this.#result(this.#open().read(buf, offset, length), 'SSL_read');
  }

  /**
   * Encrypts and sends bytes: the count taken (possibly fewer than given, like write(2)), or what to
   * wait for — then call again with the same bytes.
   */
  write(buf: Uint8Array, offset?: number, length?: number): number | Want {
    return this.#result(this.#open().write(buf, offset, length), 'SSL_write');
  }

  /**
   * Sends close_notify: 'sent' (ours is out; the peer's not yet seen — enough before closing the
   * fd), 'done' (both seen), or what to wait for.
   */
  shutdown(): 'done' | 'sent' | Want {
    const r = this.#result(this.#open().shutdown(), 'SSL_shutdown');
    return r === 1 ? 'done' : r === 0 ? 'sent' : (r as Want);
  }

  /** The peer's certificate, or null when it sent none. */
  peerCertificate(): PeerCertificate | null {
    return this.#open().peerCertificate();
  }

  /**
   * The certificate the peer presented even when verification refused it (after a failed
   * handshake), for saying who was turned away; null when it sent none. Never a proof of identity.
   */
  presentedCertificate(): PeerCertificate | null {
    return this.#open().presentedCertificate();
  }

  /** The certificate verification verdict in OpenSSL's words ('ok' when it verified). */
  get verifyResult(): string {
    return this.#open().info().verifyText;
  }

  /** OpenSSL's X509_V_* code for `verifyResult` (0 = ok). */
  get verifyCode(): number {
    return this.#open().info().verifyCode;
  }

  /** e.g. 'TLSv1.3'. */
  get protocol(): string {
    return this.#open().info().protocol;
  }

  /** e.g. 'TLS_AES_256_GCM_SHA384'. */
  get cipher(): string {
    return this.#open().info().cipher;
  }

  /** SNI: what the client asked for (server side) or sent (client side); null if none. */
  get servername(): string | null {
    return this.#open().info().servername;
  }

  /** The ALPN protocol the handshake negotiated, or null when none was (the peer offered none we know). */
  get alpn(): string | null {
    return this.#open().info().alpn;
  }

  /** Releases the OpenSSL session (also done when collected). Idempotent. Does not close the fd. */
  free(): void {
    this.#native?.free();
    this.#native = null;
  }

  /** `using session = new TlsSession(…)`: {@link free} at the end of the block (the fd stays open). */
  [Symbol.dispose](): void {
    this.free();
  }

  #open(): NativeTlsSession {
    if (!this.#native) throw stateError('TLS session is freed');
    return this.#native;
  }

  #result(r: number, syscall: string): number | Want {
    if (r >= 0) return r;
    if (r === wantRead) return WANT_READ;
    if (r === wantWrite) return WANT_WRITE;
    if (r === failed) {
      const code: TlsError['code'] = this.#handshaken ? 'ERR_TLS_PROTOCOL' : 'ERR_TLS_HANDSHAKE';
      throw tlsError(code, this.#open().lastError, syscall, this.fd);
    }
    throw systemError(r, syscall, { fd: this.fd });
  }
}
