'use strict';
/**
 * tcp-echo in the blocking loop, on the low-level tcp functions: accept in batches, read what is
 * there, write it back; a reply the kernel does not take at once waits for 'w' readiness. Stdin
 * (fd 0) is in the set: the harness closes it to say "stop".
 */
const { Pollset, tcp, close, WOULD_BLOCK } = require('../../../dist');
const { ready, result } = require('../../lib/impl');

const STDIN = 0;
const listener = tcp.listen('127.0.0.1:0');
const ps = new Pollset();
const buf = Buffer.alloc(65536);
const pending = new Map(); // fd → bytes not yet echoed

ps.insert(listener, 'r');
ps.insert(STDIN, 'r');
ready({ port: tcp.localAddress(listener).port });

function drop(fd) {
  ps.remove(fd);
  close(fd);
  pending.delete(fd);
}

/** Writes `data` (or its tail); whatever is left waits for writability. */
function echo(fd, data) {
  const n = tcp.write(fd, data);
  const left = data.subarray(n === WOULD_BLOCK ? 0 : n);
  if (left.length === 0) return true;
  pending.set(fd, Buffer.from(left));
  ps.update(fd, 'w');
  return false;
}

/** Reads until the socket is empty; a short read already says so (as libuv assumes), which saves a read syscall. */
function readable(fd) {
  for (;;) {
    const n = tcp.read(fd, buf);
    if (n === WOULD_BLOCK) return;
    if (n === 0) return drop(fd);
    if (!echo(fd, buf.subarray(0, n)) || n < buf.length) return;
  }
}

function writable(fd) {
  const data = pending.get(fd);
  pending.delete(fd);
  if (echo(fd, data)) ps.update(fd, 'r');
}

for (let stop = false; !stop;) {
  ps.wait(-1);
  for (const ev of ps.events()) {
    if (ev.fd === STDIN) stop = true;
    else if (ev.fd === listener) {
      const conns = tcp.accept(listener);
      if (conns !== WOULD_BLOCK)
        for (const { fd } of conns) {
          tcp.setNoDelay(fd);
          ps.insert(fd, 'r');
        }
    } else {
      try {
        if (pending.has(ev.fd)) writable(ev.fd);
        else readable(ev.fd);
      } catch (err) {
        if (!['ECONNRESET', 'EPIPE'].includes(err.code)) throw err;
        drop(ev.fd); // the client leaving at the end
      }
    }
  }
}
ps.close();
close(listener);
result({});
