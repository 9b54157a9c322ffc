/**
 * The PRI of a syslog message: `<N>` at its very start, N = facility × 8 + severity, in both RFC 3164
 * (BSD syslog) and RFC 5424 messages, which share that prefix.
 *
 * A valid PRI is `<`, 1 to 3 decimal digits without a leading zero (`<0>` itself is fine), `>`, and
 * N ≤ 191 (facility 0–23, severity 0–7) — RFC 5424 §6.2.1, RFC 3164 §4.1.1. A message without one
 * counts as `user.notice` (N = 13): that is what RFC 3164 §4.3.3 tells a relay to assume (and
 * prepend) for a message it cannot find a PRI in; this relay never alters the bytes, it only
 * classifies the message so for filters.
 */

/** `user.notice`: the priority of a message without a valid PRI. */
export const DEFAULT_PRI = 13;

/** Number of distinct PRI values (0…191). */
export const PRI_COUNT = 192;

const LT = 0x3c;
const GT = 0x3e;
const ZERO = 0x30;

/** The message's PRI (0…191), or DEFAULT_PRI when it has no valid one. Reads at most 5 bytes. */
export function priOf(m: Uint8Array): number {
  const n = m.length;
  if (n < 3 || m[0] !== LT) return DEFAULT_PRI;
  let value = 0;
  let i = 1;
  for (; i < n && i <= 4; i++) {
    const d = m[i] - ZERO;
    if (d < 0 || d > 9) break;
    value = value * 10 + d;
  }
  const digits = i - 1;
  if (digits === 0 || digits > 3 || i >= n || m[i] !== GT) return DEFAULT_PRI;
  if (digits > 1 && m[1] === ZERO) return DEFAULT_PRI;
  return value < PRI_COUNT ? value : DEFAULT_PRI;
}
