/**
 * Hostile peers against a real `logrelay` child on loopback: resets right after connect, a flood
 * under a lowered fd limit (EMFILE), thousands of silent connections, and SIGTERM while handshakes
 * are pending. What must hold: no fd leaks (counted in /proc/<pid>/fd), accepting survives and
 * recovers by itself, authenticated subscribers are still served, and stop is prompt and quiet.
 */
import { execSync } from 'child_process';
import * as net from 'net';
import { cpuSeconds, fdCount } from './helpers/proc';
import { cleanup, exitOf, makeCerts, message, RelayProcess, sendUdp, sleep, Tail, until } from './relay-helpers';

afterEach(cleanup);

const linuxOnly = process.platform === 'linux' ? describe : describe.skip;

/**
 * Connects to `port`, then closes with SO_LINGER 0 (an RST) at once, `n` times, `parallel` at a
 * time. Resolves with how many connected.
 */
async function resetFlood(port: number, n: number, parallel = 50): Promise<number> {
  let started = 0;
  let connected = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        connected++;
        s.resetAndDestroy();
        resolve();
      });
      s.once('error', () => resolve());
    });
  const worker = async () => {
    while (started < n) {
      started++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return connected;
}

/** Opens `n` TCP connections to `port` that never say anything; resolves once each is connected (or failed). */
async function silentConnections(port: number, n: number, parallel = 100): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  let started = 0;
  const worker = async () => {
    while (started < n) {
      started++;
      await new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        sockets.push(s);
        s.on('error', () => undefined); // a refused or reset connection is part of the flood
        s.once('connect', () => resolve());
        s.once('close', () => resolve());
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return sockets;
}

/** Waits until the relay's fd count is at most `limit`; returns it. */
function fdsBackTo(relay: RelayProcess, limit: number, timeoutMs = 15000): Promise<number> {
  let last: number | undefined;
  return until(
    () => `relay fds back to ${limit} (now ${last})`,
    () => {
      last = fdCount(relay.child.pid!);
      return last !== undefined && last <= limit ? last : undefined;
    },
    timeoutMs,
  );
}

/** A subscriber connects and receives a message sent after it connected. */
async function subscriberGetsLines(relay: RelayProcess, certs: ReturnType<typeof makeCerts>, tag: string): Promise<void> {
  const tail = await Tail.start(relay, certs);
  const lines = [message(0, 120, tag), message(1, 120, tag)];
  await sendUdp(relay.udpPort, lines);
  const got = await tail.waitFor(2, 15000);
  expect(got.slice(0, 2).map(String)).toEqual(lines.map(String));
  tail.child.kill('SIGTERM');
  await exitOf(tail.child);
}

linuxOnly('logrelay against hostile peers', () => {
  test('a reset flood (connect, then SO_LINGER 0 close) leaks no fd and crashes no task', async () => {
    const certs = makeCerts();
    const relay = await RelayProcess.start(['--ca', certs.ca, '--cert', certs.serverCert, '--key', certs.serverKey]);
    // One real subscriber first, so whatever the first TLS session opens lazily is in the baseline.
    await subscriberGetsLines(relay, certs, 'warmup');
    await relay.statsUntil('the warm-up subscriber gone', (s) => s.subscribers === 0);
    const baseline = fdCount(relay.child.pid!)!;

    // Resets that reach the relay before it accepts are what hurts (the peer address is gone by
    // then): stopping the relay makes every one of them such a reset, queued in its backlog.
    // Each connection ends in one log line (a rejection; a crashed task before the fix). Waiting for
    // them all means the backlog is empty again: each stopped round must fit in it (511), or SYNs
    // would be dropped while the relay cannot take them and the flood would hang.
    let flooded = 0;
    const settled = () =>
      until(
        () => `${flooded} connections handled (rejected ${relay.all('subscriber-rejected').length})`,
        () => (relay.all('subscriber-rejected').length + relay.all('task-crashed').length >= flooded ? true : undefined),
        30000,
      );
    for (let round = 0; round < 3; round++) {
      relay.child.kill('SIGSTOP');
      flooded += await resetFlood(relay.tlsPort, 300);
      relay.child.kill('SIGCONT');
      await settled();
    }
    // And resets racing a running relay.
    flooded += await resetFlood(relay.tlsPort, 1000);
    await settled();
    expect(relay.all('task-crashed')).toEqual([]);
    // The relay still serves after the flood.
    await subscriberGetsLines(relay, certs, 'after-resets');
    expect(relay.all('task-crashed')).toEqual([]);
    expect(await relay.stop()).toBe(0);
  }, 60000);

  test.each(['integrated', 'blocking'])('accept survives EMFILE (%s): one paused line per episode, no spin, and a subscriber is served after the flood', async (mode) => {
    const certs = makeCerts();
    const relay = await RelayProcess.start(['--ca', certs.ca, '--cert', certs.serverCert, '--key', certs.serverKey, '--handshake-timeout', '60000', '--mode', mode], {
      fdLimit: 64,
    });
    const pid = relay.child.pid!;
    const baseline = fdCount(pid)!;
    expect(baseline).toBeLessThan(50); // room left for a few connections, or the test proves nothing

    // More silent connections than the relay has fds: it runs out and the rest wait in the backlog.
    const flood = await silentConnections(relay.tlsPort, 300);
    const paused = await relay.waitEvent('accept-paused', () => true, 15000);
    expect(paused.code).toBe('EMFILE');

    // While the episode lasts (the silent peers hold their fds for a minute), the relay does not spin.
    const cpu0 = cpuSeconds(pid);
    await sleep(1500);
    const cpu = cpuSeconds(pid) - cpu0;
    expect(cpu).toBeLessThan(0.75); // a level-triggered spin would use the whole 1.5 s
    expect(relay.all('accept-paused')).toHaveLength(1);
    expect(relay.all('task-crashed')).toEqual([]);

    // The flood goes away: the relay reads EOF on each (rejections), fds come free, accepting resumes.
    for (const s of flood) s.destroy();
    await relay.waitEvent('accept-resumed', () => true, 15000);
    await fdsBackTo(relay, baseline);
    await subscriberGetsLines(relay, certs, 'after-emfile');
    expect(relay.all('accept-paused')).toHaveLength(1);
    expect(relay.all('task-crashed')).toEqual([]);
    expect(await relay.stop()).toBe(0);
  }, 60000);

  test('2,000 silent connections (or as many as the fd limit allows) do not keep a good subscriber out', async () => {
    // This process holds one end of each and the relay (same limit) the other: stay clear of the limit.
    const limit = Number(execSync('ulimit -n', { shell: '/bin/bash' }).toString());
    const count = Math.min(2000, limit - 200);
    const certs = makeCerts();
    const relay = await RelayProcess.start(['--ca', certs.ca, '--cert', certs.serverCert, '--key', certs.serverKey, '--handshake-timeout', '60000']);
    const baseline = fdCount(relay.child.pid!)!;
    const silent = await silentConnections(relay.tlsPort, count);
    try {
      // Every one of them was accepted and holds an fd of the relay while it waits for a ClientHello.
      await until(`${count} silent connections accepted`, () => ((fdCount(relay.child.pid!) ?? 0) >= baseline + count ? true : undefined), 15000);
      await subscriberGetsLines(relay, certs, 'among-silent');
      expect(relay.all('subscriber-rejected')).toEqual([]);
      expect(relay.all('task-crashed')).toEqual([]);
    } finally {
      for (const s of silent) s.destroy();
    }
    expect(await relay.stop()).toBe(0);
  }, 60000);

  test('SIGTERM during an EMFILE episode: prompt exit, every connection closed, stopped is the last line', async () => {
    const certs = makeCerts();
    const relay = await RelayProcess.start(['--ca', certs.ca, '--cert', certs.serverCert, '--key', certs.serverKey, '--handshake-timeout', '60000'], {
      fdLimit: 64,
    });
    const flood = await silentConnections(relay.tlsPort, 200);
    await relay.waitEvent('accept-paused', () => true, 15000);
    // Accepted ones (handshake pending) and ones still in the backlog alike are closed by the exit.
    const closed = flood.map((s) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve()))));
    expect(await relay.stop('SIGTERM', 8000)).toBe(0);
    await Promise.all(closed);
    const names = relay.events.map((e) => e.event);
    expect(names[names.length - 1]).toBe('stopped');
    expect(relay.all('task-crashed')).toEqual([]);
  }, 30000);

  describe.each(['integrated', 'blocking'])('SIGTERM with pending handshakes (%s)', (mode) => {
    test('exits within the drain bound, closes every pending connection, and logs nothing after stopped', async () => {
      const certs = makeCerts();
      const relay = await RelayProcess.start(['--ca', certs.ca, '--cert', certs.serverCert, '--key', certs.serverKey, '--handshake-timeout', '30000', '--mode', mode]);
      const baseline = fdCount(relay.child.pid!)!;
      const pending = await silentConnections(relay.tlsPort, 100);
      // Some of them got as far as sending the start of a ClientHello.
      for (const s of pending.slice(0, 50)) s.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
      await until('the pending connections accepted', () => ((fdCount(relay.child.pid!) ?? 0) >= baseline + 100 ? true : undefined), 10000);
      const closed = pending.map((s) => new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve()))));

      // The drain is at most 2 s; with 30 s handshake timeouts, waiting for them would take 30 s.
      expect(await relay.stop('SIGTERM', 8000)).toBe(0);
      await Promise.all(closed);
      const names = relay.events.map((e) => e.event);
      expect(names.filter((n) => n === 'stopped')).toHaveLength(1);
      expect(names[names.length - 1]).toBe('stopped');
      expect(relay.all('task-crashed')).toEqual([]);
      expect(relay.otherErr).toEqual([]);
    }, 30000);
  });
});
