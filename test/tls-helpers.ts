/**
 * Shared by the TLS tests: drive non-blocking sessions to completion with a Pollset (never a busy
 * loop, always bounded), and bridge a socketpair end to real TCP so Node's tls and openssl s_client
 * talk to our sessions over real bytes; certificates with exactly chosen extensions, made by openssl.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { close, Pollset, socketpair, TlsContext, TlsSession, WANT_READ, WANT_WRITE } from '../lib';
import type { Want } from '../lib';

const isWant = (r: unknown): r is Want => r === WANT_READ || r === WANT_WRITE;

/** One side of a synchronous exchange: an fd and a step to retry until it stops wanting. */
export interface Job {
  fd: number;
  run: () => unknown;
}

/**
 * Runs every job until none wants readiness, waiting (up to 2 s per round) on the fds between
 * rounds. Returns each job's final value, or the Error it threw.
 */
export function settle(jobs: Job[], rounds = 200): unknown[] {
  const results: unknown[] = new Array(jobs.length);
  const pending = new Map<number, 'r' | 'w'>();
  const ps = new Pollset();
  try {
    for (let round = 0; round < rounds; round++) {
      pending.clear();
      jobs.forEach((job, i) => {
        if (round > 0 && results[i] !== undefined && !isWant(results[i])) return;
        try {
          results[i] = job.run();
        } catch (err) {
          results[i] = err;
        }
        if (isWant(results[i])) pending.set(i, results[i] === WANT_READ ? 'r' : 'w');
      });
      if (pending.size === 0) return results;
      for (const [i, want] of pending) ps.insert(jobs[i].fd, want);
      const ready = ps.wait(2000);
      for (const i of pending.keys()) ps.remove(jobs[i].fd);
      if (ready === 0) throw new Error(`TLS exchange stalled: ${pending.size} side(s) waiting`);
    }
    throw new Error('TLS exchange did not finish');
  } finally {
    ps.close();
  }
}

/** A socketpair with a client session on one end and a server session on the other. */
export interface Pair {
  client: TlsSession;
  server: TlsSession;
  fds: [number, number];
  free(): void;
}

export function sessionPair(clientCtx: TlsContext, serverCtx: TlsContext, servername?: string): Pair {
  const fds = socketpair();
  const client = new TlsSession(clientCtx, fds[0], { servername });
  const server = new TlsSession(serverCtx, fds[1]);
  return {
    client,
    server,
    fds,
    free() {
      client.free();
      server.free();
      close(fds[0]);
      close(fds[1]);
    },
  };
}

/** Handshakes both sides; returns [client result, server result] ('done' or the Error). */
export function handshake(pair: Pair): unknown[] {
  return settle([
    { fd: pair.client.fd, run: () => pair.client.handshake() },
    { fd: pair.server.fd, run: () => pair.server.handshake() },
  ]);
}

/**
 * Inside Node's loop (the peer is Node in this process): retries `step` whenever the fd is ready
 * for what it wants, via a watched Pollset; rejects after `timeoutMs`.
 */
export function drive<T>(fd: number, step: () => T | Want, timeoutMs = 10000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const ps = new Pollset();
    let registered = false;
    let finished = false;
    const finish = (err: unknown, value?: T) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      ps.close();
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what the step threw, as it was
      if (err) reject(err);
      else resolve(value as T);
    };
    const timer = setTimeout(() => finish(new Error(`drive(fd ${fd}) timed out`)), timeoutMs);
    const attempt = () => {
      let r: T | Want;
      try {
        r = step();
      } catch (err) {
        return finish(err);
      }
      if (!isWant(r)) return finish(null, r);
      const interest = r === WANT_READ ? 'r' : 'w';
      if (registered) ps.update(fd, interest);
      else ps.insert(fd, interest);
      registered = true;
    };
    ps.watch(() => {
      if (!finished) attempt();
    });
    attempt();
  });
}

/** Reads until `want` bytes arrived or the peer ended (read() → 0); returns what arrived. */
export async function readAll(session: TlsSession, want: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  const buf = Buffer.alloc(16384);
  while (total < want) {
    const n = await drive(session.fd, () => session.read(buf));
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
    total += n;
  }
  return Buffer.concat(chunks);
}

/** Writes every byte of `data`. */
export async function writeAll(session: TlsSession, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length;) off += await drive(session.fd, () => session.write(data, off));
}

/**
 * Pipes a Node-owned socketpair end and a TCP socket into each other. An end on one side ends the
 * other after the last byte (pipe() does that), so a close_notify is never cut off; an error
 * tears both down.
 */
const liveSockets = new Set<net.Socket>();

function splice(unixEnd: net.Socket, tcp: net.Socket): void {
  for (const socket of [unixEnd, tcp]) {
    liveSockets.add(socket);
    socket.once('close', () => liveSockets.delete(socket));
  }
  unixEnd.pipe(tcp);
  tcp.pipe(unixEnd);
  const destroy = () => {
    unixEnd.destroy();
    tcp.destroy();
  };
  unixEnd.on('error', destroy);
  tcp.on('error', destroy);
}

/** Tears down every bridge still open (for afterEach): the Node-owned ends are closed with them. */
export function destroyBridges(): Promise<void> {
  const closing = [...liveSockets].map(
    (s) => new Promise<void>((resolve) => s.once('close', () => resolve()).destroy()),
  );
  return Promise.all(closing).then(() => undefined);
}

/** A socketpair whose second end Node owns and splices to a TCP socket; our end is returned (we close it). */
function bridged(tcpOf: (unixEnd: net.Socket) => Promise<net.Socket>): Promise<{ fd: number }> {
  const [ours, theirs] = socketpair();
  const unixEnd = new net.Socket({ fd: theirs, readable: true, writable: true });
  return tcpOf(unixEnd).then((tcp) => {
    splice(unixEnd, tcp);
    return { fd: ours };
  });
}

/** Listens on 127.0.0.1; the first TCP client is bridged to a new socketpair whose `fd` is returned via `accepted`. */
export async function listenBridge(): Promise<{ port: number; accepted: Promise<number>; close(): void }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<number>((resolve) => {
    server.once('connection', (tcp) => {
      server.close();
      void bridged(() => Promise.resolve(tcp)).then(({ fd }) => resolve(fd));
    });
  });
  return { port: (server.address() as net.AddressInfo).port, accepted, close: () => server.close() };
}

/** Connects to 127.0.0.1:port over TCP and bridges it to a new socketpair; returns our end. */
export async function connectBridge(port: number): Promise<number> {
  const { fd } = await bridged(
    () =>
      new Promise<net.Socket>((resolve, reject) => {
        const tcp = net.connect(port, '127.0.0.1', () => resolve(tcp));
        tcp.once('error', reject);
      }),
  );
  return fd;
}

/** A client certificate for `cn` signed by `issuer` with `openssl x509 -req`, with exactly `extensions` (an openssl extfile). */
export function opensslClientCert(
  issuer: { cert: string; key: string },
  cn: string,
  extensions: string,
): { cert: string; key: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-cert-'));
  try {
    const f = (name: string) => path.join(dir, name);
    fs.writeFileSync(f('ca.pem'), issuer.cert);
    fs.writeFileSync(f('ca-key.pem'), issuer.key, { mode: 0o600 });
    fs.writeFileSync(f('ext.cnf'), extensions);
    const run = (args: string[]) =>
      execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10000 });
    run([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      f('key.pem'),
      '-subj',
      `/CN=${cn}`,
      '-out',
      f('req.csr'),
    ]);
    run([
      'x509',
      '-req',
      '-in',
      f('req.csr'),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca-key.pem'),
      '-set_serial',
      String(Date.now()),
      '-days',
      '1',
      '-extfile',
      f('ext.cnf'),
      '-out',
      f('cert.pem'),
    ]);
    return { cert: fs.readFileSync(f('cert.pem'), 'utf8'), key: fs.readFileSync(f('key.pem'), 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
