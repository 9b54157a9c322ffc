'use strict';
// UDP ingest: datagrams per second a receiver takes in while a child process floods it with
// 300-byte datagrams, for Node's dgram and for DatagramSocket (recvmmsg batches, driven by a
// watched Pollset inside Node's loop). Prints both rates and their ratio from the same run.
// Usage: node bench/udp-ingest.js [seconds=2]   (needs `npm run build:ts` first)
const dgram = require('dgram');
const { fork } = require('child_process');
const { bindDatagram, DatagramSocket, Pollset, WOULD_BLOCK } = require('../dist');

const seconds = Number(process.argv[2] ?? 2);

if (process.argv[2] === '--send') {
  // Child: flood the given address until killed.
  const to = process.argv[3];
  const sock = new DatagramSocket(to.startsWith('[') ? 'udp6' : 'udp4');
  const batch = Array.from({ length: 64 }, () => Buffer.alloc(300, 0x61));
  const ps = new Pollset();
  ps.insert(sock.fd, 'w');
  for (;;) if (sock.sendMany(batch, to) === WOULD_BLOCK) ps.wait(10);
}

function flood(address, ms) {
  const child = fork(__filename, ['--send', address], { stdio: 'inherit' });
  return new Promise((resolve) => setTimeout(() => { child.kill(); resolve(); }, ms));
}

async function nodeRate() {
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  let count = 0;
  sock.on('message', () => count++);
  await flood(`127.0.0.1:${sock.address().port}`, seconds * 1000);
  sock.close();
  return count / seconds;
}

async function ourRate() {
  const sock = bindDatagram('udp4', '127.0.0.1:0', { slots: 64, slotSize: 2048 });
  sock.setRecvBufferSize(4 << 20);
  const ps = new Pollset();
  ps.insert(sock.fd, 'r');
  let count = 0;
  ps.watch(() => {
    const batch = sock.receive();
    if (batch !== WOULD_BLOCK) count += batch.count;
  });
  await flood(sock.localAddress().toString(), seconds * 1000);
  ps.close();
  sock.close();
  return count / seconds;
}

if (process.argv[2] !== '--send') {
  (async () => {
    const node = await nodeRate();
    const ours = await ourRate();
    console.log(`node dgram: ${Math.round(node)} datagrams/s`);
    console.log(`DatagramSocket: ${Math.round(ours)} datagrams/s`);
    console.log(`ratio: ${(ours / node).toFixed(2)}x`);
  })();
}
