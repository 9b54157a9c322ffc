'use strict';
/**
 * Which load generator drives a relay case: the C one (`c/relay_driver.c`), since it costs a
 * fraction of the relay it measures, unless it cannot be built here (no OpenSSL headers), then
 * `driver.js`, which speaks the same parameters and protocol.
 * `BENCH_RELAY_DRIVER=js` runs every case on driver.js (to compare the generators); `=c` insists on
 * the C one (a failed compile is then an error instead of a fallback). One generator for every case
 * and implementation of a run, so that ratios between rows and between cases compare relays only.
 */
const path = require('path');
const { compile } = require('../../lib/cc');

const C_DRIVER = 'c/relay_driver.c';
const JS_DRIVER = 'workloads/relay/driver.js';

let cBuilt; // undefined: not tried yet

/** True once the C driver compiled; on failure (no libssl-dev, say) says so on stderr, once. */
function cDriverBuilt() {
  if (cBuilt !== undefined) return cBuilt;
  try {
    compile(path.join(__dirname, '..', '..', C_DRIVER), { quiet: true });
    cBuilt = true;
  } catch (err) {
    if (process.env.BENCH_RELAY_DRIVER === 'c') throw err;
    process.stderr.write(
      `relay: the C load generator (bench/${C_DRIVER}) did not compile — it needs OpenSSL's headers (Debian: ` +
        `libssl-dev). Every relay case runs on ${JS_DRIVER} instead, which costs about as much CPU as the relay ` +
        `it measures: rates are bounded by it.\n${err.message}\n`,
    );
    cBuilt = false;
  }
  return cBuilt;
}

/** The bench-relative file of the load generator. */
function driverFile() {
  const forced = process.env.BENCH_RELAY_DRIVER;
  if (forced !== undefined && forced !== 'js' && forced !== 'c')
    throw new Error(`BENCH_RELAY_DRIVER is js or c, not ${JSON.stringify(forced)}`);
  if (forced === 'js') return JS_DRIVER;
  return cDriverBuilt() ? C_DRIVER : JS_DRIVER;
}

module.exports = { driverFile };
