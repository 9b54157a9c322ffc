'use strict';
/**
 * Our relay, as a user would run it from code: `new Relay(...)` with the bench's certificates, LF
 * framing, drop-oldest queues of `queue` messages, integrated mode (the relay's default: its loop in
 * Node's) unless `mode=blocking` is given (its loop alone in a worker thread).
 */
const path = require('path');
const { Relay } = require('../../../dist');
const { params, ready, result, onStop } = require('../../lib/impl');

const p = params();
const file = (name) => ({ file: path.join(p.certs, name) });
const relay = new Relay(
  {
    udp: ['127.0.0.1:0'],
    tls: '127.0.0.1:0',
    cert: file('server.crt'),
    key: file('server.key'),
    ca: file('ca.crt'),
    receiveBuffer: p.rcvbuf,
    framing: 'lf',
    queue: p.queue,
    onFull: 'drop-oldest',
    statsIntervalS: 0,
    mode: p.mode === 'blocking' ? 'blocking' : 'integrated',
  },
  () => {}, // the bench measures; the relay's log would only cost time
);

relay.start().then((listening) => {
  const port = (addr) => Number(addr.slice(addr.lastIndexOf(':') + 1));
  ready({ udpPort: port(listening.inputs[0]), tlsPort: port(listening.tls) });
});
onStop(async () => {
  const s = relay.stats();
  await relay.stop({ drainMs: 0 });
  result({ received: s.received, dropped: s.dropped.oldest + s.dropped.newest + s.dropped.disconnect });
});
