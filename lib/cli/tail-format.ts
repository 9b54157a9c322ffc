/**
 * How logtail prints one message: the message bytes and LF (`text`), the same with whatever would
 * act on a terminal shown escaped (`terminal`, see visible.ts), or one JSON object per line (`json`)
 * with the sequence number, relay receive time and source when the relay sent them.
 */
import { Buffer, isUtf8 } from 'buffer';
import { Meta } from '../relay/client';
import { visible } from './visible';

export type Format = 'text' | 'terminal' | 'json';

const LF = Buffer.from('\n');

/**
 * The bytes printed for `message`. In JSON a message that is valid UTF-8 is `message` (a JSON
 * string, control characters escaped by JSON itself); any other is `message_base64`, so no byte is
 * ever altered. `seq`, `time` and `source` are null when the relay does not send them (a plain relay).
 */
export function formatMessage(format: Format, message: Buffer, seq?: number, meta?: Meta): Buffer[] {
  if (format === 'text') return [message, LF];
  if (format === 'terminal') return [visible(message), LF];
  const text = isUtf8(message) ? { message: message.toString('utf8') } : { message_base64: message.toString('base64') };
  const record = {
    seq: seq ?? null,
    time: meta ? isoTime(meta.time) : null,
    source: meta ? meta.source : null,
    ...text,
  };
  return [
    Buffer.from(
      `${JSON.stringify(record).replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`,
    ),
  ];
}

/**
 * What JSON.stringify leaves as it is but a terminal may act on: DEL, C1 controls and the
 * bidirectional overrides/isolates. Written as \uHHHH escapes the JSON value is the same.
 */
const UNSAFE = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** ISO 8601 (UTC, ms) when a Date can hold it, else the number of ms as sent. */
function isoTime(ms: number): string | number {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? ms : date.toISOString();
}
