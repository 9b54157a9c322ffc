#!/usr/bin/env node
'use strict';
/**
 * Redraws the chart from a results file, without running anything:
 *   node bench/chart.js [RESULTS.json] [--out=FILE.svg] [--png=FILE.png]
 * RESULTS defaults to the newest bench/results/*.json, --out to bench/results/latest.svg. --png also
 * renders the SVG with rsvg-convert (Debian librsvg2-bin), to look at it as a reader would.
 */
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { svg } = require('./lib/chart');

const RESULTS = path.join(__dirname, 'results');

function main(argv) {
  let file = null;
  let out = path.join(RESULTS, 'latest.svg');
  let png = null;
  for (const arg of argv) {
    if (arg.startsWith('--out=')) out = arg.slice(6);
    else if (arg.startsWith('--png=')) png = arg.slice(6);
    else if (arg.startsWith('--')) throw new Error(`unknown option ${arg} (see bench/chart.js)`);
    else file = arg;
  }
  if (file === null) {
    const newest = fs
      .readdirSync(RESULTS)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .pop();
    if (!newest) throw new Error(`no results file in ${RESULTS}`);
    file = path.join(RESULTS, newest);
  }
  fs.writeFileSync(out, svg(JSON.parse(fs.readFileSync(file, 'utf8'))));
  process.stderr.write(`drew ${out} from ${file}\n`);
  if (png) {
    execFileSync('rsvg-convert', ['--format=png', `--output=${png}`, out], { stdio: 'inherit' });
    process.stderr.write(`rendered ${png}\n`);
  }
}

try {
  main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`bench/chart.js: ${err.message}\n`);
  process.exit(err.code === 'ENOENT' && err.path === 'rsvg-convert' ? 127 : 1);
}
