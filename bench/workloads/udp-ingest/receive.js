'use strict';
/**
 * What both pollset udp-ingest receivers share: the DatagramSocket set up like every other
 * receiver (127.0.0.1, SO_RCVBUF = rcvbuf), and draining it with batched receives until EAGAIN,
 * counting datagrams and bytes between the first and the last one.
 */
const { bindDatagram, WOULD_BLOCK } = require('../../../dist');

function receiver(p) {
  const socket = bindDatagram('udp4', '127.0.0.1:0', { slots: p.slots, slotSize: p.slotSize });
  socket.setRecvBufferSize(p.rcvbuf);
  const tally = { received: 0, bytes: 0, first: 0n, last: 0n };
  const drain = () => {
    for (let batch = socket.receive(); batch !== WOULD_BLOCK; batch = socket.receive()) {
      tally.last = process.hrtime.bigint();
      if (tally.received === 0) tally.first = tally.last;
      tally.received += batch.count;
      for (let i = 0; i < batch.count; i++) tally.bytes += batch.length(i);
    }
  };
  const report = () => ({
    received: tally.received,
    bytes: tally.bytes,
    seconds: Number(tally.last - tally.first) / 1e9,
  });
  return { socket, port: socket.localAddress().port, drain, report };
}

module.exports = { receiver };
