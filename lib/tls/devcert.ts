/**
 * Development certificates, made in-process (no `openssl` binary needed): a CA, and server and
 * client certificates it signs. Keys are ECDSA P-256. For tests and demos, not for production PKI.
 */
import { native, NativeCertSpec } from '../native';
import { tlsError } from './error';

/** A certificate and its private key, both PEM. */
export interface CertAndKey {
  /** The certificate, PEM. */
  cert: string;
  /** Its private key (ECDSA P-256), PEM. */
  key: string;
}

/** Subject and validity of a development certificate. */
export interface CertOptions {
  /** Subject common name. */
  cn?: string;
  /** Subject organization. */
  o?: string;
  /** Default: one hour ago (tolerates small clock differences). */
  notBefore?: Date;
  /** Default: CA ten years, others one year from now. */
  notAfter?: Date;
}

/** A development server certificate: {@link CertOptions} and the names it is valid for. */
export interface ServerCertOptions extends CertOptions {
  /** Names and IPs for the subjectAltName. Default: localhost, 127.0.0.1, ::1. */
  hosts?: string[];
}

// DNS names never contain ':' and never are all digits and dots; OpenSSL rejects a malformed
// address. (Node's net.isIP would do, but loading 'net' here costs every user of the package.)
const isIpLiteral = (host: string) => host.includes(':') || /^[0-9.]+$/.test(host);

const HOUR = 3600;
const YEAR = 365 * 24 * HOUR;

function make(
  spec: Omit<NativeCertSpec, 'notBefore' | 'notAfter'>,
  options: CertOptions,
  lifetime: number,
): CertAndKey {
  const now = Math.floor(Date.now() / 1000);
  const seconds = (d: Date | undefined, fallback: number) => (d ? Math.floor(d.getTime() / 1000) : fallback);
  const made = native.makeCertificate({
    ...spec,
    notBefore: seconds(options.notBefore, now - HOUR),
    notAfter: seconds(options.notAfter, now + lifetime),
  });
  if ('error' in made) throw tlsError('ERR_TLS_CONTEXT', made.error, 'makeCertificate');
  return made;
}

/** A self-signed CA (CN 'pollset development CA' unless given). */
export function makeDevCa(options: CertOptions = {}): CertAndKey {
  return make({ role: 'ca', cn: options.cn ?? 'pollset development CA', o: options.o }, options, 10 * YEAR);
}

/** A server certificate signed by `ca`, valid for `hosts` (DNS names and IP addresses). */
export function makeServerCert(ca: CertAndKey, options: ServerCertOptions = {}): CertAndKey {
  const hosts = options.hosts ?? ['localhost', '127.0.0.1', '::1'];
  const altNames = hosts.map((h) => (isIpLiteral(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  const cn = options.cn ?? hosts[0] ?? 'localhost';
  return make({ role: 'server', cn, o: options.o, altNames, issuerCert: ca.cert, issuerKey: ca.key }, options, YEAR);
}

/** A client certificate signed by `ca`, for TLS client authentication. */
export function makeClientCert(ca: CertAndKey, options: CertOptions & { cn: string }): CertAndKey {
  return make({ role: 'client', cn: options.cn, o: options.o, issuerCert: ca.cert, issuerKey: ca.key }, options, YEAR);
}
