'use strict';
// npm's install step. In an installed package it decides as node-gyp-build's own bin does: nothing to do when
// an addon loads (a prebuild matching this platform, arch, libuv and libc, or a local build), else compile from
// source with node-gyp (also when npm is run with --build-from-source). In a source checkout (lib/*.ts present)
// it always compiles build/, incrementally once configured, so prebuilds/ left by the tests or a build/ older
// than the sources never stand in for the developer's code.
// The one thing it adds over `node-gyp-build`: quiet. node-gyp prints some 45 lines of progress; they are kept
// back and printed in full only when the build fails, so a failure still shows every compiler error. npm's
// --loglevel verbose (or silly) streams them as they come.
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');
const checkout = fs.existsSync(path.join(root, 'lib', 'index.ts'));

function loads() {
  try {
    require('node-gyp-build')(root);
    return true;
  } catch {
    return false;
  }
}

if (!checkout && process.env.npm_config_build_from_source !== 'true' && loads()) process.exit(0);

/** node-gyp: the project's own (a devDependency), else the one npm ships and names, else PATH's. */
function nodeGyp() {
  try {
    return [process.execPath, require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] })];
  } catch {
    if (process.env.npm_config_node_gyp) return [process.execPath, process.env.npm_config_node_gyp];
    return ['node-gyp'];
  }
}

const configured = checkout && fs.existsSync(path.join(root, 'build', 'config.gypi'));
if (configured) {
  console.error('pollset: bringing build/ up to date with native/ (node-gyp build, source checkout)');
} else {
  const why = checkout
    ? 'source checkout'
    : `no prebuilt binary for ${os.platform()}-${os.arch()} with libuv ${process.versions.uv.split('.')[0]}`;
  console.error(`pollset: compiling the native addon with node-gyp (${why}); this takes a minute or two`);
}

const [cmd, ...args] = nodeGyp();
args.push(configured ? 'build' : 'rebuild');
const verbose = /^(verbose|silly)$/.test(process.env.npm_config_loglevel || '');
const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pollset-install-')), 'node-gyp.log');
const log = fs.openSync(logFile, 'w');
const started = Date.now();
const run = spawnSync(cmd, args, { cwd: root, stdio: verbose ? 'inherit' : ['ignore', log, log] });
fs.closeSync(log);
const output = fs.readFileSync(logFile, 'utf8');
fs.rmSync(path.dirname(logFile), { recursive: true, force: true });

if (run.status !== 0) {
  process.stderr.write(output);
  const reason = run.error ? run.error.message : `exit ${run.status ?? run.signal}`;
  console.error(`pollset: the build failed (${reason}); it needs python3, make and a C++17 compiler`);
  process.exit(run.status || 1);
}
const seconds = Math.round((Date.now() - started) / 1000);
console.error(`pollset: built build/Release/pollset.node in ${seconds} s`);
