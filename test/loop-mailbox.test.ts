/** Mailboxes: bounded put waits, take waits, FIFO order, close semantics. */
import { CLOSED, Loop, Mailbox, sleep, yieldNow } from '../lib';
import { describeMatrix, drive, newLoop } from './helpers/loops';

describeMatrix((backend, mode) => {
  test('put waits while full, take waits while empty, values arrive in order', async () => {
    const { loop, crashes } = newLoop(backend);
    const box = new Mailbox<number>(2);
    const log: string[] = [];
    const producer = loop.spawn(function* () {
      for (let i = 0; i < 6; i++) {
        yield* box.put(i);
        log.push(`put ${i}`);
      }
      box.close();
    });
    const consumer = loop.spawn(function* () {
      yield* sleep(10);
      log.push(`producer is ${producer.blockedOn} with ${box.size} buffered`);
      const got: number[] = [];
      for (;;) {
        const v = yield* box.take();
        if (v === CLOSED) return got;
        got.push(v);
      }
    });
    await drive(loop, mode);
    expect(await consumer).toEqual([0, 1, 2, 3, 4, 5]);
    expect(log.slice(0, 3)).toEqual(['put 0', 'put 1', 'producer is putting into mailbox with 2 buffered']);
    expect(crashes).toEqual([]);
    loop.close();
  });

  test('a waiting take gets the next put; several putters keep FIFO order', async () => {
    const { loop } = newLoop(backend);
    const box = new Mailbox<string>(1);
    const taker = loop.spawn(() => box.take());
    const putters = ['a', 'b', 'c', 'd'].map((v) =>
      loop.spawn(function* () {
        yield* sleep(5);
        yield* box.put(v);
      }),
    );
    const rest = loop.spawn(function* () {
      yield* sleep(20);
      const got: (string | typeof CLOSED)[] = [];
      for (let i = 0; i < 3; i++) got.push(yield* box.take());
      return got;
    });
    await drive(loop, mode);
    expect(await taker).toBe('a');
    expect(await rest).toEqual(['b', 'c', 'd']);
    for (const p of putters) expect(p.state).toBe('done');
    loop.close();
  });

  test('close: buffered values drain, then CLOSED; waiting and later puts throw EPIPE; tryPut reports full', async () => {
    const { loop, crashes } = newLoop(backend);
    const box = new Mailbox<number>(1);
    expect(box.tryPut(1)).toBe(true);
    expect(box.tryPut(2)).toBe(false);
    const blockedPut = loop.spawn(function* () {
      try {
        yield* box.put(3);
        return 'put';
      } catch (e) {
        return (e as { code: string }).code;
      }
    });
    const closer = loop.spawn(function* () {
      yield* yieldNow();
      box.close();
      let late = '';
      try {
        box.tryPut(4);
      } catch (e) {
        late = (e as { code: string }).code;
      }
      return [late, yield* box.take(), yield* box.take(), yield* box.take()];
    });
    await drive(loop, mode);
    expect(await blockedPut).toBe('EPIPE');
    expect(await closer).toEqual(['EPIPE', 1, CLOSED, CLOSED]);
    expect(box.tryTake()).toBe(CLOSED);
    expect(crashes).toEqual([]);
    loop.close();
  });
});

test('a value handed to a waiting taker that is halted before it runs reaches the next taker, in order', async () => {
  const loop = new Loop();
  const box = new Mailbox<number>(4);
  const first = loop.spawn(() => box.take());
  const second = loop.spawn(() => box.take());
  const late = loop.spawn(function* () {
    yield* sleep(20);
    return [box.tryTake(), box.tryTake()];
  });
  loop.spawn(function* () {
    yield* sleep(5); // both takers are waiting by now
    box.tryPut(1); // handed to `first`, which is queued but has not run
    first.halt();
    box.tryPut(2);
    box.tryPut(3);
  });
  await loop.run();
  await expect(first.toPromise()).rejects.toThrow('was halted');
  expect(await second).toBe(1);
  expect(await late).toEqual([2, 3]);
  loop.close();
});

test('a value handed to a halted taker with nobody else waiting goes back to the front of the mailbox', async () => {
  const loop = new Loop();
  const box = new Mailbox<number>(4);
  const taker = loop.spawn(() => box.take());
  loop.spawn(function* () {
    yield* sleep(5);
    box.tryPut(1);
    taker.halt();
    box.tryPut(2);
  });
  await loop.run();
  expect([box.tryTake(), box.tryTake(), box.size]).toEqual([1, 2, 0]);
  loop.close();
});
