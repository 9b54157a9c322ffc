/**
 * The relay's log: one line per event on stderr, as text (`time level event key=value…`) or JSON lines.
 * Lines are written with a synchronous, non-blocking write(2) (a relay in blocking mode never returns
 * to Node's loop, so an asynchronous stream would never flush); what a full stderr pipe does not take
 * waits in a bounded queue (see LineSink), and lines dropped beyond it are reported in a
 * `log-lines-dropped` line once stderr takes lines again.
 */
import { LineSink } from './logsink';

export type Level = 'info' | 'warn' | 'error';
export type Fields = Record<string, string | number | boolean | undefined>;
export type Logger = ((level: Level, event: string, fields?: Fields) => void) & {
  /** Where a logger made by createLogger without `write` puts its lines; the relay's loop drains it. */
  readonly sink?: LineSink;
};

function quote(v: string | number | boolean): string {
  const s = String(v);
  return /^[A-Za-z0-9_.:/@[\]+-]+$/.test(s) ? s : JSON.stringify(s);
}

export function createLogger(opts: { json?: boolean; write?: (line: string) => void; sink?: LineSink } = {}): Logger {
  const sink = opts.write ? undefined : (opts.sink ?? new LineSink());
  const write = opts.write ?? ((line: string) => sink!.write(Buffer.from(line + '\n')));
  const logger = (level: Level, event: string, fields: Fields = {}) => {
    const time = new Date().toISOString();
    const defined = Object.entries(fields).filter((e): e is [string, string | number | boolean] => e[1] !== undefined);
    if (opts.json) write(JSON.stringify({ time, level, event, ...Object.fromEntries(defined) }));
    else write([time, level, event, ...defined.map(([k, v]) => `${k}=${quote(v)}`)].join(' '));
  };
  if (sink) {
    // Once stderr has taken everything that waited, the lines dropped meanwhile get a line of their own.
    let reported = 0;
    sink.onDrained = () => {
      if (sink.dropped === reported) return;
      const lines = sink.dropped - reported;
      reported = sink.dropped;
      logger('warn', 'log-lines-dropped', { lines, total: sink.dropped, reason: 'stderr full' });
    };
  }
  return Object.assign(logger, { sink });
}
