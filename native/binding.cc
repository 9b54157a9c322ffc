// Argument helpers shared by the N-API glue files.
#include "binding.h"

namespace pollset {

// Every read and write unpacks these, so each argument costs one N-API call where possible: the
// converting call also type-checks (it fails with napi_number_expected / napi_invalid_arg).

int32_t IntArg(const Napi::CallbackInfo& info, size_t i) {
  int32_t value = 0;
  if (i >= info.Length() || napi_get_value_int32(info.Env(), info[i], &value) != napi_ok) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a number");
  }
  return value;
}

Napi::Value Result(Napi::Env env, int64_t value) {
  // Byte counts and -errno fit in an int32; napi_create_int32 makes a small integer without the
  // double round trip (every read and write returns through here).
  napi_value out = nullptr;
  napi_status status = value >= INT32_MIN && value <= INT32_MAX ? napi_create_int32(env, int32_t(value), &out)
                                                                 : napi_create_double(env, double(value), &out);
  NAPI_THROW_IF_FAILED(env, status, Napi::Value());
  return Napi::Value(env, out);
}

namespace {

// Whether the optional argument i was given (undefined counts as not given).
bool Given(const Napi::CallbackInfo& info, size_t i) { return i < info.Length() && !info[i].IsUndefined(); }

}  // namespace

Bytes BytesArg(const Napi::CallbackInfo& info, size_t i) {
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  if (i >= info.Length() ||
      napi_get_typedarray_info(info.Env(), info[i], &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a Uint8Array");
  }
  size_t offset = 0;
  if (Given(info, i + 1)) {
    int32_t at = IntArg(info, i + 1);
    if (at < 0 || size_t(at) > length) throw Napi::RangeError::New(info.Env(), "offset is past the end of the buffer");
    offset = size_t(at);
  }
  size_t count = length - offset;
  if (Given(info, i + 2)) {
    int32_t want = IntArg(info, i + 2);
    if (want < 0 || size_t(want) > count) throw Napi::RangeError::New(info.Env(), "length is past the end of the buffer");
    count = size_t(want);
  }
  // An empty array may have no storage at all: never offset a null pointer.
  return Bytes{data ? static_cast<uint8_t*>(data) + offset : nullptr, count};
}

}  // namespace pollset
