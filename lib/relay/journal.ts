/**
 * The relay's history on disk: segment files that let the in-memory log survive a restart. The journal is
 * write-only while the relay runs (subscribers are served from memory); it is read once, by {@link Journal.open}.
 *
 * ## Files in the directory
 * - `lock` — held with flock(2) while a journal is open, so that two relays never write the same directory. The
 *   kernel drops the lock when its holder exits or is killed, so a crash never leaves a stale lock. It also holds
 *   the holder's pid, for the error message of a relay that finds it taken.
 * - `log-id` — the log's id (16 hex digits and a newline), made once, written atomically (temp file, fsync,
 *   rename, directory fsync).
 * - `NNNNNNNNNNNNNNNNNNNN.seg` — segments, named by the seq of their first record (20 digits, so that names sort
 *   like seqs). The newest is appended to; a new one starts when it has reached `segmentBytes`. The byte format is
 *   in `journal-format.ts`: every record carries its length and a CRC-32C.
 * - `state` — the seq reservation, the boot id, the fsync policy and whether the run stopped cleanly, written
 *   atomically (format in `journal-state.ts`); see "Seqs after a power cut" below.
 *
 * Creating or deleting a segment is followed by an fsync of the directory, in every fsync mode: otherwise a power
 * cut could lose a whole segment's name (a hole in the middle of the history) while its neighbours survive.
 *
 * ## Durability (`fsync`)
 * Every {@link Journal.append} is one write(2) of the whole batch, so once it returns the records are in the
 * kernel's page cache: a SIGKILL of the relay loses nothing that append accepted, in every mode.
 * - `never`: the kernel writes back when it likes; a power cut or kernel crash loses what it had not written,
 *   up to about 30 s on Linux by default (`vm.dirty_expire_centisecs`).
 * - `interval`: the caller calls {@link Journal.sync} about every second; a power cut loses at most the messages
 *   of the last ~1 s.
 * - `always`: append returns only after fdatasync(2): an accepted batch survives a power cut. One fdatasync per
 *   append call (per received batch), not per record.
 * A failed fdatasync makes the journal unusable (every later call throws `ERR_JOURNAL_FAILED`): after such an
 * error the kernel may have dropped the unwritten pages, and a retry that succeeds would hide the loss.
 *
 * ## Recovery
 * `open` reads segments from the newest towards the oldest and checks every record (length, checksum, seq).
 * - The first bad record of a segment — a torn tail after a crash, a damaged byte, a seq that does not follow —
 *   cuts the rest of that segment; the cut is reported in {@link Recovery.cut}. The newest segment is truncated at
 *   its cut so that appends continue cleanly after the last good record.
 * - `nextSeq` is above every seq that was ever written and still checks out, even in bytes past a cut (they are
 *   found by scanning forward for records that check out): a seq is never given to two messages. A torn record
 *   (one whose append never returned) does not count, and its seq is used again. After a reboot, `nextSeq` is
 *   also above every seq the previous run may have handed out (next section).
 * - The history returned is the longest run of good records whose seqs are consecutive and end at `nextSeq - 1`,
 *   bounded by `maxMessages` / `maxBytes`. Damage in the middle therefore shortens the history to what follows it:
 *   there is no hole inside a recovered history, and nothing is returned that was not appended byte for byte.
 * - Segments wholly below the returned history are deleted; when the newest segment cannot be continued (its
 *   damage hides records with higher seqs) a new segment is started at `nextSeq`.
 * - Unusable directories are clear errors: not a directory, no permission (Node's `EACCES`/`ENOTDIR`, with
 *   `path`), locked by a running relay (`ERR_JOURNAL_LOCKED`), segments without a readable `log-id`
 *   (`ERR_JOURNAL_LOG_ID`). No byte content of a segment makes `open` throw.
 *
 * ## Seqs after a power cut
 * Under `never` and `interval` a power cut (or a machine crash) can take from the disk records that subscribers
 * already received; giving their seqs to new messages would hand a resuming subscriber the wrong messages. So the
 * journal keeps, in `state`, a reservation: a seq above every seq it has handed out. It is written durably (temp
 * file, fdatasync, rename, directory fsync) before an append would go past it, and then raised by
 * {@link RESERVE_STEP} (or by a second's worth at the current rate when that is more, up to 2^24) beyond the batch:
 * two fsyncs on the append path at most once per 65,536 messages, about once a second at high rates.
 * {@link Journal.sync} raises it ahead when less than half a step is left, so under `interval` the write usually
 * happens on the caller's timer instead. `state` also holds
 * the boot id of the machine (/proc/sys/kernel/random/boot_id, Linux makes a new one at every boot), the fsync
 * policy of the run, and a clean flag that `open` clears and `close` sets once everything appended is on disk
 * (under `never`, close fdatasyncs the segments written during the run first).
 *
 * At `open`, when the previous run did not stop cleanly, was not `always`, and the boot id differs (the machine
 * restarted since), the recovered records may end before the last seq handed out: `nextSeq` becomes the previous
 * reservation, a new segment starts there, and {@link Recovery.lost} names the skipped seqs (from the first seq
 * after the recovered ones to `nextSeq - 1`; some were perhaps never used). The history returned ends before
 * `lost.from`. A relay that was only killed (same boot) has lost nothing from the page cache: no jump; nor after a
 * clean stop, nor after an `always` run (each append was on disk before it returned). Where the system has no boot
 * id (not Linux), every unclean stop counts as a possible reboot: the seqs jump, so nothing repeats, at the price
 * of a hole the relay must report after a mere crash. A failed append (ENOSPC, EIO…) whose seqs no later append
 * covers is recorded in `state` too (`failed 1`, at once when the disk lets it, else by `close`): the caller may
 * have delivered those seqs from memory, so the next start skips the reservation whatever the boot, the policy or
 * the way the relay stopped. A directory without `state` (made before it existed)
 * recovers without a jump; a malformed one is refused (`ERR_JOURNAL_STATE`).
 *
 * Seqs are JS numbers: appending beyond Number.MAX_SAFE_INTEGER (2^53 - 1; 285 years at a million messages a
 * second) is refused.
 */
import * as fs from 'fs';
import * as path from 'path';
import { encodeHeader, HEADER_BYTES, JournalRecord, RecordEncoder, scanSegment } from './journal-format';
import {
  currentBootId,
  journalError,
  lockDir,
  lostRange,
  readLogId,
  readState,
  RunState,
  STATE_FILE,
  syncDir,
  writeState,
} from './journal-state';

export type { JournalRecord } from './journal-format';
export type { JournalError } from './journal-state';

/**
 * When appended messages reach the disk (what a power cut can lose): `never` (the kernel writes back when it
 * will), `interval` (fdatasync about every second), `always` (each received batch is fdatasync'ed before the
 * relay goes on).
 */
export type FsyncPolicy = 'never' | 'interval' | 'always';

export interface JournalOptions {
  /** When data reaches the disk; `interval` relies on the caller calling {@link Journal.sync} about every second. */
  fsync: FsyncPolicy;
  /** Recovery returns at most the newest `maxMessages` records… */
  maxMessages: number;
  /** …whose message lengths add up to at most `maxBytes`. */
  maxBytes: number;
  /** A new segment file starts once the current one has reached this size (default 16 MiB). */
  segmentBytes?: number;
}

export interface Recovery {
  logId: string;
  /** The seq the next append must carry (1 for a new directory). */
  nextSeq: number;
  /**
   * The retained history, oldest first, consecutive seqs ending at nextSeq - 1 — or at `lost.from - 1` when
   * `lost` is set (may be empty).
   */
  records: JournalRecord[];
  /**
   * Set only after a reboot (power cut, machine crash) that followed a run which neither closed the journal nor
   * used `always`: seqs from..to may have been handed out (and delivered) by that run while the disk did not keep
   * them, and are never used again (`nextSeq` is `to + 1`). Some of them may never have been used at all.
   */
  lost?: { from: number; to: number };
  /** Torn or damaged data found (for a log line); `offset` is a byte offset in `file`. */
  cut: { file: string; offset: number; reason: string }[];
}

const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;
/**
 * How far the persisted reservation runs ahead of the seqs handed out: its write (two fsyncs) is on the append
 * path once per this many messages.
 */
export const RESERVE_STEP = 65536;
const MAX_RESERVE_STEP = 1 << 24;
const SEGMENT_NAME = /^(\d{20})\.seg$/;
const POLICIES: readonly FsyncPolicy[] = ['never', 'interval', 'always'];

function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}.seg`;
}

function checkOptions(options: JournalOptions): Required<JournalOptions> {
  const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  const bad = (what: string): never => {
    const err = new RangeError(`journal: ${what}`) as RangeError & { code: string };
    err.code = 'ERR_INVALID_ARG_VALUE';
    throw err;
  };
  if (!POLICIES.includes(options.fsync))
    bad(`fsync must be one of ${POLICIES.join(', ')} (got ${String(options.fsync)})`);
  for (const key of ['maxMessages', 'maxBytes'] as const) {
    const v = options[key];
    if (!(v === Infinity || (Number.isSafeInteger(v) && v >= 0)))
      bad(`${key} must be an integer ≥ 0 (got ${String(v)})`);
  }
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes <= HEADER_BYTES) {
    bad(`segmentBytes must be an integer > ${HEADER_BYTES} (got ${String(segmentBytes)})`);
  }
  return { ...options, segmentBytes };
}

function listSegments(dir: string): number[] {
  const seqs: number[] = [];
  for (const name of fs.readdirSync(dir)) {
    const m = SEGMENT_NAME.exec(name);
    const seq = m ? Number(m[1]) : 0;
    if (seq >= 1 && Number.isSafeInteger(seq)) seqs.push(seq);
  }
  return seqs.sort((a, b) => a - b);
}

/** A segment file open for appending. */
interface Active {
  fd: number;
  file: string;
  size: number;
}

export class Journal {
  private readonly encoder = new RecordEncoder();
  /** First seqs of the segment files, oldest first; the last one is the active segment once there is one. */
  private readonly segments: number[];
  private active: Active | null = null;
  /** Segments rolled away from under `interval` whose data has not been fdatasync'ed yet. */
  private unsynced: number[] = [];
  private dirty = false;
  /** Under `never`: segments rolled away unsynced during this run, synced by close() before it marks the stop clean. */
  private unsyncedNames = new Set<number>();
  /** Every seq handed out is below this, on disk (see journal-state.ts). */
  private reserved = 1;
  /** When the reservation was last written, and nextSeq then (for the rate in step()). */
  private reservedAt = process.hrtime.bigint();
  private reservedFrom = 1;
  /** The last append failed: its seqs were perhaps delivered but are not on disk (see failedAppend). */
  private failedTail = false;
  private readonly boot = currentBootId();
  private failure: Error | null = null;
  private closed = false;

  private constructor(
    private readonly dir: string,
    private readonly options: Required<JournalOptions>,
    private readonly lockFd: number,
    private readonly logId: string,
    private nextSeq: number,
    segments: number[],
  ) {
    this.segments = segments;
  }

  /**
   * Opens (creating if needed) the journal in `dir`, takes its lock and recovers its history; see the module
   * comment for what recovery does. Synchronous: meant for start-up.
   */
  static open(dir: string, options: JournalOptions): { journal: Journal; recovery: Recovery } {
    const opts = checkOptions(options);
    dir = path.resolve(dir);
    try {
      if (!fs.statSync(dir).isDirectory()) {
        throw journalError('ENOTDIR', `history dir ${dir} is not a directory`, dir);
      }
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') throw err;
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    }
    const lockFd = lockDir(dir);
    let journal: Journal | undefined;
    try {
      fs.rmSync(path.join(dir, 'log-id.tmp'), { force: true });
      fs.rmSync(path.join(dir, `${STATE_FILE}.tmp`), { force: true });
      const segments = listSegments(dir);
      const logId = readLogId(dir, segments.length > 0);
      const previous = readState(dir);
      journal = new Journal(dir, opts, lockFd, logId, 1, segments);
      return { journal, recovery: journal.recover(previous) };
    } catch (err) {
      if (journal?.active) fs.closeSync(journal.active.fd);
      fs.closeSync(lockFd);
      throw err;
    }
  }

  private file(firstSeq: number): string {
    return path.join(this.dir, segmentName(firstSeq));
  }

  /**
   * Reads the segments newest first, sets nextSeq and the active segment, deletes what lies below the history,
   * then skips the previous run's reservation if a reboot may have lost seqs it handed out, and persists a new
   * reservation marked unclean.
   */
  private recover(previous: RunState | null): Recovery {
    const recovery = this.readSegments(previous);
    this.reserve(Math.max(previous?.reserved ?? 0, this.nextSeq + RESERVE_STEP));
    return recovery;
  }

  private state(clean: boolean): RunState {
    return { reserved: this.reserved, boot: this.boot, fsync: this.options.fsync, clean, failedTail: this.failedTail };
  }

  private readSegments(previous: RunState | null): Recovery {
    const cut: Recovery['cut'] = [];
    const runs: JournalRecord[][] = [];
    const segs = this.segments;
    if (segs.length === 0) {
      const lost = lostRange(previous, this.boot, 1);
      if (lost === undefined) return { logId: this.logId, nextSeq: 1, records: [], cut };
      this.nextSeq = lost.to + 1;
      return { logId: this.logId, nextSeq: this.nextSeq, records: [], cut, lost };
    }
    let count = 0;
    let bytes = 0;
    let firstKept = 0;
    for (let i = segs.length - 1; i >= 0; i--) {
      const file = this.file(segs[i]);
      const limit = i + 1 < segs.length ? segs[i + 1] : Number.MAX_SAFE_INTEGER + 1;
      const scan = scanSegment(fs.readFileSync(file), this.logId, segs[i], limit, i === segs.length - 1);
      if (scan.cut) cut.push({ file, offset: scan.cut.offset, reason: scan.cut.reason });
      const last = segs[i] + scan.records.length - 1;
      if (i === segs.length - 1) {
        this.nextSeq = Math.max(segs[i], scan.maxSeq + 1);
        firstKept = this.nextSeq;
        if (last + 1 === this.nextSeq) this.continueSegment(file, scan.end);
        else break;
      } else if (last + 1 !== firstKept) {
        break;
      }
      let from = scan.records.length;
      while (
        from > 0 &&
        count < this.options.maxMessages &&
        bytes + scan.records[from - 1].message.length <= this.options.maxBytes
      ) {
        bytes += scan.records[--from].message.length;
        count++;
      }
      if (from < scan.records.length) {
        runs.push(from === 0 ? scan.records : scan.records.slice(from));
        firstKept = segs[i] + from;
      }
      if (from > 0) break;
    }
    const lost = lostRange(previous, this.boot, this.nextSeq);
    if (lost !== undefined) {
      this.nextSeq = lost.to + 1;
      if (runs.length === 0) firstKept = this.nextSeq;
    }
    // A new segment when the newest cannot be continued: damage hides higher seqs, or the seqs jump.
    if (this.active === null || lost !== undefined) this.roll(this.nextSeq);
    this.evictBefore(firstKept);
    const records = runs.length === 1 ? runs[0] : runs.reverse().flat();
    return { logId: this.logId, nextSeq: this.nextSeq, records, cut, ...(lost && { lost }) };
  }

  /** Makes the newest segment the active one, cutting it at `end` (rewriting its header when that was bad). */
  private continueSegment(file: string, end: number): void {
    const fd = fs.openSync(file, 'r+');
    try {
      fs.ftruncateSync(fd, end);
      if (end === 0) {
        fs.writeSync(fd, encodeHeader(this.logId, this.nextSeq), 0, HEADER_BYTES, 0);
        end = HEADER_BYTES;
      }
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    this.active = { fd, file, size: end };
  }

  /** Starts a new segment whose first record is `firstSeq`. */
  private roll(firstSeq: number): void {
    const file = this.file(firstSeq);
    const fd = fs.openSync(file, 'wx+', 0o644);
    try {
      fs.writeSync(fd, encodeHeader(this.logId, firstSeq), 0, HEADER_BYTES, 0);
      syncDir(this.dir);
    } catch (err) {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
      throw journalError(
        (err as { code?: string }).code ?? 'EIO',
        `journal: cannot start segment ${file}: ${(err as Error).message}`,
        file,
        err,
      );
    }
    const old = this.active;
    if (old !== null) {
      // Under `interval` the old segment's last second is synced by the next sync() rather than here, on the
      // append path; under `always` it is synced already, under `never` it never will be.
      if (this.dirty && this.options.fsync === 'interval') this.unsynced.push(old.fd);
      else fs.closeSync(old.fd);
      if (this.dirty && this.options.fsync === 'never') this.unsyncedNames.add(this.segments[this.segments.length - 1]);
    }
    this.active = { fd, file, size: HEADER_BYTES };
    if (this.segments[this.segments.length - 1] !== firstSeq) this.segments.push(firstSeq);
  }

  private usable(): void {
    if (this.closed) throw journalError('ERR_JOURNAL_CLOSED', `journal ${this.dir} is closed`, this.dir);
    if (this.failure !== null) {
      throw journalError(
        'ERR_JOURNAL_FAILED',
        `journal ${this.dir} failed earlier: ${this.failure.message}`,
        this.dir,
        this.failure,
      );
    }
  }

  /**
   * Appends one batch: seqs must be consecutive and continue the log (a batch that starts further on, after an
   * append that failed, starts a new segment: the journal then holds a hole that recovery does not cross).
   * One write(2) for the whole batch; under `always` one fdatasync(2) before returning. On failure (ENOSPC,
   * EFBIG, EIO…) the segment is cut back to where it was and the error thrown carries the system `code` and the
   * segment's `path`; nothing appended before is touched.
   */
  append(records: readonly JournalRecord[]): void {
    this.usable();
    const n = records.length;
    if (n === 0) return;
    const first = records[0].seq;
    // Compared as first > MAX - (n - 1): first + n - 1 would round to a safe value just above the limit.
    const ok = Number.isSafeInteger(first) && first >= this.nextSeq && first <= Number.MAX_SAFE_INTEGER - (n - 1);
    for (let i = 0; i < n; i++) {
      if (!ok || records[i].seq !== first + i) {
        throw journalError(
          'ERR_JOURNAL_SEQ',
          `journal: record ${i} of the batch has seq ${records[i].seq}; expected ${first + i} in a batch from ${first}, at or after ${this.nextSeq}, at most ${Number.MAX_SAFE_INTEGER}`,
          this.dir,
        );
      }
    }
    const bytes = this.encoder.encode(records);
    // The reservation is raised (durably) before any seq beyond it is written, so it is never below a seq that a
    // subscriber may have received.
    try {
      if (first + n > this.reserved) this.reserve(first + n + this.step(first + n));
      const active = this.active;
      if (
        active === null ||
        first !== this.nextSeq ||
        (active.size >= this.options.segmentBytes && active.size > HEADER_BYTES)
      ) {
        this.roll(first);
      }
      this.write(this.active as Active, bytes, first, n);
    } catch (err) {
      this.failedAppend(first + n);
      throw err;
    }
    this.failedTail = false;
    this.nextSeq = first + n;
    if (this.options.fsync === 'always') this.datasync((this.active as Active).fd);
    else this.dirty = true;
  }

  /**
   * The caller may already have delivered the seqs of a batch whose append failed (it serves from memory), but
   * they are not on disk: unless a later append succeeds, the next start must not reuse them, whatever the boot,
   * the fsync policy or the way the relay stops. Recorded now, best effort (the disk may be full: then only a
   * clean close that manages the write records it), and by close().
   */
  private failedAppend(end: number): void {
    this.failedTail = true;
    try {
      writeState(this.dir, { ...this.state(false), reserved: Math.max(this.reserved, end) });
      this.reserved = Math.max(this.reserved, end);
    } catch {
      // The append's own error is the one to report.
    }
  }

  /**
   * How far to reserve beyond `seq`: RESERVE_STEP, or about a second's worth of seqs at the rate seen since the
   * previous reservation when that is more, so that a fast relay writes the reservation about once a second
   * (bounded by MAX_RESERVE_STEP, which bounds the seqs a power cut makes skip).
   */
  private step(seq: number): number {
    const ms = Math.max(1, Number(process.hrtime.bigint() - this.reservedAt) / 1e6);
    const perSecond = ((seq - this.reservedFrom) * 1000) / ms;
    return Math.min(MAX_RESERVE_STEP, Math.max(RESERVE_STEP, Math.ceil(perSecond)));
  }

  private reserve(reserved: number): void {
    const was = this.reserved;
    this.reserved = reserved;
    try {
      writeState(this.dir, this.state(false));
    } catch (err) {
      this.reserved = was;
      const file = path.join(this.dir, STATE_FILE);
      throw journalError(
        (err as { code?: string }).code ?? 'EIO',
        `journal: cannot raise the seq reservation in ${file}: ${(err as Error).message}`,
        file,
        err,
      );
    }
    this.reservedAt = process.hrtime.bigint();
    this.reservedFrom = this.nextSeq;
  }

  private write(active: Active, bytes: Buffer, first: number, n: number): void {
    let done = 0;
    try {
      while (done < bytes.length) {
        const wrote = fs.writeSync(active.fd, bytes, done, bytes.length - done, active.size + done);
        if (wrote === 0) throw journalError('EIO', 'write(2) wrote nothing', active.file);
        done += wrote;
      }
    } catch (err) {
      if (done > 0) {
        // A partial batch must not stay in front of the next one.
        try {
          fs.ftruncateSync(active.fd, active.size);
        } catch (truncateErr) {
          this.failure = truncateErr as Error;
        }
      }
      const code = (err as { code?: string }).code ?? 'EIO';
      throw journalError(
        code,
        `journal: cannot append seqs ${first}…${first + n - 1} to ${active.file}: ${(err as Error).message}`,
        active.file,
        err,
      );
    }
    active.size += bytes.length;
  }

  private datasync(fd: number): void {
    try {
      fs.fdatasyncSync(fd);
    } catch (err) {
      this.failure = err as Error;
      throw journalError(
        'ERR_JOURNAL_FAILED',
        `journal ${this.dir}: fdatasync failed: ${(err as Error).message}`,
        this.dir,
        err,
      );
    }
  }

  /**
   * Messages below `seq` may be forgotten: deletes the segment files whose records all lie below it (never the
   * active one), then fsyncs the directory. Cheap when there is nothing to delete.
   */
  evictBefore(seq: number): void {
    if (this.closed || this.segments.length < 2 || this.segments[1] > seq) return;
    while (this.segments.length > 1 && this.segments[1] <= seq) {
      fs.rmSync(this.file(this.segments[0]), { force: true });
      this.unsyncedNames.delete(this.segments[0]);
      this.segments.shift();
    }
    syncDir(this.dir);
  }

  /**
   * fdatasync of whatever was appended since the last sync (the caller's timer calls it under `interval`). Also
   * raises the seq reservation when less than half a step is left, so that at moderate rates its write happens
   * here, on the timer, rather than on the append path.
   */
  sync(): void {
    if (this.closed) return;
    this.usable();
    for (const fd of this.unsynced) {
      this.datasync(fd);
      fs.closeSync(fd);
    }
    this.unsynced = [];
    if (this.dirty && this.active !== null) this.datasync(this.active.fd);
    this.dirty = false;
    const step = this.step(this.nextSeq);
    if (this.reserved - this.nextSeq < step / 2) this.reserve(this.nextSeq + step);
  }

  /**
   * Syncs, marks the stop clean (only when everything appended is on disk: then a reboot loses nothing and the
   * next start skips no seqs), closes the files and releases the lock; idempotent.
   */
  close(): void {
    if (this.closed) return;
    let error: { thrown: unknown } | null = null;
    try {
      if (this.failure === null) {
        this.sync();
        for (const seq of this.unsyncedNames) {
          const fd = fs.openSync(this.file(seq), 'r+');
          try {
            this.datasync(fd);
          } finally {
            fs.closeSync(fd);
          }
        }
        this.unsyncedNames.clear();
        writeState(this.dir, this.state(true));
      }
    } catch (err) {
      error = { thrown: err };
    }
    this.closed = true;
    for (const fd of [...this.unsynced, ...(this.active ? [this.active.fd] : []), this.lockFd]) fs.closeSync(fd);
    this.unsynced = [];
    this.active = null;
    if (error !== null) throw error.thrown;
  }
}
