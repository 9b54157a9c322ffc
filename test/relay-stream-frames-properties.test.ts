/**
 * RFC 6587 framing as a TCP sender's stream arrives: whatever the split points, the reader gives the
 * same messages; messages longer than the limit are cut to it and the stream stays in step; a broken
 * octet-counted stream is a FramingError at the exact offending byte, after every message before it.
 */
import * as fc from 'fast-check';
import { FrameReader, FramingError, MAX_LENGTH_DIGITS } from '../lib/relay/stream-frames';

const SEED = 0x6587;
const RUNS = 300;

function check(property: fc.IProperty<unknown>): void {
  const out = fc.check(property, { seed: SEED, numRuns: RUNS });
  if (out.failed)
    throw new Error(`property failed (seed ${SEED}, path ${out.counterexamplePath}): ${fc.defaultReportMessage(out)}`);
}

type Got = { messages: Buffer[]; cut: boolean[]; empty: number; error?: FramingError };

/** Feeds `stream` cut at `splits` (offsets, any order, duplicates allowed), then ends it. */
function read(stream: Buffer, splits: number[], max: number): Got {
  const got: Got = { messages: [], cut: [], empty: 0 };
  const sink = {
    message: (b: Buffer, cut: boolean) => {
      got.messages.push(Buffer.from(b)); // the reader's view is valid only during the call
      got.cut.push(cut);
    },
    empty: () => got.empty++,
  };
  const reader = new FrameReader(max);
  const points = [...new Set(splits.map((s) => s % (stream.length + 1)))].sort((a, b) => a - b);
  let at = 0;
  try {
    for (const p of [...points, stream.length]) {
      reader.push(stream.subarray(at, p), sink);
      at = p;
    }
    reader.end(sink);
  } catch (e) {
    if (!(e instanceof FramingError)) throw e;
    got.error = e;
  }
  return got;
}

const octet = (m: Buffer) => Buffer.concat([Buffer.from(`${m.length} `), m]);
/** A syslog-looking message: starts with `<`, so an LF-framed stream is detected as such. */
const lfMessage = fc
  .uint8Array({ minLength: 0, maxLength: 300 })
  .map((b) => Buffer.concat([Buffer.from('<13>'), Buffer.from(b.filter((x) => x !== 10))]));
const anyMessage = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b));
const splits = fc.array(fc.nat(), { maxLength: 40 });
const max = fc.integer({ min: 1, max: 400 });

test('octet-counted: any bytes, any split points — every message whole or cut to the limit, in order', () => {
  check(
    fc.property(fc.array(anyMessage, { minLength: 1, maxLength: 30 }), splits, max, (messages, cuts, limit) => {
      const got = read(Buffer.concat(messages.map(octet)), cuts, limit);
      expect(got.error).toBeUndefined();
      expect(got.messages).toEqual(messages.map((m) => m.subarray(0, limit)));
      expect(got.cut).toEqual(messages.map((m) => m.length > limit));
    }),
  );
});

test('LF-terminated: any split points — every line whole or cut to the limit, empty lines counted, a last line without LF kept', () => {
  check(
    fc.property(
      fc.array(fc.oneof(lfMessage, fc.constant(Buffer.alloc(0))), { minLength: 1, maxLength: 30 }),
      splits,
      max,
      fc.boolean(),
      (lines, cuts, limit, lastLf) => {
        fc.pre(lines[0].length > 0); // an empty first line is a '\n', not a '<': still LF framing, checked below
        const stream = Buffer.concat(
          lines.map((l, i) => (i < lines.length - 1 || lastLf ? Buffer.concat([l, Buffer.from('\n')]) : l)),
        );
        const got = read(stream, cuts, limit);
        const kept = lines.filter((l) => l.length > 0);
        expect(got.error).toBeUndefined();
        expect(got.messages).toEqual(kept.map((m) => m.subarray(0, limit)));
        expect(got.empty).toBe(lines.filter((l, i) => l.length === 0 && (i < lines.length - 1 || lastLf)).length);
      },
    ),
  );
});

test('a broken octet-counted stream: FramingError at the offending byte, after every message before it, whatever the splits', () => {
  const garbage = fc.oneof(
    // a frame that starts with no length: LF framing mixed in, a stray LF, a leading zero, a space
    fc.constantFrom('<13>lf line\n', '\n', '0 x', ' 5 hello', 'abc'),
    // a length of more than 9 digits
    fc.integer({ min: MAX_LENGTH_DIGITS + 1, max: 20 }).map((n) => `${'9'.repeat(n)} x`),
    // a length followed by something other than a digit or a space
    fc.constantFrom('12x', '3\n', '45:'),
  );
  check(
    fc.property(
      fc.array(anyMessage, { maxLength: 10 }),
      garbage,
      fc.array(anyMessage, { maxLength: 5 }),
      splits,
      (before, bad, after, cuts) => {
        fc.pre(before.length > 0 || /^[1-9]/.test(bad)); // the first byte decides the framing: start octet-counted
        const head = Buffer.concat(before.map(octet));
        const stream = Buffer.concat([head, Buffer.from(bad, 'latin1'), ...after.map(octet)]);
        const got = read(stream, cuts, 1000);
        expect(got.messages).toEqual(before);
        expect(got.error).toBeInstanceOf(FramingError);
        const digits = /^[1-9][0-9]*/.exec(bad)?.[0].length ?? 0;
        // The offending byte: the first one of the frame, the 10th digit, or the byte after the digits.
        const offending = digits === 0 ? 0 : digits > MAX_LENGTH_DIGITS ? MAX_LENGTH_DIGITS : digits;
        expect(got.error!.offset).toBe(head.length + offending);
      },
    ),
  );
});

test('end of stream inside a frame: the partial octet-counted message is not delivered and is reported', () => {
  check(
    fc.property(fc.array(anyMessage, { maxLength: 10 }), anyMessage, fc.nat(), (whole, torn, cutAt) => {
      const frame = octet(torn);
      const keep = 1 + (cutAt % (frame.length - 1)); // at least one byte of the frame, never all of it
      const reader = new FrameReader(1000);
      const got: Buffer[] = [];
      const sink = { message: (b: Buffer) => got.push(Buffer.from(b)), empty: () => undefined };
      reader.push(Buffer.concat([...whole.map(octet), frame.subarray(0, keep)]), sink);
      reader.end(sink);
      expect(got).toEqual(whole);
      expect(reader.partial).toBe(true);
    }),
  );
});
