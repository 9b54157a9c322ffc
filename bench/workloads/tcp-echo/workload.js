'use strict';
/**
 * tcp-echo: 100 connections doing 64-byte ping-pong against an echo server (the implementation),
 * driven by bench/c/tcp_pingpong.c. Round trips/s and latency percentiles are the client's view.
 * pollset-blocking.js is a bare Pollset wait loop on raw tcp fds; pollset-streams.js the scheduler
 * (integrated mode) with one FdStream task per connection.
 */
module.exports = {
  name: 'tcp-echo',
  title: '64-byte ping-pong over 100 TCP connections',
  metrics: [
    { key: 'roundTripsPerSec', label: 'round trips/s', digits: 0 },
    { key: 'p50us', label: 'p50 µs', digits: 0 },
    { key: 'p99us', label: 'p99 µs', digits: 0 },
    { key: 'serverCpuSeconds', label: 'server CPU s', digits: 2 },
    // Less sensitive to the shared machine's load than round trips/s: what one round trip costs the server.
    { key: 'serverCpuUsPerRoundTrip', label: 'server CPU µs/round trip', digits: 2 },
  ],
  cases: (quick) => [{ label: '100 conns', params: { conns: 100, size: 64, seconds: quick ? 1 : 4, count: 5000000 } }],
  implementations: [
    { name: 'node net', file: 'workloads/tcp-echo/node-net.js' },
    { name: 'pollset blocking', file: 'workloads/tcp-echo/pollset-blocking.js' },
    { name: 'pollset streams', file: 'workloads/tcp-echo/pollset-streams.js' },
  ],
  targets: [
    { a: 'pollset blocking', b: 'node net', metric: 'roundTripsPerSec', min: 1.2 },
    { a: 'pollset streams', b: 'node net', metric: 'roundTripsPerSec', min: 1.2 },
  ],
  async measure(ctx, impl, params) {
    const server = ctx.start(impl.file, {});
    const { port } = await server.expect('ready');
    const before = server.usage();
    const client = ctx.start('c/tcp_pingpong.c', { port, ...params });
    const r = await client.expect('result');
    const after = server.usage();
    server.stop();
    await Promise.all([client.done(), server.done()]);
    return {
      roundTripsPerSec: r.roundTrips / r.seconds,
      p50us: r.p50us,
      p99us: r.p99us,
      serverCpuSeconds: after.cpuSeconds - before.cpuSeconds,
      serverCpuUsPerRoundTrip: ((after.cpuSeconds - before.cpuSeconds) * 1e6) / r.roundTrips,
    };
  },
};
