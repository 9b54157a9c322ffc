/** What a Relay is configured with, the defaults, and the checks that catch mistakes early. */
import { Address } from '../net/address';
import type { Backend } from '../pollset';
import type { VerifyMode } from '../tls';
import type { Framing } from './framing';
import { inputsOf } from './inputs';
import type { FsyncPolicy } from './journal';
import type { FullPolicy } from './subscriber';
import { Level, LEVELS } from './log';

export type { FsyncPolicy };

/** PEM text or bytes, or `{ file }` to read (and re-read on reload). */
export type PemSource = string | Buffer | { file: string };

/** What a {@link Relay} is made from; only `tls`, `cert`, `key` and `ca` are required. */
export interface RelayOptions {
  /** UDP inputs, `HOST:PORT` (`[::1]:5514` for IPv6). */
  udp?: string[];
  /** Unix datagram inputs (socket paths; an old socket file there is replaced). */
  unix?: string[];
  /** Syslog over TCP inputs (RFC 6587: octet-counted or LF-terminated, detected per connection), `HOST:PORT`. */
  tcp?: string[];
  /** Syslog over TLS inputs (RFC 5425), `HOST:PORT`; they present `cert` and check senders as `in*` say. */
  tlsIn?: string[];
  /** The CA that TLS senders' certificates must chain to (needed unless inVerify is `none`). */
  inCa?: PemSource;
  /**
   * TLS senders' certificates: `require` (default) a certificate chaining to inCa, end-entity, and
   * matching the in-pins; `optional` admits a sender without one, but one that presents a
   * certificate must chain to inCa; `none` asks for none.
   */
  inVerify?: VerifyMode;
  /** Exact RFC 2253 issuer DN a sender certificate must have (with inVerify `require`). */
  inIssuer?: string;
  /** SHA-256 fingerprints of the sender certificates allowed (with inVerify `require`). */
  inFingerprints?: string[];
  /** Longest message taken from a TCP/TLS sender, in bytes; a longer one is appended cut to it (counted). */
  maxMessage?: number;
  /** Senders connected at once per TCP/TLS input, at most; a connection beyond it is closed at once (counted). */
  maxSenders?: number;
  /** A TCP/TLS sender that completes no message for this many seconds is disconnected; 0 turns it off. */
  senderIdleS?: number;
  /** Where subscribers connect, `HOST:PORT`. */
  tls: string;
  /** Server certificate chain (leaf first), PEM. */
  cert: PemSource;
  /** The private key of `cert`, PEM. */
  key: PemSource;
  /** The CA that subscriber certificates must chain to, PEM (at least one certificate). */
  ca: PemSource;
  /** Exact RFC 2253 issuer DN a subscriber certificate must have. */
  issuer?: string;
  /** SHA-256 fingerprints allowed (any case, with or without colons, optional `sha256:` prefix). */
  fingerprints?: string[];
  /** SO_RCVBUF of every input, in bytes (default 8 MiB, which Linux caps at net.core.rmem_max); a bigger one absorbs longer bursts. */
  receiveBuffer?: number;
  /** How messages are framed on a plain TLS subscriber's stream: `lf` (default) or `octet` (RFC 5425). */
  framing?: Framing;
  /**
   * The log's history: the newest `history` messages and `historyBytes` framed bytes are kept, for
   * subscribers that are behind or resume. Older ones are evicted (counted).
   */
  history?: number;
  /** See `history`: framed bytes the history keeps at most. */
  historyBytes?: number;
  /** Keep the log in segment files here, so it (and its sequence) survives a restart. */
  historyDir?: string;
  /** With historyDir: when appended messages reach the disk (default interval, about every second). */
  fsync?: FsyncPolicy;
  /**
   * Lag limit: how far (messages, framed bytes) a live subscriber may fall behind the head, and what
   * happens beyond it. A protocol subscriber that asked for history is bounded by the history instead.
   */
  queue?: number;
  /** See `queue`: the lag limit in framed bytes. */
  queueBytes?: number;
  /** Beyond the lag limit: `drop-oldest` (default; the cursor skips ahead), `drop-newest`, or `disconnect`. */
  onFull?: FullPolicy;
  /** A subscriber that has not finished its handshake by then is dropped. */
  handshakeTimeoutMs?: number;
  /**
   * Connections accepted whose handshake is not finished yet, at most: in total, and from one IP
   * address (an IPv6 /64 counts as one). Beyond either bound the oldest pending handshake of that
   * address (of the busiest address, for the total) is cut to make room, and counted as rejected.
   */
  maxHandshakes?: number;
  /** See `maxHandshakes`: the bound per IP address. */
  maxHandshakesPerIp?: number;
  /**
   * Rejected handshakes logged in full per window of `rejectionLogIntervalS` seconds; the rest of
   * the window's rejections are summed up in one `subscriber-rejected-suppressed` line at its end.
   */
  rejectionLogBurst?: number;
  /** See `rejectionLogBurst`: the window, in seconds. */
  rejectionLogIntervalS?: number;
  /** A subscriber whose pending write (at most 16 KiB, one TLS record) does not complete within this is disconnected. */
  writeTimeoutMs?: number;
  /**
   * TCP keepalive on subscriber connections: a subscriber whose path went silent (no FIN, no reset)
   * is probed after this many idle seconds, 3 times a third of it apart, and dropped when no probe is
   * answered (about twice this in all); TCP_USER_TIMEOUT (Linux) bounds unacknowledged data the
   * same. 0 turns it off.
   */
  keepAliveS?: number;
  /** Serve the counters in Prometheus text format at `http://HOST:PORT/metrics` (an IP literal; port 0 picks one). */
  metrics?: string;
  /** Seconds between stats lines; 0 turns them off. */
  statsIntervalS?: number;
  /** Pollset backend of the relay's loop; default: the best compiled in. */
  backend?: Backend;
  /** `integrated`: runs inside this thread's Node loop. `blocking`: runs in a worker thread of its own. */
  mode?: 'integrated' | 'blocking';
  /** Log lines as JSON. */
  json?: boolean;
  /**
   * Sockets already open (systemd socket activation), by the name of the input kind they stand for:
   * `udp`, `unix`, `tcp` and `tls-in` inputs (in addition to the addresses given), or `tls` for the
   * subscriber listener (instead of binding `tls`). Each is checked to be of the right kind at start.
   */
  listenFds?: Record<string, number[]>;
  /** The least severe lines logged: error, warn, info (default) or debug (see Level). */
  logLevel?: Level;
}

export type ResolvedOptions = Required<
  Omit<RelayOptions, 'issuer' | 'backend' | 'receiveBuffer' | 'historyDir' | 'inCa' | 'inIssuer' | 'metrics'>
> &
  Pick<RelayOptions, 'issuer' | 'backend' | 'receiveBuffer' | 'historyDir' | 'inCa' | 'inIssuer' | 'metrics'>;

export const defaults = {
  udp: [] as string[],
  unix: [] as string[],
  tcp: [] as string[],
  tlsIn: [] as string[],
  inVerify: 'require' as VerifyMode,
  inFingerprints: [] as string[],
  /**
   * 64 KiB, the largest datagram the UDP input takes: a message is cut at the same size whichever
   * way it came. RFC 5425 asks receivers for at least 2,048 bytes and recommends 8,192.
   */
  maxMessage: 65536,
  /** A sending daemon keeps one connection (or a few); 256 leaves room for a fleet behind one input. */
  maxSenders: 256,
  /**
   * Ten minutes without a complete message. Long enough that a quiet server's daemon is rarely cut
   * (it reconnects by itself when it is), short enough that a sender that trickles a frame that
   * never ends, or died without a FIN, gives its fd back.
   */
  senderIdleS: 600,
  fingerprints: [] as string[],
  framing: 'lf' as Framing,
  /**
   * Sized for a small server (a 1 GiB VPS): 32 MiB of framed lines — at a typical 200–300 bytes,
   * some 100,000 messages, which covers hours of a quiet server's logs or a long link outage at a
   * busy one's 1,000 lines a second — costs about 37 MiB of memory (the bytes, three 256 KiB
   * chunks at most beyond them, 41 bytes of records per message), a small share of such a machine.
   */
  history: 100_000,
  historyBytes: 32 * 1024 * 1024,
  fsync: 'interval' as FsyncPolicy,
  queue: 1000,
  queueBytes: 4 * 1024 * 1024,
  onFull: 'drop-oldest' as FullPolicy,
  handshakeTimeoutMs: 10_000,
  maxHandshakes: 256,
  maxHandshakesPerIp: 16,
  rejectionLogBurst: 10,
  rejectionLogIntervalS: 60,
  writeTimeoutMs: 30_000,
  /** A dead subscriber link is noticed within about a minute (30 s idle + 3 probes 10 s apart). */
  keepAliveS: 30,
  statsIntervalS: 60,
  mode: 'integrated' as const,
  json: false,
  logLevel: 'info' as Level,
  listenFds: {} as Record<string, number[]>,
};

/**
 * Bounds of the time options: a Node timer takes at most 2³¹−1 ms (about 24.8 days) and turns
 * anything longer into 1 ms, so longer values are refused rather than silently spinning. A summary
 * of suppressed rejections is never further off than a day; more pending handshakes than any fd
 * table holds is a typo, not a setting.
 */
export const limits = {
  maxMs: 2 ** 31 - 1,
  maxStatsIntervalS: Math.floor((2 ** 31 - 1) / 1000),
  maxRejectionLogIntervalS: 86_400,
  /** TCP_KEEPIDLE's bound on Linux (about 9 hours). */
  maxKeepAliveS: 32_767,
  maxHandshakes: 1_000_000,
  /** The history's records take 41 bytes a message (allocated as it fills): 100 million is 4 GB of them. */
  maxHistory: 100_000_000,
  maxHistoryBytes: 64 * 1024 ** 3,
  /** 1 MiB: syslog messages are lines; bigger ones are someone's mistake and cost the history's memory. */
  maxMessage: 1024 * 1024,
  maxSenders: 1_000_000,
  maxSenderIdleS: Math.floor((2 ** 31 - 1) / 1000),
};

/** Fills defaults and checks values; throws RangeError naming the option. */
export function resolveOptions(options: RelayOptions): ResolvedOptions {
  const o = {
    ...defaults,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as ResolvedOptions;
  const positive = (name: keyof RelayOptions, v: number, min = 1, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new RangeError(`relay option ${name} must be an integer from ${min} to ${max}, not ${v}`);
    }
  };
  positive('history', o.history, 1, limits.maxHistory);
  positive('historyBytes', o.historyBytes, 1, limits.maxHistoryBytes);
  if (!['never', 'interval', 'always'].includes(o.fsync))
    throw new RangeError(`relay option fsync must be never, interval or always`);
  if (o.historyDir !== undefined && (typeof o.historyDir !== 'string' || o.historyDir === '')) {
    throw new RangeError('relay option historyDir must be a directory path');
  }
  positive('queue', o.queue);
  positive('queueBytes', o.queueBytes);
  positive('handshakeTimeoutMs', o.handshakeTimeoutMs, 1, limits.maxMs);
  positive('writeTimeoutMs', o.writeTimeoutMs, 1, limits.maxMs);
  positive('keepAliveS', o.keepAliveS, 0, limits.maxKeepAliveS);
  positive('statsIntervalS', o.statsIntervalS, 0, limits.maxStatsIntervalS);
  positive('maxHandshakes', o.maxHandshakes, 1, limits.maxHandshakes);
  positive('maxHandshakesPerIp', o.maxHandshakesPerIp, 1, limits.maxHandshakes);
  positive('rejectionLogBurst', o.rejectionLogBurst, 0, limits.maxHandshakes);
  positive('rejectionLogIntervalS', o.rejectionLogIntervalS, 1, limits.maxRejectionLogIntervalS);
  positive('maxMessage', o.maxMessage, 1, limits.maxMessage);
  positive('maxSenders', o.maxSenders, 1, limits.maxSenders);
  positive('senderIdleS', o.senderIdleS, 0, limits.maxSenderIdleS);
  if (!['none', 'optional', 'require'].includes(o.inVerify))
    throw new RangeError('relay option inVerify must be none, optional or require');
  if (inputsOf(o, 'tls-in') > 0 && o.inVerify !== 'none' && !o.inCa)
    throw new RangeError(
      "relay option inCa is required for TLS inputs (tlsIn, listenFds['tls-in']) unless inVerify is none",
    );
  if ((o.inIssuer !== undefined || o.inFingerprints.length > 0) && o.inVerify !== 'require') {
    throw new RangeError('relay options inIssuer and inFingerprints need inVerify require');
  }
  o.inFingerprints = o.inFingerprints.map(normalizeFingerprint);
  if (!['lf', 'octet'].includes(o.framing)) throw new RangeError(`relay option framing must be lf or octet`);
  if (!['drop-oldest', 'drop-newest', 'disconnect'].includes(o.onFull)) {
    throw new RangeError(`relay option onFull must be drop-oldest, drop-newest or disconnect`);
  }
  if (!['integrated', 'blocking'].includes(o.mode))
    throw new RangeError(`relay option mode must be integrated or blocking`);
  if (!LEVELS.includes(o.logLevel)) throw new RangeError(`relay option logLevel must be one of ${LEVELS.join(', ')}`);
  if (!o.tls) throw new RangeError('relay option tls (HOST:PORT to listen on) is required');
  if (o.metrics !== undefined) {
    try {
      if (Address.parse(o.metrics).family === 'unix') throw new Error('not an IP address');
    } catch {
      throw new RangeError(`relay option metrics must be IP:PORT or [IPv6]:PORT, not ${JSON.stringify(o.metrics)}`);
    }
  }
  for (const k of ['cert', 'key', 'ca'] as const) if (!o[k]) throw new RangeError(`relay option ${k} is required`);
  o.fingerprints = o.fingerprints.map(normalizeFingerprint);
  return o;
}

/** `AB:CD:…` uppercase, the form Node and our TLS layer print; throws on anything but 32 hex bytes. */
export function normalizeFingerprint(input: string): string {
  const hex = input
    .replace(/^sha256:/i, '')
    .replace(/:/g, '')
    .toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) throw new RangeError(`not a SHA-256 fingerprint: ${JSON.stringify(input)}`);
  return hex.match(/../g)!.join(':');
}
