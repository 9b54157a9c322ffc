/**
 * Handshakes (our client ↔ our server, client certificates, socketpairs) in a child with
 * --expose-gc, half the sessions freed explicitly and half left to the GC: fds and RSS stay flat.
 *
 * This is a leak check, not a speed check, so it is built to hold on a loaded machine:
 * - A warm-up of 500 handshakes first. RSS grows at the start for reasons that are not leaks
 *   (OpenSSL's lazily built tables, V8's code and heap, the allocator's arenas reaching their
 *   working size); measuring from the start would mistake that for a leak.
 * - Then two rounds of 1,000, with the fd count and RSS taken after a full GC at the end of each.
 *   A leak grows with the number of handshakes, so it shows in the second round as much as in the
 *   first; a steady state shows none. The bound on the second round's growth, 4 MiB, is ~40 times
 *   the noise seen between rounds (~0.1 MiB), and below what a leak of one session (~24 KB: an SSL
 *   with its buffers) in every six handshakes adds. Retaining only the GC-freed half of the
 *   sessions adds ~24 MiB per round.
 * - fds must be exactly the same at every sample: a leaked fd is never noise.
 * - No time limit but a hang guard: a stalled handshake fails in the child within 2 s by itself,
 *   and the child is killed after 10 minutes (2,500 handshakes take ~10–20 s even on a busy machine).
 */
import { execFile } from 'child_process';
import * as path from 'path';

interface Sample {
  done: number;
  fds: number;
  rss: number;
}

const WARMUP = 500;
const ROUND = 1000;
const HANG_GUARD_MS = 600_000;

test(
  'fd count and RSS stay flat over rounds of 1,000 TLS handshakes after a warm-up',
  async () => {
    const fixture = path.join(__dirname, 'fixtures', 'tls-leak.js');
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--expose-gc', fixture, String(WARMUP), String(ROUND)],
        { timeout: HANG_GUARD_MS },
        (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)),
      ),
    );
    const { samples, ms } = JSON.parse(stdout) as { samples: Sample[]; ms: number };
    const [start, warm, first, second] = samples;
    expect(samples.map((s) => s.done)).toEqual([0, WARMUP, WARMUP + ROUND, WARMUP + 2 * ROUND]);
    expect(samples.map((s) => s.fds)).toEqual(samples.map(() => start.fds));
    const mib = (n: number) => (n / 2 ** 20).toFixed(1);
    console.log(
      `${WARMUP + 2 * ROUND} handshakes in ${ms} ms; RSS ${mib(start.rss)} → ${mib(warm.rss)} (warm) → ${mib(first.rss)} → ${mib(second.rss)} MiB`,
    );
    expect(second.rss - first.rss).toBeLessThan(4 * 2 ** 20);
  },
  HANG_GUARD_MS + 20_000,
);
