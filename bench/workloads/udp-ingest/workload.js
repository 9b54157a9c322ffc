'use strict';
/**
 * udp-ingest: one receiver on 127.0.0.1, one C sender (bench/c/udp_send.c, sendmmsg) blasting a
 * fixed number of datagrams as fast as it can. Received msgs/s is counted between the receiver's
 * first and last datagram; loss is what the receiver's socket buffer had to drop. Every receiver
 * asks for the same SO_RCVBUF (4 MiB, the kernel's rmem_max here); the pollset ones receive 64
 * datagrams per recvmmsg into 2 KiB slots. A receiver with ~0 % loss was not the bottleneck: its
 * rate is the sender's. So each run has a second, saturated phase (backlog.js) on a fresh receiver:
 * its CPU time per datagram when every receive finds a full socket buffer, and from it the rate it
 * sustains on one core (`saturated msgs/s`), which is what the targets compare.
 */
const { saturated } = require('./backlog');

const SIZES = [64, 256, 1024];

module.exports = {
  name: 'udp-ingest',
  title: 'UDP datagrams into one receiver',
  metrics: [
    { key: 'msgsPerSec', label: 'received msgs/s', digits: 0 },
    { key: 'lossPercent', label: 'loss %', digits: 1 },
    { key: 'sendPerSec', label: 'sender msgs/s', digits: 0 },
    { key: 'cpuNsPerMsg', label: 'receiver CPU ns/msg', digits: 0 },
    { key: 'drainNsPerMsg', label: 'saturated CPU ns/msg', digits: 0 },
    { key: 'saturatedPerSec', label: 'saturated msgs/s', digits: 0 },
  ],
  cases: (quick) =>
    SIZES.map((size) => ({
      label: `${size} B`,
      params: {
        size,
        count: quick ? 150000 : 2000000,
        seconds: quick ? 0.5 : 5,
        rcvbuf: 4 << 20,
        slots: 64,
        slotSize: 2048,
        bursts: quick ? 6 : 30,
        burst: 12000,
      },
    })),
  implementations: [
    { name: 'node dgram', file: 'workloads/udp-ingest/node-dgram.js' },
    { name: 'pollset integrated', file: 'workloads/udp-ingest/pollset-integrated.js' },
    { name: 'pollset blocking', file: 'workloads/udp-ingest/pollset-blocking.js' },
    { name: 'C epoll+recvmmsg', file: 'c/udp_recv.c' },
  ],
  targets: [
    { a: 'pollset integrated', b: 'node dgram', metric: 'saturatedPerSec', min: 2.0, when: (p) => p.size === 256 },
    { a: 'pollset blocking', b: 'node dgram', metric: 'saturatedPerSec', min: 2.0, when: (p) => p.size === 256 },
    {
      a: 'pollset integrated',
      b: 'C epoll+recvmmsg',
      metric: 'saturatedPerSec',
      min: 0.7,
      when: (p) => p.size === 256,
    },
    { a: 'pollset blocking', b: 'C epoll+recvmmsg', metric: 'saturatedPerSec', min: 0.7, when: (p) => p.size === 256 },
    { a: 'C epoll+recvmmsg', b: 'node dgram', metric: 'saturatedPerSec', min: 1, when: (p) => p.size === 256 },
  ],
  async measure(ctx, impl, params) {
    const receiver = ctx.start(impl.file, { rcvbuf: params.rcvbuf, slots: params.slots, slotSize: params.slotSize });
    const { port } = await receiver.expect('ready');
    const before = receiver.usage();
    const sender = ctx.start('c/udp_send.c', { port, size: params.size, count: params.count, seconds: params.seconds });
    const { sent, seconds } = await sender.expect('result');
    await new Promise((resolve) => setTimeout(resolve, 100)); // let the receiver drain its socket buffer
    const after = receiver.usage();
    receiver.stop();
    const got = await receiver.expect('result');
    await Promise.all([sender.done(), receiver.done()]);
    if (got.received < 2) throw new Error(`receiver got ${got.received} of ${sent} datagrams`);
    const { drainNsPerMsg, drainedMsgs } = await saturated(ctx, impl, params);
    return {
      msgsPerSec: (got.received - 1) / got.seconds,
      lossPercent: (100 * (sent - got.received)) / sent,
      sendPerSec: sent / seconds,
      // When a receiver keeps up, its rate is the sender's; its CPU per message still differs (a receiver
      // that keeps up is woken for few datagrams at a time, so this includes the wake-ups).
      cpuNsPerMsg: ((after.cpuSeconds - before.cpuSeconds) * 1e9) / got.received,
      drainNsPerMsg,
      saturatedPerSec: 1e9 / drainNsPerMsg,
      drainedMsgs,
      received: got.received,
      sent,
    };
  },
};
