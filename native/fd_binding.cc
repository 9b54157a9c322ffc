// N-API glue for the raw fd primitives: pipe, socketpair, read, write, close, setNonBlocking, lockExclusive.
#include <sys/socket.h>

#include <string>

#include "addon.h"
#include "args.h"
#include "sys.h"

namespace pollset {
namespace {

Napi::Value PairOrError(Napi::Env env, int err, const int fds[2]) {
  if (err) return Result(env, -err);
  auto pair = Napi::Array::New(env, 2);
  pair.Set(uint32_t(0), fds[0]);
  pair.Set(uint32_t(1), fds[1]);
  return pair;
}

Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int fds[2] = {-1, -1};
  int err = MakePipe(fds);
  return PairOrError(info.Env(), err, fds);
}

Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int type =
      Given(info, 0) ? ChoiceArg(info, 0, "type", {{"stream", SOCK_STREAM}, {"dgram", SOCK_DGRAM}}) : SOCK_STREAM;
  int fds[2] = {-1, -1};
  int err = MakeSocketPair(AF_UNIX, type, fds);
  return PairOrError(info.Env(), err, fds);
}

Napi::Value Read(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  Bytes buf = BytesArg(info, 1);
  return Result(info.Env(), ReadFd(fd, buf.data, buf.length));
}

Napi::Value Write(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  Bytes buf = BytesArg(info, 1);
  return Result(info.Env(), WriteFd(fd, buf.data, buf.length));
}

Napi::Value Close(const Napi::CallbackInfo& info) { return Result(info.Env(), CloseFd(FdArg(info, 0))); }

Napi::Value SetNonBlockingJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  bool on = !Given(info, 1) || info[1].ToBoolean();
  return Result(info.Env(), -SetNonBlocking(fd, on));
}

Napi::Value LockExclusiveJs(const Napi::CallbackInfo& info) {
  return Result(info.Env(), LockExclusive(FdArg(info, 0)));
}

}  // namespace

void InitFd(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports,
                  {
                      {"pipe", Pipe},
                      {"socketpair", SocketPair},
                      {"read", Read},
                      {"write", Write},
                      {"close", Close},
                      {"setNonBlocking", SetNonBlockingJs},
                      {"lockExclusive", LockExclusiveJs},
                  });
}

}  // namespace pollset
