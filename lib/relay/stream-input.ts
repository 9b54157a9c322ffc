/**
 * A syslog input over TCP (RFC 6587) or TLS (RFC 5425): a listener, and a task per sender that
 * frames messages out of its stream (stream-frames.ts) and appends them to the relay's log.
 *
 * Senders are never slowed by subscribers: appending to the log never waits (subscribers are cursors
 * that catch up on their own), so a sender is read as fast as it sends. What a sender can cost the
 * relay is bounded:
 * - memory: at most `maxMessage` bytes of a message being read (longer ones are cut, counted);
 * - fds: at most `maxSenders` admitted senders per input — a connection beyond it is closed at once
 *   (counted as refused); on a TLS input, connections still in their handshake are bounded apart,
 *   by the same per-address and total caps as subscriber handshakes (PendingHandshakes);
 * - time: a sender that completes no message for `idleMs` is disconnected. Counting from the last
 *   complete message, not the last byte, is what ends a slowloris that trickles one frame forever;
 * - accept under EMFILE pauses and resumes as TcpListener does for subscribers.
 * A sender that breaks the framing is closed with a `sender-disconnected` line naming it and the
 * offending byte.
 */
import { close as closeFd } from '../fd';
import { HaltedError, Loop, Operation, timeout, yieldNow } from '../loop';
import type { Task } from '../loop';
import { isTimeoutError } from '../loop/timers';
import { keepAliveAfter, setKeepAlive } from '../net/keepalive';
import { ByteStream, TcpListener, TcpStream, TlsStream } from '../streams';
import type { AcceptPause } from '../streams';
import type { TlsContext, VerifyMode } from '../tls';
import { PendingHandshakes, sourceOf } from './handshakes';
import { errorText } from './log';
import type { Logger } from './log';
import { RejectionLog } from './ratelog';
import type { Counters } from './stats';
import { FrameReader, FrameSink, FramingError } from './stream-frames';

/** A sender as the log records it: its address text, its raw-address key, the history's source id for it (-1 until known). */
export interface Sender {
  readonly key: string;
  readonly address: string;
  id: number;
}

/** Where an input puts what it frames: the relay's log. */
export interface LogAppender {
  /** Appends one message (its bytes are valid only during the call). */
  append(message: Buffer, time: number, sender: Sender): void;
  /** An empty message arrived (counted, nothing appended). */
  empty(): void;
  /** After a run of appends: the journal write, the stats, and waking the subscribers. */
  flush(): void;
}

export interface StreamInputConfig {
  kind: 'tcp' | 'tls';
  /** Where to listen; or, with `fd`, the socket to adopt (a listening TCP socket passed by socket activation). */
  address: string;
  fd?: number;
  /** This input's slot in the counters. */
  index: number;
  maxMessage: number;
  maxSenders: number;
  /** 0: no idle limit. */
  idleMs: number;
  handshakeTimeoutMs: number;
  maxHandshakes: number;
  maxHandshakesPerIp: number;
  keepAliveS: number;
  rejectionLogBurst: number;
  rejectionLogIntervalS: number;
  /** TLS: how sender certificates are checked (`optional`: one that is presented must verify). */
  verify?: VerifyMode;
  /** TLS: the context new connections get (read at each accept, so a reload applies to the next sender). */
  context?: () => TlsContext;
}

/** One accepted connection, from accept to close. */
interface Connection {
  readonly tcp: TcpStream;
  tls?: TlsStream;
  task?: Task<void>;
  readonly sender: Sender;
  readonly source: string;
  /** A unix stream peer (an input on a socket path): TCP keepalive does not apply. */
  readonly unix: boolean;
}

export class StreamInput {
  readonly #listener: TcpListener;
  readonly #connections = new Set<Connection>();
  readonly #handshaking: PendingHandshakes<Connection>;
  readonly #rejections: RejectionLog;
  /** Admitted senders now. */
  #senders = 0;
  #closed = false;

  /** Binds (throwing EADDRINUSE and the like); `run()` starts accepting. */
  constructor(
    readonly config: StreamInputConfig,
    readonly loop: Loop,
    readonly appender: LogAppender,
    readonly counters: Counters,
    readonly log: Logger,
  ) {
    this.#handshaking = new PendingHandshakes(config.maxHandshakes, config.maxHandshakesPerIp);
    this.#rejections = new RejectionLog(
      loop,
      log,
      'sender-rejected',
      config.rejectionLogBurst,
      config.rejectionLogIntervalS * 1000,
    );
    const listenerOptions = {
      onAcceptPause: (e: AcceptPause) =>
        e.state === 'paused'
          ? log('warn', 'accept-paused', { input: this.name, code: e.error.code, reason: e.error.message })
          : log('info', 'accept-resumed', { input: this.name, code: e.error.code, failures: e.failures, ms: e.ms }),
    };
    this.#listener =
      config.fd === undefined
        ? TcpListener.listen(config.address, listenerOptions)
        : TcpListener.adopt(config.fd, listenerOptions);
  }

  /** Where it listens (with the kernel's port when 0 was asked). */
  get address(): string {
    return this.#listener.localAddress().toString();
  }

  /** `tcp:ADDRESS` or `tls:ADDRESS`, as log lines name the input. */
  get name(): string {
    return `${this.config.kind}:${this.address}`;
  }

  /** The accept loop; runs until halted. */
  *run(): Operation<void> {
    for (;;) {
      const tcp = yield* this.#listener.accept();
      let conn: Connection;
      try {
        const remote = tcp.remoteAddress();
        conn = {
          tcp,
          unix: remote.family === 'unix',
          source: sourceOf(remote),
          sender: { key: Buffer.from(remote.raw).toString('latin1'), address: remote.toString(), id: -1 },
        };
      } catch (e) {
        // Nothing above fails for a socket accept returned; should it, the connection still closes.
        yield* tcp.close();
        this.#reject('', '', errorText(e));
        continue;
      }
      if (this.config.kind === 'tcp' && this.#senders >= this.config.maxSenders) {
        yield* this.#refuse(conn);
        continue;
      }
      const evicted = this.config.kind === 'tls' ? this.#handshaking.add(conn.source, conn.sender.address, conn) : [];
      this.#connections.add(conn);
      conn.task = this.loop.spawn(this.#serve(conn));
      for (const e of evicted) {
        yield* this.#cut(e.item);
        this.#reject(e.address, e.source, e.reason);
      }
    }
  }

  /** Closes the listening socket of an input whose `run()` never started (the relay failed to start). */
  discard(): void {
    this.#closed = true;
    closeFd(this.#listener.fd);
  }

  /** Stops listening and disconnects every sender (what they sent so far is in the log). */
  *close(): Operation<void> {
    if (this.#closed) return;
    this.#closed = true;
    yield* this.#listener.close();
    this.#handshaking.clear();
    for (const conn of [...this.#connections]) yield* this.#cut(conn);
    this.#rejections.close();
  }

  /** Ends a connection's task and closes it (a task halted before its first step never ran its `finally`). */
  *#cut(conn: Connection): Operation<void> {
    this.#connections.delete(conn);
    conn.task?.halt();
    yield* (conn.tls ?? conn.tcp).close();
  }

  *#refuse(conn: Connection): Operation<void> {
    this.counters.addStream(this.config.index, 'refused');
    yield* (conn.tls ?? conn.tcp).close();
    this.#note(conn.sender.address, conn.source, `over ${this.config.maxSenders} senders`);
  }

  #reject(address: string, source: string, reason: string): void {
    this.counters.addStream(this.config.index, 'rejected');
    this.#note(address, source, reason);
  }

  #note(address: string, source: string, reason: string): void {
    this.#rejections.note(address, source, reason, { input: this.name });
  }

  /** TLS: the handshake and the sender's certificate; false when the sender was rejected. */
  *#handshake(conn: Connection): Operation<boolean> {
    const c = this.config;
    try {
      const tls = (conn.tls = TlsStream.server(conn.tcp, c.context!()));
      yield* timeout(c.handshakeTimeoutMs, tls.handshake());
      // `optional` lets OpenSSL finish whatever the certificate: one that was presented must have verified.
      if (c.verify === 'optional' && tls.peerCertificate() && tls.session.verifyCode !== 0) {
        throw new Error(`certificate not verified: ${tls.session.verifyResult}`);
      }
      return true;
    } catch (e) {
      if (e instanceof HaltedError) throw e;
      this.#reject(conn.sender.address, conn.source, isTimeoutError(e) ? 'handshake timed out' : errorText(e));
      return false;
    } finally {
      this.#handshaking.delete(conn);
    }
  }

  *#serve(conn: Connection): Operation<void> {
    const c = this.config;
    const counters = this.counters;
    const reader = new FrameReader(c.maxMessage);
    let admitted = false;
    let reason = 'peer closed';
    let broken = false;
    let received = 0;
    let cut = 0;
    let appended = false;
    const sender = conn.sender;
    const sink: FrameSink = {
      message: (bytes, wasCut) => {
        this.appender.append(bytes, Date.now(), sender);
        received++;
        appended = true;
        counters.addStream(c.index, 'received');
        if (wasCut) {
          cut++;
          counters.addStream(c.index, 'cut');
        }
      },
      empty: () => this.appender.empty(),
    };
    try {
      // A unix peer's address is its path, or '' when it did not bind one: the family says what it is.
      if (c.keepAliveS > 0 && !conn.unix) setKeepAlive(conn.tcp.fd, keepAliveAfter(c.keepAliveS));
      if (c.kind === 'tls' && !(yield* this.#handshake(conn))) return;
      if (this.#senders >= c.maxSenders) {
        yield* this.#refuse(conn);
        return;
      }
      admitted = true;
      this.#senders++;
      counters.addStream(c.index, 'accepted');
      counters.addStream(c.index, 'connections');
      this.log('info', 'sender-connected', {
        input: this.name,
        address: sender.address,
        subject: conn.tls?.peerCertificate()?.subject,
      });
      const stream: ByteStream = conn.tls ?? conn.tcp;
      let lastMessage = Date.now();
      for (;;) {
        let chunk: Buffer | null;
        if (c.idleMs > 0) {
          chunk = yield* timeout(Math.max(1, lastMessage + c.idleMs - Date.now()), stream.read());
        } else {
          chunk = yield* stream.read();
        }
        const before = received;
        if (chunk === null) reader.end(sink);
        else reader.push(chunk, sink);
        if (received > before) lastMessage = Date.now();
        if (appended) {
          appended = false;
          this.appender.flush();
          // Let the subscribers write before the next chunk, as the datagram inputs do after a batch.
          yield* yieldNow();
        }
        if (chunk === null) break;
      }
    } catch (e) {
      if (e instanceof FramingError) {
        reason = e.message;
        broken = true;
        counters.addStream(c.index, 'closedFraming');
      } else if (isTimeoutError(e)) {
        reason = `no complete message for ${c.idleMs / 1000} s`;
        counters.addStream(c.index, 'closedIdle');
      } else {
        reason = errorText(e);
      }
    } finally {
      // Messages framed before a framing error (or a halt) in the same chunk are in the log: publish them.
      if (appended) this.appender.flush();
      this.#connections.delete(conn);
      if (admitted) {
        this.#senders--;
        counters.addStream(c.index, 'connections', -1);
        const partial = reader.partial;
        if (partial) counters.addStream(c.index, 'partial');
        if (!this.#closed) {
          this.log(broken ? 'warn' : 'info', 'sender-disconnected', {
            input: this.name,
            address: sender.address,
            reason,
            received,
            cut,
            framing: reader.framing,
            partial: partial || undefined,
          });
        }
      }
      yield* (conn.tls ?? conn.tcp).close();
    }
  }
}
