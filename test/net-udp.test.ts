import * as dgram from 'dgram';
import { once } from 'events';
import { Address, bindDatagram, DatagramSocket, WOULD_BLOCK } from '../lib';
import { expectTruncatedThenNext, fdCount, ready, receiveNow } from './net-helpers';

/** Waits (through the pollset, inside Node's loop) until `count` datagrams arrived; copies them out. */
async function receiveCount(sock: DatagramSocket, count: number): Promise<{ data: Buffer; from: string }[]> {
  const got: { data: Buffer; from: string }[] = [];
  for (let rounds = 0; got.length < count && rounds < 1000; rounds++) {
    const batch = sock.receive();
    if (batch === WOULD_BLOCK) {
      await ready(sock.fd, 'r');
      continue;
    }
    for (let i = 0; i < batch.count; i++)
      got.push({ data: Buffer.from(batch.data(i)), from: batch.address(i).toString() });
  }
  return got;
}

async function nodeSocket(type: 'udp4' | 'udp6', host: string): Promise<dgram.Socket> {
  const s = dgram.createSocket(type);
  s.bind(0, host);
  await once(s, 'listening');
  return s;
}

describe.each([
  ['udp4', '127.0.0.1', (port: number) => `127.0.0.1:${port}`],
  ['udp6', '::1', (port: number) => `[::1]:${port}`],
] as const)('%s with Node dgram', (type, host, text) => {
  test('our socket receives Node datagrams with their bytes and source address', async () => {
    const ours = bindDatagram(type, text(0));
    const peer = await nodeSocket(type, host);
    try {
      expect(ours.receive()).toBe(WOULD_BLOCK);
      const port = ours.localAddress().port;
      expect(port).toBeGreaterThan(0);
      for (let i = 0; i < 5; i++) peer.send(`message ${i}`, port, host);
      const got = await receiveCount(ours, 5);
      expect(got.map((g) => g.data.toString())).toEqual([0, 1, 2, 3, 4].map((i) => `message ${i}`));
      expect(new Set(got.map((g) => g.from))).toEqual(new Set([text(peer.address().port)]));
    } finally {
      ours.close();
      peer.close();
    }
  });

  test('Node receives our datagrams, single and batched (sendmmsg)', async () => {
    const ours = bindDatagram(type, text(0));
    const peer = await nodeSocket(type, host);
    try {
      const messages: { data: string; port: number }[] = [];
      const allFour = new Promise<void>((resolve) =>
        peer.on('message', (msg, rinfo) => {
          messages.push({ data: msg.toString(), port: rinfo.port });
          if (messages.length === 4) resolve();
        }),
      );
      const to = text(peer.address().port);
      expect(ours.send(Buffer.from('one'), to)).toBe(3);
      expect(ours.sendMany([Buffer.from('two'), Buffer.from('three'), Buffer.from('four')], Address.parse(to))).toBe(3);
      await allFour;
      expect(messages.map((m) => m.data)).toEqual(['one', 'two', 'three', 'four']);
      expect(messages.every((m) => m.port === ours.localAddress().port)).toBe(true);
    } finally {
      ours.close();
      peer.close();
    }
  });

  test('a 65,507-byte datagram arrives whole in both directions', async () => {
    const ours = bindDatagram(type, text(0), { slots: 2 });
    const peer = await nodeSocket(type, host);
    try {
      const big = Buffer.alloc(65507, 0);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      peer.send(big, ours.localAddress().port, host);
      const [got] = await receiveCount(ours, 1);
      expect(got.data.length).toBe(65507);
      expect(got.data.equals(big)).toBe(true);

      const arrived = once(peer, 'message');
      expect(ours.send(big, text(peer.address().port))).toBe(65507);
      const [msg] = (await arrived) as [Buffer];
      expect(msg.equals(big)).toBe(true);
    } finally {
      ours.close();
      peer.close();
    }
  });
});

describe('UDP between our own sockets', () => {
  test('one receive returns a whole batch (recvmmsg), then WOULD_BLOCK', () => {
    const before = fdCount();
    const rx = bindDatagram('udp4', '127.0.0.1:0', { slots: 16, slotSize: 256 });
    const tx = bindDatagram('udp4', '127.0.0.1:0');
    const to = rx.localAddress();
    const datagrams = Array.from({ length: 10 }, (_, i) => Buffer.from(`datagram ${i}`));
    expect(tx.sendMany(datagrams, to)).toBe(10);
    const batch = receiveNow(rx);
    // Loopback delivers synchronously: all ten are queued by the time sendmmsg returns.
    expect(batch.count).toBe(10);
    for (let i = 0; i < 10; i++) {
      expect(batch.data(i).toString()).toBe(`datagram ${i}`);
      expect(batch.length(i)).toBe(datagrams[i].length);
      expect(batch.truncated(i)).toBe(false);
      expect(batch.address(i).equals(tx.localAddress())).toBe(true);
      expect(batch.buffer.subarray(batch.offset(i), batch.offset(i) + batch.length(i)).equals(datagrams[i])).toBe(true);
    }
    expect(rx.receive()).toBe(WOULD_BLOCK);
    rx.close();
    tx.close();
    expect(fdCount()).toBe(before);
  });

  test('a batch larger than the slot count is delivered over several receives', () => {
    const rx = bindDatagram('udp4', '127.0.0.1:0', { slots: 4, slotSize: 64 });
    const tx = new DatagramSocket('udp4');
    const datagrams = Array.from({ length: 10 }, (_, i) => Buffer.from(`d${i}`));
    expect(tx.sendMany(datagrams, rx.localAddress())).toBe(10);
    const counts: number[] = [];
    const seen: string[] = [];
    for (let r = 0; r < 10; r++) {
      const batch = rx.receive();
      if (batch === WOULD_BLOCK) break;
      counts.push(batch.count);
      for (let i = 0; i < batch.count; i++) seen.push(batch.data(i).toString());
    }
    expect(counts).toEqual([4, 4, 2]);
    expect(seen).toEqual(datagrams.map(String));
    rx.close();
    tx.close();
  });

  test('a datagram longer than its slot is reported truncated, and the next one arrives fine', () => {
    const rx = bindDatagram('udp4', '127.0.0.1:0', { slots: 4, slotSize: 1024 });
    const tx = new DatagramSocket('udp4');
    expectTruncatedThenNext(tx, rx, rx.localAddress(), Buffer.alloc(65507, 0x61), 1024);
    rx.close();
    tx.close();
  });

  test('a connected socket sends without an address and receives only from its peer', () => {
    const rx = bindDatagram('udp6', '[::1]:0');
    const tx = bindDatagram('udp6', '[::1]:0').connect(rx.localAddress());
    const stranger = new DatagramSocket('udp6');
    rx.connect(tx.localAddress());
    expect(stranger.send(Buffer.from('not for you'), rx.localAddress())).toBe(11);
    expect(tx.send(Buffer.from('hello'))).toBe(5);
    const batch = receiveNow(rx);
    expect(batch.count).toBe(1);
    expect(batch.data(0).toString()).toBe('hello');
    for (const s of [rx, tx, stranger]) s.close();
  });

  test('SO_RCVBUF and SO_SNDBUF are set and read back', () => {
    const sock = new DatagramSocket('udp4');
    sock.setRecvBufferSize(65536);
    sock.setSendBufferSize(65536);
    // Linux doubles the value for bookkeeping; others keep it.
    expect(sock.recvBufferSize()).toBeGreaterThanOrEqual(65536);
    expect(sock.sendBufferSize()).toBeGreaterThanOrEqual(65536);
    expect(() => sock.setRecvBufferSize(-1)).toThrow(
      expect.objectContaining({ code: 'EINVAL', syscall: 'setsockopt' }),
    );
    sock.close();
  });

  test('errors are Node-style and name the address', () => {
    const before = fdCount();
    const a = bindDatagram('udp4', '127.0.0.1:0');
    expect(() => bindDatagram('udp4', a.localAddress())).toThrow(
      expect.objectContaining({ code: 'EADDRINUSE', syscall: 'bind', address: a.localAddress().toString() }),
    );
    expect(() => bindDatagram('udp4', '[::1]:0')).toThrow(
      expect.objectContaining({ syscall: 'bind', address: '[::1]:0' }),
    );
    expect(() => a.send(Buffer.from('x'), 'nowhere:1')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    a.close();
    a.close(); // idempotent
    expect(() => a.receive()).toThrow('socket is closed');
    expect(fdCount()).toBe(before);
  });
});
