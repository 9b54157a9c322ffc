/** `logrelay`: the relay's command line — flags in, a running Relay out, signals wired. */
import * as path from 'path';
import { Address } from '../net/address';
import { Pollset } from '../pollset';
import { createLogger, Logger } from '../relay/log';
import { DEFAULT_DEMO_DIR, ensureDemo } from '../relay/demo';
import { defaults, limits, normalizeFingerprint, RelayOptions } from '../relay/options';
import { Relay } from '../relay/relay';
import { FlagSpec, Flags, helpText, parseFlags, UsageError } from './flags';

const SPECS: FlagSpec[] = [
  { name: 'udp', kind: 'string', repeatable: true, value: 'HOST:PORT', help: 'receive syslog over UDP (default 127.0.0.1:5514 when no input is given)' },
  { name: 'unix', kind: 'string', repeatable: true, value: 'PATH', help: 'receive syslog on a unix datagram socket' },
  { name: 'tls', kind: 'string', value: 'HOST:PORT', help: 'listen for TLS subscribers (default 127.0.0.1:6514)' },
  { name: 'cert', kind: 'string', value: 'FILE', help: 'server certificate chain (PEM)' },
  { name: 'key', kind: 'string', value: 'FILE', help: 'server private key (PEM)' },
  { name: 'ca', kind: 'string', value: 'FILE', help: 'CA that subscriber certificates must chain to (PEM)' },
  { name: 'issuer', kind: 'string', value: 'DN', help: 'require this exact issuer DN (RFC 2253, as openssl -nameopt RFC2253 prints it)' },
  { name: 'fingerprint', kind: 'string', repeatable: true, value: 'sha256:HEX', help: 'allow only these subscriber certificates' },
  { name: 'framing', kind: 'string', value: 'lf|octet', help: `message framing (default ${defaults.framing})` },
  { name: 'queue', kind: 'string', value: 'N', help: `messages queued per subscriber (default ${defaults.queue})` },
  { name: 'queue-bytes', kind: 'string', value: 'N', help: `bytes queued per subscriber (default ${defaults.queueBytes})` },
  { name: 'on-full', kind: 'string', value: 'POLICY', help: `drop-oldest|drop-newest|disconnect (default ${defaults.onFull})` },
  { name: 'handshake-timeout', kind: 'string', value: 'MS', help: `default ${defaults.handshakeTimeoutMs}` },
  { name: 'max-handshakes', kind: 'string', value: 'N', help: `pending handshakes at most; beyond, the oldest of the busiest address is cut (default ${defaults.maxHandshakes})` },
  { name: 'max-handshakes-per-ip', kind: 'string', value: 'N', help: `pending handshakes from one IP (an IPv6 /64) at most; beyond, its oldest is cut (default ${defaults.maxHandshakesPerIp})` },
  { name: 'rejection-log', kind: 'string', value: 'N/S', help: `log N rejected handshakes per S seconds in full, then one summary line (default ${defaults.rejectionLogBurst}/${defaults.rejectionLogIntervalS})` },
  { name: 'write-timeout', kind: 'string', value: 'MS', help: `disconnect a subscriber whose write stalls this long (default ${defaults.writeTimeoutMs})` },
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
  const udp = flags.strings('udp').map((a) => checkAddress('udp', a));
  const unix = flags.strings('unix');
  const options: RelayOptions = {
    udp: udp.length || unix.length ? udp : ['127.0.0.1:5514'],
    unix,
    tls: checkAddress('tls', flags.string('tls', '127.0.0.1:6514')!),
    cert: file('cert', demo?.serverCert),
    key: file('key', demo?.serverKey),
    ca: file('ca', demo?.ca),
    issuer: flags.string('issuer'),
    fingerprints,
    framing: flags.choice('framing', ['lf', 'octet'] as const, defaults.framing),
    queue: flags.integer('queue', defaults.queue, 1),
    queueBytes: flags.integer('queue-bytes', defaults.queueBytes, 1),
    onFull: flags.choice('on-full', ['drop-oldest', 'drop-newest', 'disconnect'] as const, defaults.onFull),
    handshakeTimeoutMs: flags.integer('handshake-timeout', defaults.handshakeTimeoutMs, 1, limits.maxMs),
    writeTimeoutMs: flags.integer('write-timeout', defaults.writeTimeoutMs, 1, limits.maxMs),
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
