/** Halting a task blocked in a stream operation (TCP read, TCP write, TLS handshake) releases its fd interest and its timers, and leaks no fd. */
import { ByteStream, Loop, Operation, sleep, timeout, TlsStream } from '../lib';
import { describeMatrix, drive, newLoop, Mode } from './helpers/loops';
import { runOp, tcpPairs, tlsContexts } from './helpers/tcp';

/**
 * Runs `op` on `owned` under a 10 s timeout in a task that closes `owned` in its `finally`, halts
 * it once it is blocked `waiting` on the stream's fd, and checks that the pollset and timers are
 * empty right after the halt and that `owned` was closed.
 */
async function expectHaltReleases(
  loop: Loop,
  mode: Mode,
  owned: ByteStream,
  op: Operation<unknown>,
  waiting: 'reading' | 'writing',
  others: ByteStream[],
): Promise<void> {
  const waitsFor = new RegExp(`^blocked ${waiting} fd ${owned.fd}$`);
  const task = loop.spawn(function* () {
    try {
      return yield* timeout(10_000, op);
    } finally {
      yield* owned.close();
    }
  });
  const seen = loop.spawn(function* () {
    for (let i = 0; i < 1000 && !waitsFor.test(task.blockedOn); i++) yield* sleep(1);
    const before = { ...loop.stats, what: task.blockedOn };
    task.halt();
    const after = loop.stats;
    for (const s of others) yield* s.close();
    return { before, after };
  });
  await drive(loop, mode);
  const { before, after } = await seen;
  expect(before.what).toMatch(waitsFor);
  expect(before.timers).toBe(1); // the timeout's deadline (the checker is running, not sleeping)
  expect(before.pollsetSize).toBeGreaterThan(0);
  expect(after).toMatchObject({ timers: 0, pollsetSize: 0, fdWaiters: 0 });
  expect(task.state).toBe('done');
  expect(loop.stats).toEqual({ tasks: 0, queued: 0, timers: 0, pollsetSize: 0, fdWaiters: 0 });
  expect(owned.closed).toBe(true);
  loop.close();
}

describeMatrix((backend, mode) => {
  test('halting a task blocked in TCP read releases its interest and timers; its finally closes the fd', async () => {
    const { loop } = newLoop(backend);
    const [[client, server]] = await runOp(loop, mode, tcpPairs(1));
    await expectHaltReleases(loop, mode, server, server.read(), 'reading', [client]);
  });

  test('halting a task blocked in TCP write releases its interest and timers; its finally closes the fd', async () => {
    const { loop } = newLoop(backend);
    const [[client, server]] = await runOp(loop, mode, tcpPairs(1, { clientSendBuffer: 4096, serverRecvBuffer: 4096 }));
    // far more than both buffers hold
    await expectHaltReleases(loop, mode, client, client.write(Buffer.alloc(8 << 20)), 'writing', [server]);
  });

  test('halting a task blocked in a TLS handshake releases its interest and timers; its finally closes the fd', async () => {
    const { loop } = newLoop(backend);
    const contexts = tlsContexts();
    const [[client, server]] = await runOp(loop, mode, tcpPairs(1)); // the client never says hello
    const tls = TlsStream.server(server, contexts.server);
    await expectHaltReleases(loop, mode, tls, tls.handshake(), 'reading', [client]);
    contexts.free();
  });
});
