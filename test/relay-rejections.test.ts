/**
 * Every way a subscriber is refused, against a real `logrelay`: the handshake is aborted, the log
 * line names the peer's address and the reason, and the relay carries on (a valid `logtail` still
 * gets messages afterwards). The refused peers are Node's tls/net clients in this process.
 */
import * as crypto from 'crypto';
import * as net from 'net';
import * as tls from 'tls';
import { makeClientCert, makeDevCa } from '../lib';
import {
  cleanup,
  CertFiles,
  makeCerts,
  message,
  RelayProcess,
  sendUdp,
  Tail,
  writePem,
  identity,
} from './relay-helpers';
import { opensslClientCert } from './tls-helpers';

afterEach(cleanup);

/** Connects with `connect` (a socket factory), waits for the relay's rejection line for that local port. */
async function expectRejected(
  relay: RelayProcess,
  connect: () => net.Socket,
  reason: RegExp,
  timeoutMs = 10000,
): Promise<void> {
  const socket = connect();
  socket.on('error', () => undefined); // the relay aborts the handshake: that is the point
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no connection')), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      socket.once(socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect', done);
      socket.once('close', done); // refused before the client saw the handshake finish
    });
    const port = socket.localPort;
    const line = await relay.waitEvent('subscriber-rejected', (e) => e.address === `127.0.0.1:${port}`, timeoutMs);
    expect(line.reason).toMatch(reason);
    expect(line.level).toBe('warn');
  } finally {
    socket.destroy();
  }
}

function tlsClient(relay: RelayProcess, ca: string, client?: { cert: string; key: string }): () => net.Socket {
  return () => tls.connect({ host: '127.0.0.1', port: relay.tlsPort, ca, cert: client?.cert, key: client?.key });
}

/** The relay still works: a valid logtail receives a message sent now. */
async function expectStillRelaying(
  relay: RelayProcess,
  certs: Pick<CertFiles, 'ca' | 'clientCert' | 'clientKey'>,
): Promise<void> {
  const tail = await Tail.start(relay, certs);
  const m = message(1, 100, 'after');
  await sendUdp(relay.udpPort, [m]);
  expect((await tail.waitFor(1))[0]).toEqual(m);
}

test('no client certificate, another CA, an expired certificate, garbage, a stalled handshake: each refused and logged', async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start(['--handshake-timeout', '300', ...identity(certs)]);
  const caPem = certs.caPair.cert;

  await expectRejected(relay, tlsClient(relay, caPem), /peer did not return a certificate/);

  const otherCa = makeDevCa({ cn: 'some other CA' });
  await expectRejected(
    relay,
    tlsClient(relay, caPem, makeClientCert(otherCa, { cn: 'stranger' })),
    /unable to get local issuer certificate/,
  );

  const hour = 3600 * 1000;
  const expired = makeClientCert(certs.caPair, {
    cn: 'expired',
    notBefore: new Date(Date.now() - 48 * hour),
    notAfter: new Date(Date.now() - 24 * hour),
  });
  await expectRejected(relay, tlsClient(relay, caPem, expired), /certificate has expired/);

  await expectRejected(
    relay,
    () =>
      net.connect(relay.tlsPort, '127.0.0.1', function (this: net.Socket) {
        this.write('GET / HTTP/1.0\r\n\r\n');
      }),
    /http request|wrong version number/,
  );

  const started = Date.now();
  await expectRejected(relay, () => net.connect(relay.tlsPort, '127.0.0.1'), /timed out/);
  expect(Date.now() - started).toBeGreaterThanOrEqual(250);

  await expectStillRelaying(relay, certs);
  const stats = await relay.stats();
  expect(stats).toMatchObject({ rejected: 5, subscribers: 1 });
  console.log(
    relay
      .all('subscriber-rejected')
      .map((e) => `${e.address}: ${e.reason}`)
      .join('\n'),
  );
}, 30000);

test('--issuer: a certificate chaining to a trusted CA with another issuer DN is refused', async () => {
  const certs = makeCerts();
  const second = makeDevCa({ cn: 'second trusted CA' });
  const bothCas = writePem(certs.dir, 'both-cas.pem', certs.caPair.cert + second.cert);
  const relay = await RelayProcess.start([
    '--issuer',
    'CN=relay test CA',
    '--cert',
    certs.serverCert,
    '--key',
    certs.serverKey,
    '--ca',
    bothCas,
  ]);
  await expectRejected(
    relay,
    tlsClient(relay, certs.caPair.cert, makeClientCert(second, { cn: 'from the second CA' })),
    /issuer/,
  );
  await expectStillRelaying(relay, certs);
}, 20000);

test('--fingerprint: a valid certificate not on the allowlist is refused', async () => {
  const certs = makeCerts();
  const allowed = new crypto.X509Certificate(require('fs').readFileSync(certs.clientCert)).fingerprint256;
  const relay = await RelayProcess.start([
    '--fingerprint',
    `sha256:${allowed.replace(/:/g, '').toLowerCase()}`,
    ...identity(certs),
  ]);
  await expectRejected(
    relay,
    tlsClient(relay, certs.caPair.cert, makeClientCert(certs.caPair, { cn: 'not on the list' })),
    /fingerprint/,
  );
  await expectStillRelaying(relay, certs);
}, 20000);

test('a client certificate that is itself a CA (basicConstraints CA:TRUE), signed by the trusted CA, is refused and logged', async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start(identity(certs));
  const caLeaf = opensslClientCert(
    certs.caPair,
    'a CA as subscriber',
    'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,keyCertSign\nextendedKeyUsage=clientAuth\n',
  );
  await expectRejected(
    relay,
    tlsClient(relay, certs.caPair.cert, caLeaf),
    /client certificate "CN=a CA as subscriber" is a CA certificate/,
  );
  expect(relay.all('subscriber-connected')).toHaveLength(0);
  await expectStillRelaying(relay, certs);
}, 20000);
