/**
 * The mis-resume scenario, over any kind of stream pair: a producer floods 500 messages of ~300 bytes
 * to several consumers, each writing to its own stream whose reader is slow (it pauses before
 * reading, then reads small chunks with pauses), so consumers block in write with a full buffer.
 * Each pair is [writer (the consumer's end), reader (the slow peer)].
 */
import { ByteStream, CLOSED, Loop, Mailbox, Operation, park, schedule, sleep, Task, yieldNow } from '../../lib';
import { drive, Mode } from './loops';

export const MESSAGES = 500;
export const CONSUMERS = 4;

export type Pair = [writer: ByteStream, reader: ByteStream];

export function message(i: number): Buffer {
  const head = `<13>Jan  1 00:00:00 host app[42]: message ${i} `;
  return Buffer.from(head.padEnd(299, '.') + '\n'); // 300 bytes, LF-framed
}

/** Reads everything, slowly: a pause first (the sender's buffer fills), then 2 KiB per ms. */
export function* slowReader(stream: ByteStream, pauseMs: number): Operation<Buffer> {
  yield* sleep(pauseMs);
  const parts: Buffer[] = [];
  for (let chunk = yield* stream.read(2048); chunk; chunk = yield* stream.read(2048)) {
    parts.push(chunk);
    yield* sleep(1);
  }
  return Buffer.concat(parts);
}

/**
 * The buggy design: consumers park, and the producer resumes them with data whatever they are doing
 * (even while one is suspended inside a write with a full send buffer). Expects the scheduler's mis-resume error naming a consumer and its writer's fd, and
 * everything released afterwards. Closes the pairs and the loop.
 */
export async function expectMisResume(loop: Loop, mode: Mode, pairs: Pair[]): Promise<void> {
  const consumers: Task<never>[] = pairs.map(([w]) =>
    loop.spawn(function* () {
      for (;;) {
        const msg = yield* park<Buffer>();
        yield* w.write(msg);
      }
    }),
  );
  const readers = pairs.map(([, r]) => loop.spawn(() => slowReader(r, 10_000)));
  const producer = loop.spawn(function* () {
    yield* yieldNow(); // consumers are parked now
    for (let i = 0; i < MESSAGES; i++) {
      for (const c of consumers) schedule(c, message(i));
      yield* yieldNow(); // a datagram handler returns to the loop between datagrams
    }
  });
  let failure: Error | undefined;
  const watcher = loop.spawn(function* () {
    try {
      yield* producer.join();
    } catch (e) {
      failure = e as Error;
    }
    for (const t of [...consumers, ...readers]) t.halt();
    // Readers first: a writer's close then fails fast on the reset connection instead of
    // waiting for a TLS close_notify to fit into a full buffer.
    for (const [, r] of pairs) yield* r.close();
    for (const [w] of pairs) yield* w.close();
  });
  await drive(loop, mode);
  await watcher;
  expect(failure?.message).toMatch(/^task \d+ is blocked writing fd \d+$/);
  expect((failure as unknown as { code: string }).code).toBe('ERR_TASK_NOT_PARKED');
  const [, id, fd] = /task (\d+) is blocked writing fd (\d+)/.exec(failure!.message)!.map(Number);
  const culprit = consumers.findIndex((c) => c.id === id);
  expect(culprit).toBeGreaterThanOrEqual(0);
  expect(pairs[culprit][0].fd).toBe(fd);
  expect(loop.stats).toEqual({ tasks: 0, queued: 0, timers: 0, pollsetSize: 0, fdWaiters: 0 });
  loop.close();
}

/**
 * The fix: each consumer takes from its own mailbox. Expects every reader to receive all messages,
 * in order, intact, with consumers really blocked in write at some point. Closes the pairs and the loop.
 */
export async function expectMailboxDelivery(loop: Loop, mode: Mode, crashes: unknown[], pairs: Pair[]): Promise<void> {
  const boxes = pairs.map(() => new Mailbox<Buffer>(32));
  let blockedWrites = 0;
  pairs.forEach(
    ([w], k) =>
      void loop.spawn(function* () {
        for (;;) {
          const msg = yield* boxes[k].take();
          if (msg === CLOSED) break;
          yield* w.write(msg);
        }
        yield* w.close();
      }),
  );
  // the first reader starts late, so its consumer's writes block while the others flow
  const readers = pairs.map(([, r], k) =>
    loop.spawn(function* () {
      const all = yield* slowReader(r, k === 0 ? 50 : 1);
      yield* r.close();
      return all;
    }),
  );
  loop.spawn(function* () {
    for (let i = 0; i < MESSAGES; i++) {
      for (const box of boxes) yield* box.put(message(i));
      if (loop.stats.fdWaiters > 0) blockedWrites++;
      yield* yieldNow();
    }
    for (const box of boxes) box.close();
  });
  await drive(loop, mode);
  const expected = Buffer.concat(Array.from({ length: MESSAGES }, (_, i) => message(i)));
  for (const r of readers) expect((await r).equals(expected)).toBe(true);
  expect(blockedWrites).toBeGreaterThan(0); // the scenario really had consumers blocked in write
  expect(crashes).toEqual([]);
  expect(loop.stats).toEqual({ tasks: 0, queued: 0, timers: 0, pollsetSize: 0, fdWaiters: 0 });
  loop.close();
}
