/**
 * The relay itself, as tasks on one Loop: an input task per datagram socket appending to the one
 * log, an accept task, a task per subscriber writing the log from its cursor. Runs the same in
 * either mode; `Relay` decides which thread and how the loop runs.
 */
import { unlinkSync, lstatSync } from 'fs';
import { HaltedError, Loop, Operation, self, sleep, timeout, yieldNow } from '../loop';
import type { Task } from '../loop';
import { takeInherited } from '../net/inherited';
import type { AcceptPause } from '../streams';
import { WOULD_BLOCK } from '../errors';
import { DatagramEndpoint, TcpListener, TcpStream, TlsStream, UdpSocket, UnixDatagramSocket } from '../streams';
import { keepAliveAfter, setKeepAlive } from '../net/keepalive';
import { TlsContext } from '../tls';
import type { TlsContextOptions } from '../tls';
import { Eviction, PendingHandshakes, sourceOf } from './handshakes';
import { INPUT_KINDS, inputsOf, STREAM_INPUT_NAMES } from './inputs';
import { PeerCertificate, Want, WANT_READ, WANT_WRITE } from '../tls/session';
import { waitReadable, waitWritable } from '../loop/fdwaiters';
import type { History } from './history';
import { LogWriter } from './log-writer';
import { errorText, logLast, Logger } from './log';
import type { PemSource, ResolvedOptions } from './options';
import { negotiate } from './protocol';
import { RejectionLog } from './ratelog';
import { openLog } from './recover';
import type { Counters } from './stats';
import { PROTOCOL, Subscriber, SubscriberStart, SubscriberStream } from './subscriber';
import { StreamInput } from './stream-input';

/** One pem option as TlsContext takes it: a file (read again on every reload, named in errors) or the PEM itself. */
function pem(name: 'cert' | 'key' | 'ca', source: PemSource): TlsContextOptions {
  return typeof source === 'object' && !Buffer.isBuffer(source) ? { [`${name}File`]: source.file } : { [name]: source };
}

/**
 * Datagrams up to 64 KiB arrive whole; up to 64 per recvmmsg — never more than a subscriber's lag
 * limit, since a whole batch is appended before any subscriber task runs.
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

/**
 * Most an input reads while it stays busy before it wakes the subscribers: a quarter of a lag limit
 * (so a subscriber that keeps up is never pushed past it by the wait), and at most 256 messages /
 * 256 KiB (a few full TLS records per subscriber; a few hundred µs of receiving).
 */
function holdLimits(o: ResolvedOptions): { messages: number; bytes: number } {
  return {
    messages: Math.min(256, Math.floor(o.queue / 4)),
    bytes: Math.min(256 * 1024, Math.floor(o.queueBytes / 4)),
  };
}

/**
 * Removes a stale unix socket file so bind can take the path; never removes anything else. Only its
 * absence is quiet: an unlink the directory refuses (EACCES, EPERM) is the reason bind would fail,
 * and bind itself would say only EADDRINUSE.
 */
function clearSocketFile(path: string): void {
  if (lstatSync(path, { throwIfNoEntry: false })?.isSocket()) unlinkSync(path);
}

/** A TLS stream as a subscriber writes to it. */
function subscriberStream(tls: TlsStream): SubscriberStream {
  let want: Want = WANT_WRITE;
  return {
    writeNow(buf) {
      // With partial writes on, a count is whole records in the kernel; WANT_* means nothing was taken.
      const r = tls.session.write(buf);
      if (typeof r === 'number') return r;
      want = r;
      return 0;
    },
    // OpenSSL may need to read before it can write (a TLS 1.3 key update): wait for what it said.
    waitWritable: () => (want === WANT_READ ? waitReadable(tls.fd) : waitWritable(tls.fd)),
  };
}

export class RelayEngine {
  readonly #subscribers = new Set<Subscriber>();
  readonly #inputs: DatagramEndpoint[] = [];
  readonly #streamInputs: StreamInput[] = [];
  /** The TLS inputs' context: the relay's certificate, the senders' CA and pins. */
  #inContext: TlsContext | undefined;
  #writer: LogWriter | undefined;
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
  readonly #rejections: RejectionLog;
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
    this.#rejections = new RejectionLog(
      loop,
      log,
      'subscriber-rejected',
      options.rejectionLogBurst,
      options.rejectionLogIntervalS * 1000,
    );
  }

  /** The log (after start). */
  get history(): History {
    if (!this.#writer) throw new Error('relay engine not started');
    return this.#writer.history;
  }

  /** Binds every socket (throwing on EADDRINUSE and the like) and starts the tasks. */
  start(): void {
    const o = this.options;
    this.log.reopen?.(); // a relay started again logs again: its last run ended the log with `stopped`
    const opened = openLog(o, this.log);
    const writer = (this.#writer = new LogWriter(
      opened.history,
      opened.journal,
      this.counters,
      this.log,
      o.historyDir,
      () => this.#notifySubscribers(),
    ));
    try {
      const inherited = o.listenFds;
      for (const fd of inherited.udp ?? []) {
        const family = takeInherited(fd, 'udp', [INPUT_KINDS.udp.socket]);
        this.#inputs.push(new UdpSocket(family === 'ipv6' ? 'udp6' : 'udp4', { ...inputOptions(o.queue), fd }));
      }
      for (const fd of inherited.unix ?? []) {
        takeInherited(fd, 'unix', [INPUT_KINDS.unix.socket]);
        this.#inputs.push(new UnixDatagramSocket({ ...inputOptions(o.queue), fd }));
      }
      for (const addr of o.udp) this.#inputs.push(UdpSocket.bindTo(addr, inputOptions(o.queue)));
      for (const path of o.unix) {
        clearSocketFile(path);
        this.#inputs.push(UnixDatagramSocket.bindTo(path, inputOptions(o.queue)));
      }
      for (const input of this.#inputs) {
        input.socket.setRecvBufferSize(o.receiveBuffer ?? INPUT_RECV_BUFFER);
        input.socket.reportKernelDrops();
      }
      this.#startStreamInputs();
      const listenerOptions = {
        onAcceptPause: (e: AcceptPause) =>
          e.state === 'paused'
            ? this.log('warn', 'accept-paused', { code: e.error.code, reason: e.error.message })
            : this.log('info', 'accept-resumed', { code: e.error.code, failures: e.failures, ms: e.ms }),
      };
      const tlsFd = inherited.tls?.[0];
      if (tlsFd !== undefined) takeInherited(tlsFd, 'tls', ['tcp-listen']);
      this.#listener =
        tlsFd === undefined ? TcpListener.listen(o.tls, listenerOptions) : TcpListener.adopt(tlsFd, listenerOptions);
    } catch (e) {
      // Nothing waits on these yet, so their sockets close directly.
      for (const input of this.#inputs.splice(0)) input.socket.close();
      for (const input of this.#streamInputs.splice(0)) input.discard();
      writer.close();
      throw e;
    }
    if (writer.journaled && o.fsync === 'interval') this.#tasks.push(this.loop.spawn(writer.syncEverySecond()));
    this.#inputs.forEach((input, i) => this.#tasks.push(this.loop.spawn(this.#receive(input, i))));
    for (const input of this.#streamInputs) this.#tasks.push(this.loop.spawn(input.run()));
    this.#tasks.push(this.loop.spawn(this.#accept(this.#listener)));
    this.#tasks.push(this.loop.spawn(this.#publishLag()));
    this.log('info', 'listening', {
      inputs: this.inputAddresses.join(','),
      tcp:
        this.#streamInputs
          .filter((s) => s.config.kind === 'tcp')
          .map((s) => s.address)
          .join(',') || undefined,
      tlsIn:
        this.#streamInputs
          .filter((s) => s.config.kind === 'tls')
          .map((s) => s.address)
          .join(',') || undefined,
      tls: this.tlsAddress,
      framing: o.framing,
      log: this.history.logId,
      next: this.history.next,
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

  /** Where TCP and TLS senders connect, in the order configured (--tcp ones, then --tls-in ones). */
  get streamAddresses(): string[] {
    return this.#streamInputs.map((s) => s.address);
  }

  /** New certificate, key and CAs for connections accepted from now on (subscribers and TLS senders). */
  reload(): void {
    const next = this.#makeContext();
    let nextIn: TlsContext | undefined;
    try {
      nextIn = inputsOf(this.options, 'tls-in') > 0 ? this.#makeInContext() : undefined;
    } catch (e) {
      next.free?.();
      throw e;
    }
    const old = this.#context;
    const oldIn = this.#inContext;
    this.#context = next;
    this.#inContext = nextIn;
    old.free?.();
    oldIn?.free?.();
    this.log('info', 'reloaded', {});
  }

  /**
   * Stops accepting and receiving, cuts handshakes and protocol openings still under way (those
   * peers are not subscribers yet and are owed nothing), lets subscribers catch up with the log for
   * up to `drainMs`, then closes the rest. Every subscriber that got all it was sent gets
   * close_notify (and a protocol one `BYE shutdown` first). Nothing is logged after `stopped`.
   */
  *stop(drainMs: number): Operation<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const t of this.#tasks) t.halt();
    for (const input of this.#inputs.splice(0)) yield* input.close();
    for (const input of this.#streamInputs.splice(0)) yield* input.close();
    if (this.#listener) yield* this.#listener.close();
    for (const conn of this.#handshaking.clear()) yield* this.#cut(conn);
    this.#rejections.close();
    const subscribers = [...this.#subscribers];
    for (const s of subscribers) s.drain();
    const deadline = Date.now() + drainMs;
    while (this.#subscribers.size > 0 && Date.now() < deadline) yield* sleep(Math.min(20, deadline - Date.now()));
    for (const s of this.#subscribers) {
      s.disconnectReason = 'relay stopping';
      s.task?.halt();
    }
    this.#writer?.close();
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
      // Selected only when a client offers it: a peer offering nothing is a plain peer.
      alpn: [PROTOCOL],
    });
  }

  /** Binds the TCP and TLS inputs (their accept tasks start with the others). */
  #startStreamInputs(): void {
    const o = this.options;
    if (inputsOf(o, 'tls-in') > 0) this.#inContext = this.#makeInContext();
    const config = {
      maxMessage: o.maxMessage,
      maxSenders: o.maxSenders,
      idleMs: o.senderIdleS * 1000,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      maxHandshakes: o.maxHandshakes,
      maxHandshakesPerIp: o.maxHandshakesPerIp,
      keepAliveS: o.keepAliveS,
      rejectionLogBurst: o.rejectionLogBurst,
      rejectionLogIntervalS: o.rejectionLogIntervalS,
      verify: o.inVerify,
      context: () => this.#inContext!,
    };
    // Kind by kind, the sockets passed by socket activation under its name come after its configured addresses.
    const kinds = STREAM_INPUT_NAMES.flatMap((name) => {
      const { option, socket, transport: kind } = INPUT_KINDS[name];
      const adopted = (o.listenFds[name] ?? []).map((fd) => {
        takeInherited(fd, name, [socket]);
        return { kind, fd, address: `fd ${fd}` };
      });
      return [...o[option].map((address) => ({ kind, address })), ...adopted];
    });
    kinds.forEach((input, index) => {
      this.#streamInputs.push(
        new StreamInput({ ...config, ...input, index }, this.loop, this.#writer!, this.counters, this.log),
      );
    });
  }

  #makeInContext(): TlsContext {
    const o = this.options;
    return TlsContext.server({
      ...pem('cert', o.cert),
      ...pem('key', o.key),
      ...(o.inCa ? pem('ca', o.inCa) : {}),
      verify: o.inVerify,
      issuer: o.inIssuer,
      fingerprints: o.inFingerprints.length ? o.inFingerprints : undefined,
    });
  }

  /** After a run of appends (see LogWriter.flush): each subscriber woken, and its lag limit applied. */
  #notifySubscribers(): void {
    for (const s of this.#subscribers) {
      const lost = s.notify();
      if (lost > 0) this.#disconnect(s, 'queue full', lost);
    }
  }

  *#receive(input: DatagramEndpoint, index: number): Operation<void> {
    const { messages: holdMessages, bytes: holdBytes } = holdLimits(this.options);
    const writer = this.#writer!;
    const h = writer.history;
    let drops = 0;
    // What was appended since the subscribers were last woken.
    let held = 0;
    let heldFrom = h.startOf(h.next);
    for (;;) {
      // While messages are held, the next read must not wait: an empty socket wakes the subscribers.
      const batch = held > 0 ? input.socket.receive() : yield* input.receive();
      const count = batch === WOULD_BLOCK ? 0 : batch.count;
      if (batch !== WOULD_BLOCK) {
        const time = Date.now();
        for (let i = 0; i < count; i++) writer.appendDatagram(batch, i, time);
        // The journal's records are views of the receive slots: written before the next receive.
        writer.endBatch();
      }
      // The kernel's count is cumulative and 32 bits wide: count what it grew by, modulo 2^32.
      const now = input.socket.kernelDrops();
      if (now !== drops) this.counters.addKernelDrops(index, (now - drops + 2 ** 32) % 2 ** 32);
      drops = now;
      // A batch that filled every slot says the input is still busy: reading on before waking the
      // subscribers lets each write more of the log per TLS record and per wake-up. Only a little:
      // what is held stays well within a healthy subscriber's lag limit. A batch that left slots
      // empty emptied the socket, and the subscribers are woken at once (no added delay).
      const dry = count < input.socket.slots;
      held += count;
      if (!dry && held + input.socket.slots <= holdMessages && h.startOf(h.next) - heldFrom < holdBytes) continue;
      held = 0;
      heldFrom = h.startOf(h.next);
      writer.flush();
      // Let the subscribers write before the next batch: a burst that keeps the socket readable
      // would otherwise be read whole (the receive buffer holds thousands) before any subscriber
      // ran, and push healthy subscribers past their lag limit. After a dry batch this task waits
      // for readiness at once: the fd stays registered (no pollset remove and re-insert per batch)
      // and no recvmmsg is spent only to hear EAGAIN. Either way the subscribers woken above run
      // first: readiness is collected on a later turn.
      if (dry) yield* waitReadable(input.fd);
      else yield* yieldNow();
    }
  }

  /** The furthest-behind subscriber's lag, for stats and metrics: once a second, off the inputs' path. */
  *#publishLag(): Operation<void> {
    for (;;) {
      let lag = 0;
      for (const s of this.#subscribers) lag = Math.max(lag, s.pending);
      this.counters.set('lag', lag);
      yield* sleep(1000);
    }
  }

  /** Takes a subscriber off the list now (no more notifies) and halts its task; `lost` are counted here. */
  #disconnect(s: Subscriber, reason: string, lost = 0): void {
    if (s.disconnectReason) return;
    s.disconnectReason = reason;
    this.#subscribers.delete(s);
    if (lost > 0) {
      s.leaveAtHead();
      s.lost += lost;
      this.counters.add('droppedDisconnect', lost);
    } else {
      s.leave();
    }
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

  /**
   * Counts a refused handshake and logs it, within the rate limit, with the certificate the peer
   * presented when there was one (unverified: it says who knocked, not who it was).
   */
  #rejected(address: string, source: string, reason: string, cert?: PeerCertificate): void {
    this.counters.add('rejected');
    const presented = cert && { subject: cert.subject, issuer: cert.issuer, fingerprint: cert.fingerprint256 };
    this.#rejections.note(address, source, reason, presented);
  }

  *#session(conn: TcpStream): Operation<void> {
    const o = this.options;
    // Everything that can fail runs inside the try whose finally closes the connection.
    let address = '';
    let source = '';
    let tls: TlsStream | undefined;
    let subscriber: Subscriber | undefined;
    let watcher: Task<void> | undefined;
    let bye: string | undefined;
    try {
      try {
        // The address accept returned: asking the kernel now would fail (ENOTCONN) for a peer that already reset.
        const remote = conn.remoteAddress();
        address = remote.toString();
        source = sourceOf(remote);
        if (remote.family !== 'unix') {
          // Each write is a run of the log, as full as the subscriber's backlog makes it: it should
          // leave at once. Nagle would hold a short one until the previous segment is acknowledged,
          // and the peer delays that ACK (40 ms on Linux), so a trickle of lines would arrive late.
          conn.setNoDelay();
          if (o.keepAliveS > 0) setKeepAlive(conn.fd, keepAliveAfter(o.keepAliveS));
        }
        tls = TlsStream.server(conn, this.#context);
        yield* timeout(o.handshakeTimeoutMs, tls.handshake());
      } catch (e) {
        if (e instanceof HaltedError) throw e;
        this.#rejected(address, source, errorText(e), presented(tls));
        return;
      }
      // The chain, the issuer pin and the fingerprint allowlist were all checked inside the handshake.
      const cert = tls.peerCertificate();
      if (this.#stopping) return;
      let start: SubscriberStart;
      let gap: { first: number; count: number } | undefined;
      if (tls.session.alpn === PROTOCOL) {
        const asked = yield* negotiate(tls, this.history, o);
        if ('bye' in asked) {
          this.log('warn', 'subscriber-refused', { address, subject: cert!.subject, reason: asked.bye });
          bye = asked.bye;
          return;
        }
        ({ start, gap } = asked);
        if (this.#stopping) return;
      } else {
        // A plain peer: the live stream from the moment it is admitted.
        start = { cursor: this.history.next, limits: this.#limits(), protocol: false };
      }
      // A subscriber from here on: stop() drains it rather than cutting it.
      this.#handshaking.delete(conn);
      this.#handshakeTasks.delete(conn);
      subscriber = new Subscriber(this.#nextId++, address, this.history, this.counters, start);
      if (gap) subscriber.gapBefore(gap.first, gap.count);
      subscriber.task = (yield* self()) as Task<void>;
      this.#subscribers.add(subscriber);
      this.counters.add('subscribers');
      this.log('info', 'subscriber-connected', {
        id: subscriber.id,
        address,
        subject: cert!.subject,
        protocol: start.protocol ? PROTOCOL : 'plain',
        from: start.protocol ? start.cursor : undefined,
        filter: start.filter?.text,
      });
      watcher = this.loop.spawn(this.#watchPeer(tls, subscriber));
      yield* subscriber.pump(subscriberStream(tls), o.writeTimeoutMs);
      if (subscriber.protocol) bye = 'shutdown';
    } catch (e) {
      if (subscriber && !(e instanceof HaltedError)) subscriber.disconnectReason ??= errorText(e);
      if (!subscriber) throw e;
    } finally {
      this.#handshaking.delete(conn);
      this.#handshakeTasks.delete(conn);
      watcher?.halt();
      let cut = false;
      if (subscriber) {
        this.#subscribers.delete(subscriber);
        subscriber.leave();
        this.counters.add('subscribers', -1);
        // Cut off mid-write: the run's messages not yet wholly in the kernel are lost with what it was behind.
        cut = subscriber.inFlight > 0;
        const missed = subscriber.cutOff(o.framing);
        // A protocol subscriber can resume: what it did not get is still in the log, not lost.
        if (!subscriber.protocol) {
          subscriber.lost += missed;
          this.counters.add('droppedDisconnect', missed);
        }
        const reason = subscriber.disconnectReason ?? 'drained';
        if (subscriber.protocol && !bye && !cut) bye = byeFor(reason);
        this.log('info', 'subscriber-disconnected', {
          id: subscriber.id,
          address,
          reason,
          delivered: subscriber.delivered,
          lost: subscriber.lost,
          dropped: subscriber.dropped,
          filtered: subscriber.filter ? subscriber.filtered : undefined,
          behind: subscriber.protocol ? missed : undefined,
        });
      }
      if (bye !== undefined && tls && !subscriber?.writing) {
        try {
          // Best effort: a BYE that does not fit in the socket now is not waited for.
          tls.session.write(Buffer.from(`BYE ${bye}\n`, 'latin1'));
        } catch {
          // the peer is gone: nothing to tell it
        }
      }
      // close_notify means "you have it all". A subscriber cut off mid-write gets none: sending it
      // would first flush the pending record that was just counted lost, and the peer should see
      // that its stream was cut rather than ended.
      if (!tls) yield* conn.close();
      else if (cut || subscriber?.writing) yield* tls.abort();
      else yield* tls.close();
    }
  }

  /** A live subscriber's lag limit. */
  #limits(): SubscriberStart['limits'] {
    const o = this.options;
    return { messages: o.queue, bytes: o.queueBytes, policy: o.onFull };
  }
}

/** The BYE reason words for why a protocol subscriber is being let go. */
function byeFor(reason: string): string {
  if (reason === 'relay stopping' || reason === 'drained') return 'shutdown';
  if (reason === 'timed out') return 'write-timeout';
  if (reason === 'queue full') return 'lag-limit';
  return 'error';
}

/** What a refused peer presented, if its session still says (null for none). */
function presented(tls: TlsStream | undefined): PeerCertificate | undefined {
  try {
    return tls?.session.presentedCertificate() ?? undefined;
  } catch {
    return undefined; // the session is gone already: nothing to tell
  }
}
