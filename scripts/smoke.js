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
const pkg = require(require.resolve(spec, from));
const { Pollset, pipe, write, read, close } = pkg;

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

// A TLS handshake and one record each way between our own client and server over a socketpair:
// proves the OpenSSL symbols the addon needs resolve in this node (built in, or a system libssl).
function tlsRoundTrip() {
  const { makeDevCa, makeServerCert, makeClientCert, TlsContext, TlsSession, socketpair } = pkg;
  const ca = makeDevCa();
  const server = TlsContext.server({ ...makeServerCert(ca), ca: ca.cert, verify: 'require' });
  const client = TlsContext.client({ ...makeClientCert(ca, { cn: 'smoke' }), ca: ca.cert, servername: 'localhost' });
  const [a, b] = socketpair();
  const ss = new TlsSession(server, a);
  const cs = new TlsSession(client, b);
  const ps = new Pollset();
  try {
    ps.insert(a, 'r');
    ps.insert(b, 'r');
    let done = [false, false];
    for (let i = 0; i < 100 && !(done[0] && done[1]); i++) {
      done = [done[0] || ss.handshake() === 'done', done[1] || cs.handshake() === 'done'];
      if (!(done[0] && done[1])) ps.wait(100);
    }
    check(done[0] && done[1], 'tls handshake');
    check(cs.write(Buffer.from('ping')) === 4, 'tls write');
    ps.wait(1000);
    const buf = Buffer.alloc(16);
    const n = ss.read(buf);
    check(n === 4 && buf.subarray(0, 4).toString() === 'ping', 'tls read');
    check(ss.peerCertificate().subject === 'CN=smoke', 'tls peer certificate');
    return cs.protocol;
  } finally {
    ps.close();
    ss.free();
    cs.free();
    close(a);
    close(b);
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
  const tls = tlsRoundTrip();
  clearTimeout(deadline);
  const result = {
    node: process.version,
    arch: process.arch,
    uv: process.versions.uv,
    backends: Pollset.backends,
    tls,
  };
  console.log(JSON.stringify({ ...result, addon: path.relative(root, addon), ok: true }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
