'use strict';
/**
 * Our relay, as a user would run it from code: `new Relay(...)` with the bench's certificates, LF
 * framing, integrated mode (the relay's default: its loop in Node's) unless `mode=blocking` is given
 * (its loop alone in a worker thread).
 * Lag limit as the Node-core relay's queue: `queue` messages, drop-oldest, and a byte limit that
 * never binds first (the Node-core queue counts messages only). History: the defaults (100,000
 * messages, 32 MiB), except `history=N` for the catch-up case, with bytes enough for N messages.
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
    queueBytes: 1024 ** 3,
    history: p.history || undefined,
    historyBytes: p.history ? p.history * (p.size + 1) + (1 << 20) : undefined,
    onFull: 'drop-oldest',
    statsIntervalS: 0,
    // Node's tls.Server default (120 s), as the Node-core relay has: a thousand subscribers'
    // handshakes on a loaded 2-core machine can take longer than our 10 s default.
    handshakeTimeoutMs: 120000,
    // Every subscriber of the driver connects from 127.0.0.1, up to 50 handshakes at a time: the
    // per-address cap on pending handshakes (16 by default, against floods) would cut them, and
    // Node's tls.Server has no such cap.
    maxHandshakesPerIp: 1000,
    maxHandshakes: 2000,
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
  result({
    received: s.received,
    dropped: s.dropped.oldest + s.dropped.newest + s.dropped.disconnect,
    // What the history holds: its framed bytes and 40 bytes of records a message (history.ts).
    historyMiB: (s.history.bytes + 40 * s.history.messages) / 1024 ** 2,
    historyMessages: s.history.messages,
  });
});
