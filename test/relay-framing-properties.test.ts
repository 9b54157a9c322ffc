/**
 * Properties of the framings, over generated messages: whatever bytes a datagram holds, a subscriber
 * that undoes the framing (`Deframer`, what logtail uses) gets back exactly the messages, in order,
 * however the stream is cut into reads. And the terminal view of a message (`visible`) never holds a
 * byte that acts on a terminal. Fixed seeds and run counts; fast-check prints the seed and the
 * shrunk counterexample on failure.
 */
import fc from 'fast-check';
import { visible } from '../lib/cli/visible';
import { Deframer, frame, Framing, unescapeLf } from '../lib/relay/framing';

const SEED = 0x5eed10;
const RUNS = 300;

/** Bytes biased towards the ones the framings treat specially (LF, CR, backslash, space, digits, `n`, `r`). */
const byte = fc.oneof(
  fc.constantFrom(0x0a, 0x0d, 0x5c, 0x20, 0x30, 0x31, 0x39, 0x6e, 0x72),
  fc.integer({ min: 0, max: 255 }),
);
const message = fc.array(byte, { minLength: 1, maxLength: 200 }).map((a) => Buffer.from(a));
const messages = fc.array(message, { minLength: 1, maxLength: 30 });
/** Where a stream is cut into reads: fractions of its length (duplicates make empty reads). */
const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 });

function deframeInPieces(framing: Framing, stream: Buffer, fractions: number[]): Buffer[] {
  const points = fractions.map((f) => Math.floor(f * stream.length)).sort((a, b) => a - b);
  const d = new Deframer(framing);
  const got: Buffer[] = [];
  let from = 0;
  for (const at of [...points, stream.length]) {
    got.push(...d.push(stream.subarray(from, at)));
    from = at;
  }
  expect(d.pendingBytes).toBe(0);
  return got;
}

const options = { seed: SEED, numRuns: RUNS, verbose: 1 } as const;

test.each(['lf', 'octet'] as const)(
  '%s: deframe(frame(messages)) === messages, however the stream is cut',
  (framing) => {
    fc.assert(
      fc.property(messages, cuts, (ms, fractions) => {
        const stream = Buffer.concat(ms.map((m) => frame(m, framing)));
        expect(deframeInPieces(framing, stream, fractions)).toEqual(ms);
      }),
      options,
    );
  },
);

test('lf: a framed message holds exactly one LF, its last byte, and unescapeLf undoes the rest', () => {
  fc.assert(
    fc.property(message, (m) => {
      const framed = frame(m, 'lf');
      expect(framed.indexOf(0x0a)).toBe(framed.length - 1);
      expect(unescapeLf(framed.subarray(0, -1))).toEqual(m);
    }),
    options,
  );
});

test('octet: the header is the decimal length, and the message follows untouched', () => {
  fc.assert(
    fc.property(message, (m) => {
      const framed = frame(m, 'octet');
      const sp = framed.indexOf(0x20);
      expect(framed.subarray(0, sp).toString('latin1')).toBe(String(m.length));
      expect(framed.subarray(sp + 1)).toEqual(m);
    }),
    options,
  );
});

test('visible: no C0 control but TAB, no DEL, no C1, no invalid UTF-8; escapes only ever add bytes', () => {
  const anyBytes = fc
    .array(fc.oneof(byte, fc.constantFrom(0x1b, 0x07, 0x7f, 0x9b, 0xc2, 0xe2, 0x80, 0xad, 0xf4, 0xff)), {
      maxLength: 200,
    })
    .map((a) => Buffer.from(a));
  fc.assert(
    fc.property(anyBytes, (m) => {
      const shown = visible(m);
      const text = new TextDecoder('utf-8', { fatal: true }).decode(shown); // throws on invalid UTF-8
      expect(text).not.toMatch(/[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
      expect(shown.length).toBeGreaterThanOrEqual(m.length);
      // Text that needs no escape is shown as it is.
      if (!/[\x00-\x08\x0a-\x1f\x7f\\]/.test(m.toString('latin1')) && m.every((b) => b < 0x80))
        expect(shown).toEqual(m);
    }),
    options,
  );
});
