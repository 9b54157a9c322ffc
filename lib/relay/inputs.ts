/**
 * The relay's input kinds, each under the one name it has everywhere: its command-line flag and
 * the name (`FileDescriptorName=`) of a socket passed for it by socket activation. The command
 * line, the counters and the engine all read this table, so an input kind is added here once.
 */
import type { SocketKind } from '../net/inherited';

/** What the relay needs to know about one input kind. */
export interface InputKind {
  /** The RelayOptions field that lists its addresses. */
  readonly option: 'udp' | 'unix' | 'tcp' | 'tlsIn';
  /** What a socket passed under this name must be. */
  readonly socket: SocketKind;
  /** How its messages arrive: one datagram each, or over a TCP or TLS connection (framed). */
  readonly transport: 'datagram' | 'tcp' | 'tls';
}

/** In the order inputs are numbered in stats, within each of datagram and stream inputs. */
export const INPUT_KINDS = {
  udp: { option: 'udp', socket: 'udp', transport: 'datagram' },
  unix: { option: 'unix', socket: 'unix-dgram', transport: 'datagram' },
  tcp: { option: 'tcp', socket: 'tcp-listen', transport: 'tcp' },
  'tls-in': { option: 'tlsIn', socket: 'tcp-listen', transport: 'tls' },
} as const satisfies Record<string, InputKind>;

export type InputName = keyof typeof INPUT_KINDS;

/** Every input kind's name. */
const INPUT_NAMES = Object.keys(INPUT_KINDS) as InputName[];

/** The input kinds whose senders connect (TCP, TLS), each served by a StreamInput. */
export type StreamInputName = {
  [K in InputName]: (typeof INPUT_KINDS)[K]['transport'] extends 'datagram' ? never : K;
}[InputName];

export const STREAM_INPUT_NAMES = INPUT_NAMES.filter(
  (n): n is StreamInputName => INPUT_KINDS[n].transport !== 'datagram',
);

/** The options that name inputs, stated here: options.ts uses this table, and a type taken back from it would be a cycle. */
type InputOptions = { readonly [K in InputKind['option']]?: readonly string[] } & {
  readonly listenFds?: Readonly<Record<string, readonly number[]>>;
};

/** How many inputs of kind `name` the options make: the addresses given plus the sockets passed under its name. */
export function inputsOf(options: InputOptions, name: InputName): number {
  return (options[INPUT_KINDS[name].option]?.length ?? 0) + (options.listenFds?.[name]?.length ?? 0);
}

/** How many datagram inputs (UDP, unix) and stream inputs (TCP, TLS) the options make. */
export function inputCounts(options: InputOptions): { datagram: number; stream: number } {
  const counts = { datagram: 0, stream: 0 };
  for (const name of INPUT_NAMES) {
    const kind: InputKind = INPUT_KINDS[name];
    counts[kind.transport === 'datagram' ? 'datagram' : 'stream'] += inputsOf(options, name);
  }
  return counts;
}
