/**
 * logtail's life: connect (the host name resolved again at each attempt), run one session, say why
 * it ended, wait (exponential backoff with full jitter), connect again — or, with `--no-reconnect`,
 * exit at the first disconnect.
 */
import { Mailbox } from '../loop/mailbox';
import { Operation } from '../loop/operation';
import { sleep, timeout } from '../loop/timers';
import type { Address } from '../net/address';
import { resolveAll } from '../net/resolve';
import { KeepAlive, setKeepAlive } from '../net/keepalive';
import { PROTOCOL } from '../relay/client';
import { Framing } from '../relay/framing';
import { TlsStream } from '../streams/tls-stream';
import { TlsContext } from '../tls/context';
import { Backoff } from './backoff';
import { Ending, plainSession, protocolSession, SessionOptions, TailError } from './tail-session';
import { OutputError, Sink } from './tail-sink';
import { StopRequested } from './tail-stop';

export interface LoopOptions {
  /** `HOST:PORT` as given: a name is looked up at each attempt. */
  connect: string;
  context: TlsContext;
  servername: string;
  /** The framing of a plain relay (a logrelay/1 relay says its own). */
  framing: Framing;
  reconnect: boolean;
  /** TCP keepalive on each connection (null: off), so a link that died silently is noticed and reconnected. */
  keepAlive: KeepAlive | null;
  /** Bound on TCP connect + TLS handshake. */
  connectTimeoutMs: number;
  backoff: Backoff;
  session: SessionOptions;
}

/** Waits for a promise inside a task (its rejection is thrown). */
function* settled<T>(promise: Promise<T>): Operation<T> {
  const box = new Mailbox<{ ok: true; value: T } | { ok: false; error: unknown }>(1);
  promise.then(
    (value) => box.tryPut({ ok: true, value }),
    (error) => box.tryPut({ ok: false, error }),
  );
  const result = yield* box.take();
  if (typeof result === 'symbol') throw new Error('mailbox closed'); // never closed: only here for the type
  if (!result.ok) throw result.error;
  return result.value;
}

/**
 * Connects to the first of `addresses` that answers (a name may have an IPv6 and an IPv4 address,
 * and the relay listen on one of them only), trying each in turn; throws the last failure.
 */
export function* connectFirst<C>(
  addresses: readonly Address[],
  attempt: (address: Address) => Operation<C>,
): Operation<{ conn: C; address: Address }> {
  let failure: unknown = new Error('no address to connect to');
  for (const address of addresses) {
    try {
      return { conn: yield* attempt(address), address };
    } catch (e) {
      failure = e;
    }
  }
  throw failure;
}

/** Why a connection ended, in words; `clean` when `--no-reconnect` should exit 0. */
function describe(ending: Ending): { why: string; clean: boolean } {
  if (ending.kind === 'bye')
    return { why: `the relay said BYE ${ending.reason}`.trimEnd(), clean: ending.reason === 'shutdown' };
  return { why: 'the relay closed the connection', clean: true };
}

/** Runs until stopped, `--count` is reached, or (with `--no-reconnect`) the first disconnect. Returns the exit code. */
export function* tailLoop(o: LoopOptions, sink: Sink): Operation<number> {
  const { report, stop } = o.session;
  for (;;) {
    const written = sink.written;
    let why: string;
    let clean = false;
    let connected = false;
    try {
      const addresses: Address[] = yield* stop.wait(settled(resolveAll(o.connect)));
      const attempt = (a: Address) =>
        timeout(o.connectTimeoutMs, TlsStream.connect(a, o.context, { servername: o.servername }));
      const { conn: tls, address } = yield* stop.wait(connectFirst(addresses, attempt));
      connected = true;
      let ending: Ending;
      try {
        // logtail sends nothing after its request: without probes a quiet relay behind a dead path is waited for forever.
        if (o.keepAlive) setKeepAlive(tls.fd, o.keepAlive);
        const protocol = tls.session.alpn;
        if (protocol !== PROTOCOL && o.session.filter !== undefined) {
          throw new TailError(
            `${o.connect} does not speak ${PROTOCOL}: --filter needs it (a plain relay sends everything)`,
          );
        }
        const plainNote = o.session.stateful ? 'no resume, the state is not updated' : 'no resume';
        const notes = [
          ...(address.toString() === o.connect ? [] : [address.toString()]),
          `subject ${tls.peerCertificate()?.subject ?? '(none)'}`,
          ...(protocol === PROTOCOL ? [] : [`plain: the relay does not speak ${PROTOCOL}; ${plainNote}`]),
        ];
        report(`connected to ${o.connect} (${notes.join('; ')})`);
        ending =
          protocol === PROTOCOL
            ? yield* protocolSession(tls, sink, o.session)
            : yield* plainSession(tls, o.framing, sink, o.session);
      } finally {
        yield* tls.close();
      }
      if (ending.kind === 'done' || ending.kind === 'stopped') return 0;
      if (ending.kind === 'bye' && ending.reason.startsWith('bad-request'))
        throw new TailError(`the relay refused the request: ${ending.reason}`);
      ({ why, clean } = describe(ending));
    } catch (err) {
      if (err instanceof TailError || err instanceof OutputError || err instanceof StopRequested) throw err;
      why = (err as Error).message;
    }
    report(connected ? `cut off: ${why}` : `cannot connect to ${o.connect}: ${why}`);
    if (!o.reconnect) return clean ? 0 : 1;
    if (sink.written > written) o.backoff.reset();
    const wait = o.backoff.next();
    report(`reconnecting in ${(wait / 1000).toFixed(1)} s`);
    yield* stop.wait(sleep(wait));
  }
}
