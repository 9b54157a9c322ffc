'use strict';
/**
 * relay: UDP in, fanned out to 1, 10 and 100 TLS subscribers (client-cert auth, LF framing, a
 * bounded queue each). The implementation is the relay process; driver.js is the load (see there).
 * Delivered msgs/s counts lines arriving at subscribers (messages × subscribers) per second;
 * relay CPU is its user+system time during the measured phase, peak RSS its VmHWM.
 * Relay CPU µs/msg (its CPU time per delivered line) is the steady figure: on this shared 2-core
 * machine wall-clock rates swing with the neighbours' load, CPU per message hardly does.
 * `CPU-bound msgs/s` = 1e6 / that: the rate the relay would sustain on a core of its own.
 * `relay busy` (its CPU seconds per wall second) near 1 says the relay, not the driver, bounded the run.
 * Our relay plugs in as workloads/relay/pollset.js (same parameters: certs, queue, rcvbuf).
 */
const path = require('path');
const { makeCerts } = require('../../lib/certs');

module.exports = {
  name: 'relay',
  title: 'syslog relay: UDP in, TLS subscribers out',
  metrics: [
    { key: 'deliveredPerSec', label: 'delivered msgs/s', digits: 0 },
    { key: 'p50us', label: 'p50 µs', digits: 0 },
    { key: 'p99us', label: 'p99 µs', digits: 0 },
    { key: 'cpuUsPerMsg', label: 'relay CPU µs/msg', digits: 2 },
    { key: 'cpuBoundPerSec', label: 'CPU-bound msgs/s', digits: 0 },
    { key: 'relayBusy', label: 'relay busy', digits: 2 },
    { key: 'peakRssMiB', label: 'relay peak RSS MiB', digits: 1 },
    { key: 'lossPercent', label: 'loss %', digits: 1 },
    { key: 'driverBusy', label: 'driver busy', digits: 2 },
  ],
  cases: (quick) =>
    [1, 10, 100].map((subs) => ({
      label: `${subs} sub${subs > 1 ? 's' : ''}`,
      // The same number of deliveries whatever the fan-out, so every case takes about as long (~1 s
      // quick). The window keeps ≥ 20,000 lines in flight (so the relay always has work queued) but
      // never more than 1,000 datagrams (the relay's 4 MiB receive buffer holds ~3,000 of them, its
      // queues 10,000): a run loses nothing.
      params: {
        subs,
        count: Math.round((quick ? 200000 : 1500000) / subs),
        window: Math.min(1000, Math.ceil(20000 / subs)),
        size: 300,
        seconds: quick ? 6 : 30,
        stallMs: 300,
      },
    })),
  implementations: [
    { name: 'node core', file: 'workloads/relay/node-core.js' },
    { name: 'pollset', file: 'workloads/relay/pollset.js' },
    // The relay's loop alone in a worker thread: less CPU per message, a second V8 isolate's RSS.
    { name: 'pollset blocking', file: 'workloads/relay/pollset.js', params: { mode: 'blocking' } },
  ],
  targets: [
    { a: 'pollset', b: 'node core', metric: 'deliveredPerSec', min: 2, when: (p) => p.subs === 100 },
    { a: 'pollset', b: 'node core', metric: 'cpuBoundPerSec', min: 2, when: (p) => p.subs === 100 },
    { a: 'pollset', b: 'node core', metric: 'peakRssMiB', max: 1, when: (p) => p.subs === 100 },
  ],
  async measure(ctx, impl, params) {
    const certs = makeCerts(path.join(ctx.workDir, 'certs'));
    const relay = ctx.start(impl.file, { certs, queue: 10000, rcvbuf: 4 << 20, ...impl.params });
    const ports = await relay.expect('ready');
    const driver = ctx.start('workloads/relay/driver.js', { ...params, ...ports, certs });
    await driver.expect('ready');
    const before = relay.usage();
    driver.proc.stdin.write('go\n');
    const r = await driver.expect('result');
    const after = relay.usage();
    relay.stop();
    await Promise.all([relay.expect('result'), driver.done(), relay.done()]);
    const relayCpuSeconds = after.cpuSeconds - before.cpuSeconds;
    return {
      deliveredPerSec: r.deliveredPerSec,
      p50us: r.p50us,
      p99us: r.p99us,
      cpuUsPerMsg: (relayCpuSeconds * 1e6) / r.deliveredLines,
      cpuBoundPerSec: r.deliveredLines / relayCpuSeconds,
      relayBusy: relayCpuSeconds / r.seconds,
      relayCpuSeconds,
      peakRssMiB: after.peakRssKiB / 1024,
      lossPercent: r.lossPercent,
      // A driver near 1 CPU s per wall second is what bounds the rate, not the relay.
      driverBusy: r.cpuSeconds / r.seconds,
      driverCpuSeconds: r.cpuSeconds,
      seconds: r.seconds,
      delivered: r.deliveredLines,
    };
  },
};
