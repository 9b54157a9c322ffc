// Portable creation of non-blocking, close-on-exec fds: atomic where the kernel allows (pipe2,
// SOCK_NONBLOCK), fcntl right after creation elsewhere.
#include "sys.h"

#include <fcntl.h>
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

}  // namespace pollset
