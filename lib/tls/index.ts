/** TLS over our own non-blocking fds, with the OpenSSL that Node ships. */
export { TlsContext } from './context';
export type { Pem, TlsContextOptions, VerifyMode } from './context';
export { TlsSession, WANT_READ, WANT_WRITE } from './session';
export type { PeerCertificate, TlsSessionOptions, Want } from './session';
export { makeDevCa, makeServerCert, makeClientCert } from './devcert';
export type { CertAndKey, CertOptions, ServerCertOptions } from './devcert';
export type { TlsError } from './error';
