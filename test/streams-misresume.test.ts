/**
 * The mis-resume scenario (test/helpers/misresume.ts) over real TCP and TLS: each consumer writes to its own
 * connection whose reader is slow, with a small SO_SNDBUF on the writer and a small SO_RCVBUF on
 * the reader, so writes block early.
 */
import { describeMatrix, newLoop } from './helpers/loops';
import { CONSUMERS, expectMailboxDelivery, expectMisResume } from './helpers/misresume';
import { runOp, tcpPairs, tlsContexts, tlsPairs } from './helpers/tcp';

const SMALL = { clientSendBuffer: 4096, serverRecvBuffer: 4096 };

describeMatrix((backend, mode) => {
  test('TCP: the buggy design (resume consumers with data) throws the mis-resume error', async () => {
    const { loop } = newLoop(backend);
    const pairs = await runOp(loop, mode, tcpPairs(CONSUMERS, SMALL));
    await expectMisResume(loop, mode, pairs);
  });

  test('TCP: with mailboxes every consumer peer receives all 500 messages in order, intact', async () => {
    const { loop, crashes } = newLoop(backend);
    const pairs = await runOp(loop, mode, tcpPairs(CONSUMERS, SMALL));
    await expectMailboxDelivery(loop, mode, crashes, pairs);
  });

  test('TLS: the buggy design (resume consumers with data) throws the mis-resume error', async () => {
    const { loop } = newLoop(backend);
    const contexts = tlsContexts();
    const pairs = await runOp(loop, mode, tlsPairs(CONSUMERS, contexts, SMALL));
    await expectMisResume(loop, mode, pairs);
    contexts.free();
  });

  test('TLS: with mailboxes every consumer peer receives all 500 messages in order, intact', async () => {
    const { loop, crashes } = newLoop(backend);
    const contexts = tlsContexts();
    const pairs = await runOp(loop, mode, tlsPairs(CONSUMERS, contexts, SMALL));
    await expectMailboxDelivery(loop, mode, crashes, pairs);
    contexts.free();
  });
});
