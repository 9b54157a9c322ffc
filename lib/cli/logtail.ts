/** `logtail`: a relay subscriber that prints each message on its own line (the framing undone). */
import { Loop, Operation } from '../loop';
import { TlsStream } from '../streams';
import { TlsContext } from '../tls';
import { Deframer, Framing } from '../relay/framing';
import { DEFAULT_DEMO_DIR, demoFiles } from '../relay/demo';
import { FlagSpec, Flags, helpText, parseFlags, UsageError } from './flags';
import { writeSync } from 'fs';
import { isatty } from 'tty';
import { visible } from './visible';

const SPECS: FlagSpec[] = [
  { name: 'connect', kind: 'string', value: 'HOST:PORT', help: 'the relay (default 127.0.0.1:6514)' },
  { name: 'cert', kind: 'string', value: 'FILE', help: 'client certificate (PEM)' },
  { name: 'key', kind: 'string', value: 'FILE', help: 'client private key (PEM)' },
  { name: 'ca', kind: 'string', value: 'FILE', help: 'CA that the relay certificate must chain to (PEM)' },
  { name: 'servername', kind: 'string', value: 'NAME', help: 'name or IP the relay certificate must match (default: the host of --connect)' },
  { name: 'framing', kind: 'string', value: 'lf|octet', help: 'the relay\'s framing (default lf)' },
  { name: 'count', kind: 'string', value: 'N', help: 'exit after N messages' },
  { name: 'raw', kind: 'boolean', help: 'write message bytes as they are even to a terminal (default: controls and invalid UTF-8 escaped there)' },
  { name: 'demo', kind: 'optional-string', value: 'DIR', help: `use the demo certificates of logrelay --demo (default ${DEFAULT_DEMO_DIR})` },
  { name: 'help', kind: 'boolean', help: 'show this help' },
];

interface TailOptions {
  connect: string;
  context: TlsContext;
  servername: string;
  framing: Framing;
  count: number;
  /** Escape what would act on a terminal (see visible.ts); off with --raw or when stdout is no terminal. */
  escape: boolean;
}

function options(flags: Flags): TailOptions {
  const demoFlag = flags.optional('demo');
  const demo = demoFlag === undefined ? undefined : demoFiles(demoFlag === true ? undefined : demoFlag);
  const need = (name: string, fallback?: string) => {
    const v = flags.string(name, fallback);
    if (v === undefined) throw new UsageError(`--${name} FILE is required (or use --demo)`);
    return v;
  };
  const connect = flags.string('connect', '127.0.0.1:6514')!;
  const host = connect.startsWith('[') ? connect.slice(1, connect.indexOf(']')) : connect.slice(0, connect.lastIndexOf(':'));
  let context: TlsContext;
  try {
    context = TlsContext.client({ certFile: need('cert', demo?.clientCert), keyFile: need('key', demo?.clientKey), caFile: need('ca', demo?.ca) });
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
    escape: !flags.has('raw') && isatty(1),
  };
}

function* tail(o: TailOptions, print: (message: Buffer) => void): Operation<void> {
  const tls = yield* TlsStream.connect(o.connect, o.context, { servername: o.servername });
  try {
    yield* tls.handshake();
    const deframer = new Deframer(o.framing);
    let seen = 0;
    for (;;) {
      const chunk = yield* tls.read();
      if (chunk === null) return;
      for (const message of deframer.push(chunk)) {
        print(message);
        if (o.count && ++seen >= o.count) return;
      }
    }
  } finally {
    yield* tls.close();
  }
}

const NEWLINE = Buffer.from('\n');

export async function main(argv: string[]): Promise<number> {
  let o: TailOptions;
  try {
    const flags = new Flags(parseFlags(argv, SPECS));
    if (flags.has('help')) {
      process.stdout.write(helpText('usage: logtail [flags]', SPECS) + '\n');
      return 0;
    }
    o = options(flags);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`logtail: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  // The task's failure is reported once, below, as a one-line `logtail: reason`; the loop's default
  // crash report would print it a second time with a stack.
  const loop = new Loop({ onError: () => undefined });
  const task = loop.spawn(tail(o, (m) => writeSync(1, Buffer.concat([o.escape ? visible(m) : m, NEWLINE]))));
  process.on('SIGINT', () => task.halt());
  process.on('SIGTERM', () => task.halt());
  try {
    await loop.run();
    await task;
    return 0;
  } catch (e) {
    const err = e as { code?: string; reason?: string; message?: string };
    if (err.code === 'ECANCELED') return 0;
    process.stderr.write(`logtail: ${err.reason ?? err.message}\n`);
    return 1;
  } finally {
    loop.close();
  }
}
