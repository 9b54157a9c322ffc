/**
 * Datagram sockets (UDP over IPv4/IPv6, unix datagram) with batched, allocation-free receive:
 * one recvmmsg fills a pooled buffer of slots owned by this object, and the batch is read through
 * a reused view. Nothing is allocated per datagram unless you ask for its bytes or its address.
 */
import { closeOnThrow } from '../dispose';
import * as fs from 'fs';
import {
  argRangeError,
  argTypeError,
  check,
  errnoOf,
  hasOwn,
  ioResult,
  stateError,
  WouldBlock,
  WOULD_BLOCK,
} from '../errors';
import { close } from '../fd';
import { native, NativeReceiver, SocketOption } from '../native';
import { Address, AddressFamily, toAddress } from './address';
import { bind, getOption, localAddress, openSocket, setOption } from './socket';

/** `'udp4'`, `'udp6'` (like Node's dgram) or `'unix'` (datagrams over a socket file). */
export type DatagramType = 'udp4' | 'udp6' | 'unix';

/** Receive batching of a {@link DatagramSocket}: how many datagrams one receive() returns, and how large. */
export interface DatagramOptions {
  /** Datagrams one receive() can return (default 32). */
  slots?: number;
  /** Bytes kept per datagram (default 65536, so any UDP or 64 KiB unix datagram fits); longer ones are truncated. */
  slotSize?: number;
  /**
   * A socket of this type that is already open (inherited, e.g. from systemd), to use instead of a
   * new one: it becomes this object's (closed by close(); a socket file it is bound to is left).
   * Check its type first (see net/inherited.ts).
   */
  fd?: number;
}

const FAMILY: Record<DatagramType, AddressFamily> = { udp4: 'ipv4', udp6: 'ipv6', unix: 'unix' };
/** int32s per datagram in the meta array: bytes stored, truncated flag, address length (native/datagram.h). */
const META = 3;

/**
 * The datagrams of the last {@link DatagramSocket.receive}. It is one object reused by every
 * receive: its contents (and any `data(i)` view) are valid only until the next receive.
 */
export class DatagramBatch {
  /** How many datagrams this batch holds. */
  count = 0;
  /**
   * All slots in one buffer: datagram `i` starts at `offset(i)` and is `length(i)` bytes long.
   * Transferring its ArrayBuffer (`postMessage`, `structuredClone` with `transfer`) hands the memory
   * to the new owner for good: the socket never writes into it again and receives into a new batch.
   */
  readonly buffer: Buffer;
  /** Bytes per datagram slot in {@link buffer}; a longer datagram was truncated to it. */
  readonly slotSize: number;
  /** @internal */ readonly meta: Int32Array;
  /** @internal */ readonly addresses: Uint8Array;

  /** @internal */
  constructor(slots: number, slotSize: number) {
    this.slotSize = slotSize;
    // Own ArrayBuffers (not Node's pool): aligned, and never shared with another Buffer.
    this.buffer = Buffer.from(new ArrayBuffer(slots * slotSize));
    this.meta = new Int32Array(slots * META);
    this.addresses = new Uint8Array(slots * native.addressSize);
  }

  /** @internal False once one of its arrays was transferred away (detached): nothing can be received into it. */
  intact(): boolean {
    return this.buffer.length !== 0 && this.meta.length !== 0 && this.addresses.length !== 0;
  }

  /** Where datagram `i` starts in `buffer`. */
  offset(i: number): number {
    return i * this.slotSize;
  }

  /** Bytes of datagram `i` that were stored (the slot size when it was truncated). */
  length(i: number): number {
    return this.meta[i * META];
  }

  /** Whether datagram `i` was longer than a slot and lost its tail (MSG_TRUNC). */
  truncated(i: number): boolean {
    return this.meta[i * META + 1] !== 0;
  }

  /** A view of datagram `i`'s bytes (no copy; overwritten by the next receive). */
  data(i: number): Buffer {
    const start = i * this.slotSize;
    return this.buffer.subarray(start, start + this.meta[i * META]);
  }

  /** The sender of datagram `i` as raw sockaddr bytes (a view, overwritten by the next receive). */
  rawAddress(i: number): Uint8Array {
    const start = i * native.addressSize;
    return this.addresses.subarray(start, start + this.meta[i * META + 2]);
  }

  /** The sender of datagram `i` (an unnamed unix sender is the address `''`). */
  address(i: number): Address {
    const start = i * native.addressSize;
    return Address.fromRaw(this.addresses.subarray(start, start + this.meta[i * META + 2]));
  }
}

/**
 * A non-blocking datagram socket.
 *
 * ```ts
 * const sock = new DatagramSocket('udp4').bind('127.0.0.1:5514');
 * const batch = sock.receive();
 * if (batch !== WOULD_BLOCK) for (let i = 0; i < batch.count; i++) handle(batch.data(i));
 * ```
 */
export class DatagramSocket {
  /** The socket's kind: `udp4`, `udp6` or `unix` (datagram). */
  readonly type: DatagramType;
  readonly #slots: number;
  readonly #slotSize: number;
  #fd: number;
  #batch: DatagramBatch | undefined;
  #receiver: NativeReceiver | undefined;
  #boundPath: string | undefined;
  // The last address text given to send(): a sender that repeats it parses it once.
  #lastText: string | undefined;
  #lastAddress: Address | undefined;

  constructor(type: DatagramType, options: DatagramOptions = {}) {
    if (!hasOwn(FAMILY, type)) throw argTypeError(`DatagramSocket: unknown type ${String(type)}`);
    const slots = options.slots ?? 32;
    const slotSize = options.slotSize ?? 65536;
    if (!Number.isInteger(slots) || slots < 1 || !Number.isInteger(slotSize) || slotSize < 1) {
      throw argRangeError('DatagramSocket: slots and slotSize must be positive integers');
    }
    this.type = type;
    this.#slots = slots;
    this.#slotSize = slotSize;
    this.#fd = options.fd ?? openSocket(FAMILY[type], 'dgram');
  }

  /** Most datagrams one `receive()` takes: a batch with fewer emptied the socket's queue. */
  get slots(): number {
    return this.#slots;
  }

  /** The socket's fd, for a Pollset. */
  get fd(): number {
    if (this.#fd < 0) throw stateError('socket is closed');
    return this.#fd;
  }

  /** Binds to a local address (`'127.0.0.1:0'` lets the kernel choose the port). */
  bind(address: string | Address): this {
    const addr = toAddress(address);
    bind(this.fd, addr);
    if (this.type === 'unix' && addr.host.startsWith('/')) this.#boundPath = addr.host;
    return this;
  }

  /** Fixes the peer: send() without an address goes there, and only its datagrams are received. */
  connect(address: string | Address): this {
    const addr = toAddress(address);
    check(native.connect(this.fd, addr.raw), 'connect', { address: addr.toString() });
    return this;
  }

  /**
   * Takes every waiting datagram up to the slot count in one system call. Returns the batch
   * (reused: read it before the next receive) or WOULD_BLOCK when none is waiting.
   */
  receive(): DatagramBatch | WouldBlock {
    const fd = this.fd;
    if (!this.#receiver || !this.#batch?.intact()) {
      const batch = new DatagramBatch(this.#slots, this.#slotSize);
      this.#receiver = new native.Receiver(batch.buffer, this.#slotSize, batch.meta, batch.addresses);
      this.#batch = batch;
    }
    const batch = this.#batch;
    const n = ioResult(this.#receiver.receive(fd), 'recvmmsg', { fd });
    if (n === WOULD_BLOCK) {
      batch.count = 0;
      return n;
    }
    batch.count = n;
    return batch;
  }

  /** Sends one datagram (to `address`, or to the connected peer): bytes sent, or WOULD_BLOCK. */
  send(data: Uint8Array, address?: string | Address): number | WouldBlock {
    const addr = this.#target(address);
    return ioResult(native.send(this.fd, data, undefined, undefined, addr?.raw), 'send', this.#detail(addr));
  }

  /** Sends several datagrams in one system call (sendmmsg): how many went, or WOULD_BLOCK. */
  sendMany(datagrams: Uint8Array[], address?: string | Address): number | WouldBlock {
    const addr = this.#target(address);
    return ioResult(native.sendMany(this.fd, datagrams, addr?.raw), 'sendmmsg', this.#detail(addr));
  }

  /**
   * Asks the kernel to report datagrams it dropped on this socket before they were read (its
   * receive queue was full). Linux has SO_RXQ_OVFL: each datagram then carries the socket's drop
   * counter, read through {@link kernelDrops}. Returns false where no such per-socket count exists
   * (the BSDs and macOS keep only system-wide totals, `netstat -s -p udp` "dropped due to full
   * socket buffers"; Windows none): drops there are not seen by this socket. A unix datagram socket
   * never drops: its sender waits (or gets EAGAIN) instead.
   */
  reportKernelDrops(): boolean {
    const r = native.setOption(this.fd, SocketOption.RxqOverflow, 1);
    if (r === 0) return true;
    if (r === -errnoOf('ENOPROTOOPT')) return false;
    check(r, 'setsockopt', { fd: this.fd });
    return false;
  }

  /**
   * Datagrams the kernel dropped on this socket since it was opened, as of the last datagram
   * received (a drop shows up with the next datagram that arrives after it). A 32-bit counter that
   * wraps: compare successive values modulo 2^32. 0 until a receive has seen a count.
   */
  kernelDrops(): number {
    return this.#receiver ? this.#receiver.drops() : 0;
  }

  /** SO_RCVBUF: the kernel may round or cap it (Linux doubles it and caps at net.core.rmem_max). */
  setRecvBufferSize(bytes: number): void {
    setOption(this.fd, SocketOption.RecvBuffer, bytes);
  }

  /** SO_RCVBUF as the kernel holds it (Linux reports twice what was set, for its bookkeeping). */
  recvBufferSize(): number {
    return getOption(this.fd, SocketOption.RecvBuffer);
  }

  /** SO_SNDBUF; a unix datagram larger than it cannot be sent. */
  setSendBufferSize(bytes: number): void {
    setOption(this.fd, SocketOption.SendBuffer, bytes);
  }

  /** SO_SNDBUF as the kernel holds it. */
  sendBufferSize(): number {
    return getOption(this.fd, SocketOption.SendBuffer);
  }

  /** The bound address (with the kernel's port when bound to port 0). */
  localAddress(): Address {
    return localAddress(this.fd);
  }

  /** `using sock = …`: {@link close} at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Closes the fd and removes the socket file this socket bound. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    this.#receiver = undefined;
    close(fd);
    if (this.#boundPath) {
      try {
        fs.unlinkSync(this.#boundPath);
      } catch {
        // Already removed by someone else: nothing left to clean.
      }
    }
  }

  #target(address: string | Address | undefined): Address | undefined {
    if (address === undefined || address instanceof Address) return address;
    if (address !== this.#lastText) {
      this.#lastAddress = Address.parse(address);
      this.#lastText = address;
    }
    return this.#lastAddress;
  }

  #detail(addr: Address | undefined): { fd?: number; address?: string } {
    return addr ? { address: addr.toString() } : { fd: this.#fd };
  }
}

/** Opens a datagram socket and binds it in one step, closing it if the bind fails. */
export function bindDatagram(type: DatagramType, address: string | Address, options?: DatagramOptions): DatagramSocket {
  return closeOnThrow(
    new DatagramSocket(type, options),
    (sock) => sock.close(),
    (sock) => sock.bind(address),
  );
}
