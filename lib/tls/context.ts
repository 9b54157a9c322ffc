/**
 * TlsContext: the policy shared by every session made from it — identity (cert/key), trusted CAs,
 * verify mode. TLS 1.2 is the minimum, renegotiation is refused, sessions are not resumed.
 */
import '../dispose';
import * as fs from 'fs';
import { argTypeError, hasOwn } from '../errors';
import { native, NativeTlsContext } from '../native';
import { tlsError } from './error';

/** PEM text or its bytes. */
export type Pem = string | Uint8Array;

/**
 * How the peer's certificate is treated.
 * - `none`: not asked for (server) / not enforced (client); `verifyResult` still reports it.
 * - `optional`: asked for; the handshake completes with a missing or unverified certificate and
 *   the application decides from `verifyResult` and `peerCertificate()`.
 * - `require`: a certificate chaining to `ca` (and, for clients, matching `servername`) or the
 *   handshake fails.
 */
export type VerifyMode = 'none' | 'optional' | 'require';

/** What a {@link TlsContext} is built from: own certificate and key, trusted CAs, and how peers are checked. */
export interface TlsContextOptions {
  /** Certificate (leaf first, then chain), as PEM. A server needs one, with its `key`. */
  cert?: Pem;
  /** The private key of `cert`, as PEM. */
  key?: Pem;
  /** Trusted CA certificates (PEM, one or several) for verifying the peer. */
  ca?: Pem;
  /** `cert`, read from this file. */
  certFile?: string;
  /** `key`, read from this file. */
  keyFile?: string;
  /** `ca`, read from this file. */
  caFile?: string;
  /** Default: 'none' for servers, 'require' for clients. */
  verify?: VerifyMode;
  /**
   * With verify 'require': the peer certificate's issuer must be exactly this RFC 2253 DN (as
   * `openssl x509 -noout -issuer -nameopt RFC2253` prints it). Checked during the handshake: a
   * mismatch aborts it with an alert, and the error's reason names the issuer.
   */
  issuer?: string;
  /** With verify 'require': allowed SHA-256 fingerprints of the peer certificate (`AB:CD:…`, any case). */
  fingerprints?: string[];
  /** Client only: default host name (or IP) for sessions — sent as SNI and checked against the server certificate. */
  servername?: string;
  /**
   * ALPN protocol names (RFC 7301), most preferred first. A client offers them in its hello; a
   * server selects the first of its own the client offered. No common name, or a client that
   * offers none, is not an error: the handshake completes with no protocol (`session.alpn` null).
   */
  alpn?: string[];
}

const VERIFY = { none: 0, optional: 1, require: 2 } as const;

/**
 * The PEM given, or read from its file. A file that cannot be read (missing, unreadable, a
 * directory) is an ERR_TLS_CONTEXT like a file that holds no usable PEM: both are a mistake in what
 * was given, and the reason names the file (fs errors for a directory name none). `errno`, `path`
 * and `cause` keep the system error.
 */
function pem(what: string, value: Pem | undefined, file: string | undefined): Pem | undefined {
  if (file === undefined) return value;
  // A number would be read as an fd (0: stdin), and a Buffer path is not what the option says.
  if (typeof file !== 'string') throw argTypeError(`the ${what} file must be a path string, not ${typeof file}`);
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const sys = e as NodeJS.ErrnoException;
    if (typeof sys?.syscall !== 'string') throw e; // not a system error (a path with a NUL byte): the caller's mistake as it is
    // Node's text is "ENOENT: no such file or directory, open '/x'": keep the middle, the why.
    const why = /^[A-Z0-9_]+: (.*?), \w+(?: '.*')?$/.exec(sys.message)?.[1] ?? sys.message;
    const err = tlsError('ERR_TLS_CONTEXT', `cannot read ${what} (${file}): ${why} (${sys.code})`, sys.syscall);
    throw Object.assign(err, { errno: sys.errno, path: file, cause: e });
  }
}

/** The native error names which PEM was wrong ("CA PEM"); when it came from a file, name the file too. */
function nameFiles(error: string, o: TlsContextOptions): string {
  const files: [RegExp, string | undefined][] = [
    [/\bcert PEM\b/, o.certFile],
    [/\bkey PEM\b/, o.keyFile],
    [/\bCA PEM\b/, o.caFile],
  ];
  return files.reduce(
    (text, [phrase, file]) => (file === undefined ? text : text.replace(phrase, (p) => `${p} (${file})`)),
    error,
  );
}

/** A server or client TLS context. Free it with `free()`; it is also freed when collected. */
export class TlsContext {
  /** @internal */
  readonly native: NativeTlsContext;
  /** Whether sessions of this context accept (`server`) or make (`client`) connections. */
  readonly role: 'server' | 'client';
  /** How the peer's certificate is checked (see {@link VerifyMode}); the option, or the role's default. */
  readonly verify: VerifyMode;
  /** Client contexts: the default server name of sessions (SNI and certificate check); else undefined. */
  readonly servername: string | undefined;

  /** A context for accepting TLS connections. */
  static server(options: TlsContextOptions): TlsContext {
    return new TlsContext('server', options);
  }

  /** A context for making TLS connections. */
  static client(options: TlsContextOptions = {}): TlsContext {
    return new TlsContext('client', options);
  }

  constructor(role: 'server' | 'client', options: TlsContextOptions = {}) {
    this.role = role;
    this.verify = options.verify ?? (role === 'server' ? 'none' : 'require');
    if (!hasOwn(VERIFY, this.verify)) throw argTypeError(`verify must be 'none', 'optional' or 'require'`);
    this.servername = options.servername;
    this.native = new native.TlsContext({
      server: role === 'server',
      cert: pem('cert PEM', options.cert, options.certFile),
      key: pem('key PEM', options.key, options.keyFile),
      ca: pem('CA PEM', options.ca, options.caFile),
      verify: VERIFY[this.verify],
      issuer: options.issuer,
      fingerprints: options.fingerprints?.map((f) => f.replace(/^sha256:/i, '').toUpperCase()),
      alpn: options.alpn,
    });
    if (this.native.error) throw tlsError('ERR_TLS_CONTEXT', nameFiles(this.native.error, options), 'SSL_CTX_new');
  }

  /** Releases the context now. Sessions made from it keep working (they hold their own reference). */
  free(): void {
    this.native.free();
  }

  /** `using ctx = TlsContext.server(…)`: {@link free} at the end of the block. */
  [Symbol.dispose](): void {
    this.free();
  }
}
