// Argument helpers shared by the N-API glue files.
#include "binding.h"

namespace pollset {

int32_t IntArg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a number");
  }
  return info[i].As<Napi::Number>().Int32Value();
}

Bytes BytesArg(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsTypedArray()) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a Uint8Array");
  }
  auto array = info[i].As<Napi::TypedArray>();
  if (array.TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a Uint8Array");
  }
  auto bytes = info[i].As<Napi::Uint8Array>();
  size_t length = bytes.ElementLength();
  size_t offset = 0;
  if (info.Length() > i + 1 && !info[i + 1].IsUndefined()) offset = size_t(IntArg(info, i + 1));
  if (offset > length) throw Napi::RangeError::New(info.Env(), "offset is past the end of the buffer");
  size_t count = length - offset;
  if (info.Length() > i + 2 && !info[i + 2].IsUndefined()) {
    int32_t want = IntArg(info, i + 2);
    if (want < 0 || size_t(want) > count) throw Napi::RangeError::New(info.Env(), "length is past the end of the buffer");
    count = size_t(want);
  }
  return Bytes{bytes.Data() + offset, count};
}

}  // namespace pollset
