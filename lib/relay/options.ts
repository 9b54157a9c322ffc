/** What a Relay is configured with, the defaults, and the checks that catch mistakes early. */
import type { Backend } from '../pollset';
import type { Framing } from './framing';
import type { Logger } from './log';
import type { FullPolicy } from './queue';

export interface RelayOptions {
  /** UDP inputs, `HOST:PORT` (`[::1]:5514` for IPv6). */
  udp?: string[];
  /** Unix datagram inputs (socket paths; an old socket file there is replaced). */
  unix?: string[];
  /** Where subscribers connect, `HOST:PORT`. */
  tls: string;
  /** Server certificate chain, key and the CA that subscriber certificates must chain to (PEM). */
  cert: string | Buffer;
  key: string | Buffer;
  ca: string | Buffer;
  /** Exact RFC 2253 issuer DN a subscriber certificate must have. */
  issuer?: string;
  /** SHA-256 fingerprints allowed (any case, with or without colons, optional `sha256:` prefix). */
  fingerprints?: string[];
  framing?: Framing;
  /** Per-subscriber queue limits and what happens when one is full. */
  queue?: number;
  queueBytes?: number;
  onFull?: FullPolicy;
  /** A subscriber that has not finished its handshake by then is dropped. */
  handshakeTimeoutMs?: number;
  /** A subscriber whose socket accepts no bytes for this long is disconnected. */
  writeTimeoutMs?: number;
  /** Seconds between stats lines; 0 turns them off. */
  statsIntervalS?: number;
  backend?: Backend;
  mode?: 'integrated' | 'blocking';
  log?: Logger;
}

export const defaults = {
  framing: 'lf' as Framing,
  queue: 1000,
  queueBytes: 4 * 1024 * 1024,
  onFull: 'drop-oldest' as FullPolicy,
  handshakeTimeoutMs: 10_000,
  writeTimeoutMs: 30_000,
  statsIntervalS: 60,
  mode: 'integrated' as const,
};

/** `AB:CD:…` uppercase, the form Node and our TLS layer print; throws on anything but 32 hex bytes. */
export function normalizeFingerprint(input: string): string {
  const hex = input.replace(/^sha256:/i, '').replace(/:/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) throw new RangeError(`not a SHA-256 fingerprint: ${JSON.stringify(input)}`);
  return hex.match(/../g)!.join(':');
}
