'use strict';
/** Number formatting shared by the table and the chart. */

/** 1234567 → "1.23M"; small values keep `digits` decimals. */
function num(value, digits = 0) {
  if (!Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toPrecision(3)}G`;
  if (abs >= 1e6) return `${(value / 1e6).toPrecision(3)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toPrecision(3)}k`;
  return value.toFixed(digits);
}

/** "median (min–max)". */
function range(s, digits) {
  if (!s || !Number.isFinite(s.median)) return '–';
  return `${num(s.median, digits)} (${num(s.min, digits)}–${num(s.max, digits)})`;
}

function ratio(r) {
  return `${r.median.toFixed(2)}× (${r.min.toFixed(2)}–${r.max.toFixed(2)})`;
}

module.exports = { num, range, ratio };
