// sys.h — the plain fd calls: fds born non-blocking and close-on-exec, read/write/close, locks.
#pragma once
#include <sys/types.h>

#include <cerrno>
#include <cstddef>

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

// read(2) / write(2), retried on EINTR: bytes or -errno.
ssize_t ReadFd(int fd, void* data, size_t length);
ssize_t WriteFd(int fd, const void* data, size_t length);
// close(2): 0 or -errno. Never retried: on EINTR the fd is already released (Linux, BSD), and a
// retry could close a number another thread has just been given; EINTR counts as closed.
int CloseFd(int fd);
// flock(2), exclusive and non-blocking: 0, or -EWOULDBLOCK at once while another open file holds
// it. The lock belongs to the open file description, so the kernel releases it when the last fd to
// it closes, which includes the death of the process by any signal.
int LockExclusive(int fd);

}  // namespace pollset
