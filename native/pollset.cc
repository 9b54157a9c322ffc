// The rules every backend shares: the registry, argument checks, generations, timeout rounding.
#include "pollset.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>

#include "invariant.h"

namespace pollset {

namespace {

bool ValidInterest(uint32_t interest) { return (interest & kReadiness) != 0 && (interest & ~kInterestMask) == 0; }

// Identity of the open file behind fd; two different files never share (dev, ino) at one time.
int Identify(int fd, dev_t* dev, ino_t* ino, mode_t* mode = nullptr) {
  struct stat st;
  if (fstat(fd, &st) != 0) return errno;
  *dev = st.st_dev;
  *ino = st.st_ino;
  if (mode) *mode = st.st_mode;
  return 0;
}

int RoundTimeout(double ms) {
  if (std::isnan(ms) || ms < 0) return -1;
  double up = std::ceil(ms);
  return up >= double(INT_MAX) ? INT_MAX : int(up);
}

}  // namespace

const std::vector<std::string>& CompiledBackends() {
  static const std::vector<std::string> names = {
#ifdef POLLSET_HAVE_EPOLL
      "epoll",
#endif
#ifdef POLLSET_HAVE_KQUEUE
      "kqueue",
#endif
      "poll",
  };
  return names;
}

std::unique_ptr<Pollset> Pollset::Create(const std::string& backend, int* err) {
  std::unique_ptr<Backend> b;
  if (backend == "epoll") {
    b = CreateEpollBackend(err);
  } else if (backend == "kqueue") {
    b = CreateKqueueBackend(err);
  } else if (backend == "poll") {
    b = CreatePollBackend(err);
  } else {
    *err = EINVAL;
  }
  if (!b) return nullptr;
  return std::make_unique<Pollset>(std::move(b));
}

Pollset::Pollset(std::unique_ptr<Backend> backend) : backend_(std::move(backend)), owner_(getpid()) {}

Pollset::~Pollset() {
  // A forked child holds a copy of the parent's epoll fd, or, for kqueue, nothing at all: the number
  // may be one of the child's own files by now, so nothing is closed there.
  if (forked()) backend_->abandon();
}

bool Pollset::forked() const { return getpid() != owner_; }

void Pollset::set_observer(Observer observer) {
  // One watcher per pollset: a second would silently take the first one's changes away.
  POLLSET_ASSERT(!observer_ || !observer, "an observer is cleared before another is installed");
  observer_ = std::move(observer);
  for (size_t fd = 0; fd < regs_.size(); fd++) {
    const Registration& reg = regs_[fd];
    if (reg.used && !reg.dead && reg.armed) notify(int(fd), reg.interest);
  }
}

Pollset::Registration* Pollset::find(int fd) {
  if (size_t(fd) >= regs_.size() || !regs_[fd].used) return nullptr;
  return &regs_[fd];
}

// The registered file is gone: stop the kernel watching the number, keep the entry for remove().
void Pollset::forget_dead(int fd, Registration& reg) {
  if (reg.dead) return;
  reg.dead = true;
  backend_->del(fd, reg.interest);  // the file is gone: ENOENT/EBADF are expected and harmless
  notify(fd, 0);
}

int Pollset::insert(int fd, uint32_t interest) {
  if (forked()) return kForkedChild;
  if (fd < 0 || !ValidInterest(interest)) return EINVAL;
  dev_t dev;
  ino_t ino;
  mode_t mode;
  if (int e = Identify(fd, &dev, &ino, &mode)) return e;
  // A regular file or directory is always readable and writable: epoll refuses it, kqueue would report
  // it at every wait, poll too. One answer everywhere, epoll's.
  if (S_ISREG(mode) || S_ISDIR(mode)) return EPERM;
  if (Registration* reg = find(fd)) {
    if (!reg->dead && reg->dev == dev && reg->ino == ino) return EEXIST;
    // The number was closed and reused without remove(): the old registration is stale.
    forget_dead(fd, *reg);
    reg->used = false;
    POLLSET_ASSERT(size_ > 0, "size counts used registrations");
    size_--;
  }
  POLLSET_ASSERT(!find(fd), "a number has at most one registration");
  if (size_t(fd) >= regs_.size()) regs_.resize(size_t(fd) + 1);
  uint32_t generation = next_generation_++;
  if (next_generation_ == 0) next_generation_ = 1;
  if (int e = backend_->add(fd, interest, generation)) return e;
  regs_[fd] = Registration{true, false, true, generation, interest, dev, ino};
  size_++;
  POLLSET_ASSERT(size_ <= regs_.size(), "size counts used registrations");
  notify(fd, interest);
  return 0;
}

int Pollset::update(int fd, uint32_t interest) {
  if (forked()) return kForkedChild;
  if (fd < 0 || !ValidInterest(interest)) return EINVAL;
  Registration* reg = find(fd);
  if (!reg) return ENOENT;
  dev_t dev;
  ino_t ino;
  int e = Identify(fd, &dev, &ino);
  if (e == EBADF || (e == 0 && (reg->dev != dev || reg->ino != ino)) || reg->dead) {
    // What was registered under this number is closed: report it gone, as the kernel would.
    forget_dead(fd, *reg);
    reg->used = false;
    POLLSET_ASSERT(size_ > 0, "size counts used registrations");
    size_--;
    return e == EBADF ? EBADF : ENOENT;
  }
  if (e) return e;
  // Same interest: nothing to change, unless a reported one-shot registration is to be re-armed.
  if (interest == reg->interest && reg->armed && !(interest & kOneshot)) return 0;
  if ((e = backend_->modify(fd, reg->interest, interest, reg->generation))) return e;
  reg->interest = interest;
  reg->armed = true;
  notify(fd, interest);
  return 0;
}

int Pollset::remove(int fd) {
  if (forked()) return kForkedChild;
  if (fd < 0) return EINVAL;
  Registration* reg = find(fd);
  if (!reg) return ENOENT;
  if (!reg->dead) {
    int e = backend_->del(fd, reg->interest);
    // A registration whose fd was closed is still ours to clean up.
    if (e && e != EBADF && e != ENOENT) return e;
    if (reg->armed) notify(fd, 0);
  }
  reg->used = false;
  POLLSET_ASSERT(size_ > 0, "size counts used registrations");
  size_--;
  return 0;
}

int Pollset::wait(double timeout_ms, Ready* out, int cap) {
  if (forked()) return -kForkedChild;
  if (cap <= 0) return -EINVAL;
  if (raw_.size() < size_t(cap)) raw_.resize(size_t(cap));
  int n = backend_->wait(RoundTimeout(timeout_ms), raw_.data(), cap);
  if (n <= 0) return n;
  int count = 0;
  for (int i = 0; i < n; i++) {
    int fd = raw_[i].fd;
    Registration* reg = find(fd);
    // Generations only grow (modulo 2^32): the kernel can hand back an older registration's, never a
    // newer one than the number's current registration.
    POLLSET_ASSERT(!reg || int32_t(raw_[i].generation - reg->generation) <= 0,
                   "an event never carries a generation newer than its fd's registration");
    // poll(2) watches what the registry put in its array and nothing else, updated in the same call:
    // everything it reports is a current, live registration.
    POLLSET_ASSERT(backend_->forgets_closed_files() || (reg && !reg->dead && reg->generation == raw_[i].generation),
                   "the poll backend's array and the registry agree");
    if (!reg || reg->dead || reg->generation != raw_[i].generation) continue;
    // Reported already: kqueue disarms each filter of a one-shot fd on its own, so a second filter may
    // still fire once.
    if (!reg->armed) continue;
    if (!backend_->forgets_closed_files()) {
      // poll(2) watches numbers, not files: make sure the number still names the registered file.
      dev_t dev;
      ino_t ino;
      if (Identify(fd, &dev, &ino) != 0 || dev != reg->dev || ino != reg->ino) {
        forget_dead(fd, *reg);
        continue;
      }
    }
    // After a hang-up a read returns at once (EOF), so a reader is told it may read: epoll and poll
    // report a pipe's EOF as a bare hang-up, kqueue through its read filter.
    uint32_t flags = raw_[i].flags;
    if (flags & kHangup) flags |= reg->interest & kRead;
    out[count++] = Ready{fd, flags};
    if (reg->interest & kOneshot) {
      reg->armed = false;
      notify(fd, 0);
    }
  }
  return count;
}

}  // namespace pollset
