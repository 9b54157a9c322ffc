/**
 * TlsStream: a ByteStream whose transport is a TlsSession on a TCP socket. The session's
 * WANT_READ / WANT_WRITE are the stream's own "wait for this readiness" answers, so reads, writes
 * and the handshake wait for exactly what OpenSSL asked for — a read may wait for writability.
 */
import { close as closeFd } from '../fd';
import { waitReadable, waitWritable } from '../loop/fdwaiters';
import { ensure } from '../loop/ensure';
import { abortable } from '../loop/interrupt';
import { Operation } from '../loop/operation';
import { timeout } from '../loop/timers';
import { Address } from '../net/address';
import { TlsContext } from '../tls/context';
import { PeerCertificate, TlsSession, TlsSessionOptions, Want, WANT_READ } from '../tls/session';
import { ByteStream } from './bytestream';
import { ByteIo } from './io';
import { ConnectOptions, TcpStream } from './tcp-stream';

/** How long `close()` waits by default for its close_notify to leave. */
const CLOSE_NOTIFY_MS = 1000;

function tlsIo(session: TlsSession): ByteIo {
  return {
    fd: session.fd,
    readSome: (buf) => session.read(buf),
    writeSome: (buf) => session.write(buf),
    close: () => {
      session.free();
      closeFd(session.fd);
    },
  };
}

function* waitFor(want: Want, fd: number): Operation<void> {
  yield* want === WANT_READ ? waitReadable(fd) : waitWritable(fd);
}

/**
 * TLS over a TCP connection, as operations: `handshake`, `read`, `readLine`, `readExactly`,
 * `write`, `close`. Reading drains what the peer sent before its close_notify, then reports end of
 * stream (`null`); a peer that vanishes without close_notify is an `ERR_TLS_PROTOCOL` error.
 *
 * ```ts
 * const tls = yield* timeout(5000, TlsStream.connect('127.0.0.1:6514', context, { servername: 'localhost' }));
 * yield* tls.write(Buffer.from('hello\n'));
 * ```
 */
export class TlsStream extends ByteStream {
  /** The session (protocol, cipher, verifyResult, servername …). */
  readonly session: TlsSession;
  #handshaken = false;

  private constructor(session: TlsSession) {
    super(tlsIo(session));
    this.session = session;
  }

  /**
   * The server side over an accepted connection (a TcpStream, which hands its fd over, or a
   * connected socket fd). Call {@link handshake} next.
   */
  static server(conn: TcpStream | number, context: TlsContext): TlsStream {
    return TlsStream.#over(conn, context);
  }

  /** The client side over a connected socket (a TcpStream or fd). Call {@link handshake} next. */
  static client(conn: TcpStream | number, context: TlsContext, options: TlsSessionOptions = {}): TlsStream {
    return TlsStream.#over(conn, context, options);
  }

  /**
   * Connects over TCP and completes the handshake. `servername` (default: the context's) is sent
   * as SNI and checked against the server's certificate. On failure, timeout or halt the socket is
   * closed. Bound it with `timeout(ms, TlsStream.connect(…))`; aborting `options.signal` gives up the
   * same way with an `AbortError`.
   */
  static connect(
    address: string | Address,
    context: TlsContext,
    options: TlsSessionOptions & ConnectOptions = {},
  ): Operation<TlsStream> {
    const { signal, ...session } = options ?? {};
    return abortable(signal, TlsStream.#connect(address, context, session));
  }

  static *#connect(address: string | Address, context: TlsContext, options: TlsSessionOptions): Operation<TlsStream> {
    const tcp = yield* TcpStream.connect(address);
    let tls: TlsStream | undefined;
    // Closing a handshaking session may wait: `ensure` keeps a halt in force past it.
    return yield* ensure(
      (function* () {
        tls = TlsStream.client(tcp, context, options);
        yield* tls.handshake();
        return tls;
      })(),
      function* (completed) {
        if (!completed) yield* (tls ?? tcp).close();
      },
    );
  }

  static #over(conn: TcpStream | number, context: TlsContext, options?: TlsSessionOptions): TlsStream {
    const fd = typeof conn === 'number' ? conn : conn.detach();
    let session: TlsSession;
    try {
      session = new TlsSession(context, fd, options);
    } catch (err) {
      closeFd(fd);
      throw err;
    }
    return new TlsStream(session);
  }

  /**
   * Runs the handshake, waiting for whatever readiness OpenSSL asks for. Failures are
   * `ERR_TLS_HANDSHAKE` errors with OpenSSL's reason (verification verdict included). Idempotent once done.
   */
  *handshake(): Operation<void> {
    while (!this.#handshaken) {
      const r = this.session.handshake();
      if (r === 'done') this.#handshaken = true;
      else yield* waitFor(r, this.fd);
    }
  }

  /** The peer's certificate after the handshake, or null when it sent none. */
  peerCertificate(): PeerCertificate | null {
    return this.session.peerCertificate();
  }

  /**
   * Sends close_notify (after a completed handshake), waiting at most `notifyMs` for it to leave
   * — a peer that stopped reading cannot hold us — then frees the session and closes the fd.
   * Idempotent.
   */
  override *close(notifyMs = CLOSE_NOTIFY_MS): Operation<void> {
    if (this.closed) return;
    try {
      if (this.#handshaken) yield* timeout(notifyMs, this.#closeNotify());
    } catch {
      // The peer is gone or not reading: closing the socket is all that is left to do.
    } finally {
      yield* super.close();
    }
  }

  /** At the end of a `using` block: close_notify if it can leave at once (no waiting), then the fd closes. */
  override [Symbol.dispose](): void {
    if (this.closed) return;
    try {
      if (this.#handshaken) this.session.shutdown();
    } catch {
      // The peer is gone: closing the socket is all that is left to do.
    }
    super[Symbol.dispose]();
  }

  /**
   * Closes without close_notify and without flushing a record a pending write left half-sent: the
   * peer sees its stream cut (an `ERR_TLS_PROTOCOL` error), never a clean end. For cutting a peer
   * off after counting what it did not get (the relay does). Idempotent.
   */
  *abort(): Operation<void> {
    yield* super.close();
  }

  *#closeNotify(): Operation<void> {
    for (;;) {
      const r = this.session.shutdown();
      if (r === 'sent' || r === 'done') return;
      yield* waitFor(r, this.fd);
    }
  }
}
