/** ALPN (RFC 7301) between our TLS and Node's, both directions, over real TCP on 127.0.0.1. */
import * as tls from 'tls';
import { close, makeClientCert, makeDevCa, makeServerCert, TlsContext, TlsSession } from '../lib';
import { connectBridge, destroyBridges, drive, listenBridge } from './tls-helpers';

afterEach(() => destroyBridges());

const ca = makeDevCa();
const server = makeServerCert(ca);
const alice = makeClientCert(ca, { cn: 'alice' });

/** Our server (offering `ours`) and a Node client offering `theirs` (or nothing): what each side negotiated. */
async function serverSide(
  ours: string[] | undefined,
  theirs: string[] | undefined,
): Promise<{ ours: string | null; theirs: string | false | null }> {
  const ctx = TlsContext.server({ ...server, ca: ca.cert, verify: 'require', alpn: ours });
  const bridge = await listenBridge();
  const node = tls.connect({
    host: '127.0.0.1',
    port: bridge.port,
    ca: ca.cert,
    servername: 'localhost',
    ...alice,
    ...(theirs ? { ALPNProtocols: theirs } : {}),
  });
  const connected = new Promise<void>((resolve, reject) => {
    node.once('secureConnect', resolve);
    node.once('error', reject);
  });
  const fd = await bridge.accepted;
  const session = new TlsSession(ctx, fd);
  try {
    expect(await drive(fd, () => session.handshake())).toBe('done');
    await connected;
    return { ours: session.alpn, theirs: node.alpnProtocol ?? null };
  } finally {
    node.destroy();
    session.free();
    close(fd);
  }
}

test('a server selects its protocol when the client offers it', async () => {
  expect(await serverSide(['logrelay/1'], ['h2', 'logrelay/1'])).toEqual({ ours: 'logrelay/1', theirs: 'logrelay/1' });
});

test('a client that offers no ALPN connects with no protocol negotiated', async () => {
  expect(await serverSide(['logrelay/1'], undefined)).toEqual({ ours: null, theirs: false });
});

test('a client offering only other protocols still connects, with none negotiated', async () => {
  expect(await serverSide(['logrelay/1'], ['h2', 'http/1.1'])).toEqual({ ours: null, theirs: false });
});

test('a server without ALPN ignores an offer', async () => {
  expect(await serverSide(undefined, ['logrelay/1'])).toEqual({ ours: null, theirs: false });
});

test('our client offers its protocols to a Node server, which selects one', async () => {
  const srv = tls.createServer({ ...server, ALPNProtocols: ['logrelay/1'] }, (s) => s.end());
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const selected = new Promise<string | false | null>((resolve) =>
    srv.once('secureConnection', (s: tls.TLSSocket) => resolve(s.alpnProtocol)),
  );
  const fd = await connectBridge((srv.address() as { port: number }).port);
  const session = new TlsSession(TlsContext.client({ ca: ca.cert, alpn: ['x-other', 'logrelay/1'] }), fd, {
    servername: 'localhost',
  });
  try {
    expect(await drive(fd, () => session.handshake())).toBe('done');
    expect(session.alpn).toBe('logrelay/1');
    expect(await selected).toBe('logrelay/1');
  } finally {
    session.free();
    close(fd);
    await new Promise((resolve) => srv.close(resolve));
  }
});

test('protocol names must be 1 to 255 bytes and strings', () => {
  expect(() => TlsContext.client({ alpn: [''] })).toThrow(/1 to 255 bytes/);
  expect(() => TlsContext.client({ alpn: ['x'.repeat(256)] })).toThrow(/1 to 255 bytes/);
  expect(() => TlsContext.client({ alpn: [42 as unknown as string] })).toThrow(
    /"alpn\[0\]" argument must be of type string/,
  );
  expect(() => TlsContext.client({ alpn: 'logrelay/1' as unknown as string[] })).toThrow(
    /"alpn" argument must be an array of strings/,
  );
});
