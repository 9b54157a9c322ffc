'use strict';
/** udp-ingest on Node core: a `dgram` socket counting 'message' events, nothing else. */
const dgram = require('dgram');
const { params, ready, result, onStop } = require('../../lib/impl');

const p = params();
let received = 0;
let bytes = 0;
let first = 0n;
let last = 0n;
const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: p.rcvbuf });
socket.on('message', (msg) => {
  last = process.hrtime.bigint();
  if (received === 0) first = last;
  received++;
  bytes += msg.length;
});
socket.bind(0, '127.0.0.1', () => ready({ port: socket.address().port }));
onStop(() => {
  socket.close();
  result({ received, bytes, seconds: Number(last - first) / 1e9 });
});
