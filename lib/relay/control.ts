/**
 * Commands to a running relay engine through a pipe. A pipe works the same whether the engine's loop
 * runs in this thread (integrated) or blocks in a worker thread (blocking mode), where nothing but an
 * fd its loop waits on can reach it. Wire format: one command byte; `stop` is followed by the drain
 * time in milliseconds as a 32-bit unsigned integer.
 */
import { pipe, write, close } from '../fd';
import { FdStream } from '../streams';
import type { Operation } from '../loop';

export type Command = { kind: 'stop'; drainMs: number } | { kind: 'reload' };

const STOP = 0x73; // 's'
const RELOAD = 0x68; // 'h'

/** The sending end, kept by whoever controls the engine. */
export class ControlPipe {
  readonly readFd: number;
  readonly #writeFd: number;

  constructor() {
    [this.readFd, this.#writeFd] = pipe();
  }

  send(command: Command): void {
    const bytes = Buffer.alloc(command.kind === 'stop' ? 5 : 1);
    bytes[0] = command.kind === 'stop' ? STOP : RELOAD;
    if (command.kind === 'stop') bytes.writeUInt32BE(Math.max(0, Math.min(command.drainMs, 0xffffffff)), 1);
    write(this.#writeFd, bytes); // a few bytes into an empty pipe: never partial, never blocks
  }

  close(): void {
    close(this.#writeFd);
  }

  /**
   * Closes both ends: for a start that failed before the engine's command task took the read end
   * (that task closes it when it ends; a task that never ran closes nothing).
   */
  discard(): void {
    close(this.readFd);
    this.close();
  }
}

/** The engine's side: runs each command as it arrives; returns after `stop`, or when the sender closes. */
export function* serveCommands(readFd: number, run: (c: Command) => Operation<void>): Operation<void> {
  const stream = new FdStream(readFd);
  try {
    for (;;) {
      const head = yield* stream.read(1);
      if (head === null) return;
      if (head[0] === RELOAD) {
        yield* run({ kind: 'reload' });
      } else if (head[0] === STOP) {
        const drainMs = (yield* stream.readExactly(4)).readUInt32BE(0);
        yield* run({ kind: 'stop', drainMs });
        return;
      }
    }
  } finally {
    yield* stream.close();
  }
}
