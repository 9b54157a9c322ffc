/**
 * How logtail prints one message: the message bytes and LF (`text`), or one JSON object per line
 * (`json`) with the sequence number, relay receive time and source when the relay sent them.
 */
import { Buffer, isUtf8 } from 'buffer';
import { Meta } from '../relay/client';

export type Format = 'text' | 'json';

const LF = Buffer.from('\n');

/**
 * The bytes printed for `message`. In JSON a message that is valid UTF-8 is `message` (a JSON
 * string, control characters escaped by JSON itself); any other is `message_base64`, so no byte is
 * ever altered. `seq`, `time` and `source` are null when the relay does not send them (a plain relay).
 */
export function formatMessage(format: Format, message: Buffer, seq?: number, meta?: Meta): Buffer[] {
  if (format === 'text') return [message, LF];
  const text = isUtf8(message) ? { message: message.toString('utf8') } : { message_base64: message.toString('base64') };
  const record = { seq: seq ?? null, time: meta ? isoTime(meta.time) : null, source: meta ? meta.source : null, ...text };
  return [Buffer.from(`${JSON.stringify(record)}\n`)];
}

/** ISO 8601 (UTC, ms) when a Date can hold it, else the number of ms as sent. */
function isoTime(ms: number): string | number {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? ms : date.toISOString();
}
