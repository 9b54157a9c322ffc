'use strict';
/**
 * relay: UDP in, fanned out to 1, 10 and 100 TLS subscribers (client-cert auth, LF framing, a
 * bounded queue each). The implementation is the relay process; driver.js is the load (see there).
 * Delivered msgs/s counts lines arriving at subscribers (messages × subscribers) per second;
 * relay CPU is its user+system time during the measured phase, peak RSS its VmHWM.
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
    { key: 'relayCpuSeconds', label: 'relay CPU s', digits: 2 },
    { key: 'peakRssMiB', label: 'relay peak RSS MiB', digits: 1 },
    { key: 'lossPercent', label: 'loss %', digits: 1 },
    { key: 'driverCpuSeconds', label: 'driver CPU s', digits: 2 },
  ],
  cases: (quick) =>
    [1, 10, 100].map((subs) => ({
      label: `${subs} sub${subs > 1 ? 's' : ''}`,
      // The same number of deliveries whatever the fan-out, so every case takes about as long.
      params: { subs, count: Math.round((quick ? 40000 : 300000) / subs), window: 200, size: 300, seconds: quick ? 6 : 30, stallMs: 300 },
    })),
  implementations: [
    { name: 'node core', file: 'workloads/relay/node-core.js' },
    { name: 'pollset', file: 'workloads/relay/pollset.js' },
  ],
  targets: [
    { a: 'pollset', b: 'node core', metric: 'deliveredPerSec', min: 2, when: (p) => p.subs === 100 },
    { a: 'pollset', b: 'node core', metric: 'peakRssMiB', max: 1, when: (p) => p.subs === 100 },
  ],
  async measure(ctx, impl, params) {
    const certs = makeCerts(path.join(ctx.workDir, 'certs'));
    const relay = ctx.start(impl.file, { certs, queue: 10000, rcvbuf: 4 << 20 });
    const ports = await relay.expect('ready');
    const driver = ctx.start('workloads/relay/driver.js', { ...params, ...ports, certs });
    await driver.expect('ready');
    const before = relay.usage();
    driver.proc.stdin.write('go\n');
    const r = await driver.expect('result');
    const after = relay.usage();
    relay.stop();
    await Promise.all([relay.expect('result'), driver.done(), relay.done()]);
    return {
      deliveredPerSec: r.deliveredPerSec,
      p50us: r.p50us,
      p99us: r.p99us,
      relayCpuSeconds: after.cpuSeconds - before.cpuSeconds,
      peakRssMiB: after.peakRssKiB / 1024,
      lossPercent: r.lossPercent,
      // A driver near 1 CPU s per wall second is what bounds the rate, not the relay.
      driverCpuSeconds: r.cpuSeconds,
      seconds: r.seconds,
      delivered: r.deliveredLines,
    };
  },
};
