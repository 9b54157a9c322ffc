/** The mis-resume scenario (test/helpers/misresume.ts) over socketpairs. */
import { FdStream } from '../lib';
import { describeMatrix, newLoop } from './helpers/loops';
import { CONSUMERS, expectMailboxDelivery, expectMisResume } from './helpers/misresume';

const socketpairs = () => Array.from({ length: CONSUMERS }, () => FdStream.socketpair());

describeMatrix((backend, mode) => {
  test('the buggy design (resume consumers with data) throws the mis-resume error', async () => {
    await expectMisResume(newLoop(backend).loop, mode, socketpairs());
  });

  test('with mailboxes every consumer peer receives all 500 messages in order, intact', async () => {
    const { loop, crashes } = newLoop(backend);
    await expectMailboxDelivery(loop, mode, crashes, socketpairs());
  });
});
