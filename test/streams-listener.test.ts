/**
 * TcpListener's accept path against hostile timing and exhaustion: a connection reset before it is
 * accepted keeps the peer address accept returned, and `serve` under a low fd limit pauses on
 * EMFILE (one pause/resume pair, no spin) and serves again once fds come free.
 */
import { ChildProcess, spawn } from 'child_process';
import * as net from 'net';
import * as path from 'path';
import { Loop, Pollset, TcpListener } from '../lib';
import { describeOnLinux } from './helpers/platform';
import { cpuSeconds } from './helpers/proc';
import { runOp } from './helpers/tcp';
import { until } from './relay-helpers';

describe.each(Pollset.backends)('TcpListener, %s backend', (backend) => {
  test('a connection reset before it was accepted still has the peer address accept returned', async () => {
    const loop = new Loop({ backend });
    const listener = TcpListener.listen('127.0.0.1:0');
    try {
      const port = listener.localAddress().port;
      // Connect and reset (SO_LINGER 0) before the listener accepts: the kernel then has no peer
      // to report (getpeername says ENOTCONN), but accept already handed over its address.
      const peerPort = await new Promise<number>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', () => {
          const local = s.localPort!;
          s.resetAndDestroy();
          s.once('close', () => resolve(local));
        });
        s.once('error', reject);
      });
      const remote = await runOp(
        loop,
        'integrated',
        (function* () {
          const conn = yield* listener.accept();
          try {
            return conn.remoteAddress().toString();
          } finally {
            yield* conn.close();
          }
        })(),
      );
      expect(remote).toBe(`127.0.0.1:${peerPort}`);
    } finally {
      await runOp(loop, 'integrated', listener.close());
      loop.close();
    }
  });
});

/** Lines of JSON a child prints, as they come. */
function jsonLines(child: ChildProcess): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      lines.push(JSON.parse(pending.slice(0, nl)));
      pending = pending.slice(nl + 1);
    }
  });
  return lines;
}

/** Sends a line on a new connection and resolves with the reply line. */
function echo(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = net.connect(port, '127.0.0.1', () => s.write(text + '\n'));
    s.on('data', (c) => {
      got += c.toString();
      if (got.includes('\n')) {
        s.destroy();
        resolve(got.slice(0, got.indexOf('\n')));
      }
    });
    s.once('error', reject);
  });
}

describeOnLinux('TcpListener at the fd limit', "the server's CPU time is read from /proc/<pid>/stat", () => {
  test.each(Pollset.backends)(
    '%s backend: ' + 'serve under a low fd limit: EMFILE pauses accepting, and it serves again once fds are free',
    async (backend) => {
      const fixture = path.join(__dirname, 'fixtures', 'serve-emfile.js');
      const child = spawn(
        'bash',
        ['-c', 'ulimit -n 48 && exec "$@"', 'serve-emfile', process.execPath, fixture, backend],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const events = jsonLines(child);
      const held: net.Socket[] = [];
      try {
        const { port } = (await until('listening', () => events.find((e) => e.event === 'listening'))) as {
          port: number;
        };
        // Connections that never send a line: each holds one of the server's fds; the rest queue.
        for (let i = 0; i < 120; i++) {
          const s = net.connect(port, '127.0.0.1');
          s.on('error', () => undefined);
          held.push(s);
        }
        const paused = await until('a paused event', () => events.find((e) => e.event === 'paused'));
        expect(paused.code).toBe('EMFILE');

        // The queued connections keep the listener readable: waiting for readability would spin.
        const cpu0 = cpuSeconds(child.pid!);
        await new Promise((r) => setTimeout(r, 1500));
        expect(cpuSeconds(child.pid!) - cpu0).toBeLessThan(0.75);

        for (const s of held) s.destroy();
        await until('a resumed event', () => events.find((e) => e.event === 'resumed'));
        expect(await echo(port, 'after the flood')).toBe('after the flood');
        expect(events.filter((e) => e.event === 'paused')).toHaveLength(1);
        expect(events.filter((e) => e.event === 'resumed')).toHaveLength(1);
        expect(events.find((e) => e.event === 'serve-ended')).toBeUndefined();
      } finally {
        for (const s of held) s.destroy();
        child.kill('SIGKILL');
        await new Promise((r) =>
          child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r),
        );
      }
    },
    30000,
  );
});
