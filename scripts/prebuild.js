'use strict';
// Makes prebuilds/<platform>-<arch>/pollset.uv1.<libc>.node with prebuildify (N-API, stripped).
//   node scripts/prebuild.js                 this machine's platform and arch
//   node scripts/prebuild.js --arch arm64    cross-compile (CC/CXX/LINK/STRIP env name the cross toolchain)
// Tags: the addon calls libuv (uv_poll_t, uv_async_t) and OpenSSL through symbols of the node binary, so the
// file is tagged with libuv's major version and, on Linux, the libc it links (glibc/musl); node-gyp-build matches both
// against the running process. No armv tag: arm64 is always ARMv8 (it matters only for 32-bit arm).
// The build runs in a staging copy of the sources, so build/ (the developer's or CI's local build,
// which node-gyp-build prefers) is left untouched, and it uses the running node's own headers.
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.join(__dirname, '..');
const args = process.argv.slice(2);
const arch = args.includes('--arch') ? args[args.indexOf('--arch') + 1] : os.arch();

const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'pollset-prebuild-'));
try {
  for (const f of ['package.json', 'binding.gyp', 'native']) {
    fs.cpSync(path.join(root, f), path.join(stage, f), { recursive: true });
  }
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(stage, 'node_modules'));

  const nodeInclude = execFileSync(process.execPath, [path.join(root, 'native/build-config.js'), 'node_include'], {
    encoding: 'utf8',
  });
  const env = {
    ...process.env,
    // Local headers: node-gyp must not download any (prebuildify names a target, node-gyp would fetch it).
    npm_config_nodedir: path.resolve(nodeInclude, '..', '..'),
  };
  if (process.env.npm_config_node_gyp) env.PREBUILD_NODE_GYP = process.env.npm_config_node_gyp;

  const prebuildify = require.resolve('prebuildify/bin.js');
  const flags = ['--napi', '--strip', '--tag-uv', '--target', process.versions.node];
  if (os.platform() === 'linux') flags.push('--tag-libc'); // glibc or musl (Alpine); other OSes have one libc
  flags.push('--arch', arch, '--cwd', stage, '--out', root);
  if (process.env.STRIP) flags.push('--strip-bin', process.env.STRIP);
  execFileSync(process.execPath, [prebuildify, ...flags], { stdio: 'inherit', env });

  const dir = path.join(root, 'prebuilds', `${os.platform()}-${arch}`);
  for (const f of fs.readdirSync(dir)) console.log(path.relative(root, path.join(dir, f)));
} finally {
  fs.rmSync(stage, { recursive: true, force: true });
}
