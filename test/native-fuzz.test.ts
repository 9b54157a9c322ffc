/**
 * Bounded fuzzing of everything that reaches the addon: every exported native function and the
 * public methods over it (fd helpers, Pollset, DatagramSocket, tcp helpers, TlsSession), called with
 * generated bad arguments — wrong types, NaN, ±Infinity, 2^31, 2^32+k, negatives, fractions;
 * zero-length, detached, SharedArrayBuffer-backed and resizable buffers; arrays whose getters
 * mutate them; closed and freed objects; fds of regular files, directories and closed fds.
 *
 * A call passes when the process survives and the call either returns a sane result (an integer
 * where a count or -errno is expected) or throws a documented error: TypeError
 * ERR_INVALID_ARG_TYPE/ERR_INVALID_ARG_VALUE, RangeError ERR_OUT_OF_RANGE, ERR_INVALID_STATE, an
 * ERR_TLS_* error, or a system error (`code` E…, negative `errno`, `syscall`).
 *
 * Seed and run count are fixed; fast-check prints the seed and the shrunk case on failure.
 * Only fds this file opened are ever given as valid fds, and close() only ever gets invalid or
 * closed ones, so a wrong result can never close or write into a descriptor of the test runner.
 */
import fc from 'fast-check';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  DatagramSocket,
  makeClientCert,
  makeDevCa,
  makeServerCert,
  Pollset,
  tcp,
  TlsContext,
  TlsSession,
} from '../lib';
import * as fd from '../lib/fd';
import { native } from '../lib/native';
import { openFdList } from './helpers/fds';

const SEED = 20261129;
const RUNS = 300;

let calls = 0;

// ---- what counts as a pass -------------------------------------------------------------------

function documented(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; message?: unknown; code?: unknown; errno?: unknown; syscall?: unknown };
  if (typeof e.message !== 'string' || typeof e.code !== 'string') return false;
  if (e.name === 'TypeError') return e.code === 'ERR_INVALID_ARG_TYPE' || e.code === 'ERR_INVALID_ARG_VALUE';
  if (e.name === 'RangeError') return e.code === 'ERR_OUT_OF_RANGE';
  if (e.code === 'ERR_INVALID_STATE' || e.code.startsWith('ERR_TLS_')) return true;
  return /^E[A-Z0-9]+$/.test(e.code) && typeof e.errno === 'number' && e.errno < 0 && typeof e.syscall === 'string';
}

/** Runs one call; returns its result, or undefined when it threw a documented error. */
function attempt<T>(label: string, fn: () => T): T | undefined {
  calls++;
  let result: T;
  try {
    result = fn();
  } catch (err) {
    if (documented(err)) return undefined;
    throw new Error(`${label} threw an undocumented error: ${String((err as Error)?.stack ?? err)}`);
  }
  if (typeof result === 'number' && !Number.isInteger(result)) throw new Error(`${label} returned ${result}`);
  return result;
}

// ---- fixtures: descriptors of every kind, owned by this file --------------------------------

interface Fixtures {
  dir: string;
  fileFd: number;
  dirFd: number;
  pipe: [number, number];
  pair: [number, number];
  udp: DatagramSocket;
  listener: number;
  /** A number no descriptor of this process uses. */
  closedFd: number;
  /** Which of fd 0, 1, 2 were open before the fuzzing. */
  stdio: number[];
  /** A pipe nobody writes: its write end is always writable, so waits on it never block. */
  idle: [number, number];
  server: TlsContext;
  client: TlsContext;
}

let fx: Fixtures;

beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pollset-fuzz-'));
  const fileFd = fs.openSync(path.join(dir, 'file'), 'w+');
  const dirFd = fs.openSync(dir, 'r');
  const open = openFdList();
  const ca = makeDevCa();
  const server = makeServerCert(ca);
  const client = makeClientCert(ca, { cn: 'fuzz' });
  fx = {
    dir,
    fileFd,
    dirFd,
    pipe: fd.pipe(),
    pair: fd.socketpair(),
    udp: new DatagramSocket('udp4').bind('127.0.0.1:0'),
    listener: tcp.listen('127.0.0.1:0'),
    closedFd: Math.max(...open) + 200,
    stdio: [0, 1, 2].filter((n) => open.includes(n)),
    idle: fd.pipe(),
    server: TlsContext.server({ cert: server.cert, key: server.key, ca: ca.cert, verify: 'require' }),
    client: TlsContext.client({ cert: client.cert, key: client.key, ca: ca.cert, servername: 'localhost' }),
  };
});

afterAll(() => {
  for (const n of [fx.fileFd, fx.dirFd]) fs.closeSync(n);
  for (const n of [...fx.pipe, ...fx.pair, ...fx.idle, fx.listener]) fd.close(n);
  fx.udp.close();
  fs.rmSync(fx.dir, { recursive: true, force: true });
  process.stdout.write(`native fuzz: ${calls} calls (seed ${SEED}, ${RUNS} runs per property)\n`);
});

// ---- arbitraries ------------------------------------------------------------------------------

const wrongTypes = fc.constantFrom<unknown>(undefined, null, '3', '', true, {}, [], Symbol('s'), 10n, () => 1);
const badNumbers = fc.oneof(
  fc.constantFrom(
    NaN,
    Infinity,
    -Infinity,
    2 ** 31,
    2 ** 32,
    -1,
    -(2 ** 31) - 1,
    0.5,
    -0.5,
    1e300,
    Number.MAX_SAFE_INTEGER,
  ),
  fc.integer({ min: 0, max: 1000 }).map((k) => 2 ** 32 + k),
  fc.integer({ min: 1, max: 2 ** 31 }).map((k) => -k),
  fc.double({ noDefaultInfinity: false }),
);
/** Never a valid descriptor number. */
const badFd = fc.oneof(
  badNumbers.filter((n) => !(Number.isInteger(n) && n >= 0 && n <= 0x7fffffff)),
  wrongTypes,
);
/** Small integers and everything bad: offsets, lengths, counts, options. */
const anyInt = fc.oneof(fc.integer({ min: -3, max: 70 }), badNumbers, wrongTypes);

/** A descriptor this file owns (or a closed one), or a bad value. */
const someFd = fc.oneof(
  fc.constantFrom('file', 'dir', 'pipeR', 'pipeW', 'pairA', 'pairB', 'udp', 'listener', 'closed').map(
    (kind) => () =>
      ({
        file: fx.fileFd,
        dir: fx.dirFd,
        pipeR: fx.pipe[0],
        pipeW: fx.pipe[1],
        pairA: fx.pair[0],
        pairB: fx.pair[1],
        udp: fx.udp.fd,
        listener: fx.listener,
        closed: fx.closedFd,
      })[kind],
  ),
  badFd.map((v) => () => v),
);

type Make = () => unknown;

function detached(bytes: number): Uint8Array {
  const view = new Uint8Array(bytes);
  structuredClone(view.buffer, { transfer: [view.buffer] });
  return view;
}

type ResizableCtor = new (
  length: number,
  options: { maxByteLength: number },
) => ArrayBuffer & {
  resize(length: number): void;
};

/** Buffers of every shape, made fresh per call (a detached one stays detached). */
const bufferKinds: Record<string, Make> = {
  empty: () => new Uint8Array(0),
  small: () => Buffer.from('hello'),
  big: () => Buffer.alloc(70000, 1),
  pooled: () => Buffer.from('pooled bytes').subarray(3),
  detached: () => detached(16),
  shared: () => new Uint8Array(new SharedArrayBuffer(32)),
  growableShared: () => new Uint8Array(new (SharedArrayBuffer as unknown as ResizableCtor)(8, { maxByteLength: 64 })),
  resizable: () => new Uint8Array(new (ArrayBuffer as unknown as ResizableCtor)(16, { maxByteLength: 64 })),
  shrunk: () => {
    const rab = new (ArrayBuffer as unknown as ResizableCtor)(32, { maxByteLength: 64 });
    const view = new Uint8Array(rab, 16);
    rab.resize(8);
    return view;
  },
  int32: () => new Int32Array(8),
  dataView: () => new DataView(new ArrayBuffer(8)),
  arrayBuffer: () => new ArrayBuffer(8),
};
const someBuffer: fc.Arbitrary<Make> = fc.oneof(
  fc.constantFrom(...Object.values(bufferKinds)),
  wrongTypes.map((v) => () => v),
);

/** Lists of buffers, including hostile ones. */
const someList: fc.Arbitrary<Make> = fc.oneof(
  fc
    .array(fc.constantFrom(...Object.values(bufferKinds)), { maxLength: 6 })
    .map((makers) => () => makers.map((m) => m())),
  fc.constantFrom<Make>(
    () => {
      const list: unknown[] = [Buffer.from('a'), Buffer.from('b')];
      Object.defineProperty(list, 0, {
        get() {
          for (let i = 0; i < 2000; i++) list.push(Buffer.from('x'));
          return Buffer.from('a');
        },
      });
      return list;
    },
    () => {
      const first = new Uint8Array(8);
      const list: unknown[] = [first, Buffer.from('b')];
      Object.defineProperty(list, 1, {
        get() {
          structuredClone(first.buffer, { transfer: [first.buffer] });
          return Buffer.from('b');
        },
      });
      return list;
    },
    () => {
      const list: unknown[] = [Buffer.from('a')];
      Object.defineProperty(list, 0, {
        get() {
          list.length = 0;
          return Buffer.from('a');
        },
      });
      return list;
    },
    () => {
      const list: unknown[] = [Buffer.from('a')];
      Object.defineProperty(list, 0, {
        get() {
          throw Object.assign(new TypeError('getter refused'), { code: 'ERR_INVALID_ARG_TYPE' });
        },
      });
      return list;
    },
    () => new Array(3),
    () => new Array(5000).fill(Buffer.from('x')),
    () => new Proxy([Buffer.from('a')], {}),
    () => ({ length: 2, 0: Buffer.from('a'), 1: Buffer.from('b') }),
  ),
  wrongTypes.map((v) => () => v),
);

/** Socket addresses as the addon takes them: our own, garbage of an unknown family, or bad values. */
const someRawAddress: fc.Arbitrary<Make> = fc.oneof(
  fc.constant(() => fx.udp.localAddress().raw),
  fc.constant(() => (native.parseAddress('127.0.0.1:9') as Uint8Array).slice()),
  // First bytes 0xff: no real address family, so garbage is never sent anywhere.
  fc.uint8Array({ maxLength: 200 }).map((bytes) => () => {
    const raw = Uint8Array.from(bytes);
    if (raw.length > 0) raw[0] = 0xff;
    if (raw.length > 1) raw[1] = 0xff;
    return raw;
  }),
  someBuffer,
);

/** Address texts and bad values for the public API (loopback only). */
const someAddress = fc.oneof(
  fc.constantFrom<unknown>(
    '127.0.0.1:0',
    '[::1]:0',
    '127.0.0.1:9',
    'not an address',
    '',
    '127.0.0.1:99999',
    '/nonexistent/dir/s.sock',
  ),
  wrongTypes,
);

// ---- the calls ---------------------------------------------------------------------------------

type Any = (...args: unknown[]) => unknown;
const raw = native as unknown as Record<string, Any>;

function closeIfFds(result: unknown): void {
  if (Array.isArray(result))
    for (const n of result)
      if (typeof n === 'number') native.close(n);
      else if (typeof result === 'number' && result > 2) native.close(result);
}

/** fc.assert of fc.property with this file's seed and run count (fast-check prints both on failure). */

function property(...args: any[]): void {
  // Synchronous properties: fc.assert returns nothing to wait for.
  void fc.assert((fc.property as any)(...args), { seed: SEED, numRuns: RUNS });
}

describe(`native functions (seed ${SEED}, ${RUNS} runs each)`, () => {
  test('fd primitives: read, write, close, setNonBlocking, socketpair', () => {
    property(someFd, someBuffer, anyInt, anyInt, (f: Make, b: Make, off: unknown, len: unknown) => {
      attempt('read', () => raw.read(f(), b(), off, len));
      attempt('write', () => raw.write(f(), b(), off, len));
      attempt('read (no window)', () => raw.read(f(), b()));
      attempt('setNonBlocking', () => raw.setNonBlocking(f(), true));
    });
    property(badFd, (bad: unknown) => {
      attempt('close', () => raw.close(bad));
      attempt('close (closed fd)', () => raw.close(fx.closedFd));
    });
    property(fc.oneof(wrongTypes, fc.constantFrom('stream', 'dgram', 'seqpacket')), (type: unknown) => {
      closeIfFds(attempt('socketpair', () => raw.socketpair(type)));
    });
  });

  test('sockets: bind, connect, listen, accept, options, names, shutdown', () => {
    property(someFd, someRawAddress, anyInt, anyInt, (f: Make, a: Make, n: unknown, m: unknown) => {
      attempt('bind', () => raw.bind(f(), a()));
      attempt('connect', () => raw.connect(f(), a()));
      attempt('connectResult', () => raw.connectResult(f()));
      attempt('listen', () => raw.listen(f(), n));
      attempt('socketName', () => raw.socketName(f(), m));
      attempt('getOption', () => raw.getOption(f(), n));
      attempt('setOption', () => raw.setOption(f(), n, m));
      attempt('shutdown', () => raw.shutdown(f(), n));
      attempt('formatAddress', () => raw.formatAddress(a(), n, m));
    });
    property(someFd, someBuffer, someBuffer, (f: Make, out: Make, addrs: Make) => {
      const result = attempt('accept', () => raw.accept(f(), out(), addrs()));
      if (typeof result === 'number' && result > 0) throw new Error('nobody connects to the fuzz listener');
    });
    property(
      fc.oneof(wrongTypes, fc.string()),
      fc.oneof(wrongTypes, fc.constantFrom('ipv4', 'ipv6', 'unix', 'raw')),
      fc.oneof(wrongTypes, fc.constantFrom('dgram', 'stream', 'raw')),
      (text: unknown, family: unknown, type: unknown) => {
        attempt('parseAddress', () => raw.parseAddress(text));
        closeIfFds(attempt('socket', () => raw.socket(family, type)));
      },
    );
  });

  test('datagrams and gathered writes: send, sendMany, writev, Receiver', () => {
    property(
      someFd,
      someBuffer,
      anyInt,
      anyInt,
      someRawAddress,
      (f: Make, b: Make, off: unknown, len: unknown, a: Make) => {
        attempt('send', () => raw.send(f(), b(), off, len, a()));
      },
    );
    property(
      someFd,
      someList,
      fc.oneof(
        someRawAddress,
        fc.constant(() => undefined),
      ),
      (f: Make, l: Make, a: Make) => {
        const sent = attempt('sendMany', () => raw.sendMany(f(), l(), a()));
        if (typeof sent === 'number' && sent > 6)
          throw new Error(`sendMany sent ${sent} datagrams of a list of at most 6`);
        const written = attempt('writev', () => raw.writev(f(), l()));
        if (typeof written === 'number' && written > 6 * 70000) throw new Error(`writev wrote ${written} bytes`);
      },
    );
    const Receiver = native.Receiver as unknown as new (...args: unknown[]) => { receive(fd: unknown): number };
    property(
      someBuffer,
      anyInt,
      someBuffer,
      someBuffer,
      someFd,
      fc.boolean(),
      (s: Make, size: unknown, m: Make, a: Make, f: Make, move: boolean) => {
        const slots = new Uint8Array(4 * 64);
        const good = attempt(
          'new Receiver (valid)',
          () => new Receiver(slots, 64, new Int32Array(12), new Uint8Array(4 * native.addressSize)),
        );
        if (move) structuredClone(slots.buffer, { transfer: [slots.buffer] });
        attempt('Receiver.receive', () => good?.receive(f()));
        const bad = attempt('new Receiver', () => new Receiver(s(), size, m(), a()));
        attempt('Receiver.receive (fuzzed)', () => bad?.receive(f()));
      },
    );
  });

  test('Pollset: construction, registration, wait, setEvents, watch, after close', () => {
    const backends = native.backends();
    property(
      fc.oneof(fc.constantFrom<unknown>(...backends), wrongTypes, fc.constant('nope')),
      someBuffer,
      someFd,
      anyInt,
      fc.oneof(badNumbers, wrongTypes, fc.constant(0)),
      fc.boolean(),
      (backend: unknown, events: Make, f: Make, interest: unknown, timeout: unknown, move: boolean) => {
        const Ctor = native.Pollset as unknown as new (...args: unknown[]) => Record<string, Any> & { error: number };
        const fuzzed = attempt('new Pollset', () => new Ctor(backend, events()));
        if (fuzzed) fuzzed.close();
        const eventsArray = new Int32Array(8);
        const set = new Ctor(backends[0], eventsArray);
        try {
          expect(set.insert(fx.idle[1], 2)).toBe(0); // always ready: no wait below can block
          attempt('insert', () => set.insert(f(), interest));
          attempt('update', () => set.update(f(), interest));
          attempt('remove', () => set.remove(f()));
          if (move) structuredClone(eventsArray.buffer, { transfer: [eventsArray.buffer] });
          attempt('wait', () => set.wait(timeout));
          attempt('setEvents', () => set.setEvents(events()));
          attempt('wait after setEvents', () => set.wait(0));
          attempt('watch', () => set.watch(interest));
        } finally {
          set.close();
        }
        attempt('insert after close', () => set.insert(fx.idle[1], 2));
        attempt('wait after close', () => set.wait(0));
      },
    );
  });

  test('TLS: contexts, sessions, read/write windows, after free', () => {
    const ctx = new native.TlsContext({ server: false, verify: 0 });
    property(
      someFd,
      someBuffer,
      anyInt,
      anyInt,
      fc.oneof(wrongTypes, fc.constant('localhost')),
      anyInt,
      (f: Make, b: Make, off: unknown, len: unknown, name: unknown, verify: unknown) => {
        const Session = native.TlsSession as unknown as new (...args: unknown[]) => Record<string, Any>;
        attempt(
          'new TlsContext',
          () => new (native.TlsContext as unknown as new (o: unknown) => unknown)({ server: true, verify }),
        );
        attempt('makeCertificate', () =>
          native.makeCertificate({ role: 'ca', cn: 'x', notBefore: verify as number, notAfter: NaN }),
        );
        const [a, z] = fd.socketpair();
        try {
          const s = attempt('new TlsSession', () => new Session(ctx, f(), name));
          s?.free();
          const session = new Session(ctx, a, 'localhost');
          attempt('session.write', () => session.write(b(), off, len));
          attempt('session.read', () => session.read(b(), off, len));
          session.free();
          attempt('session.write after free', () => session.write(Buffer.from('x')));
          attempt('session.handshake after free', () => session.handshake());
        } finally {
          fd.close(a);
          fd.close(z);
        }
      },
    );
  });
});

describe(`public classes over the addon (seed ${SEED}, ${RUNS} runs each)`, () => {
  test('fd helpers and tcp helpers', () => {
    property(someFd, someBuffer, anyInt, anyInt, someList, (f: Make, b: Make, off: unknown, len: unknown, l: Make) => {
      const any = fd as unknown as Record<string, Any>;
      const t = tcp as unknown as Record<string, Any>;
      attempt('fd.read', () => any.read(f(), b(), off, len));
      attempt('fd.write', () => any.write(f(), b(), off, len));
      attempt('fd.setNonBlocking', () => any.setNonBlocking(f()));
      attempt('tcp.read', () => t.read(f(), b(), off, len));
      attempt('tcp.write', () => t.write(f(), b(), off, len));
      attempt('tcp.writev', () => t.writev(f(), l()));
      const accepted = attempt('tcp.accept', () => t.accept(f(), off));
      if (Array.isArray(accepted)) throw new Error('nobody connects to the fuzz listener');
      attempt('tcp.connectResult', () => t.connectResult(f()));
      attempt('tcp.setNoDelay', () => t.setNoDelay(f(), true));
      attempt('tcp.getNoDelay', () => t.getNoDelay(f()));
      attempt('tcp.localAddress', () => t.localAddress(f()));
      attempt('tcp.remoteAddress', () => t.remoteAddress(f()));
      attempt('tcp.shutdown', () => t.shutdown(f(), off));
    });
    property(badFd, (bad: unknown) => {
      attempt('fd.close', () => (fd.close as Any)(bad));
    });
  });

  test('Pollset', () => {
    property(
      fc.oneof(fc.constantFrom<unknown>(...Pollset.backends), wrongTypes, fc.constant('nope')),
      someFd,
      fc.oneof(fc.constantFrom<unknown>('r', 'w', 'rw', 'p', '', 'x'), wrongTypes),
      fc.oneof(badNumbers, wrongTypes, fc.constant(0)),
      (backend: unknown, f: Make, events: unknown, timeout: unknown) => {
        const fuzzed = attempt('new Pollset', () => new Pollset({ backend: backend as 'poll' }));
        fuzzed?.close();
        const ps = new Pollset() as unknown as Record<string, Any>;
        ps.insert(fx.idle[1], 'w');
        attempt('Pollset.insert', () => ps.insert(f(), events));
        attempt('Pollset.update', () => ps.update(f(), events));
        attempt('Pollset.remove', () => ps.remove(f()));
        attempt('Pollset.wait', () => ps.wait(timeout));
        attempt('Pollset.watch', () => ps.watch(events));
        ps.close();
        attempt('Pollset.insert after close', () => ps.insert(fx.idle[1], 'w'));
        attempt('Pollset.wait after close', () => ps.wait(0));
      },
    );
  });

  test('DatagramSocket', () => {
    property(
      fc.oneof(fc.constantFrom<unknown>('udp4', 'udp6', 'unix', 'toString'), wrongTypes),
      anyInt,
      anyInt,
      someAddress,
      someBuffer,
      someList,
      anyInt,
      (type: unknown, slots: unknown, slotSize: unknown, address: unknown, b: Make, l: Make, size: unknown) => {
        const Ctor = DatagramSocket as unknown as new (...args: unknown[]) => DatagramSocket;
        const fuzzed = attempt('new DatagramSocket', () => new Ctor(type, { slots, slotSize }));
        fuzzed?.close();
        const sock = new DatagramSocket('udp4', { slots: 4, slotSize: 512 }) as unknown as Record<string, Any>;
        try {
          attempt('DatagramSocket.bind', () => sock.bind(address));
          attempt('DatagramSocket.send', () => sock.send(b(), fx.udp.localAddress()));
          attempt('DatagramSocket.send (to)', () => sock.send(Buffer.from('x'), address));
          attempt('DatagramSocket.sendMany', () => sock.sendMany(l(), fx.udp.localAddress()));
          attempt('DatagramSocket.setRecvBufferSize', () => sock.setRecvBufferSize(size));
          attempt('DatagramSocket.receive', () => sock.receive());
        } finally {
          sock.close();
        }
        attempt('DatagramSocket.send after close', () => sock.send(Buffer.from('x'), fx.udp.localAddress()));
        attempt('DatagramSocket.receive after close', () => sock.receive());
      },
    );
    // Whatever was sent to the shared socket: take it so its buffer never fills.
    for (let i = 0; i < 1000 && typeof fx.udp.receive() !== 'symbol'; i++);
  });

  test('TlsSession', () => {
    property(someFd, someBuffer, anyInt, anyInt, (f: Make, b: Make, off: unknown, len: unknown) => {
      const Session = TlsSession as unknown as new (...args: unknown[]) => TlsSession;
      attempt('new TlsSession', () => new Session(fx.client, f()))?.free();
      const [a, z] = fd.socketpair();
      try {
        const session = new TlsSession(fx.client, a) as unknown as Record<string, Any>;
        attempt('TlsSession.write', () => session.write(b(), off, len));
        attempt('TlsSession.read', () => session.read(b(), off, len));
        attempt('TlsSession.handshake', () => session.handshake());
        session.free();
        attempt('TlsSession.write after free', () => session.write(Buffer.from('x')));
        attempt('TlsSession.read after free', () => session.read(Buffer.alloc(4)));
      } finally {
        fd.close(a);
        fd.close(z);
      }
    });
  });
});

test('the fuzz fixtures survived: every descriptor still open, fd 0-2 untouched', () => {
  for (const n of [...fx.stdio, fx.fileFd, fx.dirFd, ...fx.pipe, ...fx.pair, ...fx.idle, fx.listener, fx.udp.fd]) {
    expect(() => fs.fstatSync(n)).not.toThrow();
  }
  expect(calls).toBeGreaterThan(RUNS * 10);
});
