'use strict';
/**
 * dispatch: how many ready-fd events per second reach a JS handler, with N fds registered and
 * 1,000 of them ready (all of them for N = 10 and 100). Level-triggered and never drained, so
 * every wait reports the same ready set: this isolates the readiness → JS path.
 */
const GRID = [10, 100, 1000, 10000];

module.exports = {
  name: 'dispatch',
  title: 'Ready-fd events dispatched to a JS handler',
  metrics: [
    { key: 'eventsPerSec', label: 'events/s', digits: 0 },
    { key: 'nsPerEvent', label: 'ns/event', digits: 0 },
    { key: 'iterNsPerEvent', label: 'of which events() + handler, ns', digits: 0 },
  ],
  cases: (quick) =>
    GRID.map((n) => ({
      label: `N=${n}`,
      params: { n, ready: Math.min(n, 1000), seconds: quick ? 0.2 : 1, warmup: quick ? 0.05 : 0.3 },
    })),
  implementations: [
    { name: 'pollset epoll', file: 'workloads/dispatch/pollset.js', params: { backend: 'epoll', mode: 'wait' } },
    { name: 'pollset poll', file: 'workloads/dispatch/pollset.js', params: { backend: 'poll', mode: 'wait' } },
    { name: 'pollset epoll watch', file: 'workloads/dispatch/pollset.js', params: { backend: 'epoll', mode: 'watch' } },
    { name: 'npm epoll', file: 'workloads/dispatch/npm-epoll.js' },
  ],
  targets: [
    { a: 'pollset epoll', b: 'npm epoll', metric: 'eventsPerSec', min: 10 },
    { a: 'pollset epoll watch', b: 'npm epoll', metric: 'eventsPerSec', min: 10 },
  ],
  // "Cost per event flat across N": registering 10x more idle fds may not make an event dearer.
  acrossCases: [{ impl: 'pollset epoll', metric: 'nsPerEvent', a: 'N=10000', b: 'N=1000', max: 1.25 }],
  async measure(ctx, impl, params) {
    const child = ctx.start(impl.file, params);
    const metrics = await child.expect('result');
    await child.done();
    return metrics;
  },
};
