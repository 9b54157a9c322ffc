/**
 * `logtail`: a relay subscriber. Prints each message on its own line (or as a JSON object); with a
 * relay that speaks logrelay/1 it knows each message's sequence number, reconnects and resumes
 * where its output stands, and with `--state` keeps that position across restarts.
 */
import { fstatSync } from 'fs';
import { isatty } from 'tty';
import { Loop } from '../loop';
import { TlsContext } from '../tls';
import { Framing } from '../relay/framing';
import { DEFAULT_DEMO_DIR, demoFiles } from '../relay/demo';
import { PROTOCOL } from '../relay/client';
import { parseSelector, SelectorError } from '../relay/selector';
import { FlagSpec, Flags, UsageError } from './flags';
import { COMMON_SPECS, CommandLine } from './command-line';
import { resolveAll, ResolveError } from '../net/resolve';
import { KeepAlive, keepAliveAfter } from '../net/keepalive';
import { Backoff } from './backoff';
import { Format } from './tail-format';
import { tailLoop } from './tail-loop';
import { Output } from './tail-output';
import { StartFrom, TailError } from './tail-session';
import { OutputError, Sink } from './tail-sink';
import { Stop, StopRequested } from './tail-stop';

/** `--keepalive` default: a dead link is noticed within about a minute (30 s idle + 3 probes 10 s apart). */
const KEEPALIVE_S = 30;
/** TCP_KEEPIDLE's bound on Linux (about 9 hours). */
const MAX_KEEPALIVE_S = 32767;

const SPECS: FlagSpec[] = [
  {
    name: 'connect',
    kind: 'string',
    value: 'HOST:PORT',
    help: 'the relay (default 127.0.0.1:6514; a host name is looked up at each connect)',
  },
  { name: 'cert', kind: 'string', value: 'FILE', help: 'client certificate (PEM)' },
  { name: 'key', kind: 'string', value: 'FILE', help: 'client private key (PEM)' },
  { name: 'ca', kind: 'string', value: 'FILE', help: 'CA that the relay certificate must chain to (PEM)' },
  {
    name: 'servername',
    kind: 'string',
    value: 'NAME',
    help: 'name or IP the relay certificate must match (default: the host of --connect)',
  },
  {
    name: 'state',
    kind: 'string',
    value: 'FILE',
    help: 'keep the position here and resume after it (exactly once into a regular file)',
  },
  {
    name: 'from',
    kind: 'string',
    value: 'oldest|live|SEQ',
    help: 'where to start when there is no state (default live)',
  },
  {
    name: 'no-reconnect',
    kind: 'boolean',
    help: 'exit at the first disconnect (default: reconnect, backing off 0.5 s to 30 s)',
  },
  {
    name: 'keepalive',
    kind: 'string',
    value: 'S',
    help: `notice a silently dead link: probe after S idle seconds, give up after 3 unanswered probes S/3 apart, then reconnect; 0 for off (default ${KEEPALIVE_S})`,
  },
  {
    name: 'json',
    kind: 'boolean',
    help: 'one JSON object per message: seq, time, source, message (or message_base64)',
  },
  {
    name: 'raw',
    kind: 'boolean',
    help: 'write message bytes as they are even to a terminal (default: controls and invalid UTF-8 escaped there)',
  },
  {
    name: 'framing',
    kind: 'string',
    value: 'lf|octet',
    help: `the framing of a relay that does not speak ${PROTOCOL} (default lf)`,
  },
  {
    name: 'plain',
    kind: 'boolean',
    help: `do not offer ${PROTOCOL}: take the relay's plain live stream, as an older logtail does`,
  },
  {
    name: 'filter',
    kind: 'string',
    value: 'SELECTOR',
    help: 'only messages the selector selects, e.g. auth,authpriv.*;*.warning (syslog.conf style; see README)',
  },
  { name: 'count', kind: 'string', value: 'N', help: 'exit after N messages' },
  {
    name: 'demo',
    kind: 'optional-string',
    value: 'DIR',
    help: `use the demo certificates of logrelay --demo (default ${DEFAULT_DEMO_DIR})`,
  },
  ...COMMON_SPECS,
];

const USAGE = [
  'usage: logtail [--connect HOST:PORT] --cert FILE --key FILE --ca FILE [flags]',
  '       logtail --demo [DIR]',
  '',
  'Subscribes to a logrelay and prints each message on its own line, reconnecting when cut off.',
  'A HOST may be a name: it is looked up again at each connect, and each of its addresses is tried in turn.',
].join('\n');

/** First wait ceiling and largest one between reconnects (ms). */
const BACKOFF = { baseMs: 500, maxMs: 30000 };
const CONNECT_TIMEOUT_MS = 10000;
const HELLO_TIMEOUT_MS = 10000;

interface TailOptions {
  connect: string;
  context: TlsContext;
  servername: string;
  framing: Framing;
  count: number;
  state: string | undefined;
  from: StartFrom;
  filter: string | undefined;
  reconnect: boolean;
  keepAlive: KeepAlive | null;
  format: Format;
}

function keepAliveOption(seconds: number): KeepAlive | null {
  return seconds === 0 ? null : keepAliveAfter(seconds);
}

function startFrom(text: string | undefined): StartFrom {
  if (text === undefined || text === 'live') return { from: 'live' };
  if (text === 'oldest') return { from: 'oldest' };
  if (/^[1-9][0-9]{0,15}$/.test(text) && Number.isSafeInteger(Number(text))) return { from: 'seq', seq: Number(text) };
  throw new UsageError(`--from must be oldest, live or a sequence number ≥ 1, not ${JSON.stringify(text)}`);
}

function options(flags: Flags): TailOptions {
  const demoFlag = flags.optional('demo');
  const demo = demoFlag === undefined ? undefined : demoFiles(demoFlag === true ? undefined : demoFlag);
  const need = (name: string, fallback?: string) => {
    const v = flags.string(name, fallback);
    if (v === undefined) throw new UsageError(`--${name} FILE is required (or use --demo)`);
    return v;
  };
  if (flags.has('plain') && (flags.has('state') || flags.has('from')))
    throw new UsageError('--plain has no sequence numbers: it cannot go with --state or --from');
  if (flags.has('plain') && flags.has('filter'))
    throw new UsageError(`--plain takes the relay's whole stream: it cannot go with --filter`);
  const filter = flags.string('filter');
  if (filter !== undefined) {
    try {
      parseSelector(filter);
    } catch (e) {
      if (e instanceof SelectorError) throw new UsageError(`--filter ${JSON.stringify(filter)}: ${e.message}`);
      throw e;
    }
  }
  const connect = flags.string('connect', '127.0.0.1:6514')!;
  const colon = connect.lastIndexOf(':');
  if (colon <= 0 || !/^[0-9]{1,5}$/.test(connect.slice(colon + 1)) || Number(connect.slice(colon + 1)) > 65535) {
    throw new UsageError(`--connect must be HOST:PORT, not ${JSON.stringify(connect)}`);
  }
  const host = connect.startsWith('[') ? connect.slice(1, connect.indexOf(']')) : connect.slice(0, colon);
  let context: TlsContext;
  try {
    const files = {
      certFile: need('cert', demo?.clientCert),
      keyFile: need('key', demo?.clientKey),
      caFile: need('ca', demo?.ca),
    };
    context = TlsContext.client(flags.has('plain') ? files : { ...files, alpn: [PROTOCOL] });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as { reason?: string }).reason ?? (e as Error).message);
  }
  return {
    connect,
    context,
    servername: flags.string('servername', host)!,
    framing: flags.choice('framing', ['lf', 'octet'] as const, 'lf'),
    count: flags.integer('count', 0, 0),
    state: flags.string('state'),
    from: startFrom(flags.string('from')),
    filter,
    reconnect: !flags.has('no-reconnect'),
    keepAlive: keepAliveOption(flags.integer('keepalive', KEEPALIVE_S, 0, MAX_KEEPALIVE_S)),
    // On a terminal, bytes chosen by whoever sends a datagram must not act on it (visible.ts); JSON escapes its own.
    format: flags.has('json') ? 'json' : !flags.has('raw') && isatty(1) ? 'terminal' : 'text',
  };
}

/** The same open file on fds 1 and 2 (`>> out.log 2>&1`): stderr lines would land inside the counted output. */
function sameFile(a: number, b: number): boolean {
  try {
    const x = fstatSync(a);
    const y = fstatSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/**
 * A name that does not exist is a mistake in the command (exit 2); a resolver that cannot answer
 * now (EAI_AGAIN: no network yet) is retried with the connects, like a relay that is down.
 */
async function checkResolves(connect: string): Promise<void> {
  try {
    await resolveAll(connect);
  } catch (e) {
    if (e instanceof ResolveError && e.code === 'ENOTFOUND') throw new UsageError(`--connect: ${e.message}`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const cli = new CommandLine('logtail', SPECS, USAGE);
  const report = (line: string) => process.stderr.write(`logtail: ${line}\n`);
  let o: TailOptions;
  let sink: Sink;
  try {
    const flags = cli.read(argv);
    if (!flags) return 0;
    o = options(flags);
    await checkResolves(o.connect);
    const output = new Output(1);
    if (o.state !== undefined && output.regularFile && sameFile(1, 2)) {
      throw new UsageError(
        "with --state, stdout must not also be stderr: the state counts the output file's bytes (send stderr elsewhere)",
      );
    }
    const opened = Sink.open(output, { format: o.format, statePath: o.state, count: o.count });
    sink = opened.sink;
    if (opened.repair.kind === 'cut')
      report(`cut ${opened.repair.bytes} bytes written after the last recorded state from the end of the output`);
    if (opened.repair.kind === 'short') {
      report(
        `the output is ${opened.repair.bytes} bytes shorter than the state records (truncated or replaced by someone else, or lost in a crash): messages up to seq ${opened.state!.seq} may be missing from it`,
      );
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(cli.message(e) + '\n');
      return 2;
    }
    if ((e as { code?: string }).code === 'ERR_LOGTAIL_STATE') {
      report((e as Error).message);
      return 1;
    }
    throw e;
  }
  // The task's failure is reported once, below, as a one-line `logtail: reason`; the loop's default
  // crash report would print it a second time with a stack.
  const loop = new Loop({ onError: () => undefined });
  const stop = new Stop();
  const task = loop.spawn(
    tailLoop(
      {
        connect: o.connect,
        context: o.context,
        servername: o.servername,
        framing: o.framing,
        reconnect: o.reconnect,
        keepAlive: o.keepAlive,
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
        backoff: new Backoff(BACKOFF),
        session: {
          from: o.from,
          filter: o.filter,
          meta: o.format === 'json',
          helloTimeoutMs: HELLO_TIMEOUT_MS,
          report,
          stop,
          stateful: o.state !== undefined,
        },
      },
      sink,
    ),
  );
  stop.attach(task);
  const onSignal = () => stop.request();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await loop.run();
    return await task;
  } catch (e) {
    const err = e as { code?: string; reason?: string; message?: string; cause?: { code?: string } };
    if (err.code === 'ECANCELED' || e instanceof StopRequested) return 0;
    // A reader that went away (`logtail | head`) ends logtail quietly, as SIGPIPE would.
    if (e instanceof OutputError && err.cause?.code === 'EPIPE') return 0;
    if (e instanceof TailError || e instanceof OutputError) report(e.message);
    else report(err.reason ?? err.message ?? String(e));
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    loop.close();
  }
}
