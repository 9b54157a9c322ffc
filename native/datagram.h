// datagram.h — batched datagram receive into caller-owned memory, and batched send.
#pragma once
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pollset {

// Most datagrams one batch moves: recvmmsg fills at most UIO_MAXIOV (1024) headers per call on Linux,
// and a send batch is held to the same bound so one call's cost stays bounded everywhere.
constexpr uint32_t kMaxDatagrams = 1024;

// Per received datagram, ReceiveRing writes kMetaStride int32s: bytes stored, whether it was
// truncated (1/0), and the length of its source address (the address itself goes to
// `addrs + i * sizeof(sockaddr_storage)`).
constexpr size_t kMetaStride = 3;

// The receive side of a datagram socket: `count` slots of `slotSize` bytes in one buffer, filled
// by one recvmmsg per Receive. The headers pointing into the caller's memory are built once, so a
// receive allocates nothing. The caller keeps all three regions alive and unmoved.
class ReceiveRing {
 public:
  ReceiveRing(uint8_t* slots, size_t slotSize, size_t count, int32_t* meta, sockaddr_storage* addrs);
  // How many datagrams arrived (>= 1), or -errno (-EAGAIN when none is waiting).
  int Receive(int fd);
  // The kernel's count of datagrams this socket dropped (its receive queue was full), as the last
  // datagram received carried it: Linux attaches it (SO_RXQ_OVFL, a 32-bit counter that wraps)
  // to each datagram once the option is on and the count is not 0. 0 where nothing reports it.
  uint32_t drops() const { return drops_; }

 private:
  msghdr& Header(size_t i);
  int32_t* meta_;
  uint32_t drops_ = 0;
#if defined(__linux__)
  // One control buffer per slot, room for the SO_RXQ_OVFL message only.
  static constexpr size_t kControlSize = CMSG_SPACE(sizeof(uint32_t));
  std::vector<uint8_t> control_;
#endif
  std::vector<iovec> iov_;
#if defined(__linux__)
  std::vector<mmsghdr> msgs_;
#else
  std::vector<msghdr> msgs_;
#endif
  size_t used_ = 0;  // headers the last Receive consumed, whose in/out fields need resetting
};

// Sends `count` datagrams (one iovec each) to `addr` (null when connected): how many were sent
// (>= 1), or -errno for the first one's failure.
int SendMany(int fd, const iovec* datagrams, size_t count, const sockaddr_storage* addr, socklen_t len);

}  // namespace pollset
