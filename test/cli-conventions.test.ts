/**
 * The CLIs' conventions, on the real `logrelay` and `logtail`: `-V`/`--version`, `-h`/`--help`,
 * `--config FILE` under the command line, and `--check`, which finds every problem and binds nothing.
 */
import * as dgram from 'dgram';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { makeServerCert, makeDevCa } from '../lib';
import {
  clientIdentity,
  cleanup,
  LOGRELAY,
  LOGTAIL,
  makeCerts,
  RelayProcess,
  ROOT,
  runToExit,
  tempDir,
  writePem,
  identity,
} from './relay-helpers';

afterEach(cleanup);

const VERSION = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version as string;

test('-V and --version print the name and the package version; -h and --help print the usage and every flag, exit 0', async () => {
  for (const [bin, name] of [
    [LOGRELAY, 'logrelay'],
    [LOGTAIL, 'logtail'],
  ]) {
    for (const flag of ['-V', '--version'])
      expect(await runToExit(bin, [flag])).toEqual({ code: 0, stdout: `${name} ${VERSION}\n`, stderr: '' });
    const short = await runToExit(bin, ['-h']);
    expect(short).toEqual({ code: 0, stdout: expect.stringMatching(new RegExp(`^usage: ${name} `)), stderr: '' });
    expect(await runToExit(bin, ['--help'])).toEqual(short);
    for (const flag of ['--config FILE', '-V, --version', '-h, --help', '--cert FILE'])
      expect(short.stdout).toContain(flag);
  }
  expect((await runToExit(LOGRELAY, ['-x'])).stderr).toBe('logrelay: unexpected argument "-x"\n');
});

test('--config: any flag by its name, the command line overrides it, and every mistake names the file, line and key', async () => {
  const certs = makeCerts();
  const dir = tempDir();
  const conf = path.join(dir, 'logrelay.conf');
  // Written as some editors do: a byte order mark first, CRLF line ends.
  fs.writeFileSync(
    conf,
    '\uFEFF' +
      [
        '# logrelay test configuration',
        'udp = 127.0.0.1:0',
        'tls = 127.0.0.1:0',
        `cert = ${certs.serverCert}`,
        `key = ${certs.serverKey}`,
        `ca = "${certs.ca}"`,
        'framing = octet',
        '',
        'json',
        'history = 500',
      ].join('\r\n'),
  );
  // --framing on the command line wins over the file's; everything else comes from the file.
  const relay = await RelayProcess.start(['--config', conf, '--framing', 'lf'], { defaults: false });
  expect(relay.all('listening')[0]).toMatchObject({
    framing: 'lf',
    inputs: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
  });
  await relay.stop();
  const octet = await RelayProcess.start(['--config', conf], { defaults: false });
  expect(octet.all('listening')[0]).toMatchObject({ framing: 'octet' });
  await octet.stop();

  const bad = async (lines: string[], expected: string) => {
    fs.writeFileSync(conf, lines.join('\n'));
    expect(await runToExit(LOGRELAY, ['--config', conf, ...identity(certs)])).toEqual({
      code: 2,
      stdout: '',
      stderr: `logrelay: ${expected}\n`,
    });
  };
  await bad(['udp = 127.0.0.1:0', 'nope = 1'], `${conf}:2: unknown key "nope"`);
  await bad(['# c', '', 'history = lots'], `${conf}:3: --history must be an integer from 1 to 100000000, not "lots"`);
  await bad(['tls = 127.0.0.1:0', 'tls = 127.0.0.1:1'], `${conf}:2: key tls given twice (first at line 1)`);
  await bad(['json = yes'], `${conf}:1: key json is true or false, not "yes"`);
  await bad(['cert'], `${conf}:1: key cert needs a value (FILE)`);
  await bad(['= 3'], `${conf}:1: expected NAME = VALUE or NAME, not "= 3"`);
  // A file that is not a configuration at all: the line is shown cut, not in full.
  await bad(['x'.repeat(100000) + ' !'], `${conf}:1: expected NAME = VALUE or NAME, not "${'x'.repeat(60)}…"`);
  await bad(['config = other.conf'], `${conf}:1: unknown key "config" (command line only)`);
  expect(await runToExit(LOGRELAY, ['--config', path.join(dir, 'missing.conf')])).toMatchObject({
    code: 2,
    stderr: expect.stringMatching(/^logrelay: --config: cannot read .*missing\.conf: ENOENT/),
  });
  // logtail reads the same format.
  fs.writeFileSync(conf, 'count = many\n');
  expect(await runToExit(LOGTAIL, ['--config', conf, ...clientIdentity(certs)])).toEqual({
    code: 2,
    stdout: '',
    stderr: `logtail: ${conf}:1: --count must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}, not "many"\n`,
  });
});

/** A UDP port and a TCP port held by this process for the test's length, so binding them fails. */
async function heldPorts(): Promise<{ udp: number; tcp: number; release: () => Promise<void> }> {
  const u = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => u.bind(0, '127.0.0.1', resolve));
  const t = net.createServer();
  await new Promise<void>((resolve) => t.listen(0, '127.0.0.1', resolve));
  return {
    udp: u.address().port,
    tcp: (t.address() as net.AddressInfo).port,
    release: async () => {
      u.close();
      await new Promise((resolve) => t.close(resolve));
    },
  };
}

test('--check on a good configuration: exit 0, and nothing bound or created (the ports it names are held by someone else all along)', async () => {
  const certs = makeCerts();
  const dir = tempDir();
  const held = await heldPorts();
  try {
    const args = [
      '--udp',
      `127.0.0.1:${held.udp}`,
      '--udp',
      'localhost:0',
      '--unix',
      path.join(dir, 'log.sock'),
      '--tls',
      `127.0.0.1:${held.tcp}`,
      '--history-dir',
      path.join(dir, 'history'),
      ...identity(certs),
    ];
    expect(await runToExit(LOGRELAY, ['--check', ...args])).toEqual({
      code: 0,
      stdout: 'logrelay: configuration OK\n',
      stderr: '',
    });
    expect(fs.readdirSync(dir)).toEqual([]);
    // The same flags without --check do bind, and fail on the held ports: --check really did not bind them.
    expect(await runToExit(LOGRELAY, args)).toMatchObject({ code: 1, stderr: expect.stringMatching(/EADDRINUSE/) });
  } finally {
    await held.release();
  }
});

test('--check reports one line per problem: flags, host names, files, a key that does not match, an empty CA', async () => {
  const certs = makeCerts();
  const dir = tempDir();
  const files = [...identity(certs)];
  const many = await runToExit(LOGRELAY, [
    '--check',
    '--udp',
    'nonexistent.invalid:514',
    '--history',
    '0',
    '--framing',
    'xml',
    '--cert',
    certs.serverCert,
    '--key',
    certs.serverKey,
    '--ca',
    path.join(dir, 'no-ca.pem'),
  ]);
  expect(many.code).toBe(2);
  expect(many.stdout).toBe('');
  expect(many.stderr.split('\n').filter(Boolean)).toEqual([
    'logrelay: --udp: cannot resolve nonexistent.invalid (no such host) in nonexistent.invalid:514',
    'logrelay: --framing must be one of lf, octet, not "xml"',
    'logrelay: --history must be an integer from 1 to 100000000, not "0"',
    `logrelay: --ca: cannot read ${path.join(dir, 'no-ca.pem')} (ENOENT)`,
  ]);
  // A key of another certificate.
  const other = makeServerCert(makeDevCa({ cn: 'other' }), { cn: 'other server' });
  const otherKey = writePem(dir, 'other-key.pem', other.key);
  expect(
    await runToExit(LOGRELAY, ['--check', '--cert', certs.serverCert, '--key', otherKey, '--ca', certs.ca]),
  ).toEqual({
    code: 2,
    stdout: '',
    stderr: `logrelay: --cert ${certs.serverCert} with --key ${otherKey}: cannot use private key: key values mismatch\n`,
  });
  // A CA file without a certificate in it.
  const empty = writePem(dir, 'empty-ca.pem', '');
  expect(
    await runToExit(LOGRELAY, ['--check', '--cert', certs.serverCert, '--key', certs.serverKey, '--ca', empty]),
  ).toEqual({
    code: 2,
    stdout: '',
    stderr: `logrelay: --ca ${empty}: no certificate in CA PEM (${empty})\n`,
  });
  // A history directory that cannot be made: a file stands where its parent should be.
  const blocker = writePem(dir, 'plain-file', 'x');
  expect(await runToExit(LOGRELAY, ['--check', ...files, '--history-dir', path.join(blocker, 'history')])).toEqual({
    code: 2,
    stdout: '',
    stderr: `logrelay: --history-dir: ${blocker} is not a directory\n`,
  });
});
