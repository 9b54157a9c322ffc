// N-API glue for sockets: argument unpacking only; the logic is in address/socket/datagram/tcp.cc.
// Addresses cross the boundary as sockaddr bytes in a Uint8Array (parsed once, reused per send).
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "address.h"
#include "binding.h"
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
  Bytes raw = BytesArg(info, i);
  if (raw.length == 0 || raw.length > sizeof(a.storage)) {
    throw Napi::RangeError::New(info.Env(), "argument " + std::to_string(i) + " is not a socket address");
  }
  memcpy(&a.storage, raw.data, raw.length);
  a.length = socklen_t(raw.length);
  return a;
}

template <typename T>
T* AlignedArg(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type, size_t minBytes) {
  if (i >= info.Length() || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " has the wrong array type");
  }
  auto array = info[i].As<Napi::TypedArray>();
  auto* data = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  if (array.ByteLength() < minBytes || reinterpret_cast<uintptr_t>(data) % alignof(T) != 0) {
    throw Napi::RangeError::New(info.Env(), "argument " + std::to_string(i) + " is too small or misaligned");
  }
  return reinterpret_cast<T*>(data);
}

Napi::Value AddressBytes(Napi::Env env, const sockaddr_storage& addr, socklen_t len) {
  auto out = Napi::Uint8Array::New(env, len);
  if (len) memcpy(out.Data(), &addr, len);
  return out;
}

// Uint8Array elements of the array at info[i], as iovecs.
std::vector<iovec> BufferList(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsArray()) {
    throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be an array of Uint8Array");
  }
  auto list = info[i].As<Napi::Array>();
  std::vector<iovec> iov(list.Length());
  for (uint32_t k = 0; k < list.Length(); k++) {
    Napi::Value item = list.Get(k);
    if (!item.IsTypedArray() || item.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be an array of Uint8Array");
    }
    auto bytes = item.As<Napi::Uint8Array>();
    iov[k] = iovec{bytes.Data(), bytes.ElementLength()};
  }
  return iov;
}

Napi::Value ParseAddressJs(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), "address must be a string");
  sockaddr_storage addr;
  socklen_t len = 0;
  int err = ParseAddress(info[0].As<Napi::String>().Utf8Value(), &addr, &len);
  if (err) return Result(info.Env(), -err);
  return AddressBytes(info.Env(), addr, len);
}

Napi::Value FormatAddressJs(const Napi::CallbackInfo& info) {
  Bytes raw = BytesArg(info, 0);
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
  std::string family = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  std::string type = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  int domain = family == "ipv4" ? AF_INET : family == "ipv6" ? AF_INET6 : family == "unix" ? AF_UNIX : -1;
  int kind = type == "dgram" ? SOCK_DGRAM : type == "stream" ? SOCK_STREAM : -1;
  if (domain < 0 || kind < 0) throw Napi::TypeError::New(info.Env(), "socket(family, type): unknown family or type");
  return Result(info.Env(), OpenSocket(domain, kind));
}

Napi::Value BindJs(const Napi::CallbackInfo& info) {
  Address a = AddressArg(info, 1, false);
  return Result(info.Env(), BindSocket(IntArg(info, 0), a.storage, a.length));
}

Napi::Value ConnectJs(const Napi::CallbackInfo& info) {
  Address a = AddressArg(info, 1, false);
  return Result(info.Env(), ConnectSocket(IntArg(info, 0), a.storage, a.length));
}

Napi::Value ConnectResultJs(const Napi::CallbackInfo& info) { return Result(info.Env(), ConnectResult(IntArg(info, 0))); }

Napi::Value ListenJs(const Napi::CallbackInfo& info) {
  return Result(info.Env(), ListenSocket(IntArg(info, 0), IntArg(info, 1)));
}

// accept(fd, out: Int32Array of (fd, address length) pairs, addrs: Uint8Array of sockaddr slots)
Napi::Value AcceptJs(const Napi::CallbackInfo& info) {
  int fd = IntArg(info, 0);
  auto* out = AlignedArg<int32_t>(info, 1, napi_int32_array, 0);
  size_t max = info[1].As<Napi::TypedArray>().ElementLength() / 2;
  auto* addrs = AlignedArg<sockaddr_storage>(info, 2, napi_uint8_array, max * sizeof(sockaddr_storage));
  return Result(info.Env(), AcceptBatch(fd, int(max), out, addrs));
}

Napi::Value SocketNameJs(const Napi::CallbackInfo& info) {
  sockaddr_storage addr;
  socklen_t len = 0;
  int err = SocketName(IntArg(info, 0), info.Length() > 1 && info[1].ToBoolean(), &addr, &len);
  if (err) return Result(info.Env(), err);
  return AddressBytes(info.Env(), addr, len);
}

Napi::Value GetOptionJs(const Napi::CallbackInfo& info) {
  return Result(info.Env(), GetOption(IntArg(info, 0), Option(IntArg(info, 1))));
}

Napi::Value SetOptionJs(const Napi::CallbackInfo& info) {
  return Result(info.Env(), SetOption(IntArg(info, 0), Option(IntArg(info, 1)), IntArg(info, 2)));
}

Napi::Value ShutdownJs(const Napi::CallbackInfo& info) {
  int how = IntArg(info, 1);
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return Result(info.Env(), -EINVAL);
  return Result(info.Env(), ShutdownSocket(IntArg(info, 0), how));
}

// send(fd, buf, offset?, length?, address?)
Napi::Value SendJs(const Napi::CallbackInfo& info) {
  int fd = IntArg(info, 0);
  Bytes buf = BytesArg(info, 1);
  Address a = AddressArg(info, 4, true);
  return Result(info.Env(), SendTo(fd, buf.data, buf.length, a.ptr(), a.length));
}

// sendMany(fd, buffers, address?)
Napi::Value SendManyJs(const Napi::CallbackInfo& info) {
  int fd = IntArg(info, 0);
  std::vector<iovec> iov = BufferList(info, 1);
  Address a = AddressArg(info, 2, true);
  if (iov.empty()) return Result(info.Env(), 0);
  return Result(info.Env(), SendMany(fd, iov.data(), iov.size(), a.ptr(), a.length));
}

Napi::Value WritevJs(const Napi::CallbackInfo& info) {
  int fd = IntArg(info, 0);
  std::vector<iovec> iov = BufferList(info, 1);
  // IOV_MAX is at least 1024 where we run; a longer list is a partial write, as writev allows.
  int count = iov.size() > 1024 ? 1024 : int(iov.size());
  return Result(info.Env(), WriteVector(fd, iov.data(), count));
}

// new Receiver(slots: Uint8Array, slotSize, meta: Int32Array, addrs: Uint8Array); receive(fd).
// It pins the three arrays (references) because the ring keeps pointers into them.
class Receiver : public Napi::ObjectWrap<Receiver> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Receiver",
                       {InstanceMethod<&Receiver::Receive>("receive"), InstanceMethod<&Receiver::Drops>("drops")});
  }

  explicit Receiver(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Receiver>(info) {
    int32_t slotSize = IntArg(info, 1);
    auto* meta = AlignedArg<int32_t>(info, 2, napi_int32_array, 0);
    size_t count = info[2].As<Napi::TypedArray>().ElementLength() / kMetaStride;
    if (slotSize <= 0 || count == 0) throw Napi::RangeError::New(info.Env(), "Receiver needs slots");
    auto* slots = AlignedArg<uint8_t>(info, 0, napi_uint8_array, count * size_t(slotSize));
    auto* addrs = AlignedArg<sockaddr_storage>(info, 3, napi_uint8_array, count * sizeof(sockaddr_storage));
    for (size_t i = 0; i < 4; i++) {
      if (i != 1) pins_.push_back(Napi::Persistent(info[i].As<Napi::Object>()));
    }
    ring_ = std::make_unique<ReceiveRing>(slots, size_t(slotSize), count, meta, addrs);
  }

 private:
  Napi::Value Receive(const Napi::CallbackInfo& info) { return Result(info.Env(), ring_->Receive(IntArg(info, 0))); }
  Napi::Value Drops(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(ring_->drops())); }

  std::vector<Napi::ObjectReference> pins_;
  std::unique_ptr<ReceiveRing> ring_;
};

}  // namespace

void InitNet(Napi::Env env, Napi::Object exports) {
  exports.Set("addressSize", Napi::Number::New(env, double(sizeof(sockaddr_storage))));
  exports.Set("parseAddress", Napi::Function::New(env, ParseAddressJs, "parseAddress"));
  exports.Set("formatAddress", Napi::Function::New(env, FormatAddressJs, "formatAddress"));
  exports.Set("socket", Napi::Function::New(env, SocketJs, "socket"));
  exports.Set("bind", Napi::Function::New(env, BindJs, "bind"));
  exports.Set("connect", Napi::Function::New(env, ConnectJs, "connect"));
  exports.Set("connectResult", Napi::Function::New(env, ConnectResultJs, "connectResult"));
  exports.Set("listen", Napi::Function::New(env, ListenJs, "listen"));
  exports.Set("accept", Napi::Function::New(env, AcceptJs, "accept"));
  exports.Set("socketName", Napi::Function::New(env, SocketNameJs, "socketName"));
  exports.Set("getOption", Napi::Function::New(env, GetOptionJs, "getOption"));
  exports.Set("setOption", Napi::Function::New(env, SetOptionJs, "setOption"));
  exports.Set("shutdown", Napi::Function::New(env, ShutdownJs, "shutdown"));
  exports.Set("send", Napi::Function::New(env, SendJs, "send"));
  exports.Set("sendMany", Napi::Function::New(env, SendManyJs, "sendMany"));
  exports.Set("writev", Napi::Function::New(env, WritevJs, "writev"));
  exports.Set("Receiver", Receiver::Define(env));
}

}  // namespace pollset
