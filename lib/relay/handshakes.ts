/**
 * Accepted connections that have not finished their TLS handshake, bounded in total and per source.
 *
 * Each one holds an fd for up to the handshake timeout, and an unauthenticated peer can open them
 * for free: without a bound, silent connections fill the fd table and real subscribers wait. When
 * a new connection would pass a bound, one pending handshake makes room for it:
 *
 * - past the per-source bound: the OLDEST pending handshake of that same source;
 * - past the total bound: the oldest pending handshake of the MOST REPRESENTED source (ties: the
 *   source whose oldest handshake is the oldest).
 *
 * Why not refuse the new connection instead: then whoever holds the slots — a peer that opened
 * them and says nothing — locks out everyone who comes after, which is exactly the attack. Why the
 * oldest: an honest handshake takes a few round trips, so a connection still pending after many
 * newer ones is the one most likely to be silent, and a flood cannot cut a subscriber whose
 * handshake is merely under way unless it opens more connections from that subscriber's own
 * source in the meantime. Why the most represented source: a flood from one address (or one IPv6
 * /64) pays for itself before anyone else does, so honest peers elsewhere keep getting in.
 */
import type { Address } from '../net/address';

/** One pending handshake; `T` is what the owner needs to cut it (its connection and task). */
export interface Pending<T> {
  readonly source: string;
  /** The peer's full address, for the log. */
  readonly address: string;
  readonly item: T;
  /** Arrival order. */
  readonly seq: number;
}

/** Why a pending handshake was cut to make room. */
export type Eviction<T> = Pending<T> & { reason: string };

/**
 * Where a connection comes from, as the per-source bound counts it: the IPv4 address (also for
 * IPv4-mapped IPv6), the /64 prefix of an IPv6 address (one site or host usually has a whole /64,
 * so counting single IPv6 addresses would bound nothing), a unix socket path as is.
 */
export function sourceOf(address: Address): string {
  if (address.family !== 'ipv6') return address.host;
  // sockaddr_in6 keeps the 16 address bytes at offset 8 on Linux and the BSDs alike.
  const a = address.raw.subarray(8, 24);
  if (a.length === 16 && a.subarray(0, 10).every((b) => b === 0) && a[10] === 0xff && a[11] === 0xff)
    return a.subarray(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 8 && i + 1 < a.length; i += 2) groups.push(((a[i] << 8) | a[i + 1]).toString(16));
  return `${groups.join(':')}::/64`;
}

export class PendingHandshakes<T> {
  /** Per source, its pending handshakes oldest first (a Set keeps insertion order). */
  readonly #bySource = new Map<string, Set<Pending<T>>>();
  readonly #byItem = new Map<T, Pending<T>>();
  #seq = 0;

  constructor(
    readonly maxTotal: number,
    readonly maxPerSource: number,
  ) {}

  get size(): number {
    return this.#byItem.size;
  }

  /** Pending handshakes from `source` now. */
  count(source: string): number {
    return this.#bySource.get(source)?.size ?? 0;
  }

  /**
   * Takes `item` in as pending, and returns the pending handshakes (already let go of) that the
   * owner must cut to stay within the bounds.
   */
  add(source: string, address: string, item: T): Eviction<T>[] {
    const evicted: Eviction<T>[] = [];
    if (this.count(source) >= this.maxPerSource) {
      evicted.push({ ...this.#oldest(source), reason: `over ${this.maxPerSource} pending handshakes from ${source}` });
    } else if (this.size >= this.maxTotal) {
      evicted.push({ ...this.#oldest(this.#mostRepresented()), reason: `over ${this.maxTotal} pending handshakes` });
    }
    for (const e of evicted) this.delete(e.item);
    const p: Pending<T> = { source, address, item, seq: this.#seq++ };
    let set = this.#bySource.get(source);
    if (!set) this.#bySource.set(source, (set = new Set()));
    set.add(p);
    this.#byItem.set(item, p);
    return evicted;
  }

  /** Lets go of `item` (its handshake ended either way); unknown items are ignored. */
  delete(item: T): void {
    const p = this.#byItem.get(item);
    if (!p) return;
    this.#byItem.delete(item);
    const set = this.#bySource.get(p.source)!;
    set.delete(p);
    if (set.size === 0) this.#bySource.delete(p.source);
  }

  /** Every pending item, and none left. */
  clear(): T[] {
    const items = [...this.#byItem.keys()];
    this.#byItem.clear();
    this.#bySource.clear();
    return items;
  }

  #oldest(source: string): Pending<T> {
    return this.#bySource.get(source)!.values().next().value!;
  }

  #mostRepresented(): string {
    let best: string | undefined;
    let bestSize = 0;
    let bestSeq = Infinity;
    for (const [source, set] of this.#bySource) {
      const oldest = set.values().next().value!.seq;
      if (set.size > bestSize || (set.size === bestSize && oldest < bestSeq)) {
        best = source;
        bestSize = set.size;
        bestSeq = oldest;
      }
    }
    return best!;
  }
}
