/**
 * TcpListener: a listening stream socket as operations. `accept()` hands out one connection at a
 * time from batches taken with accept-until-EAGAIN (one readiness event often stands for many
 * connections); `serve(handler)` is the accept loop with a task per connection.
 */
import { errnoOf, systemError, WOULD_BLOCK } from '../errors';
import { close } from '../fd';
import { waitReadable } from '../loop/fdwaiters';
import { Mailbox } from '../loop/mailbox';
import { Operation } from '../loop/operation';
import { spawn } from '../loop/spawn';
import type { Task } from '../loop/task';
import { Address } from '../net/address';
import * as tcp from '../net/tcp';
import { closeFd } from './closefd';
import { TcpStream } from './tcp-stream';

/** Handles one connection; the connection is closed when it returns, throws or is halted. */
export type ConnectionHandler = (conn: TcpStream) => Operation<unknown>;

/**
 * A listening TCP (or unix stream) socket. It owns its fd and the accepted fds not yet handed out.
 *
 * ```ts
 * const listener = TcpListener.listen('127.0.0.1:7000');
 * yield* listener.serve(function* (conn) {
 *   for (let line = yield* conn.readLine(); line; line = yield* conn.readLine()) yield* conn.write(line);
 * });
 * ```
 */
export class TcpListener {
  readonly #fd: number;
  #queue: tcp.Accepted[] = [];
  #closed = false;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** Binds and listens (SO_REUSEADDR for TCP; `backlog` at least 511; `reusePort` to share the port). */
  static listen(address: string | Address, options: tcp.ListenOptions = {}): TcpListener {
    return new TcpListener(tcp.listen(address, options));
  }

  /** The listening fd (for socket options that accepted sockets inherit, such as SO_RCVBUF). */
  get fd(): number {
    return this.#fd;
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The bound address (with the kernel's port when listening on port 0). */
  localAddress(): Address {
    return tcp.localAddress(this.#fd);
  }

  /** The next connection, waiting for one when none is pending. Accept failures (EMFILE…) are thrown. */
  *accept(): Operation<TcpStream> {
    for (;;) {
      const queued = this.#queue.shift();
      if (queued) return new TcpStream(queued.fd);
      if (this.#closed) throw systemError(errnoOf('EBADF'), 'accept', { fd: this.#fd });
      const batch = tcp.accept(this.#fd);
      if (batch === WOULD_BLOCK) yield* waitReadable(this.#fd);
      else this.#queue = batch;
    }
  }

  /**
   * The accept loop: each connection gets its own task running `handler(conn)`, and the connection
   * is closed when that task ends. A handler that throws is reported through the loop's `onError`
   * and the listener goes on. Runs until halted (or until accept fails, which is thrown).
   *
   * Policy when `serve` ends: every connection task still running is halted (its `finally` blocks
   * run and its connection closes), `serve` waits until cleanup that itself waits (say a TLS
   * close_notify) has finished, then closes the listener.
   */
  *serve(handler: ConnectionHandler): Operation<never> {
    const children = new Map<Task<unknown>, TcpStream>();
    let exits: Mailbox<true> | undefined;
    try {
      for (;;) {
        const conn = yield* this.accept();
        const child: Task<unknown> = spawn(function* () {
          try {
            return yield* handler(conn);
          } finally {
            children.delete(child);
            yield* conn.close();
            exits?.tryPut(true);
          }
        });
        children.set(child, conn);
      }
    } finally {
      const live = [...children];
      exits = new Mailbox<true>(live.length + 1);
      for (const [task] of live) task.halt();
      // A task halted before its first step never ran its finally: its connection is closed here.
      for (const [, conn] of live) yield* conn.close();
      while (live.some(([task]) => task.state !== 'done')) yield* exits.take();
      yield* this.close();
    }
  }

  /** Closes the listener and the accepted connections not handed out yet. Idempotent. */
  *close(): Operation<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const { fd } of this.#queue.splice(0)) close(fd);
    yield* closeFd(this.#fd, () => close(this.#fd));
  }
}
