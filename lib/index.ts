/** pollset: a readiness event loop over raw file descriptors for Node.js. */
export { Pollset } from './pollset';
export type { Backend, PollEvent, PollsetOptions } from './pollset';
export { pipe, socketpair, read, write, close, setNonBlocking } from './fd';
export { WOULD_BLOCK, systemError } from './errors';
export type { SystemError, WouldBlock } from './errors';
export * from './loop';
export * from './streams';
