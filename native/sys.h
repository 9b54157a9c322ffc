// sys.h — small portable helpers for fds born non-blocking and close-on-exec.
#pragma once

namespace pollset {

// Sets O_NONBLOCK (on or off) and FD_CLOEXEC; 0 or errno.
int SetNonBlocking(int fd, bool on);
int SetCloseOnExec(int fd);
// pipe(2) with both ends non-blocking and close-on-exec; 0 or errno.
int MakePipe(int fds[2]);
// socketpair(2) likewise; 0 or errno.
int MakeSocketPair(int domain, int type, int fds[2]);

}  // namespace pollset
