// binding.h — what every N-API glue file shares: argument access and the errno convention.
// Convention: a native call returns a number >= 0 on success and -errno on failure; lib/ turns
// that into a Node-style error. Argument type mistakes are programming errors and throw TypeError.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace pollset {

struct Bytes {
  uint8_t* data;
  size_t length;
};

// info[i] as a Uint8Array/Buffer, narrowed by optional offset/length arguments at i+1, i+2.
Bytes BytesArg(const Napi::CallbackInfo& info, size_t i);
int32_t IntArg(const Napi::CallbackInfo& info, size_t i);
Napi::Value Result(Napi::Env env, int64_t value);

void InitFd(Napi::Env env, Napi::Object exports);
void InitPollset(Napi::Env env, Napi::Object exports);
void InitNet(Napi::Env env, Napi::Object exports);
void InitTls(Napi::Env env, Napi::Object exports);

}  // namespace pollset
