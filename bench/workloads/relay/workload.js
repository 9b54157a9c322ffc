/**
 * relay: UDP in, fanned out to TLS subscribers (client-cert auth, LF framing). The implementation
 * is the relay process; the load is c/relay_driver.c or driver.js (see load.js). Delivered msgs/s counts lines arriving at
 * subscribers (messages × subscribers) per second; relay CPU is its user+system time during the
 * measured phase, peak RSS its VmHWM.
 * Relay CPU µs/msg (its CPU time per delivered line) is the steady figure: on this shared 2-core
 * machine wall-clock rates swing with the neighbours' load, CPU per message hardly does.
 * `CPU-bound msgs/s` = 1e6 / that: the rate the relay would sustain on a core of its own (for the
 * rsyslog row: its delivered messages per CPU-second).
 * `relay busy` (its CPU seconds per wall second) near 1 says the relay, not the driver, bounded the run.
 * Cases: 1, 100 and 1,000 subscribers (closed loop); two subscribers, both plain, beside two of
 * which one is a `logrelay/1` client with a filter (`auth.*`, which selects half the messages: they
 * alternate user.notice and auth.info) — what a filtered subscriber costs, and that the unfiltered
 * one beside it is not slowed (`relay CPU µs/datagram` compares the relay's work per message in);
 * catch-up (one `logrelay/1` client resuming
 * 1,000,000 messages behind, our relay only); 10,000 msgs/s to 100 subscribers (open loop, latency).
 * Lag limits are the same for both relays: 10,000 messages, drop-oldest (the Node-core relay's
 * queue; ours also gets a byte limit that never binds first). Our relay keeps its default history
 * (100,000 messages / 32 MiB): `history MiB` is what it held at the end (framed bytes + 40 bytes of
 * records a message), part of its peak RSS; `RSS − history` is the rest.
 */
const path = require('path');
const { makeCerts } = require('../../lib/certs');
const { usage } = require('../../lib/child');
const { driverFile } = require('./load');

const CATCHUP = 1000000;
const closedLoop = (p) => !p.rate && !p.catchup;

module.exports = {
  name: 'relay',
  title: 'syslog relay: UDP in, TLS subscribers out',
  metrics: [
    { key: 'deliveredPerSec', label: 'delivered msgs/s', digits: 0 },
    { key: 'p50us', label: 'p50 µs', digits: 0 },
    { key: 'p99us', label: 'p99 µs', digits: 0 },
    { key: 'cpuUsPerMsg', label: 'relay CPU µs/msg', digits: 2 },
    { key: 'cpuBoundPerSec', label: 'CPU-bound msgs/s', digits: 0 },
    { key: 'cpuUsPerIn', label: 'relay CPU µs/datagram', digits: 2 },
    { key: 'relayBusy', label: 'relay busy', digits: 2 },
    { key: 'peakRssMiB', label: 'relay peak RSS MiB', digits: 1 },
    { key: 'historyMiB', label: 'history MiB', digits: 1 },
    { key: 'rssLessHistoryMiB', label: 'RSS − history MiB', digits: 1 },
    { key: 'lossPercent', label: 'loss %', digits: 1 },
    { key: 'driverBusy', label: 'driver busy', digits: 2 },
  ],
  cases: (quick) => [
    ...[1, 100, 1000].map((subs) => ({
      label: `${subs} sub${subs > 1 ? 's' : ''}`,
      // The same number of deliveries whatever the fan-out, so every case takes about as long (~1 s
      // quick). The window keeps ≥ 20,000 lines in flight (so the relay always has work queued) but
      // never more than 1,000 datagrams (the relay's 4 MiB receive buffer holds ~3,000 of them, its
      // lag limit 10,000): a run loses nothing.
      // At 1,000 subscribers, 200 messages in flight as at 100 (not 20): the same lines per subscriber
      // per write, so that CPU per message compares the fan-out, not the write size; 1M lines quick.
      params: {
        subs,
        count: subs === 1000 ? (quick ? 1000 : 3000) : Math.round((quick ? 200000 : 1500000) / subs),
        window: subs === 1000 ? 200 : Math.min(1000, Math.ceil(20000 / subs)),
        size: 300,
        seconds: quick ? 20 : 60,
        stallMs: 300,
      },
    })),
    // Filtering: the same datagrams (PRI user.notice / auth.info alternating) to two plain
    // subscribers, and to one plain and one asking for `auth.*`.
    ...[undefined, 'auth.*'].map((filter) => ({
      label: filter ? '2 subs, 1 filtered' : '2 subs',
      params: {
        subs: 2,
        pri: 1,
        ...(filter ? { filter } : {}),
        count: quick ? 100000 : 750000,
        window: 1000,
        size: 300,
        seconds: quick ? 20 : 60,
        stallMs: 300,
      },
    })),
    {
      // One subscriber takes 1M messages live (the history, sized for them, fills), leaves, and
      // resumes from where it was: its delivered rate is the catch-up rate.
      label: 'catch-up 1M',
      params: { subs: 1, catchup: CATCHUP, history: CATCHUP, window: 1000, size: 300, seconds: 60, stallMs: 300 },
    },
    // Open loop: 10,000 msgs/s in is 1,000,000 lines/s out to 100 subscribers (the target's case);
    // 1,000 msgs/s shows the latency at a load this machine can carry.
    ...[10000, 1000].map((rate) => ({
      label: `${rate / 1000}k msgs/s, 100 subs`,
      params: { subs: 100, rate, count: rate * (quick ? 3 : 10), size: 300, seconds: quick ? 20 : 40, stallMs: 300 },
    })),
  ],
  implementations: [
    { name: 'node core', file: 'workloads/relay/node-core.js', when: (p) => !p.catchup && !p.pri },
    { name: 'pollset', file: 'workloads/relay/pollset.js' },
    // The relay's loop alone in a worker thread: a second V8 isolate's RSS (compared at 100 subscribers only).
    {
      name: 'pollset blocking',
      file: 'workloads/relay/pollset.js',
      params: { mode: 'blocking' },
      when: (p) => closedLoop(p) && p.subs === 100,
    },
    {
      name: 'rsyslog',
      file: 'workloads/relay/rsyslog.js',
      params: { peer: 'rsyslog' },
      when: (p) => closedLoop(p) && p.subs === 100,
    },
  ],
  targets: [
    { a: 'pollset', b: 'node core', metric: 'cpuBoundPerSec', min: 1.5, when: (p) => closedLoop(p) && p.subs === 1 },
    { a: 'pollset', b: 'node core', metric: 'peakRssMiB', max: 1, when: (p) => closedLoop(p) && p.subs === 1 },
    { a: 'pollset', b: 'node core', metric: 'cpuBoundPerSec', min: 2, when: (p) => closedLoop(p) && p.subs === 100 },
    { a: 'pollset', b: 'node core', metric: 'deliveredPerSec', min: 1.5, when: (p) => closedLoop(p) && p.subs === 100 },
    { a: 'pollset', b: 'node core', metric: 'peakRssMiB', max: 1, when: (p) => closedLoop(p) && p.subs === 100 },
    { a: 'pollset', b: 'rsyslog', metric: 'cpuBoundPerSec', min: 1, when: (p) => closedLoop(p) && p.subs === 100 },
    { a: 'pollset', per: 2000, metric: 'p99us', max: 1, when: (p) => p.rate === 10000 },
  ],
  acrossCases: [
    { impl: 'pollset', a: '1000 subs', b: '100 subs', metric: 'cpuUsPerMsg', max: 1.2 },
    { impl: 'pollset', a: 'catch-up 1M', b: '1 sub', metric: 'deliveredPerSec', min: 2 },
  ],
  async measure(ctx, impl, params) {
    // Relay and driver each hold one descriptor per subscriber (and the relay's children inherit our limit).
    const nofile = Number(/Max open files\s+(\d+)/.exec(require('fs').readFileSync('/proc/self/limits', 'utf8'))?.[1]);
    if (nofile < params.subs + 100)
      throw new Error(`${params.subs} subscribers need ulimit -n ≥ ${params.subs + 100} (it is ${nofile})`);
    const certs = makeCerts(path.join(ctx.workDir, 'certs'));
    const relayParams = { certs, queue: 10000, rcvbuf: 4 << 20, size: params.size, ...impl.params };
    if (params.history) relayParams.history = params.history;
    let relay;
    let driver;
    let ports;
    if (impl.params?.peer === 'rsyslog') {
      // The forwarder connects to the receivers: they listen first, then it starts with their port.
      driver = ctx.start(driverFile(), { ...params, certs, listen: 1 });
      const { tlsPort } = await driver.expect('listening');
      relay = ctx.start(impl.file, { ...relayParams, subs: params.subs, tlsPort });
      ports = await relay.expect('ready');
      driver.proc.stdin.write(`target ${ports.udpPort}\n`);
    } else {
      relay = ctx.start(impl.file, relayParams);
      ports = await relay.expect('ready');
      driver = ctx.start(driverFile(), { ...params, ...ports, certs });
    }
    const pid = ports.pid ?? relay.pid; // rsyslog's wrapper names the daemon it runs
    try {
      await driver.expect('ready');
      const before = usage(pid);
      driver.proc.stdin.write('go\n');
      const r = await driver.expect('result');
      const after = usage(pid);
      relay.stop();
      const [done] = await Promise.all([relay.expect('result'), driver.done(), relay.done()]);
      const relayCpuSeconds = after.cpuSeconds - before.cpuSeconds;
      const peakRssMiB = after.peakRssKiB / 1024;
      return {
        deliveredPerSec: r.deliveredPerSec,
        p50us: r.p50us,
        p99us: r.p99us,
        cpuUsPerMsg: (relayCpuSeconds * 1e6) / r.deliveredLines,
        cpuBoundPerSec: r.deliveredLines / relayCpuSeconds,
        cpuUsPerIn: (relayCpuSeconds * 1e6) / r.sent,
        relayBusy: relayCpuSeconds / r.seconds,
        relayCpuSeconds,
        peakRssMiB,
        historyMiB: done.historyMiB,
        rssLessHistoryMiB: done.historyMiB === undefined ? undefined : peakRssMiB - done.historyMiB,
        lossPercent: r.lossPercent,
        // A driver near 1 CPU s per wall second is what bounds the rate, not the relay.
        driverBusy: r.cpuSeconds / r.seconds,
        driverCpuSeconds: r.cpuSeconds,
        seconds: r.seconds,
        delivered: r.deliveredLines,
      };
    } finally {
      // A daemon an implementation started is not a child the harness can kill.
      if (ports.pid) {
        try {
          process.kill(ports.pid, 'SIGKILL');
        } catch {
          // already gone, as it should be
        }
      }
    }
  },
};
