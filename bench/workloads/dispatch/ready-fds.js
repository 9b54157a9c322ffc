'use strict';
/**
 * `n` registered fds of which exactly `ready` are readable, made from n/2 unix socketpairs: both
 * ends of a pair are registered, and a byte written into one end makes only the other end
 * readable. So n fds cost n descriptors, where pipes would cost 2n (10,000 pipes need 20,000 fds,
 * the whole `ulimit -n` of the bench machine). Nothing is ever read, so level-triggered readiness
 * stays put for the whole measurement.
 */
const { socketpair, write, close } = require('../../../dist');

function readyFds(n, ready) {
  if (n % 2 || ready > n) throw new RangeError(`need an even n >= ready (n=${n}, ready=${ready})`);
  const fds = [];
  const readable = [];
  const byte = Buffer.from('x');
  for (let i = 0; i < n / 2; i++) {
    const [a, b] = socketpair('stream');
    fds.push(a, b);
    // Ready ends are spread across the set, as if real traffic came in anywhere.
    if (readable.length < ready && i % Math.max(1, Math.floor(n / 2 / ready)) === 0) {
      write(a, byte);
      readable.push(b);
    }
  }
  for (let i = 0; readable.length < ready; i += 2) {
    write(fds[i + 1], byte); // the other direction of a pair already used once
    readable.push(fds[i]);
  }
  return { fds, readable, close: () => fds.forEach((fd) => close(fd)) };
}

module.exports = { readyFds };
