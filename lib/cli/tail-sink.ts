/**
 * Where messages go: formatted into a batch, then written out, then recorded. The order is what
 * makes a regular-file output exactly-once across kill -9: the state (resume point and output
 * length) is written only after the batch's bytes are in the file, so after a crash the file either
 * ends where the state says, or has an unrecorded tail that the next start cuts before resuming.
 * On a pipe, a crash between the two writes repeats at most that one batch.
 */
import { Operation } from '../loop/operation';
import { Meta } from '../relay/client';
import { Format, formatMessage } from './tail-format';
import { Output } from './tail-output';
import { readState, TailState, writeState } from './tail-state';

/** Where the output stands in a relay's log: every message up to `seq` of `log` has been handled. */
export interface Position {
  log: string;
  seq: number;
}

/** A batch is written out when it holds this much (or sooner, when no more input is waiting). */
export const BATCH_BYTES = 256 * 1024;

export interface SinkOptions {
  format: Format;
  /** The state file, if any. */
  statePath?: string;
  /** Stop after this many messages (0: never). */
  count: number;
}

/** Writing the output or the state failed: logtail cannot go on without losing track. */
export class OutputError extends Error {
  readonly code = 'ERR_LOGTAIL_OUTPUT';
  constructor(
    what: string,
    override readonly cause: unknown,
  ) {
    super(`${what}: ${(cause as Error).message}`);
  }
}

export class Sink {
  readonly #output: Output;
  readonly #options: SinkOptions;
  #position: Position | undefined;
  /** The position once the pending batch is written. */
  #pendingPosition: Position | undefined;
  #chunks: Buffer[] = [];
  #pendingBytes = 0;
  #written = 0;
  #accepted = 0;
  #dirty = false;
  /** Set when writing the output or the state failed: nothing more may be recorded. */
  #failed: OutputError | undefined;

  constructor(output: Output, options: SinkOptions, position?: Position) {
    this.#output = output;
    this.#options = options;
    this.#position = position;
    this.#pendingPosition = position;
  }

  /**
   * Reads the state file (if any) and repairs a regular-file output to the length it records.
   * Returns the sink, the state found, and what the repair did.
   */
  static open(
    output: Output,
    options: SinkOptions,
  ): { sink: Sink; state: TailState | undefined; repair: ReturnType<Output['repair']> } {
    const state = options.statePath === undefined ? undefined : readState(options.statePath);
    const repair = state ? output.repair(state.outputBytes) : ({ kind: 'none' } as const);
    return { sink: new Sink(output, options, state && { log: state.log, seq: state.seq }), state, repair };
  }

  /** Where the written output stands (the pending batch excluded). */
  get position(): Position | undefined {
    return this.#position;
  }

  /** Where the output will stand once the pending batch is written: the point to resume after. */
  get resumePoint(): Position | undefined {
    return this.#pendingPosition;
  }

  /** Messages written out so far. */
  get written(): number {
    return this.#written;
  }

  /** True once `count` messages were accepted: take no more. */
  get full(): boolean {
    return this.#options.count > 0 && this.#accepted >= this.#options.count;
  }

  /** True when a batch waits to be written (or the position moved and is not recorded yet). */
  get pending(): boolean {
    return this.#dirty;
  }

  /** True when the pending batch is big enough to write now. */
  get batchFull(): boolean {
    return this.#pendingBytes >= BATCH_BYTES;
  }

  /**
   * Adds a message to the batch; `at` is its place in the log (absent from a plain relay).
   * False, and nothing added, once `count` messages were taken.
   */
  add(message: Buffer, at?: Position, meta?: Meta): boolean {
    if (this.full) return false;
    for (const chunk of formatMessage(this.#options.format, message, at?.seq, meta)) {
      this.#chunks.push(chunk);
      this.#pendingBytes += chunk.length;
    }
    this.#accepted++;
    if (at) this.#pendingPosition = at;
    this.#dirty = true;
    return true;
  }

  /** Moves the position without output: messages up to `to` will never be printed (a gap, or a live start). */
  skipTo(to: Position): void {
    this.#pendingPosition = to;
    this.#dirty = true;
  }

  /** Writes the pending batch out, then records the state. */
  *flush(): Operation<void> {
    if (this.#failed) throw this.#failed;
    if (!this.#dirty) return;
    const chunks = this.#chunks;
    try {
      if (chunks.length > 0) yield* this.#output.write(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    } catch (err) {
      throw (this.#failed = new OutputError('output', err));
    }
    this.#chunks = [];
    this.#pendingBytes = 0;
    this.#written = this.#accepted;
    this.#position = this.#pendingPosition;
    this.#dirty = false;
    if (this.#options.statePath !== undefined && this.#position) {
      try {
        writeState(this.#options.statePath, { ...this.#position, outputBytes: this.#output.bytes });
      } catch (err) {
        throw (this.#failed = new OutputError(`state file ${this.#options.statePath}`, err));
      }
    }
  }
}
