// watch.h — drives a Pollset from a libuv loop without ever blocking that loop.
// epoll/kqueue: a uv_poll_t watches the pollset's own fd. poll: a helper thread runs poll(2) on a copy
// of the interest set and wakes the loop with a uv_async_t. Either way `on_pending` runs on the loop's
// thread when events are likely pending; it collects them with wait(0) and then calls rearm().
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
  virtual void set_ref(bool ref) = 0;
  // Events were collected: look for more.
  virtual void rearm() = 0;
  // Stops at once (no on_pending after this returns); frees itself once libuv has closed its
  // handle and then calls `closed` (may be empty).
  virtual void destroy(Callback closed) = 0;

 protected:
  virtual ~Watcher() = default;
};

}  // namespace pollset
