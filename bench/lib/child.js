'use strict';
/**
 * The harness side of the child-process protocol (see lib/impl.js): starts one implementation or
 * load generator, hands out its `ready` and `result` messages, and reads its CPU time and peak RSS
 * from /proc so that C and JS processes are measured the same way.
 */
const { spawn } = require('child_process');
const fs = require('fs');

const CLOCK_TICKS = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux.

class Child {
  /**
   * @param {string[]} command  program and its fixed arguments
   * @param {object} params     case parameters, passed as key=value
   * @param {number} limitMs    the child is killed after this long, whatever it does
   * @param {object} [env]      its environment (default: ours)
   */
  constructor(command, params, limitMs, env = process.env) {
    const args = [...command.slice(1), ...Object.entries(params).map(([k, v]) => `${k}=${v}`)];
    this.proc = spawn(command[0], args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.pid = this.proc.pid;
    this.stderr = '';
    this.messages = [];
    this.waiters = [];
    // 'close', not 'exit': it comes after stdout has ended, so a fast child's last lines are delivered before its exit.
    this.exited = new Promise((resolve) => this.proc.on('close', (code, signal) => resolve({ code, signal })));
    this.proc.on('error', (err) => this.#deliver({ error: err.message }));
    this.proc.stdin.on('error', () => {}); // a child that already exited does not need its stdin closed
    this.proc.stderr.on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    let pending = '';
    this.proc.stdout.on('data', (data) => {
      pending += data;
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (line.startsWith('{')) this.#deliver(JSON.parse(line));
      }
    });
    this.timer = setTimeout(() => this.kill(), limitMs);
    this.exited.then(({ code, signal }) => {
      clearTimeout(this.timer);
      this.#deliver({ exit: { code, signal } });
    });
  }

  #deliver(message) {
    this.messages.push(message);
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves with the first message that has `key`; rejects if the child ends or fails first. */
  async expect(key) {
    for (;;) {
      const found = this.messages.find((m) => key in m || 'exit' in m || 'error' in m || 'unavailable' in m);
      if (found) {
        if (key in found) return found[key];
        if ('unavailable' in found) throw Object.assign(new Error(found.unavailable), { unavailable: true });
        const why = found.error ?? `exited with ${JSON.stringify(found.exit)}`;
        throw new Error(`${this.proc.spawnargs.join(' ')}: ${why} before "${key}"\n${this.stderr}`);
      }
      await new Promise((resolve) => this.waiters.push(resolve));
    }
  }

  /** Asks the child to stop (closes its stdin); it then reports its result. */
  stop() {
    this.proc.stdin.end();
  }

  /** Freezes the child (SIGSTOP): it runs no code until `resume()`. */
  pause() {
    this.proc.kill('SIGSTOP');
  }

  /** Lets a paused child run again (SIGCONT). */
  resume() {
    this.proc.kill('SIGCONT');
  }

  kill() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }

  /**
   * CPU seconds (user + system) used so far and peak RSS in KiB (VmHWM), read while it runs. The
   * CPU time is the sum of the live threads' scheduler run time (/proc/<pid>/task/<tid>/schedstat,
   * nanoseconds), because /proc/<pid>/stat counts in 10 ms ticks, too coarse for the short phases
   * the workloads measure; it falls back to the ticks where schedstat is missing.
   */
  usage() {
    return usage(this.pid);
  }

  /** Waits for the exit: `{ code, signal }`. */
  done() {
    return this.exited;
  }
}

/** `Child#usage` of any process: one an implementation started and named (e.g. a daemon it runs). */
function usage(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
  return { cpuSeconds: schedCpuSeconds(pid) ?? tickCpuSeconds(pid), peakRssKiB: hwm ? Number(hwm[1]) : NaN };
}

/** Sum of the run time of `pid`'s threads in seconds, or undefined without schedstat. */
function schedCpuSeconds(pid) {
  let tids;
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  let ns = 0;
  for (const tid of tids) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch (err) {
      if (err.code === 'ENOENT') continue; // a thread that just exited
      return undefined;
    }
  }
  return ns / 1e9;
}

function tickCpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime, stime
}

module.exports = { Child, usage };
