'use strict';
/**
 * tcp-echo on the scheduler, integrated with Node's loop: an accept task, and per connection a
 * task that reads what is there and writes it back through an FdStream. Halting the tasks (on
 * stdin close) runs their `finally` blocks, which close the fds.
 */
const { Loop, FdStream, tcp, waitReadable, close, WOULD_BLOCK } = require('../../../dist');
const { ready, result, onStop } = require('../../lib/impl');

const loop = new Loop();
const listener = tcp.listen('127.0.0.1:0');
const tasks = new Set();

function* echo(stream) {
  try {
    for (let chunk = yield* stream.read(); chunk; chunk = yield* stream.read()) yield* stream.write(chunk);
  } catch (err) {
    if (!['ECONNRESET', 'EPIPE'].includes(err.code)) throw err; // the client leaving at the end
  } finally {
    yield* stream.close();
  }
}

tasks.add(
  loop.spawn(function* accept() {
    try {
      for (;;) {
        yield* waitReadable(listener);
        const conns = tcp.accept(listener);
        if (conns === WOULD_BLOCK) continue;
        for (const { fd } of conns) {
          tcp.setNoDelay(fd);
          tasks.add(loop.spawn(echo(new FdStream(fd))));
        }
      }
    } finally {
      close(listener);
    }
  }),
);
ready({ port: tcp.localAddress(listener).port });
onStop(() => tasks.forEach((t) => t.halt()));
loop.run().then(() => {
  loop.close();
  result({});
});
