/** An echo server task per connection over 200 concurrent socketpair streams. */
import { FdStream, Operation, Task } from '../lib';
import { describeMatrix, drive, newLoop } from './helpers/loops';

const STREAMS = 200;
const LINES = 20;

function* echo(conn: FdStream): Operation<number> {
  let lines = 0;
  try {
    for (let line = yield* conn.readLine({ max: 1024 }); line; line = yield* conn.readLine({ max: 1024 })) {
      yield* conn.write(Buffer.concat([line, Buffer.from('\n')]));
      lines++;
    }
  } finally {
    yield* conn.close();
  }
  return lines;
}

describeMatrix((backend, mode) => {
  test(`${STREAMS} concurrent clients get their own lines back`, async () => {
    const { loop, crashes } = newLoop(backend);
    const servers: Task<number>[] = [];
    const clients: Task<boolean>[] = [];
    for (let c = 0; c < STREAMS; c++) {
      const [client, server] = FdStream.socketpair();
      servers.push(loop.spawn(echo(server)));
      clients.push(
        loop.spawn(function* () {
          const sent = Array.from({ length: LINES }, (_, i) => `client ${c} line ${i} ${'x'.repeat(c % 97)}`);
          let ok = true;
          try {
            // half the clients write everything first, half talk line by line
            if (c % 2 === 0) yield* client.write(Buffer.from(sent.map((l) => l + '\n').join('')));
            for (const l of sent) {
              if (c % 2 === 1) yield* client.write(Buffer.from(l + '\n'));
              ok = ok && (yield* client.readLine())?.toString() === l;
            }
          } finally {
            yield* client.close();
          }
          return ok;
        }),
      );
    }
    await drive(loop, mode);
    for (const c of clients) expect(await c).toBe(true);
    for (const s of servers) expect(await s).toBe(LINES);
    expect(crashes).toEqual([]);
    expect(loop.stats).toEqual({ tasks: 0, queued: 0, timers: 0, pollsetSize: 0, fdWaiters: 0 });
    loop.close();
  });
});
