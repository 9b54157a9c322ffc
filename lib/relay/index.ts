/** The syslog relay: datagram inputs → one sequence-numbered log → TLS subscribers, each a cursor into it. */
export { Relay } from './relay';
export type { Listening } from './runner';
export type { RelayOptions, PemSource } from './options';
export type { RelayStats } from './stats';
export { statsFields } from './stats';
export { frame, unescapeLf, Deframer } from './framing';
export type { Framing } from './framing';
export type { FullPolicy } from './subscriber';
/** The ALPN name of the subscriber protocol (`logrelay/1`). */
export { PROTOCOL } from './client';
export type { FsyncPolicy } from './options';
export { createLogger } from './log';
export type { Logger, Level, Fields } from './log';
