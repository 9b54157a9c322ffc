/**
 * logtail's pieces that keep its output exactly-once: the state file (atomic replace, strict
 * reading), the output file's repair to the recorded length, and the reconnect backoff.
 * Real files in a temp dir; property runs with a fixed seed (fast-check prints it on failure).
 */
import fc from 'fast-check';
import * as fs from 'fs';
import * as path from 'path';
import { Backoff } from '../lib/cli/backoff';
import { Output } from '../lib/cli/tail-output';
import { readState, writeState } from '../lib/cli/tail-state';
import { Loop } from '../lib/loop';
import { cleanup, tempDir } from './relay-helpers';

const SEED = 1102;
afterEach(cleanup);

describe('state file', () => {
  test('what is written is read back; no file reads as undefined', () => {
    const file = path.join(tempDir(), 'state');
    expect(readState(file)).toBeUndefined();
    writeState(file, { log: '0123456789abcdef', seq: 42, outputBytes: 12345 });
    expect(readState(file)).toEqual({ log: '0123456789abcdef', seq: 42, outputBytes: 12345 });
    writeState(file, { log: 'fedcba9876543210', seq: 2 ** 53 - 1, outputBytes: 0 });
    expect(readState(file)).toEqual({ log: 'fedcba9876543210', seq: 2 ** 53 - 1, outputBytes: 0 });
    // The temp file is renamed over the state: nothing is left beside it.
    expect(fs.readdirSync(path.dirname(file))).toEqual(['state']);
  });

  test('a leftover temp file (a crash before the rename) does not disturb the state or the next write', () => {
    const file = path.join(tempDir(), 'state');
    writeState(file, { log: '0123456789abcdef', seq: 1, outputBytes: 10 });
    fs.writeFileSync(`${file}.tmp`, '{"log":"0123');
    expect(readState(file)).toEqual({ log: '0123456789abcdef', seq: 1, outputBytes: 10 });
    writeState(file, { log: '0123456789abcdef', seq: 2, outputBytes: 20 });
    expect(readState(file)).toEqual({ log: '0123456789abcdef', seq: 2, outputBytes: 20 });
  });

  test.each([
    ['empty', '', /not JSON/],
    ['torn', '{"log":"0123456789abcdef","seq":4', /not JSON/],
    ['an array', '[1,2]', /not a JSON object/],
    ['a short log id', '{"log":"0123","seq":1,"outputBytes":0}', /bad "log" "0123"/],
    ['a negative seq', '{"log":"0123456789abcdef","seq":-1,"outputBytes":0}', /bad "seq" -1/],
    ['a fractional seq', '{"log":"0123456789abcdef","seq":1.5,"outputBytes":0}', /bad "seq" 1.5/],
    ['a seq beyond 2^53', '{"log":"0123456789abcdef","seq":9007199254740993,"outputBytes":0}', /bad "seq"/],
    ['no outputBytes', '{"log":"0123456789abcdef","seq":1}', /bad "outputBytes" undefined/],
  ])('%s state is a clear error naming the file', (_what, text, message) => {
    const file = path.join(tempDir(), 'state');
    fs.writeFileSync(file, text);
    let failure: unknown;
    try {
      readState(file);
    } catch (err) {
      failure = err;
    }
    expect(failure).toMatchObject({ code: 'ERR_LOGTAIL_STATE', path: file });
    expect((failure as Error).message).toMatch(message);
    expect((failure as Error).message).toContain(file);
  });

  test('a state file that is a directory is a clear error', () => {
    const dir = tempDir();
    expect(() => readState(dir)).toThrow(
      expect.objectContaining({ code: 'ERR_LOGTAIL_STATE', message: expect.stringMatching(/EISDIR/) }),
    );
  });

  test('any bytes in a state file read as a valid state or a clear error', () => {
    const file = path.join(tempDir(), 'state');
    const json = fc.oneof(
      fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)),
      fc.json().map((s) => Buffer.from(s)),
      fc
        .record({
          log: fc.oneof(fc.string(), fc.constant('0123456789abcdef')),
          seq: fc.oneof(fc.integer(), fc.double(), fc.string()),
          outputBytes: fc.integer(),
        })
        .map((o) => Buffer.from(JSON.stringify(o))),
    );
    fc.assert(
      fc.property(json, (bytes) => {
        fs.writeFileSync(file, bytes);
        try {
          const state = readState(file)!;
          expect(state.log).toMatch(/^[0-9a-f]{16}$/);
          expect(Number.isSafeInteger(state.seq) && state.seq >= 0).toBe(true);
          expect(Number.isSafeInteger(state.outputBytes) && state.outputBytes >= 0).toBe(true);
        } catch (err) {
          expect((err as { code?: string }).code).toBe('ERR_LOGTAIL_STATE');
        }
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe('output repair', () => {
  async function write(output: Output, data: string): Promise<void> {
    const loop = new Loop();
    try {
      const task = loop.spawn(output.write(Buffer.from(data)));
      await loop.run();
      await task;
    } finally {
      loop.close();
    }
  }

  test.each(['a', 'r+'] as const)(
    'a file opened with flags %s is cut to the recorded length and written on from there',
    async (flags) => {
      const file = path.join(tempDir(), 'out.log');
      fs.writeFileSync(file, 'recorded\nunrecorded tail');
      const fd = fs.openSync(file, flags);
      try {
        const output = new Output(fd);
        expect(output.regularFile).toBe(true);
        expect(output.bytes).toBe(24);
        expect(output.repair(9)).toEqual({ kind: 'cut', bytes: 15 });
        expect(output.bytes).toBe(9);
        await write(output, 'next\n');
        expect(output.bytes).toBe(14);
        expect(fs.readFileSync(file, 'utf8')).toBe('recorded\nnext\n');
        expect(output.repair(14)).toEqual({ kind: 'none' });
      } finally {
        fs.closeSync(fd);
      }
    },
  );

  test('a file shorter than recorded is left as it is and reported', () => {
    const file = path.join(tempDir(), 'out.log');
    fs.writeFileSync(file, 'abc');
    const fd = fs.openSync(file, 'a');
    try {
      const output = new Output(fd);
      expect(output.repair(10)).toEqual({ kind: 'short', bytes: 7 });
      expect(fs.readFileSync(file, 'utf8')).toBe('abc');
    } finally {
      fs.closeSync(fd);
    }
  });

  test('a pipe is never repaired: it only counts what was written', async () => {
    const [r, w] = (await import('../lib/fd')).pipe();
    try {
      const output = new Output(w);
      expect(output.regularFile).toBe(false);
      expect(output.repair(100)).toEqual({ kind: 'none' });
      await write(output, 'x\n');
      expect(output.bytes).toBe(2);
    } finally {
      fs.closeSync(r);
      fs.closeSync(w);
    }
  });
});

describe('reconnect backoff', () => {
  test('full jitter below a ceiling that doubles from 0.5 s to 30 s, and starts again after reset', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 80 }),
        fc.nat(79),
        (draws, resetAt) => {
          let i = 0;
          const backoff = new Backoff({ baseMs: 500, maxMs: 30000, random: () => draws[i % draws.length] });
          let ceiling = 500;
          for (; i < 80; i++) {
            if (i === resetAt) {
              backoff.reset();
              ceiling = 500;
            }
            expect(backoff.ceiling).toBe(ceiling);
            const wait = backoff.next();
            expect(wait).toBeGreaterThanOrEqual(0);
            expect(wait).toBeLessThan(ceiling);
            expect(wait).toBe(draws[i % draws.length] * ceiling);
            ceiling = Math.min(30000, ceiling * 2);
          }
        },
      ),
      { seed: SEED, numRuns: 30 },
    );
  });

  test('bad bounds are a RangeError', () => {
    expect(() => new Backoff({ baseMs: 0, maxMs: 10 })).toThrow(RangeError);
    expect(() => new Backoff({ baseMs: 10, maxMs: 5 })).toThrow(RangeError);
    expect(() => new Backoff({ baseMs: 10, maxMs: Infinity })).toThrow(RangeError);
  });
});
