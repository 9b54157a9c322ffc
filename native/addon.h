// addon.h — each binding file registers its own functions on the module's exports.
#pragma once
#include <napi.h>

namespace pollset {

void InitFd(Napi::Env env, Napi::Object exports);
void InitPollset(Napi::Env env, Napi::Object exports);
void InitNet(Napi::Env env, Napi::Object exports);
void InitTls(Napi::Env env, Napi::Object exports);

}  // namespace pollset
