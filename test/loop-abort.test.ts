/**
 * AbortSignal wherever the loop waits: `abortable(signal, op)`, `timeout(ms, op, { signal })`,
 * `TcpStream.connect`/`TlsStream.connect` with a signal, and `loop.run({ signal })`. An abort is
 * Node's AbortError (name 'AbortError', code 'ABORT_ERR', `cause` the signal's reason); whatever the
 * operation waited on is released and its `finally` blocks run. Every backend, both run modes.
 */
import { getEventListeners } from 'events';
import {
  abortable,
  AbortError,
  ensure,
  FdStream,
  Loop,
  Operation,
  Pollset,
  sleep,
  TcpListener,
  TcpStream,
  timeout,
  TlsStream,
} from '../lib';
import { describeMatrix, drive, newLoop, openFds } from './helpers/loops';
import { tlsContexts } from './helpers/tcp';

function* caught<T>(op: Operation<T>): Operation<unknown> {
  try {
    return { value: yield* op };
  } catch (err) {
    return err;
  }
}

function expectAbortError(err: unknown, reason: unknown): void {
  expect(err).toBeInstanceOf(AbortError);
  expect(err).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', message: 'The operation was aborted' });
  expect((err as Error).cause).toBe(reason);
}

describeMatrix((backend, mode) => {
  test('an abort from another task releases an fd wait, runs finally, throws the AbortError with the reason', async () => {
    const { loop, crashes } = newLoop(backend);
    const controller = new AbortController();
    const reason = new Error('stop now');
    const [a, b] = FdStream.socketpair();
    let cleaned = 0;
    const waiter = loop.spawn(
      caught(
        abortable(
          controller.signal,
          (function* () {
            try {
              return yield* a.read(); // nobody writes
            } finally {
              cleaned++;
            }
          })(),
        ),
      ),
    );
    loop.spawn(function* () {
      yield* sleep(2);
      controller.abort(reason);
    });
    await drive(loop, mode);
    expectAbortError(await waiter, reason);
    expect(cleaned).toBe(1);
    expect(loop.stats).toMatchObject({ fdWaiters: 0, timers: 0, tasks: 0 });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(crashes).toEqual([]);
    loop.close();
    a[Symbol.dispose]();
    b[Symbol.dispose]();
  });

  test('a signal aborted before the task gets there: the operation never starts', async () => {
    const { loop } = newLoop(backend);
    let started = false;
    const task = loop.spawn(
      caught(
        abortable(
          AbortSignal.abort('early'),
          (function* () {
            started = true;
            yield* sleep(1);
          })(),
        ),
      ),
    );
    await drive(loop, mode);
    expectAbortError(await task, 'early');
    expect(started).toBe(false);
    loop.close();
  });

  test('once the operation is done a later abort changes nothing, and the listener is gone', async () => {
    const { loop, crashes } = newLoop(backend);
    const controller = new AbortController();
    const task = loop.spawn(function* () {
      const v = yield* abortable(
        controller.signal,
        (function* () {
          yield* sleep(1);
          return 7;
        })(),
      );
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      controller.abort();
      yield* sleep(2); // an interrupt that landed now would throw here
      return v;
    });
    await drive(loop, mode);
    expect(await task).toBe(7);
    expect(crashes).toEqual([]);
    loop.close();
  });

  test('timeout(ms, op, { signal }): the abort wins before the deadline, the deadline wins without an abort', async () => {
    const { loop } = newLoop(backend);
    const controller = new AbortController();
    const aborted = loop.spawn(caught(timeout(10_000, sleep(Infinity), { signal: controller.signal })));
    const expired = loop.spawn(caught(timeout(2, sleep(Infinity), { signal: new AbortController().signal })));
    loop.spawn(function* () {
      yield* sleep(3);
      controller.abort('user');
    });
    await drive(loop, mode);
    expectAbortError(await aborted, 'user');
    expect(await expired).toMatchObject({ code: 'ETIMEDOUT' });
    expect(loop.stats.timers).toBe(0);
    loop.close();
    expect(() => timeout(1, sleep(1), { signal: 'no' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => abortable({} as never, sleep(1))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });

  test('connect with a signal: TlsStream.connect aborted mid-handshake closes its socket; an aborted signal makes no socket', async () => {
    const { loop, crashes } = newLoop(backend);
    // The listener never accepts: the kernel completes the TCP handshake, the TLS one waits forever.
    const listener = TcpListener.listen('127.0.0.1:0');
    const contexts = tlsContexts();
    const address = listener.localAddress();
    const controller = new AbortController();
    const tls = loop.spawn(caught(TlsStream.connect(address, contexts.client, { signal: controller.signal })));
    loop.spawn(function* () {
      yield* sleep(5);
      controller.abort('changed my mind');
    });
    await drive(loop, mode);
    expectAbortError(await tls, 'changed my mind');
    expect(loop.stats).toMatchObject({ fdWaiters: 0, pollsetSize: 0 });
    // Already aborted: no socket is made (a loopback connect would otherwise complete at once).
    const before = openFds();
    const early = loop.spawn(caught(TcpStream.connect(address, { signal: AbortSignal.abort('early') })));
    const earlyTls = loop.spawn(
      caught(TlsStream.connect(address, contexts.client, { signal: AbortSignal.abort('early') })),
    );
    await drive(loop, mode);
    expectAbortError(await early, 'early');
    expectAbortError(await earlyTls, 'early');
    expect(openFds()).toBe(before);
    const connected = loop.spawn(function* () {
      const conn = yield* TcpStream.connect(address, { signal: new AbortController().signal });
      yield* conn.close();
      return 'connected';
    });
    await drive(loop, mode);
    expect(await connected).toBe('connected');
    expect(crashes).toEqual([]);
    loop.spawn(listener.close());
    await drive(loop, mode);
    loop.close();
    contexts.free();
  });
});

// run({ signal }) is the integrated driver's; in blocking mode the tasks' own signals (above) apply.
describe.each(Pollset.backends)('%s backend, integrated mode', (backend) => {
  test('loop.run({ signal }): an abort halts every task, waits for their cleanup, then rejects with the AbortError', async () => {
    const loop = new Loop({ backend });
    const done: string[] = [];
    loop.spawn(function* () {
      try {
        yield* sleep(Infinity);
      } finally {
        done.push('sleeper');
      }
    });
    loop.spawn(
      ensure(sleep(Infinity), function* () {
        yield* sleep(3); // cleanup that waits is still driven after the abort
        done.push('ensure');
      }),
    );
    const controller = new AbortController();
    setTimeout(() => controller.abort('enough'), 5);
    const err = await loop.run({ signal: controller.signal }).catch((e: unknown) => e);
    expectAbortError(err, 'enough');
    expect(done.sort()).toEqual(['ensure', 'sleeper']);
    expect(loop.stats.tasks).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // The loop is usable again.
    const again = loop.spawn(function* () {
      yield* sleep(1);
      return 'again';
    });
    await loop.run();
    expect(await again).toBe('again');
    loop.close();
  });

  test('loop.run({ signal }) with an aborted signal halts the tasks before they start; a run that ends first resolves', async () => {
    const loop = new Loop({ backend });
    let started = false;
    loop.spawn(function* () {
      started = true;
      yield* sleep(1);
    });
    await expect(loop.run({ signal: AbortSignal.abort('before') })).rejects.toMatchObject({
      name: 'AbortError',
      cause: 'before',
    });
    expect(started).toBe(false);
    const controller = new AbortController();
    loop.spawn(sleep(1));
    await expect(loop.run({ signal: controller.signal })).resolves.toBeUndefined();
    controller.abort(); // after the run: nothing to do
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    await expect(loop.run({ signal: 'x' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    loop.close();
  });
});
