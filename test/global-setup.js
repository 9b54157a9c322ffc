'use strict';
// Jest global setup: the prebuild tests (prebuild.test.ts, package.test.ts) need a prebuild of the current
// sources for this platform. Make one (`npm run build:prebuilds`: a full compile in a staging copy, leaves build/
// alone) when it is missing or older than any native source or build file, so a clean clone's `npm test` passes
// without a manual step. The compile takes a minute or more and jest prints nothing meanwhile: say so first.
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

module.exports = function globalSetup() {
  const root = path.join(__dirname, '..');
  const dir = path.join(root, 'prebuilds', `${os.platform()}-${os.arch()}`);
  const mtime = (f) => fs.statSync(f).mtimeMs;
  const inputs = ['binding.gyp', ...fs.readdirSync(path.join(root, 'native')).map((f) => `native/${f}`)];
  const newestInput = Math.max(...inputs.map((f) => mtime(path.join(root, f))));
  const builds = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
  if (builds.length > 0 && builds.every((f) => mtime(path.join(dir, f)) >= newestInput)) return;
  const why = builds.length === 0 ? 'missing' : 'older than the native sources';
  process.stderr.write(
    `pollset: building ${path.relative(root, dir)}/ for the prebuild and package tests (${why}): ` +
      'a full compile of native/, a minute or more before the first test runs\n',
  );
  try {
    execFileSync('npm', ['run', 'build:prebuilds'], { cwd: root, stdio: 'pipe', encoding: 'utf8' });
  } catch (err) {
    process.stderr.write(`${err.stdout}${err.stderr}`);
    throw err;
  }
};
