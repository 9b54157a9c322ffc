'use strict';
/**
 * The relay's load: `subs` TLS subscribers (client certificate) and one UDP source, in one process.
 * Closed loop: at most `window` messages are in flight (sent, not yet delivered to every
 * subscriber), so both relays are measured at their sustainable rate, not at how fast their
 * socket buffers overflow. Each message carries its send time (CLOCK_MONOTONIC, shared by all
 * processes) for end-to-end latency. A message lost for `stallMs` is written off so the run ends.
 * Protocol: prints {"ready":{}} once every subscriber got a probe line, starts on "go" from stdin,
 * prints {"result":{...}}.
 */
const dgram = require('dgram');
const tls = require('tls');
const { params, ready, result } = require('../../lib/impl');
const { load } = require('../../lib/certs');
const { percentile } = require('../../lib/stats');

const p = params();
const PAD = 'x'.repeat(Math.max(0, p.size - 40));
const MAX_SAMPLES = 1000000;
const creds = load(p.certs, 'client');
const udp = dgram.createSocket('udp4');
const subs = [];
const latencies = [];
let sent = 0;
let writtenOff = 0;
let deliveredLines = 0;
let lastDelivery = 0n;
let probing = true;
let start = 0n;
let cpuAtStart = null;

function send(text) {
  udp.send(text, p.udpPort, '127.0.0.1');
}

function minDelivered() {
  let min = Infinity;
  for (const s of subs) if (s.seen < min) min = s.seen;
  return Math.max(min, writtenOff);
}

function pump() {
  if (probing || start === 0n) return;
  while (sent < p.count && sent - minDelivered() < p.window) {
    sent++;
    send(`${sent} ${process.hrtime.bigint()} ${PAD}`);
  }
  if (minDelivered() >= p.count) finish();
}

function onLine(sub, line) {
  if (line === 'probe') {
    sub.probed = true;
    if (probing && subs.length === p.subs && subs.every((s) => s.probed)) {
      probing = false;
      ready({});
    }
    return;
  }
  const sp = line.indexOf(' ');
  const seq = Number(line.slice(0, sp));
  const now = process.hrtime.bigint();
  if (latencies.length < MAX_SAMPLES) latencies.push(Number(now - BigInt(line.slice(sp + 1, line.indexOf(' ', sp + 1)))) / 1e3);
  deliveredLines++;
  lastDelivery = now;
  if (seq > sub.seen) sub.seen = seq;
}

function connect() {
  const sub = { seen: 0, probed: false, rest: '' };
  const socket = tls.connect({ ...creds, host: '127.0.0.1', port: p.tlsPort, servername: 'localhost' });
  sub.socket = socket;
  socket.setEncoding('latin1');
  socket.on('data', (chunk) => {
    const lines = (sub.rest + chunk).split('\n');
    sub.rest = lines.pop();
    for (const line of lines) onLine(sub, line);
    pump();
  });
  socket.on('error', (err) => {
    process.stderr.write(`subscriber: ${err.message}\n`);
    process.exit(1);
  });
  subs.push(sub);
}

function cpuSecondsSince(base) {
  const used = process.cpuUsage(base);
  return (used.user + used.system) / 1e6;
}

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  const seconds = Number(lastDelivery - start) / 1e9;
  result({
    sent,
    deliveredLines,
    seconds,
    deliveredPerSec: deliveredLines / seconds,
    lossPercent: (100 * (sent * p.subs - deliveredLines)) / (sent * p.subs),
    p50us: percentile(latencies, 50),
    p99us: percentile(latencies, 99),
    cpuSeconds: cpuSecondsSince(cpuAtStart),
  });
  for (const s of subs) s.socket.destroy();
  udp.close();
  process.exit(0);
}

for (let i = 0; i < p.subs; i++) connect();
// Probes until every subscriber is known to the relay (its handshake done on both sides).
const probe = setInterval(() => (probing ? send('probe') : clearInterval(probe)), 20);
let progress = { at: Date.now(), mark: -1 };
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  if (!d.includes('go') || start !== 0n) return;
  start = process.hrtime.bigint();
  cpuAtStart = process.cpuUsage();
  setTimeout(finish, p.seconds * 1000);
  setInterval(() => {
    const mark = minDelivered();
    if (mark !== progress.mark) progress = { at: Date.now(), mark };
    else if (Date.now() - progress.at > p.stallMs) {
      writtenOff = sent; // lost in the relay's UDP buffer or dropped from a queue: count it, move on
      pump();
    }
  }, 20);
  pump();
});
