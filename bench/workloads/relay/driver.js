'use strict';
/**
 * The relay's load in Node: `subs` TLS subscribers (client certificate) and one UDP source, in one
 * process. It runs the catch-up case, and every case where c/relay_driver.c (the same protocol, a
 * fraction of the CPU) cannot be built; see load.js. Closed loop: at most `window` messages are in flight (sent, not yet delivered to every
 * subscriber), so both relays are measured at their sustainable rate, not at how fast their
 * socket buffers overflow (the queues are bigger than the window, so nothing is dropped). The
 * window is large enough that the relay always has work queued: it, not this process, is the
 * bottleneck (the workload reports both processes' CPU so that this can be checked).
 *
 * Variants (parameters):
 * - `rate=R`: open loop instead, R messages a second for `seconds` (the latency case).
 * - `listen=1`: the subscribers are TLS *servers* a forwarder connects to (rsyslog's omfwd), one
 *   listening port, RFC 5425 octet-counted frames whose message ends in LF; prints
 *   {"listening":{"tlsPort"}} and waits for `target UDPPORT` on stdin before probing.
 * - `catchup=N`: one plain subscriber takes N messages live (closed loop, the history fills), then
 *   leaves; "ready" comes after that. On "go" one `logrelay/1` client resumes N messages behind
 *   the head and reads MSG frames until it has them all: the result is that catch-up.
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
// The relay's own subscriber-side parser of logrelay/1 (built by `npm run build:ts`).
const { FrameParser, PROTOCOL, requestLine } = require('../../../dist/relay/client');

const p = params();
const PAD = 'x'.repeat(Math.max(0, p.size - 40));
const LF = 0x0a;
const MAX_SAMPLES = 1000000;
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
let udpPort = p.udpPort;
let filling = !!p.catchup; // the catch-up case's live phase, before "ready"
let count = p.catchup || p.count;

/** With `pri`, messages alternate user.notice and auth.info (probes are auth.info: every subscriber sees them). */
function send(text, n = 0) {
  udp.send(p.pri ? `<${n % 2 ? 38 : 13}>${text}` : text, udpPort, '127.0.0.1');
}

function minDelivered() {
  let min = Infinity;
  for (const s of subs) if (s.seen < min) min = s.seen;
  return Math.max(min, writtenOff);
}

function pump() {
  if (probing || (start === 0n && !filling)) return;
  while (!p.rate && sent < count && sent - minDelivered() < p.window) {
    sent++;
    send(`${sent} ${process.hrtime.bigint()} ${PAD}`, sent);
  }
  if (minDelivered() >= count) (filling ? filled : finish)();
}

/** Open loop: every millisecond or so, whatever is due by now at `rate` a second. */
function paced() {
  const due = Math.min(count, Math.floor((Number(process.hrtime.bigint() - start) / 1e9) * p.rate));
  while (sent < due) {
    sent++;
    send(`${sent} ${process.hrtime.bigint()} ${PAD}`, sent);
  }
  if (sent >= count) return;
  setTimeout(paced, 1);
}

/**
 * One complete line (without its LF): a probe (returns 1), or `SEQ SENT_NS PAD` (returns 0). A
 * forwarder's octet-counted frame puts `LEN ` before it.
 */
function sample(sub, line, now) {
  let head = line.toString('latin1', 0, Math.min(line.length, 64));
  if (p.listen) head = head.slice(head.indexOf(' ') + 1);
  if (p.pri) head = head.slice(head.indexOf('>') + 1);
  if (head.startsWith('probe')) {
    sub.probed = true;
    if (probing && subs.length === p.subs && subs.every((s) => s.probed)) {
      probing = false;
      if (filling) pump();
      else whenQuiet(() => ready({}));
    }
    return 1;
  }
  const sp = head.indexOf(' ');
  const seq = Number(head.slice(0, sp));
  if (latencies.length < MAX_SAMPLES && !filling)
    latencies.push(Number(now - BigInt(head.slice(sp + 1, head.indexOf(' ', sp + 1)))) / 1e3);
  if (seq > sub.seen) sub.seen = seq;
  return 0;
}

/**
 * Calls `then` once nothing has arrived for 200 ms: probes still on their way (a forwarder may hold
 * some back until its connections are up) must not land inside the measured phase, where a line
 * within a chunk is counted without being read.
 */
function whenQuiet(then) {
  const check = setInterval(() => {
    if (Date.now() - lastData < 200) return;
    clearInterval(check);
    then();
  }, 50);
}

let lastData = 0;
function onData(sub, chunk) {
  lastData = Date.now();
  const first = chunk.indexOf(LF);
  if (first < 0) {
    sub.rest = sub.rest.length ? Buffer.concat([sub.rest, chunk]) : chunk;
    return;
  }
  let lines = 1;
  for (let i = chunk.indexOf(LF, first + 1); i >= 0; i = chunk.indexOf(LF, i + 1)) lines++;
  const last = chunk.lastIndexOf(LF);
  const head = sub.rest.length ? Buffer.concat([sub.rest, chunk.subarray(0, first)]) : chunk.subarray(0, first);
  delivered(sub, lines, head, last > first ? chunk.subarray(chunk.lastIndexOf(LF, last - 1) + 1, last) : undefined);
  sub.rest = chunk.subarray(last + 1);
  if (sub.rest.length) sub.rest = Buffer.from(sub.rest); // do not pin the whole chunk
}

/** `lines` complete lines arrived, of which `first` and `last` (if more than one) are sampled. */
function delivered(sub, lines, first, last) {
  const now = process.hrtime.bigint();
  // A late probe (sent before "go", only ever ahead of the data) is not a delivered message.
  lines -= sample(sub, first, now);
  if (last) lines -= sample(sub, last, now);
  if (start !== 0n) {
    deliveredLines += lines;
    lastDelivery = now;
  }
  pump();
}

/** The frames a logrelay/1 chunk completes; a malformed stream ends the run. */
function frames(parser, chunk) {
  try {
    return parser.push(chunk);
  } catch (err) {
    return fail(err);
  }
}

function fail(err) {
  process.stderr.write(`subscriber: ${err.message}\n`);
  process.exit(1);
}

function subscriber(socket) {
  const sub = { seen: 0, probed: false, rest: Buffer.alloc(0), socket };
  socket.on('data', (chunk) => onData(sub, chunk));
  socket.on('error', fail);
  subs.push(sub);
}

/**
 * Connects `n` subscribers, at most 50 handshakes at a time: a thousand at once would leave this one
 * process unable to finish any within a relay's handshake timeout on a loaded machine.
 */
function connectAll(n) {
  const creds = load(p.certs, 'client');
  let started = 0;
  const next = () => {
    if (started >= n) return;
    started++;
    // With `filter`, the last subscriber asks for it over logrelay/1.
    if (p.filter && started === n) return filteredSubscriber(creds, next);
    const socket = tls.connect({ ...creds, host: '127.0.0.1', port: p.tlsPort, servername: 'localhost' }, next);
    subscriber(socket);
  };
  for (let i = 0; i < Math.min(50, n); i++) next();
}

/**
 * A `logrelay/1` subscriber with `FROM live filter=…`: a MSG frame's messages are counted and
 * sampled like a plain subscriber's lines; SKIP frames move its progress past what it was not sent
 * (relay seqs map to message numbers by a constant offset: one UDP source, nothing lost, in order).
 */
function filteredSubscriber(creds, then) {
  const socket = tls.connect(
    { ...creds, host: '127.0.0.1', port: p.tlsPort, servername: 'localhost', ALPNProtocols: [PROTOCOL] },
    then,
  );
  const sub = { seen: 0, probed: false, socket };
  const parser = new FrameParser();
  let offset; // relay seq − message number
  socket.on('error', fail);
  socket.on('data', (chunk) => {
    lastData = Date.now();
    for (const frame of frames(parser, chunk)) {
      if (frame.type === 'hello') socket.write(requestLine({ from: 'live' }, { filter: p.filter }));
      else if (frame.type === 'msg') {
        const { messages } = frame;
        const before = sub.seen;
        delivered(sub, frame.count, messages[0], messages.length > 1 ? messages[messages.length - 1] : undefined);
        if (sub.seen > before) offset = frame.firstSeq + frame.count - 1 - sub.seen;
      } else if (frame.type === 'skip') {
        if (offset !== undefined) sub.seen = Math.max(sub.seen, frame.firstSeq + frame.count - 1 - offset);
        pump();
      } else fail(new Error(`unexpected ${frame.type} frame: ${JSON.stringify(frame)}`));
    }
  });
  subs.push(sub);
}

/** Probes until every subscriber is known to the relay (its handshake done on both sides). */
function startProbing() {
  const probe = setInterval(() => (probing ? send('probe', 1) : clearInterval(probe)), 20);
}

/** The catch-up case's live phase is over: the plain subscriber leaves; the history holds it all. */
function filled() {
  filling = false;
  const plain = subs.pop();
  plain.socket.destroy();
  ready({ filled: sent });
}

/**
 * A `logrelay/1` client resuming `count` messages behind the head: HELLO, `FROM <seq> log=<id>`,
 * then MSG frames until `count` messages have come.
 */
function resume() {
  const socket = tls.connect({
    ...load(p.certs, 'client'),
    host: '127.0.0.1',
    port: p.tlsPort,
    servername: 'localhost',
    ALPNProtocols: [PROTOCOL],
  });
  const parser = new FrameParser();
  socket.on('error', fail);
  socket.on('data', (chunk) => {
    for (const frame of frames(parser, chunk)) {
      if (frame.type === 'hello') {
        if (socket.alpnProtocol !== PROTOCOL) fail(new Error(`${PROTOCOL} was not negotiated`));
        socket.write(requestLine({ from: 'after', seq: frame.next - 1 - count, log: frame.log }));
      } else if (frame.type === 'msg') deliveredLines += frame.count;
      else fail(new Error(`unexpected ${frame.type} frame while catching up: ${JSON.stringify(frame)}`));
    }
    lastDelivery = process.hrtime.bigint();
    if (deliveredLines >= count) finish();
  });
  subs.push({ socket, seen: 0 });
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
  // A filtered subscriber (auth.* of alternating user.notice / auth.info) is sent half of them.
  const expected = p.catchup ? count : sent * (p.subs - (p.filter ? 0.5 : 0));
  result({
    sent,
    deliveredLines,
    seconds,
    deliveredPerSec: deliveredLines / seconds,
    lossPercent: (100 * (expected - deliveredLines)) / expected,
    p50us: percentile(latencies, 50),
    p99us: percentile(latencies, 99),
    cpuSeconds: cpuSecondsSince(cpuAtStart),
  });
  for (const s of subs) s.socket.destroy();
  udp.close();
  process.exit(0);
}

function go() {
  start = process.hrtime.bigint();
  cpuAtStart = process.cpuUsage();
  setTimeout(finish, p.seconds * 1000);
  if (p.catchup) return resume();
  let progress = { at: Date.now(), mark: -1 };
  setInterval(() => {
    const mark = minDelivered();
    if (mark !== progress.mark) progress = { at: Date.now(), mark };
    else if (Date.now() - progress.at > p.stallMs && (!p.rate || sent >= count)) {
      writtenOff = sent; // lost in the relay's UDP buffer or dropped from a queue: count it, move on
      if (p.rate) finish();
      else pump();
    }
  }, 20);
  if (p.rate) paced();
  else pump();
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  input += d;
  let nl;
  while ((nl = input.indexOf('\n')) >= 0) {
    const line = input.slice(0, nl).trim();
    input = input.slice(nl + 1);
    if (line.startsWith('target ')) {
      udpPort = Number(line.slice(7));
      startProbing();
    } else if (line === 'go' && start === 0n) go();
  }
});

if (p.listen) {
  const server = tls.createServer(
    { ...load(p.certs, 'server'), requestCert: true, rejectUnauthorized: true },
    (socket) => {
      if (subs.length >= p.subs) return socket.destroy(); // a forwarder's extra connection is not a subscriber
      subscriber(socket);
    },
  );
  server.listen(0, '127.0.0.1', () =>
    process.stdout.write(JSON.stringify({ listening: { tlsPort: server.address().port } }) + '\n'),
  );
} else {
  connectAll(p.catchup ? 1 : p.subs);
  startProbing();
}
