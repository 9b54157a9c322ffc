#!/usr/bin/env node
'use strict';
/**
 * The benchmark harness: `npm run bench` (full) or `npm run bench -- --quick`.
 *
 * Options: --quick (short runs, under 3 minutes in all), --only=dispatch,relay (some workloads),
 * --case=LABEL (only this case; repeat it for several, e.g. `--case="1 sub" --case="10k msgs/s, 100 subs"`),
 * --cases=LABEL,LABEL (the same as a list: commas followed by a space belong to a label, e.g.
 * `--only=relay --cases="2 subs,2 subs, 1 filtered"`), --impl=NAME,… (only these implementations, e.g.
 * `--impl="pollset,node core"`), --runs=N (runs per implementation; default 5 quick, 7 full), --write (keep the
 * results in bench/results/ and put the table and chart into README.md). Without --write nothing tracked
 * changes: the results file goes to bench/.work/ (ignored by git) and the table to stdout, so trying the bench
 * out leaves the checkout clean. A run narrowed by --case, --cases or --impl is never written: it is not the
 * whole table. Progress (run k of N, elapsed, estimate) goes to stderr.
 *
 * Workloads are the directories of bench/workloads/, each with a workload.js declaring its grid,
 * metrics, implementations (one file each) and targets; see bench/README.md.
 */
const fs = require('fs');
const path = require('path');
const { describe } = require('./lib/machine');
const { runWorkload, plannedRuns } = require('./lib/schedule');
const { Progress, duration } = require('./lib/progress');
const { markdown } = require('./lib/table');
const { svg } = require('./lib/chart');
const readme = require('./lib/readme');

const ROOT = path.join(__dirname, '..');
const RESULTS = path.join(__dirname, 'results');

function parseArgs(argv) {
  const opts = { quick: false, only: null, cases: null, impls: null, runs: null, write: false };
  for (const arg of argv) {
    if (arg === '--quick') opts.quick = true;
    else if (arg === '--write') opts.write = true;
    else if (arg === '--no-write')
      opts.write = false; // the default; still accepted
    else if (arg.startsWith('--only=')) opts.only = arg.slice(7).split(',');
    else if (arg.startsWith('--case=')) opts.cases = [...(opts.cases || []), arg.slice(7)];
    else if (arg.startsWith('--impl=')) opts.impls = arg.slice(7).split(',');
    else if (arg.startsWith('--runs=')) opts.runs = Number(arg.slice(7));
    else if (arg.startsWith('--cases=')) opts.cases = [...(opts.cases || []), ...arg.slice(8).split(/,(?! )/)];
    else throw new Error(`unknown option ${arg} (see bench/run.js)`);
  }
  if (opts.runs === null) opts.runs = opts.quick ? 5 : 7;
  if (!(opts.runs >= 1)) throw new Error('--runs must be a positive number');
  if (opts.cases || opts.impls) opts.write = false;
  return opts;
}

function loadWorkloads(only) {
  const dir = path.join(__dirname, 'workloads');
  const names = fs.readdirSync(dir).filter((n) => fs.existsSync(path.join(dir, n, 'workload.js')));
  for (const n of only || []) if (!names.includes(n)) throw new Error(`no workload ${n} (have: ${names.join(', ')})`);
  return names.filter((n) => !only || only.includes(n)).map((n) => require(path.join(dir, n, 'workload.js')));
}

async function main() {
  const argv = process.argv.slice(2);
  const opts = parseArgs(argv);
  if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  const workDir = path.join(__dirname, '.work');
  fs.mkdirSync(workDir, { recursive: true });
  const started = Date.now();
  const results = {
    command: ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' '),
    quick: opts.quick,
    runs: opts.runs,
    startedAt: new Date(started).toISOString(),
    machine: describe(),
    workloads: [],
  };
  const log = (line) => process.stderr.write(line + '\n');
  const workloads = loadWorkloads(opts.only);
  const progress = new Progress(workloads.reduce((n, w) => n + plannedRuns(w, opts), 0));
  log(
    `${progress.total} runs planned (${workloads.map((w) => w.name).join(', ')}; ${opts.runs} per implementation and case)`,
  );
  for (const workload of workloads) {
    log(`${workload.name}:`);
    results.workloads.push(await runWorkload(workload, { ...opts, workDir }, log, progress));
  }
  results.finishedAt = new Date().toISOString();
  results.durationSeconds = (Date.now() - started) / 1000;
  log(`done: ${progress.done} runs in ${duration(results.durationSeconds)}`);

  const table = markdown(results);
  process.stdout.write(table + '\n');
  const stamp = results.startedAt.replace(/[:.]/g, '-');
  const json = JSON.stringify(results, null, 1) + '\n';
  if (!opts.write) {
    const file = path.join(workDir, `results-${stamp}.json`);
    fs.writeFileSync(file, json);
    log(`results in ${path.relative(ROOT, file)}; README.md and bench/results/ left alone (--write updates them)`);
    return;
  }
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(path.join(RESULTS, `${stamp}.json`), json);
  fs.writeFileSync(path.join(RESULTS, 'latest.svg'), svg(results));
  readme.update(path.join(ROOT, 'README.md'), `${table}\n\n![ratios against targets](bench/results/latest.svg)`);
  log(`wrote bench/results/${stamp}.json, bench/results/latest.svg and README.md`);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  });
}

module.exports = { parseArgs };
