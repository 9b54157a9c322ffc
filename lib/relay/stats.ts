/** The relay's counters: what came in, what went out, what was dropped and why. */
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
    /** Messages still queued for a subscriber that was disconnected (full queue, stalled write, error). */
    disconnect: number;
    /** Datagrams of 0 bytes: nothing to forward (RFC 5425 cannot frame an empty message). */
    empty: number;
  };
  /** Datagrams longer than the receive slot (64 KiB), cut there and forwarded cut. */
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

export function emptyStats(): RelayStats {
  return {
    received: 0,
    delivered: 0,
    dropped: { oldest: 0, newest: 0, disconnect: 0, empty: 0 },
    truncated: 0,
    subscribers: 0,
    rejected: 0,
    bytesIn: 0,
    bytesOut: 0,
    queueHighWater: 0,
  };
}

/** Flat `key=value` fields, the shape of the periodic stats line. */
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
