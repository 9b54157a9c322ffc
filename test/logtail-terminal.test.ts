/**
 * `logtail` on a terminal: message bytes chosen by whoever sends a datagram must not act on the
 * operator's terminal. Run under a real pseudo-terminal (util-linux `script`), logtail shows controls
 * and invalid UTF-8 escaped; `--raw` writes them as they are; piped, the bytes are exact.
 */
import {
  cleanup,
  CertFiles,
  exitOf,
  makeCerts,
  RelayProcess,
  sendUdp,
  Tail,
  logtailArgs,
  identity,
} from './relay-helpers';

afterEach(cleanup);

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** logtail under `script`: its stdout is the slave side of a fresh pty; `script` copies what the terminal shows to its stdout. */
function onTerminal(relay: RelayProcess, certs: CertFiles, args: string[]): Promise<Tail> {
  const cmd = [process.execPath, ...logtailArgs(relay, certs, args)];
  // stderr (logtail's progress lines) stays off the terminal: only the messages are compared.
  return Tail.spawn(relay, 'script', ['-qfec', `${cmd.map(quote).join(' ')} 2>/dev/null`, '/dev/null']);
}

// ESC [2J (clear screen), BEL, CR, TAB, backslash, DEL, U+009B (C1 CSI, valid UTF-8), a lone 0x9B, 0xFF, é,
// U+202E (right-to-left override), and a UTF-8-encoded surrogate (invalid).
const hostile = Buffer.concat([
  Buffer.from('<13>a\x1b[2J\x07\rb\t\\'),
  Buffer.from([0x7f, 0xc2, 0x9b, 0x9b, 0xff]),
  Buffer.from('é'),
  Buffer.from([0xe2, 0x80, 0xae, 0xed, 0xa0, 0x80]),
  Buffer.from('z'),
]);
const shown = '<13>a\\x1b[2J\\x07\\x0db\t\\\\\\x7f\\u009b\\x9b\\xffé\\u202e\\xed\\xa0\\x80z';

/** All logtail wrote, once it has exited 0 (on a pty, the terminal turns each LF into CR LF). */
async function outputOf(tail: Tail): Promise<Buffer> {
  expect(await exitOf(tail.child)).toBe(0);
  return Buffer.concat(tail.raw);
}

test('on a terminal, controls, C1, bidi overrides, invalid UTF-8 and backslashes are shown escaped', async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start(identity(certs));
  const tail = await onTerminal(relay, certs, ['--count', '1']);
  await sendUdp(relay.udpPort, [hostile]);
  const out = await outputOf(tail);
  expect(out.toString('utf8')).toBe(`${shown}\r\n`);
  for (const b of [0x1b, 0x07, 0x7f, 0x9b, 0xff]) expect(out.includes(b)).toBe(false);
}, 20000);

test('--raw on a terminal writes the bytes as they are', async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start(identity(certs));
  const tail = await onTerminal(relay, certs, ['--count', '1', '--raw']);
  await sendUdp(relay.udpPort, [hostile]);
  expect(await outputOf(tail)).toEqual(Buffer.concat([hostile, Buffer.from('\r\n')]));
}, 20000);

test('piped, the bytes are exact (no escaping)', async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start(identity(certs));
  const tail = await Tail.start(relay, certs, ['--count', '1']);
  await sendUdp(relay.udpPort, [hostile]);
  const out = await outputOf(tail);
  expect(out).toEqual(Buffer.concat([hostile, Buffer.from('\n')]));
}, 20000);
