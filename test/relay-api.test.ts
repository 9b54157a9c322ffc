/**
 * The Relay class used from code: `stop({ drainMs })` takes an integer from 0 to 2³¹−1 ms like the
 * relay's other time options; anything else is a RangeError naming drainMs, and the relay runs on.
 * Options that cannot work are refused in the constructor; a start that cannot bind says why.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { close, createLogger, Relay, tcp } from '../lib';
import { cleanup, makeCerts, relayOptions, ROOT } from './relay-helpers';

afterEach(cleanup);

const BAD = [NaN, -1, 1.5, Infinity, -Infinity, 2 ** 31, 2 ** 32, '100', null, {}];

// Integrated mode: the check comes before anything that depends on the mode (and a blocking relay
// needs the compiled worker, which the sources under test do not have).
test('stop with a bad drainMs is a RangeError naming it, and the relay keeps running', async () => {
  const mode = 'integrated';
  const certs = makeCerts();
  const lines: string[] = [];
  const relay = new Relay({ ...relayOptions(certs), mode }, createLogger({ write: (line) => lines.push(line) }));
  for (const drainMs of BAD) {
    // Refused before it is started too: the check does not depend on the relay's state.
    await expect(relay.stop({ drainMs: drainMs as number })).rejects.toThrow(
      new RangeError(
        `relay stop option drainMs must be an integer from 0 to 2147483647, not ${typeof drainMs === 'number' ? drainMs : typeof drainMs}`,
      ),
    );
  }
  await relay.start();
  for (const drainMs of BAD) await expect(relay.stop({ drainMs: drainMs as number })).rejects.toThrow(RangeError);
  // Still running: nothing stopped it.
  expect(lines.filter((l) => / stopped\b/.test(l))).toEqual([]);
  let finished = false;
  void relay.finished.then(() => (finished = true));
  await new Promise((r) => setTimeout(r, 100));
  expect(finished).toBe(false);
  await relay.stop({ drainMs: 2 ** 31 - 1 }); // the largest is fine: nothing is queued, so it does not wait
  await relay.finished;
  expect(lines.filter((l) => / stopped\b/.test(l))).toHaveLength(1);
}, 30000);

test('a relay started again after it stopped logs again: each run ends with its own `stopped` line', async () => {
  const certs = makeCerts();
  const lines: string[] = [];
  const relay = new Relay(relayOptions(certs), createLogger({ write: (line) => lines.push(line) }));
  for (let run = 0; run < 2; run++) {
    await relay.start();
    relay.logStats();
    await relay.stop({ drainMs: 0 });
    relay.logStats(); // after `stopped`: not logged
  }
  expect(lines.map((l) => l.split(' ')[2])).toEqual(['listening', 'stats', 'stopped', 'listening', 'stats', 'stopped']);
}, 30000);

test('keepAliveS: an integer from 0 (off) to 32767 seconds, else a RangeError naming it', () => {
  const certs = makeCerts();
  const base = relayOptions(certs);
  for (const keepAliveS of [-1, 1.5, 32768, NaN]) {
    expect(() => new Relay({ ...base, keepAliveS })).toThrow(
      new RangeError(`relay option keepAliveS must be an integer from 0 to 32767, not ${keepAliveS}`),
    );
  }
  for (const keepAliveS of [0, 1, 32767]) expect(() => new Relay({ ...base, keepAliveS })).not.toThrow();
});

// The relay runs in a child: as root it is made another user (root may unlink anything), so that on every
// machine the directory refuses the unlink. The old socket file is left by a process that has exited.
test('a stale unix socket file that cannot be removed fails start with that error (EACCES and the path), not EADDRINUSE', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-stale-'));
  const sock = path.join(dir, 'in.sock');
  execFileSync(process.execPath, [
    '-e',
    `require(${JSON.stringify(path.join(ROOT, 'dist'))}).bindDatagram('unix', ${JSON.stringify(sock)})`,
  ]);
  expect(fs.lstatSync(sock).isSocket()).toBe(true);
  fs.chmodSync(dir, 0o555);
  const script = `
    const { Relay, createLogger, makeDevCa, makeServerCert } = require(${JSON.stringify(path.join(ROOT, 'dist'))});
    const ca = makeDevCa({ cn: 'stale CA' });
    const server = makeServerCert(ca, { cn: 'stale server' });
    const relay = new Relay(
      { unix: [${JSON.stringify(sock)}], tls: '127.0.0.1:0', cert: server.cert, key: server.key, ca: ca.cert, statsIntervalS: 0 },
      createLogger({ write: () => {} }),
    );
    relay.start().then(
      () => relay.stop().then(() => console.log(JSON.stringify({ started: true }))),
      (e) => console.log(JSON.stringify({ code: e.code, message: e.message })),
    );`;
  const asOther = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  try {
    const out = execFileSync(process.execPath, ['-e', script], { ...asOther, encoding: 'utf8', timeout: 20_000 });
    const result = JSON.parse(out.trim());
    expect(result).toEqual({ code: 'EACCES', message: expect.stringContaining(sock) });
    expect(fs.lstatSync(sock).isSocket()).toBe(true);
  } finally {
    fs.chmodSync(dir, 0o755);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 30000);

test("a TLS input passed in listenFds['tls-in'] needs inCa unless inVerify is none, as a tlsIn address does", () => {
  const certs = makeCerts();
  const fd = tcp.listen('127.0.0.1:0');
  try {
    const passed = { ...relayOptions(certs), udp: [], listenFds: { 'tls-in': [fd] } };
    expect(() => new Relay(passed)).toThrow(
      new RangeError(
        "relay option inCa is required for TLS inputs (tlsIn, listenFds['tls-in']) unless inVerify is none",
      ),
    );
    expect(() => new Relay({ ...passed, tlsIn: ['127.0.0.1:0'], listenFds: {} })).toThrow(/inCa is required/);
    expect(new Relay({ ...passed, inVerify: 'none' }).options.listenFds).toEqual({ 'tls-in': [fd] });
    expect(new Relay({ ...passed, inCa: { file: certs.ca } }).options.inVerify).toBe('require');
  } finally {
    close(fd);
  }
});
