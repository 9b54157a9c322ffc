/**
 * The relay's counters: what came in, what went out, what was dropped and why. They live in a
 * SharedArrayBuffer so that a relay running in a worker thread (blocking mode) is read by the main
 * thread without messages: one writer (the relay's loop), any number of readers.
 */
export interface RelayStats {
  /** Datagrams received on every input. */
  received: number;
  /** Messages written to subscribers (one per subscriber per message). */
  delivered: number;
  /** Messages dropped, by reason. */
  dropped: {
    /** Queue full under drop-oldest: the oldest queued message went. */
    oldest: number;
    /** Queue full under drop-newest (or a message bigger than the byte limit). */
    newest: number;
    /** Messages lost with a subscriber that was disconnected (full queue, stalled write, error, stop). */
    disconnect: number;
    /** Datagrams of 0 bytes: nothing to forward (RFC 5425 cannot frame an empty message). */
    empty: number;
  };
  /** Datagrams longer than the 64 KiB receive slot, forwarded cut to 64 KiB. */
  truncated: number;
  /** Subscribers connected now. */
  subscribers: number;
  /** Handshakes refused (auth, garbage, timeout). */
  rejected: number;
  /** Payload bytes received, and framed bytes written to subscribers. */
  bytesIn: number;
  bytesOut: number;
  /** Most messages any one subscriber queue has held. */
  queueHighWater: number;
}

const FIELDS = [
  'received',
  'delivered',
  'droppedOldest',
  'droppedNewest',
  'droppedDisconnect',
  'droppedEmpty',
  'truncated',
  'subscribers',
  'rejected',
  'bytesIn',
  'bytesOut',
  'queueHighWater',
] as const;
export type Counter = (typeof FIELDS)[number];
const INDEX = Object.fromEntries(FIELDS.map((f, i) => [f, i])) as Record<Counter, number>;

/** Counter storage shared between threads. */
export class Counters {
  readonly values: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(FIELDS.length * 8)) {
    this.values = new Float64Array(buffer);
  }

  add(counter: Counter, n = 1): void {
    this.values[INDEX[counter]] += n;
  }

  max(counter: Counter, n: number): void {
    const i = INDEX[counter];
    if (n > this.values[i]) this.values[i] = n;
  }

  get(counter: Counter): number {
    return this.values[INDEX[counter]];
  }

  snapshot(): RelayStats {
    const v = (c: Counter) => this.get(c);
    return {
      received: v('received'),
      delivered: v('delivered'),
      dropped: { oldest: v('droppedOldest'), newest: v('droppedNewest'), disconnect: v('droppedDisconnect'), empty: v('droppedEmpty') },
      truncated: v('truncated'),
      subscribers: v('subscribers'),
      rejected: v('rejected'),
      bytesIn: v('bytesIn'),
      bytesOut: v('bytesOut'),
      queueHighWater: v('queueHighWater'),
    };
  }
}

/** Flat `key=value` fields, the shape of the stats line. */
export function statsFields(s: RelayStats): Record<string, number> {
  return {
    received: s.received,
    delivered: s.delivered,
    dropped_oldest: s.dropped.oldest,
    dropped_newest: s.dropped.newest,
    dropped_disconnect: s.dropped.disconnect,
    dropped_empty: s.dropped.empty,
    truncated: s.truncated,
    subscribers: s.subscribers,
    rejected: s.rejected,
    bytes_in: s.bytesIn,
    bytes_out: s.bytesOut,
    queue_high_water: s.queueHighWater,
  };
}
