/**
 * Real peers on both sides of a real `logrelay`: util-linux `logger` sends (RFC 5424 over UDP),
 * `openssl s_client -quiet` and `logtail` subscribe — in both run modes and both framings.
 */
import { execFileSync } from 'child_process';
import { cleanup, makeCerts, RelayProcess, Tail, identity } from './relay-helpers';

afterEach(cleanup);

const cases = [
  { mode: 'integrated', framing: 'lf' },
  { mode: 'integrated', framing: 'octet' },
  { mode: 'blocking', framing: 'lf' },
  { mode: 'blocking', framing: 'octet' },
] as const;

test.each(cases)(
  '$mode mode, $framing framing: logger → logrelay → openssl s_client and logtail',
  async ({ mode, framing }) => {
    const certs = makeCerts();
    const relay = await RelayProcess.start(['--mode', mode, '--framing', framing, ...identity(certs)]);
    const openssl = await Tail.openssl(relay, certs);
    const tail = await Tail.start(relay, certs, ['--framing', framing]);
    const text = `hello from logger in ${mode} ${framing}`;
    execFileSync('logger', ['-d', '-n', '127.0.0.1', '-P', String(relay.udpPort), '-t', 'relaytest', text], {
      timeout: 5000,
    });

    const [got] = await tail.waitFor(1);
    expect(got.toString()).toMatch(new RegExp(`^<13>1 \\S+ \\S+ relaytest .*${text}$`)); // RFC 5424, as logger sends it
    const framed =
      framing === 'lf' ? Buffer.concat([got, Buffer.from('\n')]) : Buffer.concat([Buffer.from(`${got.length} `), got]);
    const raw = await openssl.waitBytes(framed.length);
    expect(raw.equals(framed)).toBe(true);
    expect(await relay.stop('SIGTERM')).toBe(0);
  },
  20000,
);
