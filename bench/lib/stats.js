'use strict';
/** Order statistics for run series: medians and ranges, never means (one slow run must not move them). */

function median(values) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** `{ median, min, max }` of the finite values. */
function summary(values) {
  const v = values.filter(Number.isFinite);
  return { median: median(v), min: v.length ? Math.min(...v) : NaN, max: v.length ? Math.max(...v) : NaN };
}

/** The p-th percentile (0..100) of an unsorted array, nearest rank. */
function percentile(values, p) {
  if (values.length === 0) return NaN;
  const v = Float64Array.from(values).sort();
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))];
}

/**
 * Ratios of A's i-th run to B's i-th run (the runs were made back to back, so drift of the shared
 * machine cancels within a pair), summarised like any series.
 */
function pairRatios(a, b) {
  const ratios = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) ratios.push(a[i] / b[i]);
  return { ratios, ...summary(ratios) };
}

module.exports = { median, summary, percentile, pairRatios };
