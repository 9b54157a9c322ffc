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
   */
  constructor(command, params, limitMs) {
    const args = [...command.slice(1), ...Object.entries(params).map(([k, v]) => `${k}=${v}`)];
    this.proc = spawn(command[0], args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.pid = this.proc.pid;
    this.stderr = '';
    this.messages = [];
    this.waiters = [];
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
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

  kill() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }

  /** CPU seconds (user + system) used so far and peak RSS in KiB (VmHWM), read while it runs. */
  usage() {
    const stat = fs.readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime, stime
    const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    return { cpuSeconds, peakRssKiB: hwm ? Number(hwm[1]) : NaN };
  }

  /** Waits for the exit: `{ code, signal }`. */
  done() {
    return this.exited;
  }
}

module.exports = { Child };
