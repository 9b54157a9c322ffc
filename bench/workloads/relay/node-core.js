'use strict';
/**
 * The relay as one would write it on Node core: a `dgram` socket in, a `tls` server out that
 * demands a client certificate issued by our CA, one bounded queue per subscriber (drop-oldest,
 * drops counted), LF framing (one datagram, one line). The UDP handler only appends to queues and
 * kicks a subscriber that is not waiting for 'drain', so a slow subscriber never stalls the others.
 */
const dgram = require('dgram');
const tls = require('tls');
const { params, ready, result, onStop } = require('../../lib/impl');
const { load } = require('../../lib/certs');

const p = params();
const LF = Buffer.from('\n');
const subscribers = new Set();
let received = 0;
let dropped = 0;

function flush(sub) {
  while (sub.queue.length && !sub.waiting) {
    if (!sub.socket.write(sub.queue.shift())) {
      sub.waiting = true;
      sub.socket.once('drain', () => {
        sub.waiting = false;
        flush(sub);
      });
    }
  }
}

const server = tls.createServer(
  { ...load(p.certs, 'server'), requestCert: true, rejectUnauthorized: true },
  (socket) => {
    const sub = { socket, queue: [], waiting: false };
    socket.setNoDelay(true);
    subscribers.add(sub);
    socket.on('error', () => {}); // a subscriber leaving is its own business
    socket.on('close', () => subscribers.delete(sub));
  },
);

const udp = dgram.createSocket({ type: 'udp4', recvBufferSize: p.rcvbuf });
udp.on('message', (msg) => {
  received++;
  const line = Buffer.concat([msg, LF]);
  for (const sub of subscribers) {
    if (sub.queue.length >= p.queue) {
      sub.queue.shift();
      dropped++;
    }
    sub.queue.push(line);
    flush(sub);
  }
});

let pending = 2;
const listening = () => {
  if (--pending === 0) ready({ udpPort: udp.address().port, tlsPort: server.address().port });
};
udp.bind(0, '127.0.0.1', listening);
server.listen(0, '127.0.0.1', listening);
onStop(() => {
  udp.close();
  server.close();
  for (const sub of subscribers) sub.socket.destroy();
  result({ received, dropped });
});
