// epoll backend (Linux): create, control, wait, translate.
#include "pollset.h"

#ifdef POLLSET_HAVE_EPOLL
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace pollset {
namespace {

uint32_t ToEpoll(uint32_t interest) {
  // RDHUP always: a peer's hang-up is reported even to a pure writer.
  uint32_t ev = EPOLLRDHUP;
  if (interest & kRead) ev |= EPOLLIN;
  if (interest & kWrite) ev |= EPOLLOUT;
  if (interest & kPriority) ev |= EPOLLPRI;
  if (interest & kOneshot) ev |= EPOLLONESHOT;
  return ev;
}

uint32_t FromEpoll(uint32_t ev) {
  uint32_t flags = 0;
  if (ev & EPOLLIN) flags |= kRead;
  if (ev & EPOLLOUT) flags |= kWrite;
  if (ev & EPOLLPRI) flags |= kPriority;
  if (ev & (EPOLLHUP | EPOLLRDHUP)) flags |= kHangup;
  if (ev & EPOLLERR) flags |= kError;
  return flags;
}

class EpollBackend final : public Backend {
 public:
  explicit EpollBackend(int epfd) : epfd_(epfd) {}
  ~EpollBackend() override {
    if (epfd_ >= 0) close(epfd_);
  }

  const char* name() const override { return "epoll"; }
  int pollable_fd() const override { return epfd_; }
  bool forgets_closed_files() const override { return true; }

  int add(int fd, uint32_t interest, uint32_t generation) override {
    return control(EPOLL_CTL_ADD, fd, interest, generation);
  }
  int modify(int fd, uint32_t, uint32_t interest, uint32_t generation) override {
    return control(EPOLL_CTL_MOD, fd, interest, generation);
  }
  int del(int fd, uint32_t) override { return control(EPOLL_CTL_DEL, fd, 0, 0); }

  int wait(int timeout_ms, Raw* out, int cap) override {
    if (events_.size() < size_t(cap)) events_.resize(size_t(cap));
    int n = epoll_wait(epfd_, events_.data(), cap, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
      uint64_t data = events_[i].data.u64;
      out[i] = Raw{int32_t(uint32_t(data)), uint32_t(data >> 32), FromEpoll(events_[i].events)};
    }
    return n;
  }

  void abandon() override { epfd_ = -1; }

 private:
  // epoll_data is 64 bits on every ABI: the fd and its generation both fit.
  int control(int op, int fd, uint32_t interest, uint32_t generation) {
    struct epoll_event ev = {};
    ev.events = ToEpoll(interest);
    ev.data.u64 = (uint64_t{generation} << 32) | uint32_t(fd);
    return epoll_ctl(epfd_, op, fd, &ev) == 0 ? 0 : errno;
  }

  int epfd_;
  std::vector<struct epoll_event> events_;
};

}  // namespace

std::unique_ptr<Backend> CreateEpollBackend(int* err) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    *err = errno;
    return nullptr;
  }
  return std::make_unique<EpollBackend>(epfd);
}

}  // namespace pollset

#else
#include <cerrno>
namespace pollset {
std::unique_ptr<Backend> CreateEpollBackend(int* err) {
  *err = ENOTSUP;
  return nullptr;
}
}  // namespace pollset
#endif
