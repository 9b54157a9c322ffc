/**
 * logtail connects to a name's addresses in turn: the first that answers wins, so a relay that
 * listens on one of a name's addresses only (IPv4 but not IPv6, or the reverse) is still found.
 */
import { Address, Loop, TlsContext, TlsStream, timeout } from '../lib';
import { connectFirst } from '../lib/cli/tail-loop';
import { cleanup, freePort, makeCerts, RelayProcess, identity } from './relay-helpers';

afterEach(cleanup);

test('connectFirst skips an address that refuses and connects to the next, and reports the last failure when none answers', async () => {
  const certs = makeCerts();
  const relay = await RelayProcess.start(identity(certs));
  const context = TlsContext.client({ certFile: certs.clientCert, keyFile: certs.clientKey, caFile: certs.ca });
  const dead = Address.parse(`127.0.0.1:${await freePort()}`);
  const live = Address.parse(relay.tls);
  const attempt = (a: Address) => timeout(5000, TlsStream.connect(a, context, { servername: '127.0.0.1' }));
  const loop = new Loop({ onError: () => undefined }); // the failing task's error is asserted below
  const found = loop.spawn(function* () {
    const { conn, address } = yield* connectFirst([dead, live], attempt);
    const subject = conn.peerCertificate()?.subject;
    yield* conn.close();
    return { address: address.toString(), subject };
  });
  const none = loop.spawn(function* () {
    return yield* connectFirst([dead], attempt);
  });
  await loop.run();
  await expect(found.toPromise()).resolves.toEqual({ address: relay.tls, subject: 'CN=relay test server' });
  await expect(none.toPromise()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  loop.close();
  context.free();
});
