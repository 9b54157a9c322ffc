/** ByteStream over socketpairs and pipes: reading, lines, exact reads, whole writes, close. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ByteIo, ByteStream, fdIo, FdStream, Operation, sleep, socketpair } from '../lib';
import { describeMatrix, drive, newLoop } from './helpers/loops';

function* closeAll(...streams: ByteStream[]): Operation<void> {
  for (const s of streams) yield* s.close();
}

describeMatrix((backend, mode) => {
  async function run<T>(op: () => Operation<T>): Promise<T> {
    const { loop, crashes } = newLoop(backend);
    const task = loop.spawn(op);
    await drive(loop, mode);
    expect(crashes).toEqual([]);
    expect(loop.stats).toMatchObject({ pollsetSize: 0, timers: 0 });
    loop.close();
    return task;
  }

  test('read drains buffered bytes before reporting the hang-up (null)', async () => {
    const [a, b] = FdStream.socketpair();
    const got = await run(function* () {
      yield* b.write(Buffer.from('hello, '));
      yield* b.write(Buffer.from('world'));
      yield* b.close();
      yield* sleep(5);
      const parts: string[] = [];
      for (let chunk = yield* a.read(4); chunk; chunk = yield* a.read(4)) parts.push(chunk.toString());
      yield* a.close();
      return parts;
    });
    expect(got.join('')).toBe('hello, world');
    expect(got[0]).toBe('hell');
  });

  test('readLine: LF-terminated, CR kept, last line without LF, too long throws EMSGSIZE', async () => {
    const [a, b] = FdStream.socketpair();
    const got = await run(function* () {
      const reader = a;
      const lines: (string | null)[] = [];
      const writer = (function* () {
        yield* b.write(Buffer.from('one\r\ntw'));
        yield* sleep(2);
        yield* b.write(Buffer.from('o\n\nthree'));
        yield* b.close();
      })();
      // write in the same task first (fits in the socket buffer), then read
      yield* writer;
      for (let i = 0; i < 5; i++) lines.push((yield* reader.readLine({ max: 16 }))?.toString() ?? null);
      yield* reader.close();
      const [c, d] = FdStream.socketpair();
      yield* d.write(Buffer.alloc(100, 'x'));
      let code = '';
      try {
        yield* c.readLine({ max: 10 });
      } catch (e) {
        code = (e as { code: string }).code;
      }
      yield* closeAll(c, d);
      return { lines, code };
    });
    expect(got.lines).toEqual(['one\r', 'two', '', 'three', null]);
    expect(got.code).toBe('EMSGSIZE');
  });

  test('readExactly gathers across writes and throws ERR_STREAM_PREMATURE_CLOSE at early EOF', async () => {
    const [a, b] = FdStream.socketpair();
    const { loop } = newLoop(backend);
    const reader = loop.spawn(function* () {
      const first = yield* a.readExactly(6);
      try {
        yield* a.readExactly(10);
        return [first.toString(), 'no error'];
      } catch (e) {
        return [first.toString(), (e as { code: string }).code];
      } finally {
        yield* a.close();
      }
    });
    loop.spawn(function* () {
      for (const piece of ['ab', 'cd', 'ef', 'ghi']) {
        yield* b.write(Buffer.from(piece));
        yield* sleep(2);
      }
      yield* b.close();
    });
    await drive(loop, mode);
    expect(await reader).toEqual(['abcdef', 'ERR_STREAM_PREMATURE_CLOSE']);
    loop.close();
  });

  test('write sends a 4 MiB buffer whole through a pipe to a concurrent reader', async () => {
    const [r, w] = FdStream.pipe();
    const data = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 13)) & 0xff;
    const { loop, crashes } = newLoop(backend);
    loop.spawn(function* () {
      yield* w.write(data);
      yield* w.close();
    });
    const reader = loop.spawn(function* () {
      const parts: Buffer[] = [];
      for (let chunk = yield* r.read(); chunk; chunk = yield* r.read()) parts.push(chunk);
      yield* r.close();
      return Buffer.concat(parts);
    });
    await drive(loop, mode);
    expect((await reader).equals(data)).toBe(true);
    expect(crashes).toEqual([]);
    loop.close();
  });

  test('closing a stream wakes another task waiting on it with EBADF', async () => {
    const [a, b] = FdStream.socketpair();
    const { loop } = newLoop(backend);
    const waiter = loop.spawn(function* () {
      try {
        yield* a.read();
        return 'read';
      } catch (e) {
        return (e as { code: string }).code;
      }
    });
    loop.spawn(function* () {
      yield* sleep(2);
      yield* closeAll(a, b);
    });
    await drive(loop, mode);
    expect(await waiter).toBe('EBADF');
    expect(loop.stats.pollsetSize).toBe(0);
    loop.close();
  });

  test('after a short read on a socket the next read waits for readiness instead of reading', async () => {
    const [fa, fb] = socketpair('stream');
    const io = fdIo(fa);
    let reads = 0;
    // The real fd transport, counting the read calls the stream makes.
    const counted: ByteIo = { ...io, readSome: (buf) => (reads++, io.readSome(buf)) };
    const a = new ByteStream(counted);
    const b = new FdStream(fb);
    const got = await run(function* () {
      yield* b.write(Buffer.from('one'));
      const first = (yield* a.read())?.toString(); // 3 of 65536 bytes: short
      const readsAfterFirst = reads;
      const later = (function* () {
        yield* sleep(5);
        yield* b.write(Buffer.from('two'));
      })();
      yield* later;
      const second = (yield* a.read())?.toString();
      yield* closeAll(a, b);
      return { first, second, readsAfterFirst, reads };
    });
    // Without the hint the second read would be two calls: WOULD_BLOCK, then the bytes.
    expect(got).toEqual({ first: 'one', second: 'two', readsAfterFirst: 1, reads: 2 });
  });

  test('a stream over a regular file reads it to the end (short reads do not wait on a file)', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pollset-')), 'data');
    fs.writeFileSync(file, 'abc');
    const fd = fs.openSync(file, 'r');
    try {
      const s = new ByteStream(fdIo(fd));
      expect(fdIo(fd).shortReadDrains).toBe(false);
      const got = await run(function* () {
        const parts: string[] = [];
        for (let chunk = yield* s.read(); chunk; chunk = yield* s.read()) parts.push(chunk.toString());
        return parts;
      });
      expect(got).toEqual(['abc']);
    } finally {
      fs.closeSync(fd);
      fs.rmSync(path.dirname(file), { recursive: true });
    }
  });
});
