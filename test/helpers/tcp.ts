/** Connected TCP pairs over loopback for stream tests, made with our own listener and connect. */
import { Loop, Operation, TcpListener, TcpStream } from '../../lib';
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

/** Runs `op` as the only task of `loop` and returns its result (the loop is left idle, not closed). */
export async function runOp<T>(loop: Loop, mode: Mode, op: Operation<T>): Promise<T> {
  const task = loop.spawn(op);
  await drive(loop, mode);
  return task;
}
