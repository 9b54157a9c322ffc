// Module entry: glue only. Each concept registers its own functions.
#include "addon.h"

namespace pollset {

void ExportFunctions(Napi::Env env, Napi::Object exports, std::initializer_list<Export> functions) {
  for (const Export& f : functions) exports.Set(f.name, Napi::Function::New(env, f.callback, f.name));
}

}  // namespace pollset

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  pollset::InitFd(env, exports);
  pollset::InitPollset(env, exports);
  pollset::InitNet(env, exports);
  pollset::InitTls(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(pollset, Init)
