// args.h — what every N-API binding file shares: argument checks and the errno convention.
// Convention: a native call returns a number >= 0 on success and -errno on failure; lib/ turns
// that into a Node-style error. A bad argument is a programming error and throws at once, naming
// the argument, with Node's codes:
//   wrong type                                   TypeError  ERR_INVALID_ARG_TYPE
//   number that is not an integer in range,
//   offset/length past the end, too short a list RangeError ERR_OUT_OF_RANGE
//   buffer whose ArrayBuffer was detached        TypeError  ERR_INVALID_ARG_VALUE
//   memory kept from an earlier call, detached
//   or shrunk since                              Error      ERR_INVALID_STATE
// Every integer argument goes through Integer(): a double is checked before it is narrowed, so
// NaN, fractions and fd + 2^32 never wrap into some other valid value.
#pragma once
#include <napi.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace pollset {

[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& name, const char* expected, napi_value got);
[[noreturn]] void ThrowRangeError(Napi::Env env, const std::string& message);
[[noreturn]] void ThrowStateError(Napi::Env env, const std::string& message);
// The ERR_INVALID_STATE error itself, for callers that report it rather than throw it.
Napi::Error StateError(Napi::Env env, const std::string& message);

// `value` as an integer in [min, max] (|bounds| <= 2^53).
int64_t Integer(Napi::Env env, napi_value value, const std::string& name, int64_t min, int64_t max);
// info[i] as an int32 in [min, max].
int32_t IntArg(const Napi::CallbackInfo& info, size_t i, const char* name, int32_t min = 0, int32_t max = INT32_MAX);
// info[i] as a file descriptor number: [0, INT32_MAX].
int FdArg(const Napi::CallbackInfo& info, size_t i);
// info[i] as a number that is not NaN (infinities allowed).
double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name);
// Whether the optional argument i was given (undefined counts as not given).
bool Given(const Napi::CallbackInfo& info, size_t i);

// A string argument that names one of a few values.
struct Choice {
  const char* text;
  int value;
};
// info[i] as the value of the choice whose text it is; anything else is a TypeError that lists the
// choices in the order given ("'a', 'b' or 'c'").
int ChoiceArg(const Napi::CallbackInfo& info, size_t i, const char* name, std::initializer_list<Choice> choices);

// A typed array's memory as of now: valid until JS code runs again.
struct View {
  void* data;
  size_t length;  // elements
  size_t bytes;
};
// `value` as a typed array of `type` whose ArrayBuffer is not detached.
View TypedArray(Napi::Env env, napi_value value, const std::string& name, napi_typedarray_type type);

struct Bytes {
  uint8_t* data;
  size_t length;
};
// info[i] as a Uint8Array/Buffer, narrowed by the optional offset/length arguments at i+1, i+2.
Bytes BytesArg(const Napi::CallbackInfo& info, size_t i, const char* name = "buffer");

// info[i] as an array of at most `max` Uint8Arrays (the system call's own limit, which its header
// states). The array is read once — its length, then every element — before any pointer is taken:
// an element getter may run JS that grows the array or detaches an earlier element's buffer, and
// neither may reach the iovecs.
std::vector<iovec> BufferList(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t max);

// A typed array whose memory native code keeps using after the call that handed it over (the
// kernel writes into it on later calls). The reference keeps the array and its ArrayBuffer alive;
// Use() reads the array again before every use, because JS may have transferred (detached) or
// resized its ArrayBuffer since, and then the memory is no longer ours to write.
class PinnedArray {
 public:
  PinnedArray() = default;
  // Takes `value` (checked as TypedArray() checks) and requires at least `min_length` elements.
  PinnedArray(Napi::Env env, napi_value value, const char* name, napi_typedarray_type type, size_t min_length);
  // The array now: throws ERR_INVALID_STATE when it was detached or holds fewer than `min_length` elements.
  View Use(Napi::Env env, size_t min_length) const;
  // Like Use(), for callers that cannot throw: false (and *error set) instead.
  bool TryUse(Napi::Env env, size_t min_length, View* out, std::string* error) const;
  // What the array held when pinned.
  const View& first() const { return first_; }

 private:
  Napi::ObjectReference ref_;
  std::string name_;
  napi_typedarray_type type_ = napi_uint8_array;
  View first_{nullptr, 0, 0};
};

Napi::Value Result(Napi::Env env, int64_t value);

}  // namespace pollset
