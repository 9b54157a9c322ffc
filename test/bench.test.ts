/**
 * The benchmark harness's own machinery, on real child processes and the real C programs: pair
 * ratios, the "not available yet" rows of implementations still to come, the chart, the README
 * markers. No timing is asserted here; figures belong to `npm run bench`.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const stats = require('../bench/lib/stats');
const { runWorkload } = require('../bench/lib/schedule');
const { markdown } = require('../bench/lib/table');
const { svg } = require('../bench/lib/chart');
const { Progress, duration } = require('../bench/lib/progress');
const readme = require('../bench/lib/readme');
const { Child } = require('../bench/lib/child');
const { compile, libraries } = require('../bench/lib/cc');
const { makeCerts } = require('../bench/lib/certs');

const FIXTURE = '../test/fixtures/bench-impl.js'; // implementation files are relative to bench/

function fakeWorkload() {
  return {
    name: 'fake',
    title: 'fixture',
    metrics: [{ key: 'value', label: 'value', digits: 1 }],
    cases: () => [{ label: 'one', params: { value: 2 } }],
    implementations: [
      { name: 'a', file: FIXTURE, params: { value: 6 } },
      { name: 'b', file: FIXTURE },
      { name: 'later', file: 'workloads/fake/not-written-yet.js' },
      { name: 'refuses', file: FIXTURE, params: { unavailable: 1 } },
    ],
    targets: [
      { a: 'a', b: 'b', metric: 'value', min: 2 },
      { a: 'later', b: 'b', metric: 'value', min: 1 },
    ],
    async measure(ctx: any, impl: any, params: any) {
      const child = ctx.start(impl.file, params);
      const metrics = await child.expect('result');
      await child.done();
      return metrics;
    },
  };
}

describe('bench harness', () => {
  test('median, range and pair ratios', () => {
    expect(stats.median([5, 1, 3])).toBe(3);
    expect(stats.median([4, 1, 3, 2])).toBe(2.5);
    expect(stats.summary([3, NaN, 1, 2])).toEqual({ median: 2, min: 1, max: 3 });
    const r = stats.pairRatios([10, 20, 30], [5, 5, 10]);
    expect(r.ratios).toEqual([2, 4, 3]);
    expect(r.median).toBe(3);
    expect(stats.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
    expect(stats.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10);
  });

  test('each run is its own process; missing and refusing implementations become visible rows', async () => {
    const lines: string[] = [];
    const w = await runWorkload(fakeWorkload(), { quick: true, runs: 2, workDir: os.tmpdir() }, (l: string) =>
      lines.push(l),
    );
    const [c] = w.cases;
    expect(c.implementations.a.runs.map((r: any) => r.value)).toEqual([6, 6]);
    expect(c.implementations.b.runs.map((r: any) => r.value)).toEqual([2, 2]);
    const pids = [...c.implementations.a.runs, ...c.implementations.b.runs].map((r: any) => r.pid);
    expect(new Set(pids).size).toBe(4);
    // Alternation: run 1 goes a, b; run 2 goes b, a.
    const order = lines.filter((l) => / run \d/.test(l)).map((l) => / (a|b) run/.exec(l)?.[1]);
    expect(order).toEqual(['a', 'b', 'b', 'a']);
    expect(c.implementations.later.status).toBe('missing');
    expect(c.implementations.later.reason).toMatch(/^not available yet/);
    expect(c.implementations.refuses.status).toBe('unavailable');
    expect(c.ratios[0]).toMatchObject({ met: true, target: '≥ 2' });
    expect(c.ratios[0].ratio.median).toBe(3);
    expect(c.ratios[1]).toMatchObject({ ratio: null, met: null });

    const results = {
      command: 'test',
      runs: 2,
      finishedAt: new Date().toISOString(),
      durationSeconds: 1,
      machine: { cpuModel: 'x', cores: 2, kernel: 'k', node: 'v' },
      workloads: [w],
    };
    const table = markdown(results);
    expect(table).toContain('| one | a | 6.0 (6.0–6.0) |');
    expect(table).toContain('*not available yet (workloads/fake/not-written-yet.js)*');
    expect(table).toContain('| one | a / b | value | 3.00× (3.00–3.00) | ≥ 2 | yes |');
    const chart = svg(results);
    expect(chart.startsWith('<svg')).toBe(true);
    expect(chart.trim().endsWith('</svg>')).toBe(true);
    expect(chart).toContain('3.00× (target ≥ 2)');
    expect(chart).toContain('not measured');
    // 2 runs × 3 implementations whose file exists are planned; each line says which it is. The refusing
    // implementation's second run is not made but counted (run 4), so the count still ends at 6 of 6.
    const counted = lines.map((l) => /^\[run (\d) of 6, \d+s elapsed, about \d+s left\] /.exec(l)?.[1]).filter(Boolean);
    expect(counted).toEqual(['1', '2', '3', '5', '6']);
  });

  test('implementations limited to some cases, targets against a fixed limit, and across-case minimums', async () => {
    const w = {
      ...fakeWorkload(),
      cases: () => [
        { label: 'small', params: { value: 2 } },
        { label: 'big', params: { value: 8 } },
      ],
      implementations: [
        { name: 'a', file: FIXTURE },
        { name: 'only big', file: FIXTURE, when: (p: any) => p.value > 4 },
      ],
      targets: [{ a: 'a', per: 4, metric: 'value', max: 1 }],
      acrossCases: [{ impl: 'a', a: 'big', b: 'small', metric: 'value', min: 3 }],
    };
    const r = await runWorkload(w, { quick: true, runs: 1, workDir: os.tmpdir() }, () => {});
    const [small, big] = r.cases;
    expect(Object.keys(small.implementations)).toEqual(['a']);
    expect(Object.keys(big.implementations)).toEqual(['a', 'only big']);
    expect(small.ratios[0]).toMatchObject({ label: 'a / 4', target: '≤ 1', met: true });
    expect(small.ratios[0].ratio.median).toBe(0.5);
    expect(big.ratios[0]).toMatchObject({ met: false });
    expect(big.ratios[0].ratio.median).toBe(2);
    expect(r.across[0]).toMatchObject({ target: '≥ 3', met: true });
    expect(r.across[0].ratio.median).toBe(4);
  });

  test('npm run bench writes into the checkout only when asked (--write)', () => {
    const { parseArgs } = require('../bench/run');
    expect(parseArgs([]).write).toBe(false);
    expect(parseArgs(['--quick']).write).toBe(false);
    expect(parseArgs(['--write']).write).toBe(true);
    expect(parseArgs(['--no-write']).write).toBe(false);
    expect(() => parseArgs(['--wirte'])).toThrow(/unknown option --wirte/);
  });

  test('progress: run k of N, time elapsed and an estimate of what is left', () => {
    let now = 0;
    const p = new Progress(4, () => now);
    expect(p.status()).toBe('run 0 of 4, 0s elapsed');
    now = 30000;
    expect(p.step()).toBe('run 1 of 4, 30s elapsed, about 1m30s left');
    now = 3700000;
    expect(p.step()).toBe('run 2 of 4, 1h01m elapsed, about 1h01m left');
    expect(duration(59.6)).toBe('1m00s');
  });

  test('the chart: bars diverge from 1×, lower-is-better ratios drawn inverted, wide ratios on a scale of their own, baselines as references', () => {
    const ratio = (median: number) => ({ ratios: [median], median, min: median * 0.9, max: median * 1.1 });
    const results = {
      finishedAt: '2026-01-01T00:00:00Z',
      runs: 1,
      workloads: [
        {
          name: 'wide',
          title: 'big ratios',
          metrics: [{ key: 'eventsPerSec', label: 'events/s' }],
          cases: [
            {
              label: 'N=10',
              ratios: [
                { label: 'pollset x / other', metric: 'eventsPerSec', target: '≥ 10', ratio: ratio(300), met: true },
              ],
            },
          ],
          across: [
            { label: 'pollset x: N=10 / N=1', metric: 'eventsPerSec', target: '≤ 1.25', ratio: ratio(1.2), met: true },
          ],
        },
        {
          name: 'small',
          title: 'small ratios',
          metrics: [
            { key: 'rss', label: 'peak RSS MiB' },
            { key: 'rate', label: 'msgs/s' },
          ],
          cases: [
            {
              label: '100 subs',
              ratios: [
                { label: 'pollset / node core', metric: 'rss', target: '≤ 1', ratio: ratio(0.5), met: true },
                { label: 'pollset / node core', metric: 'rate', target: '≥ 2', ratio: ratio(0.8), met: false },
                { label: 'C / node', metric: 'rate', target: '≥ 1', ratio: ratio(4), met: true },
              ],
            },
          ],
        },
      ],
    };
    const chart: string = svg(results);
    const panels = [
      ...chart.matchAll(/<g class="panel" data-workload="(\w+)" data-scale="(\w+)">([\s\S]*?)<\/g>/g),
    ].map((m) => ({ name: m[1], scale: m[2], body: m[3] }));
    expect(panels.map((p) => `${p.name}:${p.scale}`)).toEqual(['wide:own', 'wide:shared', 'small:shared']);
    const bars = (body: string) =>
      [
        ...body.matchAll(
          /<rect class="bar" data-kind="(\w+)" data-value="([\d.e+-]+)" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g,
        ),
      ].map((m) => ({ kind: m[1], value: Number(m[2]), x: Number(m[3]), width: Number(m[4]) }));
    const small = bars(panels[2].body);
    // Memory at 0.5× (lower is better) is drawn as 2× better, to the right of 1×; the rate at 0.8× to the left, missed.
    expect(small.map((b) => b.kind)).toEqual(['met', 'missed', 'reference']);
    expect(small[0].value).toBeCloseTo(2);
    expect(small[1].value).toBeCloseTo(0.8);
    const one = small[1].x + small[1].width; // the 0.8× bar ends at 1×
    expect(small[0].x).toBeCloseTo(one);
    expect(small[2].x).toBeCloseTo(one);
    // Equal distances on the log scale: 2× right of 1× as far as 0.5× would be left of it.
    expect(small[0].width).toBeCloseTo((small[1].width * Math.log(2)) / Math.log(1.25));
    expect(panels[2].body).toContain('peak RSS MiB (lower is better)');
    expect(panels[2].body).toContain('>missed<');
    expect(panels[2].body).toContain('>reference<');
    expect(bars(panels[0].body)[0].value).toBe(300);
    expect(bars(panels[1].body)[0].value).toBeCloseTo(1 / 1.2);
    expect(chart).toContain('whisker: min–max');
    expect(chart).not.toMatch(/eventsPerSec|cpuBoundPerSec/);
  });

  test('the rsyslog peer row says "unavailable" when rsyslogd is absent', async () => {
    const env = { ...process.env, BENCH_RSYSLOGD: path.join(os.tmpdir(), 'no-such-rsyslogd') };
    const file = path.join(__dirname, '..', 'bench', 'workloads', 'relay', 'rsyslog.js');
    const child = new Child(
      [process.execPath, file],
      { subs: 1, tlsPort: 1, certs: os.tmpdir(), rcvbuf: 1 << 20 },
      20000,
      env,
    );
    await expect(child.expect('ready')).rejects.toMatchObject({
      unavailable: true,
      message: expect.stringMatching(/rsyslogd is not installed/),
    });
    expect(await child.done()).toEqual({ code: 0, signal: null });
  });

  test('the README section between the markers is replaced, the rest kept', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-')), 'README.md');
    fs.writeFileSync(file, 'head\n<!-- bench:start -->\nold\n<!-- bench:end -->\ntail\n');
    readme.update(file, 'new table');
    expect(fs.readFileSync(file, 'utf8')).toBe('head\n<!-- bench:start -->\nnew table\n<!-- bench:end -->\ntail\n');
    fs.writeFileSync(file, 'no markers\n');
    expect(() => readme.update(file, 'x')).toThrow(/bench:start/);
  });

  test('the C sender and receiver compile and count every datagram of a small loopback burst', async () => {
    const recv = new Child(
      [compile(path.join(__dirname, '..', 'bench', 'c', 'udp_recv.c'))],
      { rcvbuf: 1 << 20 },
      20000,
    );
    const { port } = await recv.expect('ready');
    const send = new Child(
      [compile(path.join(__dirname, '..', 'bench', 'c', 'udp_send.c'))],
      { port, size: 256, count: 500, seconds: 5 },
      20000,
    );
    expect(await send.expect('result')).toMatchObject({ sent: 500 });
    // Loopback delivery is synchronous with the send: by now all 500 sit in the receiver's buffer.
    recv.stop();
    expect(await recv.expect('result')).toMatchObject({ received: 500, bytes: 500 * 256 });
    expect(await recv.done()).toEqual({ code: 0, signal: null });
    expect(await send.done()).toEqual({ code: 0, signal: null });
  });
  test('a C source asks for its libraries in a bench-cc line, -l options only', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cc-'));
    const good = path.join(dir, 'good.c');
    fs.writeFileSync(
      good,
      '// bench-cc: -lm\n#include <math.h>\nint main(int c, char **v) { (void)v; return (int)sqrt(c); }\n',
    );
    expect(libraries(good)).toEqual(['-lm']);
    expect(fs.existsSync(compile(good, { quiet: true }))).toBe(true);
    const bad = path.join(dir, 'bad.c');
    fs.writeFileSync(bad, '// bench-cc: -lm -O0\nint main(void) { return 0; }\n');
    expect(() => compile(bad, { quiet: true })).toThrow(/-lNAME options only, not "-O0"/);
    const broken = path.join(dir, 'broken.c');
    fs.writeFileSync(broken, 'int main(void) { return undeclared; }\n');
    expect(() => compile(broken, { quiet: true })).toThrow(/broken\.c failed:[\s\S]*undeclared/);
  });

  /** The relay implementation `impl` and a load generator `driver` against it, for `params`; the driver's result. */
  async function relayRun(driver: string[], params: object, relayParams = {}, impl = 'pollset.js') {
    const certs = makeCerts(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-relay-')), 'certs'));
    const relayFile = path.join(__dirname, '..', 'bench', 'workloads', 'relay', impl);
    const relay = new Child(
      [process.execPath, relayFile],
      { certs, queue: 10000, rcvbuf: 1 << 20, size: 300, ...relayParams },
      25000,
    );
    const load = new Child(
      driver,
      { ...params, ...(await relay.expect('ready')), certs, size: 300, seconds: 20 },
      25000,
    );
    try {
      await load.expect('ready');
      load.proc.stdin.write('go\n');
      const result = await load.expect('result');
      expect(await load.done()).toEqual({ code: 0, signal: null });
      relay.stop();
      await relay.expect('result');
      expect(await relay.done()).toEqual({ code: 0, signal: null });
      return result;
    } finally {
      load.kill();
      relay.kill();
    }
  }

  test('the C relay driver compiles and counts every line the real relay sends: two subscribers, plain and filtered, and catch-up', async () => {
    const driver = compile(path.join(__dirname, '..', 'bench', 'c', 'relay_driver.c'));
    const r = await relayRun([driver], { subs: 2, count: 200, window: 100, stallMs: 2000 });
    expect(r).toMatchObject({ sent: 200, deliveredLines: 400, lossPercent: 0, writtenOff: 0 });
    expect(r.p99us).toBeGreaterThan(0);
    expect(r.cpuSeconds).toBeGreaterThan(0);
    // The last subscriber asks over logrelay/1 for auth.* of alternating user.notice / auth.info: half of them.
    const f = await relayRun([driver], { subs: 2, pri: 1, filter: 'auth.*', count: 200, window: 100, stallMs: 2000 });
    expect(f).toMatchObject({ sent: 200, deliveredLines: 300, lossPercent: 0, writtenOff: 0 });
    // Catch-up: 500 messages live to one subscriber, then a logrelay/1 client resumes all 500 from the history.
    const c = await relayRun([driver], { subs: 1, catchup: 500, window: 100, stallMs: 2000 }, { history: 500 });
    expect(c).toMatchObject({ sent: 500, deliveredLines: 500, lossPercent: 0 });
  });

  test('where the C relay driver does not compile, every relay case falls back to driver.js and says why; BENCH_RELAY_DRIVER=c makes it an error', () => {
    const pick = (env: object) =>
      spawnSync(
        process.execPath,
        ['-e', "process.stdout.write(require('./bench/workloads/relay/load').driverFile())"],
        {
          cwd: path.join(__dirname, '..'),
          env: { ...process.env, CC: 'false', ...env },
          encoding: 'utf8',
        },
      );
    const fallback = pick({});
    expect(fallback.status).toBe(0);
    expect(fallback.stdout).toBe('workloads/relay/driver.js');
    expect(fallback.stderr).toMatch(/bench\/c\/relay_driver\.c\) did not compile[\s\S]*libssl-dev[\s\S]*false -O2/);
    const strict = pick({ BENCH_RELAY_DRIVER: 'c' });
    expect(strict.status).not.toBe(0);
    expect(strict.stderr).toMatch(/false -O2 .*relay_driver\.c -lssl -lcrypto failed/);
    expect(pick({ BENCH_RELAY_DRIVER: 'js' }).stdout).toBe('workloads/relay/driver.js');
  });

  test('driver.js: logrelay/1 parsed by FrameParser — a filtered subscriber gets half the alternating messages, catch-up all', async () => {
    const driver = [process.execPath, path.join(__dirname, '..', 'bench', 'workloads', 'relay', 'driver.js')];
    const r = await relayRun(driver, { subs: 2, pri: 1, filter: 'auth.*', count: 200, window: 100, stallMs: 2000 });
    expect(r).toMatchObject({ sent: 200, deliveredLines: 300, lossPercent: 0 });
    const c = await relayRun(driver, { subs: 1, catchup: 500, window: 100, stallMs: 2000 }, { history: 500 });
    expect(c).toMatchObject({ sent: 500, deliveredLines: 500, lossPercent: 0 });
  });
});
