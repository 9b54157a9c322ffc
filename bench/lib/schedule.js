'use strict';
/**
 * Runs one workload: every case of its grid, every implementation in its own process, the
 * implementations interleaved run by run (forward order on even runs, reversed on odd ones) so that
 * a change in the shared machine's load hits all of them alike. Ratios are taken pair by pair.
 */
const fs = require('fs');
const path = require('path');
const { Child } = require('./child');
const { compile } = require('./cc');
const { summary, pairRatios } = require('./stats');
const { Progress } = require('./progress');

const BENCH = path.join(__dirname, '..');
const CHILD_LIMIT_MS = 120000; // no process of a run outlives this, whatever goes wrong

/** The command that runs a bench-relative file: a .c file is compiled first, a .js file runs on node. */
function commandFor(file) {
  const abs = path.join(BENCH, file);
  if (file.endsWith('.c')) return [compile(abs)];
  return [process.execPath, abs];
}

/** What a workload's `measure` gets: starters for its implementation and its load generators. */
function context(workload, options) {
  const children = new Set();
  const start = (file, params) => {
    const child = new Child(commandFor(file), params, CHILD_LIMIT_MS);
    children.add(child);
    child.exited.then(() => children.delete(child));
    return child;
  };
  return {
    quick: options.quick,
    workDir: options.workDir,
    start,
    /** Kills whatever a failed measurement left running. */
    cleanup: () => children.forEach((c) => c.kill()),
  };
}

/**
 * The implementations that apply to case `c` (`when(params)`; elsewhere an implementation is no row at all),
 * narrowed to `options.impls` when given.
 */
function implementationsOf(workload, c, options) {
  return workload.implementations.filter(
    (impl) => (!impl.when || impl.when(c.params)) && (!options.impls || options.impls.includes(impl.name)),
  );
}

/** The cases to run: all, or those labelled in `options.cases` (an unknown label is an error). */
function selectedCases(workload, options) {
  const all = workload.cases(options.quick);
  for (const label of options.cases || []) {
    if (!all.some((c) => c.label === label))
      throw new Error(`${workload.name} has no case "${label}" (have: ${all.map((c) => c.label).join(', ')})`);
  }
  return all.filter((c) => !options.cases || options.cases.includes(c.label));
}

const written = (impl) => fs.existsSync(path.join(BENCH, impl.file));

/** How many measurements `runWorkload` will make (implementations not written yet make none). */
function plannedRuns(workload, options) {
  return selectedCases(workload, options).reduce(
    (n, c) => n + implementationsOf(workload, c, options).filter(written).length * options.runs,
    0,
  );
}

async function runCase(workload, c, options, log, progress) {
  const ctx = context(workload, options);
  const impls = implementationsOf(workload, c, options).map((impl) => ({
    ...impl,
    status: written(impl) ? 'ok' : 'missing',
    reason: written(impl) ? undefined : `not available yet (${impl.file})`,
    runs: [],
  }));
  for (let run = 0; run < options.runs; run++) {
    const order = run % 2 ? [...impls].reverse() : impls;
    for (const impl of order) {
      if (impl.status === 'missing') continue;
      // A failed implementation's remaining runs are not made, but were planned: count them as passed.
      if (impl.status !== 'ok') {
        progress.step();
        continue;
      }
      const params = { ...c.params, ...impl.params };
      try {
        const metrics = await workload.measure(ctx, impl, params);
        impl.runs.push(metrics);
        log(`[${progress.step()}] ${workload.name} ${c.label} ${impl.name} run ${run + 1}: ${brief(metrics)}`);
      } catch (err) {
        impl.status = err.unavailable ? 'unavailable' : 'failed';
        impl.reason = err.unavailable ? `not available: ${err.message}` : `failed: ${err.message.split('\n')[0]}`;
        log(
          `[${progress.step()}] ${workload.name} ${c.label} ${impl.name}: ${impl.reason}\n${err.unavailable ? '' : err.stack}`,
        );
      } finally {
        ctx.cleanup();
      }
    }
  }
  const byName = {};
  for (const impl of impls) {
    const stats = {};
    for (const m of workload.metrics) stats[m.key] = summary(impl.runs.map((r) => r[m.key]));
    byName[impl.name] = { file: impl.file, status: impl.status, reason: impl.reason, runs: impl.runs, summary: stats };
  }
  const ratios = (workload.targets || [])
    .filter((t) => !t.when || t.when(c.params))
    .map((t) => {
      const a = byName[t.a];
      // A target against a fixed limit (`per`, e.g. 2000 µs) is the ratio of each run to that limit.
      const b =
        t.per !== undefined ? a && { status: 'ok', runs: a.runs.map(() => ({ [t.metric]: t.per })) } : byName[t.b];
      // An implementation left out of this run (`--impl`) has no row: the target is not measured.
      const usable = a?.status === 'ok' && b?.status === 'ok' && a.runs.length && b.runs.length;
      const r = usable
        ? pairRatios(
            a.runs.map((x) => x[t.metric]),
            b.runs.map((x) => x[t.metric]),
          )
        : null;
      const met = r ? (t.max !== undefined ? r.median <= t.max : r.median >= t.min) : null;
      return {
        label: t.per !== undefined ? `${t.a} / ${t.per}` : `${t.a} / ${t.b}`,
        metric: t.metric,
        target: t.max !== undefined ? `≤ ${t.max}` : `≥ ${t.min}`,
        ratio: r,
        met,
        reason: r
          ? undefined
          : [a, b]
              .map((x) => (!x ? 'not in this run' : x.status !== 'ok' ? x.reason : undefined))
              .filter(Boolean)
              .join('; ') || 'no runs',
      };
    });
  return { label: c.label, params: c.params, implementations: byName, ratios };
}

function brief(metrics) {
  return Object.entries(metrics)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(4)}`)
    .join(' ');
}

/**
 * Targets between two cases of one implementation (e.g. "ns/event at N=10,000 over N=1,000"): the
 * i-th runs of the two cases are paired like the runs of two implementations. `max` or `min`.
 */
function across(workload, cases) {
  return (workload.acrossCases || []).map((t) => {
    const runsOf = (label) => {
      const impl = cases.find((c) => c.label === label)?.implementations[t.impl];
      return impl && impl.status === 'ok' ? impl.runs.map((r) => r[t.metric]) : [];
    };
    const a = runsOf(t.a);
    const b = runsOf(t.b);
    const r = a.length && b.length ? pairRatios(a, b) : null;
    return {
      label: `${t.impl}: ${t.a} / ${t.b}`,
      metric: t.metric,
      target: t.max !== undefined ? `≤ ${t.max}` : `≥ ${t.min}`,
      ratio: r,
      met: r ? (t.max !== undefined ? r.median <= t.max : r.median >= t.min) : null,
      reason: r ? undefined : 'no runs',
    };
  });
}

/**
 * Runs every case of `workload`; returns its section of the results file. `progress` (a
 * lib/progress.js Progress) counts the measurements; by default this workload's alone.
 */
async function runWorkload(workload, options, log, progress = new Progress(plannedRuns(workload, options))) {
  const cases = [];
  for (const c of selectedCases(workload, options)) cases.push(await runCase(workload, c, options, log, progress));
  return {
    name: workload.name,
    title: workload.title,
    metrics: workload.metrics,
    cases,
    across: across(workload, cases),
  };
}

module.exports = { runWorkload, plannedRuns, commandFor };
