'use strict';
/**
 * The relay's load: `subs` TLS subscribers (client certificate) and one UDP source, in one process.
 * Closed loop: at most `window` messages are in flight (sent, not yet delivered to every
 * subscriber), so both relays are measured at their sustainable rate, not at how fast their
 * socket buffers overflow (the queues are bigger than the window, so nothing is dropped). The
 * window is large enough that the relay always has work queued: it, not this process, is the
 * bottleneck (the workload reports both processes' CPU so that this can be checked).
 *
 * Kept cheap on purpose, since it shares the machine with the relay: subscribers read raw bytes and
 * count LFs natively; only the first and the last complete line of each chunk are parsed, for the
 * subscriber's progress (its newest sequence number) and for latency samples. Each message carries
 * its send time (CLOCK_MONOTONIC, shared by all processes). A message lost for `stallMs` is written
 * off so the run ends.
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
const LF = 0x0a;
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

/** One complete line (without its LF): a probe (returns 1), or `SEQ SENT_NS PAD` (returns 0). */
function sample(sub, line, now) {
  const head = line.toString('latin1', 0, Math.min(line.length, 48));
  if (head === 'probe') {
    sub.probed = true;
    if (probing && subs.length === p.subs && subs.every((s) => s.probed)) {
      probing = false;
      ready({});
    }
    return 1;
  }
  const sp = head.indexOf(' ');
  const seq = Number(head.slice(0, sp));
  if (latencies.length < MAX_SAMPLES) latencies.push(Number(now - BigInt(head.slice(sp + 1, head.indexOf(' ', sp + 1)))) / 1e3);
  if (seq > sub.seen) sub.seen = seq;
  return 0;
}

function onData(sub, chunk) {
  const first = chunk.indexOf(LF);
  if (first < 0) {
    sub.rest = sub.rest.length ? Buffer.concat([sub.rest, chunk]) : chunk;
    return;
  }
  const now = process.hrtime.bigint();
  let lines = 1;
  for (let i = chunk.indexOf(LF, first + 1); i >= 0; i = chunk.indexOf(LF, i + 1)) lines++;
  const last = chunk.lastIndexOf(LF);
  // A late probe (sent before "go", only ever ahead of the data) is not a delivered message.
  lines -= sample(sub, sub.rest.length ? Buffer.concat([sub.rest, chunk.subarray(0, first)]) : chunk.subarray(0, first), now);
  if (last > first) lines -= sample(sub, chunk.subarray(chunk.lastIndexOf(LF, last - 1) + 1, last), now);
  sub.rest = chunk.subarray(last + 1);
  if (sub.rest.length) sub.rest = Buffer.from(sub.rest); // do not pin the whole chunk
  if (start !== 0n) {
    deliveredLines += lines;
    lastDelivery = now;
  }
  pump();
}

function connect() {
  const sub = { seen: 0, probed: false, rest: Buffer.alloc(0) };
  const socket = tls.connect({ ...creds, host: '127.0.0.1', port: p.tlsPort, servername: 'localhost' });
  sub.socket = socket;
  socket.on('data', (chunk) => onData(sub, chunk));
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
