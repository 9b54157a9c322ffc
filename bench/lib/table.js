'use strict';
/** The markdown report: per workload, one table of figures and one of ratios against targets. */
const { range, ratio } = require('./format');

function row(cells) {
  return `| ${cells.join(' | ')} |`;
}

function figures(w) {
  const header = ['case', 'implementation', ...w.metrics.map((m) => m.label)];
  const lines = [row(header), row(header.map(() => '---'))];
  for (const c of w.cases) {
    for (const [name, impl] of Object.entries(c.implementations)) {
      const cells =
        impl.status === 'ok' && impl.runs.length
          ? w.metrics.map((m) => range(impl.summary[m.key], m.digits))
          : [`*${impl.reason}*`, ...w.metrics.slice(1).map(() => '')];
      lines.push(row([c.label, name, ...cells]));
    }
  }
  return lines;
}

function ratios(w) {
  const rows = [
    ...w.cases.flatMap((c) => c.ratios.map((r) => ({ c, r }))),
    ...(w.across || []).map((r) => ({ c: { label: 'across cases' }, r })),
  ];
  if (rows.length === 0) return [];
  const lines = [row(['case', 'ratio', 'metric', 'median of pair ratios (min–max)', 'target', 'met'])];
  lines.push(row(['---', '---', '---', '---', '---', '---']));
  for (const { c, r } of rows) {
    const value = r.ratio ? ratio(r.ratio) : `*${r.reason}*`;
    const met = r.met === null ? '–' : r.met ? 'yes' : '**no**';
    lines.push(row([c.label, r.label, r.metric, value, r.target, met]));
  }
  return lines;
}

/** The whole report as markdown. */
function markdown(results) {
  const m = results.machine;
  const out = [
    `Measured ${results.finishedAt.slice(0, 10)} with \`${results.command}\` (${results.runs} runs per implementation, ` +
      `alternating) on ${m.cpuModel}, ${m.cores} cores, ${m.kernel}, Node ${m.node}; the whole bench took ` +
      `${Math.round(results.durationSeconds)} s. Figures: median (min–max).`,
  ];
  for (const w of results.workloads) {
    out.push('', `#### ${w.name}: ${w.title}`, '', ...figures(w));
    const r = ratios(w);
    if (r.length) out.push('', ...r);
  }
  return out.join('\n');
}

module.exports = { markdown };
