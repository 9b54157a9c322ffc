import * as fs from 'fs';
import * as path from 'path';
import { bindDatagram, DatagramSocket } from '../lib';
import { expectTruncatedThenNext, fdCount, receiveNow, tempDir } from './net-helpers';

describe('unix datagram sockets', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => {
    tmp.remove();
  });

  test('datagrams between socket files carry bytes and the sender path; close removes the files', () => {
    const before = fdCount();
    const rxPath = path.join(tmp.dir, 'rx.sock');
    const txPath = path.join(tmp.dir, 'tx.sock');
    const rx = bindDatagram('unix', rxPath);
    const tx = bindDatagram('unix', txPath);
    expect(rx.localAddress().toString()).toBe(rxPath);
    expect(tx.send(Buffer.from('<13>hello'), rxPath)).toBe(9);
    expect(tx.sendMany([Buffer.from('a'), Buffer.from('bc')], rxPath)).toBe(2);
    const batch = receiveNow(rx);
    expect(batch.count).toBe(3);
    expect([0, 1, 2].map((i) => batch.data(i).toString())).toEqual(['<13>hello', 'a', 'bc']);
    expect(batch.address(0).toString()).toBe(txPath);
    expect(batch.address(0).family).toBe('unix');
    rx.close();
    tx.close();
    expect(fs.existsSync(rxPath)).toBe(false);
    expect(fs.existsSync(txPath)).toBe(false);
    expect(fdCount()).toBe(before);
  });

  test('an unnamed sender shows as the empty address', () => {
    const rxPath = path.join(tmp.dir, 'rx.sock');
    const rx = bindDatagram('unix', rxPath);
    const tx = new DatagramSocket('unix');
    tx.send(Buffer.from('anonymous'), rxPath);
    const batch = receiveNow(rx);
    expect(batch.data(0).toString()).toBe('anonymous');
    expect(batch.address(0).toString()).toBe('');
    expect(batch.address(0).family).toBe('unix');
    rx.close();
    tx.close();
  });

  test('a 64 KiB datagram arrives whole; into a small slot it is truncated and the next is fine', () => {
    const rxPath = path.join(tmp.dir, 'rx.sock');
    const smallPath = path.join(tmp.dir, 'small.sock');
    const rx = bindDatagram('unix', rxPath, { slots: 2 });
    const small = bindDatagram('unix', smallPath, { slots: 4, slotSize: 512 });
    const tx = new DatagramSocket('unix');
    tx.setSendBufferSize(256 * 1024); // a unix datagram must fit the sender's buffer whole
    const big = Buffer.alloc(65536);
    for (let i = 0; i < big.length; i++) big[i] = (i * 13) & 0xff;

    expect(tx.send(big, rxPath)).toBe(65536);
    const batch = receiveNow(rx);
    expect(batch.count).toBe(1);
    expect(batch.truncated(0)).toBe(false);
    expect(batch.data(0).equals(big)).toBe(true);

    expectTruncatedThenNext(tx, small, smallPath, big, 512);
    for (const s of [rx, small, tx]) s.close();
  });

  test('sending to a path with no socket names the path', () => {
    const tx = new DatagramSocket('unix');
    const missing = path.join(tmp.dir, 'missing.sock');
    expect(() => tx.send(Buffer.from('x'), missing)).toThrow(
      expect.objectContaining({
        code: 'ENOENT',
        syscall: 'send',
        address: missing,
        message: expect.stringContaining(missing),
      }),
    );
    tx.close();
  });
});
