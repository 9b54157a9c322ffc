// N-API glue for Pollset: argument unpacking, the shared event array, watch() lifetime.
#include <node_api.h>
#include <unistd.h>
#include <uv.h>

#include <string>

#include "addon.h"
#include "args.h"
#include "pollset.h"
#include "watch.h"

namespace pollset {
namespace {

class PollsetWrap : public Napi::ObjectWrap<PollsetWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Pollset",
                       {
                           InstanceMethod<&PollsetWrap::Insert>("insert"),
                           InstanceMethod<&PollsetWrap::Update>("update"),
                           InstanceMethod<&PollsetWrap::Remove>("remove"),
                           InstanceMethod<&PollsetWrap::Wait>("wait"),
                           InstanceMethod<&PollsetWrap::Watch>("watch"),
                           InstanceMethod<&PollsetWrap::Unwatch>("unwatch"),
                           InstanceMethod<&PollsetWrap::Close>("close"),
                           InstanceMethod<&PollsetWrap::SetEvents>("setEvents"),
                           InstanceAccessor<&PollsetWrap::Size>("size"),
                           InstanceAccessor<&PollsetWrap::Backend>("backend"),
                       });
  }

  // new Pollset(backend: string, events: Int32Array) — events receives (fd, flags) pairs.
  // Creation failure is reported through the `error` property (an errno) so lib/ can shape it.
  explicit PollsetWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PollsetWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) ThrowTypeError(env, "backend", "of type string", info[0]);
    UseEvents(env, info[1]);
    int err = 0;
    set_ = Pollset::Create(info[0].As<Napi::String>().Utf8Value(), &err);
    info.This().As<Napi::Object>().Set("error", Napi::Number::New(env, err));
  }

  ~PollsetWrap() override {
    StopWatchingQuietly();
    set_.reset();
  }

 private:
  bool Open(const Napi::CallbackInfo& info) {
    if (!set_) ThrowStateError(info.Env(), "pollset is closed");
    if (set_->forked()) {
      ThrowStateError(info.Env(), "pollset was created by process " + std::to_string(set_->owner()) +
                                      " and cannot be used in its forked child " + std::to_string(getpid()) +
                                      ": create a new pollset in the child");
    }
    return true;
  }

  // The kernel's events are written into this array by later wait() calls: it is pinned, and
  // looked at again before every wait (see PinnedArray).
  void UseEvents(Napi::Env env, napi_value events) {
    events_ = PinnedArray(env, events, "events", napi_int32_array, kPairInts);
  }

  // Room in the events array now, as (fd, flags) pairs; false with *error when it is unusable.
  bool EventRoom(Napi::Env env, Ready** out, int* capacity, std::string* error) {
    View view{nullptr, 0, 0};
    if (!events_.TryUse(env, kPairInts, &view, error)) return false;
    *out = static_cast<Ready*>(view.data);
    // A bigger array than one wait can use would only make the backend's scratch array as big.
    size_t pairs = view.length / kPairInts;
    *capacity = pairs < kMaxEvents ? int(pairs) : kMaxEvents;
    return true;
  }

  // setEvents(events: Int32Array): a bigger array for sets that outgrew the first one.
  Napi::Value SetEvents(const Napi::CallbackInfo& info) {
    UseEvents(info.Env(), info[0]);
    return info.Env().Undefined();
  }

  // insert(fd, interest) and update(fd, interest): the same arguments, `change` tells which call.
  Napi::Value Register(const Napi::CallbackInfo& info, int (Pollset::*change)(int, uint32_t)) {
    Open(info);
    int fd = FdArg(info, 0);
    int err = ((*set_).*change)(fd, uint32_t(IntArg(info, 1, "interest")));
    Reref();
    return Result(info.Env(), -err);
  }

  Napi::Value Insert(const Napi::CallbackInfo& info) { return Register(info, &Pollset::insert); }
  Napi::Value Update(const Napi::CallbackInfo& info) { return Register(info, &Pollset::update); }

  Napi::Value Remove(const Napi::CallbackInfo& info) {
    Open(info);
    int err = set_->remove(FdArg(info, 0));
    Reref();
    return Result(info.Env(), -err);
  }

  Napi::Value Wait(const Napi::CallbackInfo& info) {
    Open(info);
    Napi::Env env = info.Env();
    double timeout = NumberArg(info, 0, "timeout");
    Ready* events = nullptr;
    int capacity = 0;
    std::string error;
    if (!EventRoom(env, &events, &capacity, &error)) ThrowStateError(env, error);
    return Result(env, set_->wait(timeout, events, capacity));
  }

  Napi::Value Size(const Napi::CallbackInfo& info) {
    Open(info);
    return Result(info.Env(), int64_t(set_->size()));
  }

  Napi::Value Backend(const Napi::CallbackInfo& info) {
    Open(info);
    return Napi::String::New(info.Env(), set_->backend_name());
  }

  // watch(onPending: (count: number) => void): 0 or -errno. count < 0 reports a wait() failure.
  Napi::Value Watch(const Napi::CallbackInfo& info) {
    Open(info);
    Napi::Env env = info.Env();
    if (!info[0].IsFunction()) ThrowTypeError(env, "onPending", "of type function", info[0]);
    if (watcher_) return Result(env, -EALREADY);
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "no event loop");
    int err = 0;
    Watcher* w = Watcher::Start(
        loop, set_.get(), [this] { OnPending(); }, &err);
    if (!w) return Result(env, -err);
    watcher_ = w;
    callback_ = Napi::Persistent(info[0].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "Pollset");
    Ref();  // a watched pollset stays alive until unwatch()/close(), as a listening socket would
    napi_add_async_cleanup_hook(env, OnEnvTeardown, this, &cleanup_hook_);
    Reref();
    return Result(env, 0);
  }

  Napi::Value Unwatch(const Napi::CallbackInfo& info) {
    Open(info);
    StopWatching();
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  // Called by libuv, outside any JavaScript frame: a Napi::Error escaping from here would end the
  // process (std::terminate). One is thrown when a call into the environment fails because it can
  // no longer run JavaScript — a worker being terminated or exiting, whose teardown still spins its
  // libuv loop while the watched fd is readable. Nothing is left to tell then: stop watching.
  void OnPending() {
    Watcher* w = watcher_;
    try {
      Dispatch();
    } catch (const Napi::Error&) {
      if (watcher_ == w) StopWatchingQuietly();
      return;
    }
    // The callback may have unwatched or closed this pollset; then w is already gone.
    if (watcher_ == w && w) w->rearm();
  }

  void Dispatch() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Ready* events = nullptr;
    int capacity = 0;
    std::string error;
    if (!EventRoom(env, &events, &capacity, &error)) {
      // Nowhere to put events: stop (a level-triggered watch would fire again at once) and report
      // it the way a throwing callback is reported.
      StopWatching();
      napi_fatal_exception(env, StateError(env, error).Value());
      return;
    }
    int n = set_->wait(0, events, capacity);
    if (n != 0) {
      try {
        callback_.MakeCallback(Value(), {Napi::Number::New(env, n)}, *context_);
      } catch (const Napi::Error& e) {
        // The callback threw: an uncaught exception, as from any other callback. With no
        // exception value the environment cannot run JavaScript any more (see OnPending).
        if (e.Value().IsEmpty()) throw;
        napi_fatal_exception(env, e.Value());
      }
    }
  }

  // StopWatching where a failing call into the environment cannot be reported (a destructor, a
  // teardown): the watcher is released all the same, whatever reference bookkeeping failed.
  void StopWatchingQuietly() noexcept {
    try {
      StopWatching();
    } catch (const Napi::Error&) {
      // the environment is going away: its references go with it
    }
  }

  void Reref() {
    if (watcher_) watcher_->set_ref(set_ && set_->size() > 0);
  }

  void StopWatching() {
    if (!watcher_) return;
    Watcher* w = watcher_;
    watcher_ = nullptr;
    if (set_) set_->set_observer(nullptr);
    napi_remove_async_cleanup_hook(cleanup_hook_);
    cleanup_hook_ = nullptr;
    w->destroy(nullptr);
    callback_.Reset();
    context_.reset();
    Unref();
  }

  void Shutdown() {
    StopWatching();
    set_.reset();
  }

  // The environment (main thread or a worker) is going away while we watch: close the libuv
  // handle and tell Node when it is closed, so the loop can be closed cleanly behind us.
  static void OnEnvTeardown(napi_async_cleanup_hook_handle handle, void* arg) {
    auto* self = static_cast<PollsetWrap*>(arg);
    Watcher* w = self->watcher_;
    self->watcher_ = nullptr;
    self->cleanup_hook_ = nullptr;
    if (self->set_) self->set_->set_observer(nullptr);
    w->destroy([handle] { napi_remove_async_cleanup_hook(handle); });
  }

  static constexpr size_t kPairInts = sizeof(Ready) / sizeof(int32_t);
  static constexpr int kMaxEvents = 65536;

  std::unique_ptr<Pollset> set_;
  PinnedArray events_;
  Watcher* watcher_ = nullptr;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
  napi_async_cleanup_hook_handle cleanup_hook_ = nullptr;
};

Napi::Value Backends(const Napi::CallbackInfo& info) {
  const auto& names = CompiledBackends();
  auto list = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); i++) list.Set(uint32_t(i), names[i]);
  return list;
}

}  // namespace

void InitPollset(Napi::Env env, Napi::Object exports) {
  exports.Set("Pollset", PollsetWrap::Define(env));
  ExportFunctions(env, exports, {{"backends", Backends}});
  Napi::Object flags = Napi::Object::New(env);
#define POLLSET_EXPORT_FLAG(name, bit) flags.Set(#name, uint32_t(k##name));
  POLLSET_FLAGS(POLLSET_EXPORT_FLAG)
#undef POLLSET_EXPORT_FLAG
  flags.Freeze();
  exports.Set("flags", flags);
}

}  // namespace pollset
