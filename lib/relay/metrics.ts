/**
 * `--metrics HOST:PORT`: the relay's counters in the Prometheus text exposition format (version
 * 0.0.4) at `GET /metrics`.
 *
 * The server runs on this thread's Node loop with node:http and reads the counters from shared
 * memory (stats.ts), so it serves the same in both run modes: in blocking mode the relay's loop owns
 * a worker thread and this thread is free. The exposition is written here rather than with a client
 * library: every value already exists in `RelayStats`, the format of counters and gauges is a few
 * lines (HELP, TYPE, samples), and a library (prom-client) would bring a registry, collectors and
 * its dependencies for no more than that.
 *
 * The server answers GET and HEAD on `/metrics`, 404 elsewhere, 405 for other methods; it never
 * reads a request body (a request with one is answered and its connection closed), request heads
 * are bounded by Node's header limits and a timeout, and connections are capped.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { Address } from '../net/address';
import type { RelayStats } from './stats';

/** Connections a scraper (or anyone who reaches the port) may hold open at once. */
const MAX_CONNECTIONS = 32;
/** A request head must arrive within this (ms); an idle kept-alive connection is closed after KEEP_ALIVE_MS. */
const HEADERS_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_MS = 5_000;

type Sample = [labels: Record<string, string>, value: number];

/** One metric family: `# HELP`, `# TYPE`, then its samples. */
function family(
  out: string[],
  name: string,
  type: 'counter' | 'gauge',
  help: string,
  samples: Sample[] | number,
): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of typeof samples === 'number' ? [[{}, samples] as Sample] : samples) {
    const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
    out.push(`${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${value}`);
  }
}

function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/**
 * The exposition of `s`. Labels take only values from a fixed set (drop reasons) or from the
 * configuration (input addresses): never a subscriber's or sender's address, which would grow
 * without bound.
 */
export function exposition(s: RelayStats): string {
  const out: string[] = [];
  family(out, 'logrelay_received_total', 'counter', 'Datagrams received on every input.', s.received);
  family(out, 'logrelay_received_bytes_total', 'counter', 'Payload bytes received.', s.bytesIn);
  family(out, 'logrelay_truncated_total', 'counter', 'Datagrams longer than 64 KiB, forwarded cut.', s.truncated);
  family(
    out,
    'logrelay_kernel_drops_total',
    'counter',
    'Datagrams the kernel dropped on an input before the relay read them (Linux).',
    Object.entries(s.kernelDrops).map(([input, n]): Sample => [{ input }, n]),
  );
  family(
    out,
    'logrelay_delivered_total',
    'counter',
    'Messages written to subscribers (one per subscriber per message).',
    s.delivered,
  );
  family(out, 'logrelay_sent_bytes_total', 'counter', 'Framed bytes written to subscribers.', s.bytesOut);
  family(
    out,
    'logrelay_dropped_total',
    'counter',
    'Messages dropped, by reason (oldest, newest: lag policy; disconnect: lost with a subscriber; empty: empty datagram; evicted: left the history before a subscriber got it).',
    Object.entries(s.dropped).map(([reason, n]): Sample => [{ reason }, n]),
  );
  family(
    out,
    'logrelay_filtered_total',
    'counter',
    "Messages subscribers' filters did not select (one per subscriber per message; not a loss).",
    s.filtered,
  );
  family(out, 'logrelay_gaps_total', 'counter', 'GAP frames sent to protocol subscribers.', s.gaps);
  family(out, 'logrelay_evicted_total', 'counter', 'Messages evicted from the history by its bounds.', s.evicted);
  family(
    out,
    'logrelay_rejected_total',
    'counter',
    'Subscriber handshakes refused (authentication, garbage, timeout).',
    s.rejected,
  );
  family(out, 'logrelay_subscribers', 'gauge', 'Subscribers connected now.', s.subscribers);
  family(
    out,
    'logrelay_subscriber_lag_messages',
    'gauge',
    'Messages the furthest-behind subscriber is behind the head (updated every second).',
    s.lag,
  );
  family(
    out,
    'logrelay_subscriber_lag_high_water_messages',
    'gauge',
    'Most messages any live subscriber has been behind the head since start.',
    s.queueHighWater,
  );
  family(out, 'logrelay_history_messages', 'gauge', 'Messages the history holds.', s.history.messages);
  family(out, 'logrelay_history_bytes', 'gauge', 'Framed bytes the history holds.', s.history.bytes);
  family(out, 'logrelay_history_oldest_seq', 'gauge', 'Oldest sequence number held.', s.history.oldest);
  family(out, 'logrelay_history_next_seq', 'gauge', 'Sequence number the next message will get.', s.history.next);
  family(
    out,
    'logrelay_history_lost_seqs',
    'gauge',
    'Sequence numbers recovery found lost at start (power cut or failed disk write).',
    s.history.lost,
  );
  return out.join('\n') + '\n';
}

/** The HTTP side: `/metrics` from `stats()` on every scrape. */
export class MetricsServer {
  readonly #server: http.Server;

  private constructor(server: http.Server) {
    this.#server = server;
  }

  /** Listens on `address` (an IP literal and port; 0 picks one); rejects with EADDRINUSE and the like. */
  static async listen(address: string, stats: () => RelayStats): Promise<MetricsServer> {
    const at = Address.parse(address);
    const server = http.createServer(
      { requestTimeout: HEADERS_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_MS },
      (req, res) => serve(req, res, stats),
    );
    server.maxConnections = MAX_CONNECTIONS;
    server.maxHeadersCount = 64;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: at.host, port: at.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Runtime errors (EMFILE on accept) are not fatal to the relay; Node keeps listening.
    server.on('error', () => undefined);
    return new MetricsServer(server);
  }

  /** `HOST:PORT` it listens on (the real port when 0 was asked). */
  get address(): string {
    const a = this.#server.address() as AddressInfo;
    return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  /** Stops listening and closes every connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

function serve(req: http.IncomingMessage, res: http.ServerResponse, stats: () => RelayStats): void {
  // A body is never read: a request that announces one gets its answer and the connection ends.
  if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)
    res.shouldKeepAlive = false;
  res.on('finish', () => {
    if (!req.complete) req.socket.destroy();
  });
  const path = (req.url ?? '').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    reply(res, 405, 'only GET and HEAD\n', { Allow: 'GET, HEAD' });
  } else if (path !== '/metrics') {
    reply(res, 404, 'not found: the metrics are at /metrics\n');
  } else {
    reply(
      res,
      200,
      exposition(stats()),
      { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' },
      req.method === 'HEAD',
    );
  }
}

function reply(
  res: http.ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
  head = false,
): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(bytes.length),
    ...headers,
  });
  res.end(head ? undefined : bytes);
}
