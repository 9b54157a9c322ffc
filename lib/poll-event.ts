// What a wait reports, in a module of its own: the pollset and its batch iterator both use it, and neither
// imports the other for it.
/** One ready fd from the last wait. */
export interface PollEvent<T> {
  /** The ready file descriptor. */
  fd: number;
  /** The object registered with the fd (`insert(fd, interest, obj)`). */
  obj: T;
  /** Readable: a read would not block (data, a pending connection, or end of file). */
  read: boolean;
  /** Writable: a write would not block. */
  write: boolean;
  /** Priority data is readable (POLLPRI / EPOLLPRI: TCP urgent data, some device files). */
  priority: boolean;
  /** The peer hung up (POLLHUP / EPOLLHUP / EV_EOF); reads return what is left, then end of file. */
  hangup: boolean;
  /** An error is pending on the fd (POLLERR / EPOLLERR); the next operation on it reports it. */
  error: boolean;
}
