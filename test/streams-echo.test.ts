/** An echo server on TcpListener.serve with 1,000 concurrent TcpStream clients in the same loop. */
import { Operation, Task, TcpListener, TcpStream } from '../lib';
import { describeMatrix, drive, newLoop } from './helpers/loops';

const CLIENTS = 1000;
const LINES = 5;

describeMatrix((backend, mode) => {
  test(`an echo server on TcpListener serves ${CLIENTS} concurrent clients`, async () => {
    const { loop, crashes } = newLoop(backend);
    // The backlog holds every client at once, so no SYN is dropped and retried a second later.
    const listener = TcpListener.listen('127.0.0.1:0', { backlog: 2 * CLIENTS });
    const addr = listener.localAddress();
    let echoed = 0;
    let peak = 0;
    function* echo(conn: TcpStream): Operation<void> {
      for (let line = yield* conn.readLine({ max: 1024 }); line; line = yield* conn.readLine({ max: 1024 })) {
        yield* conn.write(Buffer.concat([line, Buffer.from('\n')]));
        echoed++;
      }
    }
    const server = loop.spawn(listener.serve(echo));
    const clients: Task<boolean>[] = [];
    for (let c = 0; c < CLIENTS; c++) {
      clients.push(
        loop.spawn(function* () {
          const conn = yield* TcpStream.connect(addr);
          try {
            const sent = Array.from({ length: LINES }, (_, i) => `client ${c} line ${i} ${'x'.repeat(c % 61)}`);
            let ok = true;
            // half the clients write everything first, half talk line by line
            if (c % 2 === 0) yield* conn.write(Buffer.from(sent.map((l) => l + '\n').join('')));
            for (const l of sent) {
              if (c % 2 === 1) yield* conn.write(Buffer.from(l + '\n'));
              peak = Math.max(peak, loop.stats.fdWaiters);
              ok = ok && (yield* conn.readLine())?.toString() === l;
            }
            return ok;
          } finally {
            yield* conn.close();
          }
        }),
      );
    }
    loop.spawn(function* () {
      try {
        for (const c of clients) yield* c.join();
      } finally {
        server.halt();
      }
    });
    await drive(loop, mode);
    for (const c of clients) expect(await c).toBe(true);
    expect(echoed).toBe(CLIENTS * LINES);
    expect(peak).toBeGreaterThan(CLIENTS); // they really were concurrent: clients and handlers waiting at once
    expect(listener.closed).toBe(true);
    expect(crashes).toEqual([]);
    expect(loop.stats).toEqual({ tasks: 0, queued: 0, timers: 0, pollsetSize: 0, fdWaiters: 0 });
    loop.close();
  });
});
