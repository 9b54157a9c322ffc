/**
 * TlsStream against Node's tls (in a child process, so the blocking run mode can block this
 * thread): our server with Node's client, our client with Node's server, and handshake timeouts.
 */
import { ChildProcess, spawn as spawnProcess } from 'child_process';
import * as path from 'path';
import * as readline from 'readline';
import {
  Loop,
  makeClientCert,
  makeDevCa,
  makeServerCert,
  TcpListener,
  TcpStream,
  timeout,
  TlsContext,
  TlsStream,
} from '../lib';
import { describeMatrix, drive, newLoop } from './helpers/loops';

const LINES = 50;
const ca = makeDevCa();
const serverCert = makeServerCert(ca);
const clientCert = makeClientCert(ca, { cn: 'alice' });

/** Starts the Node peer; `lines` yields each JSON line it prints. */
function peer(
  args: string[],
  certs: { cert: string; key: string },
): { child: ChildProcess; lines: AsyncIterator<string> } {
  const child = spawnProcess(process.execPath, [path.join(__dirname, 'fixtures/tls-peer.js'), ...args], {
    env: { ...process.env, PEER_TLS: JSON.stringify({ ca: ca.cert, ...certs }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return { child, lines: readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]() };
}

async function nextJson(lines: AsyncIterator<string>): Promise<Record<string, unknown>> {
  const r = await lines.next();
  if (r.done) throw new Error('peer exited without output');
  return JSON.parse(r.value);
}

const exited = (child: ChildProcess) =>
  new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));

describeMatrix((backend, mode) => {
  test("TlsStream server ↔ Node tls client: echo with the client's certificate verified", async () => {
    const { loop, crashes } = newLoop(backend);
    const context = TlsContext.server({ ...serverCert, ca: ca.cert, verify: 'require' });
    const listener = TcpListener.listen('127.0.0.1:0');
    const { child, lines } = peer(['client', String(listener.localAddress().port), String(LINES)], clientCert);
    const server = loop.spawn(function* () {
      const tls = TlsStream.server(yield* listener.accept(), context);
      yield* listener.close();
      try {
        yield* timeout(10_000, tls.handshake());
        let echoed = 0;
        for (let line = yield* tls.readLine(); line; line = yield* tls.readLine()) {
          yield* tls.write(Buffer.concat([line, Buffer.from('\n')]));
          echoed++;
        }
        return { echoed, peer: tls.peerCertificate()?.subject, verify: tls.session.verifyResult };
      } finally {
        yield* tls.close();
      }
    });
    await drive(loop, mode);
    const result = await nextJson(lines);
    await exited(child);
    const expected = Array.from({ length: LINES }, (_, i) => `line ${i} ${'y'.repeat((i * 37) % 500)}\n`).join('');
    expect(result).toEqual({ echoed: expected, authorized: true, protocol: 'TLSv1.3' });
    expect(await server).toEqual({ echoed: LINES, peer: 'CN=alice', verify: 'ok' });
    expect(crashes).toEqual([]);
    expect(loop.stats).toEqual({ tasks: 0, queued: 0, timers: 0, pollsetSize: 0, fdWaiters: 0 });
    loop.close();
    context.free();
  });

  test('TlsStream client ↔ Node tls.createServer: server certificate checked, client certificate presented', async () => {
    const { loop, crashes } = newLoop(backend);
    const context = TlsContext.client({ ...clientCert, ca: ca.cert });
    const { child, lines } = peer(['server'], serverCert);
    const { port } = await nextJson(lines);
    const client = loop.spawn(function* () {
      const tls = yield* timeout(10_000, TlsStream.connect(`127.0.0.1:${port}`, context, { servername: 'localhost' }));
      try {
        const replies: string[] = [];
        for (let i = 0; i < LINES; i++) {
          yield* tls.write(Buffer.from(`message ${i} ${'z'.repeat(i * 11)}\n`));
          replies.push((yield* tls.readLine())!.toString());
        }
        const cert = tls.peerCertificate();
        return { replies, subject: cert?.subject, issuer: cert?.issuer, protocol: tls.session.protocol };
      } finally {
        yield* tls.close(); // close_notify: the Node server sees 'end'
      }
    });
    await drive(loop, mode);
    const r = await client;
    expect(r.replies).toEqual(Array.from({ length: LINES }, (_, i) => `message ${i} ${'z'.repeat(i * 11)}`));
    expect(r.subject).toBe('CN=localhost');
    expect(r.issuer).toBe('CN=pollset development CA');
    expect(r.protocol).toBe('TLSv1.3');
    expect(await nextJson(lines)).toEqual({ authorized: true, peer: 'alice' });
    await exited(child);
    expect(crashes).toEqual([]);
    expect(loop.stats).toEqual({ tasks: 0, queued: 0, timers: 0, pollsetSize: 0, fdWaiters: 0 });
    loop.close();
    context.free();
  });

  test('a handshake with a silent peer times out with ETIMEDOUT and releases the fd (client and server side)', async () => {
    const { loop } = newLoop(backend);
    const clientContext = TlsContext.client({ ca: ca.cert });
    const serverContext = TlsContext.server(serverCert);
    // A plain TCP listener never answers the ClientHello, and a plain TCP client never sends one.
    const listener = TcpListener.listen('127.0.0.1:0');
    const outcome = loop.spawn(function* () {
      const errors: unknown[] = [];
      try {
        yield* timeout(50, TlsStream.connect(listener.localAddress(), clientContext, { servername: 'localhost' }));
      } catch (e) {
        errors.push(e);
      }
      yield* (yield* listener.accept()).close(); // the client above, closed when it timed out
      const quiet = yield* TcpStream.connect(listener.localAddress());
      const tls = TlsStream.server(yield* listener.accept(), serverContext);
      try {
        yield* timeout(50, tls.handshake());
      } catch (e) {
        errors.push(e);
      }
      const stats = loop.stats;
      yield* tls.close();
      yield* quiet.close();
      yield* listener.close();
      return { errors, stats };
    });
    await drive(loop, mode);
    const { errors, stats } = await outcome;
    expect(errors).toEqual([
      expect.objectContaining({ code: 'ETIMEDOUT' }),
      expect.objectContaining({ code: 'ETIMEDOUT' }),
    ]);
    expect(stats).toMatchObject({ timers: 0, pollsetSize: 0, fdWaiters: 0 });
    loop.close();
    clientContext.free();
    serverContext.free();
  });
});

test('halting a task during TlsStream.connect stops it there: no code after the connect runs, the socket is closed', async () => {
  const loop = new Loop();
  const clientContext = TlsContext.client({ ca: ca.cert });
  const listener = TcpListener.listen('127.0.0.1:0'); // never answers the ClientHello
  const seen = { after: 0, finally: 0 };
  const task = loop.spawn(function* () {
    try {
      const tls = yield* TlsStream.connect(listener.localAddress(), clientContext, { servername: 'localhost' });
      seen.after++;
      yield* tls.close();
    } finally {
      seen.finally++;
    }
  });
  const running = loop.run();
  await new Promise((r) => setTimeout(r, 50));
  task.halt();
  await running;
  await expect(task.toPromise()).rejects.toThrow(`task ${task.id} was halted`);
  expect(seen).toEqual({ after: 0, finally: 1 });
  expect(loop.stats).toEqual({ tasks: 0, queued: 0, timers: 0, pollsetSize: 0, fdWaiters: 0 });
  const closer = loop.spawn(function* () {
    const peer = yield* listener.accept();
    // The ClientHello, then end of stream: the halted client's socket was closed.
    const eof = yield* timeout(
      5000,
      (function* () {
        while ((yield* peer.read()) !== null);
        return 'eof';
      })(),
    );
    yield* peer.close();
    yield* listener.close();
    return eof;
  });
  await loop.run();
  expect(await closer).toBe('eof');
  loop.close();
  clientContext.free();
});
