/** `logrelay`: the relay's command line — flags in, a running Relay out, signals wired. */
import * as path from 'path';
import { Address } from '../net/address';
import { Pollset } from '../pollset';
import { createLogger, Logger } from '../relay/log';
import { DEFAULT_DEMO_DIR, ensureDemo } from '../relay/demo';
import { defaults, limits, normalizeFingerprint, RelayOptions } from '../relay/options';
import { Relay } from '../relay/relay';
import { FlagSpec, Flags, helpText, parseFlags, UsageError } from './flags';
import { STREAM_INPUT_FLAGS, streamInputOptions } from './stream-input-flags';

const SPECS: FlagSpec[] = [
  { name: 'udp', kind: 'string', repeatable: true, value: 'HOST:PORT', help: 'receive syslog over UDP (default 127.0.0.1:5514 when no input is given)' },
  { name: 'unix', kind: 'string', repeatable: true, value: 'PATH', help: 'receive syslog on a unix datagram socket' },
  ...STREAM_INPUT_FLAGS,
  { name: 'tls', kind: 'string', value: 'HOST:PORT', help: 'listen for TLS subscribers (default 127.0.0.1:6514)' },
  { name: 'cert', kind: 'string', value: 'FILE', help: 'server certificate chain (PEM)' },
  { name: 'key', kind: 'string', value: 'FILE', help: 'server private key (PEM)' },
  { name: 'ca', kind: 'string', value: 'FILE', help: 'CA that subscriber certificates must chain to (PEM)' },
  { name: 'issuer', kind: 'string', value: 'DN', help: 'require this exact issuer DN (RFC 2253, as openssl -nameopt RFC2253 prints it)' },
  { name: 'fingerprint', kind: 'string', repeatable: true, value: 'sha256:HEX', help: 'allow only these subscriber certificates' },
  { name: 'framing', kind: 'string', value: 'lf|octet', help: `message framing (default ${defaults.framing})` },
  { name: 'receive-buffer', kind: 'string', value: 'B', help: 'SO_RCVBUF of each input (default 8 MiB; Linux caps it at net.core.rmem_max): what absorbs a burst' },
  { name: 'history', kind: 'string', value: 'N', help: `messages the log keeps for subscribers that are behind or resume (default ${defaults.history})` },
  { name: 'history-bytes', kind: 'string', value: 'B', help: `framed bytes the log keeps (default ${defaults.historyBytes})` },
  { name: 'history-dir', kind: 'string', value: 'DIR', help: 'keep the log in segment files in DIR: it and its sequence survive a restart' },
  { name: 'fsync', kind: 'string', value: 'POLICY', help: `with --history-dir: never|interval|always (default ${defaults.fsync}, about every second)` },
  { name: 'queue', kind: 'string', value: 'N', help: `messages a live subscriber may be behind (default ${defaults.queue})` },
  { name: 'queue-bytes', kind: 'string', value: 'B', help: `framed bytes a live subscriber may be behind (default ${defaults.queueBytes})` },
  { name: 'on-full', kind: 'string', value: 'POLICY', help: `beyond that: drop-oldest|drop-newest|disconnect (default ${defaults.onFull})` },
  { name: 'handshake-timeout', kind: 'string', value: 'MS', help: `default ${defaults.handshakeTimeoutMs}` },
  { name: 'max-handshakes', kind: 'string', value: 'N', help: `pending handshakes at most; beyond, the oldest of the busiest address is cut (default ${defaults.maxHandshakes})` },
  { name: 'max-handshakes-per-ip', kind: 'string', value: 'N', help: `pending handshakes from one IP (an IPv6 /64) at most; beyond, its oldest is cut (default ${defaults.maxHandshakesPerIp})` },
  { name: 'rejection-log', kind: 'string', value: 'N/S', help: `log N rejected handshakes per S seconds in full, then one summary line (default ${defaults.rejectionLogBurst}/${defaults.rejectionLogIntervalS})` },
  { name: 'write-timeout', kind: 'string', value: 'MS', help: `disconnect a subscriber whose write stalls this long (default ${defaults.writeTimeoutMs})` },
  { name: 'keepalive', kind: 'string', value: 'S', help: `probe a subscriber connection idle S seconds, drop it when 3 probes S/3 apart go unanswered; 0 for off (default ${defaults.keepAliveS})` },
  { name: 'stats-interval', kind: 'string', value: 'S', help: `seconds between stats lines, 0 for none (default ${defaults.statsIntervalS}); SIGUSR1 prints one now` },
  { name: 'backend', kind: 'string', value: 'NAME', help: `pollset backend: ${Pollset.backends.join('|')} (default ${Pollset.backends[0]})` },
  { name: 'mode', kind: 'string', value: 'integrated|blocking', help: 'run in Node\'s loop, or block in a worker thread of its own (default integrated)' },
  { name: 'demo', kind: 'optional-string', value: 'DIR', help: `development certificates in DIR (default ${DEFAULT_DEMO_DIR}), made once` },
  { name: 'json', kind: 'boolean', help: 'log as JSON lines' },
  { name: 'help', kind: 'boolean', help: 'show this help' },
];

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
export function relayOptions(flags: Flags): { options: RelayOptions; demo?: ReturnType<typeof ensureDemo> } {
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
  const options: RelayOptions = {
    udp: udp.length || unix.length || streams.tcp!.length || streams.tlsIn!.length ? udp : ['127.0.0.1:5514'],
    unix,
    ...streams,
    tls: checkAddress('tls', flags.string('tls', '127.0.0.1:6514')!),
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

/** Runs the CLI; resolves with the exit code once the relay has stopped (or at once on a usage error). */
export async function main(argv: string[]): Promise<number> {
  let relay: Relay;
  let log: Logger;
  let demo: ReturnType<typeof ensureDemo> | undefined;
  try {
    const flags = new Flags(parseFlags(argv, SPECS));
    if (flags.has('help')) {
      process.stdout.write(helpText('usage: logrelay [flags]   (npm start runs logrelay --demo)', SPECS) + '\n');
      return 0;
    }
    const built = relayOptions(flags);
    demo = built.demo;
    log = createLogger({ json: built.options.json });
    relay = new Relay(built.options, log);
  } catch (e) {
    if (e instanceof UsageError || e instanceof RangeError) {
      process.stderr.write(`logrelay: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  // Handlers go in before the relay starts: the `listening` line is logged during start(), and a
  // supervisor that signals as soon as it sees it must not find the default action (death) still
  // in place. Commands sent while starting wait in the control pipe until the engine reads them.
  const stop = () => void relay.stop({ drainMs: 2000 });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGUSR1', () => relay.logStats());
  process.on('SIGHUP', () => relay.reload());
  let listening;
  try {
    listening = await relay.start();
  } catch (e) {
    // Certificate, key or CA files that cannot be used are a mistake in what was given, like a bad flag.
    const err = e as { code?: string; reason?: string; message: string };
    const usage = err.code === 'ERR_TLS_CONTEXT';
    process.stderr.write(`logrelay: ${usage ? err.reason : err.message}\n`);
    return usage ? 2 : 1;
  }
  if (demo) process.stdout.write(demoInstructions(demo, listening.inputs[0] ?? '127.0.0.1:5514', listening.tls));
  await relay.finished;
  // Lines still waiting for a full stderr (`stopped` last) go out before exit, if its reader takes them soon.
  log.sink?.flushWithin(1000);
  return 0;
}
