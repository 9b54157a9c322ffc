// The socket calls shared by datagram and stream sockets: creation with the fd rules of the
// project (non-blocking, close-on-exec, no SIGPIPE), naming, options, shutdown, single sends.
#include "socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>

#include "sys.h"

namespace pollset {

int AdoptSocket(int fd) {
  int err = SetNonBlocking(fd, true);
  if (!err) err = SetCloseOnExec(fd);
#ifdef SO_NOSIGPIPE
  int one = 1;
  if (!err && setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one)) < 0) err = errno;
#endif
  return -err;
}

int OpenSocket(int domain, int type) {
#ifdef SOCK_NONBLOCK
  int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
#ifdef SO_NOSIGPIPE
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one)) < 0) {
    int err = errno;
    close(fd);
    return -err;
  }
#endif
  return fd;
#else
  // No atomic flags (macOS): the window before fcntl only matters to a concurrent fork+exec.
  int fd = socket(domain, type, 0);
  if (fd < 0) return -errno;
  int err = AdoptSocket(fd);
  if (err) {
    close(fd);
    return err;
  }
  return fd;
#endif
}

int BindSocket(int fd, const sockaddr_storage& addr, socklen_t len) {
  return bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) < 0 ? -errno : 0;
}

int ConnectSocket(int fd, const sockaddr_storage& addr, socklen_t len) {
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) == 0) return 0;
  // An interrupted connect carries on in the background, exactly like EINPROGRESS.
  return errno == EINTR ? -EINPROGRESS : -errno;
}

int SocketName(int fd, bool peer, sockaddr_storage* addr, socklen_t* len) {
  *len = sizeof(*addr);
  auto* sa = reinterpret_cast<sockaddr*>(addr);
  int rc = peer ? getpeername(fd, sa, len) : getsockname(fd, sa, len);
  return rc < 0 ? -errno : 0;
}

namespace {
bool Level(Option option, int* level, int* name) {
  switch (option) {
    case Option::ReuseAddr:
      *level = SOL_SOCKET;
      *name = SO_REUSEADDR;
      return true;
#ifdef SO_REUSEPORT
    case Option::ReusePort:
      *level = SOL_SOCKET;
      *name = SO_REUSEPORT;
      return true;
#endif
    case Option::RecvBuffer:
      *level = SOL_SOCKET;
      *name = SO_RCVBUF;
      return true;
    case Option::SendBuffer:
      *level = SOL_SOCKET;
      *name = SO_SNDBUF;
      return true;
    case Option::NoDelay:
      *level = IPPROTO_TCP;
      *name = TCP_NODELAY;
      return true;
    case Option::Error:
      *level = SOL_SOCKET;
      *name = SO_ERROR;
      return true;
#ifdef SO_RXQ_OVFL
    case Option::RxqOverflow:
      *level = SOL_SOCKET;
      *name = SO_RXQ_OVFL;
      return true;
#endif
    case Option::KeepAlive:
      *level = SOL_SOCKET;
      *name = SO_KEEPALIVE;
      return true;
#if defined(TCP_KEEPIDLE)
    case Option::KeepIdle:
      *level = IPPROTO_TCP;
      *name = TCP_KEEPIDLE;
      return true;
#elif defined(TCP_KEEPALIVE)  // macOS names the idle time TCP_KEEPALIVE
    case Option::KeepIdle:
      *level = IPPROTO_TCP;
      *name = TCP_KEEPALIVE;
      return true;
#endif
#ifdef TCP_KEEPINTVL
    case Option::KeepInterval:
      *level = IPPROTO_TCP;
      *name = TCP_KEEPINTVL;
      return true;
#endif
#ifdef TCP_KEEPCNT
    case Option::KeepCount:
      *level = IPPROTO_TCP;
      *name = TCP_KEEPCNT;
      return true;
#endif
#ifdef TCP_USER_TIMEOUT
    case Option::UserTimeout:
      *level = IPPROTO_TCP;
      *name = TCP_USER_TIMEOUT;
      return true;
#endif
    case Option::Type:
      *level = SOL_SOCKET;
      *name = SO_TYPE;
      return true;
#ifdef SO_ACCEPTCONN
    case Option::AcceptConn:
      *level = SOL_SOCKET;
      *name = SO_ACCEPTCONN;
      return true;
#endif
    default: return false;
  }
}
}  // namespace

int GetOption(int fd, Option option) {
  int level, name;
  if (!Level(option, &level, &name)) return -ENOPROTOOPT;
  int value = 0;
  socklen_t len = sizeof(value);
  if (getsockopt(fd, level, name, &value, &len) < 0) return -errno;
  if (option == Option::Type) return value == SOCK_STREAM ? 1 : value == SOCK_DGRAM ? 2 : 0;
  return value < 0 ? 0 : value;  // every exposed option is a flag, a size, a time or an errno
}

int SetOption(int fd, Option option, int value) {
  int level, name;
  bool read_only = option == Option::Error || option == Option::Type || option == Option::AcceptConn;
  if (!Level(option, &level, &name) || read_only) return -ENOPROTOOPT;
  return setsockopt(fd, level, name, &value, sizeof(value)) < 0 ? -errno : 0;
}

int ShutdownSocket(int fd, int how) { return shutdown(fd, how) < 0 ? -errno : 0; }

ssize_t SendTo(int fd, const void* data, size_t length, const sockaddr_storage* addr, socklen_t len) {
  ssize_t n = RetryOnEintr(
      [&] { return sendto(fd, data, length, kSendFlags, reinterpret_cast<const sockaddr*>(addr), addr ? len : 0); });
  return n < 0 ? -errno : n;
}

}  // namespace pollset
