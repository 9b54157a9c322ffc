/** Framing: the rules the relay applies to every message. */
import { randomBytes } from 'crypto';
import { Deframer, frame, unescapeLf } from '../lib/relay/framing';

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
