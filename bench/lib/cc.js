'use strict';
/**
 * Compiles a bench/c/*.c program with the system C compiler into bench/.build/ (gitignored),
 * once per harness run, so a fresh clone needs nothing but `cc`.
 */
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const OUT = path.join(__dirname, '..', '.build');
const built = new Map();

/** Path of the compiled binary for `source` (absolute path of a .c file). */
function compile(source) {
  if (built.has(source)) return built.get(source);
  fs.mkdirSync(OUT, { recursive: true });
  const binary = path.join(OUT, path.basename(source, '.c'));
  const cc = process.env.CC || 'cc';
  execFileSync(cc, ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-Werror', '-o', binary, source], { stdio: 'inherit' });
  built.set(source, binary);
  return binary;
}

module.exports = { compile };
