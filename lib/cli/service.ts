/**
 * logrelay under a service manager: the sd_notify(3) messages of a `Type=notify` unit, sent at the
 * points of the relay's life where systemd waits for them.
 *
 * - `READY=1` once every listener is bound (systemd starts dependent units, `systemctl start` returns);
 * - `RELOADING=1` with `MONOTONIC_USEC=` when SIGHUP arrives, `READY=1` when the reload is done
 *   (`systemctl reload` waits for it, and sees a failed reload in the log);
 * - `STOPPING=1` when SIGTERM or SIGINT arrives;
 * - `STATUS=` (shown by `systemctl status`) with the counters, at READY and with every stats line.
 */
import type { Logger } from '../relay/log';
import type { Notifier } from '../relay/sdnotify';
import type { RelayStats } from '../relay/stats';

export type Tell = (fields: Record<string, string | number>) => void;

/** A notifier that never fails the relay: a lost notification is logged (debug: each one sent). */
export function teller(notifier: Notifier | undefined, log: Logger): Tell {
  if (!notifier) return () => undefined;
  return (fields) => {
    try {
      const sent = notifier.notify(fields);
      log('debug', 'sd-notify', { sent, ...fields });
    } catch (e) {
      log('warn', 'sd-notify-failed', { reason: (e as Error).message, fields: Object.keys(fields).join(',') });
    }
  };
}

/** The counters in a few words, for `STATUS=`. */
export function statusText(s: RelayStats): string {
  const dropped = s.dropped.oldest + s.dropped.newest + s.dropped.disconnect + s.dropped.empty + s.dropped.evicted;
  return `${s.subscribers} subscribers; received ${s.received}, delivered ${s.delivered}, dropped ${dropped}, rejected ${s.rejected}`;
}
