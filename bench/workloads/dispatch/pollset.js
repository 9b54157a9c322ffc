'use strict';
/**
 * Dispatch through a pollset: `mode=wait` is the blocking loop (`wait(0)` + `events()` + a handler
 * per event), `mode=watch` the same inside Node's event loop. Time in wait() and in the iteration
 * (generator + handler) is kept apart, to show which one bounds the rate.
 */
const { params, result } = require('../../lib/impl');
const { Pollset } = require('../../../dist');
const { readyFds } = require('./ready-fds');

const p = params();
const set = readyFds(p.n, p.ready);
const ps = new Pollset({ backend: p.backend });
for (const fd of set.fds) ps.insert(fd, 'r', { fd, hits: 0 });

const handler = (obj) => {
  obj.hits++;
};
const now = () => Number(process.hrtime.bigint());

function blocking(seconds) {
  let events = 0;
  let waitNs = 0;
  const start = now();
  const deadline = start + seconds * 1e9;
  for (;;) {
    const t0 = now();
    ps.wait(0);
    const t1 = now();
    waitNs += t1 - t0;
    for (const ev of ps.events()) {
      handler(ev.obj);
      events++;
    }
    if (t1 > deadline) break;
  }
  return { events, ns: now() - start, waitNs };
}

function watched(seconds) {
  return new Promise((resolve) => {
    let events = 0;
    const start = now();
    ps.watch(() => {
      for (const ev of ps.events()) {
        handler(ev.obj);
        events++;
      }
    });
    setTimeout(() => {
      ps.unwatch();
      resolve({ events, ns: now() - start, waitNs: NaN });
    }, seconds * 1000);
  });
}

async function main() {
  const measure = p.mode === 'watch' ? watched : blocking;
  await measure(p.warmup); // let the JIT settle first
  const { events, ns, waitNs } = await measure(p.seconds);
  ps.close();
  set.close();
  result({
    eventsPerSec: (events / ns) * 1e9,
    nsPerEvent: ns / events,
    waitNsPerEvent: waitNs / events,
    iterNsPerEvent: (ns - waitNs) / events,
  });
}

main();
