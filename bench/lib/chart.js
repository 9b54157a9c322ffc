'use strict';
/**
 * The ratios as an SVG chart, written by hand (no dependency), sized for the README's width (860 px).
 *
 * Every bar grows from 1× (parity with the baseline) on a log scale, to the right when ours is
 * better and to the left when it is worse, whatever the metric's direction: a lower-is-better ratio
 * (memory, latency, CPU per message; its target is a maximum) is drawn as its inverse and says so
 * in words. Colours are Okabe–Ito's blue (target met) and vermillion (missed), told apart by the
 * words "met"/"missed" too; a ratio between two baselines (no pollset implementation in it) is a
 * grey outline marked "reference", never drawn as our result. Each workload is a panel; a workload
 * whose ratios reach beyond 20× gets a scale of its own so that it does not squeeze the others.
 */
const { num } = require('./format');

const WIDTH = 860;
const LABEL_W = 300; // row labels, right-aligned against the plot
const PLOT_X = LABEL_W + 10;
const PLOT_W = 340;
const VALUE_X = PLOT_X + PLOT_W + 14;
const ROW = 34;
const PANEL_HEAD = 26;
const AXIS = 30;
const WIDE = 20; // ratios beyond this put their workload on a scale of its own

const COLOUR = { met: '#0072B2', missed: '#D55E00', reference: '#999999', text: '#222222', faint: '#666666' };

function escape(text) {
  return String(text).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]);
}

/** "≥ 2" → { value: 2, lowerIsBetter: false }; "≤ 1.25" → { value: 1.25, lowerIsBetter: true }. */
function parseTarget(target) {
  return { value: Number(target.replace(/[^0-9.]/g, '')), lowerIsBetter: target.trim().startsWith('≤') };
}

/** Who a ratio's numerator is: "pollset epoll / npm epoll" → "pollset epoll"; "pollset: 1000 subs / 100 subs" → "pollset". */
function numerator(label) {
  return label.split(/ \/ |: /)[0];
}

/** Ours are the implementations named pollset…; anything else compares baselines with each other. */
function isOurs(label) {
  return /^pollset\b/.test(numerator(label));
}

/** The rows of one workload: words for labels, the better-is-right value of every ratio. */
function rowsOf(w) {
  const metricLabel = (key) => (w.metrics || []).find((m) => m.key === key)?.label ?? key;
  const row = (caseLabel, r, across) => {
    const { value: target, lowerIsBetter } = parseTarget(r.target);
    const better = (v) => (lowerIsBetter ? 1 / v : v);
    const [a, b] = across
      ? [r.label.split(': ')[0], r.label.split(': ')[1].replace(' / ', ' vs ')]
      : r.label.split(' / ');
    return {
      title: across ? `${a}: ${b}` : `${a} vs ${b}`,
      detail: `${across ? 'across cases' : caseLabel} · ${metricLabel(r.metric)}${lowerIsBetter ? ' (lower is better)' : ''}`,
      ours: isOurs(r.label),
      r,
      lowerIsBetter,
      target: better(target),
      median: r.ratio ? better(r.ratio.median) : null,
      lo: r.ratio ? Math.min(better(r.ratio.min), better(r.ratio.max)) : null,
      hi: r.ratio ? Math.max(better(r.ratio.min), better(r.ratio.max)) : null,
    };
  };
  return [
    ...w.cases.flatMap((c) => c.ratios.map((r) => row(c.label, r, false))),
    ...(w.across || []).map((r) => row('', r, true)),
  ];
}

/** A log domain [lo, hi] in powers of 10 (or 2 within one decade) holding 1 and every value. */
function domain(values) {
  const v = values.filter((x) => Number.isFinite(x) && x > 0);
  const min = Math.min(1, ...v);
  const max = Math.max(1, ...v);
  const step = max / min <= 16 ? 2 : 10;
  const lo = step ** Math.floor(Math.log(min) / Math.log(step) - 1e-9);
  const hi = step ** Math.ceil(Math.log(max) / Math.log(step) + 1e-9);
  return { lo: Math.min(lo, 1 / step), hi: Math.max(hi, step), step };
}

const valuesOf = (rows) => rows.flatMap((r) => [r.target, r.lo, r.hi, r.median]);

function tickLabel(v) {
  return v >= 1 ? `${num(v, 0)}×` : `${v.toPrecision(2).replace(/0+$/, '')}×`;
}

/** 223.32 → "223", 1.234 → "1.23": three significant digits. */
const fig = (v) => (v >= 100 ? v.toFixed(0) : v.toPrecision(3));

/** The words after a bar: the ratio as measured and its target, then the verdict and the range of the runs. */
function verdict(row) {
  const { r } = row;
  if (!r.ratio) return [`target ${r.target}`, 'not measured'];
  const first = `${fig(r.ratio.median)}× (target ${r.target})`;
  const range = `runs ${fig(r.ratio.min)}–${fig(r.ratio.max)}×`;
  if (!row.ours) return [first, 'reference', range];
  return [first, r.met ? 'met' : 'missed', range];
}

const isWide = (row) => valuesOf([row]).some((v) => Number.isFinite(v) && (v > WIDE || v < 1 / WIDE));

/**
 * One panel per workload; a workload's ratios beyond 20× (either way) go to a panel of their own
 * with its own scale, ahead of the rest of that workload on the shared scale.
 */
function panelsOf(results) {
  return results.workloads.flatMap((w) => {
    const rows = rowsOf(w);
    const wide = rows.filter(isWide);
    const rest = rows.filter((r) => !isWide(r));
    const title = `${w.name}: ${w.title}`;
    return [
      ...(wide.length ? [{ w, rows: wide, wide: true, title, note: '(beyond 20×: a scale of its own)' }] : []),
      ...(rest.length
        ? [{ w, rows: rest, wide: false, title: wide.length ? `${w.name}, on the shared scale` : title, note: '' }]
        : []),
    ];
  });
}

/** SVG text for every ratio of `results`. */
function svg(results) {
  const panels = panelsOf(results);
  const shared = domain(panels.filter((p) => !p.wide).flatMap((p) => valuesOf(p.rows)));
  const LEGEND = 78;
  const height = 40 + LEGEND + panels.reduce((h, p) => h + PANEL_HEAD + p.rows.length * ROW + AXIS + 12, 0);

  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
      `font-family="DejaVu Sans, Verdana, sans-serif" font-size="12" fill="${COLOUR.text}">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${escape(
      `pollset against its baselines, ${results.finishedAt.slice(0, 10)} (${results.runs} runs each, median of pair ratios)`,
    )}</text>`,
  ];

  // Legend: what a bar, a whisker and a tick are, and the colours.
  const ly = 44;
  out.push(
    `<g class="legend">`,
    `<rect x="10" y="${ly - 10}" width="22" height="12" fill="${COLOUR.met}"/>`,
    `<text x="38" y="${ly}">target met</text>`,
    `<rect x="130" y="${ly - 10}" width="22" height="12" fill="${COLOUR.missed}"/>`,
    `<text x="158" y="${ly}">target missed</text>`,
    `<rect x="270" y="${ly - 10}" width="22" height="12" fill="white" stroke="${COLOUR.reference}" stroke-width="1.5" stroke-dasharray="3 2"/>`,
    `<text x="298" y="${ly}">reference: two baselines, not pollset</text>`,
    `<line x1="10" y1="${ly + 18}" x2="32" y2="${ly + 18}" stroke="black"/>`,
    `<line x1="10" y1="${ly + 13}" x2="10" y2="${ly + 23}" stroke="black"/><line x1="32" y1="${ly + 13}" x2="32" y2="${ly + 23}" stroke="black"/>`,
    `<text x="38" y="${ly + 22}">whisker: min–max of the run-by-run ratios</text>`,
    `<line x1="330" y1="${ly + 10}" x2="330" y2="${ly + 26}" stroke="black" stroke-width="3"/>`,
    `<text x="338" y="${ly + 22}">target: met when the bar ends on its right</text>`,
    `<text x="10" y="${ly + 42}" fill="${COLOUR.faint}">Bars start at 1× (as good as the baseline): right is better for us, left worse. ` +
      `Lower-is-better metrics are drawn inverted.</text>`,
    `</g>`,
  );

  let y = 40 + LEGEND;
  for (const { w, rows, wide, title, note } of panels) {
    const d = wide ? domain(valuesOf(rows)) : shared;
    const x = (v) => PLOT_X + (Math.log(Math.max(d.lo, Math.min(d.hi, v)) / d.lo) / Math.log(d.hi / d.lo)) * PLOT_W;
    const one = x(1);
    const top = y + PANEL_HEAD;
    const bottom = top + rows.length * ROW;
    out.push(`<g class="panel" data-workload="${escape(w.name)}" data-scale="${wide ? 'own' : 'shared'}">`);
    out.push(
      `<text x="10" y="${y + 17}" font-size="13" font-weight="bold">${escape(title)}` +
        `<tspan dx="6" font-weight="normal" fill="${COLOUR.faint}">${escape(note)}</tspan></text>`,
    );
    for (let v = d.lo; v <= d.hi * 1.0001; v *= d.step) {
      out.push(
        `<line x1="${x(v)}" y1="${top}" x2="${x(v)}" y2="${bottom}" stroke="${v === 1 ? '#333' : '#ddd'}"${v === 1 ? ' stroke-width="1.5"' : ''}/>`,
        `<text x="${x(v)}" y="${bottom + 14}" text-anchor="middle" fill="${COLOUR.faint}" font-size="11">${tickLabel(v)}</text>`,
      );
    }
    out.push(
      `<text x="${PLOT_X}" y="${bottom + 27}" fill="${COLOUR.faint}" font-size="11">← worse</text>`,
      `<text x="${PLOT_X + PLOT_W}" y="${bottom + 27}" text-anchor="end" fill="${COLOUR.faint}" font-size="11">better →</text>`,
    );
    rows.forEach((row, i) => {
      const ry = top + i * ROW;
      const mid = ry + ROW / 2;
      out.push(
        `<text x="${LABEL_W}" y="${mid - 2}" text-anchor="end"${row.ours ? '' : ' font-style="italic"'}>${escape(row.title)}</text>`,
        `<text x="${LABEL_W}" y="${mid + 12}" text-anchor="end" fill="${COLOUR.faint}" font-size="11">${escape(row.detail)}</text>`,
      );
      const [words, state, range] = verdict(row);
      if (row.median !== null) {
        const x0 = Math.min(one, x(row.median));
        const width = Math.max(1, Math.abs(x(row.median) - one));
        const kind = !row.ours ? 'reference' : row.r.met ? 'met' : 'missed';
        const paint =
          kind === 'reference'
            ? `fill="white" stroke="${COLOUR.reference}" stroke-width="1.5" stroke-dasharray="3 2"`
            : `fill="${COLOUR[kind]}"`;
        out.push(
          `<rect class="bar" data-kind="${kind}" data-value="${row.median}" x="${x0}" y="${mid - 7}" width="${width}" height="14" ${paint}/>`,
          `<line class="whisker" x1="${x(row.lo)}" y1="${mid}" x2="${x(row.hi)}" y2="${mid}" stroke="black"/>`,
          `<line x1="${x(row.lo)}" y1="${mid - 4}" x2="${x(row.lo)}" y2="${mid + 4}" stroke="black"/>`,
          `<line x1="${x(row.hi)}" y1="${mid - 4}" x2="${x(row.hi)}" y2="${mid + 4}" stroke="black"/>`,
        );
      } else {
        out.push(`<text x="${one + 6}" y="${mid + 4}" fill="${COLOUR.faint}" font-style="italic">not measured</text>`);
      }
      out.push(
        `<line class="target" data-value="${row.target}" x1="${x(row.target)}" y1="${mid - 11}" x2="${x(row.target)}" y2="${mid + 11}" stroke="black" stroke-width="3"/>`,
        `<text x="${VALUE_X}" y="${mid - 2}" font-size="11">${escape(words)}</text>`,
        `<text x="${VALUE_X}" y="${mid + 12}" font-size="11" font-weight="bold" fill="${
          state === 'met' ? COLOUR.met : state === 'missed' ? COLOUR.missed : COLOUR.faint
        }">${escape(state)}<tspan font-weight="normal" fill="${COLOUR.faint}">${range ? escape(`, ${range}`) : ''}</tspan></text>`,
      );
    });
    out.push('</g>');
    y = bottom + AXIS + 12;
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

module.exports = { svg };
