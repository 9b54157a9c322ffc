'use strict';
/**
 * The ratios as an SVG bar chart, written by hand (no dependency): one bar per ratio on a log
 * scale (a ratio of 0.5 and one of 2 are equally far from parity), its min–max as a whisker, its
 * target as a dark tick across the bar. Green met, red missed, grey not measurable yet.
 */

const ROW = 24;
const LABEL_W = 360;
const PLOT_W = 480;
const VALUE_W = 170;
const TOP = 40;
const BOTTOM = 36;

function escape(text) {
  return String(text).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]);
}

function targetValue(target) {
  return Number(target.replace(/[^0-9.]/g, ''));
}

/** SVG text for every ratio of `results`. */
function svg(results) {
  const bars = results.workloads.flatMap((w) => [
    ...w.cases.flatMap((c) => {
      // Name the metric only where one case has ratios of several.
      const several = new Set(c.ratios.map((r) => r.metric)).size > 1;
      return c.ratios.map((r) => ({ label: `${w.name} ${c.label}: ${r.label}${several ? ` ${r.metric}` : ''}`, r }));
    }),
    ...(w.across || []).map((r) => ({ label: `${w.name} ${r.metric} ${r.label}`, r })),
  ]);
  const values = bars.flatMap(({ r }) => [targetValue(r.target), ...(r.ratio ? [r.ratio.min, r.ratio.max] : [])]);
  const lo = 10 ** Math.floor(Math.log10(Math.min(0.5, ...values.filter((v) => v > 0))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(2, ...values)));
  const x = (v) => LABEL_W + (Math.log10(Math.max(lo, Math.min(hi, v)) / lo) / Math.log10(hi / lo)) * PLOT_W;
  const width = LABEL_W + PLOT_W + VALUE_W;
  const height = TOP + bars.length * ROW + BOTTOM;

  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">` +
      `${escape(`pollset bench: ratios (median of pair ratios, min–max), ${results.finishedAt.slice(0, 10)}`)}</text>`,
  ];
  const steps = Math.log10(hi / lo) > 3 ? [1] : [1, 2, 5]; // wide scales get a line per decade only
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    for (const step of steps) {
      const v = d * step;
      if (v > hi * 1.0001) break;
      const major = step === 1;
      parts.push(
        `<line x1="${x(v)}" y1="${TOP - 4}" x2="${x(v)}" y2="${height - BOTTOM + 4}" ` +
          `stroke="${v === 1 ? '#555' : major ? '#bbb' : '#e4e4e4'}"/>`,
        `<text x="${x(v)}" y="${height - BOTTOM + 18}" text-anchor="middle" fill="#444">${v >= 1 ? v : v.toPrecision(1)}×</text>`,
      );
    }
  }
  bars.forEach(({ label, r }, i) => {
    const y = TOP + i * ROW;
    const mid = y + ROW / 2;
    parts.push(`<text x="${LABEL_W - 8}" y="${mid + 4}" text-anchor="end">${escape(label)}</text>`);
    const t = x(targetValue(r.target));
    if (r.ratio) {
      const colour = r.met ? '#3a9d4a' : '#d0453a';
      parts.push(
        `<rect x="${LABEL_W}" y="${y + 5}" width="${Math.max(1, x(r.ratio.median) - LABEL_W)}" height="${ROW - 10}" fill="${colour}"/>`,
        `<line x1="${x(r.ratio.min)}" y1="${mid}" x2="${x(r.ratio.max)}" y2="${mid}" stroke="black"/>`,
        `<text x="${LABEL_W + PLOT_W + 8}" y="${mid + 4}">${escape(`${r.ratio.median.toFixed(2)}× (target ${r.target})`)}</text>`,
      );
    } else {
      parts.push(
        `<rect x="${LABEL_W}" y="${y + 5}" width="${PLOT_W}" height="${ROW - 10}" fill="#eee"/>`,
        `<text x="${LABEL_W + 8}" y="${mid + 4}" fill="#777">not available yet</text>`,
        `<text x="${LABEL_W + PLOT_W + 8}" y="${mid + 4}" fill="#777">${escape(`target ${r.target}`)}</text>`,
      );
    }
    parts.push(`<line x1="${t}" y1="${y + 1}" x2="${t}" y2="${y + ROW - 1}" stroke="#111" stroke-width="3"/>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

module.exports = { svg };
