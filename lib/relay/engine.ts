/**
 * The relay itself, as tasks on one Loop: an input task per datagram socket, an accept task, a task
 * per subscriber. Runs the same in either mode; `Relay` decides which thread and how the loop runs.
 */
import { unlinkSync, lstatSync } from 'fs';
import { HaltedError, Loop, Operation, self, sleep, timeout, yieldNow } from '../loop';
import type { Task } from '../loop';
import { DatagramEndpoint, TcpListener, TcpStream, TlsStream, UdpSocket, UnixDatagramSocket } from '../streams';
import { TlsContext } from '../tls';
import type { TlsContextOptions } from '../tls';
import { frame } from './framing';
import { Eviction, PendingHandshakes, sourceOf } from './handshakes';
import { logLast, Logger } from './log';
import type { PemSource, ResolvedOptions } from './options';
import { RateLimitedLog } from './ratelog';
import type { Counters } from './stats';
import { Subscriber, SubscriberStream } from './subscriber';

/** One pem option as TlsContext takes it: a file (read again on every reload, named in errors) or the PEM itself. */
function pem(name: 'cert' | 'key' | 'ca', source: PemSource): TlsContextOptions {
  return (typeof source === 'object' && !Buffer.isBuffer(source) ? { [`${name}File`]: source.file } : { [name]: source }) as TlsContextOptions;
}

/**
 * Datagrams up to 64 KiB arrive whole; up to 64 per recvmmsg — never more than a subscriber queue
 * holds, since a whole batch is queued before any subscriber task runs.
 */
const inputOptions = (queue: number) => ({ slots: Math.min(64, queue), slotSize: 65536 });

/**
 * SO_RCVBUF asked for on every input unless `receiveBuffer` says otherwise. The kernel default (~208 KiB, and each datagram costs its
 * payload plus ~1 KiB of bookkeeping) holds only a few hundred syslog lines: a burst of 500 sent
 * back to back while the loop was writing to subscribers overflowed it and the kernel dropped
 * datagrams before the relay could count them. Linux caps this at net.core.rmem_max (often 4 MiB)
 * without an error, so asking for more is harmless.
 */
const INPUT_RECV_BUFFER = 8 * 1024 * 1024;

function errorText(e: unknown): string {
  const err = e as { code?: string; reason?: string; message?: string };
  if (err?.code === 'ETIMEDOUT') return 'timed out';
  return err?.reason ?? err?.message ?? String(e);
}

/** Removes a stale unix socket file so bind can take the path; never removes anything else. */
function clearSocketFile(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // absent: nothing to clear
  }
}

/** A TLS stream as a subscriber writes to it. */
function subscriberStream(tls: TlsStream): SubscriberStream {
  return {
    writeNow(buf) {
      // With partial writes on, a count is whole records in the kernel; WANT_* means nothing was taken.
      const r = tls.session.write(buf);
      return typeof r === 'number' ? r : 0;
    },
    write: (buf) => tls.write(buf),
  };
}

export class RelayEngine {
  readonly #subscribers = new Set<Subscriber>();
  readonly #inputs: DatagramEndpoint[] = [];
  readonly #tasks: Task<unknown>[] = [];
  /**
   * Accepted connections whose task has not finished its handshake, bounded (see PendingHandshakes).
   * The relay owns each from the moment accept returns it: a task halted before its first step
   * never runs its `finally`, so whoever cuts one (stop, or a newer connection that needs the slot)
   * closes the connection itself (closing one a started task already handed to TLS does nothing).
   */
  readonly #handshaking: PendingHandshakes<TcpStream>;
  readonly #handshakeTasks = new Map<TcpStream, Task<void>>();
  /** Anyone can make the relay reject a handshake: those lines are rate limited, the counter is not. */
  readonly #rejections: RateLimitedLog;
  /** The task that writes the summary of suppressed rejections when it is due. */
  #rejectionFlush: Task<void> | undefined;
  #listener: TcpListener | undefined;
  #context: TlsContext;
  #nextId = 1;
  #stopping = false;

  constructor(
    readonly options: ResolvedOptions,
    readonly loop: Loop,
    readonly counters: Counters,
    readonly log: Logger,
  ) {
    this.#context = this.#makeContext();
    this.#handshaking = new PendingHandshakes(options.maxHandshakes, options.maxHandshakesPerIp);
    this.#rejections = new RateLimitedLog(log, 'warn', 'subscriber-rejected', options.rejectionLogBurst, options.rejectionLogIntervalS * 1000);
  }

  /** Binds every socket (throwing on EADDRINUSE and the like) and starts the tasks. */
  start(): void {
    const o = this.options;
    this.log.reopen?.(); // a relay started again logs again: its last run ended the log with `stopped`
    try {
      for (const addr of o.udp) this.#inputs.push(UdpSocket.bindTo(addr, inputOptions(o.queue)));
      for (const path of o.unix) {
        clearSocketFile(path);
        this.#inputs.push(UnixDatagramSocket.bindTo(path, inputOptions(o.queue)));
      }
      for (const input of this.#inputs) input.socket.setRecvBufferSize(o.receiveBuffer ?? INPUT_RECV_BUFFER);
      this.#listener = TcpListener.listen(o.tls, {
        onAcceptPause: (e) =>
          e.state === 'paused'
            ? this.log('warn', 'accept-paused', { code: e.error.code, reason: e.error.message })
            : this.log('info', 'accept-resumed', { code: e.error.code, failures: e.failures, ms: e.ms }),
      });
    } catch (e) {
      // Nothing waits on these yet, so their sockets close directly.
      for (const input of this.#inputs.splice(0)) input.socket.close();
      throw e;
    }
    for (const input of this.#inputs) this.#tasks.push(this.loop.spawn(this.#receive(input)));
    this.#tasks.push(this.loop.spawn(this.#accept(this.#listener)));
    this.log('info', 'listening', {
      inputs: this.inputAddresses.join(','),
      tls: this.tlsAddress,
      framing: o.framing,
      backend: this.loop.backend,
      mode: o.mode,
    });
  }

  /** Where subscribers connect (the port is real even when 0 was asked). */
  get tlsAddress(): string {
    return this.#listener?.localAddress().toString() ?? this.options.tls;
  }

  /** Where datagrams are received. */
  get inputAddresses(): string[] {
    return this.#inputs.map((s) => s.localAddress().toString());
  }

  /** New certificate, key and CA for connections accepted from now on. */
  reload(): void {
    const next = this.#makeContext();
    const old = this.#context;
    this.#context = next;
    old.free?.();
    this.log('info', 'reloaded', {});
  }

  /**
   * Stops accepting and receiving, cuts handshakes still under way (those peers are not subscribers
   * yet and are owed nothing), lets subscribers write what is queued for up to `drainMs`, then
   * closes the rest. Every subscriber gets close_notify. Nothing is logged after `stopped`.
   */
  *stop(drainMs: number): Operation<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const t of this.#tasks) t.halt();
    for (const input of this.#inputs.splice(0)) yield* input.close();
    if (this.#listener) yield* this.#listener.close();
    for (const conn of this.#handshaking.clear()) yield* this.#cut(conn);
    this.#rejectionFlush?.halt();
    this.#rejections.flush();
    const subscribers = [...this.#subscribers];
    for (const s of subscribers) s.drain();
    const deadline = Date.now() + drainMs;
    while (this.#subscribers.size > 0 && Date.now() < deadline) yield* sleep(Math.min(20, deadline - Date.now()));
    for (const s of this.#subscribers) {
      s.disconnectReason = 'relay stopping';
      s.task?.halt();
    }
    logLast(this.log, 'info', 'stopped');
  }

  #makeContext(): TlsContext {
    const o = this.options;
    return TlsContext.server({
      ...pem('cert', o.cert),
      ...pem('key', o.key),
      ...pem('ca', o.ca),
      verify: 'require',
      issuer: o.issuer,
      fingerprints: o.fingerprints.length ? o.fingerprints : undefined,
    });
  }

  *#receive(input: DatagramEndpoint): Operation<void> {
    for (;;) {
      const batch = yield* input.receive();
      for (let i = 0; i < batch.count; i++) this.#dispatch(batch.data(i), batch.truncated(i));
      // Let the subscribers write before the next batch: a burst that keeps the socket readable
      // would otherwise be read whole (the receive buffer holds thousands) before any subscriber
      // ran, and overflow queues of healthy subscribers.
      yield* yieldNow();
    }
  }

  /** One datagram: count it, frame it once, and offer the same bytes to every subscriber's queue. */
  #dispatch(message: Uint8Array, truncated: boolean): void {
    const c = this.counters;
    c.add('received');
    c.add('bytesIn', message.length);
    if (truncated) c.add('truncated');
    if (message.length === 0) {
      c.add('droppedEmpty');
      return;
    }
    if (this.#subscribers.size === 0) return;
    const framed = frame(message, this.options.framing);
    for (const s of this.#subscribers) {
      if (!s.offer(framed)) this.#disconnect(s, 'queue full', 1);
    }
  }

  #disconnect(s: Subscriber, reason: string, lost = 0): void {
    if (s.disconnectReason) return;
    s.disconnectReason = reason;
    s.lost += lost;
    this.counters.add('droppedDisconnect', lost);
    this.#subscribers.delete(s); // no more offers, even before its task has unwound
    s.task?.halt();
  }

  /**
   * Subscribers send nothing, but their side of the stream is read all the same: that is how a
   * subscriber that went away (close_notify, EOF, reset) is noticed while its queue is idle.
   */
  *#watchPeer(tls: TlsStream, subscriber: Subscriber): Operation<void> {
    let reason = 'peer closed';
    try {
      while ((yield* tls.read()) !== null) {
        // anything a subscriber sends is ignored
      }
    } catch (e) {
      reason = errorText(e);
    }
    this.#disconnect(subscriber, reason);
  }

  *#accept(listener: TcpListener): Operation<void> {
    for (;;) {
      const conn = yield* listener.accept();
      let evicted: Eviction<TcpStream>[] = [];
      try {
        const remote = conn.remoteAddress();
        evicted = this.#handshaking.add(sourceOf(remote), remote.toString(), conn);
        this.#handshakeTasks.set(conn, this.loop.spawn(this.#session(conn)));
      } catch (e) {
        // Nothing above fails for a socket accept returned; should it, the connection still closes.
        this.#handshaking.delete(conn);
        yield* conn.close();
        this.#rejected('', '', errorText(e));
      }
      for (const e of evicted) {
        yield* this.#cut(e.item);
        this.#rejected(e.address, e.source, e.reason);
      }
    }
  }

  /** Ends a pending handshake's task and closes its connection. */
  *#cut(conn: TcpStream): Operation<void> {
    const task = this.#handshakeTasks.get(conn);
    this.#handshakeTasks.delete(conn);
    task?.halt();
    yield* conn.close();
  }

  /** Counts a refused handshake and logs it, within the rate limit. */
  #rejected(address: string, source: string, reason: string): void {
    this.counters.add('rejected');
    // Summaries group by reason: without the fd number that system errors name, one cause is one entry.
    this.#rejections.note({ source, reason: reason.replace(/ \(fd \d+\)/g, ''), fields: { address, reason } });
    if (this.#rejections.flushAt !== undefined && !this.#rejectionFlush && !this.#stopping) {
      this.#rejectionFlush = this.loop.spawn(this.#flushRejections());
    }
  }

  /** Writes the summary of suppressed rejections when its window ends (even if no rejection follows). */
  *#flushRejections(): Operation<void> {
    try {
      for (let at = this.#rejections.flushAt; at !== undefined; at = this.#rejections.flushAt) {
        const now = this.#rejections.now();
        if (now >= at) this.#rejections.flush();
        else yield* sleep(at - now);
      }
    } finally {
      this.#rejectionFlush = undefined;
    }
  }

  *#session(conn: TcpStream): Operation<void> {
    const o = this.options;
    // Everything that can fail runs inside the try whose finally closes the connection.
    let address = '';
    let source = '';
    let tls: TlsStream | undefined;
    let subscriber: Subscriber | undefined;
    let watcher: Task<void> | undefined;
    try {
      try {
        // The address accept returned: asking the kernel now would fail (ENOTCONN) for a peer that already reset.
        const remote = conn.remoteAddress();
        address = remote.toString();
        source = sourceOf(remote);
        tls = TlsStream.server(conn, this.#context);
        yield* timeout(o.handshakeTimeoutMs, tls.handshake());
      } catch (e) {
        if (e instanceof HaltedError) throw e;
        this.#rejected(address, source, errorText(e));
        return;
      } finally {
        this.#handshaking.delete(conn);
        this.#handshakeTasks.delete(conn);
      }
      // The chain, the issuer pin and the fingerprint allowlist were all checked inside the handshake.
      const cert = tls.peerCertificate();
      if (this.#stopping) return;
      subscriber = new Subscriber(this.#nextId++, address, { messages: o.queue, bytes: o.queueBytes, policy: o.onFull }, this.counters);
      subscriber.task = (yield* self()) as Task<void>;
      this.#subscribers.add(subscriber);
      this.counters.add('subscribers');
      this.log('info', 'subscriber-connected', { id: subscriber.id, address, subject: cert!.subject });
      watcher = this.loop.spawn(this.#watchPeer(tls, subscriber));
      yield* subscriber.pump(subscriberStream(tls), o.writeTimeoutMs);
    } catch (e) {
      if (subscriber && !(e instanceof HaltedError)) subscriber.disconnectReason ??= errorText(e);
      if (!subscriber) throw e;
    } finally {
      watcher?.halt();
      if (subscriber) {
        this.#subscribers.delete(subscriber);
        this.counters.add('subscribers', -1);
        // Cut off mid-write: that batch never completed, so it is lost with what is still queued.
        const cut = subscriber.queue.length + subscriber.inFlight;
        subscriber.lost += cut;
        this.counters.add('droppedDisconnect', cut);
        subscriber.queue.clear();
        this.log('info', 'subscriber-disconnected', {
          id: subscriber.id,
          address,
          reason: subscriber.disconnectReason ?? 'drained',
          delivered: subscriber.delivered,
          lost: subscriber.lost,
        });
      }
      // close_notify means "you have it all". A subscriber cut off mid-write gets none: sending it
      // would first flush the pending record that was just counted lost, and the peer should see
      // that its stream was cut rather than ended.
      if (!tls) yield* conn.close();
      else if (subscriber?.inFlight) yield* tls.abort();
      else yield* tls.close();
    }
  }
}

