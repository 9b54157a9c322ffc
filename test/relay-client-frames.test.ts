/**
 * The subscriber's parser of the logrelay/1 stream: exact round trip of any valid stream cut into
 * any chunks, a clear ERR_LOGRELAY_PROTOCOL error (never a crash) for any bytes, and the request line.
 * Property runs use a fixed seed; fast-check prints the seed and the shrunk case when one fails.
 */
import fc from 'fast-check';
import { frame, Framing } from '../lib/relay/framing';
import { Frame, FrameParser, Hello, MAX_LINE, Meta, requestLine } from '../lib/relay/client';

const SEED = 1101;

/** A TIME line's source, escaped as LF framing escapes a message. */
const escapeLine = (text: string) =>
  text.replace(/[\n\r\\]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\\\'));

/** What a relay sends for `f` (written from the protocol's text, independently of the parser). */
function encode(f: Frame, framing: Framing): Buffer {
  switch (f.type) {
    case 'hello':
      return Buffer.from(
        `HELLO 1 log=${f.log} framing=${f.framing} oldest=${f.oldest} next=${f.next}${f.filter ? ' filter=1' : ''}\n`,
      );
    case 'msg': {
      const payload = Buffer.concat(f.messages.map((m) => frame(m, framing)));
      const time = f.meta
        ? Buffer.from(
            `TIME ${f.firstSeq} ${f.count}\n${f.meta.map((m) => `${m.time} ${escapeLine(m.source)}\n`).join('')}`,
          )
        : Buffer.alloc(0);
      return Buffer.concat([time, Buffer.from(`MSG ${f.firstSeq} ${f.count} ${payload.length}\n`), payload]);
    }
    case 'gap':
      return Buffer.from(`GAP ${f.firstSeq} ${f.count} ${f.reason}\n`);
    case 'skip':
      return Buffer.from(`SKIP ${f.firstSeq} ${f.count}\n`);
    case 'reset':
      return Buffer.from(`RESET ${f.log}\n`);
    case 'bye':
      return Buffer.from(f.reason ? `BYE ${f.reason}\n` : 'BYE\n');
  }
}

const logId = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((n) => n.toString(16).padStart(16, '0'));
const seq = fc.integer({ min: 1, max: 2 ** 40 });
const word = fc.stringMatching(/^[a-z-]{1,12}$/);
const source = fc.oneof(
  fc.string({ maxLength: 60 }).filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s),
  fc.array(fc.constantFrom('a', ' ', '\\', '\n', '\r', 'n', 'é', '/'), { maxLength: 12 }).map((c) => c.join('')),
);
const message = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a));
const meta: fc.Arbitrary<Meta> = fc.record({ time: fc.integer({ min: 0, max: 2 ** 45 }), source });

const msgFrame = fc
  .tuple(seq, fc.array(message, { minLength: 1, maxLength: 8 }), fc.boolean())
  .chain(([firstSeq, messages, withMeta]) =>
    (withMeta
      ? fc.array(meta, { minLength: messages.length, maxLength: messages.length })
      : fc.constant(undefined)
    ).map((m): Frame =>
      m
        ? { type: 'msg', firstSeq, count: messages.length, messages, meta: m }
        : { type: 'msg', firstSeq, count: messages.length, messages },
    ),
  );
const otherFrame: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({
    type: fc.constant('gap' as const),
    firstSeq: seq,
    count: fc.integer({ min: 1, max: 1e9 }),
    reason: fc.oneof(fc.constant('evicted'), fc.constant('dropped'), word),
  }),
  fc.record({ type: fc.constant('skip' as const), firstSeq: seq, count: fc.integer({ min: 1, max: 1e9 }) }),
  fc.record({ type: fc.constant('reset' as const), log: logId }),
  fc.record({
    type: fc.constant('bye' as const),
    reason: fc.oneof(
      fc.constant(''),
      fc.array(word, { minLength: 1, maxLength: 4 }).map((w) => w.join(' ')),
    ),
  }),
);
const hello: fc.Arbitrary<Hello> = fc
  .tuple(logId, fc.constantFrom<Framing>('lf', 'octet'), seq, fc.nat(1e6), fc.boolean())
  .map(([log, framing, oldest, held, filter]) => ({
    type: 'hello',
    version: 1,
    log,
    framing,
    oldest,
    next: oldest + held,
    filter,
  }));
const stream = fc.tuple(hello, fc.array(fc.oneof(msgFrame, otherFrame), { maxLength: 12 }));

/** Cuts `bytes` at the given fractions (any chunking, empty chunks included). */
function chunk(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = cuts.map((c) => Math.floor(c * (bytes.length + 1))).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const a of at) {
    out.push(bytes.subarray(prev, a));
    prev = a;
  }
  out.push(bytes.subarray(prev));
  return out;
}

function parseAll(chunks: Buffer[]): Frame[] {
  const parser = new FrameParser();
  const frames = chunks.flatMap((c) => parser.push(c));
  // Nothing of the stream is left half-parsed: a frame pushed after it parses on its own.
  expect(parser.push(Buffer.from('SKIP 1 1\n'))).toEqual([{ type: 'skip', firstSeq: 1, count: 1 }]);
  return frames;
}

describe('logrelay/1 frame parser', () => {
  test('any valid stream, cut into any chunks, parses back to exactly its frames', () => {
    fc.assert(
      fc.property(
        stream,
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 }),
        ([h, frames], cuts) => {
          const bytes = Buffer.concat([encode(h, h.framing), ...frames.map((f) => encode(f, h.framing))]);
          expect(parseAll(chunk(bytes, cuts))).toEqual([h, ...frames]);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  test('a stream fed one byte at a time parses the same as in one piece', () => {
    fc.assert(
      fc.property(stream, ([h, frames]) => {
        const bytes = Buffer.concat([encode(h, h.framing), ...frames.map((f) => encode(f, h.framing))]);
        const bytewise = parseAll([...bytes].map((b) => Buffer.from([b])));
        expect(bytewise).toEqual(parseAll([bytes]));
      }),
      { seed: SEED, numRuns: 60 },
    );
  });

  test('arbitrary bytes, after a HELLO or not, give frames or an ERR_LOGRELAY_PROTOCOL error, never a crash', () => {
    const validHello = Buffer.from('HELLO 1 log=0123456789abcdef framing=lf oldest=1 next=1\n');
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), (withHello, chunks) => {
        const parser = new FrameParser();
        let failure: unknown;
        try {
          if (withHello) parser.push(validHello);
          for (const c of chunks) parser.push(c);
        } catch (err) {
          failure = err;
        }
        if (failure !== undefined) {
          expect((failure as { code?: string }).code).toBe('ERR_LOGRELAY_PROTOCOL');
          expect((failure as Error).message).toMatch(/^ERR_LOGRELAY_PROTOCOL: \S/);
          // Out of step for good: more input is refused with the same error.
          expect(() => parser.push(Buffer.from('BYE\n'))).toThrow(failure as Error);
        }
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  test('frame headers built from protocol words and random numbers give frames or a clear error', () => {
    const token = fc.oneof(
      fc.constantFrom('MSG', 'TIME', 'GAP', 'RESET', 'BYE', 'HELLO', '0', '1', '-1', '01', '9007199254740993', 'x', ''),
      fc.nat().map(String),
    );
    const line = fc.array(token, { minLength: 1, maxLength: 5 }).map((t) => `${t.join(' ')}\n`);
    fc.assert(
      fc.property(
        fc.constantFrom<Framing>('lf', 'octet'),
        fc.array(line, { maxLength: 6 }),
        fc.uint8Array({ maxLength: 40 }),
        (framing, lines, tail) => {
          const parser = new FrameParser();
          parser.push(Buffer.from(`HELLO 1 log=00000000000000ff framing=${framing} oldest=1 next=5\n`));
          try {
            parser.push(Buffer.concat([Buffer.from(lines.join('')), tail]));
          } catch (err) {
            expect((err as { code?: string }).code).toBe('ERR_LOGRELAY_PROTOCOL');
          }
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
  });

  const HELLO = 'HELLO 1 log=0123456789abcdef framing=lf oldest=3 next=10\n';
  test.each([
    ['a first line that is not HELLO', 'MSG 1 1 2\na\n', /expected HELLO: "MSG 1 1 2"/],
    [
      'another protocol version',
      'HELLO 2 log=0123456789abcdef framing=lf oldest=1 next=1\n',
      /unsupported protocol version/,
    ],
    ['a log id that is not 16 hex digits', 'HELLO 1 log=0123 framing=lf oldest=1 next=1\n', /bad log id in HELLO/],
    ['an unknown framing', 'HELLO 1 log=0123456789abcdef framing=crlf oldest=1 next=1\n', /bad framing in HELLO/],
    ['oldest after next', 'HELLO 1 log=0123456789abcdef framing=lf oldest=5 next=4\n', /oldest is after next/],
    ['an unknown frame', `${HELLO}PING\n`, /unknown frame: "PING"/],
    [
      'a MSG whose payload holds fewer messages than announced',
      `${HELLO}MSG 10 2 2\na\n`,
      /MSG 10 announces 2 messages in 2 bytes but holds 1/,
    ],
    ['a MSG whose payload ends inside a message', `${HELLO}MSG 10 1 3\nabc`, /holds 0 and 3 stray bytes/],
    ['a number with a leading zero', `${HELLO}GAP 01 2 evicted\n`, /bad number "01"/],
    ['a seq of zero', `${HELLO}GAP 0 2 evicted\n`, /bad number "0"/],
    ['a seq beyond 2^53 − 1', `${HELLO}GAP 9007199254740992 1 evicted\n`, /bad number/],
    ['a run that ends beyond 2^53 − 1', `${HELLO}GAP 9007199254740990 5 evicted\n`, /sequence beyond 2\^53/],
    [
      'a TIME frame followed by something else than its MSG',
      `${HELLO}TIME 10 1\n5 src\nGAP 10 1 evicted\n`,
      /must be followed by its MSG/,
    ],
    [
      'a MSG that does not match its TIME frame',
      `${HELLO}TIME 10 1\n5 src\nMSG 11 1 2\na\n`,
      /does not match the TIME frame/,
    ],
    ['a payload larger than the bound', `${HELLO}MSG 10 1 999999999\n`, /payload larger than/],
    ['a line longer than the bound', `${HELLO}BYE ${'x'.repeat(MAX_LINE)}`, /line longer than 4096 bytes/],
  ])('%s is a clear error', (_what, text, message) => {
    const parser = new FrameParser();
    let failure: unknown;
    try {
      parser.push(Buffer.from(text));
    } catch (err) {
      failure = err;
    }
    expect(failure).toBeInstanceOf(Error);
    expect((failure as { code?: string }).code).toBe('ERR_LOGRELAY_PROTOCOL');
    expect((failure as Error).message).toMatch(message);
  });

  test('an octet-framed MSG with a bad length is a protocol error naming the frame', () => {
    const parser = new FrameParser();
    parser.push(Buffer.from('HELLO 1 log=0123456789abcdef framing=octet oldest=1 next=2\n'));
    expect(() => parser.push(Buffer.from('MSG 1 1 4\n0 ab'))).toThrow(/MSG 1 payload: octet framing: bad length "0"/);
  });

  test('a 256 KiB run arriving in 1 KiB chunks is one MSG frame with every message intact', () => {
    const messages = Array.from({ length: 1024 }, (_, i) => Buffer.alloc(255, i & 0xff));
    const payload = Buffer.concat(messages.map((m) => frame(m, 'octet')));
    const bytes = Buffer.concat([
      Buffer.from(`HELLO 1 log=0123456789abcdef framing=octet oldest=1 next=1025\nMSG 1 1024 ${payload.length}\n`),
      payload,
    ]);
    const parser = new FrameParser();
    const frames: Frame[] = [];
    for (let i = 0; i < bytes.length; i += 1024) frames.push(...parser.push(bytes.subarray(i, i + 1024)));
    expect(frames).toHaveLength(2);
    const msg = frames[1] as Extract<Frame, { type: 'msg' }>;
    expect(msg.count).toBe(1024);
    expect(Buffer.concat(msg.messages).equals(Buffer.concat(messages))).toBe(true);
  });
});

describe('logrelay/1 request line', () => {
  test('each form, with and without meta', () => {
    expect(requestLine({ from: 'oldest' }).toString()).toBe('FROM oldest\n');
    expect(requestLine({ from: 'live' }, { meta: true }).toString()).toBe('FROM live meta=1\n');
    expect(requestLine({ from: 'after', seq: 42, log: '0123456789abcdef' }).toString()).toBe(
      'FROM 42 log=0123456789abcdef\n',
    );
    expect(requestLine({ from: 'after', seq: 0, log: '0123456789abcdef' }, { meta: true }).toString()).toBe(
      'FROM 0 log=0123456789abcdef meta=1\n',
    );
  });

  test('a seq or log id that cannot be sent is a RangeError', () => {
    expect(() => requestLine({ from: 'after', seq: -1, log: '0123456789abcdef' })).toThrow(RangeError);
    expect(() => requestLine({ from: 'after', seq: 2 ** 53, log: '0123456789abcdef' })).toThrow(RangeError);
    expect(() => requestLine({ from: 'after', seq: 1, log: 'ABCDEF0123456789' })).toThrow(/16 lowercase hex digits/);
  });
});
