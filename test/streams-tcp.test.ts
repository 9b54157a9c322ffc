/** TcpStream and TcpListener: connect, line and exact reads, shutdown, addresses, serve's policy, ECONNREFUSED. */
import { Address, close, HaltedError, Operation, sleep, tcp, TcpListener, TcpStream } from '../lib';
import { describeMatrix, drive, newLoop } from './helpers/loops';
import { runOp, tcpPairs } from './helpers/tcp';

/** A port nobody listens on: bound by a listener that is then closed. */
function closedPort(): Address {
  const fd = tcp.listen('127.0.0.1:0');
  const addr = tcp.localAddress(fd);
  close(fd);
  return addr;
}

describeMatrix((backend, mode) => {
  test('read, readLine({max}), readExactly, write, shutdown, addresses, NODELAY; buffered bytes come before EOF', async () => {
    const { loop, crashes } = newLoop(backend);
    const [[client, server]] = await runOp(loop, mode, tcpPairs(1));
    const result = loop.spawn(function* () {
      expect(client.remoteAddress().equals(server.localAddress())).toBe(true);
      expect(server.remoteAddress().equals(client.localAddress())).toBe(true);
      client.setNoDelay();
      expect(tcp.getNoDelay(client.fd)).toBe(true);
      yield* client.write(Buffer.from('first line\nsecond\r\n0123456789'.padEnd(100, '!') + 'x'.repeat(50) + '\n'));
      client.shutdown('write'); // everything above is buffered at the server before it reads a byte
      const first = yield* server.readLine({ max: 10 });
      const second = yield* server.readLine();
      const exact = yield* server.readExactly(10);
      let tooLong: unknown;
      try {
        yield* server.readLine({ max: 20 });
      } catch (e) {
        tooLong = e;
      }
      const rest = yield* server.read();
      const eof = yield* server.read();
      yield* server.write(Buffer.from('bye'));
      server.shutdown();
      const reply = yield* client.readExactly(3);
      let premature: unknown;
      try {
        yield* client.readExactly(1);
      } catch (e) {
        premature = e;
      }
      yield* client.close();
      yield* server.close();
      return { first, second, exact, tooLong, rest, eof, reply, premature };
    });
    await drive(loop, mode);
    const r = await result;
    expect(r.first?.toString()).toBe('first line');
    expect(r.second?.toString()).toBe('second\r');
    expect(r.exact.toString()).toBe('0123456789');
    expect(r.tooLong).toMatchObject({ code: 'EMSGSIZE' });
    expect(r.rest?.length).toBe(100 + 50 + 1 - 29); // the over-long line stays buffered: read() returns it
    expect(r.eof).toBeNull();
    expect(r.reply.toString()).toBe('bye');
    expect(r.premature).toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
    expect(crashes).toEqual([]);
    expect(loop.stats).toEqual({ tasks: 0, queued: 0, timers: 0, pollsetSize: 0, fdWaiters: 0 });
    loop.close();
  });

  test('connect to a closed port fails with ECONNREFUSED (code, errno, syscall, address)', async () => {
    const { loop } = newLoop(backend);
    const addr = closedPort();
    const attempt = loop.spawn(TcpStream.connect(addr));
    const outcome = attempt.then(
      () => undefined,
      (e: unknown) => e,
    );
    await drive(loop, mode);
    const err = (await outcome) as NodeJS.ErrnoException & { address: string };
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('ECONNREFUSED');
    expect(err.errno).toBe(-require('os').constants.errno.ECONNREFUSED);
    expect(err.syscall).toBe('connect');
    expect(err.address).toBe(addr.toString());
    expect(err.message).toBe(`ECONNREFUSED: connection refused, connect ${addr}`);
    expect(loop.stats.pollsetSize).toBe(0);
    loop.close();
  });

  test('serve: a failing handler goes to onError and the listener goes on', async () => {
    const { loop, crashes } = newLoop(backend);
    const listener = TcpListener.listen('127.0.0.1:0');
    const addr = listener.localAddress();
    const server = loop.spawn(
      listener.serve(function* (conn) {
        const line = yield* conn.readLine();
        if (line?.toString() === 'boom') throw new Error('handler failed');
        yield* conn.write(Buffer.from(`ok ${line}\n`));
      }),
    );
    const replies = loop.spawn(function* () {
      const out: (string | undefined)[] = [];
      try {
        for (const word of ['one', 'boom', 'two']) {
          const conn = yield* TcpStream.connect(addr);
          yield* conn.write(Buffer.from(`${word}\n`));
          out.push((yield* conn.readLine())?.toString()); // the failed handler's connection is closed: null
          yield* conn.close();
        }
      } finally {
        server.halt();
      }
      return out;
    });
    await drive(loop, mode);
    expect(await replies).toEqual(['ok one', undefined, 'ok two']);
    expect(crashes).toHaveLength(1);
    expect((crashes[0] as Error).message).toBe('handler failed');
    await expect(server.toPromise()).rejects.toBeInstanceOf(HaltedError);
    expect(listener.closed).toBe(true);
    expect(loop.stats).toEqual({ tasks: 0, queued: 0, timers: 0, pollsetSize: 0, fdWaiters: 0 });
    loop.close();
  });

  test('halting serve closes the listener, halts its connection tasks and waits for their cleanup', async () => {
    const { loop, crashes } = newLoop(backend);
    const listener = TcpListener.listen('127.0.0.1:0');
    const addr = listener.localAddress();
    const events: string[] = [];
    function* handler(conn: TcpStream): Operation<void> {
      try {
        yield* conn.read(); // blocks: the client sends nothing
      } finally {
        events.push('handler cleanup started');
        yield* sleep(20); // cleanup that itself waits
        events.push('handler cleanup done');
      }
    }
    const server = loop.spawn(listener.serve(handler));
    const result = loop.spawn(function* () {
      const conns = [yield* TcpStream.connect(addr), yield* TcpStream.connect(addr)];
      while (loop.stats.fdWaiters < 3) yield* sleep(1); // the listener and both handlers wait in read
      server.halt();
      try {
        yield* server.join();
      } catch (e) {
        events.push(`serve ended: ${(e as HaltedError).code}`);
      }
      const eofs = [];
      for (const c of conns) {
        eofs.push(yield* c.read());
        yield* c.close();
      }
      let refused: unknown;
      try {
        yield* TcpStream.connect(addr);
      } catch (e) {
        refused = e;
      }
      return { eofs, refused };
    });
    await drive(loop, mode);
    const r = await result;
    expect(events).toEqual([
      'handler cleanup started',
      'handler cleanup started',
      'handler cleanup done',
      'handler cleanup done',
      'serve ended: ECANCELED',
    ]);
    expect(r.eofs).toEqual([null, null]); // the handlers' connections were closed
    expect(r.refused).toMatchObject({ code: 'ECONNREFUSED' }); // and the listener too
    expect(crashes).toEqual([]);
    expect(loop.stats).toEqual({ tasks: 0, queued: 0, timers: 0, pollsetSize: 0, fdWaiters: 0 });
    loop.close();
  });
});
