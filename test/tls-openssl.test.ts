/** Our TLS server ↔ `openssl s_client` (a real child process) over TCP on 127.0.0.1. */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { close, makeClientCert, makeDevCa, makeServerCert, TlsContext, TlsSession } from '../lib';
import { destroyBridges, drive, listenBridge, readAll, writeAll } from './tls-helpers';

afterEach(() => destroyBridges());

const ca = makeDevCa({ o: 'pollset tests' });
const server = makeServerCert(ca);
const alice = makeClientCert(ca, { cn: 'alice' });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pollset-tls-'));
const file = (name: string, pem: string) => {
  fs.writeFileSync(path.join(dir, name), pem);
  return path.join(dir, name);
};
const caFile = file('ca.pem', ca.cert);
const certFile = file('alice.pem', alice.cert);
const keyFile = file('alice.key', alice.key);
const serverCtx = TlsContext.server({
  certFile: file('server.pem', server.cert),
  keyFile: file('server.key', server.key),
  caFile,
  verify: 'require',
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function sClient(extra: string[]) {
  const bridge = await listenBridge();
  const child = spawn(
    'openssl',
    [
      's_client',
      '-connect',
      `127.0.0.1:${bridge.port}`,
      '-servername',
      'localhost',
      '-CAfile',
      caFile,
      '-verify_return_error',
      ...extra,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const fd = await bridge.accepted;
  const session = new TlsSession(serverCtx, fd);
  return {
    child,
    session,
    output: () => output,
    exited,
    done() {
      child.kill();
      session.free();
      close(fd);
    },
  };
}

test('openssl s_client with a client certificate: verified both ways, data both ways, clean close', async () => {
  const t = await sClient(['-cert', certFile, '-key', keyFile]);
  try {
    expect(await drive(t.session.fd, () => t.session.handshake())).toBe('done');
    expect(t.session.peerCertificate()!.subject).toBe('CN=alice');
    expect(t.session.servername).toBe('localhost');
    await writeAll(t.session, Buffer.from('hello s_client\n'));
    t.child.stdin.write('hello pollset\n');
    expect((await readAll(t.session, 14)).toString()).toBe('hello pollset\n');
    expect(await drive(t.session.fd, () => t.session.shutdown())).not.toBeInstanceOf(Error);
    t.child.stdin.end();
    expect(await t.exited).toBe(0);
    expect(t.output()).toContain('hello s_client');
    expect(t.output()).toMatch(/Verify return code: 0 \(ok\)/);
    expect(t.output()).toMatch(/New, TLSv1.3, Cipher is TLS_/);
  } finally {
    t.done();
  }
});

test('openssl s_client without a certificate is refused when one is required', async () => {
  const t = await sClient([]);
  try {
    await expect(drive(t.session.fd, () => t.session.handshake())).rejects.toMatchObject({
      code: 'ERR_TLS_HANDSHAKE',
      reason: 'peer did not return a certificate',
    });
    // s_client learns of the refusal on its next read and exits on its own (killed after 10 s at most)
    const timer = setTimeout(() => t.child.kill(), 10000);
    expect(await t.exited).not.toBe(0);
    clearTimeout(timer);
    expect(t.output()).toMatch(/alert certificate required/);
  } finally {
    t.done();
  }
});

test('openssl s_client over TLS 1.2 cannot renegotiate', async () => {
  const t = await sClient(['-cert', certFile, '-key', keyFile, '-tls1_2']);
  try {
    expect(await drive(t.session.fd, () => t.session.handshake())).toBe('done');
    expect(t.session.protocol).toBe('TLSv1.2');
    t.child.stdin.write('R\n'); // s_client's command: renegotiate
    const outcome = await readAll(t.session, 1).catch((err: Error) => err);
    t.child.stdin.end();
    await t.exited;
    expect(t.output()).toContain('RENEGOTIATING');
    // we answer with a no_renegotiation warning; s_client gives up with a handshake_failure alert
    expect(outcome).toMatchObject({ code: 'ERR_TLS_PROTOCOL', reason: 'sslv3 alert handshake failure' });
  } finally {
    t.done();
  }
});
