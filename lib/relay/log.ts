/**
 * The relay's log: one line per event on stderr, as text (`time level event key=value…`) or JSON lines.
 * Lines are written with a synchronous write(2): a relay in blocking mode never returns to Node's loop,
 * so an asynchronous stream would never flush.
 */
import { writeSync } from 'fs';

export type Level = 'info' | 'warn' | 'error';
export type Fields = Record<string, string | number | boolean | undefined>;
export type Logger = (level: Level, event: string, fields?: Fields) => void;

function quote(v: string | number | boolean): string {
  const s = String(v);
  return /^[A-Za-z0-9_.:/@[\]+-]+$/.test(s) ? s : JSON.stringify(s);
}

export function createLogger(opts: { json?: boolean; write?: (line: string) => void } = {}): Logger {
  const write = opts.write ?? ((line: string) => writeSync(2, line + '\n'));
  return (level, event, fields = {}) => {
    const time = new Date().toISOString();
    const defined = Object.entries(fields).filter((e): e is [string, string | number | boolean] => e[1] !== undefined);
    if (opts.json) write(JSON.stringify({ time, level, event, ...Object.fromEntries(defined) }));
    else write([time, level, event, ...defined.map(([k, v]) => `${k}=${quote(v)}`)].join(' '));
  };
}
