/** Byte streams and sockets as operations over non-blocking transports. */
export { ByteStream, FdStream } from './bytestream';
export type { ReadLineOptions } from './bytestream';
export { fdIo, WANT_READ, WANT_WRITE } from './io';
export type { ByteIo, IoResult } from './io';
export { TcpStream } from './tcp-stream';
export type { ConnectOptions } from './tcp-stream';
export { TcpListener } from './tcp-listener';
export type { AcceptPause, ConnectionHandler, ListenerOptions } from './tcp-listener';
export { DatagramEndpoint, UdpSocket, UnixDatagramSocket } from './datagram';
export { TlsStream } from './tls-stream';
