// Handshakes per second of our TLS server against Node's tls server, same certificate (ECDSA
// P-256), same run. Until TCP sockets land, both servers get socketpair fds. The client side is
// always the same: our TLS client in a worker thread (its own core), so the server is what differs.
//   ours: a blocking Pollset loop driving TlsSession servers (the "blocking" run mode)
//   node: tls.TLSSocket servers over net.Socket({fd}) in Node's event loop
// Alternating runs; prints each run and the median ratio ours/node. Needs `npm run build:ts` first.
// Usage: node bench/tls-handshake.js [handshakesPerRun=1000] [runsEach=7] [concurrency=32]
'use strict';
const net = require('net');
const tls = require('tls');
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const lib = require('../dist');
const { Pollset, socketpair, close, TlsContext, TlsSession, WANT_READ, WANT_WRITE } = lib;

const want = (r) => r === WANT_READ || r === WANT_WRITE;

/** Drives every session's handshake to the end with one Pollset, blocking in wait() between rounds. */
function handshakeAll(ps, sessions) {
  const results = sessions.map(() => WANT_READ);
  for (let round = 0; round < 1000; round++) {
    let waiting = 0;
    sessions.forEach((s, i) => {
      if (want(results[i])) results[i] = s.handshake();
      if (want(results[i])) {
        ps.insert(s.fd, results[i] === WANT_READ ? 'r' : 'w');
        waiting++;
      }
    });
    if (waiting === 0) return;
    if (ps.wait(5000) === 0) throw new Error('handshakes stalled');
    sessions.forEach((s, i) => want(results[i]) && ps.remove(s.fd));
  }
  throw new Error('handshakes did not finish');
}

function clientWorker() {
  const ctx = TlsContext.client({ ca: workerData.ca, servername: 'localhost' });
  const ps = new Pollset();
  parentPort.on('message', (fds) => {
    const sessions = fds.map((fd) => new TlsSession(ctx, fd));
    handshakeAll(ps, sessions);
    for (const s of sessions) s.free();
    for (const fd of fds) close(fd);
    parentPort.postMessage('done');
  });
}

async function main() {
  const [perRun = 1000, runs = 7, concurrency = 32] = process.argv.slice(2).map(Number);
  const ca = lib.makeDevCa();
  const cert = lib.makeServerCert(ca);
  const ours = TlsContext.server(cert);
  const theirs = tls.createSecureContext(cert);
  const worker = new Worker(__filename, { workerData: { ca: ca.cert } });
  const clientDone = () => new Promise((resolve) => worker.once('message', resolve));
  const ps = new Pollset();

  async function batch(server, count) {
    const pairs = Array.from({ length: count }, () => socketpair());
    const done = clientDone();
    worker.postMessage(pairs.map((p) => p[0]));
    if (server === 'ours') {
      const sessions = pairs.map((p) => new TlsSession(ours, p[1]));
      handshakeAll(ps, sessions);
      await done;
      for (const s of sessions) s.free();
      for (const p of pairs) close(p[1]);
    } else {
      const sockets = pairs.map(
        (p) => new tls.TLSSocket(new net.Socket({ fd: p[1] }), { isServer: true, secureContext: theirs }),
      );
      await Promise.all(
        sockets.map((s) => new Promise((resolve, reject) => s.once('secure', resolve).once('error', reject))),
      );
      await done;
      for (const s of sockets) s.destroy();
    }
  }

  async function run(server) {
    const started = process.hrtime.bigint();
    for (let done = 0; done < perRun; done += concurrency) await batch(server, Math.min(concurrency, perRun - done));
    return perRun / (Number(process.hrtime.bigint() - started) / 1e9);
  }

  await run('ours'); // warm-up, both paths
  await run('node');
  const ratios = [];
  for (let i = 0; i < runs; i++) {
    const a = await run('ours');
    const b = await run('node');
    ratios.push(a / b);
    console.log(
      `run ${i + 1}: ours ${a.toFixed(0)} handshakes/s, node ${b.toFixed(0)} handshakes/s, ratio ${(a / b).toFixed(2)}`,
    );
  }
  ratios.sort((x, y) => x - y);
  console.log(
    `median ratio ours/node: ${ratios[ratios.length >> 1].toFixed(2)} (${perRun} handshakes per run, concurrency ${concurrency}, TLS 1.3, ECDSA P-256)`,
  );
  ps.close();
  await worker.terminate();
}

if (isMainThread)
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
else clientWorker();
