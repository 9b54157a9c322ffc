/**
 * logtail's state file: which log it reads, the sequence number of the last message it wrote out,
 * and how long its output was then. Written after each batch of output, so that a restart knows
 * both where to resume and where the output's recorded part ends (anything after it is a torn or
 * unrecorded tail that the restart cuts before writing again).
 *
 * A write replaces the file atomically (temp file, fsync, rename): a reader sees the old state or
 * the new one, never a mix. The directory is not fsynced: if a crash loses the rename, the old state
 * still describes a prefix of the output, which the restart repairs to — a batch is written again,
 * nothing is lost or doubled.
 */
import * as fs from 'fs';

export interface TailState {
  /** The relay's log id (16 lowercase hex digits). */
  log: string;
  /** Sequence number of the last message written out (or skipped by a gap): the resume point. */
  seq: number;
  /** Bytes of output when `seq` was written (meaningful when the output is a regular file). */
  outputBytes: number;
}

/** A state file that exists but cannot be used. */
export interface StateError extends Error {
  code: 'ERR_LOGTAIL_STATE';
  path: string;
}

function stateError(path: string, why: string): StateError {
  const err = new Error(`state file ${path}: ${why} (remove it to start afresh with --from)`) as StateError;
  err.code = 'ERR_LOGTAIL_STATE';
  err.path = path;
  return err;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The state in `path`; undefined when there is no such file. Throws a StateError for anything unusable. */
export function readState(path: string): TailState | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw stateError(path, (err as Error).message);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw stateError(path, `not JSON: ${JSON.stringify(text.slice(0, 60))}`);
  }
  const v = value as Partial<TailState> | null;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw stateError(path, 'not a JSON object');
  if (typeof v.log !== 'string' || !/^[0-9a-f]{16}$/.test(v.log))
    throw stateError(path, `bad "log" ${JSON.stringify(v.log)}`);
  if (!isCount(v.seq)) throw stateError(path, `bad "seq" ${JSON.stringify(v.seq)}`);
  if (!isCount(v.outputBytes)) throw stateError(path, `bad "outputBytes" ${JSON.stringify(v.outputBytes)}`);
  return { log: v.log, seq: v.seq, outputBytes: v.outputBytes };
}

/** Replaces the state in `path` atomically and durably (temp file `path.tmp`, fsync, rename). */
export function writeState(path: string, state: TailState): void {
  const temp = `${path}.tmp`;
  const fd = fs.openSync(temp, 'w', 0o644);
  try {
    fs.writeSync(fd, `${JSON.stringify({ log: state.log, seq: state.seq, outputBytes: state.outputBytes })}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, path);
}
