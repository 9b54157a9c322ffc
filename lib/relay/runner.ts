/**
 * What runs a relay engine, the same in either mode: in this thread (integrated) or in a worker
 * thread of its own (blocking). `Relay` calls {@link startEngine} directly or has the worker call it;
 * either way what comes back crosses as a {@link RunnerMessage}.
 */
import type { Loop } from '../loop';
import { serveCommands } from './control';
import { RelayEngine } from './engine';
import { inputsOf } from './inputs';
import type { Logger } from './log';
import { drainLog } from './logsink';
import type { ResolvedOptions } from './options';
import type { Counters } from './stats';

/** Where a started relay listens: the actual addresses (a port 0 asked for is the port the kernel chose). */
export interface Listening {
  /** Where subscribers connect. */
  tls: string;
  /** Where datagrams are received (UDP `HOST:PORT`s and unix paths). */
  inputs: string[];
  /** Where TCP senders connect (`HOST:PORT`s: those configured in `tcp`, then those passed in `listenFds.tcp`). */
  tcp: string[];
  /** Where TLS senders connect (syslog over TLS, RFC 5425), in the same order for `tlsIn` and `listenFds['tls-in']`. */
  tlsIn: string[];
  /** Where `/metrics` is served (with the `metrics` option). */
  metrics?: string;
}

/** What the engine runner reports back, in either mode. */
export type RunnerMessage = { listening: Listening } | { error: RunnerError } | { reloaded: boolean };

/** A start failure as it crosses from the worker: an Error's own fields (and a TLS error's `reason`). */
export type RunnerError = { message: string; code?: string; errno?: number; syscall?: string; reason?: string };

/** Builds and starts an engine on `loop` with its command task; what the worker does too. */
export function startEngine(
  options: ResolvedOptions,
  loop: Loop,
  counters: Counters,
  log: Logger,
  controlFd: number,
  onReloaded: (ok: boolean) => void,
): Listening {
  const engine = new RelayEngine(options, loop, counters, log);
  engine.start();
  // Log lines that stderr did not take are written when it is writable again, for as long as the relay runs.
  const logDrain = log.sink ? loop.spawn(drainLog(log.sink)) : undefined;
  loop.spawn(
    serveCommands(controlFd, (c) =>
      c.kind === 'reload'
        ? (function* () {
            try {
              engine.reload();
              onReloaded(true);
            } catch (e) {
              log('error', 'reload-failed', {
                reason: (e as { reason?: string }).reason ?? (e as Error).message,
                kept: 'previous certificate, key and CA',
              });
              onReloaded(false);
            }
          })()
        : (function* () {
            yield* engine.stop(c.drainMs);
            logDrain?.halt();
          })(),
    ),
  );
  // The TCP inputs come first: the configured ones, then those passed by socket activation.
  const streams = engine.streamAddresses;
  const tcp = inputsOf(options, 'tcp');
  return {
    tls: engine.tlsAddress,
    inputs: engine.inputAddresses,
    tcp: streams.slice(0, tcp),
    tlsIn: streams.slice(tcp),
  };
}
