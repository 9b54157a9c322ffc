/** Several loops per process: two in one thread at once, and one per worker thread, in both modes. */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { FdStream, Loop, Operation, Pollset, sleep } from '../lib';
import { expectFdsBackTo, openFds } from './helpers/loops';

function* pingPong(rounds: number): Operation<number> {
  const [a, b] = FdStream.socketpair();
  let n = 0;
  try {
    for (let i = 0; i < rounds; i++) {
      yield* a.write(Buffer.from(`${i}\n`));
      const line = yield* b.readLine();
      if (line?.toString() === String(i)) n++;
      yield* sleep(1);
    }
  } finally {
    yield* a.close();
    yield* b.close();
  }
  return n;
}

describe.each(Pollset.backends)('%s backend', (backend) => {
  test('two loops run side by side in one thread (integrated mode)', async () => {
    const before = openFds();
    const loops = [new Loop({ backend }), new Loop({ backend })];
    const tasks = loops.map((l) => l.spawn(pingPong(20)));
    await Promise.all(loops.map((l) => l.run()));
    expect(await Promise.all(tasks)).toEqual([20, 20]);
    for (const l of loops) l.close();
    await expectFdsBackTo(before);
  });

  test('each worker thread runs its own loop, in both modes', async () => {
    const dist = path.join(__dirname, '..', 'dist');
    const source = `
    const { parentPort, workerData } = require('worker_threads');
    const { Loop, FdStream, sleep } = require(${JSON.stringify(dist)});
    const loop = new Loop({ backend: workerData.backend });
    const t = loop.spawn(function* () {
      const [a, b] = FdStream.socketpair();
      yield* sleep(5);
      yield* a.write(Buffer.from('from ' + workerData.mode + '\\n'));
      const line = yield* b.readLine();
      yield* a.close();
      yield* b.close();
      return line.toString();
    });
    const finish = async () => { const r = await t; loop.close(); parentPort.postMessage(r); };
    if (workerData.mode === 'blocking') { loop.runBlocking(); finish(); }
    else loop.run().then(finish);
  `;
    const results = await Promise.all(
      ['blocking', 'integrated', 'blocking', 'integrated'].map(
        (mode) =>
          new Promise<string>((resolve, reject) => {
            const w = new Worker(source, { eval: true, workerData: { mode, backend } });
            w.once('message', (m) => {
              void w.terminate();
              resolve(m as string);
            });
            w.once('error', reject);
          }),
      ),
    );
    expect(results).toEqual(['from blocking', 'from integrated', 'from blocking', 'from integrated']);
  });
});
