// sys.h — small portable helpers for fds born non-blocking and close-on-exec.
#pragma once
#include <cerrno>

namespace pollset {

// Repeats a system call that a signal interrupted (EINTR); returns its last result, errno set on failure.
template <typename Call>
auto RetryOnEintr(Call call) -> decltype(call()) {
  decltype(call()) result;
  do result = call();
  while (result < 0 && errno == EINTR);
  return result;
}

// Sets O_NONBLOCK (on or off) and FD_CLOEXEC; 0 or errno.
int SetNonBlocking(int fd, bool on);
int SetCloseOnExec(int fd);
// pipe(2) with both ends non-blocking and close-on-exec; 0 or errno.
int MakePipe(int fds[2]);
// socketpair(2) likewise; 0 or errno.
int MakeSocketPair(int domain, int type, int fds[2]);

}  // namespace pollset
