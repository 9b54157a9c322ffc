// tcp.h — stream-socket calls: listen, batched accept, connect completion, gathered writes.
// They work for unix stream sockets as well as TCP.
#pragma once
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>

namespace pollset {

// listen(2) with at least the backlog Node uses (511), so bursts of connects are not refused.
int ListenSocket(int fd, int backlog);
// Accepts until EAGAIN or `max` connections: writes (fd, address length) pairs to `out` and the
// peer addresses to `addrs`. Returns how many (>= 1) or -errno (-EAGAIN when none is pending).
int AcceptBatch(int fd, int max, int32_t* out, sockaddr_storage* addrs);
// After a pending connect's fd turned writable: 0 when connected, -errno of the failure, or
// -EINPROGRESS when it is still under way.
int ConnectResult(int fd);
// Most buffers one gathered write takes: IOV_MAX on Linux and the BSDs (more is EINVAL from the kernel).
constexpr uint32_t kMaxWriteBuffers = 1024;
// writev with kSendFlags, at most kMaxWriteBuffers buffers: bytes written or -errno.
ssize_t WriteVector(int fd, const iovec* iov, int count);

}  // namespace pollset
