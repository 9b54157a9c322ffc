/**
 * TCP keepalive on a connected (or accepted) TCP socket. A path that dies without a reset or a FIN
 * (a NAT entry that expired, a Wi-Fi roam, a cable pulled further up) is otherwise never noticed by
 * a side that has nothing to send: its reads wait forever. With keepalive on, the kernel probes a
 * connection idle for `idleSeconds`, every `intervalSeconds`, and after `count` unanswered probes
 * drops it: reads and writes then fail with ETIMEDOUT. Nothing changes on the wire for the peer
 * (probes are empty segments every TCP stack answers), so it needs no protocol support.
 *
 * On Linux TCP_USER_TIMEOUT is set to the same total, so a connection whose sent data stays
 * unacknowledged that long is dropped too (keepalive only probes a connection with nothing in
 * flight; without it a dead peer with data queued for it is retransmitted to for ~15 minutes).
 */
import { argRangeError, argTypeError, check, errnoOf } from '../errors';
import { native, SocketOption } from '../native';
import { getOption, setOption } from './socket';

/** TCP keepalive settings of a socket: when an idle connection is probed, and when it is given up. */
export interface KeepAlive {
  /** Seconds a connection is idle before the first probe (1–32767). */
  idleSeconds: number;
  /** Seconds between unanswered probes (1–32767). */
  intervalSeconds: number;
  /** Unanswered probes before the connection is dropped (1–127). */
  count: number;
}

/** Linux's bounds (MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT); macOS accepts these too. */
const LIMITS: Record<keyof KeepAlive, number> = { idleSeconds: 32767, intervalSeconds: 32767, count: 127 };

const ENOPROTOOPT = errnoOf('ENOPROTOOPT');

/** Seconds after which keepalive declares a silent connection dead: idle + interval × count. */
export function keepAliveDeadline(k: KeepAlive): number {
  return k.idleSeconds + k.intervalSeconds * k.count;
}

/**
 * The settings the command-line tools derive from one `--keepalive SECONDS`: probing starts after
 * SECONDS of silence, then 3 probes a third of SECONDS apart (at least 1 s), so a dead path is
 * noticed within about twice SECONDS (30 → 30 + 3 × 10 = 60 s).
 */
export function keepAliveAfter(seconds: number): KeepAlive {
  return { idleSeconds: seconds, intervalSeconds: Math.max(1, Math.ceil(seconds / 3)), count: 3 };
}

function checked(k: KeepAlive): KeepAlive {
  if (typeof k !== 'object' || k === null) throw argTypeError('setKeepAlive: settings must be an object or null');
  for (const key of Object.keys(LIMITS) as (keyof KeepAlive)[]) {
    const v = k[key];
    if (typeof v !== 'number') throw argTypeError(`setKeepAlive: ${key} must be a number`);
    if (!Number.isInteger(v) || v < 1 || v > LIMITS[key])
      throw argRangeError(`setKeepAlive: ${key} must be an integer from 1 to ${LIMITS[key]}, got ${v}`);
  }
  return k;
}

/** Sets TCP_USER_TIMEOUT where the system has it (Linux); elsewhere keepalive alone applies. */
function setUserTimeout(fd: number, ms: number): void {
  const r = native.setOption(fd, SocketOption.UserTimeout, ms);
  if (r !== -ENOPROTOOPT) check(r, 'setsockopt', { fd });
}

/**
 * Turns keepalive on with `settings`, or off with null. Throws Node-style errors: ENOPROTOOPT
 * where the system cannot tune the probes, EBADF/ENOTSOCK for a bad fd, EOPNOTSUPP-style errors
 * for a socket that is not TCP.
 */
export function setKeepAlive(fd: number, settings: KeepAlive | null): void {
  if (settings === null) {
    setOption(fd, SocketOption.KeepAlive, 0);
    setUserTimeout(fd, 0);
    return;
  }
  const k = checked(settings);
  // Tuned before it is switched on, so no probe ever runs with the system defaults (2 h idle on Linux).
  setOption(fd, SocketOption.KeepIdle, k.idleSeconds);
  setOption(fd, SocketOption.KeepInterval, k.intervalSeconds);
  setOption(fd, SocketOption.KeepCount, k.count);
  // The option is an int of ms: the largest settings (~48 days) are capped at ~24.8 days.
  setUserTimeout(fd, Math.min(keepAliveDeadline(k) * 1000, 0x7fffffff));
  setOption(fd, SocketOption.KeepAlive, 1);
}

/** The socket's keepalive settings as the kernel reports them, or null when keepalive is off. */
export function getKeepAlive(fd: number): KeepAlive | null {
  if (getOption(fd, SocketOption.KeepAlive) === 0) return null;
  return {
    idleSeconds: getOption(fd, SocketOption.KeepIdle),
    intervalSeconds: getOption(fd, SocketOption.KeepInterval),
    count: getOption(fd, SocketOption.KeepCount),
  };
}

/** TCP_USER_TIMEOUT in ms (0 = the system's retransmission limits), or null where the system lacks it. */
export function getUserTimeout(fd: number): number | null {
  const r = native.getOption(fd, SocketOption.UserTimeout);
  if (r === -ENOPROTOOPT) return null;
  return getOption(fd, SocketOption.UserTimeout);
}
