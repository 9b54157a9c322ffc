/**
 * Datagram sockets as operations: `UdpSocket` (IPv4/IPv6) and `UnixDatagramSocket`, both a
 * {@link DatagramEndpoint} over the batched low-level {@link DatagramSocket}. A task waits for
 * readability only when nothing is queued, and for writability only when the kernel refuses a send.
 */
import { closeOnThrow } from '../dispose';
import { WOULD_BLOCK } from '../errors';
import { waitReadable, waitWritable } from '../loop/fdwaiters';
import { Operation } from '../loop/operation';
import { Address, toAddress } from '../net/address';
import { DatagramBatch, DatagramOptions, DatagramSocket, DatagramType } from '../net/datagram';
import { closeFdNow } from '../loop/closefd';

/** What UdpSocket and UnixDatagramSocket share: receive in batches, send, close. */
export class DatagramEndpoint {
  /** The low-level socket (buffer sizes, sendMany, …); it belongs to this endpoint. */
  readonly socket: DatagramSocket;
  #closed = false;

  protected constructor(type: DatagramType, options?: DatagramOptions) {
    this.socket = new DatagramSocket(type, options);
  }

  /** The socket's fd. */
  get fd(): number {
    return this.socket.fd;
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Waits until at least one datagram is queued, then takes up to `slots` of them in one recvmmsg.
   * The batch is one object reused by every receive: its `count`, `data(i)` views and addresses are
   * valid only until the next `receive()` on this socket (copy what you keep longer).
   */
  *receive(): Operation<DatagramBatch> {
    for (;;) {
      const batch = this.socket.receive();
      if (batch !== WOULD_BLOCK) return batch;
      yield* waitReadable(this.fd);
    }
  }

  /**
   * Sends one datagram to `address` (or to the connected peer), waiting for writability while the
   * kernel says "not now" (a full send buffer, a unix peer's full queue). Returns the bytes sent.
   */
  *send(data: Uint8Array, address?: string | Address): Operation<number> {
    for (;;) {
      const n = this.socket.send(data, address);
      if (n !== WOULD_BLOCK) return n;
      yield* waitWritable(this.fd);
    }
  }

  /** Fixes the peer: `send` without an address goes there, and only its datagrams are received. */
  connect(address: string | Address): this {
    this.socket.connect(address);
    return this;
  }

  /** The bound address (with the kernel's port when bound to port 0). */
  localAddress(): Address {
    return this.socket.localAddress();
  }

  /** Closes the socket (tasks still waiting on it get EBADF; a bound socket file is removed). Idempotent. */

  *close(): Operation<void> {
    this[Symbol.dispose]();
  }

  /** `using udp = …`: {@link close} at the end of the block (it never waits). */
  [Symbol.dispose](): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFdNow(this.fd, () => this.socket.close());
  }

  /** Binds, closing the socket if that fails. */
  protected bindOrClose(address: Address): this {
    return closeOnThrow(
      this,
      (endpoint) => endpoint.socket.close(),
      (endpoint) => {
        endpoint.socket.bind(address);
        return endpoint;
      },
    );
  }
}

/**
 * A UDP socket.
 *
 * ```ts
 * const udp = UdpSocket.bindTo('127.0.0.1:5514');
 * const batch = yield* udp.receive();
 * for (let i = 0; i < batch.count; i++) yield* udp.send(batch.data(i), batch.address(i));
 * ```
 */
export class UdpSocket extends DatagramEndpoint {
  /** An unbound socket (the kernel picks a port at the first send). */
  constructor(family: 'udp4' | 'udp6' = 'udp4', options?: DatagramOptions) {
    super(family, options);
  }

  /** A socket bound to `address`; its family (udp4/udp6) follows the address. */
  static bindTo(address: string | Address, options?: DatagramOptions): UdpSocket {
    const addr = toAddress(address);
    if (addr.family === 'unix')
      throw new TypeError(`UdpSocket.bindTo: ${addr} is a unix address (use UnixDatagramSocket)`);
    return new UdpSocket(addr.family === 'ipv6' ? 'udp6' : 'udp4', options).bindOrClose(addr);
  }
}

/** A unix datagram socket (a socket file path, or `'@name'` for a Linux abstract socket). */
export class UnixDatagramSocket extends DatagramEndpoint {
  /** An unbound socket: it can send, and its datagrams arrive from the address `''`. */
  constructor(options?: DatagramOptions) {
    super('unix', options);
  }

  /** A socket bound to `path`; `close()` removes the socket file. */
  static bindTo(path: string | Address, options?: DatagramOptions): UnixDatagramSocket {
    const addr = toAddress(path);
    if (addr.family !== 'unix') throw new TypeError(`UnixDatagramSocket.bindTo: ${addr} is not a unix address`);
    return new UnixDatagramSocket(options).bindOrClose(addr);
  }
}
