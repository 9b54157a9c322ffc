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

// The socket options the low-level API exposes, numbered in this order from 0. This list is the one
// source of their names and numbers: the addon exports it as `socketOptions`, which lib/native.ts reads.
// RxqOverflow is Linux's SO_RXQ_OVFL (ENOPROTOOPT elsewhere): see ReceiveRing::drops().
// KeepAlive is SO_KEEPALIVE; KeepIdle (seconds before the first probe: TCP_KEEPIDLE, macOS TCP_KEEPALIVE),
// KeepInterval (seconds between probes: TCP_KEEPINTVL) and KeepCount (unanswered probes before the
// connection is dropped: TCP_KEEPCNT) tune it; UserTimeout is Linux's TCP_USER_TIMEOUT (ms that sent
// data may stay unacknowledged). Type (SO_TYPE: SOCK_STREAM 1, SOCK_DGRAM 2 as numbered here) and
// AcceptConn (SO_ACCEPTCONN: listening or not; other types are 0) are read-only: they tell what an inherited fd is.
// Each is ENOPROTOOPT where the system lacks it.
// clang-format off (clang-format 14 reflows this list differently on each pass; one option a line reads best)
#define POLLSET_SOCKET_OPTIONS(X) \
  X(ReuseAddr)                    \
  X(ReusePort)                    \
  X(RecvBuffer)                   \
  X(SendBuffer)                   \
  X(NoDelay)                      \
  X(Error)                        \
  X(RxqOverflow)                  \
  X(KeepAlive)                    \
  X(KeepIdle)                     \
  X(KeepInterval)                 \
  X(KeepCount)                    \
  X(UserTimeout)                  \
  X(Type)                         \
  X(AcceptConn)
// clang-format on

enum class Option {
#define POLLSET_OPTION_MEMBER(name) name,
  POLLSET_SOCKET_OPTIONS(POLLSET_OPTION_MEMBER)
#undef POLLSET_OPTION_MEMBER
};
#define POLLSET_OPTION_ONE(name) +1
constexpr int kOptionMax = 0 POLLSET_SOCKET_OPTIONS(POLLSET_OPTION_ONE) - 1;
#undef POLLSET_OPTION_ONE

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
