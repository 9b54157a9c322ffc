/**
 * Where logtail writes messages: its stdout, whatever that is. Knows whether it is a regular file,
 * because only then can the output's length be recorded and a torn or unrecorded tail be cut at
 * the next start (the exactly-once guarantee); a pipe or terminal only gets bytes appended.
 */
import * as fs from 'fs';
import { waitWritable } from '../loop/fdwaiters';
import { Operation } from '../loop/operation';

/** What {@link Output.repair} did to the output file. */
export type Repair = { kind: 'none' } | { kind: 'cut'; bytes: number } | { kind: 'short'; bytes: number };

export class Output {
  /** True when the fd is a regular file: writes are positional and `bytes` is the file's length. */
  readonly regularFile: boolean;
  #bytes: number;

  constructor(readonly fd = 1) {
    const st = fs.fstatSync(fd);
    this.regularFile = st.isFile();
    this.#bytes = this.regularFile ? st.size : 0;
  }

  /** Bytes the output holds (a regular file) or that were written to it (anything else). */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Makes a regular file end where a state recorded it: a longer file is cut to `recorded` bytes
   * (what follows was written after the last state, and its messages come again); a shorter one is
   * left alone and reported, because what is missing cannot be rebuilt here (someone truncated or
   * replaced the file, or a power cut lost data the state had already counted).
   */
  repair(recorded: number): Repair {
    if (!this.regularFile || this.#bytes === recorded) return { kind: 'none' };
    if (this.#bytes < recorded) return { kind: 'short', bytes: recorded - this.#bytes };
    const cut = this.#bytes - recorded;
    fs.ftruncateSync(this.fd, recorded);
    this.#bytes = recorded;
    return { kind: 'cut', bytes: cut };
  }

  /**
   * Writes all of `data`. A regular file is written at its recorded end (pwrite), so the output
   * stays consistent whether the shell opened it with `>>` or not. A non-blocking pipe that is full
   * makes the task wait for writability instead of failing with EAGAIN.
   */
  *write(data: Uint8Array): Operation<void> {
    let off = 0;
    while (off < data.length) {
      let n: number;
      try {
        n = this.regularFile
          ? fs.writeSync(this.fd, data, off, data.length - off, this.#bytes)
          : fs.writeSync(this.fd, data, off, data.length - off);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        yield* waitWritable(this.fd);
        continue;
      }
      off += n;
      this.#bytes += n;
    }
  }
}
