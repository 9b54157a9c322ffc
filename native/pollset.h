// pollset.h — the one contract every readiness backend fulfils.
//
// A Pollset is a set of (fd, interest) registrations; interest is a mix of kRead, kWrite, kPriority,
// optionally with kOneshot.
//   insert: registered fd -> EEXIST      update/remove: unknown fd -> ENOENT
//   closed fd -> EBADF                   interest empty or with unknown bits -> EINVAL
//   regular file or directory -> EPERM (epoll refuses them, kqueue and poll would call them always ready;
//   every backend refuses them); a kernel refusing this fd the asked filter -> EPERM too, never EINVAL.
// wait(timeout_ms, out, cap) writes up to cap Ready{fd, flags} and returns the count, or -errno.
//   timeout < 0 blocks; fractions round up to whole ms; an empty set still sleeps; EINTR is 0 events.
//   Level-triggered. Read, write, hang-up and error readiness of one fd come as one Ready; a hang-up
//   of an fd with read interest is also read readiness (the read returns EOF at once).
//   Priority interest needs a kernel filter for it: kqueue without EVFILT_EXCEPT refuses it (ENOTSUP).
//   kOneshot: the fd is reported by one wait, then disarmed (in the kernel too) until update() re-arms it.
// Every registration carries a 32-bit generation that the kernel hands back with its events
// (epoll_data.u64, kevent.udata — a pointer, only 32 bits on i386 — or a slot beside the pollfd). An event
// whose generation is not the fd's current registration — the fd was closed and its number reused — is
// dropped, never delivered.
// A Pollset belongs to the process that made it: in a forked child every call fails with ECHILD (an epoll
// set is shared with the parent, a kqueue is not inherited at all), and destroying it there closes
// nothing, since its fd numbers may name the child's own files by then.
// Backends are one file each and never talk to one another; Pollset holds the rules they share.
#pragma once
#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace pollset {

// The flag bits, each written once here: the Flag enum (kRead, …) and the addon's `flags` export, which
// lib/native.ts's Flag enum is tested against, are both made from this list.
// clang-format off (one flag a line reads best)
#define POLLSET_FLAGS(X) \
  X(Read, 1)             \
  X(Write, 2)            \
  X(Priority, 4)         \
  X(Hangup, 8)           \
  X(Error, 16)           \
  X(Oneshot, 32)
// clang-format on
enum Flag : uint32_t {
#define POLLSET_FLAG_MEMBER(name, bit) k##name = bit,
  POLLSET_FLAGS(POLLSET_FLAG_MEMBER)
#undef POLLSET_FLAG_MEMBER
};
constexpr uint32_t kReadiness = kRead | kWrite | kPriority;
constexpr uint32_t kInterestMask = kReadiness | kOneshot;
// What a Pollset call returns in a forked child of the process that created the Pollset.
constexpr int kForkedChild = ECHILD;

struct Ready {
  int32_t fd;
  uint32_t flags;
};

// What a backend reports: the fd, the generation it was given at add/modify, and translated flags.
struct Raw {
  int32_t fd;
  uint32_t generation;
  uint32_t flags;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;
  // An fd that polls readable while events are pending (epoll/kqueue), or -1 (poll).
  virtual int pollable_fd() const = 0;
  // True when the kernel forgets a registration once its file is closed (epoll, kqueue).
  virtual bool forgets_closed_files() const = 0;
  // A failed add/modify leaves the kernel as it was. A kOneshot interest is disarmed by the kernel (or,
  // for poll, by the backend) once reported; modify re-arms it, even with the same interest.
  virtual int add(int fd, uint32_t interest, uint32_t generation) = 0;                            // 0 or errno
  virtual int modify(int fd, uint32_t old_interest, uint32_t interest, uint32_t generation) = 0;  // 0 or errno
  virtual int del(int fd, uint32_t old_interest) = 0;                                             // 0 or errno
  virtual int wait(int timeout_ms, Raw* out, int cap) = 0;  // count, or -errno; EINTR -> 0
  // In a forked child: let go of the kernel objects without closing their numbers.
  virtual void abandon() = 0;
};

// Each returns nullptr and sets *err when the kernel refuses, or when not compiled in (ENOTSUP).
std::unique_ptr<Backend> CreateEpollBackend(int* err);
std::unique_ptr<Backend> CreateKqueueBackend(int* err);
std::unique_ptr<Backend> CreatePollBackend(int* err);

// Compiled-in backends, best first.
const std::vector<std::string>& CompiledBackends();

class Pollset {
 public:
  // Called for every change of what the kernel is asked to watch (interest 0: no longer watched).
  using Observer = std::function<void(int fd, uint32_t interest)>;

  static std::unique_ptr<Pollset> Create(const std::string& backend, int* err);
  explicit Pollset(std::unique_ptr<Backend> backend);
  ~Pollset();

  int insert(int fd, uint32_t interest);
  int update(int fd, uint32_t interest);
  int remove(int fd);
  int wait(double timeout_ms, Ready* out, int cap);

  size_t size() const { return size_; }
  const char* backend_name() const { return backend_->name(); }
  int pollable_fd() const { return backend_->pollable_fd(); }
  // The process that created this set; forked() is true in any other (a forked child).
  pid_t owner() const { return owner_; }
  bool forked() const;
  // Installs (or clears) the observer and tells it every registration already watched.
  void set_observer(Observer observer);

 private:
  struct Registration {
    bool used = false;
    bool dead = false;  // its file was found closed; only remove() is left to do
    bool armed = true;  // false once a kOneshot registration is reported, until update()
    uint32_t generation = 0;
    uint32_t interest = 0;
    dev_t dev = 0;
    ino_t ino = 0;
  };
  Registration* find(int fd);
  void forget_dead(int fd, Registration& reg);
  void notify(int fd, uint32_t interest) {
    if (observer_) observer_(fd, interest);
  }

  std::unique_ptr<Backend> backend_;
  std::vector<Registration> regs_;  // indexed by fd
  std::vector<Raw> raw_;
  size_t size_ = 0;
  uint32_t next_generation_ = 1;
  Observer observer_;
  pid_t owner_;
};

}  // namespace pollset
