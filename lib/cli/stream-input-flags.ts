/** The flags of the TCP and TLS syslog inputs, and what they become in RelayOptions. */
import { defaults, limits, normalizeFingerprint, RelayOptions } from '../relay/options';
import { FlagSpec, Flags, UsageError } from './flags';

export const STREAM_INPUT_FLAGS: FlagSpec[] = [
  {
    name: 'tcp',
    kind: 'string',
    repeatable: true,
    value: 'HOST:PORT',
    help: 'receive syslog over TCP (RFC 6587: octet-counted or LF-terminated, told apart per connection)',
  },
  {
    name: 'tls-in',
    kind: 'string',
    repeatable: true,
    value: 'HOST:PORT',
    help: 'receive syslog over TLS (RFC 5425), presenting --cert',
  },
  {
    name: 'in-ca',
    kind: 'string',
    value: 'FILE',
    help: "CA that TLS senders' certificates must chain to (PEM; --demo: its CA)",
  },
  {
    name: 'in-verify',
    kind: 'string',
    value: 'none|optional|require',
    help: `TLS senders' certificates (default ${defaults.inVerify}; optional: a sender may present none)`,
  },
  { name: 'in-issuer', kind: 'string', value: 'DN', help: 'require this exact issuer DN of TLS senders (RFC 2253)' },
  {
    name: 'in-fingerprint',
    kind: 'string',
    repeatable: true,
    value: 'sha256:HEX',
    help: 'allow only these TLS sender certificates',
  },
  {
    name: 'max-message',
    kind: 'string',
    value: 'BYTES',
    help: `longest message from a TCP/TLS sender; a longer one is cut to it and counted (default ${defaults.maxMessage})`,
  },
  {
    name: 'max-senders',
    kind: 'string',
    value: 'N',
    help: `senders connected at once per TCP/TLS input; more are closed at once (default ${defaults.maxSenders})`,
  },
  {
    name: 'sender-idle',
    kind: 'string',
    value: 'SECONDS',
    help: `disconnect a TCP/TLS sender that completes no message this long, 0 for never (default ${defaults.senderIdleS})`,
  },
];

/** The stream-input part of RelayOptions; `demoCa` stands in for --in-ca under --demo. */
export function streamInputOptions(
  flags: Flags,
  checkAddress: (flag: string, value: string) => string,
  demoCa?: string,
): Partial<RelayOptions> {
  const tcp = flags.strings('tcp').map((a) => checkAddress('tcp', a));
  const tlsIn = flags.strings('tls-in').map((a) => checkAddress('tls-in', a));
  const inVerify = flags.choice('in-verify', ['none', 'optional', 'require'] as const, defaults.inVerify);
  const inCa = flags.string('in-ca', demoCa);
  if (tlsIn.length > 0 && inVerify !== 'none' && inCa === undefined) {
    throw new UsageError(`--tls-in needs --in-ca FILE (or --in-verify none)`);
  }
  let inFingerprints: string[];
  try {
    inFingerprints = flags.strings('in-fingerprint').map(normalizeFingerprint);
  } catch (e) {
    throw new UsageError(`--in-fingerprint: ${(e as Error).message}`);
  }
  const inIssuer = flags.string('in-issuer');
  if ((inIssuer !== undefined || inFingerprints.length > 0) && inVerify !== 'require') {
    throw new UsageError('--in-issuer and --in-fingerprint need --in-verify require');
  }
  return {
    tcp,
    tlsIn,
    inCa: inCa === undefined ? undefined : { file: inCa },
    inVerify,
    inIssuer,
    inFingerprints,
    maxMessage: flags.integer('max-message', defaults.maxMessage, 1, limits.maxMessage),
    maxSenders: flags.integer('max-senders', defaults.maxSenders, 1, limits.maxSenders),
    senderIdleS: flags.integer('sender-idle', defaults.senderIdleS, 0, limits.maxSenderIdleS),
  };
}
