/** Our TLS server ↔ our TLS client over a socketpair: handshake, data, certificate info, shutdown. */
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import {
  close,
  makeClientCert,
  makeDevCa,
  makeServerCert,
  read,
  TlsContext,
  WANT_READ,
  WANT_WRITE,
  write,
} from '../lib';
import { handshake, sessionPair, settle } from './tls-helpers';

const ca = makeDevCa({ cn: 'Test CA', o: 'pollset tests' });
const server = makeServerCert(ca);
const alice = makeClientCert(ca, { cn: 'alice', o: 'Home, Inc.' });
const serverCtx = TlsContext.server({ ...server, ca: ca.cert, verify: 'require' });
const clientCtx = TlsContext.client({ ...alice, ca: ca.cert, servername: 'localhost' });

function opensslNames(pem: string): { subject: string; issuer: string } {
  const out = execFileSync('openssl', ['x509', '-noout', '-subject', '-issuer', '-nameopt', 'RFC2253'], {
    input: pem,
    encoding: 'utf8',
  });
  const line = (prefix: string) =>
    out
      .split('\n')
      .find((l) => l.startsWith(prefix))!
      .slice(prefix.length);
  return { subject: line('subject='), issuer: line('issuer=') };
}

test('handshake over a socketpair, both sides verified, TLS 1.3 by default', () => {
  const pair = sessionPair(clientCtx, serverCtx);
  try {
    expect(handshake(pair)).toEqual(['done', 'done']);
    for (const s of [pair.client, pair.server]) {
      expect(s.protocol).toBe('TLSv1.3');
      expect(s.cipher).toMatch(/^TLS_/);
      expect(s.verifyResult).toBe('ok');
      expect(s.verifyCode).toBe(0);
    }
    expect(pair.server.servername).toBe('localhost');
    expect(pair.client.peerCertificate()!.subject).toBe('CN=localhost');
    expect(pair.server.peerCertificate()!.subject).toBe('CN=alice,O=Home\\, Inc.');
  } finally {
    pair.free();
  }
});

test('peer certificate subject/issuer match openssl x509 -nameopt RFC2253; fingerprint and dates match Node', () => {
  const pair = sessionPair(clientCtx, serverCtx);
  try {
    handshake(pair);
    for (const [cert, pem] of [
      [pair.server.peerCertificate()!, alice.cert],
      [pair.client.peerCertificate()!, server.cert],
    ] as const) {
      expect(cert.pem).toBe(pem);
      expect({ subject: cert.subject, issuer: cert.issuer }).toEqual(opensslNames(pem));
      const x509 = new crypto.X509Certificate(pem);
      expect(cert.fingerprint256).toBe(x509.fingerprint256);
      expect(new Date(cert.validFrom).getTime()).toBe(new Date(x509.validFrom).getTime());
      expect(new Date(cert.validTo).getTime()).toBe(new Date(x509.validTo).getTime());
      expect(cert.validTo).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
  } finally {
    pair.free();
  }
});

test('data both ways, 1 MiB through want-write and partial writes, then close_notify is a clean EOF', () => {
  const pair = sessionPair(clientCtx, serverCtx);
  try {
    handshake(pair);
    const payload = crypto.randomBytes(1 << 20);
    const received: Buffer[] = [];
    let sent = 0;
    let got = 0;
    let wantedWrite = false;
    const buf = Buffer.alloc(65536);
    settle([
      {
        fd: pair.client.fd,
        run: () => {
          while (sent < payload.length) {
            const r = pair.client.write(payload, sent);
            if (r === WANT_WRITE) wantedWrite = true;
            if (typeof r !== 'number') return r;
            sent += r;
          }
          return 'sent';
        },
      },
      {
        fd: pair.server.fd,
        run: () => {
          while (got < payload.length) {
            const r = pair.server.read(buf);
            if (typeof r !== 'number') return r;
            received.push(Buffer.from(buf.subarray(0, r)));
            got += r;
          }
          return 'received';
        },
      },
    ]);
    expect(wantedWrite).toBe(true);
    expect(Buffer.concat(received).equals(payload)).toBe(true);

    expect(pair.server.write(Buffer.from('pong'))).toBe(4);
    expect(settle([{ fd: pair.client.fd, run: () => pair.client.read(buf) }])).toEqual([4]);
    expect(buf.toString('utf8', 0, 4)).toBe('pong');

    expect(pair.client.shutdown()).toBe('sent');
    expect(settle([{ fd: pair.server.fd, run: () => pair.server.read(buf) }])).toEqual([0]);
    expect(pair.server.shutdown()).toBe('done');
    expect(settle([{ fd: pair.client.fd, run: () => pair.client.shutdown() }])).toEqual(['done']);
  } finally {
    pair.free();
  }
});

test('a session waits with WANT_READ, and never closes the fd it is bound to', () => {
  const pair = sessionPair(clientCtx, serverCtx);
  expect(pair.server.handshake()).toBe(WANT_READ);
  expect(pair.client.handshake()).toBe(WANT_READ); // ClientHello sent, now waiting for the server
  pair.client.free();
  pair.server.free();
  pair.client.free(); // idempotent
  expect(() => pair.server.handshake()).toThrow('TLS session is freed');
  // both fds still work: the socket layer owns them
  const [a, b] = pair.fds;
  const bytes = Buffer.alloc(4096);
  const clientHello = read(b, bytes);
  expect(typeof clientHello === 'number' && clientHello > 0 && bytes[0] === 0x16).toBe(true);
  expect(write(a, Buffer.from('x'))).toBe(1);
  close(a);
  close(b);
});

test('verify optional: a client without a certificate is accepted and reported as having none', () => {
  const optionalCtx = TlsContext.server({ ...server, ca: ca.cert, verify: 'optional' });
  const anonymous = TlsContext.client({ ca: ca.cert, servername: 'localhost' });
  const pair = sessionPair(anonymous, optionalCtx);
  try {
    expect(handshake(pair)).toEqual(['done', 'done']);
    expect(pair.server.peerCertificate()).toBeNull();
  } finally {
    pair.free();
  }
});

test('IP servername: checked against the IP SANs, not sent as SNI', () => {
  for (const ip of ['127.0.0.1', '::1']) {
    const pair = sessionPair(TlsContext.client({ ca: ca.cert }), TlsContext.server(server), ip);
    try {
      expect(handshake(pair)).toEqual(['done', 'done']);
      expect(pair.server.servername).toBeNull();
      expect(pair.client.verifyResult).toBe('ok');
    } finally {
      pair.free();
    }
  }
});
