// addon.h — each binding file registers its own functions on the module's exports.
#pragma once
#include <napi.h>

#include <initializer_list>

namespace pollset {

// A native function exported under `name`, which is also its `name` as JS sees it (stack traces).
struct Export {
  const char* name;
  Napi::Function::Callback callback;
};
void ExportFunctions(Napi::Env env, Napi::Object exports, std::initializer_list<Export> functions);

void InitFd(Napi::Env env, Napi::Object exports);
void InitPollset(Napi::Env env, Napi::Object exports);
void InitNet(Napi::Env env, Napi::Object exports);
void InitTls(Napi::Env env, Napi::Object exports);

}  // namespace pollset
