'use strict';
/**
 * The side of the child-process protocol that an implementation written in JS uses.
 *
 * An implementation is a process started by the harness with `key=value` arguments (the case's
 * parameters). It talks back in JSON lines on stdout:
 *   {"ready": {...}}        once it is listening (ports etc.), when the workload needs to know
 *   {"result": {...}}       its measurements, then it exits
 *   {"unavailable": "why"}  it cannot run here (shown as a row, never as a number)
 * When the harness closes the child's stdin, the child stops, reports and exits. C implementations
 * (bench/c/) speak the same protocol, so the harness does not care which language a row is in.
 */

/** The case parameters, numbers parsed: `size=256` → `{ size: 256 }`. */
function params(argv = process.argv.slice(2)) {
  const out = {};
  for (const arg of argv) {
    const eq = arg.indexOf('=');
    if (eq < 0) continue;
    const value = arg.slice(eq + 1);
    out[arg.slice(0, eq)] = value !== '' && !Number.isNaN(Number(value)) ? Number(value) : value;
  }
  return out;
}

function send(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
}

/** Calls `onStop` once, when the harness closes our stdin (or it was never open). */
function onStop(onStop) {
  let stopped = false;
  const stop = () => {
    if (!stopped) {
      stopped = true;
      onStop();
    }
  };
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

module.exports = {
  params,
  ready: (info = {}) => send({ ready: info }),
  result: (metrics) => send({ result: metrics }),
  unavailable: (why) => send({ unavailable: why }),
  onStop,
};
