/** Our TLS ↔ Node's tls, over real TCP on 127.0.0.1 (bridged to our socketpair end). */
import * as tls from 'tls';
import { close, makeClientCert, makeDevCa, makeServerCert, TlsContext, TlsSession } from '../lib';
import { connectBridge, destroyBridges, drive, listenBridge, readAll, writeAll } from './tls-helpers';

afterEach(() => destroyBridges());

const ca = makeDevCa();
const server = makeServerCert(ca);
const alice = makeClientCert(ca, { cn: 'alice', o: 'Home' });

/** Our server on a bridged fd; a Node tls client connects over TCP with `options`. */
async function ourServer(verify: 'require' | 'optional', options: tls.ConnectionOptions) {
  const ctx = TlsContext.server({ ...server, ca: ca.cert, verify });
  const bridge = await listenBridge();
  const node = tls.connect({ host: '127.0.0.1', port: bridge.port, ca: ca.cert, servername: 'localhost', ...options });
  const nodeEvents = new Promise<{ secure: boolean; error?: Error }>((resolve) => {
    node.once('secureConnect', () => {
      // TLS 1.3: a client learns of a refused certificate only after its own handshake
      node.once('error', (error) => resolve({ secure: true, error }));
      node.once('data', () => resolve({ secure: true }));
    });
    node.once('error', (error) => resolve({ secure: false, error }));
  });
  const fd = await bridge.accepted;
  const session = new TlsSession(ctx, fd);
  return {
    node,
    nodeEvents,
    session,
    done() {
      node.destroy();
      session.free();
      close(fd);
    },
  };
}

test('our server ↔ Node tls client with a client certificate (verify require)', async () => {
  const t = await ourServer('require', alice);
  try {
    expect(await drive(t.session.fd, () => t.session.handshake())).toBe('done');
    expect(t.session.peerCertificate()).toMatchObject({
      subject: 'CN=alice,O=Home',
      issuer: 'CN=pollset development CA',
    });
    expect(t.session.verifyResult).toBe('ok');
    expect(t.session.servername).toBe('localhost');
    await writeAll(t.session, Buffer.from('hello from pollset\n'));
    expect(await t.nodeEvents).toEqual({ secure: true });
    expect(t.node.authorized).toBe(true);
    expect(t.node.getPeerCertificate().fingerprint256).toBe(
      new (require('crypto').X509Certificate)(server.cert).fingerprint256,
    );
    t.node.end('and back from node');
    expect((await readAll(t.session, 1 << 20)).toString()).toBe('and back from node');
    expect(await drive(t.session.fd, () => t.session.shutdown())).toBe('done');
  } finally {
    t.done();
  }
});

test('our server with verify require refuses a Node client without a certificate', async () => {
  const t = await ourServer('require', {});
  try {
    await expect(drive(t.session.fd, () => t.session.handshake())).rejects.toMatchObject({
      code: 'ERR_TLS_HANDSHAKE',
      reason: 'peer did not return a certificate',
    });
    const node = await t.nodeEvents;
    expect(node.error).toMatchObject({ code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });
  } finally {
    t.done();
  }
});

test('our server with verify optional accepts a Node client without a certificate and reports none', async () => {
  const t = await ourServer('optional', {});
  try {
    expect(await drive(t.session.fd, () => t.session.handshake())).toBe('done');
    expect(t.session.peerCertificate()).toBeNull();
    await writeAll(t.session, Buffer.from('welcome, stranger\n'));
    expect(await t.nodeEvents).toEqual({ secure: true });
  } finally {
    t.done();
  }
});

test('TLS 1.2 interop', async () => {
  const t = await ourServer('require', { ...alice, maxVersion: 'TLSv1.2' });
  try {
    expect(await drive(t.session.fd, () => t.session.handshake())).toBe('done');
    expect(t.session.protocol).toBe('TLSv1.2');
    expect(t.session.cipher).toMatch(/^ECDHE-ECDSA-/);
    await writeAll(t.session, Buffer.from('1.2 works\n'));
    expect(await t.nodeEvents).toEqual({ secure: true });
  } finally {
    t.done();
  }
});

test('TLS 1.1 is below our minimum', async () => {
  const t = await ourServer('optional', { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
  try {
    await expect(drive(t.session.fd, () => t.session.handshake())).rejects.toMatchObject({
      code: 'ERR_TLS_HANDSHAKE',
      reason: expect.stringMatching(/unsupported protocol/),
    });
    expect((await t.nodeEvents).secure).toBe(false);
  } finally {
    t.done();
  }
});

/** A Node tls server on 127.0.0.1; our client connects to it over TCP. */
async function nodeServer() {
  const accepted: tls.TLSSocket[] = [];
  const srv = tls.createServer({ ...server, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (socket) => {
    accepted.push(socket);
    socket.write(`hello ${socket.servername} from node`);
    socket.on('data', (d) => socket.write(d)); // echo
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  return { srv, port, accepted, close: () => new Promise((resolve) => srv.close(resolve)) };
}

test('our client ↔ Node tls server: SNI arrives, the server certificate verifies against our CA', async () => {
  const n = await nodeServer();
  const fd = await connectBridge(n.port);
  const session = new TlsSession(TlsContext.client({ ...alice, ca: ca.cert }), fd, { servername: 'localhost' });
  try {
    expect(await drive(fd, () => session.handshake())).toBe('done');
    expect(session.verifyResult).toBe('ok');
    expect(session.peerCertificate()!.subject).toBe('CN=localhost');
    const greeting = 'hello localhost from node';
    expect((await readAll(session, greeting.length)).toString()).toBe(greeting);
    await writeAll(session, Buffer.from('ping'));
    expect((await readAll(session, 4)).toString()).toBe('ping');
    expect(await drive(fd, () => session.shutdown())).toBe('sent');
    expect(n.accepted[0].servername).toBe('localhost');
    expect(n.accepted[0].authorized).toBe(true);
    expect(n.accepted[0].getPeerCertificate().subject.CN).toBe('alice');
  } finally {
    session.free();
    close(fd);
    await n.close();
  }
});

test('our client refuses a Node tls server whose certificate does not name the host', async () => {
  const n = await nodeServer();
  const fd = await connectBridge(n.port);
  const session = new TlsSession(TlsContext.client({ ...alice, ca: ca.cert }), fd, { servername: 'wrong.example' });
  try {
    await expect(drive(fd, () => session.handshake())).rejects.toMatchObject({
      code: 'ERR_TLS_HANDSHAKE',
      reason: 'certificate verify failed (hostname mismatch)',
    });
  } finally {
    session.free();
    close(fd);
    await n.close();
  }
});
