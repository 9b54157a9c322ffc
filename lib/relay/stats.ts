/**
 * The relay's counters: what came in, what went out, what was dropped and why. They live in a
 * SharedArrayBuffer so that a relay running in a worker thread (blocking mode) is read by the main
 * thread without messages: one writer (the relay's loop), any number of readers.
 */
export interface RelayStats {
  /** Messages received on every input (datagrams, and messages framed out of TCP/TLS streams). */
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
    /** Datagrams of 0 bytes and empty LF-framed lines: nothing to forward (RFC 5425 cannot frame an empty message). */
    empty: number;
    /** Messages that left the history before a connected subscriber was sent them (one per subscriber per message). */
    evicted: number;
  };
  /** Messages evicted from the history by its bounds (whoever had or had not read them). */
  evicted: number;
  /** GAP frames sent to protocol subscribers. */
  gaps: number;
  /**
   * Messages that subscribers' filters did not select (one per subscriber per message): passed over
   * and told as SKIP, not sent and not a loss (so not in `dropped`).
   */
  filtered: number;
  /**
   * What the history holds now; `lost`: how many seqs recovery found lost at start (handed out
   * before a power cut or a failed disk write, gone from disk; subscribers get `GAP … lost` for them).
   */
  history: { messages: number; bytes: number; oldest: number; next: number; lost: number };
  /**
   * Datagrams the kernel dropped on each input before the relay read them (its receive buffer was
   * full), by input address; Linux only (SO_RXQ_OVFL), 0 elsewhere. A drop is seen when the next
   * datagram arrives on that input.
   */
  kernelDrops: Record<string, number>;
  /** Datagrams longer than the 64 KiB receive slot, forwarded cut to 64 KiB. */
  truncated: number;
  /** Per TCP/TLS input (by its address), what its senders did. */
  streamInputs: Record<string, StreamInputStats>;
  /** Subscribers connected now. */
  subscribers: number;
  /** Handshakes refused (auth, garbage, timeout). */
  rejected: number;
  /** Payload bytes received, and framed bytes written to subscribers. */
  bytesIn: number;
  /** Framed bytes written to subscribers. */
  bytesOut: number;
  /** Most messages any one subscriber has been behind the head (within its lag limit). */
  queueHighWater: number;
  /** Messages the furthest-behind connected subscriber is behind the head now (updated every second). */
  lag: number;
}

/** One TCP or TLS input's counters. */
export interface StreamInputStats {
  /** Messages framed out of its connections and appended to the log. */
  received: number;
  /** Messages longer than --max-message, appended cut to it. */
  cut: number;
  /** Connections accepted (TLS: handshakes completed and admitted), ever. */
  accepted: number;
  /** Senders connected now. */
  connections: number;
  /** Connections closed by the relay: framing broken, idle too long, over --max-senders, handshake refused. */
  closedFraming: number;
  closedIdle: number;
  refused: number;
  rejected: number;
  /** Connections that ended inside a frame (reset or EOF mid-message): that message is lost. */
  partial: number;
}

/** The per-input counters, in their slot order after the kernel drops. */
export const STREAM_FIELDS = [
  'received',
  'cut',
  'accepted',
  'connections',
  'closedFraming',
  'closedIdle',
  'refused',
  'rejected',
  'partial',
] as const;
export type StreamCounter = (typeof STREAM_FIELDS)[number];
const STREAM_INDEX = Object.fromEntries(STREAM_FIELDS.map((f, i) => [f, i])) as Record<StreamCounter, number>;

const FIELDS = [
  'received',
  'delivered',
  'droppedOldest',
  'droppedNewest',
  'droppedDisconnect',
  'droppedEmpty',
  'droppedEvicted',
  'evicted',
  'gaps',
  'filtered',
  'historyMessages',
  'historyBytes',
  'historyOldest',
  'historyNext',
  'historyLost',
  'truncated',
  'subscribers',
  'rejected',
  'bytesIn',
  'bytesOut',
  'queueHighWater',
  'lag',
] as const;
export type Counter = (typeof FIELDS)[number];
const INDEX = Object.fromEntries(FIELDS.map((f, i) => [f, i])) as Record<Counter, number>;

/**
 * Counter storage shared between threads: the fields above, then one kernel-drop count per datagram
 * input, then STREAM_FIELDS for each TCP/TLS input.
 */
export class Counters {
  readonly values: Float64Array;

  constructor(
    readonly inputs = 0,
    readonly streams = 0,
    readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(
      (FIELDS.length + inputs + streams * STREAM_FIELDS.length) * 8,
    ),
  ) {
    this.values = new Float64Array(buffer);
  }

  /** Adds to TCP/TLS input `i`'s counter (inputs in the order configured: --tcp ones, then --tls-in ones). */
  addStream(i: number, counter: StreamCounter, n = 1): void {
    this.values[FIELDS.length + this.inputs + i * STREAM_FIELDS.length + STREAM_INDEX[counter]] += n;
  }

  set(counter: Counter, n: number): void {
    this.values[INDEX[counter]] = n;
  }

  /** Kernel drops seen on input `i` (in the order the inputs were configured). */
  addKernelDrops(i: number, n: number): void {
    this.values[FIELDS.length + i] += n;
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

  /** The counters now; `inputs` names the inputs (their addresses) for the kernel drops. */
  snapshot(inputs: string[] = [], streams: string[] = []): RelayStats {
    const v = (c: Counter) => this.get(c);
    const kernelDrops: Record<string, number> = {};
    for (let i = 0; i < this.inputs; i++) kernelDrops[inputs[i] ?? `input${i}`] = this.values[FIELDS.length + i];
    const streamInputs: Record<string, StreamInputStats> = {};
    for (let i = 0; i < this.streams; i++) {
      const base = FIELDS.length + this.inputs + i * STREAM_FIELDS.length;
      streamInputs[streams[i] ?? `stream${i}`] = Object.fromEntries(
        STREAM_FIELDS.map((f, k) => [f, this.values[base + k]]),
      ) as unknown as StreamInputStats;
    }
    return {
      received: v('received'),
      delivered: v('delivered'),
      dropped: {
        oldest: v('droppedOldest'),
        newest: v('droppedNewest'),
        disconnect: v('droppedDisconnect'),
        empty: v('droppedEmpty'),
        evicted: v('droppedEvicted'),
      },
      evicted: v('evicted'),
      gaps: v('gaps'),
      filtered: v('filtered'),
      history: {
        messages: v('historyMessages'),
        bytes: v('historyBytes'),
        oldest: v('historyOldest'),
        next: v('historyNext'),
        lost: v('historyLost'),
      },
      kernelDrops,
      truncated: v('truncated'),
      streamInputs,
      subscribers: v('subscribers'),
      rejected: v('rejected'),
      bytesIn: v('bytesIn'),
      bytesOut: v('bytesOut'),
      queueHighWater: v('queueHighWater'),
      lag: v('lag'),
    };
  }
}

/** Flat `key=value` fields, the shape of the stats line. */
export function statsFields(s: RelayStats): Record<string, number | string> {
  const drops = Object.entries(s.kernelDrops);
  return {
    received: s.received,
    delivered: s.delivered,
    dropped_oldest: s.dropped.oldest,
    dropped_newest: s.dropped.newest,
    dropped_disconnect: s.dropped.disconnect,
    dropped_empty: s.dropped.empty,
    dropped_evicted: s.dropped.evicted,
    evicted: s.evicted,
    gaps: s.gaps,
    filtered: s.filtered,
    history_messages: s.history.messages,
    history_bytes: s.history.bytes,
    history_oldest: s.history.oldest,
    history_next: s.history.next,
    history_lost: s.history.lost,
    kernel_drops: drops.reduce((sum, [, n]) => sum + n, 0),
    // Per input, `ADDRESS=N` joined by commas (addresses contain no comma or `=`).
    kernel_drops_by_input: drops.map(([input, n]) => `${input}=${n}`).join(','),
    truncated: s.truncated,
    // Per TCP/TLS input, `ADDRESS=received/cut/connections/closed` (closed: framing, idle, refused and rejected together).
    stream_inputs: Object.entries(s.streamInputs)
      .map(
        ([input, t]) =>
          `${input}=${t.received}/${t.cut}/${t.connections}/${t.closedFraming + t.closedIdle + t.refused + t.rejected}`,
      )
      .join(','),
    subscribers: s.subscribers,
    rejected: s.rejected,
    bytes_in: s.bytesIn,
    bytes_out: s.bytesOut,
    queue_high_water: s.queueHighWater,
    lag: s.lag,
  };
}
