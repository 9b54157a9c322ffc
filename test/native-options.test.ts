/**
 * Socket option numbers have one source, native/socket.h: the addon exports them and lib reads them at
 * load. These tests hold the two ends together — every name lib's type declares is exported, the numbers
 * are exactly the ones the native range check accepts, and a number read from the addon reaches the
 * option it names on a real socket.
 */
import { native, SocketOption, SocketOptions } from '../lib/native';
import { close, tcp } from '../lib';

// Record<keyof SocketOptions, …> makes the compiler insist this list is exactly the type's names.
const declared: Record<keyof SocketOptions, true> = {
  ReuseAddr: true,
  ReusePort: true,
  RecvBuffer: true,
  SendBuffer: true,
  NoDelay: true,
  Error: true,
  RxqOverflow: true,
  KeepAlive: true,
  KeepIdle: true,
  KeepInterval: true,
  KeepCount: true,
  UserTimeout: true,
  Type: true,
  AcceptConn: true,
};

test('SocketOption is the frozen object the addon exports, with every declared name', () => {
  expect(SocketOption).toBe(native.socketOptions);
  expect(Object.isFrozen(native.socketOptions)).toBe(true);
  expect(Object.keys(native.socketOptions).sort()).toEqual(Object.keys(declared).sort());
});

test('the exported numbers are 0..n-1 and exactly what getOption accepts', () => {
  const numbers = Object.values(native.socketOptions as unknown as Record<string, number>).sort((a, b) => a - b);
  expect(numbers).toEqual(numbers.map((_, i) => i));
  const [a, b] = native.socketpair('stream') as [number, number];
  try {
    for (const n of numbers) expect(() => native.getOption(a, n as SocketOption)).not.toThrow();
    let err: (Error & { code?: string }) | undefined;
    try {
      native.getOption(a, numbers.length as SocketOption);
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.name).toBe('RangeError');
    expect(err?.code).toBe('ERR_OUT_OF_RANGE');
  } finally {
    close(a);
    close(b);
  }
});

test('an option number from the addon reaches the option it names (TCP_NODELAY on a real socket)', () => {
  const fd = tcp.listen('127.0.0.1:0');
  try {
    expect(native.setOption(fd, SocketOption.NoDelay, 1)).toBe(0);
    expect(native.getOption(fd, SocketOption.NoDelay)).not.toBe(0);
    expect(native.setOption(fd, SocketOption.NoDelay, 0)).toBe(0);
    expect(native.getOption(fd, SocketOption.NoDelay)).toBe(0);
    expect(native.setOption(fd, SocketOption.RecvBuffer, 65536)).toBe(0);
    // Linux doubles the asked size for bookkeeping; other systems keep it: either way >= what was asked.
    expect(native.getOption(fd, SocketOption.RecvBuffer)).toBeGreaterThanOrEqual(65536);
  } finally {
    close(fd);
  }
});
