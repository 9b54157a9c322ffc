/** Connected TCP pairs over loopback for stream tests, made with our own listener and connect. */
import {
  Loop,
  makeDevCa,
  makeServerCert,
  Operation,
  spawn,
  TcpListener,
  TcpStream,
  TlsContext,
  TlsStream,
} from '../../lib';
import { SocketOption } from '../../lib/native';
import { setOption } from '../../lib/net/socket';
import { drive, Mode } from './loops';

export interface PairOptions {
  /** SO_SNDBUF of the connecting end (set after connect). */
  clientSendBuffer?: number;
  /** SO_RCVBUF of the accepted end (set on the listener, so it holds from the handshake on). */
  serverRecvBuffer?: number;
}

/** `n` connections as [connecting end, accepted end]. */
export function* tcpPairs(n: number, options: PairOptions = {}): Operation<[TcpStream, TcpStream][]> {
  const listener = TcpListener.listen('127.0.0.1:0');
  try {
    if (options.serverRecvBuffer) setOption(listener.fd, SocketOption.RecvBuffer, options.serverRecvBuffer);
    const pairs: [TcpStream, TcpStream][] = [];
    for (let i = 0; i < n; i++) {
      const client = yield* TcpStream.connect(listener.localAddress());
      if (options.clientSendBuffer) setOption(client.fd, SocketOption.SendBuffer, options.clientSendBuffer);
      pairs.push([client, yield* listener.accept()]);
    }
    return pairs;
  } finally {
    yield* listener.close();
  }
}

const ca = makeDevCa();
const serverCert = makeServerCert(ca);

/** TLS contexts for {@link tlsPairs}: free them after the test. */
export function tlsContexts(): { client: TlsContext; server: TlsContext; free(): void } {
  const client = TlsContext.client({ ca: ca.cert, servername: 'localhost' });
  const server = TlsContext.server(serverCert);
  return { client, server, free: () => (client.free(), server.free()) };
}

/** `n` TLS connections over {@link tcpPairs}, handshaken, as [client, server]. */
export function* tlsPairs(
  n: number,
  contexts: ReturnType<typeof tlsContexts>,
  options: PairOptions = {},
): Operation<[TlsStream, TlsStream][]> {
  const pairs: [TlsStream, TlsStream][] = [];
  for (const [c, s] of yield* tcpPairs(n, options)) {
    const client = TlsStream.client(c, contexts.client);
    const server = TlsStream.server(s, contexts.server);
    const serverSide = spawn(server.handshake());
    yield* client.handshake();
    yield* serverSide.join();
    pairs.push([client, server]);
  }
  return pairs;
}

/** Runs `op` as the only task of `loop` and returns its result (the loop is left idle, not closed). */
export async function runOp<T>(loop: Loop, mode: Mode, op: Operation<T>): Promise<T> {
  const task = loop.spawn(op);
  await drive(loop, mode);
  return task;
}
