/** `logrelay`: the relay's command line — flags in, a running Relay out, signals wired. */
import * as path from 'path';
import { Address } from '../net/address';
import { Pollset } from '../pollset';
import { createLogger, Logger } from '../relay/log';
import { DEFAULT_DEMO_DIR, ensureDemo } from '../relay/demo';
import { defaults, limits, normalizeFingerprint, RelayOptions } from '../relay/options';
import { inputCounts } from '../relay/inputs';
import { Relay } from '../relay/relay';
import { monotonicUsec, Notifier } from '../relay/sdnotify';
import { checkNames, listenFds } from '../relay/activation';
import { LEVELS } from '../relay/log';
import { TlsContext } from '../tls';
import { isAddressFlag, resolveAddressFlags } from './addresses';
import { collectUsage, readableFile, writableDir } from './check';
import { COMMON_SPECS, CommandLine } from './command-line';
import { FlagSpec, Flags, UsageError } from './flags';
import { statusText, teller } from './service';
import { STREAM_INPUT_FLAGS, streamInputOptions } from './stream-input-flags';

const SPECS: FlagSpec[] = [
  {
    name: 'udp',
    kind: 'string',
    repeatable: true,
    value: 'HOST:PORT',
    help: 'receive syslog over UDP (default 127.0.0.1:5514 when no input is given)',
  },
  { name: 'unix', kind: 'string', repeatable: true, value: 'PATH', help: 'receive syslog on a unix datagram socket' },
  ...STREAM_INPUT_FLAGS,
  { name: 'tls', kind: 'string', value: 'HOST:PORT', help: 'listen for TLS subscribers (default 127.0.0.1:6514)' },
  { name: 'cert', kind: 'string', value: 'FILE', help: 'server certificate chain (PEM)' },
  { name: 'key', kind: 'string', value: 'FILE', help: 'server private key (PEM)' },
  { name: 'ca', kind: 'string', value: 'FILE', help: 'CA that subscriber certificates must chain to (PEM)' },
  {
    name: 'issuer',
    kind: 'string',
    value: 'DN',
    help: 'require this exact issuer DN (RFC 2253, as openssl -nameopt RFC2253 prints it)',
  },
  {
    name: 'fingerprint',
    kind: 'string',
    repeatable: true,
    value: 'sha256:HEX',
    help: 'allow only these subscriber certificates',
  },
  { name: 'framing', kind: 'string', value: 'lf|octet', help: `message framing (default ${defaults.framing})` },
  {
    name: 'receive-buffer',
    kind: 'string',
    value: 'B',
    help: 'SO_RCVBUF of each input (default 8 MiB; Linux caps it at net.core.rmem_max): what absorbs a burst',
  },
  {
    name: 'history',
    kind: 'string',
    value: 'N',
    help: `messages the log keeps for subscribers that are behind or resume (default ${defaults.history})`,
  },
  {
    name: 'history-bytes',
    kind: 'string',
    value: 'B',
    help: `framed bytes the log keeps (default ${defaults.historyBytes})`,
  },
  {
    name: 'history-dir',
    kind: 'string',
    value: 'DIR',
    help: 'keep the log in segment files in DIR: it and its sequence survive a restart',
  },
  {
    name: 'fsync',
    kind: 'string',
    value: 'POLICY',
    help: `with --history-dir: never|interval|always (default ${defaults.fsync}, about every second)`,
  },
  {
    name: 'queue',
    kind: 'string',
    value: 'N',
    help: `messages a live subscriber may be behind (default ${defaults.queue})`,
  },
  {
    name: 'queue-bytes',
    kind: 'string',
    value: 'B',
    help: `framed bytes a live subscriber may be behind (default ${defaults.queueBytes})`,
  },
  {
    name: 'on-full',
    kind: 'string',
    value: 'POLICY',
    help: `beyond that: drop-oldest|drop-newest|disconnect (default ${defaults.onFull})`,
  },
  { name: 'handshake-timeout', kind: 'string', value: 'MS', help: `default ${defaults.handshakeTimeoutMs}` },
  {
    name: 'max-handshakes',
    kind: 'string',
    value: 'N',
    help: `pending handshakes at most; beyond, the oldest of the busiest address is cut (default ${defaults.maxHandshakes})`,
  },
  {
    name: 'max-handshakes-per-ip',
    kind: 'string',
    value: 'N',
    help: `pending handshakes from one IP (an IPv6 /64) at most; beyond, its oldest is cut (default ${defaults.maxHandshakesPerIp})`,
  },
  {
    name: 'rejection-log',
    kind: 'string',
    value: 'N/S',
    help: `log N rejected handshakes per S seconds in full, then one summary line (default ${defaults.rejectionLogBurst}/${defaults.rejectionLogIntervalS})`,
  },
  {
    name: 'write-timeout',
    kind: 'string',
    value: 'MS',
    help: `disconnect a subscriber whose write stalls this long (default ${defaults.writeTimeoutMs})`,
  },
  {
    name: 'keepalive',
    kind: 'string',
    value: 'S',
    help: `probe a subscriber connection idle S seconds, drop it when 3 probes S/3 apart go unanswered; 0 for off (default ${defaults.keepAliveS})`,
  },
  { name: 'metrics', kind: 'string', value: 'HOST:PORT', help: 'serve Prometheus metrics at http://HOST:PORT/metrics' },
  {
    name: 'stats-interval',
    kind: 'string',
    value: 'S',
    help: `seconds between stats lines, 0 for none (default ${defaults.statsIntervalS}); SIGUSR1 prints one now`,
  },
  {
    name: 'backend',
    kind: 'string',
    value: 'NAME',
    help: `pollset backend: ${Pollset.backends.join('|')} (default ${Pollset.backends[0]})`,
  },
  {
    name: 'mode',
    kind: 'string',
    value: 'integrated|blocking',
    help: "run in Node's loop, or block in a worker thread of its own (default integrated)",
  },
  {
    name: 'demo',
    kind: 'optional-string',
    value: 'DIR',
    help: `development certificates in DIR (default ${DEFAULT_DEMO_DIR}), made once`,
  },
  { name: 'json', kind: 'boolean', help: 'log as JSON lines' },
  {
    name: 'log-level',
    kind: 'string',
    value: 'LEVEL',
    help: 'error|warn|info|debug: the least severe lines logged (default info)',
  },
  {
    name: 'check',
    kind: 'boolean',
    help: 'check flags, host names, files and certificates, then exit (0: fine, 2: one line per problem); binds nothing',
  },
  ...COMMON_SPECS,
];

/** Names a socket passed by socket activation may have: the listener flags. */
// /metrics is served by Node's http module on the main thread, which binds its own socket.
const SOCKET_NAMES = SPECS.filter((s) => (isAddressFlag(s) || s.name === 'unix') && s.name !== 'metrics').map(
  (s) => s.name,
);

const USAGE = [
  'usage: logrelay [--udp HOST:PORT]... [--unix PATH]... [--tls HOST:PORT] --cert FILE --key FILE --ca FILE [flags]',
  '       logrelay --demo [DIR]      (development certificates, made once)',
  '',
  'Receives syslog messages and streams each one to every TLS subscriber whose client certificate',
  'chains to --ca. A HOST may be a name: it is resolved once at start, and the first address is used.',
  `Under systemd: Type=notify, and sockets passed by socket activation named ${SOCKET_NAMES.join(', ')}.`,
].join('\n');

function checkAddress(flag: string, value: string): string {
  try {
    Address.parse(value);
  } catch {
    throw new UsageError(`--${flag}: not an address: ${JSON.stringify(value)} (HOST:PORT, [IPv6]:PORT)`);
  }
  return value;
}

/** `--rejection-log N/S`: N lines in full (0 for summaries only) per S seconds. */
function rejectionLog(value: string | undefined): Pick<RelayOptions, 'rejectionLogBurst' | 'rejectionLogIntervalS'> {
  if (value === undefined) return {};
  const m = /^([0-9]+)\/([0-9]+)$/.exec(value);
  const burst = Number(m?.[1]);
  const interval = Number(m?.[2]);
  if (!m || burst > limits.maxHandshakes || interval < 1 || interval > limits.maxRejectionLogIntervalS) {
    throw new UsageError(
      `--rejection-log must be N/S (N lines from 0 to ${limits.maxHandshakes} per S seconds from 1 to ${limits.maxRejectionLogIntervalS}), not ${JSON.stringify(value)}`,
    );
  }
  return { rejectionLogBurst: burst, rejectionLogIntervalS: interval };
}

/** Flags → options; every mistake is a one-line UsageError. */
export function relayOptions(
  flags: Flags,
  inherited: Map<string, number[]> = new Map(),
): { options: RelayOptions; demo?: ReturnType<typeof ensureDemo> } {
  const demoFlag = flags.optional('demo');
  const demo = demoFlag === undefined ? undefined : ensureDemo(demoFlag === true ? undefined : demoFlag);
  const file = (name: string, fallback?: string) => {
    const v = flags.string(name, fallback);
    if (v === undefined) throw new UsageError(`--${name} FILE is required (or use --demo)`);
    return { file: v };
  };
  let fingerprints: string[];
  try {
    fingerprints = flags.strings('fingerprint').map(normalizeFingerprint);
  } catch (e) {
    throw new UsageError(`--fingerprint: ${(e as Error).message}`);
  }
  const historyDir = flags.string('history-dir');
  if (historyDir === '') throw new UsageError('--history-dir needs a directory');
  if (historyDir === undefined && flags.has('fsync')) throw new UsageError('--fsync applies to --history-dir only');
  const udp = flags.strings('udp').map((a) => checkAddress('udp', a));
  const unix = flags.strings('unix');
  const streams = streamInputOptions(flags, checkAddress, demo?.ca);
  if (inherited.has('tls') && flags.has('tls'))
    throw new UsageError('--tls: the subscriber socket was also passed by socket activation (named tls): give one');
  if ((inherited.get('tls')?.length ?? 0) > 1)
    throw new UsageError('socket activation passed more than one socket named tls');
  if (inherited.has('tls-in') && streams.inVerify !== 'none' && !streams.inCa) {
    throw new UsageError(
      'a socket named tls-in was passed by socket activation: it needs --in-ca FILE (or --in-verify none)',
    );
  }
  const listenFds = Object.fromEntries(inherited);
  const inputs = inputCounts({ udp, unix, ...streams, listenFds });
  const options: RelayOptions = {
    udp: inputs.datagram + inputs.stream > 0 ? udp : ['127.0.0.1:5514'],
    unix,
    ...streams,
    tls: checkAddress('tls', flags.string('tls', '127.0.0.1:6514')!),
    listenFds,
    logLevel: flags.choice('log-level', LEVELS, 'info'),
    cert: file('cert', demo?.serverCert),
    key: file('key', demo?.serverKey),
    ca: file('ca', demo?.ca),
    issuer: flags.string('issuer'),
    fingerprints,
    framing: flags.choice('framing', ['lf', 'octet'] as const, defaults.framing),
    receiveBuffer: flags.has('receive-buffer') ? flags.integer('receive-buffer', 0, 1024, 2 ** 31 - 1) : undefined,
    history: flags.integer('history', defaults.history, 1, limits.maxHistory),
    historyBytes: flags.integer('history-bytes', defaults.historyBytes, 1, limits.maxHistoryBytes),
    historyDir,
    fsync: flags.choice('fsync', ['never', 'interval', 'always'] as const, defaults.fsync),
    queue: flags.integer('queue', defaults.queue, 1),
    queueBytes: flags.integer('queue-bytes', defaults.queueBytes, 1),
    onFull: flags.choice('on-full', ['drop-oldest', 'drop-newest', 'disconnect'] as const, defaults.onFull),
    handshakeTimeoutMs: flags.integer('handshake-timeout', defaults.handshakeTimeoutMs, 1, limits.maxMs),
    writeTimeoutMs: flags.integer('write-timeout', defaults.writeTimeoutMs, 1, limits.maxMs),
    keepAliveS: flags.integer('keepalive', defaults.keepAliveS, 0, limits.maxKeepAliveS),
    maxHandshakes: flags.integer('max-handshakes', defaults.maxHandshakes, 1, limits.maxHandshakes),
    maxHandshakesPerIp: flags.integer('max-handshakes-per-ip', defaults.maxHandshakesPerIp, 1, limits.maxHandshakes),
    ...rejectionLog(flags.string('rejection-log')),
    metrics: flags.has('metrics') ? checkAddress('metrics', flags.string('metrics')!) : undefined,
    statsIntervalS: flags.integer('stats-interval', defaults.statsIntervalS, 0, limits.maxStatsIntervalS),
    backend: flags.choice('backend', Pollset.backends, Pollset.backends[0]),
    mode: flags.choice('mode', ['integrated', 'blocking'] as const, defaults.mode),
    json: flags.has('json'),
  };
  return { options, demo };
}

function demoInstructions(demo: ReturnType<typeof ensureDemo>, udp: string, tls: string): string {
  const logtail = path.join(__dirname, '..', '..', 'bin', 'logtail.js');
  const [uHost, uPort] = [udp.slice(0, udp.lastIndexOf(':')), udp.slice(udp.lastIndexOf(':') + 1)];
  const sender = `const s=require('dgram').createSocket('udp4');s.send('<13>hello from node',${uPort},'${uHost}',()=>s.close())`;
  return [
    `logrelay demo: certificates in ${demo.dir}`,
    `  send a message:   logger -d -n ${uHost} -P ${uPort} "hello from logger"`,
    `              or:   node -e "${sender}"`,
    // logtail connects to 127.0.0.1:6514 unless told otherwise: say where when it is elsewhere.
    `  subscribe:        node ${logtail} --demo ${demo.dir}${tls === '127.0.0.1:6514' ? '' : ` --connect ${tls}`}`,
    `              or:   openssl s_client -quiet -connect ${tls} -CAfile ${demo.ca} -cert ${demo.clientCert} -key ${demo.clientKey}`,
    '',
  ].join('\n');
}

/** Certificate, key, CA, history directory and socket directories: what start would read or create. */
function fileProblems(o: RelayOptions): string[] {
  const problems: string[] = [];
  const files: [string, RelayOptions['cert']][] = [
    ['cert', o.cert],
    ['key', o.key],
    ['ca', o.ca],
  ];
  for (const [flag, source] of files) {
    if (typeof source === 'object' && !Buffer.isBuffer(source)) {
      const p = readableFile(flag, source.file);
      if (p) problems.push(p);
    }
  }
  if (problems.length === 0) {
    // In two steps, so the line says which file is at fault: the certificate with its key, then the CA.
    const file = (s: RelayOptions['cert']) => (s as { file: string }).file;
    const certAndKey = { certFile: file(o.cert), keyFile: file(o.key) };
    const steps: [string, () => TlsContext][] = [
      [
        `--cert ${certAndKey.certFile} with --key ${certAndKey.keyFile}`,
        () => TlsContext.server({ ...certAndKey, verify: 'none' }),
      ],
      [
        `--ca ${file(o.ca)}`,
        () =>
          TlsContext.server({
            ...certAndKey,
            caFile: file(o.ca),
            verify: 'require',
            issuer: o.issuer,
            fingerprints: o.fingerprints?.length ? o.fingerprints : undefined,
          }),
      ],
    ];
    for (const [what, make] of steps) {
      try {
        make().free?.();
      } catch (e) {
        problems.push(`${what}: ${(e as { reason?: string }).reason ?? (e as Error).message}`);
        break;
      }
    }
  }
  if (o.historyDir !== undefined) {
    const p = writableDir('history-dir', o.historyDir);
    if (p) problems.push(p);
  }
  for (const socket of o.unix ?? []) {
    const p = socket.startsWith('@') ? undefined : writableDir('unix', path.dirname(socket));
    if (p) problems.push(p);
  }
  return problems;
}

/** `--check`: one line per problem on stderr and exit 2, or `configuration OK` and exit 0. */
async function check(cli: CommandLine, flags: Flags): Promise<number> {
  const problems = (await resolveAddressFlags(flags, SPECS)).failed.map((e) => {
    flags.drop(e.flag);
    return cli.message(e.error);
  });
  const { built, problems: usage } = collectUsage(flags, (f) => relayOptions(f));
  problems.push(...usage.map((e) => cli.message(e)));
  if (built) problems.push(...fileProblems(built.options).map((p) => cli.message(new UsageError(p))));
  for (const p of problems) process.stderr.write(p + '\n');
  if (problems.length) return 2;
  process.stdout.write('logrelay: configuration OK\n');
  return 0;
}

/** Runs the CLI; resolves with the exit code once the relay has stopped (or at once on a usage error). */
export async function main(argv: string[]): Promise<number> {
  const cli = new CommandLine('logrelay', SPECS, USAGE);
  let relay: Relay;
  let log: Logger;
  let demo: ReturnType<typeof ensureDemo> | undefined;
  let notifier: Notifier | undefined;
  try {
    const flags = cli.read(argv);
    if (!flags) return 0;
    if (flags.has('check')) return await check(cli, flags);
    const inherited = listenFds();
    checkNames(inherited, SOCKET_NAMES);
    const resolution = await resolveAddressFlags(flags, SPECS);
    if (resolution.failed.length) throw resolution.failed[0].error;
    const built = relayOptions(flags, inherited);
    demo = built.demo;
    log = createLogger({ json: built.options.json, level: built.options.logLevel });
    for (const r of resolution.resolved) log('debug', 'resolved', { flag: r.flag, name: r.name, address: r.address });
    relay = new Relay(built.options, log);
    notifier = Notifier.fromEnv();
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(cli.message(e) + '\n');
      return 2;
    }
    const code = (e as { code?: string }).code;
    if (e instanceof RangeError || code === 'ERR_SOCKET_ACTIVATION' || code === 'ERR_NOTIFY_SOCKET') {
      process.stderr.write(`logrelay: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
  const tell = teller(notifier, log);
  relay.onStats = (stats) => tell({ STATUS: statusText(stats) });
  // Handlers go in before the relay starts: the `listening` line is logged during start(), and a
  // supervisor that signals as soon as it sees it must not find the default action (death) still
  // in place. Commands sent while starting wait in the control pipe until the engine reads them.
  const stop = () => {
    tell({ STOPPING: 1, STATUS: 'stopping' });
    void relay.stop({ drainMs: 2000 });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGUSR1', () => relay.logStats());
  process.on('SIGHUP', () => {
    tell({ RELOADING: 1, MONOTONIC_USEC: monotonicUsec() });
    void relay.reload().then(() => tell({ READY: 1, STATUS: statusText(relay.stats()) }));
  });
  let listening;
  try {
    listening = await relay.start();
  } catch (e) {
    // Certificate, key or CA files that cannot be used are a mistake in what was given, like a bad flag;
    // so is an inherited socket of the wrong kind.
    const err = e as { code?: string; reason?: string; message: string };
    const usage = err.code === 'ERR_TLS_CONTEXT' || err.code === 'ERR_INHERITED_SOCKET';
    process.stderr.write(`logrelay: ${err.code === 'ERR_TLS_CONTEXT' ? err.reason : err.message}\n`);
    notifier?.close();
    return usage ? 2 : 1;
  }
  tell({ READY: 1, MAINPID: process.pid, STATUS: statusText(relay.stats()) });
  if (demo) process.stdout.write(demoInstructions(demo, listening.inputs[0] ?? '127.0.0.1:5514', listening.tls));
  await relay.finished;
  notifier?.close();
  // Lines still waiting for a full stderr (`stopped` last) go out before exit, if its reader takes them soon.
  log.sink?.flushWithin(1000);
  return 0;
}
