// Stream sockets: accept in batches (one readiness event may stand for many connections), connect
// completed through SO_ERROR, and writev through sendmsg so that a closed peer is EPIPE, not SIGPIPE.
#include "tcp.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "socket.h"
#include "sys.h"

namespace pollset {

int ListenSocket(int fd, int backlog) { return listen(fd, backlog < 511 ? 511 : backlog) < 0 ? -errno : 0; }

namespace {
// One accept4 (or accept + flags): fd or -errno.
int AcceptOne(int fd, sockaddr_storage* addr, socklen_t* len) {
  auto* sa = reinterpret_cast<sockaddr*>(addr);
  int client;
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
  client = RetryOnEintr([&] { return accept4(fd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC); });
  if (client < 0) return -errno;
#else
  client = RetryOnEintr([&] { return accept(fd, sa, len); });
  if (client < 0) return -errno;
  int err = AdoptSocket(client);
  if (err) {
    close(client);
    return err;
  }
#endif
  return client;
}
}  // namespace

int AcceptBatch(int fd, int max, int32_t* out, sockaddr_storage* addrs) {
  int n = 0;
  while (n < max) {
    socklen_t len = sizeof(sockaddr_storage);
    int client = AcceptOne(fd, &addrs[n], &len);
    // A connection reset while queued is gone: not the listener's failure, try the next one.
    if (client == -ECONNABORTED) continue;
    if (client < 0) return n ? n : client;  // EAGAIN ends the batch; a real error shows next time
    out[2 * n] = client;
    out[2 * n + 1] = int32_t(len);
    n++;
  }
  return n;
}

int ConnectResult(int fd) {
  int err = GetOption(fd, Option::Error);
  if (err != 0) return err < 0 ? err : -err;
  sockaddr_storage peer;
  socklen_t len;
  // No error and no peer yet: the handshake is still running.
  err = SocketName(fd, true, &peer, &len);
  return err == -ENOTCONN ? -EINPROGRESS : err;
}

ssize_t WriteVector(int fd, const iovec* iov, int count) {
  msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = count;
  ssize_t n = RetryOnEintr([&] { return sendmsg(fd, &msg, kSendFlags); });
  return n < 0 ? -errno : n;
}

}  // namespace pollset
