/**
 * Loads the compiled addon (a prebuild or the local build, through node-gyp-build) and declares
 * its exact shape. Native calls return a number >= 0 on success and -errno on failure; the typed
 * wrappers in this package turn that into Node-style errors.
 */
import * as path from 'path';

/** The native Pollset: a registry of fds over one kernel readiness mechanism. */
export interface NativePollset {
  /** errno from construction; 0 when the backend was created. */
  readonly error: number;
  readonly size: number;
  readonly backend: string;
  insert(fd: number, interest: number): number;
  update(fd: number, interest: number): number;
  remove(fd: number): number;
  /** Fills the events array given at construction with (fd, flags) pairs; returns the count or -errno. */
  wait(timeoutMs: number): number;
  /** Replaces the events array (to grow it). */
  setEvents(events: Int32Array): void;
  watch(onPending: (count: number) => void): number;
  unwatch(): void;
  close(): void;
}

export interface NativeAddon {
  Pollset: new (backend: string, events: Int32Array) => NativePollset;
  backends(): string[];
  pipe(): [number, number] | number;
  socketpair(type?: 'stream' | 'dgram'): [number, number] | number;
  read(fd: number, buf: Uint8Array, offset?: number, length?: number): number;
  write(fd: number, buf: Uint8Array, offset?: number, length?: number): number;
  close(fd: number): number;
  setNonBlocking(fd: number, on?: boolean): number;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const load: (dir: string) => unknown = require('node-gyp-build');

/** The addon, loaded once per process (and once per worker thread). */
export const native = load(path.join(__dirname, '..')) as NativeAddon;

/** Event flag bits as the addon reports them. */
export const enum Flag {
  Read = 1,
  Write = 2,
  Priority = 4,
  Hangup = 8,
  Error = 16,
}
