/** UdpSocket with Node's dgram as the peer, and UnixDatagramSocket: batched receive, send that waits. */
import * as dgram from 'dgram';
import * as path from 'path';
import { sleep, UdpSocket, UnixDatagramSocket } from '../lib';
import { describeMatrix, drive, newLoop } from './helpers/loops';
import { tempDir } from './net-helpers';

const COUNT = 10;

describeMatrix((backend, mode) => {
  test('UdpSocket ↔ Node dgram: several datagrams in one receive, replies sent back to each sender', async () => {
    const { loop, crashes } = newLoop(backend);
    const udp = UdpSocket.bindTo('127.0.0.1:0');
    const node = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => node.bind(0, '127.0.0.1', resolve));
    const replies: string[] = [];
    node.on('message', (msg) => replies.push(msg.toString()));
    // Sent before the loop runs, so they wait together in the kernel (this works in both run modes).
    for (let i = 0; i < COUNT; i++) {
      await new Promise<void>((resolve, reject) =>
        node.send(`datagram ${i}`, udp.localAddress().port, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
      );
    }
    const server = loop.spawn(function* () {
      const batches: number[] = [];
      const seen: string[] = [];
      try {
        while (seen.length < COUNT) {
          const batch = yield* udp.receive();
          batches.push(batch.count);
          for (let i = 0; i < batch.count; i++) {
            seen.push(batch.data(i).toString());
            expect(batch.address(i).port).toBe(node.address().port);
            yield* udp.send(Buffer.from(batch.data(i).toString().toUpperCase()), batch.address(i));
          }
        }
      } finally {
        yield* udp.close();
      }
      return { batches, seen };
    });
    await drive(loop, mode);
    const { batches, seen } = await server;
    expect(seen).toEqual(Array.from({ length: COUNT }, (_, i) => `datagram ${i}`));
    expect(batches[0]).toBeGreaterThan(1); // batching is visible: one recvmmsg took several datagrams
    for (let i = 0; i < 200 && replies.length < COUNT; i++) await new Promise((r) => setTimeout(r, 5));
    expect(replies).toEqual(seen.map((s) => s.toUpperCase()));
    await new Promise<void>((resolve) => node.close(resolve));
    expect(crashes).toEqual([]);
    expect(loop.stats).toEqual({ tasks: 0, queued: 0, timers: 0, pollsetSize: 0, fdWaiters: 0 });
    loop.close();
  });

  test('UnixDatagramSocket: send waits for writability when the buffer is full; batches arrive in order, intact', async () => {
    const { loop, crashes } = newLoop(backend);
    const { dir, remove } = tempDir();
    const file = path.join(dir, 'rx.sock');
    const rx = UnixDatagramSocket.bindTo(file, { slots: 16, slotSize: 2048 });
    const tx = new UnixDatagramSocket().connect(file);
    tx.socket.setSendBufferSize(4096); // a few datagrams fill it while nobody receives
    const total = 300;
    const payload = (i: number) => Buffer.from(`dgram ${i} `.padEnd(1000, String.fromCharCode(97 + (i % 26))));
    const sender = loop.spawn(function* () {
      try {
        for (let i = 0; i < total; i++) yield* tx.send(payload(i));
      } finally {
        yield* tx.close();
      }
    });
    const receiver = loop.spawn(function* () {
      yield* sleep(20); // the sender fills its buffer and waits
      const senderWaited = /^blocked writing fd \d+$/.test(sender.blockedOn);
      let got = 0;
      let intact = true;
      let largest = 0;
      let from = 'unset';
      try {
        while (got < total) {
          const batch = yield* rx.receive();
          largest = Math.max(largest, batch.count);
          from = batch.address(0).toString();
          for (let i = 0; i < batch.count; i++) intact = intact && batch.data(i).equals(payload(got++));
        }
      } finally {
        yield* rx.close();
      }
      return { senderWaited, got, intact, largest, from };
    });
    await drive(loop, mode);
    expect(await receiver).toEqual({
      senderWaited: true,
      got: total,
      intact: true,
      largest: expect.any(Number),
      from: '',
    });
    expect((await receiver).largest).toBeGreaterThan(1);
    await sender;
    remove();
    expect(crashes).toEqual([]);
    expect(loop.stats).toEqual({ tasks: 0, queued: 0, timers: 0, pollsetSize: 0, fdWaiters: 0 });
    loop.close();
  });
});
