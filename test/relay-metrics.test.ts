/**
 * `--metrics`: a real `logrelay` process in each run mode, scraped with curl over loopback; the
 * exposition is validated by Prometheus's own parser (`promtool check metrics`, Debian package
 * `prometheus`, installed by .ci/run) and its counters must follow real traffic. Also: other paths,
 * other methods, HEAD, a request with a body it will not read, and bad or busy addresses.
 */
import { spawnSync } from 'child_process';
import * as net from 'net';
import {
  cleanup,
  exitOf,
  LOGRELAY,
  makeCerts,
  message,
  RelayProcess,
  sendUdp,
  spawnChild,
  identity,
  relayOptions,
} from './relay-helpers';
import { ProtocolClient } from './relay-protocol-client';

afterEach(cleanup);

async function relayWithMetrics(mode: 'integrated' | 'blocking') {
  const certs = makeCerts();
  const relay = await RelayProcess.start(['--mode', mode, '--metrics', '127.0.0.1:0', ...identity(certs)]);
  const at = String((await relay.waitEvent('metrics-listening')).address);
  return { certs, relay, at };
}

function curl(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('curl', ['--silent', '--show-error', '--max-time', '10', ...args], { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Scrapes /metrics with curl and checks the text with promtool; returns the samples by `name{labels}`. */
function scrape(at: string): Map<string, number> {
  const got = curl(['--fail', `http://${at}/metrics`]);
  expect(got).toMatchObject({ status: 0, stderr: '' });
  const check = spawnSync('promtool', ['check', 'metrics'], { input: got.stdout, encoding: 'utf8' });
  expect({ status: check.status, output: check.stdout + check.stderr }).toEqual({ status: 0, output: '' });
  const samples = new Map<string, number>();
  for (const line of got.stdout.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    samples.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return samples;
}

test.each(['integrated', 'blocking'] as const)(
  '%s mode: /metrics passes promtool and its counters and gauges follow real traffic',
  async (mode) => {
    const { certs, relay, at } = await relayWithMetrics(mode);
    const before = scrape(at);
    expect(before.get('logrelay_received_total')).toBe(0);
    expect(before.get('logrelay_subscribers')).toBe(0);
    expect(before.get(`logrelay_kernel_drops_total{input="${relay.inputs[0]}"}`)).toBe(0);

    await sendUdp(
      relay.udpPort,
      Array.from({ length: 50 }, (_, i) => message(i, 200)),
    );
    await relay.statsUntil('50 received', (s) => s.received === 50);
    const client = await ProtocolClient.connect(relay.tlsPort, certs, 'FROM oldest filter=kern.*');
    const all = await ProtocolClient.connect(relay.tlsPort, certs, 'FROM oldest');
    try {
      await all.waitFor('50 messages', (c) => c.messages.size === 50);
      await client.waitFor('50 seqs covered', (c) =>
        c.frames.some((f) => f.kind === 'SKIP' && f.first + f.count === 51),
      );
      await relay.statsUntil('50 delivered and filtered', (s) => s.delivered === 50 && s.filtered === 50);
      const after = scrape(at);
      expect(Object.fromEntries([...after].filter(([k]) => !k.includes('lag')))).toMatchObject({
        logrelay_received_total: 50,
        logrelay_received_bytes_total: 50 * 200,
        logrelay_delivered_total: 50,
        logrelay_sent_bytes_total: 50 * 201,
        logrelay_filtered_total: 50,
        'logrelay_dropped_total{reason="oldest"}': 0,
        'logrelay_dropped_total{reason="evicted"}': 0,
        logrelay_subscribers: 2,
        logrelay_history_messages: 50,
        logrelay_history_bytes: 50 * 201,
        logrelay_history_oldest_seq: 1,
        logrelay_history_next_seq: 51,
      });
      expect(after.get('logrelay_subscriber_lag_messages')).toBeGreaterThanOrEqual(0);
      // No label carries a subscriber's or sender's address.
      expect(
        [...after.keys()].filter(
          (k) => k.includes('{') && !/^logrelay_(dropped_total\{reason|kernel_drops_total\{input)=/.test(k),
        ),
      ).toEqual([]);
    } finally {
      client.close();
      all.close();
    }
    expect(await relay.stop()).toBe(0);
  },
  40000,
);

test('other paths are 404, other methods 405, HEAD has the headers without the body', async () => {
  const { at } = await relayWithMetrics('integrated');
  expect(curl(['--output', '/dev/null', '--write-out', '%{http_code}', `http://${at}/`]).stdout).toBe('404');
  expect(curl(['--output', '/dev/null', '--write-out', '%{http_code}', `http://${at}/metrics/x`]).stdout).toBe('404');
  const post = curl(['--include', '--data', 'x', `http://${at}/metrics`]);
  expect(post.stdout).toMatch(/^HTTP\/1\.1 405 /);
  expect(post.stdout).toMatch(/\r\nAllow: GET, HEAD\r\n/);
  const head = curl(['--head', `http://${at}/metrics`]);
  expect(head.stdout).toMatch(/^HTTP\/1\.1 200 /);
  expect(head.stdout).toMatch(/\r\nContent-Type: text\/plain; version=0\.0\.4; charset=utf-8\r\n/);
  expect(Number(/Content-Length: (\d+)/.exec(head.stdout)![1])).toBe(
    Buffer.byteLength(curl([`http://${at}/metrics`]).stdout),
  );
});

test('a request announcing a huge body is answered without reading it, and its connection is closed', async () => {
  const { at } = await relayWithMetrics('integrated');
  const [host, port] = [at.slice(0, at.lastIndexOf(':')), Number(at.slice(at.lastIndexOf(':') + 1))];
  const socket = net.connect(port, host);
  let response = '';
  socket.on('data', (c) => (response += c.toString('latin1')));
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);
  socket.write(`GET /metrics HTTP/1.1\r\nHost: ${at}\r\nContent-Length: 1000000000\r\n\r\n`);
  // Keep sending body bytes (up to 256 MiB): the server answers and ends the connection rather
  // than reading on; only what the socket buffers on both sides hold gets through.
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  let done = false;
  void closed.then(() => (done = true));
  for (let i = 0; i < 1024 && !done && !socket.destroyed; i++) {
    if (!socket.write(chunk)) await Promise.race([new Promise((r) => socket.once('drain', r)), closed]);
  }
  await closed;
  expect(response).toMatch(/^HTTP\/1\.1 200 /);
  expect(response).toMatch(/logrelay_received_total 0/);
  expect(socket.bytesWritten).toBeLessThan(32 * 1024 * 1024);
});

test('--metrics that is not an IP address and port: exit 2; a port in use: exit 1 naming it', async () => {
  const certs = makeCerts();
  const base = ['--json', '--udp', '127.0.0.1:0', '--tls', '127.0.0.1:0', ...identity(certs)];
  const bad = spawnSync(process.execPath, [LOGRELAY, ...base, '--metrics', 'nine-one-hundred'], { encoding: 'utf8' });
  expect(bad.status).toBe(2);
  expect(bad.stderr).toMatch(/--metrics: not an address: "nine-one-hundred"/);

  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  try {
    const port = (busy.address() as net.AddressInfo).port;
    const child = spawnChild(process.execPath, [LOGRELAY, ...base, '--metrics', `127.0.0.1:${port}`]);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    expect(await exitOf(child)).toBe(1);
    expect(stderr).toMatch(new RegExp(`EADDRINUSE.*127\\.0\\.0\\.1:${port}`));
  } finally {
    busy.close();
  }
});

test('a relay started without metrics never loads node:http (its memory is paid only when asked for)', () => {
  // A fresh process: the test runner itself has loaded http long ago.
  const certs = makeCerts();
  const script = `
    const { Relay } = require(${JSON.stringify(require.resolve('../dist'))});
    const relay = new Relay(${JSON.stringify(relayOptions(certs))}, () => {});
    relay.start().then(async () => {
      const loaded = process.moduleLoadList.some((m) => m === 'NativeModule http');
      await relay.stop({ drainMs: 0 });
      process.stdout.write(String(loaded));
    });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30000 });
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('false');
});
