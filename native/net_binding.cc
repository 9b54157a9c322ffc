// N-API glue for sockets: argument unpacking only; the logic is in address/socket/datagram/tcp.cc.
// Addresses cross the boundary as sockaddr bytes in a Uint8Array (parsed once, reused per send).
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "addon.h"
#include "address.h"
#include "args.h"
#include "datagram.h"
#include "socket.h"
#include "tcp.h"

namespace pollset {
namespace {

struct Address {
  sockaddr_storage storage;
  socklen_t length = 0;
  const sockaddr_storage* ptr() const { return length ? &storage : nullptr; }
};

// info[i] as sockaddr bytes; undefined/null means "no address" (a connected socket's send).
Address AddressArg(const Napi::CallbackInfo& info, size_t i, bool optional) {
  Address a;
  memset(&a.storage, 0, sizeof(a.storage));
  if (optional && (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull())) return a;
  View raw = TypedArray(info.Env(), info[i], "address", napi_uint8_array);
  if (raw.length == 0 || raw.length > sizeof(a.storage)) {
    ThrowRangeError(info.Env(), "The value of \"address\" is out of range. It must hold 1 to " +
                                    std::to_string(sizeof(a.storage)) + " bytes of a socket address. Received " +
                                    std::to_string(raw.length));
  }
  memcpy(&a.storage, raw.data, raw.length);
  a.length = socklen_t(raw.length);
  return a;
}

// info[i] as a typed array of `type` with room for `min_bytes`, its data aligned for T.
template <typename T>
T* AlignedArg(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type type, size_t min_bytes,
              size_t* length) {
  View view = TypedArray(info.Env(), info[i], name, type);
  if (view.bytes < min_bytes) {
    ThrowRangeError(info.Env(), std::string("The value of \"") + name + "\" is out of range. It must hold >= " +
                                    std::to_string(min_bytes) + " bytes. Received " + std::to_string(view.bytes));
  }
  if (reinterpret_cast<uintptr_t>(view.data) % alignof(T) != 0) {
    ThrowTypeError(info.Env(), name, "aligned to its element size", info[i]);
  }
  if (length) *length = view.length;
  return static_cast<T*>(view.data);
}

Napi::Value AddressBytes(Napi::Env env, const sockaddr_storage& addr, socklen_t len) {
  auto out = Napi::Uint8Array::New(env, len);
  if (len) memcpy(out.Data(), &addr, len);
  return out;
}

Napi::Value ParseAddressJs(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) ThrowTypeError(info.Env(), "address", "of type string", info[0]);
  sockaddr_storage addr;
  socklen_t len = 0;
  int err = ParseAddress(info[0].As<Napi::String>().Utf8Value(), &addr, &len);
  if (err) return Result(info.Env(), -err);
  return AddressBytes(info.Env(), addr, len);
}

Napi::Value FormatAddressJs(const Napi::CallbackInfo& info) {
  Bytes raw = BytesArg(info, 0, "address");
  sockaddr_storage addr;
  memset(&addr, 0, sizeof(addr));
  if (raw.length > sizeof(addr)) return Result(info.Env(), -EINVAL);
  if (raw.length) memcpy(&addr, raw.data, raw.length);  // an empty array may have no data pointer
  std::string text;
  int err = FormatAddress(addr, socklen_t(raw.length), &text);
  if (err) return Result(info.Env(), -err);
  return Napi::String::New(info.Env(), text);
}

Napi::Value SocketJs(const Napi::CallbackInfo& info) {
  int domain = ChoiceArg(info, 0, "family", {{"ipv4", AF_INET}, {"ipv6", AF_INET6}, {"unix", AF_UNIX}});
  int kind = ChoiceArg(info, 1, "type", {{"dgram", SOCK_DGRAM}, {"stream", SOCK_STREAM}});
  return Result(info.Env(), OpenSocket(domain, kind));
}

Napi::Value BindJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  Address a = AddressArg(info, 1, false);
  return Result(info.Env(), BindSocket(fd, a.storage, a.length));
}

Napi::Value ConnectJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  Address a = AddressArg(info, 1, false);
  return Result(info.Env(), ConnectSocket(fd, a.storage, a.length));
}

Napi::Value ConnectResultJs(const Napi::CallbackInfo& info) {
  return Result(info.Env(), ConnectResult(FdArg(info, 0)));
}

Napi::Value ListenJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  return Result(info.Env(), ListenSocket(fd, IntArg(info, 1, "backlog")));
}

// accept(fd, out: Int32Array of (fd, address length) pairs, addrs: Uint8Array of sockaddr slots)
Napi::Value AcceptJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  size_t length = 0;
  auto* out = AlignedArg<int32_t>(info, 1, "out", napi_int32_array, 2 * sizeof(int32_t), &length);
  size_t max = length / 2 < size_t(INT32_MAX) ? length / 2 : size_t(INT32_MAX);
  auto* addrs =
      AlignedArg<sockaddr_storage>(info, 2, "addresses", napi_uint8_array, max * sizeof(sockaddr_storage), nullptr);
  return Result(info.Env(), AcceptBatch(fd, int(max), out, addrs));
}

Napi::Value SocketNameJs(const Napi::CallbackInfo& info) {
  sockaddr_storage addr;
  socklen_t len = 0;
  int err = SocketName(FdArg(info, 0), Given(info, 1) && info[1].ToBoolean(), &addr, &len);
  if (err) return Result(info.Env(), err);
  return AddressBytes(info.Env(), addr, len);
}

Napi::Value GetOptionJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  return Result(info.Env(), GetOption(fd, Option(IntArg(info, 1, "option", 0, kOptionMax))));
}

Napi::Value SetOptionJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  auto option = Option(IntArg(info, 1, "option", 0, kOptionMax));
  return Result(info.Env(), SetOption(fd, option, IntArg(info, 2, "value", INT32_MIN, INT32_MAX)));
}

Napi::Value ShutdownJs(const Napi::CallbackInfo& info) {
  static_assert(SHUT_RD == 0 && SHUT_WR == 1 && SHUT_RDWR == 2, "how is numbered as lib/net/tcp.ts numbers it");
  int fd = FdArg(info, 0);
  return Result(info.Env(), ShutdownSocket(fd, IntArg(info, 1, "how", SHUT_RD, SHUT_RDWR)));
}

// send(fd, buf, offset?, length?, address?)
Napi::Value SendJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  Bytes buf = BytesArg(info, 1);
  Address a = AddressArg(info, 4, true);
  return Result(info.Env(), SendTo(fd, buf.data, buf.length, a.ptr(), a.length));
}

// sendMany(fd, buffers, address?)
Napi::Value SendManyJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  std::vector<iovec> iov = BufferList(info, 1, "datagrams", kMaxDatagrams);
  Address a = AddressArg(info, 2, true);
  if (iov.empty()) return Result(info.Env(), 0);
  return Result(info.Env(), SendMany(fd, iov.data(), iov.size(), a.ptr(), a.length));
}

Napi::Value WritevJs(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  std::vector<iovec> iov = BufferList(info, 1, "buffers", kMaxWriteBuffers);
  return Result(info.Env(), WriteVector(fd, iov.data(), int(iov.size())));
}

// new Receiver(slots: Uint8Array, slotSize, meta: Int32Array, addrs: Uint8Array); receive(fd).
// The ring keeps pointers into the three arrays: they are pinned, and checked before every receive
// (a transferred or shrunk buffer is refused, never written).
class Receiver : public Napi::ObjectWrap<Receiver> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Receiver",
                       {InstanceMethod<&Receiver::Receive>("receive"), InstanceMethod<&Receiver::Drops>("drops")});
  }

  explicit Receiver(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Receiver>(info) {
    Napi::Env env = info.Env();
    size_t slot_size = size_t(IntArg(info, 1, "slotSize", 1, INT32_MAX));
    meta_ = PinnedArray(env, info[2], "meta", napi_int32_array, kMetaStride);
    // One receive fills at most kMaxDatagrams headers: more slots would only cost memory.
    count_ = std::min<size_t>(meta_.first().length / kMetaStride, kMaxDatagrams);
    slot_bytes_ = count_ * slot_size;
    slots_ = PinnedArray(env, info[0], "slots", napi_uint8_array, slot_bytes_);
    addrs_ = PinnedArray(env, info[3], "addresses", napi_uint8_array, count_ * sizeof(sockaddr_storage));
    if (reinterpret_cast<uintptr_t>(addrs_.first().data) % alignof(sockaddr_storage) != 0) {
      ThrowTypeError(env, "addresses", "aligned for socket addresses (its own ArrayBuffer)", info[3]);
    }
    ring_ = std::make_unique<ReceiveRing>(static_cast<uint8_t*>(slots_.first().data), slot_size, count_,
                                          static_cast<int32_t*>(meta_.first().data),
                                          static_cast<sockaddr_storage*>(addrs_.first().data));
  }

 private:
  Napi::Value Receive(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = FdArg(info, 0);
    StillOurs(env, slots_, slot_bytes_);
    StillOurs(env, meta_, count_ * kMetaStride);
    StillOurs(env, addrs_, count_ * sizeof(sockaddr_storage));
    return Result(env, ring_->Receive(fd));
  }

  Napi::Value Drops(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(ring_->drops())); }

  static void StillOurs(Napi::Env env, const PinnedArray& array, size_t length) {
    if (array.Use(env, length).data != array.first().data) {
      ThrowStateError(env, "A Receiver array moved after it was handed over");
    }
  }

  PinnedArray slots_, meta_, addrs_;
  size_t count_ = 0;
  size_t slot_bytes_ = 0;
  std::unique_ptr<ReceiveRing> ring_;
};

}  // namespace

void InitNet(Napi::Env env, Napi::Object exports) {
  exports.Set("addressSize", Napi::Number::New(env, double(sizeof(sockaddr_storage))));
  ExportFunctions(env, exports,
                  {
                      {"parseAddress", ParseAddressJs},
                      {"formatAddress", FormatAddressJs},
                      {"socket", SocketJs},
                      {"bind", BindJs},
                      {"connect", ConnectJs},
                      {"connectResult", ConnectResultJs},
                      {"listen", ListenJs},
                      {"accept", AcceptJs},
                      {"socketName", SocketNameJs},
                      {"getOption", GetOptionJs},
                      {"setOption", SetOptionJs},
                      {"shutdown", ShutdownJs},
                      {"send", SendJs},
                      {"sendMany", SendManyJs},
                      {"writev", WritevJs},
                  });
  Napi::Object options = Napi::Object::New(env);
#define POLLSET_EXPORT_OPTION(name) options.Set(#name, int(Option::name));
  POLLSET_SOCKET_OPTIONS(POLLSET_EXPORT_OPTION)
#undef POLLSET_EXPORT_OPTION
  options.Freeze();
  exports.Set("socketOptions", options);
  exports.Set("Receiver", Receiver::Define(env));
}

}  // namespace pollset
