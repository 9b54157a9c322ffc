/**
 * logrelay under systemd's protocols, without a running systemd: `systemd-socket-activate` binds
 * and passes the sockets (LISTEN_FDS, LISTEN_FDNAMES) and starts the relay at the first datagram,
 * and a notify socket bound here receives what the relay tells its service manager (sd_notify).
 * The shipped units pass `systemd-analyze verify`.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as net from 'net';
import * as fs from 'fs';
import * as path from 'path';
import { DatagramSocket, WOULD_BLOCK } from '../lib';
import { listenFds } from '../lib/relay/activation';
import {
  clientIdentity,
  cleanup,
  exitOf,
  freePort,
  LOGRELAY,
  LOGTAIL,
  CertFiles,
  makeCerts,
  message,
  ROOT,
  runToExit,
  sendUdp,
  spawnChild,
  tempDir,
  until,
  identity,
} from './relay-helpers';
import type { ChildProcess } from 'child_process';

afterEach(cleanup);

/** A notify socket as the service manager binds it: a unix datagram socket, each datagram one notification. */
class NotifySocket {
  readonly received: { at: bigint; fields: Record<string, string> }[] = [];
  readonly #socket = new DatagramSocket('unix');
  readonly #timer: NodeJS.Timeout;

  constructor(readonly address: string) {
    this.#socket.bind(address);
    this.#timer = setInterval(() => this.#drain(), 5);
  }

  #drain(): void {
    for (;;) {
      const batch = this.#socket.receive();
      if (batch === WOULD_BLOCK) return;
      for (let i = 0; i < batch.count; i++) {
        const lines = batch.data(i).toString().split('\n').filter(Boolean);
        this.received.push({
          at: process.hrtime.bigint() / 1000n,
          fields: Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])),
        });
      }
    }
  }

  /** The first notification from index `from` on that has `key`. */
  wait(key: string, from = 0, value?: string): Promise<Record<string, string>> {
    return until(
      `${key}${value ? `=${value}` : ''} on the notify socket (got ${JSON.stringify(this.received.map((r) => r.fields))})`,
      () =>
        this.received.slice(from).find((r) => key in r.fields && (value === undefined || r.fields[key] === value))
          ?.fields,
    );
  }

  close(): void {
    clearInterval(this.#timer);
    this.#socket.close();
  }
}

/** A child's stderr: systemd-socket-activate's own lines, then the relay's JSON lines. */
function stderrOf(child: ChildProcess): {
  text: () => string;
  events: () => { event: string; [k: string]: unknown }[];
} {
  let text = '';
  child.stderr!.on('data', (c: Buffer) => (text += c));
  return {
    text: () => text,
    events: () =>
      text
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l)),
  };
}

/**
 * systemd-socket-activate with its `activation` flags (which may end in a nested systemd-socket-activate
 * and its own flags), running `node logrelay` with `relay` flags; its stderr is read from the start.
 */
function activate(activation: string[], relay: string[]): { child: ChildProcess; err: ReturnType<typeof stderrOf> } {
  const child = spawnChild('systemd-socket-activate', [...activation, process.execPath, LOGRELAY, ...relay]);
  return { child, err: stderrOf(child) };
}

/** Waits until systemd-socket-activate says it listens on 127.0.0.1:`port`, as fd 3. */
function listeningOn(err: ReturnType<typeof stderrOf>, port: number, what: string): Promise<true> {
  return until(
    () => `the ${what} socket (stderr: ${err.text()})`,
    () => (err.text().includes(`Listening on 127.0.0.1:${port} as 3.`) ? true : undefined),
  );
}

/** The relay's `listening` line, once it has logged it (the relay starts at the first datagram or connection). */
function relayListening(err: ReturnType<typeof stderrOf>): Promise<{ event: string; [k: string]: unknown }> {
  return until(
    () => `listening (stderr: ${err.text()})`,
    () => err.events().find((e) => e.event === 'listening'),
  );
}

/** What logtail subscribed at `tls` prints of the oldest `count` messages, after which it exits 0. */
async function oldestMessages(tls: string, certs: CertFiles, count: number): Promise<string> {
  const r = await runToExit(LOGTAIL, [
    '--connect',
    tls,
    ...clientIdentity(certs),
    '--from',
    'oldest',
    '--count',
    String(count),
  ]);
  expect(r.code).toBe(0);
  return r.stdout;
}

const haveActivate = spawnSync('systemd-socket-activate', ['--version']).status === 0;
const haveAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

test('installed: systemd-socket-activate and systemd-analyze (Debian package systemd, which .ci/run installs)', () => {
  expect({ haveActivate, haveAnalyze }).toEqual({ haveActivate: true, haveAnalyze: true });
});

test.each(['integrated', 'blocking'])(
  'socket activation (%s mode): UDP and TLS sockets passed by name, a datagram sent before the relay ran is kept; READY=1, STATUS=, RELOADING=1 + MONOTONIC_USEC then READY=1 on SIGHUP, STOPPING=1',
  async (mode) => {
    const certs = makeCerts();
    const dir = tempDir();
    const notify = new NotifySocket(path.join(dir, 'notify'));
    try {
      const [udp, tcp] = [await freePort('udp'), await freePort('tcp')];
      // systemd-socket-activate passes on what it received: the outer one binds UDP and waits for the
      // first datagram, the inner one adds the TCP listener and names both, as two .socket units would.
      const { child, err } = activate(
        [
          ...['--datagram', `--listen=127.0.0.1:${udp}`, `--setenv=NOTIFY_SOCKET=${notify.address}`],
          ...['systemd-socket-activate', `--listen=127.0.0.1:${tcp}`, '--fdname=udp:tls', '--setenv=NOTIFY_SOCKET'],
        ],
        ['--json', ...identity(certs), '--stats-interval', '0', '--mode', mode],
      );
      await listeningOn(err, udp, 'UDP');
      expect(notify.received).toEqual([]);
      // Nothing runs the relay yet: this datagram waits in the socket and starts it.
      const early = message(1, 120, 'before-start');
      await sendUdp(udp, [early]);
      const listening = await relayListening(err);
      expect(listening).toMatchObject({ inputs: `127.0.0.1:${udp}`, tls: `127.0.0.1:${tcp}` });
      const ready = await notify.wait('READY');
      expect(ready).toEqual({
        READY: '1',
        MAINPID: String(child.pid),
        STATUS: expect.stringMatching(/^0 subscribers; received \d+, delivered 0, dropped 0, rejected 0$/),
      });

      expect(await oldestMessages(`127.0.0.1:${tcp}`, certs, 1)).toBe(early.toString() + '\n');

      let from = notify.received.length;
      child.kill('SIGUSR1');
      expect((await notify.wait('STATUS', from)).STATUS).toMatch(
        /^0 subscribers; received 1, delivered 1, dropped 0, rejected 0$/,
      );

      from = notify.received.length;
      const before = process.hrtime.bigint() / 1000n;
      child.kill('SIGHUP');
      const reloading = await notify.wait('RELOADING', from);
      const after = process.hrtime.bigint() / 1000n;
      expect(reloading).toEqual({ RELOADING: '1', MONOTONIC_USEC: expect.stringMatching(/^\d+$/) });
      // The same clock (CLOCK_MONOTONIC) on both sides: the relay's stamp lies between these two.
      expect(BigInt(reloading.MONOTONIC_USEC) >= before && BigInt(reloading.MONOTONIC_USEC) <= after).toBe(true);
      const reloadedAt = notify.received.findIndex((r, i) => i >= from && 'RELOADING' in r.fields);
      await notify.wait('READY', reloadedAt + 1);
      expect(err.events().some((e) => e.event === 'reloaded')).toBe(true);

      from = notify.received.length;
      child.kill('SIGTERM');
      expect(await notify.wait('STOPPING', from)).toMatchObject({ STOPPING: '1' });
      expect(await exitOf(child)).toBe(0);
    } finally {
      notify.close();
    }
  },
);

test('socket activation of a unix datagram input, notify socket in the abstract namespace; the subscriber port bound by the relay itself', async () => {
  const certs = makeCerts();
  const dir = tempDir();
  const notify = new NotifySocket(`@pollset-test-${process.pid}-${Date.now()}`);
  const sender = new DatagramSocket('unix');
  try {
    const sock = path.join(dir, 'log');
    const { child, err } = activate(
      ['--datagram', `--listen=${sock}`, '--fdname=unix', `--setenv=NOTIFY_SOCKET=${notify.address}`],
      ['--json', '--tls', '127.0.0.1:0', ...identity(certs)],
    );
    await until(
      () => `the unix socket (stderr: ${err.text()})`,
      () => (fs.existsSync(sock) ? true : undefined),
    );
    const early = message(1, 80, 'unix-early');
    sender.send(early, sock);
    await notify.wait('READY');
    const listening = err.events().find((e) => e.event === 'listening')!;
    // The relay's own listener, and no default UDP input: an activated input is an input.
    expect(listening).toMatchObject({ inputs: sock, tls: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(await oldestMessages(String(listening.tls), certs, 1)).toBe(early.toString() + '\n');
    child.kill('SIGTERM');
    expect(await exitOf(child)).toBe(0);
    // The socket file belongs to whoever bound it (systemd): the relay leaves it.
    expect(fs.existsSync(sock)).toBe(true);
  } finally {
    sender.close();
    notify.close();
  }
});

test('socket activation of a TCP syslog input (named tcp): the connection that started the relay is accepted, its messages delivered', async () => {
  const certs = makeCerts();
  const tcp = await freePort('tcp');
  const { child, err } = activate(
    [`--listen=127.0.0.1:${tcp}`, '--fdname=tcp'],
    ['--json', '--tls', '127.0.0.1:0', ...identity(certs), '--stats-interval', '0'],
  );
  await listeningOn(err, tcp, 'TCP');
  // This connection starts the relay; it waits in the backlog of the socket the relay inherits.
  const sender = net.connect(tcp, '127.0.0.1');
  const lines = [message(1, 60, 'activated-tcp'), message(2, 60, 'activated-tcp')];
  sender.write(Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));
  const listening = await relayListening(err);
  // No default UDP input: an activated TCP input is an input.
  expect(listening).toMatchObject({ inputs: '', tcp: `127.0.0.1:${tcp}` });
  expect(await oldestMessages(String(listening.tls), certs, 2)).toBe(lines.map((l) => l.toString() + '\n').join(''));
  sender.destroy();
  child.kill('SIGTERM');
  expect(await exitOf(child)).toBe(0);
});

test('socket activation mistakes are one line and exit 2: a TCP socket named udp, a name that is no listener flag, --tls given twice', async () => {
  const certs = makeCerts();
  const files = identity(certs);
  const cases: [string[], string][] = [
    [['--fdname=udp'], 'logrelay: inherited fd 3 named "udp" is a listening TCP socket, not a UDP socket'],
    [
      ['--fdname=syslog'],
      'logrelay: socket activation: fd 3 is named "syslog"; FileDescriptorName= must be one of udp, unix, tcp, tls-in, tls',
    ],
    [
      ['--fdname=tls', '--tls', '127.0.0.1:0'],
      'logrelay: --tls: the subscriber socket was also passed by socket activation (named tls): give one',
    ],
  ];
  for (const [args, expected] of cases) {
    const port = await freePort('tcp');
    const relayArgs = args.filter((a) => !a.startsWith('--fdname'));
    const { child, err } = activate([`--listen=127.0.0.1:${port}`, args[0]], [...relayArgs, ...files]);
    await listeningOn(err, port, 'TCP');
    // A connection starts the relay, as it would under systemd.
    const knock = net.connect(port, '127.0.0.1').on('error', () => undefined);
    expect(await exitOf(child)).toBe(2);
    knock.destroy();
    const own = err
      .text()
      .split('\n')
      .filter((l) => l.startsWith('logrelay:'));
    expect(own).toEqual([expected]);
  }
});

test('a NOTIFY_SOCKET that is no unix socket address is one line and exit 2', async () => {
  const certs = makeCerts();
  for (const bad of ['relative/notify', `/${'x'.repeat(200)}`]) {
    const r = await runToExit(LOGRELAY, ['--udp', '127.0.0.1:0', '--tls', '127.0.0.1:0', ...identity(certs)], {
      env: { ...process.env, NOTIFY_SOCKET: bad },
    });
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: `logrelay: NOTIFY_SOCKET is not a unix socket path or @name: ${JSON.stringify(bad)}\n`,
    });
  }
});

test('listenFds: only for this pid, names in order (several may share one), variables removed once read, bad counts refused', () => {
  const env: NodeJS.ProcessEnv = { LISTEN_PID: '42', LISTEN_FDS: '3', LISTEN_FDNAMES: 'udp:tls:udp', OTHER: 'x' };
  expect([...listenFds(env, 42)]).toEqual([
    ['udp', [3, 5]],
    ['tls', [4]],
  ]);
  expect(env).toEqual({ OTHER: 'x' });
  const forOther: NodeJS.ProcessEnv = { LISTEN_PID: '41', LISTEN_FDS: '1' };
  expect(listenFds(forOther, 42).size).toBe(0);
  expect(forOther).toEqual({});
  expect(() => listenFds({ LISTEN_PID: '42', LISTEN_FDS: '2', LISTEN_FDNAMES: 'udp' }, 42)).toThrow(
    'LISTEN_FDNAMES names 1 sockets, LISTEN_FDS passes 2',
  );
  expect(() => listenFds({ LISTEN_PID: '42', LISTEN_FDS: 'two' }, 42)).toThrow(
    'LISTEN_FDS is not a count of fds: "two"',
  );
  expect([...listenFds({ LISTEN_PID: '42', LISTEN_FDS: '1' }, 42)]).toEqual([['unknown', [3]]]);
});

test("the shipped units pass systemd-analyze verify (with ExecStart pointing at this checkout's logrelay)", () => {
  const dir = tempDir();
  const units = path.join(ROOT, 'contrib', 'systemd');
  for (const name of fs.readdirSync(units)) fs.copyFileSync(path.join(units, name), path.join(dir, name));
  const service = path.join(dir, 'logrelay.service');
  const text = fs.readFileSync(service, 'utf8');
  expect(text).toContain('ExecStart=/usr/local/bin/logrelay ');
  // verify checks that the program exists: the one installed by `npm install -g` is this one.
  fs.writeFileSync(service, text.replace('ExecStart=/usr/local/bin/logrelay ', `ExecStart=${LOGRELAY} `));
  const r = spawnSync(
    'systemd-analyze',
    ['verify', service, path.join(dir, 'logrelay-udp.socket'), path.join(dir, 'logrelay-tls.socket')],
    { encoding: 'utf8' },
  );
  expect({ status: r.status, stderr: r.stderr, stdout: r.stdout }).toEqual({ status: 0, stderr: '', stdout: '' });
  // ExecStart as systemd would run it, credentials and state directory filled in: --check accepts it.
  const certs = makeCerts();
  const credentials = tempDir();
  fs.copyFileSync(certs.serverCert, path.join(credentials, 'cert.pem'));
  fs.copyFileSync(certs.serverKey, path.join(credentials, 'key.pem'));
  fs.copyFileSync(certs.ca, path.join(credentials, 'ca.pem'));
  const execStart = /^ExecStart=\/usr\/local\/bin\/logrelay (.*)$/m
    .exec(text)![1]
    .replace(/\$\{CREDENTIALS_DIRECTORY\}/g, credentials)
    .replace(/\$\{STATE_DIRECTORY\}/g, path.join(dir, 'state'))
    .replace('/etc/logrelay/logrelay.conf', path.join(units, 'logrelay.conf'));
  expect(execFileSync(process.execPath, [LOGRELAY, '--check', ...execStart.split(' ')], { encoding: 'utf8' })).toBe(
    'logrelay: configuration OK\n',
  );
});
