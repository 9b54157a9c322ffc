// socket.h — the socket calls every socket kind shares. Each returns >= 0 or -errno.
#pragma once
#include <sys/socket.h>
#include <sys/types.h>

namespace pollset {

// Sends never raise SIGPIPE: a closed peer is an EPIPE result (macOS has SO_NOSIGPIPE instead).
// And they never block, even on a socket that came from elsewhere in blocking mode (a parent's
// socketpair as stderr): O_NONBLOCK belongs to the open file description, which other processes
// share, so it is not ours to set; MSG_DONTWAIT asks for the same per call.
#ifdef MSG_NOSIGNAL
constexpr int kSendFlags = MSG_NOSIGNAL | MSG_DONTWAIT;
#else
constexpr int kSendFlags = MSG_DONTWAIT;
#endif

// The socket options the low-level API exposes; numbered as lib/native.ts numbers them.
// RxqOverflow is Linux's SO_RXQ_OVFL (ENOPROTOOPT elsewhere): see ReceiveRing::drops().
// KeepAlive is SO_KEEPALIVE; KeepIdle (seconds before the first probe: TCP_KEEPIDLE, macOS TCP_KEEPALIVE),
// KeepInterval (seconds between probes: TCP_KEEPINTVL) and KeepCount (unanswered probes before the
// connection is dropped: TCP_KEEPCNT) tune it; UserTimeout is Linux's TCP_USER_TIMEOUT (ms that sent
// data may stay unacknowledged). Type (SO_TYPE: SOCK_STREAM 1, SOCK_DGRAM 2 as numbered here) and
// AcceptConn (SO_ACCEPTCONN: listening or not; other types are 0) are read-only: they tell what an inherited fd is.
// Each is ENOPROTOOPT where the system lacks it.
enum class Option {
  ReuseAddr = 0,
  ReusePort = 1,
  RecvBuffer = 2,
  SendBuffer = 3,
  NoDelay = 4,
  Error = 5,
  RxqOverflow = 6,
  KeepAlive = 7,
  KeepIdle = 8,
  KeepInterval = 9,
  KeepCount = 10,
  UserTimeout = 11,
  Type = 12,
  AcceptConn = 13,
};
constexpr int kOptionMax = int(Option::AcceptConn);

// A socket born non-blocking and close-on-exec (and SIGPIPE-free on macOS); fd or -errno.
int OpenSocket(int domain, int type);
// Makes an fd from accept() or elsewhere match OpenSocket's flags; 0 or -errno.
int AdoptSocket(int fd);
int BindSocket(int fd, const sockaddr_storage& addr, socklen_t len);
// 0 when connected now, -EINPROGRESS while the handshake runs (see ConnectResult in tcp.h).
int ConnectSocket(int fd, const sockaddr_storage& addr, socklen_t len);
// getsockname (peer false) or getpeername (peer true).
int SocketName(int fd, bool peer, sockaddr_storage* addr, socklen_t* len);
int GetOption(int fd, Option option);
int SetOption(int fd, Option option, int value);
// how: SHUT_RD, SHUT_WR or SHUT_RDWR.
int ShutdownSocket(int fd, int how);
// send/sendto with kSendFlags; `addr` null for a connected socket. Bytes sent or -errno.
ssize_t SendTo(int fd, const void* data, size_t length, const sockaddr_storage* addr, socklen_t len);

}  // namespace pollset
