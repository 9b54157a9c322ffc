// watch.h — drives a Pollset from a libuv loop without ever blocking that loop.
// epoll/kqueue: a uv_poll_t watches the pollset's own fd. poll: a helper thread owns a second poll
// backend that mirrors the pollset's interest set (plus a wake pipe for changes), blocks in its wait and
// wakes the loop with a uv_async_t. Either way `on_pending` runs on the loop's thread when events are
// likely pending; it collects them with wait(0) and then calls rearm().
#pragma once
#include <uv.h>

#include <functional>

#include "pollset.h"

namespace pollset {

class Watcher {
 public:
  using Callback = std::function<void()>;
  // Returns nullptr and sets *err (a positive errno) on failure. Installs itself as the observer.
  static Watcher* Start(uv_loop_t* loop, Pollset* set, Callback on_pending, int* err);

  // Keep the loop alive only while something is registered.
  void set_ref(bool ref);
  // Events were collected: look for more.
  virtual void rearm() = 0;
  // Stops at once (no on_pending after this returns); frees itself once libuv has closed its
  // handle and then calls `closed` (may be empty).
  void destroy(Callback closed);

 protected:
  explicit Watcher(Callback on_pending) : on_pending_(std::move(on_pending)) {}
  virtual ~Watcher() = default;
  // The libuv handle is initialized: destroy() closes it, set_ref() refs it. Its data is this Watcher.
  void adopt(uv_handle_t* handle);
  template <typename T>
  static T* From(uv_handle_t* handle) {
    return static_cast<T*>(static_cast<Watcher*>(handle->data));
  }
  // Stops delivering: no on_pending after it returns (the handle is still open).
  virtual void stop() = 0;
  void pending() { on_pending_(); }

 private:
  void Finish();
  uv_handle_t* handle_ = nullptr;
  Callback on_pending_;
  Callback closed_;
};

}  // namespace pollset
