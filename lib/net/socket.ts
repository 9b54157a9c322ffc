/**
 * What datagram and stream sockets share: creation (non-blocking, close-on-exec from birth),
 * binding, names, buffer sizes. Failures are Node-style errors naming the address or fd.
 */
import { check, EINVAL, systemError } from '../errors';
import { native, SocketOption } from '../native';
import { Address, AddressFamily } from './address';

/** A new socket of `family`, non-blocking and close-on-exec. */
export function openSocket(family: AddressFamily, type: 'dgram' | 'stream'): number {
  return check(native.socket(family, type), 'socket');
}

/** bind(2): the error names the address, `bind EADDRINUSE 127.0.0.1:5514` style. */
export function bind(fd: number, address: Address): void {
  check(native.bind(fd, address.raw), 'bind', { address: address.toString() });
}

function name(fd: number, peer: boolean): Address {
  const raw = native.socketName(fd, peer);
  if (typeof raw === 'number') throw systemError(raw, peer ? 'getpeername' : 'getsockname', { fd });
  return Address.fromRaw(raw);
}

/** getsockname(2): the address the socket is bound to (the port the kernel chose for port 0). */
export function localAddress(fd: number): Address {
  return name(fd, false);
}

/** getpeername(2): the address of the connected peer; ENOTCONN when there is none. */
export function remoteAddress(fd: number): Address {
  return name(fd, true);
}

/** Reads a socket option (a flag as 0/1, or a size in bytes). */
export function getOption(fd: number, option: SocketOption): number {
  return check(native.getOption(fd, option), 'getsockopt', { fd });
}

/** Sets a socket option. */
export function setOption(fd: number, option: SocketOption, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) throw systemError(EINVAL, 'setsockopt', { fd });
  check(native.setOption(fd, option, value), 'setsockopt', { fd });
}
