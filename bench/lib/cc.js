'use strict';
/**
 * Compiles a bench/c/*.c program with the system C compiler into bench/.build/ (gitignored),
 * once per harness run, so a fresh clone needs nothing but `cc` (and the headers of what a program
 * links: see below).
 *
 * The flags are fixed here. A program that links a library says so in a line of its own source,
 * `// bench-cc: -lssl -lcrypto`: only `-l` options are taken from it, placed after the source (the
 * linker resolves left to right).
 */
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const OUT = path.join(__dirname, '..', '.build');
const built = new Map();

/** The `-lNAME` options a source asks for in its `// bench-cc:` line (other words are an error). */
function libraries(source) {
  const m = /^\/\/ bench-cc:(.*)$/m.exec(fs.readFileSync(source, 'utf8'));
  if (!m) return [];
  const words = m[1].trim().split(/\s+/).filter(Boolean);
  const bad = words.find((w) => !/^-l[\w+.-]+$/.test(w));
  if (bad !== undefined) throw new Error(`${source}: bench-cc takes -lNAME options only, not ${JSON.stringify(bad)}`);
  return words;
}

/**
 * Path of the compiled binary for `source` (absolute path of a .c file). The compiler's messages go
 * to our stderr (`quiet`: kept in the thrown error's message instead).
 */
function compile(source, { quiet = false } = {}) {
  if (built.has(source)) return built.get(source);
  fs.mkdirSync(OUT, { recursive: true });
  const binary = path.join(OUT, path.basename(source, '.c'));
  const cc = process.env.CC || 'cc';
  const args = ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-Werror', '-o', binary, source, ...libraries(source)];
  try {
    execFileSync(cc, args, { stdio: ['ignore', quiet ? 'pipe' : 'inherit', quiet ? 'pipe' : 'inherit'] });
  } catch (err) {
    const output = `${err.stdout ?? ''}${err.stderr ?? ''}`.trim();
    throw new Error(`${cc} ${args.join(' ')} failed${output ? `:\n${output}` : ''}`);
  }
  built.set(source, binary);
  return binary;
}

module.exports = { compile, libraries };
