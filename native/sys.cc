// Portable creation of non-blocking, close-on-exec fds: atomic where the kernel allows (pipe2,
// SOCK_NONBLOCK), fcntl right after creation elsewhere. And the plain calls on any fd.
#include "sys.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace pollset {

int SetNonBlocking(int fd, bool on) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return errno;
  int want = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (want != flags && fcntl(fd, F_SETFL, want) < 0) return errno;
  return 0;
}

int SetCloseOnExec(int fd) {
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return errno;
  if (!(flags & FD_CLOEXEC) && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) return errno;
  return 0;
}

namespace {
[[maybe_unused]] int FinishPair(int fds[2]) {
  for (int i = 0; i < 2; i++) {
    int e = SetNonBlocking(fds[i], true);
    if (!e) e = SetCloseOnExec(fds[i]);
    if (e) {
      close(fds[0]);
      close(fds[1]);
      return e;
    }
  }
  return 0;
}
}  // namespace

int MakePipe(int fds[2]) {
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
  return pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0 ? 0 : errno;
#else
  if (pipe(fds) != 0) return errno;
  return FinishPair(fds);
#endif
}

int MakeSocketPair(int domain, int type, int fds[2]) {
#ifdef SOCK_NONBLOCK
  return socketpair(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0 ? 0 : errno;
#else
  if (socketpair(domain, type, 0, fds) != 0) return errno;
  return FinishPair(fds);
#endif
}

ssize_t ReadFd(int fd, void* data, size_t length) {
  ssize_t n = RetryOnEintr([&] { return read(fd, data, length); });
  return n < 0 ? -errno : n;
}

ssize_t WriteFd(int fd, const void* data, size_t length) {
  ssize_t n = RetryOnEintr([&] { return write(fd, data, length); });
  return n < 0 ? -errno : n;
}

int CloseFd(int fd) { return close(fd) < 0 && errno != EINTR ? -errno : 0; }

int LockExclusive(int fd) {
  int rc = RetryOnEintr([&] { return flock(fd, LOCK_EX | LOCK_NB); });
  return rc < 0 ? -errno : 0;
}

}  // namespace pollset
