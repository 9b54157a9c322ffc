/** Errors from TLS: protocol and verification failures carry OpenSSL's reason text. */

/** A TLS failure: `code` says which step failed, `reason` is OpenSSL's text for why. */
export interface TlsError extends Error {
  /** 'ERR_TLS_CONTEXT' (building a context), 'ERR_TLS_HANDSHAKE', or 'ERR_TLS_PROTOCOL' (after the handshake). */
  code: 'ERR_TLS_CONTEXT' | 'ERR_TLS_HANDSHAKE' | 'ERR_TLS_PROTOCOL';
  /** OpenSSL's reason, e.g. `certificate verify failed (certificate has expired)`. */
  reason: string;
  /** The OpenSSL call that failed, e.g. 'SSL_do_handshake'. */
  syscall: string;
  /** The session's fd, when the failure belongs to one. */
  fd?: number;
}

/** Builds `ERR_TLS_HANDSHAKE: <reason>, SSL_do_handshake (fd 7)`, shaped like Node's system errors. */
export function tlsError(code: TlsError['code'], reason: string, syscall: string, fd?: number): TlsError {
  const where = fd !== undefined ? ` (fd ${fd})` : '';
  const err = new Error(`${code}: ${reason}, ${syscall}${where}`) as TlsError;
  err.code = code;
  err.reason = reason;
  err.syscall = syscall;
  if (fd !== undefined) err.fd = fd;
  return err;
}
