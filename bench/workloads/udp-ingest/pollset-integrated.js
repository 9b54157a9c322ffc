'use strict';
/** udp-ingest through a DatagramSocket watched by a Pollset inside Node's event loop. */
const { Pollset } = require('../../../dist');
const { params, ready, result, onStop } = require('../../lib/impl');
const { receiver } = require('./receive');

const rx = receiver(params());
const ps = new Pollset();
ps.insert(rx.socket.fd, 'r');
ps.watch(rx.drain);
ready({ port: rx.port });
onStop(() => {
  ps.close();
  rx.socket.close();
  result(rx.report());
});
