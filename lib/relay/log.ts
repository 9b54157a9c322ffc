/**
 * The relay's log: one line per event on stderr, as text (`time level event key=value…`) or JSON lines.
 * Lines are written with a synchronous, non-blocking write(2) (a relay in blocking mode never returns
 * to Node's loop, so an asynchronous stream would never flush); what a full stderr pipe does not take
 * waits in a bounded queue (see LineSink), and lines dropped beyond it are reported in a
 * `log-lines-dropped` line once stderr takes lines again (or in the last line, see `end`).
 */
import { isTimeoutError } from '../loop/timers';
import { LineSink } from './logsink';

/**
 * How much is logged, each level including those before it:
 * - `error`: the relay itself failing (a socket, the history directory, a reload, a crashed task);
 * - `warn`: what an operator should look at (rejected and refused subscribers, paused accepting,
 *   log lines lost to a full stderr);
 * - `info` (default): the relay's life (listening, reloaded, stats, stopped) and each subscriber's
 *   coming and going;
 * - `debug`: details for finding a fault (host names resolved, systemd notifications sent).
 */
export type Level = 'error' | 'warn' | 'info' | 'debug';
export const LEVELS: readonly Level[] = ['error', 'warn', 'info', 'debug'];
/** The key=value pairs of a log line (undefined values are left out). */
export type Fields = Record<string, string | number | boolean | undefined>;
/**
 * The relay's log: called as `log(level, event, fields?)` once per event (`event` a short kebab-case name such
 * as `subscriber-connected`). Any function of that shape will do; {@link createLogger} makes the default one.
 */
export type Logger = ((level: Level, event: string, fields?: Fields) => void) & {
  /** Where a logger made by createLogger without `write` puts its lines; the relay's loop drains it. */
  readonly sink?: LineSink;
  /**
   * Ends the log, with `event` as its last line when given: lines dropped that no
   * `log-lines-dropped` line reported yet are counted in it (`log_lines_dropped`), it is kept even
   * when the queue is full, and nothing is logged after it (later calls do nothing).
   */
  readonly end?: (level?: Level, event?: string, fields?: Fields) => void;
  /** Logs again after `end` (a relay started again after it stopped). */
  readonly reopen?: () => void;
};

function quote(v: string | number | boolean): string {
  const s = String(v);
  return /^[A-Za-z0-9_.:/@[\]+-]+$/.test(s) ? s : JSON.stringify(s);
}

/** Ends `log` with this line: `log.end` when it has one, else just the line. */
export function logLast(log: Logger, level: Level, event: string, fields?: Fields): void {
  if (log.end) log.end(level, event, fields);
  else log(level, event, fields);
}

/**
 * A Logger writing one line per event: text (`time level event key=value…`) or, with `json`, a JSON object per
 * line. By default lines go to stderr with non-blocking writes through a bounded queue; `write` sends each
 * line (without LF) to a function instead. Lines below `level` (default `info`) are left out.
 */
export function createLogger(
  opts: { json?: boolean; level?: Level; write?: (line: string) => void; sink?: LineSink } = {},
): Logger {
  const most = LEVELS.indexOf(opts.level ?? 'info');
  const shown = (level: Level) => LEVELS.indexOf(level) <= most;
  const sink = opts.write ? undefined : (opts.sink ?? new LineSink());
  const write: (line: string, last?: boolean) => void =
    opts.write ?? ((line: string, last?: boolean) => sink!.write(Buffer.from(line + '\n'), last));
  let ended = false;
  const format = (level: Level, event: string, fields: Fields) => {
    const time = new Date().toISOString();
    const defined = Object.entries(fields).filter((e): e is [string, string | number | boolean] => e[1] !== undefined);
    if (opts.json) return JSON.stringify({ time, level, event, ...Object.fromEntries(defined) });
    return [time, level, event, ...defined.map(([k, v]) => `${k}=${quote(v)}`)].join(' ');
  };
  const logger = (level: Level, event: string, fields: Fields = {}) => {
    if (!ended && shown(level)) write(format(level, event, fields));
  };
  // Once stderr has taken everything that waited, the lines dropped meanwhile get a line of their own.
  let reported = 0;
  if (sink) {
    sink.onDrained = () => {
      if (ended || sink.dropped === reported) return;
      const lines = sink.dropped - reported;
      reported = sink.dropped;
      logger('warn', 'log-lines-dropped', { lines, total: sink.dropped, reason: 'stderr full' });
    };
  }
  const end = (level?: Level, event?: string, fields: Fields = {}) => {
    if (ended) return;
    if (event && shown(level ?? 'info')) {
      // What stderr takes now goes first (and may report drops in a line of its own); the rest is counted here.
      sink?.flush();
      const unreported = sink ? sink.dropped - reported : 0;
      reported += unreported;
      write(format(level ?? 'info', event, { ...fields, log_lines_dropped: unreported || undefined }), true);
    } else {
      sink?.flush();
    }
    ended = true;
  };
  const reopen = () => {
    ended = false;
  };
  return Object.assign(logger, { sink, end, reopen });
}

/**
 * An error as a log line's `reason`. The kernel's ETIMEDOUT (a syscall's: keepalive or
 * TCP_USER_TIMEOUT gave up on a silent peer) reads "connection timed out", apart from the relay's
 * own timeouts ("timed out"), which the callers usually name more precisely themselves.
 */
export function errorText(e: unknown): string {
  const err = e as { code?: string; reason?: string; message?: string };
  if (err?.code === 'ETIMEDOUT') return isTimeoutError(e) ? 'timed out' : 'connection timed out';
  return err?.reason ?? err?.message ?? String(e);
}
