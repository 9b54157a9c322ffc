'use strict';
// A pollset smoke check of an installed or staged package, run the way a user runs it:
//   node scripts/smoke.js <package dir or name>     (a name resolves from the current directory)
// Loads the package (node-gyp-build picks the addon), pushes a byte through a pipe on every compiled-in
// backend both with a blocking wait() and with watch() inside Node's loop, then prints one JSON line
// naming the addon file that was loaded. Exits non-zero on any failure; bounded by a 10 s timer.
const path = require('path');

const arg = process.argv[2] || 'pollset';
const spec = /^[./]/.test(arg) ? path.resolve(arg) : arg;
const from = { paths: [process.cwd()] };
const root = path.dirname(require.resolve(path.join(spec, 'package.json'), from));
const addon = require(require.resolve('node-gyp-build', { paths: [root] })).resolve(root);
const { Pollset, pipe, write, read, close } = require(require.resolve(spec, from));

const deadline = setTimeout(() => {
  console.error('smoke: timed out');
  process.exit(1);
}, 10000);

function check(cond, what) {
  if (!cond) throw new Error(`smoke: ${what}`);
}

async function viaWatch(backend) {
  const ps = new Pollset({ backend });
  const [r, w] = pipe();
  try {
    ps.insert(r, 'r', 'pipe');
    const seen = new Promise((resolve) => ps.watch(() => resolve([...ps.events()])));
    write(w, Buffer.from('y'));
    const events = await seen;
    check(events.length === 1 && events[0].obj === 'pipe' && events[0].read, `${backend} watch event`);
    check(read(r, Buffer.alloc(1)) === 1, `${backend} read after watch`);
  } finally {
    ps.close();
    close(r);
    close(w);
  }
}

async function main() {
  for (const backend of Pollset.backends) {
    const ps = new Pollset({ backend });
    const [r, w] = pipe();
    ps.insert(r, 'r', 'pipe');
    check(ps.wait(0) === 0, `${backend} empty wait`);
    write(w, Buffer.from('x'));
    check(ps.wait(1000) === 1, `${backend} wait`);
    const [ev] = [...ps.events()];
    check(ev.obj === 'pipe' && ev.read && !ev.write, `${backend} event`);
    ps.close();
    close(r);
    close(w);
    await viaWatch(backend);
  }
  clearTimeout(deadline);
  const result = { node: process.version, arch: process.arch, uv: process.versions.uv, backends: Pollset.backends };
  console.log(JSON.stringify({ ...result, addon: path.relative(root, addon), ok: true }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
