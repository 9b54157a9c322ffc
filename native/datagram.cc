// Datagram I/O in batches: recvmmsg/sendmmsg on Linux, a recvmsg/sendmsg loop elsewhere.
// One kernel call per batch is what lets a JS reader keep up with a UDP flood.
#include "datagram.h"

#include <cerrno>
#include <cstring>

#include "socket.h"
#include "sys.h"

namespace pollset {

ReceiveRing::ReceiveRing(uint8_t* slots, size_t slotSize, size_t count, int32_t* meta, sockaddr_storage* addrs)
    : meta_(meta), iov_(count), msgs_(count) {
#if defined(__linux__)
  control_.assign(count * kControlSize, 0);
#endif
  for (size_t i = 0; i < count; i++) {
    iov_[i] = iovec{slots + i * slotSize, slotSize};
    msghdr& h = Header(i);
    memset(&h, 0, sizeof(h));
    h.msg_name = &addrs[i];
    h.msg_namelen = sizeof(sockaddr_storage);
    h.msg_iov = &iov_[i];
    h.msg_iovlen = 1;
#if defined(__linux__)
    h.msg_control = &control_[i * kControlSize];
    h.msg_controllen = kControlSize;
#endif
  }
}

msghdr& ReceiveRing::Header(size_t i) {
#if defined(__linux__)
  return msgs_[i].msg_hdr;
#else
  return msgs_[i];
#endif
}

int ReceiveRing::Receive(int fd) {
  // msg_namelen, msg_controllen and msg_flags are value-result: restore what the last call changed.
  for (size_t i = 0; i < used_; i++) {
    Header(i).msg_namelen = sizeof(sockaddr_storage);
    Header(i).msg_flags = 0;
#if defined(__linux__)
    Header(i).msg_controllen = kControlSize;
#endif
  }
  used_ = 0;
  int n;
#if defined(__linux__)
  n = RetryOnEintr([&] { return recvmmsg(fd, msgs_.data(), unsigned(msgs_.size()), MSG_DONTWAIT, nullptr); });
  if (n < 0) return -errno;
  for (int i = 0; i < n; i++) {
    meta_[i * kMetaStride] = int32_t(msgs_[size_t(i)].msg_len);
    msghdr& h = Header(size_t(i));
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
      // The counter as of when this datagram was queued: later datagrams carry later counts.
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL && c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
        memcpy(&drops_, CMSG_DATA(c), sizeof(uint32_t));
      }
    }
  }
#else
  for (n = 0; size_t(n) < msgs_.size(); n++) {
    ssize_t got = RetryOnEintr([&] { return recvmsg(fd, &msgs_[size_t(n)], MSG_DONTWAIT); });
    if (got < 0) {
      if (n == 0) return -errno;
      break;  // a later call reports it (or finds the socket empty)
    }
    meta_[size_t(n) * kMetaStride] = int32_t(got);
  }
#endif
  used_ = size_t(n);
  for (size_t i = 0; i < used_; i++) {
    const msghdr& h = Header(i);
    meta_[i * kMetaStride + 1] = (h.msg_flags & MSG_TRUNC) ? 1 : 0;
    meta_[i * kMetaStride + 2] = int32_t(h.msg_namelen);
  }
  return n;
}

int SendMany(int fd, const iovec* datagrams, size_t count, const sockaddr_storage* addr, socklen_t len) {
  // Batches of a fixed size keep the headers on the stack.
  constexpr size_t kBatch = 64;
  size_t sent = 0;
  while (sent < count) {
    size_t batch = count - sent < kBatch ? count - sent : kBatch;
#if defined(__linux__)
    mmsghdr msgs[kBatch];
    memset(msgs, 0, sizeof(mmsghdr) * batch);
    for (size_t i = 0; i < batch; i++) {
      msghdr& h = msgs[i].msg_hdr;
      h.msg_name = const_cast<sockaddr_storage*>(addr);
      h.msg_namelen = addr ? len : 0;
      h.msg_iov = const_cast<iovec*>(&datagrams[sent + i]);
      h.msg_iovlen = 1;
    }
    int n = RetryOnEintr([&] { return sendmmsg(fd, msgs, unsigned(batch), kSendFlags); });
    if (n < 0) return sent ? int(sent) : -errno;
    sent += size_t(n);
    if (size_t(n) < batch) break;  // the socket buffer is full: report what went
#else
    (void)batch;
    ssize_t n = SendTo(fd, datagrams[sent].iov_base, datagrams[sent].iov_len, addr, len);
    if (n < 0) return sent ? int(sent) : int(n);
    sent++;
#endif
  }
  return int(sent);
}

}  // namespace pollset
