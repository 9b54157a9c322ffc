/**
 * Shared by the relay end-to-end tests: real `logrelay` and `logtail` child processes on loopback.
 * The relay listens on port 0 and its JSON `listening` log line says where, so tests never collide.
 * Every wait is bounded; every child is killed by `cleanup()` (call it in afterEach).
 */
import { ChildProcess, spawn, SpawnOptions } from 'child_process';
import * as dgram from 'dgram';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { CertAndKey, makeClientCert, makeDevCa, makeServerCert } from '../lib';
import type { RelayOptions } from '../lib';
import { currentBootId } from '../lib/relay/journal-state';

export const ROOT = path.join(__dirname, '..');
export const LOGRELAY = path.join(ROOT, 'bin', 'logrelay.js');
export const LOGTAIL = path.join(ROOT, 'bin', 'logtail.js');

const children = new Set<ChildProcess>();
const tempDirs: string[] = [];

/**
 * Spawns a child that `cleanup()` kills if the test has not waited for it. With `detached` the child
 * leads a process group of its own, and `cleanup()` kills the whole group: for a shell that forks
 * the command it runs (`sh -c 'node …'`), whose grandchild would otherwise outlive the test.
 */
export function spawnChild(cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  children.add(child);
  if (options.detached) groups.add(child.pid!);
  child.once('exit', () => children.delete(child));
  return child;
}

const groups = new Set<number>();

/** Kills every child still running (SIGCONT first: a stopped child would not die of SIGTERM) and removes temp dirs. */
export async function cleanup(): Promise<void> {
  const exits = [...children].map((child) => {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    return exited;
  });
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // ESRCH: the group is gone already
    }
  }
  groups.clear();
  await Promise.all(exits);
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-test-'));
  tempDirs.push(dir);
  return dir;
}

/** Polls `check` every 10 ms until it returns something other than undefined; rejects after `timeoutMs`. */
export async function until<T>(
  what: string | (() => string),
  check: () => T | undefined,
  timeoutMs = 10000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the exit code (or signal name) of a child; rejects after `timeoutMs`. */
export function exitOf(child: ChildProcess, timeoutMs = 10000): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`child ${child.pid} did not exit within ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal!);
    });
  });
}

/**
 * A port on 127.0.0.1 that was free a moment ago (bound to 0, then let go), for a program that
 * cannot bind port 0 itself (systemd-socket-activate) or for a port that refuses connections.
 */
export async function freePort(type: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  if (type === 'udp') {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    const port = s.address().port;
    await new Promise<void>((resolve) => s.close(resolve));
    return port;
  }
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs a CLI (a script under node) to its exit: code, stdout, stderr. */
export async function runToExit(
  bin: string,
  args: string[],
  options: SpawnOptions = {},
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const child = spawnChild(process.execPath, [bin, ...args], options);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c));
  child.stderr!.on('data', (c: Buffer) => (stderr += c));
  const code = await exitOf(child, 15000);
  return { code, stdout, stderr };
}

/** Certificate files for a relay and its subscribers. */
export interface CertFiles {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** Writes `pem` to dir/name (mode 0600 for keys) and returns the path. */
export function writePem(dir: string, name: string, pem: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, pem, { mode: name.includes('key') ? 0o600 : 0o644 });
  return file;
}

/** A fresh CA, a server certificate for 127.0.0.1/::1/localhost and a client certificate, as files. */
export function makeCerts(
  dir = tempDir(),
  ca: CertAndKey = makeDevCa({ cn: 'relay test CA' }),
): CertFiles & { caPair: CertAndKey } {
  const server = makeServerCert(ca, { cn: 'relay test server' });
  const client = makeClientCert(ca, { cn: 'relay test subscriber' });
  return {
    dir,
    caPair: ca,
    ca: writePem(dir, 'ca.pem', ca.cert),
    serverCert: writePem(dir, 'server.pem', server.cert),
    serverKey: writePem(dir, 'server-key.pem', server.key),
    clientCert: writePem(dir, 'client.pem', client.cert),
    clientKey: writePem(dir, 'client-key.pem', client.key),
  };
}

/** Splits a stream into lines as they arrive (raw bytes, LF removed). */
function onLines(stream: NodeJS.ReadableStream, each: (line: Buffer) => void): void {
  let pending = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    for (let nl = pending.indexOf(10); nl >= 0; nl = pending.indexOf(10)) {
      each(pending.subarray(0, nl));
      pending = pending.subarray(nl + 1);
    }
  });
}

/** One JSON log line of the relay. */
export type LogEvent = { event: string; level: string; [field: string]: unknown };

/** The stats line's fields. */
export interface StatsLine {
  received: number;
  delivered: number;
  dropped_oldest: number;
  dropped_newest: number;
  dropped_disconnect: number;
  dropped_empty: number;
  truncated: number;
  subscribers: number;
  rejected: number;
  bytes_in: number;
  bytes_out: number;
  queue_high_water: number;
  dropped_evicted: number;
  evicted: number;
  gaps: number;
  filtered: number;
  lag: number;
  history_messages: number;
  history_bytes: number;
  history_oldest: number;
  history_next: number;
  history_lost: number;
  kernel_drops: number;
  kernel_drops_by_input: string;
}

/** A running `logrelay --json` child. */
export class RelayProcess {
  readonly events: LogEvent[] = [];
  /** stderr lines that were not JSON (there should be none). */
  readonly otherErr: string[] = [];
  stdout = '';
  udpPort = 0;
  tlsPort = 0;
  inputs: string[] = [];

  private constructor(readonly child: ChildProcess) {
    onLines(child.stderr!, (line) => {
      const text = line.toString();
      try {
        this.events.push(JSON.parse(text));
      } catch {
        this.otherErr.push(text);
      }
    });
    child.stdout!.on('data', (c: Buffer) => (this.stdout += c.toString()));
  }

  /**
   * Starts `logrelay --json` with `args` (defaults: UDP and TLS on 127.0.0.1 port 0) and waits
   * for its `listening` line. `fdLimit` runs it under `ulimit -n`, `fileSizeKiB` under `ulimit -f`
   * (bash execs node, so the child is the relay itself and signals reach it). `prefix` runs it
   * under a command that execs its arguments (`ip netns exec NS`).
   */
  static async start(
    args: string[],
    options: { cwd?: string; defaults?: boolean; fdLimit?: number; fileSizeKiB?: number; prefix?: string[] } = {},
  ): Promise<RelayProcess> {
    const defaults =
      options.defaults === false
        ? []
        : [
            '--tls',
            '127.0.0.1:0',
            ...(args.includes('--udp') || args.includes('--unix') ? [] : ['--udp', '127.0.0.1:0']),
          ];
    const argv = [...(options.prefix ?? []), process.execPath, LOGRELAY, '--json', ...defaults, ...args];
    const ulimits = [
      ...(options.fdLimit === undefined ? [] : [`ulimit -n ${options.fdLimit}`]),
      ...(options.fileSizeKiB === undefined ? [] : [`ulimit -f ${options.fileSizeKiB}`]),
    ];
    const child =
      ulimits.length === 0
        ? spawnChild(argv[0], argv.slice(1), { cwd: options.cwd })
        : spawnChild('bash', ['-c', `${ulimits.join(' && ')} && exec "$@"`, 'bash', ...argv], { cwd: options.cwd });
    const relay = new RelayProcess(child);
    const exited = exitOf(relay.child, 15000).then((code) => {
      throw new Error(`logrelay exited (${code}) before listening: ${relay.otherErr.join(' | ')}`);
    });
    const listening = await Promise.race([relay.waitEvent('listening', () => true, 15000), exited]);
    exited.catch(() => undefined);
    relay.inputs = String(listening.inputs).split(',');
    relay.tlsPort = Number(String(listening.tls).split(':').pop());
    const udp = relay.inputs.find((a) => /:\d+$/.test(a));
    if (udp) relay.udpPort = Number(udp.split(':').pop());
    return relay;
  }

  /** The port of the UDP input whose address starts with `host` (`127.0.0.1`, `[::1]`). */
  portOf(host: string): number {
    const input = this.inputs.find((a) => a.startsWith(`${host}:`));
    if (!input) throw new Error(`no input on ${host}: ${this.inputs.join(', ')}`);
    return Number(input.split(':').pop());
  }

  /** Events named `event` (matching `pred`) logged so far. */
  all(event: string, pred: (e: LogEvent) => boolean = () => true): LogEvent[] {
    return this.events.filter((e) => e.event === event && pred(e));
  }

  /** The first event named `event` matching `pred` at or after index `from` of the log. */
  waitEvent(
    event: string,
    pred: (e: LogEvent) => boolean = () => true,
    timeoutMs = 10000,
    from = 0,
  ): Promise<LogEvent> {
    return until(
      `logrelay event ${event}`,
      () => this.events.slice(from).find((e) => e.event === event && pred(e)),
      timeoutMs,
    );
  }

  /** Asks for a stats line (SIGUSR1) and returns it. */
  async stats(): Promise<StatsLine> {
    const from = this.events.length;
    this.child.kill('SIGUSR1');
    return (await this.waitEvent('stats', () => true, 5000, from)) as unknown as StatsLine;
  }

  /** Waits until the stats satisfy `pred` (polling with SIGUSR1, bounded); returns the last stats. */
  async statsUntil(what: string, pred: (s: StatsLine) => boolean, timeoutMs = 10000): Promise<StatsLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.stats();
      if (pred(s)) return s;
      if (Date.now() > deadline) throw new Error(`timed out waiting for stats: ${what}; last ${JSON.stringify(s)}`);
      await sleep(50);
    }
  }

  /** Connected subscribers so far (subscriber-connected lines). */
  get connectedCount(): number {
    return this.all('subscriber-connected').length;
  }

  /** Sends `signal` and waits for the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10000): Promise<number | string> {
    this.child.kill(signal);
    return exitOf(this.child, timeoutMs);
  }

  get tls(): string {
    return `127.0.0.1:${this.tlsPort}`;
  }
}

/** logrelay's identity flags: its certificate and key, and the CA its subscribers' certificates chain to. */
export function identity(certs: Pick<CertFiles, 'ca' | 'serverCert' | 'serverKey'>): string[] {
  return ['--cert', certs.serverCert, '--key', certs.serverKey, '--ca', certs.ca];
}

/** A `Relay`'s options for code: UDP and TLS on 127.0.0.1 port 0, the identity of `certs`, no periodic stats line. */
export function relayOptions(certs: Pick<CertFiles, 'ca' | 'serverCert' | 'serverKey'>): RelayOptions {
  return {
    udp: ['127.0.0.1:0'],
    tls: '127.0.0.1:0',
    cert: { file: certs.serverCert },
    key: { file: certs.serverKey },
    ca: { file: certs.ca },
    statsIntervalS: 0,
  };
}

/**
 * strace attached to a running process (`-f`, only `calls`), writing to a file of its own; `stop()`
 * detaches it and returns the trace's lines. strace is a real peer here, like openssl: .ci/run installs it.
 */
export async function attachStrace(pid: number, calls: string[]): Promise<{ stop(): Promise<string[]> }> {
  const trace = path.join(tempDir(), 'strace.txt');
  const strace = spawnChild('strace', ['-f', '-e', `trace=${calls.join(',')}`, '-o', trace, '-p', String(pid)]);
  let attached = '';
  strace.stderr!.on('data', (c: Buffer) => (attached += c.toString()));
  await until('strace to attach', () => (/attached/.test(attached) ? true : undefined), 10000);
  return {
    async stop() {
      strace.kill('SIGINT'); // detaches and writes out the trace
      await exitOf(strace, 10000);
      return fs.readFileSync(trace, 'utf8').split('\n');
    },
  };
}

/** logtail's identity flags: the CA the relay's certificate chains to, and the client certificate and key. */
export function clientIdentity(certs: Pick<CertFiles, 'ca' | 'clientCert' | 'clientKey'>): string[] {
  return ['--ca', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey];
}

/** node's arguments for logtail subscribed to `relay` with the client certificate of `certs`, then `args`. */
export function logtailArgs(
  relay: RelayProcess,
  certs: Pick<CertFiles, 'ca' | 'clientCert' | 'clientKey'>,
  args: string[] = [],
): string[] {
  return [LOGTAIL, '--connect', relay.tls, ...clientIdentity(certs), ...args];
}

/** A `logtail` child: the messages it prints (framing undone by logtail) and when each arrived. */
export class Tail {
  readonly messages: Buffer[] = [];
  /** performance.now() at arrival of each message. */
  readonly times: number[] = [];
  stderr = '';
  raw: Buffer[] = [];

  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (c: Buffer) => this.raw.push(c));
    onLines(child.stdout!, (line) => {
      this.messages.push(Buffer.from(line));
      this.times.push(performance.now());
    });
    child.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
  }

  /** Starts logtail against `relay` and waits until the relay logs it as connected. */
  static start(
    relay: RelayProcess,
    certs: Pick<CertFiles, 'ca' | 'clientCert' | 'clientKey'>,
    args: string[] = [],
  ): Promise<Tail> {
    return Tail.spawn(relay, process.execPath, logtailArgs(relay, certs, args));
  }

  /** `openssl s_client -quiet` as the subscriber: it prints the stream's bytes as they are (framing included). */
  static openssl(relay: RelayProcess, certs: Pick<CertFiles, 'ca' | 'clientCert' | 'clientKey'>): Promise<Tail> {
    const args = [
      's_client',
      '-quiet',
      '-verify_return_error',
      '-connect',
      relay.tls,
      '-CAfile',
      certs.ca,
      '-cert',
      certs.clientCert,
      '-key',
      certs.clientKey,
    ];
    return Tail.spawn(relay, 'openssl', args);
  }

  /** Spawns a subscriber command and waits until the relay logs a new subscriber. */
  static async spawn(relay: RelayProcess, cmd: string, args: string[], options: SpawnOptions = {}): Promise<Tail> {
    const before = relay.connectedCount;
    const tail = new Tail(spawnChild(cmd, args, options));
    await until(
      () => `${path.basename(cmd)} to connect (stderr: ${tail.stderr})`,
      () => (relay.connectedCount > before ? true : undefined),
      10000,
    );
    return tail;
  }

  /** Waits until at least `n` bytes were printed; returns them all. */
  async waitBytes(n: number, timeoutMs = 10000): Promise<Buffer> {
    await until(
      () => `${n} bytes from the subscriber (have ${this.output.length}; stderr: ${this.stderr})`,
      () => (this.output.length >= n ? true : undefined),
      timeoutMs,
    );
    return this.output;
  }

  /** Waits until `n` messages arrived. */
  async waitFor(n: number, timeoutMs = 10000): Promise<Buffer[]> {
    await until(
      () => `${n} messages at logtail (have ${this.messages.length}; stderr: ${this.stderr})`,
      () => (this.messages.length >= n ? true : undefined),
      timeoutMs,
    );
    return this.messages;
  }

  /** Everything it printed, as one buffer. */
  get output(): Buffer {
    return Buffer.concat(this.raw);
  }
}

/** The i-th test message: `size` bytes, numbered so order and loss show. */
export function message(i: number, size = 300, tag = 'flood'): Buffer {
  const head = `<13>Jan  1 00:00:00 host test[1]: ${tag} ${String(i).padStart(6, '0')} `;
  return Buffer.from(head.padEnd(size, '.'));
}

/** The number in a message made by `message()`, or -1. */
export function numberOf(m: Buffer): number {
  const match = /: \S+ (\d{6}) /.exec(m.subarray(0, 80).toString('latin1'));
  return match ? Number(match[1]) : -1;
}

/**
 * Sends datagrams over UDP from this process, back to back, waiting for the kernel to take each
 * batch of `batch` before the next (Node queues sends otherwise; this bounds memory, not rate).
 * `pauseMs` > 0 paces the batches instead.
 */
export async function sendUdp(
  port: number,
  messages: Buffer[],
  options: { host?: string; batch?: number; pauseMs?: number } = {},
): Promise<void> {
  const { host = '127.0.0.1', batch = 64, pauseMs = 0 } = options;
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  try {
    for (let i = 0; i < messages.length; i += batch) {
      await Promise.all(
        messages
          .slice(i, i + batch)
          .map(
            (m) =>
              new Promise<void>((resolve, reject) =>
                socket.send(m, port, host, (err) => (err ? reject(err) : resolve())),
              ),
          ),
      );
      if (pauseMs > 0) await sleep(pauseMs);
    }
  } finally {
    socket.close();
  }
}

/** Percentile (0..100) of numbers. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs of consecutive numbers, e.g. "0-563 999-1012" (for failure messages and logs). */
export function runs(numbers: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < numbers.length;) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j] + 1) j++;
    out.push(i === j ? `${numbers[i]}` : `${numbers[i]}-${numbers[j]}`);
    i = j + 1;
  }
  return out.join(' ');
}

/**
 * `got` equals `expected`, message by message and byte for byte. (Jest's toEqual walks Buffers
 * byte by byte as objects: seconds for a few MB. This compares natively and reports which differ.)
 */
export function expectMessages(got: Buffer[], expected: Buffer[]): void {
  const differing = got.map((m, i) => i).filter((i) => i >= expected.length || !got[i].equals(expected[i]));
  if (got.length !== expected.length || differing.length > 0) {
    throw new Error(
      `messages differ: got ${got.length}, expected ${expected.length}; first differing at ${differing[0] ?? Math.min(got.length, expected.length)}; ` +
        `got numbers ${runs(got.map(numberOf))}`,
    );
  }
}

/**
 * What a power cut after a SIGKILL of the relay may leave in its --history-dir: the machine rebooted
 * (another boot id in `state`) and the newest segment lost its second half. Returns the seq the dead
 * run had reserved up to (every seq it handed out is below it).
 */
export function powerCut(dir: string): number {
  const state = fs.readFileSync(path.join(dir, 'state'), 'utf8');
  const other = '00000000-0000-4000-8000-000000000000';
  expect(currentBootId()).not.toBe(other);
  fs.writeFileSync(path.join(dir, 'state'), state.replace(/^boot .*$/m, `boot ${other}`));
  const segments = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .sort();
  const newest = path.join(dir, segments[segments.length - 1]);
  fs.truncateSync(newest, Math.floor(fs.statSync(newest).size / 2));
  return Number(/^reserved (\d+)$/m.exec(state)![1]);
}
