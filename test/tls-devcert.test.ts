/** Development certificates: valid X.509 that the openssl binary and Node both accept as intended. */
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { makeClientCert, makeDevCa, makeServerCert } from '../lib';

function opensslVerify(caPem: string, certPem: string, purpose: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pollset-devcert-'));
  try {
    fs.writeFileSync(path.join(dir, 'ca.pem'), caPem);
    fs.writeFileSync(path.join(dir, 'cert.pem'), certPem);
    const args = ['verify', '-purpose', purpose, '-CAfile', path.join(dir, 'ca.pem'), path.join(dir, 'cert.pem')];
    try {
      return execFileSync('openssl', args, { encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      return String((err as { stdout: string; stderr: string }).stdout) + (err as { stderr: string }).stderr;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('a CA, a server certificate for localhost/127.0.0.1/::1 and a client certificate, ECDSA P-256', () => {
  const ca = makeDevCa({ cn: 'Dev Root', o: 'Example' });
  const server = makeServerCert(ca);
  const client = makeClientCert(ca, { cn: 'alice', o: 'Home' });
  const caX509 = new crypto.X509Certificate(ca.cert);
  const serverX509 = new crypto.X509Certificate(server.cert);
  expect(caX509.ca).toBe(true);
  expect(caX509.subject).toBe('O=Example\nCN=Dev Root');
  expect(serverX509.ca).toBe(false);
  expect(serverX509.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  expect(serverX509.checkIssued(caX509) && serverX509.verify(caX509.publicKey)).toBe(true);
  expect(serverX509.checkHost('localhost')).toBe('localhost');
  expect(serverX509.checkIP('::1')).toBe('::1');
  expect(crypto.createPrivateKey(client.key).asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
  expect(new crypto.X509Certificate(client.cert).checkPrivateKey(crypto.createPrivateKey(client.key))).toBe(true);
  expect(opensslVerify(ca.cert, server.cert, 'sslserver')).toMatch(/: OK/);
  expect(opensslVerify(ca.cert, client.cert, 'sslclient')).toMatch(/: OK/);
  // each role is only good for its purpose
  expect(opensslVerify(ca.cert, client.cert, 'sslserver')).toMatch(/unsuitable certificate purpose/);
  // a CA signs only its own: another CA's certificate does not verify
  expect(opensslVerify(makeDevCa().cert, server.cert, 'sslserver')).toMatch(/unable to get local issuer certificate/);
});

test('validity can be set, so tests can make an expired certificate', () => {
  const ca = makeDevCa();
  const notBefore = new Date('2020-01-01T00:00:00Z');
  const notAfter = new Date('2020-02-01T00:00:00Z');
  const old = makeClientCert(ca, { cn: 'old', notBefore, notAfter });
  const x509 = new crypto.X509Certificate(old.cert);
  expect(new Date(x509.validFrom).toISOString()).toBe(notBefore.toISOString());
  expect(new Date(x509.validTo).toISOString()).toBe(notAfter.toISOString());
  expect(opensslVerify(ca.cert, old.cert, 'sslclient')).toMatch(/certificate has expired/);
  expect(
    new crypto.X509Certificate(makeServerCert(ca, { hosts: ['relay.example', '192.0.2.7'] }).cert).subjectAltName,
  ).toBe('DNS:relay.example, IP Address:192.0.2.7');
});
