/**
 * Property tests of journal recovery: random bytes overwritten anywhere in the segment files, and segments
 * truncated anywhere. Whatever the damage, open does not throw, returns only records that are byte for byte
 * what was appended, with consecutive seqs ending at nextSeq - 1, never gives out again the seq of a record
 * that is still intact on disk, and appends after it come back on the next open.
 */
import fc from 'fast-check';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Journal, JournalRecord, Recovery } from '../lib/relay/journal';
import { journalRecord, recoveryProblems } from './helpers/journal';

const SEED = 1129;
const RUNS = 100;
const LAST = 240;
const HEADER = 32;
const OPTIONS = { fsync: 'never', maxMessages: Infinity, maxBytes: Infinity, segmentBytes: 3000 } as const;

let base: string;
let work: string;
const pristine = new Map<string, Buffer>();
/** Where each record lies: file name, start and end offsets. */
const layout: { file: string; seq: number; start: number; end: number }[] = [];

beforeAll(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'journal-fuzz-'));
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'journal-fuzz-'));
  const { journal } = Journal.open(base, OPTIONS);
  for (let seq = 1; seq <= LAST;) {
    const n = Math.min(1 + (seq % 17), LAST - seq + 1);
    const batch: JournalRecord[] = [];
    for (let i = 0; i < n; i++) batch.push(journalRecord(seq + i));
    journal.append(batch);
    seq += n;
  }
  journal.close();
  const files = segments(base);
  expect(files.length).toBeGreaterThan(8);
  files.forEach((file, i) => {
    const first = Number(file.slice(0, 20));
    const next = i + 1 < files.length ? Number(files[i + 1].slice(0, 20)) : LAST + 1;
    let at = HEADER;
    for (let seq = first; seq < next; seq++) {
      const r = journalRecord(seq);
      const end = at + 26 + Buffer.byteLength(r.source) + r.message.length;
      layout.push({ file, seq, start: at, end });
      at = end;
    }
    expect(at).toBe(fs.statSync(path.join(base, file)).size);
  });
  for (const name of fs.readdirSync(base))
    if (name !== 'lock') pristine.set(name, fs.readFileSync(path.join(base, name)));
});

afterAll(() => {
  fs.rmSync(base, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

function segments(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .sort();
}

/** Puts the undamaged files back into the work directory (cheaper than copying the directory each run). */
function fresh(): void {
  for (const name of fs.readdirSync(work)) if (!pristine.has(name)) fs.rmSync(path.join(work, name));
  for (const [name, bytes] of pristine) fs.writeFileSync(path.join(work, name), bytes);
}

/** The properties every recovery must have; `intactMax` is the highest seq whose bytes were not touched. */
function check(recovery: Recovery, intactMax: number): void {
  expect(recoveryProblems(recovery)).toEqual([]);
  expect(recovery.nextSeq).toBeGreaterThan(intactMax);
  for (const c of recovery.cut) expect(c.reason).toEqual(expect.any(String));
}

/** Opens the damaged copy, checks it, appends one record, and checks that a second open returns it last. */
function openAndAppend(intactMax: number): void {
  const { journal, recovery } = Journal.open(work, OPTIONS);
  try {
    check(recovery, intactMax);
    journal.append([journalRecord(recovery.nextSeq)]);
  } finally {
    journal.close();
  }
  const again = Journal.open(work, OPTIONS);
  again.journal.close();
  check(again.recovery, recovery.nextSeq);
  expect(again.recovery.nextSeq).toBe(recovery.nextSeq + 1);
  expect(again.recovery.records.length).toBeGreaterThanOrEqual(1);
}

function run(property: fc.IProperty<unknown[]> | fc.IProperty<[unknown]>): void {
  const result = fc.check(property as fc.IProperty<unknown>, { seed: SEED, numRuns: RUNS });
  if (result.failed)
    throw new Error(
      `property failed (seed ${SEED}, path ${result.counterexamplePath}): ${fc.defaultReportMessage(result)}`,
    );
}

test('random bytes overwritten anywhere in any segment', () => {
  run(
    fc.property(
      fc.array(fc.record({ file: fc.nat(), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 24 }) }), {
        minLength: 1,
        maxLength: 4,
      }),
      (damages) => {
        fresh();
        const files = segments(work);
        const touched = new Set<number>();
        for (const d of damages) {
          const file = files[d.file % files.length];
          const full = path.join(work, file);
          const buf = fs.readFileSync(full);
          const at = d.at % buf.length;
          const bytes = d.bytes.subarray(0, buf.length - at);
          const before = Buffer.from(buf.subarray(at, at + bytes.length));
          buf.set(bytes, at);
          if (before.equals(bytes)) continue; // wrote what was there already
          fs.writeFileSync(full, buf);
          for (const r of layout) if (r.file === file && r.start < at + bytes.length && at < r.end) touched.add(r.seq);
          // A damaged header makes every record of its file suspect.
          if (at < HEADER) for (const r of layout) if (r.file === file) touched.add(r.seq);
        }
        const intactMax = Math.max(0, ...layout.filter((r) => !touched.has(r.seq)).map((r) => r.seq));
        openAndAppend(intactMax);
      },
    ),
  );
});

test('any segment truncated at any offset', () => {
  run(
    fc.property(fc.nat(), fc.nat(), (fileIndex, offset) => {
      fresh();
      const files = segments(work);
      const file = files[fileIndex % files.length];
      const full = path.join(work, file);
      const size = fs.statSync(full).size;
      const end = offset % size;
      fs.truncateSync(full, end);
      const intact = layout.filter((r) => r.file !== file || (end >= HEADER && r.end <= end));
      const intactMax = Math.max(0, ...intact.map((r) => r.seq));
      openAndAppend(intactMax);
    }),
  );
});
