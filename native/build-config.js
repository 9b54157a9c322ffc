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
  // CMake's GNUInstallDirs installs into lib64 on Fedora/RHEL/SUSE, lib/<multiarch> under /usr on Debian,
  // lib elsewhere: {libdir} is the first of those holding libkqueue.
  const libdirs = ['lib64', `lib/${process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch}-linux-gnu`, 'lib'];
  const libdir = libdirs.map((d) => path.join(root, d)).find((d) => fs.existsSync(path.join(d, 'libkqueue.so')));
  if (!libdir) {
    console.error(`POLLSET_KQUEUE=${prefix}: no libkqueue.so in ${libdirs.map((d) => path.join(root, d)).join(', ')}`);
    process.exit(1);
  }
  const resolve = (v) => v.split('{prefix}').join(root).split('{libdir}').join(libdir);
  layers.push({ [field]: (config.libkqueue[field] || []).map(resolve) });
}
const values = layers.flatMap((layer) => layer[field] || []);
process.stdout.write(values.join(process.argv.includes('--cmake') ? ';' : ' '));
