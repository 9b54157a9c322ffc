/**
 * The small files of a journal directory besides its segments — `lock`, `log-id`, `state` — and how they are
 * written: atomically (temp file, fdatasync, rename, directory fsync), so that after any crash a reader finds
 * either the old content or the new, never a mix. Also what `state` says about seqs a lost run handed out
 * ({@link lostRange}).
 *
 * `state` holds what the next start needs to know about the run that wrote it:
 * ```
 * reserved 65537        every seq handed out so far is below this (the reservation high-water mark)
 * boot <id>|-           the machine's boot id when it was written (- where the system gives none)
 * fsync interval        the fsync policy of that run
 * clean 0|1             1 only when the run closed the journal after everything it appended was on disk
 * failed 0|1            1 when the run's last append failed (its seqs may have been delivered, they are not on disk)
 * ```
 * Together they tell a restart after a relay crash (same boot: the page cache, hence every appended record, is
 * still there) from one after a power cut or a machine crash (another boot: the disk may have lost records that
 * subscribers already received), see {@link Journal.open}.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { lockExclusive } from '../fd';

/** An error with a `code` and the `path` it is about. */
export interface JournalError extends Error {
  code: string;
  path: string;
  errno?: number;
  syscall?: string;
}

export function journalError(code: string, message: string, file: string, cause?: unknown): JournalError {
  const err = new Error(message, cause === undefined ? undefined : { cause }) as JournalError;
  err.code = code;
  err.path = file;
  const sys = cause as { errno?: unknown; syscall?: unknown } | undefined;
  if (typeof sys?.errno === 'number') err.errno = sys.errno;
  if (typeof sys?.syscall === 'string') err.syscall = sys.syscall;
  return err;
}

/** Makes creations, renames and deletions of names in `dir` durable. */
export function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Replaces `dir/name` with `text` atomically and durably (the temp file is `name.tmp`). */
export function writeFileAtomic(dir: string, name: string, text: string): void {
  const file = path.join(dir, name);
  const temp = `${file}.tmp`;
  const fd = fs.openSync(temp, 'w', 0o644);
  try {
    fs.writeSync(fd, text);
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, file);
  syncDir(dir);
}

export interface RunState {
  /** Every seq handed out is below this. */
  reserved: number;
  /** The boot id, or null where the system has none. */
  boot: string | null;
  fsync: string;
  clean: boolean;
  failedTail: boolean;
}

export const STATE_FILE = 'state';
const LOG_ID = /^[0-9a-f]{16}$/;
const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

/**
 * The id of the current boot of the machine: Linux makes a random one at every boot. Elsewhere null, which makes
 * every start after an unclean stop count as a possible power cut (a jump of the seqs; nothing repeats).
 */
export function currentBootId(): string | null {
  try {
    const id = fs.readFileSync(BOOT_ID_FILE, 'utf8').trim();
    return /^[0-9a-f-]{8,64}$/.test(id) ? id : null;
  } catch {
    // No such file (not Linux, or no /proc): without an id every unclean stop counts as a reboot, which
    // costs a jump of the seqs but never repeats one.
    return null;
  }
}

/** The state in `dir`, or null when there is none (a new directory). A malformed file is an error, not a guess. */
export function readState(dir: string): RunState | null {
  const file = path.join(dir, STATE_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return null;
    throw err;
  }
  const m =
    /^reserved (\d{1,16})\nboot ([0-9a-f-]{8,64}|-)\nfsync (never|interval|always)\nclean ([01])\nfailed ([01])\n$/.exec(
      text,
    );
  const reserved = m ? Number(m[1]) : 0;
  if (!m || !Number.isSafeInteger(reserved) || reserved < 1) {
    throw journalError(
      'ERR_JOURNAL_STATE',
      `${file} is malformed: restore it, or delete it to accept that seqs handed out before a power cut may be given out again`,
      file,
    );
  }
  return { reserved, boot: m[2] === '-' ? null : m[2], fsync: m[3], clean: m[4] === '1', failedTail: m[5] === '1' };
}

export function writeState(dir: string, state: RunState): void {
  writeFileAtomic(
    dir,
    STATE_FILE,
    `reserved ${state.reserved}\nboot ${state.boot ?? '-'}\nfsync ${state.fsync}\nclean ${state.clean ? 1 : 0}\nfailed ${state.failedTail ? 1 : 0}\n`,
  );
}

/**
 * The seqs the previous run may have handed out that are no longer on disk, or undefined; `recoveredNext` is the
 * seq after the records recovery found, `boot` this boot's id.
 */
export function lostRange(
  previous: RunState | null,
  boot: string | null,
  recoveredNext: number,
): { from: number; to: number } | undefined {
  // The last append failed and no later one covered its seqs: they may have been delivered from memory.
  if (previous?.failedTail && previous.reserved > recoveredNext)
    return { from: recoveredNext, to: previous.reserved - 1 };
  // Same boot: the relay stopped but the machine did not, so the page cache held every record that was ever
  // appended and recovery saw them all. Another boot after an unclean stop, without `always`: the disk may
  // have lost records whose seqs were handed out; only the reservation still bounds them.
  if (
    previous === null ||
    previous.clean ||
    previous.fsync === 'always' ||
    (previous.boot !== null && boot !== null && previous.boot === boot) ||
    previous.reserved <= recoveredNext
  ) {
    return undefined;
  }
  return { from: recoveredNext, to: previous.reserved - 1 };
}

/** Takes the directory's lock; returns the lock file's fd, which holds the lock until it is closed. */
export function lockDir(dir: string): number {
  const file = path.join(dir, 'lock');
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    lockExclusive(fd);
  } catch (err) {
    let holder = '';
    try {
      holder = fs.readFileSync(file, 'utf8').trim();
    } catch {
      // The pid is only for the message.
    }
    fs.closeSync(fd);
    const code = (err as { code?: string }).code;
    if (code !== 'EWOULDBLOCK' && code !== 'EAGAIN') throw err;
    const who = /^\d+$/.test(holder) ? `process ${holder}` : 'another process';
    throw journalError('ERR_JOURNAL_LOCKED', `history dir ${dir} is in use by ${who} (lock held on ${file})`, dir, err);
  }
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, `${process.pid}\n`, 0);
  return fd;
}

/** The directory's log id, made if the directory holds no log yet. */
export function readLogId(dir: string, hasSegments: boolean): string {
  const file = path.join(dir, 'log-id');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
    if (hasSegments) {
      throw journalError(
        'ERR_JOURNAL_LOG_ID',
        `history dir ${dir} has segment files but no log-id file: restore it or empty the directory`,
        file,
      );
    }
    const logId = randomBytes(8).toString('hex');
    writeFileAtomic(dir, 'log-id', `${logId}\n`);
    return logId;
  }
  const logId = text.trim();
  if (!LOG_ID.test(logId)) {
    throw journalError(
      'ERR_JOURNAL_LOG_ID',
      `${file} does not hold a log id (16 hex digits): restore it or empty the directory`,
      file,
    );
  }
  return logId;
}
