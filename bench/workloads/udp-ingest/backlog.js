'use strict';
/**
 * udp-ingest's saturated phase: what one receiver costs per datagram when it is the bottleneck.
 *
 * On loopback the sender's sendmmsg does the kernel's whole delivery path (UDP/IP output and input,
 * the enqueue on the receiver's socket), so one sender on this 2-core machine cannot outrun a
 * receiver that only copies datagrams out: in the flood phase every pollset receiver and the C one
 * keep up (0 % loss) and their msgs/s is the sender's. Here the receiver is frozen (SIGSTOP) while
 * the sender fills its socket buffer, then thawed (SIGCONT) to drain it, and this repeats `bursts`
 * times; the datagrams it drained are the ones the kernel queued (sent minus the socket's drop
 * counter, both read from /proc/net/udp, so no receiver has to report per phase), and its CPU time
 * over the bursts (thread run time, ns) divided by them is its cost per datagram with every receive
 * finding a full queue — the inverse of the rate it would sustain on one core of its own.
 */
const fs = require('fs');

/** rx_queue (bytes waiting) and drops of the IPv4 UDP socket bound to 127.0.0.1:`port`. */
function udpSocketState(port) {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of fs.readFileSync('/proc/net/udp', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local) return { rxQueue: parseInt(f[4].split(':')[1], 16), drops: Number(f[f.length - 1]) };
  }
  throw new Error(`no UDP socket on 127.0.0.1:${port} in /proc/net/udp`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (bounded) until the receiver has emptied its socket; throws if it does not within `limitMs`. */
async function drained(port, limitMs) {
  const until = Date.now() + limitMs;
  while (udpSocketState(port).rxQueue > 0) {
    if (Date.now() > until) throw new Error(`receiver did not drain its socket within ${limitMs} ms`);
    await sleep(1);
  }
}

/**
 * Runs the saturated phase against a fresh receiver `impl`: `{ drainNsPerMsg, drainedMsgs }`.
 * `burst` datagrams are sent per freeze (what does not fit in the buffer is dropped by the kernel
 * in the sender's time and not counted).
 */
async function saturated(ctx, impl, params) {
  const receiver = ctx.start(impl.file, { rcvbuf: params.rcvbuf, slots: params.slots, slotSize: params.slotSize });
  try {
    const { port } = await receiver.expect('ready');
    let delivered = 0;
    let cpu = 0;
    for (let i = 0; i < params.bursts; i++) {
      const dropsBefore = udpSocketState(port).drops;
      receiver.pause();
      const sender = ctx.start('c/udp_send.c', { port, size: params.size, count: params.burst, seconds: 2 });
      const { sent } = await sender.expect('result');
      await sender.done();
      const queued = sent - (udpSocketState(port).drops - dropsBefore);
      const before = receiver.usage().cpuSeconds;
      receiver.resume();
      await drained(port, 5000);
      await sleep(2); // the last batch's bookkeeping in the receiver, after the socket emptied
      cpu += receiver.usage().cpuSeconds - before;
      delivered += queued;
    }
    receiver.stop();
    await receiver.expect('result');
    await receiver.done();
    if (delivered === 0) throw new Error('no datagram reached the receiver in the saturated phase');
    return { drainNsPerMsg: (cpu * 1e9) / delivered, drainedMsgs: delivered };
  } finally {
    receiver.resume();
    receiver.kill();
  }
}

module.exports = { saturated, udpSocketState };
