#!/usr/bin/env node
'use strict';
/**
 * One relay run by hand, outside the harness, for profiling: starts a relay implementation and the
 * relay workload's load generator (the one workloads/relay/load.js picks) with the same parameters
 * as `workloads/relay/workload.js`, and prints one JSON line: relay CPU µs per delivered line, relay/driver busy, delivered lines/s, latency, loss,
 * peak RSS (and history MiB for ours).
 *
 *   node bench/relay-one.js [impl=pollset|node-core] [subs=100] [count=2000] [window=200] [rate=R]
 *                           [mode=blocking] [perf=FILE] [syscalls=1] [nodeflags="--perf-basic-prof"]
 *
 * `perf=FILE` records the relay with `perf record -F 999 -g` during the measured phase only
 * (`perf report -i FILE`); `syscalls=1` counts its system calls then (`perf stat`), per delivered
 * line, in all and for recvmmsg, epoll_ctl, epoll_wait, epoll_pwait and write. Both need `perf`.
 * Linux only (CPU and RSS come from /proc). `npm run build:ts` first.
 */
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { makeCerts } = require('./lib/certs');
const { usage } = require('./lib/child');
const { commandFor } = require('./lib/schedule');
const { driverFile } = require('./workloads/relay/load');

const SYSCALLS = ['recvmmsg', 'epoll_ctl', 'epoll_wait', 'epoll_pwait', 'write'];
const a = Object.fromEntries(
  process.argv.slice(2).map((x) => [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1)]),
);
const impl = a.impl || 'pollset';
const subs = Number(a.subs || 100);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-one-'));
const certs = makeCerts(path.join(work, 'certs'));
const children = [];

function start(args, name, program = process.execPath) {
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  let buf = '';
  const waiters = [];
  child.stdout.on('data', (d) => {
    buf += d;
    for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) {
      const line = buf.slice(0, i);
      if (line.startsWith('{')) waiters.forEach((w) => w(JSON.parse(line)));
    }
  });
  child.expect = (key) =>
    new Promise((resolve, reject) => {
      waiters.push((m) => key in m && resolve(m[key]));
      child.on('exit', (code) => reject(new Error(`${name} exited (${code}) before "${key}"`)));
    });
  return child;
}

function waitExit(child) {
  return new Promise((resolve) => (child.exitCode !== null ? resolve() : child.on('exit', resolve)));
}

async function main() {
  const relayArgs = [
    ...(a.nodeflags ? a.nodeflags.split(' ') : []),
    path.join(__dirname, 'workloads/relay', `${impl}.js`),
    `certs=${certs}`,
    'queue=10000',
    `rcvbuf=${4 << 20}`,
    'size=300',
    ...(a.mode ? [`mode=${a.mode}`] : []),
  ];
  const relay = start(relayArgs, impl);
  const ports = await relay.expect('ready');
  const params = { subs, size: 300, seconds: 60, stallMs: 300, certs, ...ports };
  if (a.rate) Object.assign(params, { rate: Number(a.rate), count: Number(a.count || Number(a.rate) * 3) });
  else
    Object.assign(params, {
      count: Number(a.count || 2000),
      window: Number(a.window || Math.min(1000, Math.ceil(20000 / subs))),
    });
  const [program, ...args] = commandFor(driverFile());
  const driver = start([...args, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)], 'driver', program);
  await driver.expect('ready');
  let perf;
  const statFile = path.join(work, 'perf-stat.csv');
  if (a.perf)
    perf = spawn('perf', ['record', '-F', '999', '-g', '-o', a.perf, '-p', String(relay.pid)], { stdio: 'ignore' });
  else if (a.syscalls) {
    const events = ['raw_syscalls:sys_enter', ...SYSCALLS.map((s) => `syscalls:sys_enter_${s}`)].join(',');
    perf = spawn('perf', ['stat', '-e', events, '-x', ',', '-o', statFile, '-p', String(relay.pid)], {
      stdio: 'ignore',
    });
  }
  if (perf) await new Promise((resolve) => setTimeout(resolve, 500)); // perf attaches
  const before = usage(relay.pid);
  driver.stdin.write('go\n');
  const r = await driver.expect('result');
  const after = usage(relay.pid);
  if (perf) {
    perf.kill('SIGINT');
    await waitExit(perf);
  }
  const relayResult = relay.expect('result');
  relay.stdin.end();
  const done = await relayResult;
  const cpu = after.cpuSeconds - before.cpuSeconds;
  const out = {
    impl,
    subs,
    cpuUsPerMsg: +((cpu * 1e6) / r.deliveredLines).toFixed(3),
    relayBusy: +(cpu / r.seconds).toFixed(2),
    driverBusy: +(r.cpuSeconds / r.seconds).toFixed(2),
    deliveredPerSec: Math.round(r.deliveredPerSec),
    p50us: Math.round(r.p50us),
    p99us: Math.round(r.p99us),
    lossPercent: r.lossPercent,
    peakRssMiB: +(after.peakRssKiB / 1024).toFixed(1),
    historyMiB: done.historyMiB === undefined ? undefined : +done.historyMiB.toFixed(1),
  };
  if (a.syscalls && !a.perf) {
    const perLine = {};
    for (const m of fs.readFileSync(statFile, 'utf8').matchAll(/^(\d+),[^,]*,([^,]+),/gm)) {
      perLine[m[2].replace(/^.*sys_enter_?/, '') || 'all'] = +(Number(m[1]) / r.deliveredLines).toFixed(4);
    }
    out.syscallsPerLine = perLine;
  }
  console.log(JSON.stringify(out));
}

main()
  .catch((err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    fs.rmSync(work, { recursive: true, force: true });
  });
