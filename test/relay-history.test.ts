/**
 * The in-memory log against a plain model (an array of framed messages): bounds, eviction counts,
 * runs of framed bytes, byte positions and sources, over random sequences of appends (fast-check,
 * fixed seed, bounded runs; the seed is printed on failure).
 */
import fc from 'fast-check';
import { frame } from '../lib/relay/framing';
import { CHUNK_BYTES, History } from '../lib/relay/history';

const SEED = 20261129;

interface Model {
  seq: number;
  framed: Buffer;
  source: string;
  time: number;
}

const messageArb = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 400 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 60000, maxLength: 65536 }) },
);

test.each(['lf', 'octet'] as const)(
  '%s: the history holds exactly the newest messages within its bounds, as contiguous framed runs',
  (framing) => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.array(fc.tuple(messageArb, fc.integer({ min: 0, max: 5 })), { minLength: 1, maxLength: 400 }),
        (maxMessages, maxBytes, appends) => {
          const h = new History(framing, { messages: maxMessages, bytes: maxBytes });
          let evicted = 0;
          h.onEvict = (n) => (evicted += n);
          let model: Model[] = [];
          appends.forEach(([message, who], i) => {
            const source = `10.0.0.${who}:514`;
            const seq = h.append(
              message,
              1000 + i,
              h.source(source, () => source),
            );
            expect(seq).toBe(i + 1);
            model.push({ seq, framed: frame(message, framing), source, time: 1000 + i });
            // The model's eviction: oldest first, until the bounds hold, always keeping the newest.
            while (
              model.length > maxMessages ||
              (model.length > 1 && model.reduce((n, m) => n + m.framed.length, 0) > maxBytes)
            )
              model = model.slice(1);
          });
          expect(evicted).toBe(appends.length - model.length);
          expect(h.oldest).toBe(model[0].seq);
          expect(h.next).toBe(appends.length + 1);
          expect(h.count).toBe(model.length);
          expect(h.bytes).toBe(model.reduce((n, m) => n + m.framed.length, 0));
          expect(h.sourceCount).toBe(new Set(model.map((m) => m.source)).size);
          // Runs from every retained seq: whole messages, contiguous, within one chunk, in order.
          for (const start of [h.oldest, Math.floor((h.oldest + h.next) / 2), h.next - 1]) {
            let seq = start;
            while (seq < h.next) {
              const run = h.run(seq, 16384);
              const expected = Buffer.concat(
                model.filter((m) => m.seq >= seq && m.seq < seq + run.count).map((m) => m.framed),
              );
              expect(run.bytes.equals(expected)).toBe(true);
              expect(run.count === 1 || run.bytes.length <= 16384).toBe(true);
              expect(run.bytes.length).toBeLessThanOrEqual(Math.max(CHUNK_BYTES, expected.length));
              seq += run.count;
            }
          }
          for (const m of model) {
            expect(h.sourceOf(m.seq)).toBe(m.source);
            expect(h.timeOf(m.seq)).toBe(m.time);
            expect(h.bytesBetween(m.seq, h.next)).toBe(
              model.filter((x) => x.seq >= m.seq).reduce((n, x) => n + x.framed.length, 0),
            );
          }
        },
      ),
      { seed: SEED, numRuns: 60, endOnFailure: true },
    );
  },
);

test.each(['lf', 'octet'] as const)(
  '%s: a hole of lost seqs — never in a run, stepped over by eviction, no bytes, no count — with messages kept on both sides',
  (framing) => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 300_000 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 1, max: 2 ** 24 }),
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 0, maxLength: 300 }),
        (maxMessages, maxBytes, firstSeq, before, holeSize, messages) => {
          const h = new History(framing, { messages: maxMessages, bytes: maxBytes }, { nextSeq: firstSeq });
          let evicted = 0;
          h.onEvict = (n) => (evicted += n);
          let model: Model[] = [];
          const from = firstSeq + Math.min(before, messages.length);
          const to = from + holeSize - 1;
          messages.forEach((message, i) => {
            if (i === before) h.lose(h.next, to);
            const seq = h.append(
              message,
              i,
              h.source('', () => ''),
            );
            model.push({ seq, framed: frame(message, framing), source: '', time: i });
            while (
              model.length > maxMessages ||
              (model.length > 1 && model.reduce((n, m) => n + m.framed.length, 0) > maxBytes)
            )
              model = model.slice(1);
          });
          if (messages.length <= before) h.lose(h.next, to);
          expect(h.hole).toEqual({ from, to });
          expect(model.every((m) => m.seq < from || m.seq > to)).toBe(true);
          expect(evicted).toBe(messages.length - model.length);
          expect(h.next).toBe(firstSeq + messages.length + holeSize);
          expect(h.oldest).toBe(model[0]?.seq ?? h.next);
          expect(h.count).toBe(model.length);
          expect(h.bytes).toBe(model.reduce((n, m) => n + m.framed.length, 0));
          expect(h.countBetween(Math.min(h.oldest, from), h.next)).toBe(h.next - Math.min(h.oldest, from) - holeSize);
          // Runs from every retained seq: exactly the model's messages, and never across the hole.
          for (const m of model) {
            const run = h.run(m.seq, 16384);
            const inRun = model.filter((x) => x.seq >= m.seq && x.seq < m.seq + run.count);
            expect(inRun.length).toBe(run.count);
            expect(run.bytes.equals(Buffer.concat(inRun.map((x) => x.framed)))).toBe(true);
            expect(h.bytesBetween(m.seq, h.next)).toBe(
              model.filter((x) => x.seq >= m.seq).reduce((n, x) => n + x.framed.length, 0),
            );
            expect(h.timeOf(m.seq)).toBe(m.time);
          }
          // The hole holds no bytes (while the message after it is still retained, or is the head).
          if (h.oldest <= to + 1) expect(h.bytesBetween(from, h.next)).toBe(h.bytesBetween(to + 1, h.next));
          for (const seq of [from, to, Math.floor((from + to) / 2)]) expect(() => h.timeOf(seq)).toThrow(RangeError);
        },
      ),
      { seed: SEED, numRuns: 100, endOnFailure: true },
    );
  },
);

test('a hole starts at the head, once', () => {
  const h = new History('lf', { messages: 10, bytes: 1000 });
  h.append(
    Buffer.from('a'),
    0,
    h.source('', () => ''),
  );
  expect(() => h.lose(3, 5)).toThrow(/must start at the head \(seq 2\)/);
  expect(() => h.lose(2, 1)).toThrow(RangeError);
  h.lose(2, 5);
  expect([h.oldest, h.next, h.count]).toEqual([1, 6, 1]);
  expect(() => h.lose(6, 7)).toThrow(/already has a hole \(2…5\)/);
  expect(() => h.run(3, 100)).toThrow(/seq 3 is not in the log \(1…5, lost 2…5\)/);
});

test('firstWithin and endWithin find the bounds a lag limit needs', () => {
  const h = new History('lf', { messages: 100, bytes: 1e6 });
  const sizes = [10, 20, 30, 40, 50];
  for (const n of sizes)
    h.append(
      Buffer.alloc(n - 1, 0x61),
      0,
      h.source('', () => ''),
    );
  // Framed sizes 10, 20, 30, 40, 50 at seqs 1…5.
  expect(h.firstWithin(1, 6, 90)).toBe(4); // 40 + 50
  expect(h.firstWithin(1, 6, 89)).toBe(5);
  expect(h.firstWithin(1, 6, 0)).toBe(6);
  expect(h.endWithin(1, 6, 60)).toBe(4); // 10 + 20 + 30
  expect(h.endWithin(1, 6, 59)).toBe(3);
  expect(h.endWithin(2, 6, 1000)).toBe(6);
});

test('a seq outside the history is a RangeError naming it, and sequence numbers stop at 2^53 - 1', () => {
  const h = new History('octet', { messages: 2, bytes: 1000 });
  for (let i = 0; i < 3; i++)
    h.append(
      Buffer.from('x'),
      0,
      h.source('', () => ''),
    );
  expect(() => h.run(1, 100)).toThrow(/seq 1 is not in the log \(2…3\)/);
  expect(() => h.timeOf(4)).toThrow(RangeError);
  const end = new History('lf', { messages: 2, bytes: 1000 }, { nextSeq: Number.MAX_SAFE_INTEGER });
  expect(() =>
    end.append(
      Buffer.from('x'),
      0,
      end.source('', () => ''),
    ),
  ).toThrow(/has reached seq/);
  expect(() => new History('lf', { messages: 0, bytes: 1 })).toThrow(RangeError);
});

test('a chunk being written from is never refilled, even once evicted; an unheld evicted chunk is reused', () => {
  const h = new History('lf', { messages: 1_000_000, bytes: CHUNK_BYTES });
  const src = h.source('', () => '');
  const line = (c: number) => Buffer.alloc(1023, c); // 1 KiB framed
  for (let i = 0; i < 100; i++) h.append(line(0x61), 0, h.holdSource(src));
  const held = h.run(1, 16384);
  const copy = Buffer.from(held.bytes);
  const pin = h.pin(1);
  // Three chunks' worth of new lines: seq 1's chunk is evicted twice over, and spares get refilled.
  for (let i = 0; i < 3 * 256; i++) h.append(line(0x62), 0, h.holdSource(src));
  expect(h.oldest).toBeGreaterThan(100);
  expect(held.bytes.equals(copy)).toBe(true);
  h.unpin(pin);
  // The first chunk was held when it was evicted: it was left to the garbage collector, not reused.
  // A later one that nobody held is refilled: no allocation, no garbage in a steady flood.
  const before = h.run(h.oldest, 1024).bytes;
  for (let i = 0; i < 2 * 256; i++) h.append(line(0x63), 0, h.holdSource(src));
  expect(before[0]).toBe(0x63);
});
