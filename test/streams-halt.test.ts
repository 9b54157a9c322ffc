/** Halting a task blocked in a stream operation (TCP read, TCP write, TLS handshake) releases its fd interest and its timers, and leaks no fd. */
import { ByteStream, Loop, Operation, sleep, timeout, TlsStream } from '../lib';
import { describeMatrix, drive, newLoop, Mode } from './helpers/loops';
import { runOp, tcpPairs, tlsContexts } from './helpers/tcp';

/**
 * Runs `blocked` (which owns `owned`) under a 10 s timeout, halts it once it waits on `fd` for
 * `waitsFor`, and checks that the pollset and timers are empty right after the halt.
 */
async function expectHaltReleases(loop: Loop, mode: Mode, blocked: () => Operation<unknown>, waitsFor: RegExp, others: ByteStream[]): Promise<void> {
  const task = loop.spawn(() => timeout(10_000, blocked()));
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
  loop.close();
}

describeMatrix((backend, mode) => {
  test('halting a task blocked in TCP read releases its interest and timers; its finally closes the fd', async () => {
    const { loop } = newLoop(backend);
    const [[client, server]] = await runOp(loop, mode, tcpPairs(1));
    await expectHaltReleases(
      loop,
      mode,
      function* () {
        try {
          return yield* server.read();
        } finally {
          yield* server.close();
        }
      },
      new RegExp(`^blocked reading fd ${server.fd}$`),
      [client],
    );
    expect(server.closed).toBe(true);
  });

  test('halting a task blocked in TCP write releases its interest and timers; its finally closes the fd', async () => {
    const { loop } = newLoop(backend);
    const [[client, server]] = await runOp(loop, mode, tcpPairs(1, { clientSendBuffer: 4096, serverRecvBuffer: 4096 }));
    await expectHaltReleases(
      loop,
      mode,
      function* () {
        try {
          yield* client.write(Buffer.alloc(8 << 20)); // far more than both buffers hold
        } finally {
          yield* client.close();
        }
      },
      new RegExp(`^blocked writing fd ${client.fd}$`),
      [server],
    );
    expect(client.closed).toBe(true);
  });

  test('halting a task blocked in a TLS handshake releases its interest and timers; its finally closes the fd', async () => {
    const { loop } = newLoop(backend);
    const contexts = tlsContexts();
    const [[client, server]] = await runOp(loop, mode, tcpPairs(1)); // the client never says hello
    const tls = TlsStream.server(server, contexts.server);
    await expectHaltReleases(
      loop,
      mode,
      function* () {
        try {
          yield* tls.handshake();
        } finally {
          yield* tls.close();
        }
      },
      new RegExp(`^blocked reading fd ${tls.fd}$`),
      [client],
    );
    expect(tls.closed).toBe(true);
    contexts.free();
  });
});
