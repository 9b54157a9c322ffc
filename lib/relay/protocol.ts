/**
 * The server side of `logrelay/1`'s opening: HELLO, then the subscriber's one request line, which
 * says where its cursor starts. The frames that follow are written by the subscriber (subscriber.ts).
 *
 * Wire format (README "Subscriber protocol"): after a handshake that negotiated ALPN `logrelay/1`,
 *   server: `HELLO 1 log=<logId> framing=<lf|octet> oldest=<seq> next=<seq>\n`
 *   client: `FROM oldest\n` | `FROM live\n` | `FROM <seq> log=<logId>\n`, optionally followed by
 *           ` key=value` parameters (`meta=1`: TIME frames; `filter=SELECTOR`: only the messages the
 *           selector selects, the rest told as `SKIP <first> <count>\n`), ≤ 1024 bytes with its LF.
 *           HELLO says `filter=1` when the relay takes `filter=` (a relay without it refuses the
 *           request: `BYE bad-request filter is not supported by this version`).
 *   server, before the stream: `RESET <logId>\n` when the request's log is another one, or
 *           `GAP <first> <count> evicted\n` when the wanted messages are older than the history
 *           (`lost` for the part in the log's hole: seqs lost in a power cut before this run);
 *           or `BYE bad-request <why>\n` and the connection ends. A seq in the hole is a valid resume
 *           point (it was handed out): the subscriber starts there and is told `GAP … lost` first.
 */
import { HaltedError, Operation, timeout } from '../loop';
import type { TlsStream } from '../streams';
import type { History } from './history';
import { parseSelector, Selector, SelectorError } from './selector';
import type { ResolvedOptions } from './options';
import type { SubscriberStart } from './subscriber';

/** Longest request line, LF excluded. */
export const MAX_REQUEST = 1023;

/** The request a subscriber made, resolved against the log; or why it was refused. */
export type Negotiated = { start: SubscriberStart; gap?: { first: number; count: number } } | { bye: string };

/** What a request line asks for, before it is held against the log. */
export type Request = ({ from: 'oldest' | 'live' } | { from: number; log: string }) & {
  meta: boolean;
  filter?: Selector;
};

class BadRequest extends Error {}

/** Parses one request line (without its LF); throws BadRequest with the reason words. */
export function parseRequest(line: string): Request {
  const words = line.replace(/\r$/, '').split(' ');
  if (words[0] !== 'FROM' || words.length < 2) throw new BadRequest('expected FROM oldest|live|SEQ');
  const params = new Map<string, string>();
  for (const word of words.slice(2)) {
    const eq = word.indexOf('=');
    if (eq <= 0) throw new BadRequest(`not key=value: ${word.slice(0, 64)}`);
    const key = word.slice(0, eq);
    if (params.has(key)) throw new BadRequest(`${key.slice(0, 64)} given twice`);
    params.set(key, word.slice(eq + 1));
  }
  let meta = false;
  let filter: Selector | undefined;
  for (const [key, value] of params) {
    if (key === 'meta') {
      if (value !== '0' && value !== '1') throw new BadRequest('meta must be 0 or 1');
      meta = value === '1';
    } else if (key === 'filter') {
      try {
        filter = parseSelector(value);
      } catch (e) {
        if (e instanceof SelectorError) throw new BadRequest(`filter: ${e.message}`);
        throw e;
      }
    } else if (key !== 'log') {
      throw new BadRequest(`unknown parameter ${key.slice(0, 64)}`);
    }
  }
  const arg = words[1];
  if (arg === 'oldest' || arg === 'live') {
    if (params.has('log')) throw new BadRequest(`log= goes with FROM SEQ only`);
    return { from: arg, meta, filter };
  }
  if (!/^(0|[1-9][0-9]{0,15})$/.test(arg) || !Number.isSafeInteger(Number(arg)))
    throw new BadRequest('SEQ must be a decimal integer');
  const log = params.get('log');
  if (log === undefined) throw new BadRequest('FROM SEQ needs log=');
  if (!/^[0-9a-f]{16}$/.test(log)) throw new BadRequest('log= must be 16 lowercase hex digits');
  return { from: Number(arg), log, meta, filter };
}

/** The HELLO line for this log as it is now. */
export function hello(history: History): string {
  return `HELLO 1 log=${history.logId} framing=${history.framing} oldest=${history.oldest} next=${history.next} filter=1\n`;
}

/**
 * Sends HELLO and reads the request, both within the handshake timeout; writes RESET when the
 * request names another log, and returns where the subscriber starts (a resume starts at most at
 * the oldest retained message, after a GAP the subscriber sends first). A live request gets the lag
 * limit; a request for history is bounded by the history alone.
 */
export function* negotiate(tls: TlsStream, history: History, o: ResolvedOptions): Operation<Negotiated> {
  let line: Buffer | null;
  try {
    line = yield* timeout(
      o.handshakeTimeoutMs,
      (function* () {
        yield* tls.write(Buffer.from(hello(history), 'latin1'));
        return yield* tls.readLine({ max: MAX_REQUEST });
      })(),
    );
  } catch (e) {
    if (e instanceof HaltedError) throw e;
    const code = (e as { code?: string }).code;
    return {
      bye:
        code === 'ETIMEDOUT'
          ? 'bad-request no request in time'
          : code === 'EMSGSIZE'
            ? 'bad-request request too long'
            : 'bad-request unreadable',
    };
  }
  if (line === null) return { bye: 'bad-request no request' };
  let request: Request;
  try {
    request = parseRequest(line.toString('latin1'));
  } catch (e) {
    if (e instanceof BadRequest) return { bye: `bad-request ${e.message}` };
    throw e;
  }
  const limits = { messages: o.queue, bytes: o.queueBytes, policy: o.onFull };
  const asked = { protocol: true, meta: request.meta, filter: request.filter };
  if (!('log' in request)) {
    if (request.from === 'live') return { start: { cursor: history.next, limits, ...asked } };
    return { start: { cursor: history.oldest, ...asked } };
  }
  if (request.log !== history.logId) {
    yield* timeout(o.writeTimeoutMs, tls.write(Buffer.from(`RESET ${history.logId}\n`, 'latin1')));
    return { start: { cursor: history.oldest, ...asked } };
  }
  const wanted = request.from + 1;
  if (wanted > history.next) return { bye: 'bad-request seq ahead of log' };
  const oldest = history.oldest;
  if (wanted >= oldest) return { start: { cursor: wanted, ...asked } };
  return { start: { cursor: oldest, ...asked }, gap: { first: wanted, count: oldest - wanted } };
}
