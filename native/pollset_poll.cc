// poll(2) backend, compiled everywhere: create, control, wait, translate.
// poll watches fd numbers, not files; Pollset verifies file identity on each event it reports.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // POLLRDHUP
#endif
#include <poll.h>

#include <cerrno>
#include <vector>

#include "invariant.h"
#include "pollset.h"

namespace pollset {
namespace {

#ifdef POLLRDHUP
constexpr short kPeerHangup = POLLRDHUP;
#else
constexpr short kPeerHangup = 0;
#endif

short ToPoll(uint32_t interest) {
  short ev = kPeerHangup;
  if (interest & kRead) ev |= POLLIN;
  if (interest & kWrite) ev |= POLLOUT;
  if (interest & kPriority) ev |= POLLPRI;
  return ev;
}

uint32_t FromPoll(short ev) {
  uint32_t flags = 0;
  if (ev & POLLIN) flags |= kRead;
  if (ev & POLLOUT) flags |= kWrite;
  if (ev & POLLPRI) flags |= kPriority;
  if (ev & (POLLHUP | kPeerHangup)) flags |= kHangup;
  if (ev & (POLLERR | POLLNVAL)) flags |= kError;
  return flags;
}

class PollBackend final : public Backend {
 public:
  const char* name() const override { return "poll"; }
  int pollable_fd() const override { return -1; }
  bool forgets_closed_files() const override { return false; }

  int add(int fd, uint32_t interest, uint32_t generation) override {
    if (size_t(fd) >= slot_of_.size()) slot_of_.resize(size_t(fd) + 1, -1);
    if (slot_of_[fd] >= 0) return EEXIST;
    slot_of_[fd] = int(fds_.size());
    fds_.push_back(pollfd{fd, ToPoll(interest), 0});
    slots_.push_back(Slot{fd, generation, interest});
    return 0;
  }

  int modify(int fd, uint32_t, uint32_t interest, uint32_t generation) override {
    int slot = slot_index(fd);
    if (slot < 0) return ENOENT;
    fds_[slot] = pollfd{fd, ToPoll(interest), 0};  // re-arms a reported one-shot slot too
    slots_[slot] = Slot{fd, generation, interest};
    return 0;
  }

  int del(int fd, uint32_t) override {
    int slot = slot_index(fd);
    if (slot < 0) return ENOENT;
    int last = int(fds_.size()) - 1;
    fds_[slot] = fds_[last];
    slots_[slot] = slots_[last];
    slot_of_[slots_[slot].fd] = slot;
    fds_.pop_back();
    slots_.pop_back();
    slot_of_[fd] = -1;
    POLLSET_ASSERT(fds_.size() == slots_.size(), "every pollfd has its slot");
    POLLSET_ASSERT(size_t(slot) == fds_.size() || slot_of_[slots_[slot].fd] == slot, "the moved slot is found");
    return 0;
  }

  int wait(int timeout_ms, Raw* out, int cap) override {
    int n = ::poll(fds_.data(), nfds_t(fds_.size()), timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    // Start where the last full batch stopped, so fds late in the array are not starved.
    int count = 0;
    size_t total = fds_.size();
    for (size_t k = 0; k < total && count < n && count < cap; k++) {
      size_t i = (start_ + k) % total;
      if (fds_[i].revents == 0) continue;
      const Slot& slot = slots_[i];
      out[count++] = Raw{slot.fd, slot.generation, FromPoll(fds_[i].revents)};
      // One-shot, emulated: poll skips a negative fd, hang-ups included, until modify() re-arms it.
      if (slot.interest & kOneshot) fds_[i].fd = -1;
      if (count == cap) start_ = (i + 1) % total;
    }
    return count;
  }

  void abandon() override {}  // nothing in the kernel to let go of

 private:
  int slot_index(int fd) const { return size_t(fd) < slot_of_.size() ? slot_of_[fd] : -1; }

  struct Slot {
    int fd;  // fds_[i].fd is -1 while a reported one-shot slot is disarmed
    uint32_t generation;
    uint32_t interest;
  };

  std::vector<pollfd> fds_;
  std::vector<Slot> slots_;   // beside fds_, slot for slot
  std::vector<int> slot_of_;  // fd -> index in fds_, or -1
  size_t start_ = 0;
};

}  // namespace

std::unique_ptr<Backend> CreatePollBackend(int*) { return std::make_unique<PollBackend>(); }

}  // namespace pollset
