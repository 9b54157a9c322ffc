import { bindDatagram, close, tcp, WOULD_BLOCK } from '../lib';
import { describeOnLinux } from './helpers/platform';
import { ready } from './net-helpers';

/** A connected pair over loopback: our client fd and the fd our listener accepted. */
async function pair(host: string): Promise<{ client: number; server: number; listener: number }> {
  const listener = tcp.listen(`${host}:0`);
  const conn = tcp.connect(tcp.localAddress(listener));
  if (conn.pending) {
    await ready(conn.fd, 'w');
    expect(tcp.connectResult(conn.fd, conn.address)).toBe(true);
  }
  await ready(listener, 'r');
  const accepted = tcp.accept(listener);
  if (accepted === WOULD_BLOCK) throw new Error('readable listener returned WOULD_BLOCK');
  return { client: conn.fd, server: accepted[0].fd, listener };
}

describeOnLinux('TCP_USER_TIMEOUT follows keepalive', 'TCP_USER_TIMEOUT is a Linux socket option', () => {
  test.each(['127.0.0.1', '[::1]'])(
    'on a %s connection: idle + interval × count, 0 when keepalive is off, capped at the int limit',
    async (host) => {
      const { client, server, listener } = await pair(host);
      try {
        tcp.setKeepAlive(client, { idleSeconds: 30, intervalSeconds: 10, count: 3 });
        tcp.setKeepAlive(server, { idleSeconds: 7, intervalSeconds: 2, count: 5 });
        // Unacknowledged data gives up at the same deadline as the probes: idle + interval × count.
        expect(tcp.getUserTimeout(client)).toBe(60000);
        expect(tcp.getUserTimeout(server)).toBe(17000);
        tcp.setKeepAlive(client, null);
        expect(tcp.getUserTimeout(client)).toBe(0);
        // The kernel's largest settings (~48 days) do not fit TCP_USER_TIMEOUT's int of ms: capped, not wrapped.
        tcp.setKeepAlive(client, { idleSeconds: 32767, intervalSeconds: 32767, count: 127 });
        expect(tcp.getUserTimeout(client)).toBe(0x7fffffff);
      } finally {
        close(client);
        close(server);
        close(listener);
      }
    },
  );
});

describe('TCP keepalive options', () => {
  test.each(['127.0.0.1', '[::1]'])(
    'set on both ends of a %s connection, read back through getsockopt, and turned off',
    async (host) => {
      const { client, server, listener } = await pair(host);
      try {
        // A fresh socket has keepalive off (no probes unless asked for).
        expect(tcp.getKeepAlive(client)).toBeNull();
        tcp.setKeepAlive(client, { idleSeconds: 30, intervalSeconds: 10, count: 3 });
        tcp.setKeepAlive(server, { idleSeconds: 7, intervalSeconds: 2, count: 5 });
        expect(tcp.getKeepAlive(client)).toEqual({ idleSeconds: 30, intervalSeconds: 10, count: 3 });
        expect(tcp.getKeepAlive(server)).toEqual({ idleSeconds: 7, intervalSeconds: 2, count: 5 });
        tcp.setKeepAlive(client, null);
        expect(tcp.getKeepAlive(client)).toBeNull();
        // The kernel's bounds are accepted as they are.
        tcp.setKeepAlive(client, { idleSeconds: 32767, intervalSeconds: 32767, count: 127 });
        expect(tcp.getKeepAlive(client)).toEqual({ idleSeconds: 32767, intervalSeconds: 32767, count: 127 });
      } finally {
        close(client);
        close(server);
        close(listener);
      }
    },
  );

  test('bad settings are refused before any option changes; bad sockets fail Node-style', async () => {
    const { client, server, listener } = await pair('127.0.0.1');
    try {
      const bad: [unknown, RegExp, string][] = [
        [
          { idleSeconds: 0, intervalSeconds: 1, count: 1 },
          /idleSeconds must be an integer from 1 to 32767, got 0/,
          'ERR_OUT_OF_RANGE',
        ],
        [
          { idleSeconds: 1, intervalSeconds: 32768, count: 1 },
          /intervalSeconds must be an integer from 1 to 32767/,
          'ERR_OUT_OF_RANGE',
        ],
        [
          { idleSeconds: 1, intervalSeconds: 1, count: 128 },
          /count must be an integer from 1 to 127/,
          'ERR_OUT_OF_RANGE',
        ],
        [{ idleSeconds: 1.5, intervalSeconds: 1, count: 1 }, /idleSeconds must be an integer/, 'ERR_OUT_OF_RANGE'],
        [{ idleSeconds: NaN, intervalSeconds: 1, count: 1 }, /idleSeconds must be an integer/, 'ERR_OUT_OF_RANGE'],
        [{ idleSeconds: '5', intervalSeconds: 1, count: 1 }, /idleSeconds must be a number/, 'ERR_INVALID_ARG_TYPE'],
        [{ idleSeconds: 5, intervalSeconds: 1 }, /count must be a number/, 'ERR_INVALID_ARG_TYPE'],
        [undefined, /must be an object or null/, 'ERR_INVALID_ARG_TYPE'],
      ];
      for (const [settings, message, code] of bad) {
        expect(() => tcp.setKeepAlive(client, settings as tcp.KeepAlive)).toThrow(
          expect.objectContaining({ code, message: expect.stringMatching(message) }),
        );
      }
      expect(tcp.getKeepAlive(client)).toBeNull();

      expect(() => tcp.setKeepAlive(99999, { idleSeconds: 1, intervalSeconds: 1, count: 1 })).toThrow(
        expect.objectContaining({ code: 'EBADF', syscall: 'setsockopt', fd: 99999 }),
      );
      expect(() => tcp.getKeepAlive(99999)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'getsockopt' }));
      // A UDP socket has no TCP-level options: the kernel's refusal comes through with its errno.
      const udp = bindDatagram('udp4', '127.0.0.1:0');
      try {
        expect(() => tcp.setKeepAlive(udp.fd, { idleSeconds: 1, intervalSeconds: 1, count: 1 })).toThrow(
          expect.objectContaining({ syscall: 'setsockopt', fd: udp.fd, code: expect.stringMatching(/^E[A-Z]+$/) }),
        );
      } finally {
        udp.close();
      }
    } finally {
      close(client);
      close(server);
      close(listener);
    }
  });

  test('--keepalive SECONDS settings: probes a third of SECONDS apart, dead within about twice SECONDS', () => {
    expect(tcp.keepAliveAfter(30)).toEqual({ idleSeconds: 30, intervalSeconds: 10, count: 3 });
    expect(tcp.keepAliveDeadline(tcp.keepAliveAfter(30))).toBe(60);
    expect(tcp.keepAliveAfter(1)).toEqual({ idleSeconds: 1, intervalSeconds: 1, count: 3 });
    expect(tcp.keepAliveAfter(100)).toEqual({ idleSeconds: 100, intervalSeconds: 34, count: 3 });
  });
});
