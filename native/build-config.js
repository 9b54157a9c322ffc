'use strict';
// Prints one field of native/build.json resolved for this platform, so binding.gyp (node-gyp) and
// CMakeLists.txt (cmake-js) compile with the same flags and cannot drift apart.
//   node native/build-config.js <cflags_cc|defines|include_dirs|libraries> [--cmake]
//   node native/build-config.js node_include   (the running node's own headers: node_api.h, uv.h, openssl/)
// Output is space-separated for gyp's <!@(...) and ;-separated (a CMake list) with --cmake.
// POLLSET_KQUEUE=<prefix> (a libkqueue install) adds the kqueue backend on Linux.
const config = require('./build.json');

const path = require('path');
const fs = require('fs');

const fields = ['cflags_cc', 'defines', 'include_dirs', 'libraries', 'node_include'];
const field = process.argv[2];
if (!fields.includes(field)) {
  console.error(`usage: build-config.js <${fields.join('|')}> [--cmake]`);
  process.exit(2);
}

// Headers of the node that runs the build, never downloaded ones: npm's nodedir if set, else the
// include/node beside the node binary (official tarballs and distro packages both install it there).
if (field === 'node_include') {
  const roots = [process.env.npm_config_nodedir, path.resolve(process.execPath, '..', '..')].filter(Boolean);
  const found = roots.map((r) => path.join(r, 'include', 'node')).find((d) => fs.existsSync(path.join(d, 'uv.h')));
  if (!found) {
    console.error(`no node headers (include/node/uv.h) under ${roots.join(' or ')}; set npm_config_nodedir`);
    process.exit(1);
  }
  process.stdout.write(found);
  process.exit(0);
}

const prefix = process.env.POLLSET_KQUEUE || '';
const layers = [config, config.platforms[process.platform] || {}];
if (process.platform === 'linux' && prefix) {
  const root = prefix.replace(/\/+$/, '');
  layers.push({ [field]: (config.libkqueue[field] || []).map((v) => v.split('{prefix}').join(root)) });
}
const values = layers.flatMap((layer) => layer[field] || []);
process.stdout.write(values.join(process.argv.includes('--cmake') ? ';' : ' '));
