// kqueue backend (macOS/BSD; Linux through libkqueue): create, control, wait, translate.
// kqueue keeps one filter per direction; wait() merges them back into one event per fd.
//
// libkqueue (Linux) emulates kqueue over epoll, and three differences show through; each is handled here:
// - its kqueue fd is the write end of a close-detect pipe and never polls readable, so a uv_poll on it
//   would never fire: the backend mirrors its interest into an epoll "doorbell" and offers that fd;
// - a knote is watched through epoll, which forgets a file only when its last descriptor closes (a dup
//   or a forked child keeps it alive), so the shared layer is told to check file identity per event;
// - close(kq) is reaped by libkqueue's monitor thread later; where libkqueue offers a drain call we wait
//   for it, so closing a pollset gives its fds back at once, as on a real kqueue.
// It has no EVFILT_EXCEPT (nor has FreeBSD): priority interest is then refused with ENOTSUP.
// One difference stays: libkqueue turns every EPOLLERR into EV_EOF, so a pipe whose reader has gone is
// write+error+hang-up here where epoll and poll say write+error.
#include "pollset.h"

#ifdef POLLSET_HAVE_KQUEUE
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <fcntl.h>
#include <unistd.h>
#ifdef POLLSET_LIBKQUEUE
#include <sys/epoll.h>
#endif

#include <cerrno>
#include <cstdint>
#include <vector>

#ifdef POLLSET_LIBKQUEUE
// Not in libkqueue's header and only in its newer releases: blocks until every closed kqueue is freed.
extern "C" void libkqueue_drain_pending_close(void) __attribute__((weak));
#endif

namespace pollset {
namespace {

#ifdef POLLSET_LIBKQUEUE
// An epoll set watching what libkqueue's own (hidden) epoll set watches, with the same masks
// (read: IN|RDHUP, write: OUT), so it polls readable exactly when kevent() has something to say.
class Doorbell {
 public:
  ~Doorbell() {
    if (fd_ >= 0) close(fd_);
  }
  int open() {
    fd_ = epoll_create1(EPOLL_CLOEXEC);
    return fd_ < 0 ? errno : 0;
  }
  int fd() const { return fd_; }
  int mirror(int fd, uint32_t old_interest, uint32_t interest) {
    struct epoll_event ev = {};
    if (interest & kRead) ev.events |= EPOLLIN | EPOLLRDHUP;
    if (interest & kWrite) ev.events |= EPOLLOUT;
    int op = interest == 0 ? EPOLL_CTL_DEL : old_interest == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(fd_, op, fd, &ev) == 0) return 0;
    // Deleting what the kernel already forgot (closed or reused number) is what was asked for.
    return op == EPOLL_CTL_DEL && (errno == ENOENT || errno == EBADF) ? 0 : errno;
  }

 private:
  int fd_ = -1;
};
#endif

void* TokenToUdata(uint64_t token) { return reinterpret_cast<void*>(uintptr_t(token)); }
uint64_t UdataToToken(const struct kevent& ev) { return uint64_t(uintptr_t(ev.udata)); }

class KqueueBackend final : public Backend {
 public:
  explicit KqueueBackend(int kq) : kq_(kq) {}
  ~KqueueBackend() override {
    close(kq_);
#ifdef POLLSET_LIBKQUEUE
    if (libkqueue_drain_pending_close) libkqueue_drain_pending_close();
#endif
  }

  const char* name() const override { return "kqueue"; }
#ifdef POLLSET_LIBKQUEUE
  int open_doorbell() { return doorbell_.open(); }
  int pollable_fd() const override { return doorbell_.fd(); }
  bool forgets_closed_files() const override { return false; }
#else
  int pollable_fd() const override { return kq_; }
  bool forgets_closed_files() const override { return true; }
#endif

  int add(int fd, uint32_t interest, uint64_t token) override { return control(fd, 0, interest, token); }
  int modify(int fd, uint32_t old_interest, uint32_t interest, uint64_t token) override {
    return control(fd, old_interest, interest, token);
  }
  int del(int fd, uint32_t old_interest) override { return control(fd, old_interest, 0, 0); }

  int wait(int timeout_ms, Raw* out, int cap) override {
    if (events_.size() < size_t(cap)) events_.resize(size_t(cap));
    struct timespec ts = {timeout_ms / 1000, long(timeout_ms % 1000) * 1000000L};
    int n = kevent(kq_, nullptr, 0, events_.data(), cap, timeout_ms < 0 ? nullptr : &ts);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    int count = 0;
    stamp_++;
    for (int i = 0; i < n; i++) {
      const struct kevent& ev = events_[i];
      if (ev.flags & EV_ERROR) continue;  // only change-list failures carry EV_ERROR; we pass none here
      size_t fd = size_t(ev.ident);
      if (fd >= seen_.size()) seen_.resize(fd + 1);
      uint64_t token = UdataToToken(ev);
      Seen& s = seen_[fd];
      if (s.stamp == stamp_ && out[s.index].token == token) {
        out[s.index].flags |= Translate(ev);  // the other filter of an fd already in this batch
      } else {
        s = Seen{stamp_, count};
        out[count++] = Raw{token, Translate(ev)};
      }
    }
    return count;
  }

 private:
  static uint32_t Translate(const struct kevent& ev) {
    uint32_t flags = 0;
    if (ev.filter == EVFILT_READ) flags |= kRead;
    if (ev.filter == EVFILT_WRITE) flags |= kWrite;
#ifdef EVFILT_EXCEPT
    if (ev.filter == EVFILT_EXCEPT) flags |= kPriority;
#endif
    if (ev.flags & EV_EOF) flags |= kHangup;
    if ((ev.flags & EV_EOF) && ev.fflags != 0) flags |= kError;  // fflags holds the socket error
    return flags;
  }

  int control(int fd, uint32_t old_interest, uint32_t interest, uint64_t token) {
    int e = apply(fd, old_interest, interest, token);
#ifdef POLLSET_LIBKQUEUE
    // The doorbell follows what the kqueue accepted; if it cannot, the kqueue change is undone so
    // that a failed call leaves both as they were.
    if (e == 0 && (e = doorbell_.mirror(fd, old_interest, interest)) && interest != 0) {
      apply(fd, interest, old_interest, token);
    }
#endif
    return e;
  }

  // One kevent() call carrying every filter change between two interests, atomically checked.
  int apply(int fd, uint32_t old_interest, uint32_t interest, uint64_t token) {
    struct kevent changes[3];
    int n = 0;
    auto change = [&](int16_t filter, uint32_t bit) {
      bool had = old_interest & bit, wants = interest & bit;
      if (wants) EV_SET(&changes[n++], fd, filter, EV_ADD | EV_ENABLE, 0, 0, TokenToUdata(token));
      else if (had) EV_SET(&changes[n++], fd, filter, EV_DELETE, 0, 0, nullptr);
    };
    change(EVFILT_READ, kRead);
    change(EVFILT_WRITE, kWrite);
#ifdef EVFILT_EXCEPT
    if ((interest | old_interest) & kPriority) {
      bool had = old_interest & kPriority, wants = interest & kPriority;
      if (wants) EV_SET(&changes[n++], fd, EVFILT_EXCEPT, EV_ADD | EV_ENABLE, NOTE_OOB, 0, TokenToUdata(token));
      else if (had) EV_SET(&changes[n++], fd, EVFILT_EXCEPT, EV_DELETE, 0, 0, nullptr);
    }
#else
    if (interest & kPriority) return ENOTSUP;
#endif
    if (n == 0) return 0;
    // EV_RECEIPT makes kevent report each change's result instead of pending events.
    for (int i = 0; i < n; i++) changes[i].flags |= EV_RECEIPT;
    struct kevent results[3];
    int got = kevent(kq_, changes, n, results, n, nullptr);
    if (got < 0) return errno;
    int first_error = 0;
    for (int i = 0; i < got; i++) {
      if ((results[i].flags & EV_ERROR) && results[i].data != 0 && !first_error) {
        // Deleting a filter of a closed fd is not a failure: the kernel already dropped it.
        if (interest == 0 && (results[i].data == ENOENT || results[i].data == EBADF)) continue;
        first_error = int(results[i].data);
      }
    }
    return first_error;
  }

  struct Seen {
    uint64_t stamp = 0;  // which wait() last saw this fd
    int index = 0;       // where in that wait's output
  };

  int kq_;
#ifdef POLLSET_LIBKQUEUE
  Doorbell doorbell_;
#endif
  std::vector<struct kevent> events_;
  std::vector<Seen> seen_;  // indexed by fd
  uint64_t stamp_ = 0;
};

}  // namespace

std::unique_ptr<Backend> CreateKqueueBackend(int* err) {
  int kq = kqueue();
  if (kq < 0) {
    *err = errno;
    return nullptr;
  }
  if (fcntl(kq, F_SETFD, FD_CLOEXEC) != 0) {
    *err = errno;
    close(kq);
    return nullptr;
  }
  auto backend = std::make_unique<KqueueBackend>(kq);
#ifdef POLLSET_LIBKQUEUE
  if (int e = backend->open_doorbell()) {
    *err = e;
    return nullptr;
  }
#endif
  return backend;
}

}  // namespace pollset

#else
#include <cerrno>
namespace pollset {
std::unique_ptr<Backend> CreateKqueueBackend(int* err) {
  *err = ENOTSUP;
  return nullptr;
}
}  // namespace pollset
#endif
