/**
 * Datagrams at the edges, through a real `logrelay`: empty (counted, not forwarded), the largest
 * UDP datagram (65,507 bytes), 64 KiB on a unix datagram socket (whole) and longer (cut to 64 KiB,
 * counted truncated), binary bytes with LF/CR/backslash (lf framing escapes them and logtail
 * restores them exactly; octet framing forwards them untouched), and datagrams from IPv6.
 */
import * as path from 'path';
import { DatagramSocket } from '../lib';
import { cleanup, makeCerts, RelayProcess, sendUdp, Tail, tempDir, identity } from './relay-helpers';

afterEach(cleanup);

/** Bytes 0..255 over and over, then `tail`: every byte value, LF, CR and backslash included. */
function binary(size: number, seed = 0): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

function sendUnix(socketPath: string, data: Buffer): void {
  const s = new DatagramSocket('unix');
  try {
    s.setSendBufferSize(256 * 1024); // a datagram larger than SO_SNDBUF cannot be sent
    s.send(data, socketPath);
  } finally {
    s.close();
  }
}

async function start(framing: 'lf' | 'octet') {
  const certs = makeCerts();
  const sock = path.join(tempDir(), 'relay.sock');
  const relay = await RelayProcess.start([
    '--framing',
    framing,
    '--udp',
    '127.0.0.1:0',
    '--udp',
    '[::1]:0',
    '--unix',
    sock,
    ...identity(certs),
  ]);
  return { certs, sock, relay };
}

test('lf framing: empty, 65,507-byte UDP, 64 KiB and longer unix, binary, IPv6 — logtail restores every message exactly', async () => {
  const { certs, sock, relay } = await start('lf');
  const tail = await Tail.start(relay, certs);
  const v4 = relay.portOf('127.0.0.1');
  const v6 = relay.portOf('[::1]');

  const udpMax = binary(65507, 1);
  const unix64k = binary(65536, 2);
  const tooLong = binary(70000, 3);
  const escapes = Buffer.from('a\nb\rc\\d\\n\r\n\\\\end');
  const fromV6 = Buffer.from('<13>from ::1');
  // Inputs are read by separate tasks: wait for each message before sending the next, so the
  // expected order is the sending order.
  const expected: Buffer[] = [];
  const expectNext = async (send: () => unknown, forwarded?: Buffer) => {
    await send();
    if (forwarded) expected.push(forwarded, Buffer.from('\n')); // logtail prints each message, unescaped, then LF
    const want = Buffer.concat(expected);
    await tail.waitBytes(want.length);
    expect(tail.output.equals(want)).toBe(true);
  };
  await expectNext(() => sendUdp(v4, [Buffer.alloc(0)]));
  await expectNext(() => sendUdp(v4, [udpMax]), udpMax);
  await expectNext(() => sendUnix(sock, unix64k), unix64k);
  await expectNext(() => sendUnix(sock, tooLong), tooLong.subarray(0, 65536));
  await expectNext(() => sendUdp(v4, [escapes]), escapes);
  await expectNext(() => sendUdp(v6, [fromV6], { host: '::1' }), fromV6);

  const stats = await relay.statsUntil('all delivered', (s) => s.delivered === 5);
  expect(stats).toMatchObject({ received: 6, dropped_empty: 1, truncated: 1, delivered: 5 });
  expect(stats.bytes_in).toBe(65507 + 65536 + 65536 + escapes.length + fromV6.length);
}, 30000);

test('octet framing: openssl s_client sees LEN SP MSG with the message bytes untouched, from IPv4, IPv6 and unix', async () => {
  const { certs, sock, relay } = await start('octet');
  const sub = await Tail.openssl(relay, certs);
  const messages = [binary(300, 5), Buffer.from('x\ny\rz\\'), binary(65536, 6), binary(1000, 7)];
  const sends = [
    () => sendUdp(relay.portOf('127.0.0.1'), [messages[0]]),
    () => sendUdp(relay.portOf('[::1]'), [messages[1]], { host: '::1' }),
    () => sendUnix(sock, messages[2]),
    () => sendUdp(relay.portOf('127.0.0.1'), [Buffer.alloc(0), messages[3]]),
  ];
  // One at a time (inputs are read by separate tasks), each checked once it has arrived.
  for (let i = 0; i < sends.length; i++) {
    await Promise.resolve(sends[i]());
    const expected = Buffer.concat(messages.slice(0, i + 1).flatMap((m) => [Buffer.from(`${m.length} `), m]));
    const output = await sub.waitBytes(expected.length);
    expect(output.equals(expected)).toBe(true);
  }
  expect(await relay.stats()).toMatchObject({ received: 5, dropped_empty: 1, delivered: 4 });
}, 30000);
