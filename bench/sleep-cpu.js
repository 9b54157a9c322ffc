'use strict';
// CPU cost of 10,000 sleeping tasks, against an idle process measured in the same run.
// Usage: npm run build:ts && node bench/sleep-cpu.js
// Prints CPU ms used during a 1 s window while the tasks sleep, per run mode, and the idle baseline.
const { Loop, sleep } = require('../dist');

const TASKS = 10000;
const WINDOW_MS = 1000;

function cpuMs(since) {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

function idleBaseline() {
  return new Promise((resolve) => {
    const start = process.cpuUsage();
    setTimeout(() => resolve(cpuMs(start)), WINDOW_MS);
  });
}

/** Spawns the sleepers plus one task measuring a window while they sleep; `drive` runs the loop. */
async function measure(drive) {
  const loop = new Loop();
  for (let i = 0; i < TASKS; i++) loop.spawn(() => sleep(WINDOW_MS + 500));
  let window;
  loop.spawn(function* () {
    yield* sleep(250); // every sleeper is asleep by now
    const start = process.cpuUsage();
    yield* sleep(WINDOW_MS);
    window = cpuMs(start);
  });
  await drive(loop);
  loop.close();
  return window;
}

(async () => {
  const idle = await idleBaseline();
  const int = await measure((loop) => loop.run());
  const blk = await measure((loop) => loop.runBlocking());
  console.log(`idle baseline: ${idle.toFixed(1)} ms CPU per ${WINDOW_MS} ms`);
  console.log(
    `integrated, ${TASKS} sleepers: ${int.toFixed(1)} ms CPU (${(int / Math.max(idle, 0.1)).toFixed(1)}x idle)`,
  );
  console.log(
    `blocking,   ${TASKS} sleepers: ${blk.toFixed(1)} ms CPU (${(blk / Math.max(idle, 0.1)).toFixed(1)}x idle)`,
  );
})();
