/**
 * One connection's worth of logtail: read the relay's stream, turn it into messages for the sink,
 * and say on stderr what happened. Two kinds of relay: one that speaks `logrelay/1` (a HELLO, a
 * request, then frames carrying sequence numbers), and a plain one that only streams messages in
 * its framing (an old relay, or one that did not select the protocol).
 *
 * Batches: a batch is written out when it reaches BATCH_BYTES or when no more input is waiting
 * (the next read would block), so a flood is written in large pieces and a quiet stream at once.
 */
import { Operation } from '../loop/operation';
import { yieldNow } from '../loop/park';
import { isTimeoutError, timeout } from '../loop/timers';
import { ByteStream } from '../streams/bytestream';
import { Frame, FrameParser, From, Hello, requestLine } from '../relay/client';
import { Deframer, Framing } from '../relay/framing';
import { OutputError, Position, Sink } from './tail-sink';
import { Stop, StopRequested } from './tail-stop';

/** Where to start when there is no position yet (no state file, nothing received). */
export type StartFrom = { from: 'oldest' } | { from: 'live' } | { from: 'seq'; seq: number };

export interface SessionOptions {
  from: StartFrom;
  /** Ask for TIME frames (receive time and source of each message). */
  meta: boolean;
  /** Ask for only the messages this selector selects (checked already: see selector.ts). */
  filter?: string;
  /** How long the relay has to send its HELLO. */
  helloTimeoutMs: number;
  /** One line for the operator (stderr). */
  report: (line: string) => void;
  stop: Stop;
  /** A state file is kept (only said in messages). */
  stateful: boolean;
}

/** How a connection ended without an error. */
export type Ending = { kind: 'eof' } | { kind: 'bye'; reason: string } | { kind: 'done' } | { kind: 'stopped' };

/** Fatal for logtail: reconnecting would only repeat it. */
export class TailError extends Error {
  readonly code = 'ERR_LOGTAIL';
}

function protocolError(why: string): Error & { code: string } {
  const err = new Error(`ERR_LOGRELAY_PROTOCOL: ${why}`) as Error & { code: string };
  err.code = 'ERR_LOGRELAY_PROTOCOL';
  return err;
}

/**
 * Writes the pending batch out, then lets the loop look at everything else (signals, timers) before
 * going on: a relay that always has more data ready must not keep a stop request waiting.
 */
function* writeBatch(sink: Sink): Operation<void> {
  yield* sink.flush();
  yield* yieldNow();
}

/**
 * The next chunk from the relay, writing the pending batch out first if the chunk is not already
 * there (so output is never held back waiting for the network). null at end of stream;
 * undefined when a stop was requested (after the batch was written).
 */
function* readBatched(stream: ByteStream, sink: Sink, stop: Stop): Operation<Buffer | null | undefined> {
  if (sink.pending) {
    if (!stop.requested) {
      try {
        return yield* timeout(0, stream.read());
      } catch (err) {
        // Only the zero deadline's own timeout: the connection's ETIMEDOUT (keepalive gave up) ends the session.
        if (!isTimeoutError(err)) throw err;
      }
    }
    yield* writeBatch(sink);
  }
  if (stop.requested) return undefined;
  return yield* stop.wait(stream.read());
}

/** A plain relay: messages in `framing`, no sequence numbers. */
export function* plainSession(stream: ByteStream, framing: Framing, sink: Sink, o: SessionOptions): Operation<Ending> {
  const deframer = new Deframer(framing);
  try {
    for (;;) {
      const chunk = yield* readBatched(stream, sink, o.stop);
      if (chunk === undefined) return { kind: 'stopped' };
      if (chunk === null) return { kind: 'eof' };
      for (const message of deframer.push(chunk)) {
        sink.add(message);
        if (sink.full) return { kind: 'done' };
        if (sink.batchFull) {
          yield* writeBatch(sink);
          if (o.stop.requested) return { kind: 'stopped' };
        }
      }
    }
  } finally {
    yield* sink.flush();
  }
}

/**
 * What each GAP reason means, after the reason itself; a reason this version does not know is
 * reported as the relay sent it, and the gap is passed all the same (a GAP says the seqs never come).
 */
const GAP_REASONS: Record<string, string> = {
  evicted: ' (the relay no longer held them)',
  dropped: " (skipped by the relay's lag policy)",
  lost: ' (the relay lost them from its disk in a power cut or a failed write, before a restart; some may never have been used)',
};

/** The request for a relay that said `hello`, given where the output stands. */
export function chooseStart(
  hello: Hello,
  position: Position | undefined,
  from: StartFrom,
  report: (line: string) => void,
): { request: From; skipTo?: Position } {
  const last = hello.next - 1;
  // "After the relay's last message" (an empty history has no last message to name: its oldest is
  // then the next one to come).
  const fromHead = (): From =>
    hello.oldest > last ? { from: 'oldest' } : { from: 'after', seq: last, log: hello.log };
  if (position) {
    if (position.log === hello.log && position.seq > last) {
      report(
        `the relay's log ${hello.log} ends at seq ${last} but the output has seq ${position.seq}: ` +
          `the relay lost messages it had sent (a crash before they reached its disk); continuing after seq ${last}`,
      );
      return { request: fromHead(), skipTo: { log: hello.log, seq: last } };
    }
    report(`resuming after seq ${position.seq}${position.log === hello.log ? '' : ` of log ${position.log}`}`);
    return { request: { from: 'after', seq: position.seq, log: position.log } };
  }
  switch (from.from) {
    case 'oldest':
      report(`starting from the oldest message held (seq ${hello.oldest})`);
      return { request: { from: 'oldest' } };
    case 'live':
      // FROM live, not "after the last seq": the relay holds a live subscriber to its lag limit
      // (--queue, --on-full), as it does a plain one; a resume may lag as far as the history reaches.
      report(`starting live (the relay's next message is seq ${hello.next})`);
      return { request: { from: 'live' } };
    case 'seq':
      if (from.seq > hello.next)
        throw new TailError(
          `--from ${from.seq} is beyond the relay's log (its next message will be seq ${hello.next})`,
        );
      report(`starting at seq ${from.seq}`);
      return { request: { from: 'after', seq: from.seq - 1, log: hello.log } };
  }
}

/** A relay that selected logrelay/1. */
export function* protocolSession(stream: ByteStream, sink: Sink, o: SessionOptions): Operation<Ending> {
  const parser = new FrameParser();
  const frames: Frame[] = [];
  const helloChunk = yield* o.stop.wait(timeout(o.helloTimeoutMs, readHello(stream, parser, frames)));
  if (helloChunk === null) return { kind: 'eof' };
  const hello = frames.shift() as Hello;
  if (o.filter !== undefined && !hello.filter) {
    throw new TailError(`the relay does not take filters (its HELLO has no filter=1): upgrade it, or drop --filter`);
  }
  const start = chooseStart(hello, sink.resumePoint, o.from, o.report);
  if (start.skipTo) sink.skipTo(start.skipTo);
  yield* o.stop.wait(stream.write(requestLine(start.request, { meta: o.meta, filter: o.filter })));
  let log = start.request.from === 'after' ? start.request.log : hello.log;
  /** The seq the next frame must start at; undefined while the relay chooses (from its oldest). */
  let expect = start.request.from === 'after' ? start.request.seq + 1 : undefined;
  let bye: string | undefined;
  try {
    for (;;) {
      for (const f of frames.splice(0)) {
        if (f.type === 'bye') {
          bye = f.reason;
          continue;
        }
        if (f.type === 'reset') {
          o.report(
            `reset: the relay's log is ${f.log}, not ${log} (it restarted without --history-dir, or is another relay): messages after seq ${expect === undefined ? '?' : expect - 1} of the old log may be missing; continuing from its oldest message`,
          );
          log = f.log;
          expect = undefined;
          continue;
        }
        if (f.type === 'hello') throw protocolError('a second HELLO');
        if (expect !== undefined && f.firstSeq !== expect)
          throw protocolError(`${f.type.toUpperCase()} starts at seq ${f.firstSeq}, expected ${expect}`);
        const lastSeq = f.firstSeq + f.count - 1;
        if (f.type === 'skip') {
          // Not selected by the filter: nothing to write, but the position moves past them (a resume
          // does not ask for them again, and they are never reported as missing).
          sink.skipTo({ log, seq: lastSeq });
        } else if (f.type === 'gap') {
          o.report(
            `gap of ${f.count} message${f.count === 1 ? '' : 's'} (seq ${f.firstSeq}${f.count > 1 ? `–${lastSeq}` : ''}): ${f.reason}${GAP_REASONS[f.reason] ?? ''}`,
          );
          sink.skipTo({ log, seq: lastSeq });
        } else {
          for (let i = 0; i < f.count; i++) {
            sink.add(f.messages[i], { log, seq: f.firstSeq + i }, f.meta?.[i]);
            if (sink.full) return { kind: 'done' };
            if (sink.batchFull) {
              yield* writeBatch(sink);
              if (o.stop.requested) return { kind: 'stopped' };
            }
          }
        }
        expect = lastSeq + 1;
      }
      let chunk: Buffer | null | undefined;
      try {
        chunk = yield* readBatched(stream, sink, o.stop);
      } catch (err) {
        // After its BYE the relay may cut the connection without close_notify: the BYE says why.
        if (bye === undefined || err instanceof OutputError || err instanceof StopRequested) throw err;
        chunk = null;
      }
      if (chunk === undefined) return { kind: 'stopped' };
      if (chunk === null) return bye === undefined ? { kind: 'eof' } : { kind: 'bye', reason: bye };
      frames.push(...parser.push(chunk));
    }
  } finally {
    yield* sink.flush();
  }
}

/** Reads until the parser has the HELLO (left in `frames`, with any frames after it); null at end of stream. */
function* readHello(stream: ByteStream, parser: FrameParser, frames: Frame[]): Operation<true | null> {
  while (frames.length === 0) {
    const chunk = yield* stream.read();
    if (chunk === null) return null;
    frames.push(...parser.push(chunk));
  }
  return true;
}
