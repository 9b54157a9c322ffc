/** pollset: a readiness event loop over raw file descriptors for Node.js. */
export { Pollset } from './pollset';
export type { Backend, InterestOptions, PollEvent, PollsetOptions, WatchOptions } from './pollset';
export type { EventBatches, WatchEventsOptions } from './pollset-batches';
export { pipe, socketpair, read, write, close, setNonBlocking } from './fd';
export { AbortError, WOULD_BLOCK, systemError } from './errors';
export type { SystemError, WouldBlock } from './errors';
export { Address, resolveAddress } from './net/address';
export type { AddressFamily } from './net/address';
export { DatagramSocket, DatagramBatch, bindDatagram } from './net/datagram';
export type { DatagramType, DatagramOptions } from './net/datagram';
export * as tcp from './net/tcp';
export * from './loop';
export * from './streams';
export { TlsContext, TlsSession, WANT_READ, WANT_WRITE, makeDevCa, makeServerCert, makeClientCert } from './tls';
export type {
  CertAndKey,
  CertOptions,
  PeerCertificate,
  Pem,
  ServerCertOptions,
  TlsContextOptions,
  TlsError,
  TlsSessionOptions,
  VerifyMode,
  Want,
} from './tls';
export * from './relay';
