/**
 * `using` and `await using` release what they hold at the end of the block: pollsets, loops
 * (closed; or, asynchronously, halted with their waiting cleanup run to the end), TCP streams and
 * listeners, UDP sockets, TLS streams (close_notify when it can leave at once), TLS contexts and
 * sessions. Real blocks, real fds; every backend, both run modes; no fd outlives its block.
 */
import {
  DatagramSocket,
  ensure,
  FdStream,
  Loop,
  Operation,
  pipe,
  close,
  Pollset,
  sleep,
  TcpListener,
  TcpStream,
  TlsContext,
  TlsSession,
  UdpSocket,
} from '../lib';
import { describeMatrix, drive, expectFdsBackTo, openFds } from './helpers/loops';
import { runOp, tlsContexts, tlsPairs } from './helpers/tcp';

describe.each(Pollset.backends)('%s backend', (backend) => {
  test('using a Pollset closes it at the end of the block', () => {
    const before = openFds();
    const [r, w] = pipe();
    let kept: Pollset | undefined;
    {
      using ps = new Pollset({ backend });
      ps.insert(r, 'r');
      kept = ps;
    }
    expect(() => kept.size).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    close(r);
    close(w);
    expect(openFds()).toBe(before);
  });

  test('using a Loop halts its tasks (finally runs) and closes it', async () => {
    const before = openFds();
    const finished: string[] = [];
    {
      using loop = new Loop({ backend });
      loop.spawn(function* () {
        try {
          yield* sleep(Infinity);
        } finally {
          finished.push('finally');
        }
      });
      loop.spawn(sleep(1));
      await new Promise((resolve) => setTimeout(resolve, 5)); // the tasks are waiting, not running
      void loop.run();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(finished).toEqual(['finally']);
    await expectFdsBackTo(before);
  });

  test('await using a Loop halts its tasks, runs cleanup that waits to the end, then closes it', async () => {
    const before = openFds();
    const finished: string[] = [];
    let kept: Loop | undefined;
    {
      await using loop = new Loop({ backend });
      kept = loop;
      loop.spawn(
        ensure(sleep(Infinity), function* () {
          yield* sleep(3);
          finished.push('cleanup after waiting');
        }),
      );
      void loop.run();
      await new Promise((resolve) => setTimeout(resolve, 5)); // the task is in its sleep
    }
    expect(finished).toEqual(['cleanup after waiting']);
    expect(() => kept.stats).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    await expectFdsBackTo(before);
  });

  test('using TLS contexts and a session frees them; the session leaves its fd open', () => {
    const contexts = tlsContexts();
    const [a, b] = FdStream.socketpair();
    let session: TlsSession | undefined;
    let context: TlsContext | undefined;
    {
      using ctx = TlsContext.client({ servername: 'localhost', verify: 'none' });
      using s = new TlsSession(ctx, a.fd);
      session = s;
      context = ctx;
      expect(s.handshake()).not.toBe('done');
    }
    expect(() => session.handshake()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    expect(() => new TlsSession(context, b.fd)).toThrow();
    a[Symbol.dispose]();
    b[Symbol.dispose]();
    contexts.free();
  });

  test('using a DatagramSocket closes it', () => {
    const before = openFds();
    let kept: DatagramSocket | undefined;
    {
      using sock = new DatagramSocket('udp4').bind('127.0.0.1:0');
      kept = sock;
      expect(sock.localAddress().port).toBeGreaterThan(0);
    }
    expect(() => kept.localAddress()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }));
    expect(openFds()).toBe(before);
  });
});

describeMatrix((backend, mode) => {
  test('using streams inside a task: listener, connection, accepted end and UDP socket close with the block', async () => {
    const loop = new Loop({ backend });
    const result = await runOp(
      loop,
      mode,
      (function* (): Operation<string> {
        const held: { closed: boolean }[] = [];
        let reply: string;
        {
          using listener = TcpListener.listen('127.0.0.1:0');
          using client = yield* TcpStream.connect(listener.localAddress());
          using server = yield* listener.accept();
          using udp = UdpSocket.bindTo('127.0.0.1:0');
          held.push(listener, client, server, udp);
          yield* client.write(Buffer.from('ping\n'));
          reply = String(yield* server.readLine());
          expect(loop.stats.pollsetSize).toBeGreaterThanOrEqual(0);
        }
        expect(held.map((h) => h.closed)).toEqual([true, true, true, true]);
        return reply;
      })(),
    );
    expect(result).toBe('ping');
    expect(loop.stats).toMatchObject({ pollsetSize: 0, fdWaiters: 0 });
    loop.close();
  });

  test('a task waiting on a stream disposed by another task gets EBADF, not a hang', async () => {
    const loop = new Loop({ backend });
    const [a, b] = FdStream.socketpair();
    const reader = loop.spawn(function* () {
      try {
        return yield* a.read();
      } catch (err) {
        return (err as { code?: string }).code;
      }
    });
    loop.spawn(function* () {
      yield* sleep(2);
      using gone = a;
      expect(gone.closed).toBe(false);
    });
    await drive(loop, mode);
    expect(await reader).toBe('EBADF');
    b[Symbol.dispose]();
    loop.close();
  });

  test('using TLS streams: the disposed client sends close_notify at once, so the server reads a clean end', async () => {
    const loop = new Loop({ backend });
    const contexts = tlsContexts();
    const got = await runOp(
      loop,
      mode,
      (function* (): Operation<[string, Buffer | null]> {
        const [[c, s]] = yield* tlsPairs(1, contexts);
        using server = s;
        {
          using client = c;
          yield* client.write(Buffer.from('hello\n'));
        }
        const line = String(yield* server.readLine());
        return [line, yield* server.read()];
      })(),
    );
    expect(got).toEqual(['hello', null]);
    loop.close();
    contexts.free();
  });
});
