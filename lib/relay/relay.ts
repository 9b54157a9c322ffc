/**
 * Relay: receives syslog datagrams (UDP, unix) into one sequence-numbered log with a bounded
 * history, and streams it to every authenticated TLS subscriber, each a cursor into that log.
 *
 * Integrated mode runs the relay's loop inside this thread's Node event loop. Blocking mode runs it in
 * a worker thread of its own, in the classic blocking event loop (fastest; that thread does nothing else).
 * Either way this object controls it the same way: commands through a pipe, counters in shared memory.
 */
import * as path from 'path';
import { Loop } from '../loop';
import { ControlPipe } from './control';
import { inputCounts } from './inputs';
import { createLogger, Logger } from './log';
import { limits, RelayOptions, ResolvedOptions, resolveOptions } from './options';
import type { MetricsServer } from './metrics';
import { Listening, RunnerError, RunnerMessage, startEngine } from './runner';
import { Counters, RelayStats, statsFields } from './stats';

function revive(e: RunnerError): Error {
  return Object.assign(new Error(e.message), e);
}

/**
 * A syslog-to-TLS relay: `new Relay(options, log?)`, then `await relay.start()` binds every input and the
 * TLS listener; `stats()` reads the counters; `stop()` drains subscribers and closes everything.
 * Options are checked and given their defaults in the constructor (a bad one throws there); `log` receives
 * one call per event (default: lines on stderr, see {@link createLogger}).
 *
 * ```ts
 * const relay = new Relay({ udp: ['127.0.0.1:5514'], tls: '127.0.0.1:6514', cert, key, ca });
 * const { tls, inputs } = await relay.start();
 * // … later
 * await relay.stop();
 * ```
 */
export class Relay {
  /** The options in force: those given, with every default filled in. */
  readonly options: ResolvedOptions;
  readonly #counters: Counters;
  readonly #log: Logger;
  #control: ControlPipe | undefined;
  #done: Promise<void> | undefined;
  #ticker: NodeJS.Timeout | undefined;
  #listening: Listening | undefined;
  #metrics: MetricsServer | undefined;
  #stopping = false;
  /** Reloads asked for and not yet done, oldest first (the engine does them in order). */
  readonly #reloads: ((ok: boolean) => void)[] = [];
  /** Called with every stats line logged (periodic, or asked for). */
  onStats: ((stats: RelayStats) => void) | undefined;

  constructor(options: RelayOptions, log?: Logger) {
    this.options = resolveOptions(options);
    const inputs = inputCounts(this.options);
    this.#counters = new Counters(inputs.datagram, inputs.stream);
    this.#log = log ?? createLogger({ json: this.options.json, level: this.options.logLevel });
  }

  /** Binds and starts; resolves once every socket listens (rejects with EADDRINUSE and the like). */
  async start(): Promise<Listening> {
    if (this.#control) throw new Error('relay already started');
    const control = (this.#control = new ControlPipe());
    this.#stopping = false;
    try {
      this.#listening = this.options.mode === 'blocking' ? await this.#startWorker(control) : this.#startHere(control);
    } catch (e) {
      control.discard();
      this.#control = undefined;
      throw e;
    }
    if (this.options.metrics !== undefined) {
      try {
        // Loaded only when asked for: node:http is ~1 MiB of resident memory a relay without
        // `metrics` would carry for nothing.
        const { MetricsServer } = await import('./metrics');
        this.#metrics = await MetricsServer.listen(this.options.metrics, () => this.stats());
      } catch (e) {
        // The relay is up: it goes down again without a drain (nothing was announced yet).
        await this.stop({ drainMs: 0 });
        throw e;
      }
      this.#listening = { ...this.#listening, metrics: this.#metrics.address };
      this.#log('info', 'metrics-listening', { address: this.#metrics.address, path: '/metrics' });
    }
    if (this.options.statsIntervalS > 0) {
      this.#ticker = setInterval(() => this.logStats(), this.options.statsIntervalS * 1000);
      this.#ticker.unref();
    }
    return this.#listening;
  }

  /** Where it listens (after start). */
  get listening(): Listening | undefined {
    return this.#listening;
  }

  /** The counters now. */
  stats(): RelayStats {
    const l = this.#listening;
    return this.#counters.snapshot(l?.inputs, l && [...l.tcp, ...l.tlsIn]);
  }

  /** Writes a stats line to the log (none once stopping: `stopped` is the last line). */
  logStats(): void {
    if (this.#stopping) return;
    const stats = this.stats();
    this.#log('info', 'stats', statsFields(stats));
    this.onStats?.(stats);
  }

  /**
   * Re-reads certificate, key and CA (given as files) for new connections. Resolves once done:
   * true, or false when they could not be used (logged; the previous ones stay).
   */
  reload(): Promise<boolean> {
    if (!this.#control) return Promise.resolve(false);
    const done = new Promise<boolean>((resolve) => this.#reloads.push(resolve));
    this.#control.send({ kind: 'reload' });
    return done;
  }

  #reloaded = (ok: boolean): void => {
    this.#reloads.shift()?.(ok);
  };

  /**
   * Stops accepting, lets subscribers catch up with the head for up to `drainMs` (an integer from 0
   * to 2³¹−1, like the other time options), sends close_notify; resolves when all is closed.
   */
  async stop({ drainMs = 2000 }: { drainMs?: number } = {}): Promise<void> {
    if (typeof drainMs !== 'number' || !Number.isInteger(drainMs) || drainMs < 0 || drainMs > limits.maxMs) {
      throw new RangeError(
        `relay stop option drainMs must be an integer from 0 to ${limits.maxMs}, not ${typeof drainMs === 'number' ? drainMs : typeof drainMs}`,
      );
    }
    if (!this.#control || !this.#done) return;
    this.#stopping = true;
    if (this.options.mode === 'blocking') {
      // The engine logs from its own thread, `stopped` last: what this thread logged (stats, and
      // drops reported when they go out) is written before, if stderr takes it soon.
      this.#log.sink?.flushWithin(1000);
    }
    this.#control.send({ kind: 'stop', drainMs });
    const metrics = this.#metrics;
    this.#metrics = undefined;
    await Promise.all([this.#done, metrics?.close()]);
    for (const pending of this.#reloads.splice(0)) pending(false);
    clearInterval(this.#ticker);
    this.#control.close();
    this.#control = undefined;
  }

  /** Settles when the relay has stopped. */
  get finished(): Promise<void> {
    return this.#done ?? Promise.resolve();
  }

  #startHere(control: ControlPipe): Listening {
    const loop = new Loop({
      backend: this.options.backend,
      onError: (e, task) =>
        this.#log('error', 'task-crashed', { task: task.id, reason: (e as Error)?.stack ?? String(e) }),
    });
    let listening: Listening;
    try {
      listening = startEngine(this.options, loop, this.#counters, this.#log, control.readFd, this.#reloaded);
    } catch (e) {
      loop.close();
      throw e;
    }
    this.#done = loop.run().finally(() => loop.close());
    return listening;
  }

  async #startWorker(control: ControlPipe): Promise<Listening> {
    // Loaded only here: worker_threads costs an integrated relay ~1.5 MiB of RSS for nothing.
    const { Worker } = await import('worker_threads');
    const worker = new Worker(path.join(__dirname, 'worker.js'), {
      // The worker logs to the same stderr fd as this thread (fds are per process), never a second copy.
      workerData: {
        options: this.options,
        counters: this.#counters.buffer,
        inputs: this.#counters.inputs,
        streams: this.#counters.streams,
        controlFd: control.readFd,
        logFd: this.#log.sink?.fd ?? 2,
      },
    });
    this.#done = new Promise((resolve, reject) => {
      worker.on('error', reject);
      worker.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`relay worker exited with code ${code}`)),
      );
    });
    return new Promise((resolve, reject) => {
      worker.on('message', (m: RunnerMessage) => {
        if ('reloaded' in m) this.#reloaded(m.reloaded);
        else if ('listening' in m) resolve(m.listening);
        else reject(revive(m.error));
      });
      this.#done!.catch(reject);
    });
  }
}
