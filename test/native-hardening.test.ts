/**
 * The native layer under careless and hostile callers: lists that change while they are read,
 * buffers transferred away while native code still holds them, and integer arguments that used to
 * wrap (NaN → fd 0, fd + 2^32 → fd). Each case is checked by its observable result, so it fails
 * without a sanitizer too.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bindDatagram, close, pipe, read, socketpair, tcp, write, WOULD_BLOCK } from '../lib';
import { native, SocketOption } from '../lib/native';
import { receiveNow, readySync } from './net-helpers';
import { isFdOpen } from './helpers/fds';

/** The error `fn` throws (fails the test when it returns). */
function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a throw, got a return');
}

/** A list whose element `at` is a getter that pushes `extra` more buffers when read. */
function growingList(first: Uint8Array[], at: number, extra: number): Uint8Array[] {
  const list = [...first];
  const kept = list[at];
  Object.defineProperty(list, at, {
    get() {
      for (let i = 0; i < extra; i++) list.push(Buffer.from('X'));
      return kept;
    },
  });
  return list;
}

/** Moves an ArrayBuffer's memory to a new owner, detaching the original (as postMessage would). */
function transfer(buffer: ArrayBufferLike): ArrayBuffer {
  const owned = buffer as ArrayBuffer;
  return structuredClone(owned, { transfer: [owned] });
}

describe('lists are read once, before any pointer is taken', () => {
  test('tcp.writev sends exactly the elements the list had when the call began', () => {
    const [a, b] = socketpair();
    try {
      const list = growingList([Buffer.from('ab'), Buffer.from('cd'), Buffer.from('ef')], 1, 5000);
      expect(tcp.writev(a, list)).toBe(6);
      const got = Buffer.alloc(64);
      expect(read(b, got)).toBe(6);
      expect(got.subarray(0, 6).toString()).toBe('abcdef');
      expect(list.length).toBe(5003);
    } finally {
      close(a);
      close(b);
    }
  });

  test('DatagramSocket.sendMany sends exactly the datagrams the list had when the call began', () => {
    const rx = bindDatagram('udp4', '127.0.0.1:0', { slots: 64, slotSize: 64 });
    const tx = bindDatagram('udp4', '127.0.0.1:0');
    try {
      const list = growingList([Buffer.from('one'), Buffer.from('two')], 0, 3000);
      expect(tx.sendMany(list, rx.localAddress())).toBe(2);
      const batch = receiveNow(rx);
      expect(batch.count).toBe(2);
      expect([batch.data(0).toString(), batch.data(1).toString()]).toEqual(['one', 'two']);
    } finally {
      rx.close();
      tx.close();
    }
  });

  test('a getter that detaches an earlier element is refused, not read', () => {
    const [a, b] = socketpair();
    try {
      const first = new Uint8Array(new ArrayBuffer(4)).fill(65);
      const list = [first, Buffer.from('b')];
      Object.defineProperty(list, 1, {
        get() {
          transfer(first.buffer);
          return Buffer.from('b');
        },
      });
      const err = thrown(() => tcp.writev(a, list));
      expect(err.name).toBe('TypeError');
      expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
      expect(err.message).toContain('"buffers[0]"');
      expect(read(b, Buffer.alloc(8))).toBe(WOULD_BLOCK);
    } finally {
      close(a);
      close(b);
    }
  });

  test('more buffers than IOV_MAX (1024) in one call is a RangeError naming the argument', () => {
    const [a, b] = socketpair();
    try {
      const many = Array.from({ length: 1025 }, () => Buffer.from('x'));
      const err = thrown(() => tcp.writev(a, many));
      expect(err.name).toBe('RangeError');
      expect(err.code).toBe('ERR_OUT_OF_RANGE');
      expect(err.message).toContain('"buffers"');
      expect(tcp.writev(a, many.slice(0, 1024))).toBe(1024);
    } finally {
      close(a);
      close(b);
    }
  });
});

describe('memory handed to the kernel stays alive and is never used once transferred', () => {
  test('a DatagramSocket whose batch buffer was transferred receives into fresh memory of its own', () => {
    const rx = bindDatagram('udp4', '127.0.0.1:0', { slots: 4, slotSize: 256 });
    const tx = bindDatagram('udp4', '127.0.0.1:0');
    try {
      tx.send(Buffer.from('first'), rx.localAddress());
      const batch = receiveNow(rx);
      expect(batch.data(0).toString()).toBe('first');
      const moved = new Uint8Array(transfer(batch.buffer.buffer));
      tx.send(Buffer.from('second'), rx.localAddress());
      const next = receiveNow(rx);
      expect(next.count).toBe(1);
      expect(next.data(0).toString()).toBe('second');
      // The transferred memory belongs to its new owner: the receiver never wrote into it again.
      expect(Buffer.from(moved.subarray(0, 5)).toString()).toBe('first');
      expect(moved[5]).toBe(0);
    } finally {
      rx.close();
      tx.close();
    }
  });

  test('the raw Receiver refuses to receive into a transferred buffer', () => {
    const rx = bindDatagram('udp4', '127.0.0.1:0');
    const tx = bindDatagram('udp4', '127.0.0.1:0');
    try {
      const slots = new Uint8Array(4 * 64);
      const receiver = new native.Receiver(slots, 64, new Int32Array(4 * 3), new Uint8Array(4 * native.addressSize));
      tx.send(Buffer.from('payload'), rx.localAddress());
      readySync(rx.fd, 'r');
      const moved = new Uint8Array(transfer(slots.buffer));
      const err = thrown(() => receiver.receive(rx.fd));
      expect(err.code).toBe('ERR_INVALID_STATE');
      expect(err.message).toContain('"slots"');
      expect(moved.every((byte) => byte === 0)).toBe(true);
    } finally {
      rx.close();
      tx.close();
    }
  });

  test('the raw Pollset refuses to write events into a transferred array', () => {
    const [r, w] = pipe();
    const events = new Int32Array(16);
    const set = new native.Pollset('poll', events);
    try {
      expect(set.insert(w, 2)).toBe(0);
      const moved = new Int32Array(transfer(events.buffer));
      const err = thrown(() => set.wait(0));
      expect(err.code).toBe('ERR_INVALID_STATE');
      expect(err.message).toContain('"events"');
      expect(moved.every((v) => v === 0)).toBe(true);
      // A new array makes it usable again.
      const fresh = new Int32Array(16);
      set.setEvents(fresh);
      expect(set.wait(0)).toBe(1);
      expect(fresh[0]).toBe(w);
    } finally {
      set.close();
      close(r);
      close(w);
    }
  });

  test('a watched raw Pollset whose events array was transferred stops and reports it, writing nothing', () => {
    const script = path.join(__dirname, 'fixtures', 'watch-detached.js');
    const child = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 20000 });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual({ code: 'ERR_INVALID_STATE', named: true, untouched: true, exited: true });
    expect(child.status).toBe(0);
  });
});

describe('integer arguments never wrap', () => {
  test('close(NaN) throws a RangeError and leaves fd 0 open', () => {
    // Make sure fd 0 is open (a test worker may run without stdin), so closing it would show.
    const opened = isFdOpen(0) ? -1 : fs.openSync('/dev/null', 'r');
    try {
      const before = fs.fstatSync(0).ino;
      const err = thrown(() => close(NaN));
      expect(err.name).toBe('RangeError');
      expect(err.code).toBe('ERR_OUT_OF_RANGE');
      expect(err.message).toContain('"fd"');
      expect(fs.fstatSync(0).ino).toBe(before);
    } finally {
      if (opened >= 0) fs.closeSync(opened);
    }
  });

  test('write(fd + 2^32) throws and writes nothing; offsets past 2^31 are refused', () => {
    const [r, w] = pipe();
    try {
      const err = thrown(() => write(w + 2 ** 32, Buffer.from('x')));
      expect(err.name).toBe('RangeError');
      expect(err.message).toContain('"fd"');
      expect(thrown(() => write(w, Buffer.from('abc'), 2 ** 32)).message).toContain('"offset"');
      expect(thrown(() => write(w, Buffer.from('abc'), 0, 2 ** 32 + 1)).message).toContain('"length"');
      expect(thrown(() => write(w, Buffer.from('abc'), 1.5)).message).toContain('"offset"');
      expect(read(r, Buffer.alloc(8))).toBe(WOULD_BLOCK);
      expect(write(w, Buffer.from('abc'), 1, 2)).toBe(2);
      const got = Buffer.alloc(8);
      expect(read(r, got)).toBe(2);
      expect(got.subarray(0, 2).toString()).toBe('bc');
    } finally {
      close(r);
      close(w);
    }
  });

  test('a non-number fd is a TypeError naming it, not fd 0', () => {
    const err = thrown(() => native.setNonBlocking('0' as unknown as number, false));
    expect(err.name).toBe('TypeError');
    expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    expect(err.message).toContain('"fd"');
  });

  test('TLS verify mode NaN is refused instead of meaning "no verification"', () => {
    const err = thrown(() => new native.TlsContext({ server: true, verify: NaN as 0 }));
    expect(err.name).toBe('RangeError');
    expect(err.message).toContain('"verify"');
  });
});

describe('string arguments that name a kind', () => {
  test('socketpair type, socket family and type: anything else is a TypeError listing the choices in order', () => {
    const cases: [() => unknown, string][] = [
      [
        () => native.socketpair('seqpacket' as 'stream'),
        `The "type" argument must be 'stream' or 'dgram'. Received type string`,
      ],
      [
        () => native.socketpair(1 as unknown as 'stream'),
        `The "type" argument must be 'stream' or 'dgram'. Received 1`,
      ],
      [
        () => native.socketpair(null as unknown as 'stream'),
        `The "type" argument must be 'stream' or 'dgram'. Received null`,
      ],
      [
        () => native.socket('ipx' as 'ipv4', 'dgram'),
        `The "family" argument must be 'ipv4', 'ipv6' or 'unix'. Received type string`,
      ],
      [
        () => native.socket(4 as unknown as 'ipv4', 'dgram'),
        `The "family" argument must be 'ipv4', 'ipv6' or 'unix'. Received 4`,
      ],
      [
        () => native.socket('ipv4', 'raw' as 'dgram'),
        `The "type" argument must be 'dgram' or 'stream'. Received type string`,
      ],
      [
        () => (native.socket as (family: string) => number)('ipv4'),
        `The "type" argument must be 'dgram' or 'stream'. Received undefined`,
      ],
    ];
    for (const [call, message] of cases) {
      const err = thrown(call);
      expect({ name: err.name, code: err.code, message: err.message }).toEqual({
        name: 'TypeError',
        code: 'ERR_INVALID_ARG_TYPE',
        message,
      });
    }
  });

  test('each choice makes the socket it names', () => {
    const typeOf = (fd: number) => native.getOption(fd, SocketOption.Type);
    const fds: number[] = [];
    const keep = (fd: number) => {
      expect(fd).toBeGreaterThanOrEqual(0);
      fds.push(fd);
      return fd;
    };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'choice-'));
    try {
      // socketpair: stream when not given (or undefined), else as named.
      for (const [type, kind] of [
        [undefined, 1],
        ['stream', 1],
        ['dgram', 2],
      ] as const) {
        const pair = (native.socketpair(type) as [number, number]).map(keep);
        expect(pair.map(typeOf)).toEqual([kind, kind]);
      }
      for (const family of ['ipv4', 'ipv6', 'unix'] as const) {
        expect(typeOf(keep(native.socket(family, 'stream')))).toBe(1);
        expect(typeOf(keep(native.socket(family, 'dgram')))).toBe(2);
      }
      // The family shows in the socket's own address (sockaddr_in, sockaddr_in6); a unix socket binds to a path.
      expect((native.socketName(keep(native.socket('ipv4', 'stream')), false) as Uint8Array).length).toBe(16);
      expect((native.socketName(keep(native.socket('ipv6', 'stream')), false) as Uint8Array).length).toBe(28);
      const address = native.parseAddress(path.join(dir, 'sock')) as Uint8Array;
      expect(native.bind(keep(native.socket('unix', 'dgram')), address)).toBe(0);
    } finally {
      for (const fd of fds) native.close(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
