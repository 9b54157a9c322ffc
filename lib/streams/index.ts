/** Byte streams as operations over non-blocking transports. */
export { ByteStream, FdStream } from './bytestream';
export type { ReadLineOptions } from './bytestream';
export { fdIo, WANT_READ, WANT_WRITE } from './io';
export type { ByteIo, IoResult } from './io';
