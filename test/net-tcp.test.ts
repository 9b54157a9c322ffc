import { once } from 'events';
import * as net from 'net';
import * as path from 'path';
import { close, tcp, WOULD_BLOCK } from '../lib';
import { fdCount, ready, readySync, tempDir } from './net-helpers';

/** Reads from `fd` until `want` bytes or end of stream, waiting through the pollset. */
async function readAll(fd: number, want: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  const buf = Buffer.alloc(65536);
  for (let rounds = 0; total < want && rounds < 10000; rounds++) {
    const n = tcp.read(fd, buf);
    if (n === WOULD_BLOCK) {
      await ready(fd, 'r');
      continue;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
    total += n;
  }
  return Buffer.concat(chunks);
}

/** Connects to `address` and waits until the connect has finished. */
async function connected(address: string): Promise<number> {
  const conn = tcp.connect(address);
  if (conn.pending) {
    await ready(conn.fd, 'w');
    expect(tcp.connectResult(conn.fd, conn.address)).toBe(true);
  }
  return conn.fd;
}

async function nodeServer(host: string, onConnection: (s: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer(onConnection);
  server.listen(0, host);
  await once(server, 'listening');
  return server;
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('TCP with Node net', () => {
  test('our listener accepts a batch of pending Node clients until WOULD_BLOCK, and talks to each', async () => {
    const lfd = tcp.listen('127.0.0.1:0');
    const port = tcp.localAddress(lfd).port;
    const clients: net.Socket[] = [];
    try {
      // The kernel completes handshakes into the backlog before any accept.
      for (let i = 0; i < 20; i++) clients.push(net.connect(port, '127.0.0.1'));
      await Promise.all(clients.map((c) => once(c, 'connect')));
      await ready(lfd, 'r');
      const accepted = tcp.accept(lfd, 128);
      if (accepted === WOULD_BLOCK) throw new Error('readable listener returned WOULD_BLOCK');
      expect(accepted.length).toBe(20);
      expect(tcp.accept(lfd)).toBe(WOULD_BLOCK);
      const clientPorts = new Set(clients.map((c) => c.localPort));
      expect(new Set(accepted.map((a) => a.remote.port))).toEqual(clientPorts);
      expect(accepted.every((a) => a.remote.host === '127.0.0.1')).toBe(true);

      // Each accepted fd talks to its client both ways.
      const byPort = new Map(clients.map((c) => [c.localPort, c]));
      for (const a of accepted) {
        const client = byPort.get(a.remote.port) as net.Socket;
        const echoed = once(client, 'data');
        expect(tcp.write(a.fd, Buffer.from(`hello ${a.remote.port}`))).toBeGreaterThan(0);
        expect(String((await echoed)[0])).toBe(`hello ${a.remote.port}`);
        client.write('ping');
        expect((await readAll(a.fd, 4)).toString()).toBe('ping');
        close(a.fd);
      }
    } finally {
      clients.forEach((c) => c.destroy());
      close(lfd);
    }
  });

  test('accept takes no more than max at once', async () => {
    const lfd = tcp.listen('127.0.0.1:0', { backlog: 1024 });
    const clients = Array.from({ length: 5 }, () => net.connect(tcp.localAddress(lfd).port, '127.0.0.1'));
    try {
      await Promise.all(clients.map((c) => once(c, 'connect')));
      const first = tcp.accept(lfd, 3);
      const second = tcp.accept(lfd, 3);
      if (first === WOULD_BLOCK || second === WOULD_BLOCK) throw new Error('pending connections were not accepted');
      expect([first.length, second.length]).toEqual([3, 2]);
      [...first, ...second].forEach((a) => close(a.fd));
    } finally {
      clients.forEach((c) => c.destroy());
      close(lfd);
    }
  });

  test.each(['127.0.0.1', '::1'])(
    'our connect reaches a Node server on %s; writev; shutdown gives the peer EOF',
    async (host) => {
      let serverSide: net.Socket | undefined;
      const received: Buffer[] = [];
      let ended!: () => void;
      const end = new Promise<void>((resolve) => (ended = resolve));
      const server = await nodeServer(host, (s) => {
        serverSide = s;
        s.on('data', (d) => received.push(d));
        s.on('end', () => {
          s.end('bye');
          ended();
        });
      });
      const port = (server.address() as net.AddressInfo).port;
      const text = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      const fd = await connected(text);
      try {
        expect(tcp.remoteAddress(fd).toString()).toBe(text);
        for (let i = 0; i < 100 && !serverSide; i++) await new Promise((r) => setImmediate(r));
        expect(tcp.localAddress(fd).port).toBe(serverSide?.remotePort);
        expect(tcp.localAddress(fd).host).toBe(host);

        const parts = ['alpha ', 'beta ', 'gamma'].map((s) => Buffer.from(s));
        expect(tcp.writev(fd, parts)).toBe(16);
        tcp.shutdown(fd, 'write');
        await end;
        expect(Buffer.concat(received).toString()).toBe('alpha beta gamma');
        // The server answered and closed: we read its bytes, then end of stream.
        expect((await readAll(fd, Infinity)).toString()).toBe('bye');
      } finally {
        close(fd);
        await closeServer(server);
      }
    },
  );

  test('TCP_NODELAY is set and read back', async () => {
    const server = await nodeServer('127.0.0.1', () => undefined);
    const fd = await connected(`127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    try {
      tcp.setNoDelay(fd, true);
      expect(tcp.getNoDelay(fd)).toBe(true);
      tcp.setNoDelay(fd, false);
      expect(tcp.getNoDelay(fd)).toBe(false);
    } finally {
      close(fd);
      await closeServer(server);
    }
  });
});

describe('TCP errors', () => {
  test('connect to a closed port is ECONNREFUSED with code, errno, syscall and address', async () => {
    // A port that was just free: bind, read the port, close.
    const probe = tcp.listen('127.0.0.1:0');
    const address = tcp.localAddress(probe).toString();
    close(probe);
    let error: unknown;
    try {
      const conn = tcp.connect(address);
      try {
        if (conn.pending) {
          await ready(conn.fd, 'w');
          tcp.connectResult(conn.fd, conn.address);
        }
      } finally {
        close(conn.fd);
      }
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({
      code: 'ECONNREFUSED',
      errno: -111,
      syscall: 'connect',
      address,
      message: `ECONNREFUSED: connection refused, connect ${address}`,
    });
  });

  test('listening on a port in use is EADDRINUSE naming the address, with no fd left behind', () => {
    const lfd = tcp.listen('127.0.0.1:0');
    const address = tcp.localAddress(lfd).toString();
    const before = fdCount();
    expect(() => tcp.listen(address)).toThrow(
      expect.objectContaining({ code: 'EADDRINUSE', syscall: 'bind', address }),
    );
    expect(fdCount()).toBe(before);
    close(lfd);
  });

  test('two listeners share a port with reusePort', () => {
    const a = tcp.listen('127.0.0.1:0', { reusePort: true });
    const b = tcp.listen(tcp.localAddress(a), { reusePort: true });
    expect(tcp.localAddress(b).equals(tcp.localAddress(a))).toBe(true);
    close(a);
    close(b);
  });

  test('writing to a peer that closed is EPIPE or ECONNRESET, never SIGPIPE; no fd leaks', () => {
    const before = fdCount();
    const lfd = tcp.listen('127.0.0.1:0');
    const conn = tcp.connect(tcp.localAddress(lfd));
    readySync(lfd, 'r');
    const accepted = tcp.accept(lfd);
    if (accepted === WOULD_BLOCK) throw new Error('readable listener returned WOULD_BLOCK');
    readySync(conn.fd, 'w');
    expect(tcp.connectResult(conn.fd)).toBe(true);
    close(accepted[0].fd);
    const chunk = Buffer.alloc(1024, 0x78);
    let error: { code?: string; syscall?: string; fd?: number } | undefined;
    for (let i = 0; i < 100 && !error; i++) {
      try {
        if (tcp.write(conn.fd, chunk) === WOULD_BLOCK) readySync(conn.fd, 'w');
        else readySync(conn.fd, 'r', 50); // let the peer's RST arrive
      } catch (err) {
        error = err as typeof error;
      }
    }
    expect(['EPIPE', 'ECONNRESET']).toContain(error?.code);
    expect(error).toMatchObject({ syscall: 'write', fd: conn.fd });
    // writev goes the same way.
    expect(() => tcp.writev(conn.fd, [chunk, chunk])).toThrow(expect.objectContaining({ code: 'EPIPE' }));
    close(conn.fd);
    close(lfd);
    expect(fdCount()).toBe(before);
  });

  test('unix stream sockets listen, connect and accept; the peer address of an unnamed client is empty', () => {
    const tmp = tempDir();
    try {
      const where = path.join(tmp.dir, 'stream.sock');
      const lfd = tcp.listen(where);
      const conn = tcp.connect(where);
      expect(conn.pending).toBe(false);
      readySync(lfd, 'r');
      const accepted = tcp.accept(lfd);
      if (accepted === WOULD_BLOCK) throw new Error('readable listener returned WOULD_BLOCK');
      expect(accepted[0].remote.toString()).toBe('');
      expect(tcp.remoteAddress(conn.fd).toString()).toBe(where);
      expect(tcp.write(conn.fd, Buffer.from('over unix'))).toBe(9);
      readySync(accepted[0].fd, 'r');
      const buf = Buffer.alloc(64);
      expect(tcp.read(accepted[0].fd, buf)).toBe(9);
      expect(buf.subarray(0, 9).toString()).toBe('over unix');
      for (const fd of [accepted[0].fd, conn.fd, lfd]) close(fd);
      expect(() => tcp.connect(where)).toThrow(expect.objectContaining({ code: 'ECONNREFUSED', address: where }));
    } finally {
      tmp.remove();
    }
  });
});
