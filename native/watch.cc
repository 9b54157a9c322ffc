// The two ways a Pollset is driven from inside a libuv loop; see watch.h.
#include "watch.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "sys.h"

namespace pollset {
namespace {

// epoll/kqueue: their fd is itself pollable, so libuv's own loop watches it; no thread.
class FdWatcher final : public Watcher {
 public:
  FdWatcher(Callback on_pending) : on_pending_(std::move(on_pending)) { handle_.data = this; }

  int start(uv_loop_t* loop, int fd) {
    // libuv reports -errno; we speak positive errno.
    if (int e = uv_poll_init(loop, &handle_, fd)) return -e;
    initialized_ = true;
    if (int e = uv_poll_start(&handle_, UV_READABLE, OnReadable)) return -e;
    return 0;
  }

  void set_ref(bool ref) override {
    if (ref) uv_ref(reinterpret_cast<uv_handle_t*>(&handle_));
    else uv_unref(reinterpret_cast<uv_handle_t*>(&handle_));
  }

  void rearm() override {}  // level-triggered: libuv reports the fd again while events remain

  void destroy(Callback closed) override {
    closed_ = std::move(closed);
    if (!initialized_) {
      Finish();
      return;
    }
    uv_poll_stop(&handle_);
    uv_close(reinterpret_cast<uv_handle_t*>(&handle_), [](uv_handle_t* h) {
      static_cast<FdWatcher*>(h->data)->Finish();
    });
  }

 private:
  static void OnReadable(uv_poll_t* h, int, int) { static_cast<FdWatcher*>(h->data)->on_pending_(); }
  void Finish() {
    Callback closed = std::move(closed_);
    delete this;
    if (closed) closed();
  }

  uv_poll_t handle_;
  bool initialized_ = false;
  Callback on_pending_;
  Callback closed_;
};

// poll: nothing to hand to libuv, so a helper thread blocks in poll(2) on a copy of the interest
// set (plus a wake pipe for changes) and wakes the loop; the loop thread collects with wait(0).
class ThreadWatcher final : public Watcher {
 public:
  ThreadWatcher(Callback on_pending) : on_pending_(std::move(on_pending)) { async_.data = this; }

  int start(uv_loop_t* loop) {
    if (int e = MakePipe(wake_)) return e;
    if (int e = uv_async_init(loop, &async_, OnAsync)) return -e;
    async_initialized_ = true;
    thread_ = std::thread([this] { Run(); });
    return 0;
  }

  void changed(int fd, uint32_t interest) {
    std::lock_guard<std::mutex> lock(mu_);
    if (interest == 0) interest_.erase(fd);
    else interest_[fd] = interest;
    Wake();
  }

  void set_ref(bool ref) override {
    if (ref) uv_ref(reinterpret_cast<uv_handle_t*>(&async_));
    else uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
  }

  void rearm() override {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = true;
    cv_.notify_one();
  }

  void destroy(Callback closed) override {
    closed_ = std::move(closed);
    if (thread_.joinable()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        quit_ = true;
        Wake();
        cv_.notify_one();
      }
      thread_.join();
    }
    if (!async_initialized_) {
      Finish();
      return;
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), [](uv_handle_t* h) {
      static_cast<ThreadWatcher*>(h->data)->Finish();
    });
  }

 private:
  ~ThreadWatcher() override {
    for (int fd : wake_) {
      if (fd >= 0) close(fd);
    }
  }

  static short ToPoll(uint32_t interest) {
    short ev = 0;
    if (interest & kRead) ev |= POLLIN;
    if (interest & kWrite) ev |= POLLOUT;
    if (interest & kPriority) ev |= POLLPRI;
    return ev;
  }

  void Wake() {
    char byte = 1;
    // A full pipe already means "wake up"; nothing else can fail on a pipe we own.
    while (write(wake_[1], &byte, 1) < 0 && errno == EINTR) {
    }
  }

  void Drain() {
    char buf[64];
    for (;;) {
      ssize_t n = read(wake_[0], buf, sizeof buf);
      if (n > 0 || (n < 0 && errno == EINTR)) continue;
      return;  // empty (EAGAIN): every wake-up is consumed
    }
  }

  void Run() {
    std::vector<pollfd> fds;
    std::unique_lock<std::mutex> lock(mu_);
    while (!quit_) {
      if (!armed_) {
        cv_.wait(lock);
        continue;
      }
      fds.clear();
      fds.push_back(pollfd{wake_[0], POLLIN, 0});
      for (const auto& [fd, interest] : interest_) fds.push_back(pollfd{fd, ToPoll(interest), 0});
      lock.unlock();
      int n = ::poll(fds.data(), nfds_t(fds.size()), -1);
      int err = n < 0 ? errno : 0;
      lock.lock();
      if (fds[0].revents) Drain();
      bool ready = err != 0 && err != EINTR;  // let the loop thread's wait() report the failure
      for (size_t i = 1; i < fds.size() && !ready; i++) ready = fds[i].revents != 0;
      if (ready && !quit_) {
        armed_ = false;
        uv_async_send(&async_);
      }
    }
  }

  static void OnAsync(uv_async_t* h) { static_cast<ThreadWatcher*>(h->data)->on_pending_(); }

  void Finish() {
    Callback closed = std::move(closed_);
    delete this;
    if (closed) closed();
  }

  uv_async_t async_;
  bool async_initialized_ = false;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<int, uint32_t> interest_;  // guarded by mu_
  bool armed_ = true;                           // guarded by mu_
  bool quit_ = false;                           // guarded by mu_
  int wake_[2] = {-1, -1};
  Callback on_pending_;
  Callback closed_;
};

}  // namespace

Watcher* Watcher::Start(uv_loop_t* loop, Pollset* set, Callback on_pending, int* err) {
  int fd = set->pollable_fd();
  if (fd >= 0) {
    auto* w = new FdWatcher(std::move(on_pending));
    if (int e = w->start(loop, fd)) {
      *err = e;
      w->destroy(nullptr);
      return nullptr;
    }
    return w;
  }
  auto* w = new ThreadWatcher(std::move(on_pending));
  if (int e = w->start(loop)) {
    *err = e < 0 ? -e : e;
    w->destroy(nullptr);
    return nullptr;
  }
  set->set_observer([w](int fd, uint32_t interest) { w->changed(fd, interest); });
  return w;
}

}  // namespace pollset
