/**
 * TcpStream: a ByteStream over a connected TCP (or unix stream) socket, with a non-blocking connect
 * run as an operation. Writes go through send(MSG_NOSIGNAL), so a vanished peer is an EPIPE or
 * ECONNRESET error in the writing task, never a process-wide SIGPIPE.
 */
import { WOULD_BLOCK } from '../errors';
import { close } from '../fd';
import { waitWritable } from '../loop/fdwaiters';
import { abortable } from '../loop/interrupt';
import { Operation } from '../loop/operation';
import { Address } from '../net/address';
import * as tcp from '../net/tcp';
import { ByteStream } from './bytestream';
import { closeFd } from './closefd';
import { ByteIo } from './io';

/** Options of {@link TcpStream.connect}. */
export interface ConnectOptions {
  /** Aborting it gives up: the socket is closed and an `AbortError` thrown (its `cause`: the signal's reason). */
  signal?: AbortSignal;
}

/** The socket transport: recv/send on a non-blocking stream socket the stream owns. */
function socketIo(fd: number): ByteIo {
  return {
    fd,
    readSome: (buf) => tcp.read(fd, buf),
    writeSome: (buf) => tcp.write(fd, buf),
    close: () => close(fd),
    shortReadDrains: true,
  };
}

/**
 * A connected stream socket as operations: `read`, `readLine`, `readExactly`, `write`, `close`
 * (from {@link ByteStream}), plus `shutdown`, addresses and TCP_NODELAY. It owns its fd.
 *
 * ```ts
 * const conn = yield* TcpStream.connect('127.0.0.1:7');
 * yield* conn.write(Buffer.from('ping\n'));
 * const line = yield* conn.readLine();
 * yield* conn.close();
 * ```
 */
export class TcpStream extends ByteStream {
  /** The peer as accept(2) reported it; getpeername fails (ENOTCONN) once a peer has reset. */
  readonly #remote: Address | undefined;

  /**
   * Wraps a connected socket fd (for example one taken from `tcp.accept`); the stream then owns it.
   * `remote` is the peer address accept returned with the fd, kept so that asking for it later
   * cannot fail.
   */
  constructor(fd: number, remote?: Address) {
    super(socketIo(fd));
    this.#remote = remote;
  }

  /**
   * Connects to `address` (`'127.0.0.1:80'`, `'[::1]:443'`, `'/run/x.sock'`). The connect runs
   * non-blocking: the task waits for writability, then reads the outcome from SO_ERROR. A failure
   * is a Node-style error (`ECONNREFUSED: connection refused, connect 127.0.0.1:9`, with `code`,
   * `errno`, `syscall`, `address`). Halting or timing out the task, or aborting `options.signal`
   * (an `AbortError`), closes the half-made socket.
   */
  static connect(address: string | Address, options: ConnectOptions = {}): Operation<TcpStream> {
    return abortable(options?.signal, TcpStream.#connect(address));
  }

  static *#connect(address: string | Address): Operation<TcpStream> {
    const conn = tcp.connect(address);
    let done = false;
    try {
      while (conn.pending && tcp.connectResult(conn.fd, conn.address) === WOULD_BLOCK) yield* waitWritable(conn.fd);
      done = true;
      return new TcpStream(conn.fd);
    } finally {
      if (!done) yield* closeFd(conn.fd, () => close(conn.fd));
    }
  }

  /** Ends one or both directions; after `'write'` (the default) the peer reads end of stream. */
  shutdown(how: 'read' | 'write' | 'both' = 'write'): void {
    tcp.shutdown(this.fd, how);
  }

  /** The peer's address: the one accept returned, else asked of the kernel (ENOTCONN once the peer is gone). */
  remoteAddress(): Address {
    return this.#remote ?? tcp.remoteAddress(this.fd);
  }

  /** The local end's address. */
  localAddress(): Address {
    return tcp.localAddress(this.fd);
  }

  /** TCP_NODELAY on (the default) or off. */
  setNoDelay(on = true): void {
    tcp.setNoDelay(this.fd, on);
  }
}
