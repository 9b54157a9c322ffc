'use strict';
/**
 * udp-ingest in the blocking loop: the process does nothing but wait on its Pollset, so stdin
 * (fd 0, which the harness closes to say "stop") is one more fd in the set.
 */
const { Pollset } = require('../../../dist');
const { params, ready, result } = require('../../lib/impl');
const { receiver } = require('./receive');

const STDIN = 0;
const rx = receiver(params());
const ps = new Pollset();
ps.insert(rx.socket.fd, 'r');
ps.insert(STDIN, 'r');
ready({ port: rx.port });
for (let stop = false; !stop;) {
  ps.wait(-1);
  for (const ev of ps.events()) {
    if (ev.fd === STDIN) stop = true;
    else rx.drain();
  }
}
ps.close();
rx.socket.close();
result(rx.report());
