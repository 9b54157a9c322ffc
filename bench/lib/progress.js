'use strict';
/**
 * Where a long bench run stands: "run k of N", the time elapsed and an estimate of what is left, for
 * the lines it prints on stderr. The estimate is the mean time of the runs so far times the runs to
 * go: implementations alternate run by run, so every stretch of the run mixes them alike.
 */

/** 75 → "1m15s", 4000 → "1h06m". */
function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

class Progress {
  /** `total`: how many measurements the run plans; `now`: a clock in ms (for tests). */
  constructor(total, now = Date.now) {
    this.total = total;
    this.done = 0;
    this.now = now;
    this.started = now();
  }

  /** Counts one measurement (made, or skipped because its implementation failed) and says where the run stands. */
  step() {
    this.done = Math.min(this.total, this.done + 1);
    return this.status();
  }

  /** "run 12 of 378, 3m05s elapsed, about 1h12m left". */
  status() {
    const elapsed = (this.now() - this.started) / 1000;
    const left = this.done ? (elapsed / this.done) * (this.total - this.done) : NaN;
    const estimate = Number.isFinite(left) ? `, about ${duration(left)} left` : '';
    return `run ${this.done} of ${this.total}, ${duration(elapsed)} elapsed${estimate}`;
  }
}

module.exports = { Progress, duration };
