/**
 * The relay's history on disk (lib/relay/journal.ts) against real files: round trips, rolling and eviction,
 * history bounds, SIGKILLed writers, the directory lock, a file-size limit standing in for a full disk,
 * and damage that recovery must cut without delivering a wrong byte.
 */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { lockExclusive } from '../lib/fd';
import { currentBootId } from '../lib/relay/journal-state';
import { FsyncPolicy, Journal, JournalOptions, JournalRecord, Recovery, RESERVE_STEP } from '../lib/relay/journal';
import { journalRecord, recoveryProblems } from './helpers/journal';
const WRITER = path.join(__dirname, 'fixtures', 'journal-writer.js');

const dirs: string[] = [];
const children = new Set<ChildProcess>();
const journals: Journal[] = [];
afterEach(async () => {
  for (const j of journals.splice(0)) j.close();
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise<void>((resolve) =>
          c.exitCode !== null || c.signalCode !== null
            ? resolve()
            : (c.once('exit', () => resolve()), c.kill('SIGKILL')),
        ),
    ),
  );
  children.clear();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'journal-test-'));
  dirs.push(dir);
  return dir;
}

const ALL: Omit<JournalOptions, 'fsync'> = { maxMessages: Infinity, maxBytes: Infinity };

function open(dir: string, options: Partial<JournalOptions> = {}): { journal: Journal; recovery: Recovery } {
  const result = Journal.open(dir, { fsync: 'never', ...ALL, ...options });
  journals.push(result.journal);
  return result;
}

function close(journal: Journal): void {
  journal.close();
  journals.splice(journals.indexOf(journal), 1);
}

function records(from: number, to: number): JournalRecord[] {
  const out: JournalRecord[] = [];
  for (let seq = from; seq <= to; seq++) out.push(journalRecord(seq));
  return out;
}

/** Appends from..to in batches of 1–64 records. */
function appendRange(journal: Journal, from: number, to: number): void {
  for (let seq = from; seq <= to;) {
    const n = Math.min(1 + (seq % 64), to - seq + 1);
    journal.append(records(seq, seq + n - 1));
    seq += n;
  }
}

function expectExact(recovery: Recovery): void {
  expect(recoveryProblems(recovery)).toEqual([]);
}

function segmentFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .sort();
}

describe('round trip', () => {
  test.each<FsyncPolicy>(['never', 'interval', 'always'])(
    'fsync=%s: appended batches come back after close and open; seqs continue',
    (fsync) => {
      const dir = tempDir();
      const first = open(dir, { fsync, segmentBytes: 8192 });
      expect(first.recovery).toEqual({
        logId: expect.stringMatching(/^[0-9a-f]{16}$/),
        nextSeq: 1,
        records: [],
        cut: [],
      });
      appendRange(first.journal, 1, 500);
      first.journal.sync();
      close(first.journal);
      expect(segmentFiles(dir).length).toBeGreaterThan(5);

      const second = open(dir, { fsync, segmentBytes: 8192 });
      expect(second.recovery.logId).toBe(first.recovery.logId);
      expect(second.recovery.nextSeq).toBe(501);
      expect(second.recovery.records).toHaveLength(500);
      expect(second.recovery.cut).toEqual([]);
      expectExact(second.recovery);
      appendRange(second.journal, 501, 620);
      close(second.journal);

      const third = open(dir, { fsync });
      expect(third.recovery.records.map((r) => r.seq)).toEqual(records(1, 620).map((r) => r.seq));
      expectExact(third.recovery);
    },
  );

  test.each<FsyncPolicy>(['never', 'interval', 'always'])(
    'fsync=%s: rolling through many segments keeps two fds open at most',
    (fsync) => {
      const dir = tempDir();
      const fds = (): number => fs.readdirSync('/dev/fd').length;
      const before = fds();
      const { journal } = open(dir, { fsync, segmentBytes: 1024 });
      appendRange(journal, 1, 2000);
      expect(segmentFiles(dir).length).toBeGreaterThan(30);
      if (fsync === 'interval') journal.sync();
      expect(fds() - before).toBeLessThanOrEqual(2); // the lock and the active segment
      close(journal);
      expect(fds()).toBe(before);
    },
  );

  test('each append is one write: a batch is never split across segments', () => {
    const dir = tempDir();
    const { journal } = open(dir, { segmentBytes: 100 });
    journal.append(records(1, 64));
    journal.append(records(65, 65));
    close(journal);
    expect(segmentFiles(dir)).toEqual(['00000000000000000001.seg', '00000000000000000065.seg']);
  });

  test('recovery returns the newest maxMessages / maxBytes and deletes segments wholly below them', () => {
    const dir = tempDir();
    const { journal } = open(dir, { segmentBytes: 4096 });
    appendRange(journal, 1, 400);
    close(journal);
    const bySize = open(dir, { maxMessages: 100, segmentBytes: 4096 });
    expect(bySize.recovery.records.map((r) => r.seq)).toEqual(records(301, 400).map((r) => r.seq));
    const kept = segmentFiles(dir).map((f) => Number(f.slice(0, 20)));
    expect(kept[0]).toBeLessThanOrEqual(301);
    expect(kept[1]).toBeGreaterThan(301);
    close(bySize.journal);

    const bytes = records(391, 400).reduce((n, r) => n + r.message.length, 0);
    const byBytes = open(dir, { maxBytes: bytes + journalRecord(390).message.length - 1 });
    expect(byBytes.recovery.records.map((r) => r.seq)).toEqual(records(391, 400).map((r) => r.seq));
    expectExact(byBytes.recovery);
  });

  test('evictBefore deletes the segments whose records all lie below the seq, never the active one', () => {
    const dir = tempDir();
    const { journal } = open(dir, { segmentBytes: 2048 });
    appendRange(journal, 1, 300);
    const before = segmentFiles(dir).map((f) => Number(f.slice(0, 20)));
    expect(before.length).toBeGreaterThan(4);
    journal.evictBefore(before[2]);
    expect(segmentFiles(dir).map((f) => Number(f.slice(0, 20)))).toEqual(before.slice(2));
    journal.evictBefore(before[3] - 1); // segment before[2] still holds before[3] - 1
    expect(segmentFiles(dir)).toHaveLength(before.length - 2);
    journal.evictBefore(Number.MAX_SAFE_INTEGER);
    expect(segmentFiles(dir)).toEqual([path.basename(`${String(before[before.length - 1]).padStart(20, '0')}.seg`)]);
    appendRange(journal, 301, 310);
    close(journal);
    const { recovery } = open(dir);
    expect(recovery.records[0].seq).toBe(before[before.length - 1]);
    expect(recovery.nextSeq).toBe(311);
    expectExact(recovery);
  });

  test('a batch that starts further on (after a failed append) starts a new segment; recovery keeps the run after the hole', () => {
    const dir = tempDir();
    const { journal } = open(dir);
    appendRange(journal, 1, 50);
    journal.append(records(80, 90));
    close(journal);
    const { recovery } = open(dir);
    expect(recovery.nextSeq).toBe(91);
    expect(recovery.records.map((r) => r.seq)).toEqual(records(80, 90).map((r) => r.seq));
    expect(segmentFiles(dir)).toEqual(['00000000000000000080.seg']);
  });
});

describe('bad calls', () => {
  test('options, seqs and use after close fail with clear errors', () => {
    const dir = tempDir();
    expect(() => Journal.open(dir, { fsync: 'sometimes' as FsyncPolicy, ...ALL })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => Journal.open(dir, { fsync: 'never', maxMessages: -1, maxBytes: 1 })).toThrow(/maxMessages/);
    expect(() => Journal.open(dir, { fsync: 'never', ...ALL, segmentBytes: 10 })).toThrow(/segmentBytes/);
    const { journal } = open(dir);
    journal.append(records(1, 3));
    expect(() => journal.append(records(3, 4))).toThrow(expect.objectContaining({ code: 'ERR_JOURNAL_SEQ' }));
    expect(() => journal.append([journalRecord(4), journalRecord(6)])).toThrow(
      expect.objectContaining({ code: 'ERR_JOURNAL_SEQ' }),
    );
    expect(() => journal.append([{ ...journalRecord(4), message: 'text' as unknown as Uint8Array }])).toThrow(
      RangeError,
    );
    expect(() =>
      journal.append([{ ...journalRecord(Number.MAX_SAFE_INTEGER), seq: Number.MAX_SAFE_INTEGER + 1 }]),
    ).toThrow(/MAX_SAFE|9007199254740991/);
    journal.append(records(4, 4));
    close(journal);
    journal.close(); // idempotent
    expect(() => journal.append(records(5, 5))).toThrow(expect.objectContaining({ code: 'ERR_JOURNAL_CLOSED' }));
    const { recovery } = open(dir);
    expect(recovery.nextSeq).toBe(5);
  });

  test('the flock primitive checks its fd argument and reports errno', () => {
    expect(() => lockExclusive(-1)).toThrow(/out of range/);
    expect(() => lockExclusive('3' as unknown as number)).toThrow(/must be of type number/);
    expect(() => lockExclusive(999999)).toThrow(
      expect.objectContaining({ code: 'EBADF', syscall: 'flock', fd: 999999 }),
    );
  });

  test('a path that is a file, and a lost log-id, are clear errors naming the path', () => {
    const dir = tempDir();
    const file = path.join(dir, 'plain');
    fs.writeFileSync(file, 'x');
    expect(() => Journal.open(file, { fsync: 'never', ...ALL })).toThrow(
      expect.objectContaining({ code: 'ENOTDIR', path: file }),
    );
    const { journal } = open(path.join(dir, 'made', 'here'));
    journal.append(records(1, 1));
    close(journal);
    fs.rmSync(path.join(dir, 'made', 'here', 'log-id'));
    expect(() => Journal.open(path.join(dir, 'made', 'here'), { fsync: 'never', ...ALL })).toThrow(
      expect.objectContaining({ code: 'ERR_JOURNAL_LOG_ID' }),
    );
    fs.writeFileSync(path.join(dir, 'made', 'here', 'log-id'), 'not an id\n');
    expect(() => Journal.open(path.join(dir, 'made', 'here'), { fsync: 'never', ...ALL })).toThrow(
      /does not hold a log id/,
    );
  });
});

/** Spawns the writer; resolves each stdout line through `onLine`. */
function writer(
  args: string[],
  onLine: (line: string, child: ChildProcess) => void,
  shell?: string,
): Promise<number | NodeJS.Signals> {
  const child = shell
    ? spawn('bash', ['-c', `${shell}; exec "${process.execPath}" "$@"`, 'bash', WRITER, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    : spawn(process.execPath, [WRITER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let partial = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) onLine(line, child);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code !== null && code !== 0) reject(new Error(`writer exited ${code}: ${stderr}`));
      else resolve(signal ?? code!);
    });
  });
}

describe('crash', () => {
  test.each<FsyncPolicy>(['always', 'never'])(
    'fsync=%s: a writer SIGKILLed mid-append three times loses nothing it reported, the tail is cut and seqs continue',
    async (fsync) => {
      const dir = tempDir();
      let expectedNext = 1;
      for (let round = 0; round < 3; round++) {
        let lastDurable = expectedNext - 1;
        let opened = 0;
        // Kill after a varying number of appends, so the kill lands at different points of a batch.
        const killAfter = 20 + round * 37;
        let appends = 0;
        const how = await writer([dir, fsync, '40000', '65536', '1'], (line, child) => {
          const [word, n] = line.split(' ');
          if (word === 'open') opened = Number(n);
          if (word === 'durable') {
            lastDurable = Number(n);
            if (++appends === killAfter) child.kill('SIGKILL');
          }
        });
        expect(how).toBe('SIGKILL');
        expect(opened).toBe(expectedNext);
        const { journal, recovery } = open(dir);
        expect(recovery.records[0].seq).toBe(1);
        expect(recovery.nextSeq).toBeGreaterThan(lastDurable);
        expectExact(recovery);
        for (const c of recovery.cut) expect(c.file).toBe(path.join(dir, segmentFiles(dir).slice(-1)[0]));
        // The tail is cut in the file itself: a second open finds nothing to cut.
        close(journal);
        const again = open(dir);
        expect(again.recovery.cut).toEqual([]);
        expect(again.recovery.nextSeq).toBe(recovery.nextSeq);
        close(again.journal);
        expectedNext = recovery.nextSeq;
      }
      const { journal, recovery } = open(dir);
      appendRange(journal, recovery.nextSeq, recovery.nextSeq + 99);
      close(journal);
      const last = open(dir).recovery;
      expect(last.nextSeq).toBe(recovery.nextSeq + 100);
      expect(last.records).toHaveLength(last.nextSeq - 1);
      expectExact(last);
    },
    60000,
  );
});

/**
 * Which state file `dir` holds now: each write of it is a new file renamed over the old one, made while the old
 * one still exists, so two reads in a row differ exactly when the journal wrote it in between.
 */
function stateFile(dir: string): string {
  const st = fs.statSync(path.join(dir, 'state'));
  return `${st.dev}:${st.ino}`;
}

/** The state file's fields, as the next start will read them. */
function stateOf(dir: string): { reserved: number; boot: string; fsync: string; clean: string; failed: string } {
  const text = fs.readFileSync(path.join(dir, 'state'), 'utf8');
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => l.split(' ')),
  ) as never;
}

/** What a reboot leaves in the directory: the boot id recorded by the last run is not the machine's any more. */
function rebootInto(dir: string): void {
  const file = path.join(dir, 'state');
  const other = '00000000-0000-4000-8000-000000000000';
  expect(currentBootId()).not.toBe(other);
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^boot .*$/m, `boot ${other}`));
}

/** What a power cut may leave of the newest segment: the records of its second half never reached the disk. */
function loseTail(dir: string): void {
  const newest = path.join(dir, segmentFiles(dir).slice(-1)[0]);
  fs.truncateSync(newest, Math.max(32, Math.floor(fs.statSync(newest).size / 2)));
}

/** Runs the writer until it has reported `atLeast` seqs, SIGKILLs it; returns the highest seq it reported. */
async function killedWriter(dir: string, fsync: FsyncPolicy, atLeast: number): Promise<number> {
  let reported = 0;
  const how = await writer([dir, fsync, '10000000', String(1 << 20)], (line, child) => {
    const [word, n] = line.split(' ');
    if (word !== 'durable') return;
    reported = Math.max(reported, Number(n));
    if (reported >= atLeast) child.kill('SIGKILL');
  });
  expect(how).toBe('SIGKILL');
  return reported;
}

describe('seqs across a reboot', () => {
  test('fsync=interval: writer SIGKILLed past a reservation step, then a reboot that lost the tail: no seq it handed out is given again', async () => {
    const dir = tempDir();
    const reported = await killedWriter(dir, 'interval', RESERVE_STEP + 5000);
    const reserved = Number(stateOf(dir).reserved);
    expect(reserved).toBeGreaterThan(reported);
    loseTail(dir);
    rebootInto(dir);

    const { journal, recovery } = open(dir);
    expect(recovery.nextSeq).toBeGreaterThan(reported);
    expect(recovery.nextSeq).toBe(reserved);
    const lastKept = recovery.records[recovery.records.length - 1].seq;
    expect(lastKept).toBeLessThan(reported);
    expect(recovery.lost).toEqual({ from: lastKept + 1, to: reserved - 1 });
    expectExact(recovery);
    // The new run reserved ahead of its own first seq, under this boot, and is not clean until it closes.
    expect(stateOf(dir)).toEqual({
      reserved: String(reserved + RESERVE_STEP),
      boot: currentBootId() ?? '-',
      fsync: 'never',
      clean: '0',
      failed: '0',
    });
    appendRange(journal, recovery.nextSeq, recovery.nextSeq + 99);
    close(journal);
    expect(stateOf(dir).clean).toBe('1');

    // The jump is a hole: the history is the run after it, and nothing is skipped again.
    rebootInto(dir);
    const after = open(dir).recovery;
    expect(after.lost).toBeUndefined();
    expect(after.nextSeq).toBe(reserved + 100);
    expect(after.records.map((r) => r.seq)).toEqual(records(reserved, reserved + 99).map((r) => r.seq));
    expectExact(after);
  }, 60000);

  test('fsync=interval: writer SIGKILLed on the same boot: no jump, seqs continue right after the last record', async () => {
    const dir = tempDir();
    const reported = await killedWriter(dir, 'interval', 3000);
    const reserved = Number(stateOf(dir).reserved);
    const { recovery } = open(dir);
    expect(recovery.lost).toBeUndefined();
    expect(recovery.nextSeq).toBeGreaterThan(reported);
    expect(recovery.nextSeq).toBe(recovery.records[recovery.records.length - 1].seq + 1);
    expect(recovery.nextSeq).toBeLessThan(reserved);
    expectExact(recovery);
    // The reservation never goes down.
    expect(Number(stateOf(dir).reserved)).toBe(Math.max(reserved, recovery.nextSeq + RESERVE_STEP));
  }, 60000);

  test('fsync=always: writer SIGKILLed, then a reboot: no jump (every append was on disk before it returned)', async () => {
    const dir = tempDir();
    const reported = await killedWriter(dir, 'always', 500);
    rebootInto(dir);
    const { recovery } = open(dir);
    expect(recovery.lost).toBeUndefined();
    expect(recovery.nextSeq).toBeGreaterThan(reported);
    expect(recovery.nextSeq).toBe(recovery.records[recovery.records.length - 1].seq + 1);
    expectExact(recovery);
  }, 60000);

  test.each<FsyncPolicy>(['never', 'interval'])('fsync=%s: a clean close, then a reboot: no jump', (fsync) => {
    const dir = tempDir();
    const { journal } = open(dir, { fsync, segmentBytes: 4096 });
    appendRange(journal, 1, 1000);
    close(journal);
    expect(stateOf(dir)).toMatchObject({ fsync, clean: '1' });
    rebootInto(dir);
    const { recovery } = open(dir);
    expect(recovery.lost).toBeUndefined();
    expect(recovery.nextSeq).toBe(1001);
    expect(recovery.records).toHaveLength(1000);
  });

  test('a new directory after an unclean stop and a reboot that lost every segment: the jump still happens', async () => {
    const dir = tempDir();
    const reported = await killedWriter(dir, 'never', 200);
    for (const f of segmentFiles(dir)) fs.rmSync(path.join(dir, f));
    rebootInto(dir);
    const { recovery } = open(dir);
    expect(recovery.nextSeq).toBeGreaterThan(reported);
    expect(recovery.lost).toEqual({ from: 1, to: recovery.nextSeq - 1 });
    expect(recovery.records).toEqual([]);
  }, 60000);

  // The reservation does not depend on the fsync policy (it is always synced); two policies keep the test short.
  test.each<FsyncPolicy>(['never', 'interval'])(
    'fsync=%s: the reservation is written once per step, always above every seq appended',
    (fsync) => {
      const dir = tempDir();
      const { journal } = open(dir, { fsync });
      expect(Number(stateOf(dir).reserved)).toBe(1 + RESERVE_STEP);
      const message = Buffer.from('x');
      const last = 3 * RESERVE_STEP + 100;
      const seen = [Number(stateOf(dir).reserved)];
      let file = stateFile(dir);
      let writes = 0;
      for (let seq = 1; seq <= last;) {
        const n = Math.min(1 + (seq % 200), last - seq + 1);
        const batch: JournalRecord[] = [];
        for (let i = 0; i < n; i++) batch.push({ seq: seq + i, time: 0, source: '', message });
        journal.append(batch);
        seq += n;
        const onDisk = Number(stateOf(dir).reserved);
        expect(onDisk).toBeGreaterThanOrEqual(seq);
        if (onDisk !== seen[seen.length - 1]) seen.push(onDisk);
        if (stateFile(dir) !== file) writes++;
        file = stateFile(dir);
      }
      // Each write reserves at least a step (more when appends are fast: about a second's worth).
      for (let i = 1; i < seen.length; i++) expect(seen[i] - seen[i - 1]).toBeGreaterThanOrEqual(RESERVE_STEP);
      expect(writes).toBe(seen.length - 1); // no write that did not raise the reservation
      expect(seen.length).toBeGreaterThanOrEqual(2);
      expect(seen.length).toBeLessThanOrEqual(4);
      close(journal);
      const closed = Number(stateOf(dir).reserved);
      open(dir);
      expect(Number(stateOf(dir).reserved)).toBe(Math.max(closed, last + 1 + RESERVE_STEP));
    },
    120000,
  );

  test('sync() raises the reservation ahead once less than half a step is left, so appends up to it write none', () => {
    const dir = tempDir();
    const { journal } = open(dir, { fsync: 'interval' });
    const half = RESERVE_STEP / 2;
    const opened = stateFile(dir); // the open's reservation: 1 + RESERVE_STEP
    appendRange(journal, 1, half + 10);
    expect(stateFile(dir)).toBe(opened);
    journal.sync(); // less than half a step left
    const synced = stateFile(dir);
    expect(synced).not.toBe(opened);
    expect(Number(stateOf(dir).reserved)).toBeGreaterThanOrEqual(half + 11 + RESERVE_STEP);
    appendRange(journal, half + 11, half + 10 + RESERVE_STEP);
    expect(stateFile(dir)).toBe(synced);
    close(journal);
  }, 60000);

  test('a malformed state file is a clear error', () => {
    const dir = tempDir();
    close(open(dir).journal);
    fs.writeFileSync(path.join(dir, 'state'), 'reserved lots\n');
    expect(() => Journal.open(dir, { fsync: 'never', ...ALL })).toThrow(
      expect.objectContaining({
        code: 'ERR_JOURNAL_STATE',
        path: path.join(dir, 'state'),
        message: expect.stringMatching(/malformed/),
      }),
    );
  });
});

describe('lock', () => {
  test('a second open of the same directory fails while the first is open, and works after close', () => {
    const dir = tempDir();
    const { journal } = open(dir);
    expect(() => Journal.open(dir, { fsync: 'never', ...ALL })).toThrow(
      expect.objectContaining({
        code: 'ERR_JOURNAL_LOCKED',
        path: dir,
        message: expect.stringContaining(`process ${process.pid}`),
      }),
    );
    close(journal);
    close(open(dir).journal);
  });

  test('a lock held by a process that is SIGKILLed does not outlive it', async () => {
    const dir = tempDir();
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const { Journal } = require(${JSON.stringify(path.join(__dirname, '..', 'dist', 'relay', 'journal'))});
        Journal.open(process.argv[1], { fsync: 'never', maxMessages: 1, maxBytes: 1 }); console.log('held'); setInterval(() => {}, 1000);`,
        dir,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.add(holder);
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    expect(() => Journal.open(dir, { fsync: 'never', ...ALL })).toThrow(
      expect.objectContaining({
        code: 'ERR_JOURNAL_LOCKED',
        message: expect.stringContaining(`process ${holder.pid}`),
      }),
    );
    const gone = new Promise<void>((resolve) => holder.once('exit', () => resolve()));
    holder.kill('SIGKILL');
    await gone;
    const { recovery } = open(dir);
    expect(recovery.nextSeq).toBe(1);
  });
});

describe('full disk', () => {
  test('an append that hits the file size limit (EFBIG, as ENOSPC would) throws with the code, leaves the file as it was, and its seqs are never reused', async () => {
    const dir = tempDir();
    const lines: string[] = [];
    // bash counts `ulimit -f` in KiB: the segment cannot grow past 96 KiB.
    await writer([dir, 'always', '1000000'], (line) => lines.push(line), 'ulimit -f 96');
    const errors = lines.filter((l) => l.startsWith('error'));
    expect(errors).toEqual([expect.stringMatching(/^error EFBIG \d+$/), 'error EFBIG']);
    const failedUpTo = Number(errors[0].split(' ')[2]);
    const lastDurable = Number(
      lines
        .filter((l) => l.startsWith('durable'))
        .pop()!
        .split(' ')[1],
    );
    expect(lastDurable).toBeGreaterThan(100);
    expect(failedUpTo).toBeGreaterThan(lastDurable);
    const { journal, recovery } = open(dir);
    expect(recovery.cut).toEqual([]);
    // The failed batch's seqs may have been delivered from memory: even after a clean close they are not reused.
    expect(recovery.nextSeq).toBeGreaterThan(failedUpTo);
    expect(recovery.lost).toEqual({ from: lastDurable + 1, to: recovery.nextSeq - 1 });
    expect(recovery.records).toHaveLength(lastDurable);
    expectExact(recovery);
    const next = recovery.nextSeq;
    appendRange(journal, next, next + 9);
    close(journal);
    const again = open(dir).recovery;
    expect(again.nextSeq).toBe(next + 10);
    expect(again.lost).toBeUndefined();
  });
});

describe('damage', () => {
  /** A journal of 1..last in small segments; returns the newest segment's path and its last record's offset. */
  function build(dir: string, last: number, segmentBytes = 4096): { newest: string; lastRecordAt: number } {
    const { journal } = open(dir, { segmentBytes });
    appendRange(journal, 1, last);
    close(journal);
    const newest = path.join(dir, segmentFiles(dir).slice(-1)[0]);
    const size = fs.statSync(newest).size;
    const r = journalRecord(last);
    return { newest, lastRecordAt: size - (26 + Buffer.byteLength(r.source) + r.message.length) };
  }

  test('a segment truncated at every offset inside its last record: that record is cut, the file cut back, its seq reused', () => {
    const dir = tempDir();
    const { newest, lastRecordAt } = build(dir, 200);
    const whole = fs.readFileSync(newest);
    const size = whole.length;
    const file = newest;
    const original = segmentFiles(dir);
    for (let end = lastRecordAt; end < size; end++) {
      for (const name of segmentFiles(dir)) if (!original.includes(name)) fs.rmSync(path.join(dir, name));
      fs.writeFileSync(newest, whole.subarray(0, end));
      const { journal, recovery } = Journal.open(dir, { fsync: 'never', ...ALL });
      try {
        expect(recovery.nextSeq).toBe(200);
        expect(recovery.records).toHaveLength(199);
        expectExact(recovery);
        expect(recovery.cut).toEqual(
          end === lastRecordAt ? [] : [{ file, offset: lastRecordAt, reason: expect.stringMatching(/torn/) }],
        );
        expect(fs.statSync(file).size).toBe(lastRecordAt);
        journal.append([journalRecord(200)]);
      } finally {
        journal.close();
      }
      const again = Journal.open(dir, { fsync: 'never', ...ALL });
      again.journal.close();
      expect(again.recovery.nextSeq).toBe(201);
      expect(again.recovery.cut).toEqual([]);
      expectExact(again.recovery);
    }
  });

  test('damage in the middle of an older segment: the history is what follows it, seqs continue after the newest record', () => {
    const dir = tempDir();
    build(dir, 300, 4096);
    const files = segmentFiles(dir);
    const victim = path.join(dir, files[1]);
    const bytes = fs.readFileSync(victim);
    bytes[200] ^= 0xff;
    fs.writeFileSync(victim, bytes);
    const { recovery } = open(dir);
    expect(recovery.nextSeq).toBe(301);
    expect(recovery.records[0].seq).toBe(Number(files[2].slice(0, 20)));
    expect(recovery.cut).toEqual([{ file: victim, offset: expect.any(Number), reason: 'checksum mismatch' }]);
    expectExact(recovery);
    // Segments below the recovered history are gone; the damaged one was the last of them.
    expect(segmentFiles(dir)).toEqual(files.slice(2));
  });

  test('damage in the middle of the newest segment: records past it still keep their seqs from reuse', () => {
    const dir = tempDir();
    const { newest } = build(dir, 300, 1 << 20);
    const bytes = fs.readFileSync(newest);
    bytes[1000] ^= 0x01;
    fs.writeFileSync(newest, bytes);
    const { journal, recovery } = open(dir);
    expect(recovery.nextSeq).toBe(301);
    expect(recovery.records).toEqual([]);
    expect(recovery.cut).toHaveLength(1);
    // Appends go to a new segment named by the next seq; the damaged one is below the history and deleted.
    journal.append(records(301, 310));
    close(journal);
    expect(segmentFiles(dir)).toEqual(['00000000000000000301.seg']);
    const again = open(dir).recovery;
    expect(again.records.map((r) => r.seq)).toEqual(records(301, 310).map((r) => r.seq));
    expectExact(again);
  });

  test('a segment of another log, or a header overwritten, is cut at offset 0', () => {
    const dir = tempDir();
    build(dir, 100, 2048);
    const other = tempDir();
    build(other, 100, 2048);
    const files = segmentFiles(dir);
    fs.copyFileSync(path.join(other, files[files.length - 1]), path.join(dir, files[files.length - 1]));
    const { recovery } = open(dir);
    expect(recovery.cut).toEqual([
      { file: path.join(dir, files[files.length - 1]), offset: 0, reason: expect.stringMatching(/another log/) },
    ]);
    // Its records check out, so their seqs are not given out again; they are not delivered as this log's.
    expect(recovery.nextSeq).toBe(101);
    expect(recovery.records).toEqual([]);
  });
});

test('the writer fixture is loadable by a plain node (dist is built)', () => {
  expect(
    execFileSync(process.execPath, ['-e', `require(${JSON.stringify(WRITER)}); console.log('ok')`], {
      encoding: 'utf8',
    }),
  ).toBe('ok\n');
});
