/** Framing and the per-subscriber queue: the rules the relay applies to every message. */
import { randomBytes } from 'crypto';
import { Deframer, frame, unescapeLf } from '../lib/relay/framing';
import { MessageQueue } from '../lib/relay/queue';

describe('lf framing', () => {
  test('a plain message gets one LF and is otherwise unchanged', () => {
    expect(frame(Buffer.from('<13>hello'), 'lf').toString()).toBe('<13>hello\n');
  });

  test('embedded LF, CR and backslash are escaped, and unescapeLf restores them exactly', () => {
    const message = Buffer.from('a\nb\rc\\d\\n');
    const framed = frame(message, 'lf');
    expect(framed.toString()).toBe('a\\nb\\rc\\\\d\\\\n\n');
    expect(framed.subarray(0, -1).includes(0x0a)).toBe(false);
    expect(unescapeLf(framed.subarray(0, -1))).toEqual(message);
  });

  test('random binary messages round-trip through a deframer fed in odd pieces', () => {
    const messages = Array.from({ length: 200 }, (_, i) => randomBytes(1 + ((i * 37) % 700)));
    const stream = Buffer.concat(messages.map((m) => frame(m, 'lf')));
    const d = new Deframer('lf');
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 13) got.push(...d.push(stream.subarray(i, i + 13)));
    expect(got).toEqual(messages);
    expect(d.pendingBytes).toBe(0);
  });
});

describe('octet framing (RFC 5425)', () => {
  test('LEN SP MSG with the bytes untouched', () => {
    const message = Buffer.from('<13>a\nb');
    expect(frame(message, 'octet')).toEqual(Buffer.concat([Buffer.from('7 '), message]));
  });

  test('random binary messages round-trip, including 64 KiB ones', () => {
    const messages = [randomBytes(65536), randomBytes(1), randomBytes(300), Buffer.from('\n\n \r')];
    const stream = Buffer.concat(messages.map((m) => frame(m, 'octet')));
    const d = new Deframer('octet');
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 1000) got.push(...d.push(stream.subarray(i, i + 1000)));
    expect(got).toEqual(messages);
  });

  test('an empty message cannot be framed; a malformed length is an error', () => {
    expect(() => frame(Buffer.alloc(0), 'octet')).toThrow(RangeError);
    expect(() => new Deframer('octet').push(Buffer.from('0 '))).toThrow(/bad length/);
    expect(() => new Deframer('octet').push(Buffer.from('x1 a'))).toThrow(/bad length/);
  });
});

describe('MessageQueue', () => {
  const msg = (n: number, size = 10) => Object.assign(Buffer.alloc(size, n), { n });

  test('drop-oldest keeps the newest messages and counts every drop', () => {
    const q = new MessageQueue<Buffer>({ messages: 3, bytes: 1000, policy: 'drop-oldest' });
    const results = [1, 2, 3, 4, 5].map((n) => q.push(msg(n)));
    expect(results).toEqual(['queued', 'queued', 'queued', 'dropped-oldest', 'dropped-oldest']);
    expect([q.shift()![0], q.shift()![0], q.shift()![0]]).toEqual([3, 4, 5]);
    expect(q.droppedOldest).toBe(2);
    expect(q.highWater).toBe(3);
  });

  test('drop-newest keeps the oldest messages', () => {
    const q = new MessageQueue<Buffer>({ messages: 2, bytes: 1000, policy: 'drop-newest' });
    [1, 2, 3].forEach((n) => q.push(msg(n)));
    expect(q.droppedNewest).toBe(1);
    expect([q.shift()![0], q.shift()![0], q.shift()]).toEqual([1, 2, undefined]);
  });

  test('the byte limit applies too, and disconnect reports instead of dropping', () => {
    const q = new MessageQueue<Buffer>({ messages: 100, bytes: 25, policy: 'drop-oldest' });
    q.push(msg(1));
    q.push(msg(2));
    expect(q.push(msg(3))).toBe('dropped-oldest');
    expect(q.bytes).toBe(20);
    expect(q.push(msg(4, 26))).toBe('dropped-newest'); // can never fit
    const d = new MessageQueue<Buffer>({ messages: 1, bytes: 100, policy: 'disconnect' });
    expect(d.push(msg(1))).toBe('queued');
    expect(d.push(msg(2))).toBe('disconnect');
  });

  test('a long-running queue stays compact and ordered', () => {
    const q = new MessageQueue<Buffer>({ messages: 10000, bytes: 1e9, policy: 'drop-newest' });
    let next = 0;
    for (let i = 0; i < 20000; i++) {
      q.push(Buffer.from([i & 0xff]));
      if (i % 3 !== 0) expect(q.shift()![0]).toBe(next++ & 0xff);
    }
    expect(q.length).toBe(20000 - next);
  });
});
