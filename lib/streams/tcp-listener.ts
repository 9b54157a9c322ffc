/**
 * TcpListener: a listening stream socket as operations. `accept()` hands out one connection at a
 * time from batches taken with accept-until-EAGAIN (one readiness event often stands for many
 * connections); `serve(handler)` is the accept loop with a task per connection.
 */
import '../dispose';
import { errnoOf, SystemError, systemError, WOULD_BLOCK } from '../errors';
import { close } from '../fd';
import { waitReadable } from '../loop/fdwaiters';
import { ensure } from '../loop/ensure';
import { Operation } from '../loop/operation';
import { spawn } from '../loop/spawn';
import { HaltedError } from '../loop/task';
import { sleep } from '../loop/timers';
import { Address } from '../net/address';
import * as tcp from '../net/tcp';
import { closeFdNow } from '../loop/closefd';
import { TcpStream } from './tcp-stream';

/** Handles one connection; the connection is closed when it returns, throws or is halted. */
export type ConnectionHandler = (conn: TcpStream) => Operation<unknown>;

/**
 * accept(2) failures that say "not now" rather than "this listener is broken": the process or the
 * system is out of fds or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), or the connection at the head
 * of the queue failed (ECONNABORTED, and the network errors Linux passes on from the new socket:
 * EPROTO, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETDOWN, ENETUNREACH), or a
 * firewall or security module refused it (EPERM). None of them may end accepting.
 */
const TRANSIENT = new Set([
  'EMFILE',
  'ENFILE',
  'ENOBUFS',
  'ENOMEM',
  'ECONNABORTED',
  'EPERM',
  'EPROTO',
  'ENOPROTOOPT',
  'EHOSTDOWN',
  'ENONET',
  'EHOSTUNREACH',
  'EOPNOTSUPP',
  'ENETDOWN',
  'ENETUNREACH',
]);

/**
 * While accept fails transiently, the listener stops watching for readability and retries after a
 * pause that doubles from the first to the longest. Why not wait for readability: a listener with
 * connections queued stays readable (level-triggered), so every wait would return at once and
 * accept would fail again, a 100 % CPU spin for as long as fds are short. Why not a reserve fd
 * released to accept-and-close: that refuses the very subscribers waiting in the backlog, and
 * does nothing for ENFILE, ENOBUFS or ENOMEM. Pausing keeps the queued connections for when fds
 * come free (the kernel holds up to the backlog, then drops SYNs, which clients retry), costs one
 * accept call per pause, and resumes at most the longest pause after the shortage ends.
 */
const PAUSE_FIRST_MS = 5;
const PAUSE_LONGEST_MS = 100;

/** An accept episode: accept(2) failing transiently, and the listener pausing until it works again. */
export type AcceptPause =
  /** The first failure of an episode: the listener pauses. */
  | { state: 'paused'; error: SystemError }
  /** Accepting has caught up (nothing queued) after `failures` failed attempts over `ms` milliseconds. */
  | { state: 'resumed'; error: SystemError; failures: number; ms: number };

/** Options of a {@link TcpListener}: the socket's (backlog, SO_REUSEPORT) and how accepting runs. */
export interface ListenerOptions extends tcp.ListenOptions {
  /**
   * Told once when an accept episode begins and once when it ends (never once per failure), for
   * the owner's log. Accepting pauses and resumes by itself either way.
   */
  onAcceptPause?: (event: AcceptPause) => void;
}

/** The episode under way: its first error, when it began, how many attempts failed, the next pause. */
interface Episode {
  error: SystemError;
  since: number;
  failures: number;
  pauseMs: number;
}

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
  readonly #onAcceptPause: ListenerOptions['onAcceptPause'];
  #queue: tcp.Accepted[] = [];
  #closed = false;
  #episode: Episode | undefined;

  private constructor(fd: number, options: ListenerOptions) {
    this.#fd = fd;
    this.#onAcceptPause = options.onAcceptPause;
  }

  /**
   * Binds and listens (SO_REUSEADDR for TCP; `backlog` at least 511; `reusePort` to share the port;
   * `onAcceptPause` to hear about accept episodes such as EMFILE).
   */
  static listen(address: string | Address, options: ListenerOptions = {}): TcpListener {
    return new TcpListener(tcp.listen(address, options), options);
  }

  /**
   * A listening socket that is already open (inherited, e.g. from systemd): it becomes this
   * object's. Check its type first (see net/inherited.ts).
   */
  static adopt(fd: number, options: ListenerOptions = {}): TcpListener {
    return new TcpListener(fd, options);
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

  /**
   * The next connection (knowing its peer address), waiting for one when none is pending. Transient
   * failures (EMFILE, ENFILE, ENOBUFS, ENOMEM, ECONNABORTED…) pause accepting and retry, see
   * `onAcceptPause`; any other failure (EBADF, EINVAL: the listener itself is broken) is thrown.
   */
  *accept(): Operation<TcpStream> {
    for (;;) {
      const queued = this.#queue.shift();
      if (queued) return new TcpStream(queued.fd, queued.remote);
      if (this.#closed) throw systemError(errnoOf('EBADF'), 'accept', { fd: this.#fd });
      let batch: tcp.Accepted[] | typeof WOULD_BLOCK;
      try {
        batch = tcp.accept(this.#fd);
      } catch (e) {
        if (!TRANSIENT.has((e as SystemError).code)) throw e;
        yield* this.#pause(e as SystemError);
        continue;
      }
      if (batch === WOULD_BLOCK) {
        // Caught up (no connection queued, and on Linux an fd to spare, or accept would have said
        // EMFILE first): the episode is over. Until then a flood worked off at the fd limit
        // alternates between accepting and failing, and stays one episode.
        if (this.#episode) this.#resume(this.#episode);
        yield* waitReadable(this.#fd);
      } else {
        if (this.#episode) this.#episode.pauseMs = PAUSE_FIRST_MS;
        this.#queue = batch;
      }
    }
  }

  #resume(episode: Episode): void {
    this.#episode = undefined;
    this.#onAcceptPause?.({
      state: 'resumed',
      error: episode.error,
      failures: episode.failures,
      ms: Date.now() - episode.since,
    });
  }

  /** One failed attempt of an episode (the first one starts it): sleep instead of waiting for readability. */
  *#pause(error: SystemError): Operation<void> {
    let episode = this.#episode;
    if (!episode) {
      episode = this.#episode = { error, since: Date.now(), failures: 0, pauseMs: PAUSE_FIRST_MS };
      this.#onAcceptPause?.({ state: 'paused', error });
    }
    episode.failures++;
    const pauseMs = episode.pauseMs;
    episode.pauseMs = Math.min(PAUSE_LONGEST_MS, pauseMs * 2);
    yield* sleep(pauseMs);
  }

  /**
   * The accept loop: each connection gets its own task running `handler(conn)`, and the connection
   * is closed when that task ends. A handler that throws is reported through the loop's `onError`
   * and the listener goes on. Transient accept failures (EMFILE…) pause it, as in `accept`. Runs until
   * halted, or until accept fails for good, which is thrown.
   *
   * Policy when `serve` ends: the listener closes (no new connection), every connection task still
   * running is halted (its `finally` blocks run and its connection closes), and `serve` returns or
   * throws only once cleanup that itself waits (say a TLS close_notify) has finished. The connection
   * tasks are children of an accepting task (see `spawn`), so their lifetime is the task system's.
   */
  *serve(handler: ConnectionHandler): Operation<never> {
    const accepting = spawn(this.#acceptLoop(handler));
    return yield* ensure(accepting.join(), function* () {
      accepting.halt();
      try {
        yield* accepting.join();
      } catch (err) {
        if (!(err instanceof HaltedError)) throw err;
      }
    });
  }

  *#acceptLoop(handler: ConnectionHandler): Operation<never> {
    // Accepted connections whose task has not taken its first step: halting such a task runs none of
    // its code, so its connection is closed here instead.
    const unstarted = new Set<TcpStream>();
    try {
      for (;;) {
        const conn = yield* this.accept();
        unstarted.add(conn);
        spawn(function* () {
          unstarted.delete(conn);
          try {
            return yield* handler(conn);
          } finally {
            yield* conn.close();
          }
        });
      }
    } finally {
      for (const conn of unstarted) conn[Symbol.dispose]();
      yield* this.close();
    }
  }

  /** Closes the listener and the accepted connections not handed out yet. Idempotent. */

  *close(): Operation<void> {
    this[Symbol.dispose]();
  }

  /** `using listener = …`: {@link close} at the end of the block (it never waits). */
  [Symbol.dispose](): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const { fd } of this.#queue.splice(0)) close(fd);
    closeFdNow(this.#fd, () => close(this.#fd));
  }
}
