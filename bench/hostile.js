// The relay against hostile peers, measured on a real `logrelay` child over loopback (Linux: fds
// counted in /proc/<pid>/fd). Three figures:
//   resets:  the relay's fds before and after N connects that each close with SO_LINGER 0 (RST)
//   emfile:  relay under `ulimit -n 64` flooded by silent connections until accept says EMFILE; a
//            TLS subscriber connects during the episode (it waits in the backlog); then the flood
//            closes. Reported: flood closed → `accept-resumed`, and flood closed → subscriber's handshake done
//   sigterm: N connections with handshakes pending (silent peers), SIGTERM → process exit
// Needs `npm run build:ts` first. Every wait is bounded; the relay is killed on the way out.
// Usage: node bench/hostile.js [resets=10000] [pending=1000]
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const tls = require('tls');
const { makeDevCa, makeServerCert, makeClientCert } = require('../dist');

const RESETS = Number(process.argv[2] || 10000);
const PENDING = Number(process.argv[3] || 1000);
const LOGRELAY = path.join(__dirname, '..', 'bin', 'logrelay.js');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-bench-'));
const ca = makeDevCa({ cn: 'hostile bench CA' });
const server = makeServerCert(ca, { cn: 'hostile bench server' });
const client = makeClientCert(ca, { cn: 'hostile bench subscriber' });
const files = {};
for (const [name, pem] of Object.entries({ ca: ca.cert, cert: server.cert, key: server.key })) {
  files[name] = path.join(dir, `${name}.pem`);
  fs.writeFileSync(files[name], pem, { mode: 0o600 });
}

const children = new Set();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fdCount = (pid) => fs.readdirSync(`/proc/${pid}/fd`).length;

async function until(what, check, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Every hostile peer here comes from 127.0.0.1, so the per-address and total handshake caps would cut
 * them long before the fd limit or the shutdown path is reached: they are lifted (and every rejection
 * logged in full) to measure what these runs are about. `caps` keeps the relay's defaults instead.
 */
const UNCAPPED = process.argv.includes('caps')
  ? []
  : ['--max-handshakes', '1000000', '--max-handshakes-per-ip', '1000000', '--rejection-log', '1000000/60'];

/** Starts `logrelay --json` (under `ulimit -n` when `fdLimit`), resolves once it listens. */
async function startRelay(extra, fdLimit) {
  const argv = [
    process.execPath,
    LOGRELAY,
    '--json',
    '--udp',
    '127.0.0.1:0',
    '--tls',
    '127.0.0.1:0',
    '--ca',
    files.ca,
    '--cert',
    files.cert,
    '--key',
    files.key,
    ...UNCAPPED,
    ...extra,
  ];
  const child = fdLimit
    ? spawn('bash', ['-c', 'ulimit -n "$0" && exec "$@"', String(fdLimit), ...argv])
    : spawn(argv[0], argv.slice(1));
  children.add(child);
  child.once('exit', () => children.delete(child));
  const events = [];
  let pending = '';
  child.stderr.on('data', (c) => {
    pending += c;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      events.push({ at: Date.now(), ...JSON.parse(pending.slice(0, nl)) });
      pending = pending.slice(nl + 1);
    }
  });
  const listening = await until('listening', () => events.find((e) => e.event === 'listening'));
  return { child, events, port: Number(String(listening.tls).split(':').pop()) };
}

async function stopRelay(relay) {
  const exited = new Promise((r) => relay.child.once('exit', r));
  relay.child.kill('SIGTERM');
  await Promise.race([exited, sleep(10000)]);
}

async function resetFlood(port, n, parallel = 64) {
  let started = 0;
  const one = () =>
    new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.resetAndDestroy(), resolve()));
      s.once('error', () => resolve());
    });
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (started++ < n) await one();
    }),
  );
}

async function silent(port, n, parallel = 100) {
  const sockets = [];
  let started = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (started++ < n) {
        await new Promise((resolve) => {
          const s = net.connect(port, '127.0.0.1');
          sockets.push(s);
          s.on('error', () => undefined);
          s.once('connect', resolve);
          s.once('close', resolve);
        });
      }
    }),
  );
  return sockets;
}

async function resets() {
  const relay = await startRelay([]);
  const pid = relay.child.pid;
  await sleep(300);
  const before = fdCount(pid);
  const t0 = Date.now();
  await resetFlood(relay.port, RESETS);
  const floodMs = Date.now() - t0;
  let after = fdCount(pid);
  // Give the relay time to work off what is still queued, then read the count it settles at.
  for (let i = 0; i < 200 && after > before; i++) {
    await sleep(25);
    after = fdCount(pid);
  }
  const crashed = relay.events.filter((e) => e.event === 'task-crashed').length;
  await stopRelay(relay);
  return { resets: RESETS, floodMs, fdsBefore: before, fdsAfter: after, taskCrashed: crashed };
}

async function emfile() {
  const relay = await startRelay(['--handshake-timeout', '60000'], 64);
  const flood = await silent(relay.port, 300);
  await until('accept-paused', () => relay.events.find((e) => e.event === 'accept-paused'));
  // A subscriber arrives during the episode: its connection waits in the backlog.
  let handshakeAt;
  const sub = tls.connect({
    port: relay.port,
    host: '127.0.0.1',
    ca: ca.cert,
    cert: client.cert,
    key: client.key,
    servername: 'localhost',
  });
  sub.on('error', (e) => console.error('subscriber:', e.message));
  sub.once('secureConnect', () => (handshakeAt = Date.now()));
  await sleep(1000);
  const connectedDuringEpisode = handshakeAt !== undefined;
  const releasedAt = Date.now();
  for (const s of flood) s.destroy();
  const resumed = await until('accept-resumed', () => relay.events.find((e) => e.event === 'accept-resumed'));
  await until('the subscriber handshake', () => handshakeAt);
  const connected = await until('subscriber-connected', () =>
    relay.events.find((e) => e.event === 'subscriber-connected'),
  );
  sub.destroy();
  const paused = relay.events.filter((e) => e.event === 'accept-paused').length;
  await stopRelay(relay);
  return {
    fdLimit: 64,
    silentConnections: flood.length,
    connectedDuringEpisode,
    pausedLines: paused,
    releaseToResumedMs: resumed.at - releasedAt,
    releaseToSubscriberHandshakeMs: handshakeAt - releasedAt,
    resumedToSubscriberConnectedMs: connected.at - resumed.at,
    resumedLine: { failures: resumed.failures, ms: resumed.ms },
  };
}

async function sigterm() {
  const relay = await startRelay(['--handshake-timeout', '60000']);
  const pid = relay.child.pid;
  await sleep(300);
  const base = fdCount(pid);
  const conns = await silent(relay.port, PENDING);
  await until('pending connections accepted', () => (fdCount(pid) >= base + PENDING ? true : undefined));
  const exited = new Promise((r) => relay.child.once('exit', (code) => r(code)));
  const t0 = process.hrtime.bigint();
  relay.child.kill('SIGTERM');
  const code = await Promise.race([exited, sleep(30000).then(() => 'no exit in 30 s')]);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const last = relay.events[relay.events.length - 1]?.event;
  for (const s of conns) s.destroy();
  return { pending: PENDING, exitCode: code, sigtermToExitMs: Math.round(ms), lastLogLine: last };
}

(async () => {
  try {
    console.log(JSON.stringify({ resets: await resets() }));
    console.log(JSON.stringify({ emfile: await emfile() }));
    console.log(JSON.stringify({ sigterm: await sigterm() }));
  } finally {
    for (const c of children) c.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
})().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
