/** Bad peers and bad certificates end in Node-style errors carrying OpenSSL's reason — never a crash. */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  close,
  makeClientCert,
  makeDevCa,
  makeServerCert,
  read,
  socketpair,
  TlsContext,
  TlsSession,
  write,
  WOULD_BLOCK,
} from '../lib';
import type { TlsError } from '../lib';
import { handshake, opensslClientCert, sessionPair, settle } from './tls-helpers';

const ca = makeDevCa();
const otherCa = makeDevCa({ cn: 'Someone else' });
const server = makeServerCert(ca);
const alice = makeClientCert(ca, { cn: 'alice' });
const requireCtx = TlsContext.server({ ...server, ca: ca.cert, verify: 'require' });
const DAY = 86400e3;

function client(certs: object = alice, servername = 'localhost', trusted = ca.cert): TlsContext {
  return TlsContext.client({ ...certs, ca: trusted, servername });
}

function handshakeErrors(clientCtx: TlsContext, serverCtx: TlsContext): [unknown, unknown] {
  const pair = sessionPair(clientCtx, serverCtx);
  try {
    const [c, s] = handshake(pair);
    // TLS 1.3: the client finishes first and learns of the server's refusal on its next read
    const late = c === 'done' ? settle([{ fd: pair.client.fd, run: () => pair.client.read(Buffer.alloc(64)) }])[0] : c;
    return [late, s];
  } finally {
    pair.free();
  }
}

function expectTlsError(err: unknown, code: TlsError['code'], reason: RegExp): void {
  expect(err).toBeInstanceOf(Error);
  const e = err as TlsError;
  expect(e.code).toBe(code);
  expect(e.reason).toMatch(reason);
  expect(e.message).toContain(e.reason);
  expect(e.message).toMatch(/\(fd \d+\)$/);
}

test('garbage instead of a ClientHello', () => {
  for (const garbage of [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), crypto.randomBytes(600)]) {
    const [ours, theirs] = socketpair();
    const session = new TlsSession(requireCtx, ours);
    try {
      expect(write(theirs, garbage)).toBe(garbage.length);
      const [err] = settle([{ fd: ours, run: () => session.handshake() }]);
      expectTlsError(
        err,
        'ERR_TLS_HANDSHAKE',
        /http request|wrong version number|packet length too long|unknown protocol|record/,
      );
    } finally {
      session.free();
      close(ours);
      close(theirs);
    }
  }
});

test('a client without a certificate when one is required', () => {
  const [c, s] = handshakeErrors(client({}), requireCtx);
  expectTlsError(s, 'ERR_TLS_HANDSHAKE', /peer did not return a certificate/);
  expectTlsError(c, 'ERR_TLS_PROTOCOL', /alert certificate required/);
});

test('a client certificate from another CA', () => {
  const [c, s] = handshakeErrors(client(makeClientCert(otherCa, { cn: 'mallory' })), requireCtx);
  expectTlsError(s, 'ERR_TLS_HANDSHAKE', /^certificate verify failed \(unable to get local issuer certificate\)$/);
  expectTlsError(c, 'ERR_TLS_PROTOCOL', /alert unknown ca/);
});

test('an expired client certificate', () => {
  const expired = makeClientCert(ca, {
    cn: 'old',
    notBefore: new Date(Date.now() - 2 * DAY),
    notAfter: new Date(Date.now() - DAY),
  });
  const [, s] = handshakeErrors(client(expired), requireCtx);
  expectTlsError(s, 'ERR_TLS_HANDSHAKE', /^certificate verify failed \(certificate has expired\)$/);
});

test('the client refuses a server from another CA, a wrong host name and a wrong IP', () => {
  const cases: [TlsContext, TlsContext, RegExp][] = [
    // the server sends its chain up to its root (OpenSSL builds it from the trusted store)
    [client({}, 'localhost', otherCa.cert), requireCtx, /self-signed certificate in certificate chain/],
    [client(alice, 'example.com'), requireCtx, /hostname mismatch/],
    [client(alice, '10.0.0.1'), requireCtx, /IP address mismatch/],
  ];
  for (const [clientCtx, serverCtx, reason] of cases) {
    const [c, s] = handshakeErrors(clientCtx, serverCtx);
    expectTlsError(c, 'ERR_TLS_HANDSHAKE', reason);
    expect(s).toBeInstanceOf(Error); // the client's alert ends the server's handshake too
  }
});

/** Our client on `c`, our server on `s`, and the test relaying raw bytes x ⇄ y in between. */
function relayed() {
  const [c, x] = socketpair();
  const [y, s] = socketpair();
  const clientSession = new TlsSession(client(), c);
  const serverSession = new TlsSession(requireCtx, s);
  const buf = Buffer.alloc(65536);
  const take = (fd: number): Buffer => {
    const n = read(fd, buf);
    return n === WOULD_BLOCK ? Buffer.alloc(0) : Buffer.from(buf.subarray(0, n));
  };
  const give = (fd: number, bytes: Buffer) => bytes.length && expect(write(fd, bytes)).toBe(bytes.length);
  const open = new Set([c, x, y, s]);
  return {
    client: clientSession,
    server: serverSession,
    take,
    give,
    x,
    y,
    /** The peer goes away: the relay's server-facing end closes. */
    hangUp() {
      close(y);
      open.delete(y);
    },
    /** Handshake with every byte relayed (each step completes in-process, so a few rounds suffice). */
    handshake() {
      let done = [false, false];
      for (let i = 0; i < 10 && !(done[0] && done[1]); i++) {
        done = [done[0] || clientSession.handshake() === 'done', done[1]];
        give(y, take(x));
        done = [done[0], done[1] || serverSession.handshake() === 'done'];
        give(x, take(y));
      }
      expect(done).toEqual([true, true]);
    },
    free() {
      clientSession.free();
      serverSession.free();
      for (const fd of open) close(fd);
    },
  };
}

test('the peer closes mid-handshake: after half a ClientHello (EOF), and with the server flight unread (reset)', () => {
  const r1 = relayed();
  try {
    r1.client.handshake();
    const hello = r1.take(r1.x);
    r1.give(r1.y, hello.subarray(0, hello.length >> 1));
    r1.hangUp();
    expectTlsError(
      settle([{ fd: r1.server.fd, run: () => r1.server.handshake() }])[0],
      'ERR_TLS_HANDSHAKE',
      /unexpected eof/,
    );
  } finally {
    r1.free();
  }

  const pair = sessionPair(client(), requireCtx);
  try {
    expect(pair.client.handshake()).not.toBe('done');
    expect(pair.server.handshake()).not.toBe('done');
    pair.client.free();
    close(pair.fds[0]);
    pair.fds[0] = socketpair()[0]; // keeps free() simple; closed there
    // the client left the server's flight unread, so the kernel reports a reset: a system error
    const [err] = settle([{ fd: pair.server.fd, run: () => pair.server.handshake() }]);
    expect(err).toMatchObject({ code: 'ECONNRESET', syscall: 'SSL_do_handshake', fd: pair.server.fd });
  } finally {
    pair.free();
  }
});

test('the peer closes mid-record', () => {
  const r = relayed();
  try {
    r.handshake();
    expect(r.client.write(Buffer.alloc(1000, 'a'))).toBe(1000);
    const record = r.take(r.x);
    expect(record[0]).toBe(0x17); // application data
    r.give(r.y, record.subarray(0, 500));
    r.hangUp();
    expectTlsError(
      settle([{ fd: r.server.fd, run: () => r.server.read(Buffer.alloc(2000)) }])[0],
      'ERR_TLS_PROTOCOL',
      /unexpected eof/,
    );
  } finally {
    r.free();
  }
});

test('contexts refuse mismatched or missing material', () => {
  const other = makeServerCert(otherCa);
  let mismatch: unknown;
  try {
    TlsContext.server({ cert: server.cert, key: other.key });
  } catch (err) {
    mismatch = err;
  }
  expect(mismatch).toMatchObject({ code: 'ERR_TLS_CONTEXT', syscall: 'SSL_CTX_new' });
  expect((mismatch as TlsError).reason).toMatch(/key values mismatch/);
  expect(() => TlsContext.server({ cert: 'not a pem', key: server.key })).toThrow(/no certificate in cert PEM/);
  expect(() => TlsContext.server({})).toThrow(/needs cert and key/);
  expect(() => TlsContext.client({ ca: 'junk' })).toThrow(/no certificate in CA PEM/);
  expect(() => TlsContext.client({ verify: 'sometimes' as never })).toThrow(TypeError);
});

test('a CA bundle with no certificate in it is refused, not taken as "trust nothing"', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-ca-'));
  try {
    for (const ca of ['', new Uint8Array(0), server.key, 'not a pem']) {
      expect(() => TlsContext.server({ ...server, ca, verify: 'require' })).toThrow(/no certificate in CA PEM/);
      expect(() => TlsContext.client({ ca })).toThrow(/no certificate in CA PEM/);
    }
    const empty = path.join(dir, 'empty.pem');
    fs.writeFileSync(empty, '');
    let err: unknown;
    try {
      TlsContext.server({ ...server, caFile: empty, verify: 'require' });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ERR_TLS_CONTEXT', reason: `no certificate in CA PEM (${empty})` });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a PEM file that cannot be read is an ERR_TLS_CONTEXT naming the file and why, with the system error kept', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-file-'));
  try {
    const missing = path.join(dir, 'missing.pem');
    const cases: [Record<string, string>, string, string][] = [
      [{ caFile: missing }, `cannot read CA PEM (${missing}): no such file or directory (ENOENT)`, 'ENOENT'],
      [{ certFile: dir }, `cannot read cert PEM (${dir}): illegal operation on a directory (EISDIR)`, 'EISDIR'],
    ];
    for (const [files, reason, sysCode] of cases) {
      let err: unknown;
      try {
        TlsContext.server({ ...server, ...files, verify: 'require' });
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({
        code: 'ERR_TLS_CONTEXT',
        reason,
        errno: expect.any(Number),
        cause: expect.objectContaining({ code: sysCode }),
      });
    }
    // A file option that is not a path is the caller's mistake, never read as an fd.
    for (const caFile of [99999, Buffer.from(missing)]) {
      expect(() => TlsContext.server({ ...server, caFile: caFile as unknown as string, verify: 'require' })).toThrow(
        expect.objectContaining({
          name: 'TypeError',
          code: 'ERR_INVALID_ARG_TYPE',
          message: expect.stringContaining('CA PEM file'),
        }),
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe('a client certificate that is itself a CA certificate is refused (end-entity only)', () => {
  // Made by openssl, signed by the trusted CA, and usable for TLS client authentication by every
  // other measure (digitalSignature, extendedKeyUsage clientAuth): only CA:TRUE tells it apart.
  test.each([
    [
      'CA:TRUE, keyUsage digitalSignature and keyCertSign, EKU clientAuth',
      'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,keyCertSign\nextendedKeyUsage=clientAuth\n',
    ],
    ['CA:TRUE and nothing else', 'basicConstraints=critical,CA:TRUE\n'],
  ])('%s', (_, extensions) => {
    const caLeaf = opensslClientCert(ca, 'ca-leaf', extensions);
    const [, s] = handshakeErrors(client(caLeaf), requireCtx);
    expectTlsError(
      s,
      'ERR_TLS_HANDSHAKE',
      /client certificate "CN=ca-leaf" is a CA certificate .*an end-entity certificate is required/,
    );
    // The same extensions without CA:TRUE make a certificate the server accepts.
    const leaf = opensslClientCert(ca, 'leaf', extensions.replace('CA:TRUE', 'CA:FALSE').replace(',keyCertSign', ''));
    const ok = sessionPair(client(leaf), requireCtx);
    try {
      expect(handshake(ok)).toEqual(['done', 'done']);
    } finally {
      ok.free();
    }
  });

  test('a sub-CA certificate (keyCertSign, no digitalSignature) is refused too', () => {
    const [, s] = handshakeErrors(
      client(
        opensslClientCert(
          ca,
          'sub-ca',
          'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n',
        ),
      ),
      requireCtx,
    );
    expectTlsError(s, 'ERR_TLS_HANDSHAKE', /unsuitable certificate purpose/);
  });
});

describe('issuer and fingerprint pins abort the handshake', () => {
  const bob = makeClientCert(ca, { cn: 'bob' });
  const aliceFp = new crypto.X509Certificate(alice.cert).fingerprint256;
  const caSubject = new crypto.X509Certificate(ca.cert).subject; // Node's form; ours is RFC 2253
  const pinned = (pins: { issuer?: string; fingerprints?: string[] }) =>
    TlsContext.server({ ...server, ca: ca.cert, verify: 'require', ...pins });

  test('a certificate whose fingerprint is allowed passes; another from the same CA is refused', () => {
    const ctx = pinned({ fingerprints: [aliceFp.toLowerCase()] });
    const ok = sessionPair(client(alice), ctx);
    try {
      expect(handshake(ok)).toEqual(['done', 'done']);
      expect(ok.server.peerCertificate()!.fingerprint256).toBe(aliceFp);
    } finally {
      ok.free();
    }
    const [c, s] = handshakeErrors(client(bob), ctx);
    expectTlsError(s, 'ERR_TLS_HANDSHAKE', /fingerprint [0-9A-F:]{95} is not allowed/);
    expect(c).toBeInstanceOf(Error);
  });

  test('the issuer must match exactly (RFC 2253)', () => {
    const pair = sessionPair(client(alice), requireCtx);
    let issuer: string;
    try {
      handshake(pair);
      issuer = pair.server.peerCertificate()!.issuer;
    } finally {
      pair.free();
    }
    expect(caSubject).toBeTruthy();
    const good = sessionPair(client(alice), pinned({ issuer }));
    try {
      expect(handshake(good)).toEqual(['done', 'done']);
    } finally {
      good.free();
    }
    const [, s] = handshakeErrors(client(alice), pinned({ issuer: `${issuer},O=Elsewhere` }));
    expectTlsError(s, 'ERR_TLS_HANDSHAKE', /issuer ".*" is not ".*O=Elsewhere"/);
  });

  test('pins without verify require are a context error', () => {
    expect(() => TlsContext.server({ ...server, ca: ca.cert, verify: 'optional', issuer: 'CN=x' })).toThrow(/require/);
  });
});
