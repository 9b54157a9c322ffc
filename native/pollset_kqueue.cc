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
// - one kevent() call returns at most 512 events (MAX_KEVENT): wait() asks again without blocking while
//   calls come back full, so one wait still reports up to its capacity (libuv does the same);
// It has no EVFILT_EXCEPT (nor has FreeBSD): priority interest is then refused with ENOTSUP.
// One difference stays: libkqueue turns every EPOLLERR into EV_EOF, so a pipe whose reader has gone is
// write+error+hang-up here where epoll and poll say write+error.
#include "pollset.h"

#ifdef POLLSET_HAVE_KQUEUE
#include <fcntl.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef POLLSET_LIBKQUEUE
#include <sys/epoll.h>
#endif

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kevent_udata.h"

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
  void abandon() { fd_ = -1; }
  int mirror(int fd, uint32_t old_interest, uint32_t interest) {
    struct epoll_event ev = {};
    if (interest & kRead) ev.events |= EPOLLIN | EPOLLRDHUP;
    if (interest & kWrite) ev.events |= EPOLLOUT;
    int op = interest == 0 ? EPOLL_CTL_DEL : old_interest == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(fd_, op, fd, &ev) == 0) return 0;
    // A reported one-shot fd was taken out of the doorbell (see KqueueBackend::Disarm): re-arming adds it.
    if (op == EPOLL_CTL_MOD && errno == ENOENT && epoll_ctl(fd_, EPOLL_CTL_ADD, fd, &ev) == 0) return 0;
    // Deleting what the kernel already forgot (closed or reused number) is what was asked for.
    return op == EPOLL_CTL_DEL && (errno == ENOENT || errno == EBADF) ? 0 : errno;
  }

 private:
  int fd_ = -1;
};
#endif

// One change (or the reverse of one) for the change list: a helper instead of EV_SET, whose udata cast
// does not compile in C++ where udata is intptr_t (NetBSD before 10).
void SetChange(struct kevent* ev, int fd, int filter, unsigned flags, unsigned fflags, uint32_t generation) {
  std::memset(ev, 0, sizeof *ev);
  ev->ident = uintptr_t(fd);
  ev->filter = decltype(ev->filter)(filter);
  ev->flags = decltype(ev->flags)(flags);
  ev->fflags = decltype(ev->fflags)(fflags);
  ev->udata = GenerationToUdata<decltype(ev->udata)>(generation);
}

#ifdef POLLSET_LIBKQUEUE
constexpr int kMaxPerCall = 512;  // libkqueue's MAX_KEVENT: what one kevent() call returns at most
#else
constexpr int kMaxPerCall = INT_MAX;
#endif

struct Filter {
  int filter;
  uint32_t bit;
  unsigned fflags;
};

constexpr Filter kFilters[] = {
    {EVFILT_READ, kRead, 0},
    {EVFILT_WRITE, kWrite, 0},
#ifdef EVFILT_EXCEPT
    {EVFILT_EXCEPT, kPriority, NOTE_OOB},
#endif
};
constexpr int kMaxChanges = int(sizeof kFilters / sizeof kFilters[0]);

struct Change {
  struct kevent ev;
  bool gone_ok;  // a delete of a filter that may already be gone (a reported one-shot, a closed fd)
};

class KqueueBackend final : public Backend {
 public:
  explicit KqueueBackend(int kq) : kq_(kq) {}
  ~KqueueBackend() override {
    if (kq_ < 0) return;  // abandoned in a forked child
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

  void abandon() override {
    kq_ = -1;
#ifdef POLLSET_LIBKQUEUE
    doorbell_.abandon();
#endif
  }

  int add(int fd, uint32_t interest, uint32_t generation) override { return control(fd, 0, interest, generation); }
  int modify(int fd, uint32_t old_interest, uint32_t interest, uint32_t generation) override {
    return control(fd, old_interest, interest, generation);
  }
  int del(int fd, uint32_t old_interest) override { return control(fd, old_interest, 0, 0); }

  int wait(int timeout_ms, Raw* out, int cap) override {
    if (events_.size() < size_t(cap)) events_.resize(size_t(cap));
    struct timespec ts = {timeout_ms / 1000, long(timeout_ms % 1000) * 1000000L};
    const struct timespec* limit = timeout_ms < 0 ? nullptr : &ts;
    static const struct timespec kNow = {0, 0};
    stamp_++;
    int count = 0;
    // Each call asks for no more events than there are free slots, so nothing taken from the kernel is
    // ever dropped (a one-shot filter, once returned, is disarmed). A call that comes back full may
    // have left events behind: ask again without blocking. A later call may repeat fds already seen
    // (level-triggered filters stay active), so one that adds nothing new ends the wait too.
    while (count < cap) {
      int ask = std::min(cap - count, kMaxPerCall);
      int n = kevent(kq_, nullptr, 0, events_.data(), ask, limit);
      if (n < 0) {
        if (count > 0 || errno == EINTR) break;  // what was taken is reported; a real failure comes back next wait
        return -errno;
      }
      int before = count;
      for (int i = 0; i < n; i++) count = Merge(events_[i], out, count);
      if (n < ask || count == before) break;
      limit = &kNow;
    }
    for (int i = 0; i < count; i++) Disarm(out[i]);
    return count;
  }

 private:
  // Adds one kevent to out: the other filter of an fd already in this wait's output joins its entry.
  int Merge(const struct kevent& ev, Raw* out, int count) {
    if (ev.flags & EV_ERROR) return count;  // only change-list failures carry EV_ERROR; we pass none here
    int fd = int(ev.ident);
    uint32_t generation = GenerationFromUdata(ev.udata);
    if (size_t(fd) >= seen_.size()) seen_.resize(size_t(fd) + 1);
    Seen& s = seen_[fd];
    if (s.stamp == stamp_ && out[s.index].generation == generation) {
      out[s.index].flags |= Translate(ev);
      return count;
    }
    s = Seen{stamp_, count};
    out[count] = Raw{fd, generation, Translate(ev)};
    return count + 1;
  }

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

  // One-shot, done here rather than with EV_DISPATCH/EV_ONESHOT: libkqueue loses events of filters
  // re-added after those fired, and deleting every filter of a reported fd disarms the whole fd, as
  // EPOLLONESHOT does, where EV_DISPATCH would leave its other filter armed. Only this thread waits
  // on the set, so nothing can see the fd between its report and this.
  void Disarm(const Raw& ready) {
    if (size_t(ready.fd) >= oneshot_.size()) return;
    Oneshot& o = oneshot_[ready.fd];
    if (o.interest == 0 || o.generation != ready.generation) return;
    apply(ready.fd, o.interest, 0, o.generation);  // a filter of a closed fd is gone already: fine
#ifdef POLLSET_LIBKQUEUE
    // Nobody reads the doorbell's own events, so only removing the fd stops it ringing for it.
    doorbell_.mirror(ready.fd, o.interest, 0);
#endif
    o.interest = 0;
  }

  int control(int fd, uint32_t old_interest, uint32_t interest, uint32_t generation) {
    int e = control_both(fd, old_interest, interest, generation);
    if (e == 0 && ((interest & kOneshot) || size_t(fd) < oneshot_.size())) {
      if (size_t(fd) >= oneshot_.size()) oneshot_.resize(size_t(fd) + 1);
      oneshot_[fd] = Oneshot{generation, (interest & kOneshot) ? interest : 0};
    }
    return e;
  }

  int control_both(int fd, uint32_t old_interest, uint32_t interest, uint32_t generation) {
    int e = apply(fd, old_interest, interest, generation);
#ifdef POLLSET_LIBKQUEUE
    // The doorbell follows what the kqueue accepted; if it cannot, the kqueue change is undone so
    // that a failed call leaves both as they were.
    if (e == 0 && (e = doorbell_.mirror(fd, old_interest, interest)) && interest != 0) {
      apply(fd, interest, old_interest, generation);
    }
#endif
    return e;
  }

  // The filter changes between two interests. A filter kept by both is left alone (the generation does
  // not change on modify), so no existing knote is ever re-added: libkqueue can refuse that (ENOENT)
  // for an fd number whose earlier file was closed while registered. The filters of a one-shot fd are
  // deleted once it is reported (see Disarm), so re-arming deletes what may be left and adds them
  // afresh; deleting one that is already gone is expected (ENOENT). Deletes come first.
  static int Changes(int fd, uint32_t old_interest, uint32_t interest, uint32_t generation, Change* out) {
    int n = 0;
    bool rearm = (old_interest | interest) & kOneshot;
    for (const Filter& f : kFilters) {
      if ((old_interest & f.bit) && (rearm || !(interest & f.bit))) {
        SetChange(&out[n].ev, fd, f.filter, EV_DELETE, 0, 0);
        out[n++].gone_ok = (old_interest & kOneshot) || interest == 0;
      }
    }
    for (const Filter& f : kFilters) {
      if ((interest & f.bit) && (rearm || !(old_interest & f.bit))) {
        SetChange(&out[n].ev, fd, f.filter, EV_ADD, f.fflags, generation);
        out[n++].gone_ok = false;
      }
    }
    return n;
  }

  // Applies the changes between two interests: all of them, or none. kevent() applies a change list
  // one change at a time, so a refusal part-way leaves the earlier changes live (on macOS a pipe takes
  // a read filter, then refuses EVFILT_EXCEPT): those are undone.
  int apply(int fd, uint32_t old_interest, uint32_t interest, uint32_t generation) {
#ifndef EVFILT_EXCEPT
    if (interest & kPriority) return ENOTSUP;
#endif
    Change changes[2 * kMaxChanges];
    int n = Changes(fd, old_interest, interest, generation, changes);
    bool applied[2 * kMaxChanges] = {};
    int e = Submit(changes, n, applied);
    if (e == 0) return 0;
    // Deleting filters of a closed fd is not a failure: the kernel already dropped them.
    if (interest == 0 && (e == ENOENT || e == EBADF)) return 0;
    Change undo[2 * kMaxChanges];
    int m = 0;
    for (int i = n - 1; i >= 0; i--) {
      if (applied[i]) m += Reverse(changes[i].ev, generation, &undo[m]);
    }
    bool undone[2 * kMaxChanges] = {};
    Submit(undo, m, undone);  // best effort: each reverts what was just accepted for this fd
    // A filter the kernel refuses for this kind of file says "this fd cannot do that", which must
    // not read as the "bad arguments" EINVAL means here: epoll's word for it is EPERM.
    return e == EINVAL || e == ENODEV ? EPERM : e;
  }

  // The change that puts one applied change back to the old interest.
  static int Reverse(const struct kevent& change, uint32_t generation, Change* out) {
    for (const Filter& f : kFilters) {
      if (decltype(change.filter)(f.filter) != change.filter) continue;
      if (change.flags & EV_DELETE) {
        SetChange(&out->ev, int(change.ident), f.filter, EV_ADD, f.fflags, generation);
      } else {
        SetChange(&out->ev, int(change.ident), f.filter, EV_DELETE, 0, 0);
      }
      out->gone_ok = true;
      return 1;
    }
    return 0;
  }

  // Submits changes in order; marks which were applied and returns the first refusal's errno, or 0.
  int Submit(Change* changes, int n, bool* applied) {
    if (n == 0) return 0;
#ifdef EV_RECEIPT
    // EV_RECEIPT: kevent() answers every change (EV_ERROR, data = 0 or an errno) instead of returning
    // pending events, so one call tells exactly which changes took.
    struct kevent list[2 * kMaxChanges], results[2 * kMaxChanges];
    for (int i = 0; i < n; i++) {
      list[i] = changes[i].ev;
      list[i].flags |= EV_RECEIPT;
    }
    int got = kevent(kq_, list, n, results, n, nullptr);
    if (got < 0) return errno;
    int first_error = 0;
    // Receipts come back in change-list order (each kernel copies them out as it goes); the flags of a
    // receipt are EV_ERROR alone on FreeBSD, so order, not flags, tells a filter's delete from its add.
    for (int i = 0; i < got && i < n; i++) {
      if (!(results[i].flags & EV_ERROR) || results[i].filter != list[i].filter) continue;
      int e = int(results[i].data);
      if (e == 0)
        applied[i] = true;
      else if (!(e == ENOENT && changes[i].gone_ok) && !first_error)
        first_error = e;
    }
    return first_error;
#else
    // No EV_RECEIPT (NetBSD before 10): one change per call, stopping at the first refusal.
    for (int i = 0; i < n; i++) {
      if (kevent(kq_, &changes[i].ev, 1, nullptr, 0, nullptr) == 0)
        applied[i] = true;
      else if (!(errno == ENOENT && changes[i].gone_ok))
        return errno;
    }
    return 0;
#endif
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
  struct Oneshot {
    uint32_t generation = 0;
    uint32_t interest = 0;  // a one-shot registration not yet reported, or 0
  };
  std::vector<Oneshot> oneshot_;  // indexed by fd
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
