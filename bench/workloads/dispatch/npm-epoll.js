'use strict';
/**
 * The peer: the npm `epoll` package, which calls a JS callback per event from Node's loop (its
 * watcher thread hands over one event per wake-up). Same fds, same handler as pollset.js.
 */
const { params, result } = require('../../lib/impl');
const { Epoll } = require('epoll');
const { readyFds } = require('./ready-fds');

const p = params();
const set = readyFds(p.n, p.ready);
const objs = [];
let events = 0;
const poller = new Epoll((err, fd) => {
  if (err) throw err;
  objs[fd].hits++;
  events++;
});
for (const fd of set.fds) {
  objs[fd] = { fd, hits: 0 };
  poller.add(fd, Epoll.EPOLLIN);
}
const now = () => Number(process.hrtime.bigint());

function measure(seconds) {
  return new Promise((resolve) => {
    const before = events;
    const start = now();
    setTimeout(() => resolve({ events: events - before, ns: now() - start }), seconds * 1000);
  });
}

async function main() {
  await measure(p.warmup);
  const { events: n, ns } = await measure(p.seconds);
  poller.close();
  set.close();
  result({ eventsPerSec: (n / ns) * 1e9, nsPerEvent: ns / n });
  process.exit(0); // the package's watcher thread never ends on its own
}

main();
