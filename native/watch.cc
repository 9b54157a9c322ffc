// The two ways a Pollset is driven from inside a libuv loop; see watch.h.
#include "watch.h"

#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "sys.h"

namespace pollset {

void Watcher::adopt(uv_handle_t* handle) {
  handle->data = this;
  handle_ = handle;
}

void Watcher::set_ref(bool ref) {
  if (!handle_) return;
  if (ref)
    uv_ref(handle_);
  else
    uv_unref(handle_);
}

void Watcher::destroy(Callback closed) {
  closed_ = std::move(closed);
  stop();
  if (!handle_) {
    Finish();
    return;
  }
  uv_close(handle_, [](uv_handle_t* h) { From<Watcher>(h)->Finish(); });
}

void Watcher::Finish() {
  Callback closed = std::move(closed_);
  delete this;
  if (closed) closed();
}

namespace {

// epoll/kqueue: their fd is itself pollable, so libuv's own loop watches it; no thread.
class FdWatcher final : public Watcher {
 public:
  explicit FdWatcher(Callback on_pending) : Watcher(std::move(on_pending)) {}

  int start(uv_loop_t* loop, int fd) {
    // libuv reports -errno; we speak positive errno.
    if (int e = uv_poll_init(loop, &handle_, fd)) return -e;
    adopt(reinterpret_cast<uv_handle_t*>(&handle_));
    if (int e = uv_poll_start(&handle_, UV_READABLE, OnReadable)) return -e;
    return 0;
  }

  void rearm() override {}  // level-triggered: libuv reports the fd again while events remain

 private:
  void stop() override {
    if (uv_is_active(reinterpret_cast<uv_handle_t*>(&handle_))) uv_poll_stop(&handle_);
  }
  static void OnReadable(uv_poll_t* h, int, int) { From<FdWatcher>(reinterpret_cast<uv_handle_t*>(h))->pending(); }

  uv_poll_t handle_;
};

// poll: nothing to hand to libuv, so a helper thread blocks in a poll backend of its own that mirrors the
// pollset's interest set, plus a wake pipe for changes, and wakes the loop; the loop thread collects with
// wait(0). The mirror belongs to the thread alone: the loop thread only queues changes for it.
class ThreadWatcher final : public Watcher {
 public:
  explicit ThreadWatcher(Callback on_pending) : Watcher(std::move(on_pending)) {}

  int start(uv_loop_t* loop) {
    int err = 0;
    mirror_ = CreatePollBackend(&err);
    if (!mirror_) return err;
    if (int e = MakePipe(wake_)) return e;
    if (int e = mirror_->add(wake_[0], kRead, 0)) return e;
    if (int e = uv_async_init(loop, &async_, OnAsync)) return -e;
    adopt(reinterpret_cast<uv_handle_t*>(&async_));
    thread_ = std::thread([this] { Run(); });
    return 0;
  }

  // What the pollset asks the kernel to watch changed (interest 0: no longer watched).
  void changed(int fd, uint32_t interest) {
    std::lock_guard<std::mutex> lock(mu_);
    // Level-triggered always: a one-shot registration is disarmed by the pollset's own wait, which
    // then reports it unwatched; the mirror disarming on its own could miss the next readiness.
    changes_.emplace_back(fd, interest & kReadiness);
    Wake();
    cv_.notify_one();
  }

  void rearm() override {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = true;
    cv_.notify_one();
  }

 private:
  ~ThreadWatcher() override {
    for (int fd : wake_) {
      if (fd >= 0) close(fd);
    }
  }

  void stop() override {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      quit_ = true;
      Wake();
      cv_.notify_one();
    }
    thread_.join();
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

  // Called with mu_ held, on the thread.
  void ApplyChanges() {
    for (const auto& [fd, interest] : changes_) {
      // The mirror can only disagree with the pollset by missing an fd (EEXIST: modify instead) or,
      // for a removal, by not holding it (ENOENT): both are settled here.
      if (interest == 0)
        mirror_->del(fd, 0);
      else if (mirror_->add(fd, interest, 0) == EEXIST)
        mirror_->modify(fd, 0, interest, 0);
    }
    changes_.clear();
  }

  void Run() {
    Raw events[16];
    std::unique_lock<std::mutex> lock(mu_);
    while (!quit_) {
      ApplyChanges();
      if (!armed_) {
        cv_.wait(lock);
        continue;
      }
      lock.unlock();
      int n = mirror_->wait(-1, events, int(sizeof events / sizeof events[0]));
      lock.lock();
      bool ready = n < 0;  // let the loop thread's wait() report the failure
      for (int i = 0; i < n; i++) {
        if (events[i].fd == wake_[0])
          Drain();
        else
          ready = true;
      }
      if (ready && !quit_) {
        armed_ = false;
        uv_async_send(&async_);
      }
    }
  }

  static void OnAsync(uv_async_t* h) { From<ThreadWatcher>(reinterpret_cast<uv_handle_t*>(h))->pending(); }

  uv_async_t async_;
  std::unique_ptr<Backend> mirror_;  // touched by the thread only (and by start() before it runs)
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<int, uint32_t>> changes_;  // guarded by mu_
  bool armed_ = true;                              // guarded by mu_
  bool quit_ = false;                              // guarded by mu_
  int wake_[2] = {-1, -1};
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
