/**
 * logtail as a long-running subscriber, with real logrelay and logtail processes on loopback:
 * it reconnects (a relay down at start, a relay restart), `--no-reconnect` exits at the first
 * disconnect, signals end it cleanly, and bad flags or a bad state file are clear errors.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  clientIdentity,
  cleanup,
  exitOf,
  freePort,
  LOGTAIL,
  makeCerts,
  message,
  RelayProcess,
  sendUdp,
  spawnChild,
  Tail,
  tempDir,
  until,
  identity,
} from './relay-helpers';

afterEach(cleanup);

function runTail(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [LOGTAIL, ...args], { timeout: 15000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Sends numbered messages until logtail has printed at least one of them (its subscription may still be starting). */
async function sendUntilSeen(relay: RelayProcess, tail: Tail, tag: string): Promise<void> {
  for (let i = 0; ; i++) {
    await sendUdp(relay.udpPort, [message(i, 120, tag)]);
    try {
      await until('a message', () => (tail.messages.some((m) => m.includes(tag)) ? true : undefined), 200);
      return;
    } catch {
      if (i > 100) throw new Error(`logtail printed no ${tag} message (stderr: ${tail.stderr})`);
    }
  }
}

test('a relay that is down at start: logtail retries with backoff and connects when it comes up', async () => {
  const certs = makeCerts();
  const port = await freePort();
  const tail = new Tail(
    spawnChild(process.execPath, [LOGTAIL, '--connect', `localhost:${port}`, ...clientIdentity(certs)]),
  );
  await until(
    () => `two failed attempts (stderr: ${tail.stderr})`,
    () => ((tail.stderr.match(/reconnecting in/g) ?? []).length >= 2 ? true : undefined),
    15000,
  );
  expect(tail.stderr).toMatch(
    new RegExp(
      `^logtail: cannot connect to localhost:${port}: ECONNREFUSED.*\\nlogtail: reconnecting in \\d+\\.\\d s\\n`,
    ),
  );
  const relay = await RelayProcess.start(['--tls', `127.0.0.1:${port}`, '--udp', '127.0.0.1:0', ...identity(certs)], {
    defaults: false,
  });
  // The longest wait before the next attempt is below 30 s; a few attempts in, it is a few seconds.
  await until(
    () => `logtail to connect (stderr: ${tail.stderr})`,
    () => (relay.connectedCount > 0 ? true : undefined),
    35000,
  );
  expect(tail.stderr).toMatch(
    new RegExp(`logtail: connected to localhost:${port} \\(127\\.0\\.0\\.1:${port}; subject CN=relay test server\\)`),
  );
  await sendUntilSeen(relay, tail, 'up');
}, 60000);

test('--no-reconnect: logtail exits 0 when the relay shuts down, saying it was cut off and why', async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start(identity(certs));
  const tail = await Tail.start(relay, certs, ['--no-reconnect']);
  await sendUntilSeen(relay, tail, 'before');
  await relay.stop('SIGTERM');
  expect(await exitOf(tail.child)).toBe(0);
  expect(tail.stderr).toMatch(/logtail: cut off: the relay said BYE shutdown\n$/);
  expect(tail.stderr).not.toMatch(/reconnecting/);
}, 30000);

test('without --no-reconnect, logtail outlives a relay restart and prints what the new relay sends', async () => {
  const certs = makeCerts();
  const first = await RelayProcess.start(identity(certs));
  const port = first.tlsPort;
  const tail = await Tail.start(first, certs);
  await sendUntilSeen(first, tail, 'first');
  await first.stop('SIGTERM');
  await until(
    () => `a reconnect attempt (stderr: ${tail.stderr})`,
    () => (/cut off: the relay said BYE shutdown\nlogtail: reconnecting in/.test(tail.stderr) ? true : undefined),
  );
  const second = await RelayProcess.start(['--tls', `127.0.0.1:${port}`, '--udp', '127.0.0.1:0', ...identity(certs)], {
    defaults: false,
  });
  await until(
    () => `logtail to connect again (stderr: ${tail.stderr})`,
    () => (second.connectedCount > 0 ? true : undefined),
    35000,
  );
  await sendUntilSeen(second, tail, 'second');
  expect(tail.child.exitCode).toBeNull();
  expect((tail.stderr.match(/logtail: connected to/g) ?? []).length).toBe(2);
}, 60000);

test.each(['SIGTERM', 'SIGINT'] as const)(
  '%s ends logtail with exit 0, connected or waiting to reconnect',
  async (signal) => {
    const certs = makeCerts();
    const relay = await RelayProcess.start(identity(certs));
    const connected = await Tail.start(relay, certs);
    await sendUntilSeen(relay, connected, 'sig');
    connected.child.kill(signal);
    expect(await exitOf(connected.child)).toBe(0);

    const port = await freePort();
    const waiting = new Tail(
      spawnChild(process.execPath, [LOGTAIL, '--connect', `127.0.0.1:${port}`, ...clientIdentity(certs)]),
    );
    await until(
      () => `a backoff wait (stderr: ${waiting.stderr})`,
      () => (/reconnecting in/.test(waiting.stderr) ? true : undefined),
    );
    waiting.child.kill(signal);
    expect(await exitOf(waiting.child)).toBe(0);
  },
  30000,
);

test.each([
  [['--from', 'newest'], /--from must be oldest, live or a sequence number ≥ 1, not "newest"/],
  [['--from', '0'], /--from must be oldest, live or a sequence number ≥ 1, not "0"/],
  [['--connect', 'relay.example'], /--connect must be HOST:PORT, not "relay.example"/],
  [['--connect', 'relay.example:99999'], /--connect must be HOST:PORT/],
  [['--keepalive', '32768'], /--keepalive must be an integer from 0 to 32767, not "32768"/],
  [['--keepalive', '1.5'], /--keepalive must be an integer from 0 to 32767, not "1.5"/],
  [['--plain', '--state', 'state.json'], /--plain has no sequence numbers: it cannot go with --state or --from/],
])(
  'bad value %j: one line on stderr, exit code 2',
  async (args, pattern) => {
    const certs = makeCerts();
    const r = await runTail([...clientIdentity(certs), ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  },
  20000,
);

test('a state file that cannot be used: one line naming it, exit 1, the output untouched', async () => {
  const certs = makeCerts();
  const dir = tempDir();
  const state = path.join(dir, 'state');
  fs.writeFileSync(state, '{"log":"0123456789abcdef","seq":');
  const r = await runTail([...clientIdentity(certs), '--state', state, '--connect', '127.0.0.1:1']);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(
    `logtail: state file ${state}: not JSON: "{\\"log\\":\\"0123456789abcdef\\",\\"seq\\":" (remove it to start afresh with --from)\n`,
  );
}, 20000);

test('--state with stdout and stderr on the same file is refused (stderr lines would corrupt the counted output)', async () => {
  const certs = makeCerts();
  const dir = tempDir();
  const out = path.join(dir, 'out.log');
  const fd = fs.openSync(out, 'a');
  try {
    const child = spawnChild(
      process.execPath,
      [LOGTAIL, ...clientIdentity(certs), '--state', path.join(dir, 'state')],
      { stdio: ['ignore', fd, fd] },
    );
    expect(await exitOf(child)).toBe(2);
  } finally {
    fs.closeSync(fd);
  }
  expect(fs.readFileSync(out, 'utf8')).toMatch(/^logtail: with --state, stdout must not also be stderr/);
}, 20000);

test('a plain relay (openssl s_server, no ALPN): messages arrive in --framing as before, and no state is written', async () => {
  const certs = makeCerts();
  // logtail retries until s_server listens on the port.
  const port = await freePort();
  const server = spawnChild('openssl', [
    's_server',
    '-quiet',
    '-accept',
    `127.0.0.1:${port}`,
    '-cert',
    certs.serverCert,
    '-key',
    certs.serverKey,
    '-CAfile',
    certs.ca,
    '-Verify',
    '1',
    '-naccept',
    '1',
  ]);
  const state = path.join(tempDir(), 'state');
  const tail = new Tail(
    spawnChild(process.execPath, [
      LOGTAIL,
      '--connect',
      `127.0.0.1:${port}`,
      ...clientIdentity(certs),
      '--state',
      state,
      '--framing',
      'octet',
      '--count',
      '3',
    ]),
  );
  await until(
    () => `logtail to connect (stderr: ${tail.stderr})`,
    () => (/connected to/.test(tail.stderr) ? true : undefined),
  );
  expect(tail.stderr).toMatch(
    `logtail: connected to 127.0.0.1:${port} (subject CN=relay test server; plain: the relay does not speak logrelay/1; no resume, the state is not updated)\n`,
  );
  server.stdin!.write('4 one\n9 two\nthree9 four four');
  expect(await exitOf(tail.child)).toBe(0);
  expect(tail.output.toString()).toBe('one\n\ntwo\nthree\nfour four\n');
  expect(fs.existsSync(state)).toBe(false);
}, 30000);
