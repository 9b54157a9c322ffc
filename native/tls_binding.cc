// N-API glue for TLS: TlsContext and TlsSession objects, certificate info, dev certificates.
// Both wrappers free their OpenSSL object on explicit free() and, failing that, when collected.
// Failures to build are reported through an `error` string property so lib/ shapes the error.
#include "addon.h"
#include "args.h"
#include "tls.h"

namespace pollset {
namespace {

// Marks objects made by TlsContextWrap so a session never unwraps a foreign object.
constexpr napi_type_tag kContextTag = {0x706f6c6c73657420ULL, 0x746c73637478ULL};

std::string StringField(Napi::Object obj, const char* name) {
  Napi::Value v = obj.Get(name);
  if (v.IsUndefined() || v.IsNull()) return std::string();
  if (v.IsString()) return v.As<Napi::String>().Utf8Value();
  View bytes = TypedArray(obj.Env(), v, name, napi_uint8_array);
  return bytes.length ? std::string(static_cast<const char*>(bytes.data), bytes.length) : std::string();
}

// Absent (undefined/null) is not the same as given-but-empty: an empty CA file must be an error.
std::optional<std::string> OptionalStringField(Napi::Object obj, const char* name) {
  Napi::Value v = obj.Get(name);
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  return StringField(obj, name);
}

// Largest integer a double holds exactly: times beyond it are not meant seriously.
constexpr int64_t kSafeInteger = (int64_t{1} << 53) - 1;

int64_t IntegerField(Napi::Object obj, const char* name, int64_t min, int64_t max) {
  return Integer(obj.Env(), obj.Get(name), name, min, max);
}

Napi::Object OptionsArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsObject()) ThrowTypeError(info.Env(), "options", "of type object", info[i]);
  return info[i].As<Napi::Object>();
}

class TlsContextWrap : public Napi::ObjectWrap<TlsContextWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TlsContext", {InstanceMethod<&TlsContextWrap::Free>("free")});
  }

  // new TlsContext({server, cert, key, ca, verify: 0 none | 1 optional | 2 require, issuer?, fingerprints?, alpn?})
  explicit TlsContextWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TlsContextWrap>(info) {
    Napi::Object opts = OptionsArg(info, 0);
    ContextSpec spec;
    spec.server = opts.Get("server").ToBoolean();
    spec.cert = StringField(opts, "cert");
    spec.key = StringField(opts, "key");
    spec.ca = OptionalStringField(opts, "ca");
    spec.verify = Verify(IntegerField(opts, "verify", 0, 2));
    spec.issuer = StringField(opts, "issuer");
    Napi::Value fingerprints = opts.Get("fingerprints");
    if (fingerprints.IsArray()) {
      auto list = fingerprints.As<Napi::Array>();
      for (uint32_t i = 0, n = list.Length(); i < n; i++) {
        Napi::Value item = list.Get(i);
        if (!item.IsString())
          ThrowTypeError(info.Env(), "fingerprints[" + std::to_string(i) + "]", "of type string", item);
        spec.fingerprints.push_back(item.As<Napi::String>().Utf8Value());
      }
    }
    Napi::Value alpn = opts.Get("alpn");
    if (alpn.IsArray()) {
      auto list = alpn.As<Napi::Array>();
      for (uint32_t i = 0, n = list.Length(); i < n; i++) {
        Napi::Value item = list.Get(i);
        if (!item.IsString()) ThrowTypeError(info.Env(), "alpn[" + std::to_string(i) + "]", "of type string", item);
        spec.alpn.push_back(item.As<Napi::String>().Utf8Value());
      }
    } else if (!alpn.IsUndefined() && !alpn.IsNull()) {
      ThrowTypeError(info.Env(), "alpn", "an array of strings", alpn);
    }
    server_ = spec.server;
    std::string error;
    ctx_ = BuildContext(spec, &error);
    info.This().As<Napi::Object>().Set("error", error);
    info.This().As<Napi::Object>().TypeTag(&kContextTag);
  }

  SSL_CTX* ctx() const { return ctx_.get(); }
  bool server() const { return server_; }

 private:
  // Sessions hold their own reference, so freeing the context never breaks a live session.
  Napi::Value Free(const Napi::CallbackInfo& info) {
    ctx_.reset();
    return info.Env().Undefined();
  }

  ContextRef ctx_;
  bool server_ = false;
};

Napi::Object CertObject(Napi::Env env, const CertInfo& cert) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("subject", cert.subject);
  out.Set("issuer", cert.issuer);
  out.Set("fingerprint256", cert.fingerprint256);
  out.Set("validFrom", cert.valid_from);
  out.Set("validTo", cert.valid_to);
  out.Set("pem", cert.pem);
  return out;
}

class TlsSessionWrap : public Napi::ObjectWrap<TlsSessionWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TlsSession",
                       {
                           InstanceMethod<&TlsSessionWrap::Handshake>("handshake"),
                           InstanceMethod<&TlsSessionWrap::Read>("read"),
                           InstanceMethod<&TlsSessionWrap::Write>("write"),
                           InstanceMethod<&TlsSessionWrap::Shutdown>("shutdown"),
                           InstanceMethod<&TlsSessionWrap::Free>("free"),
                           InstanceMethod<&TlsSessionWrap::Info>("info"),
                           InstanceMethod<&TlsSessionWrap::PeerCertificate>("peerCertificate"),
                           InstanceMethod<&TlsSessionWrap::PresentedCertificateJs>("presentedCertificate"),
                           InstanceAccessor<&TlsSessionWrap::LastError>("lastError"),
                       });
  }

  // new TlsSession(context, fd, servername?)
  explicit TlsSessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TlsSessionWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject() || !info[0].As<Napi::Object>().CheckTypeTag(&kContextTag)) {
      ThrowTypeError(env, "context", "a TlsContext", info[0]);
    }
    TlsContextWrap* context = TlsContextWrap::Unwrap(info[0].As<Napi::Object>());
    int fd = FdArg(info, 1);
    if (Given(info, 2) && !info[2].IsString()) ThrowTypeError(env, "servername", "of type string", info[2]);
    std::string servername = Given(info, 2) ? info[2].As<Napi::String>().Utf8Value() : "";
    std::string error;
    if (!context->ctx())
      error = "context is freed";
    else
      session_.reset(TlsSession::Create(context->ctx(), fd, context->server(), servername, &error));
    info.This().As<Napi::Object>().Set("error", error);
  }

 private:
  TlsSession* Open(Napi::Env env) {
    if (!session_ || session_->freed()) ThrowStateError(env, "TLS session is freed");
    return session_.get();
  }

  Napi::Value Handshake(const Napi::CallbackInfo& info) { return Result(info.Env(), Open(info.Env())->Handshake()); }

  Napi::Value Read(const Napi::CallbackInfo& info) {
    TlsSession* s = Open(info.Env());
    Bytes buf = BytesArg(info, 0);
    // SSL_read into nothing returns 0, which means close_notify here: refuse it instead.
    if (buf.length == 0)
      ThrowRangeError(info.Env(), "The \"buffer\" window is empty: a TLS read needs room for at least one byte");
    return Result(info.Env(), s->Read(buf.data, buf.length));
  }

  Napi::Value Write(const Napi::CallbackInfo& info) {
    TlsSession* s = Open(info.Env());
    Bytes buf = BytesArg(info, 0);
    return Result(info.Env(), s->Write(buf.data, buf.length));
  }

  Napi::Value Shutdown(const Napi::CallbackInfo& info) { return Result(info.Env(), Open(info.Env())->Shutdown()); }

  Napi::Value Free(const Napi::CallbackInfo& info) {
    if (session_) session_->Free();
    return info.Env().Undefined();
  }

  Napi::Value LastError(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), session_ ? session_->error() : std::string());
  }

  // {protocol, cipher, verifyCode, verifyText, servername, alpn}: meaningful once the handshake is done.
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Description d = Open(env)->Describe();
    Napi::Object out = Napi::Object::New(env);
    out.Set("protocol", d.protocol);
    out.Set("cipher", d.cipher);
    out.Set("verifyCode", Napi::Number::New(env, double(d.verify_code)));
    out.Set("verifyText", d.verify_text);
    out.Set("servername", d.servername ? Napi::Value(Napi::String::New(env, *d.servername)) : env.Null());
    out.Set("alpn", d.alpn.empty() ? env.Null() : Napi::Value(Napi::String::New(env, d.alpn)));
    return out;
  }

  Napi::Value PeerCertificate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::optional<CertInfo> cert = Open(env)->PeerCertificate();
    return cert ? Napi::Value(CertObject(env, *cert)) : env.Null();
  }

  // What the peer presented, verified or not (after a failed handshake too).
  Napi::Value PresentedCertificateJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::optional<CertInfo> cert = Open(env)->PresentedCertificate();
    return cert ? Napi::Value(CertObject(env, *cert)) : env.Null();
  }

  std::unique_ptr<TlsSession> session_;
};

// makeCertificate({role: 'ca'|'server'|'client', cn, o, altNames, notBefore, notAfter, issuerCert, issuerKey})
// → {cert, key} or {error}
Napi::Value MakeCertificateJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object opts = OptionsArg(info, 0);
  CertSpec spec;
  std::string role = StringField(opts, "role");
  if (role == "ca")
    spec.role = CertRole::kCa;
  else if (role == "server")
    spec.role = CertRole::kServer;
  else if (role == "client")
    spec.role = CertRole::kClient;
  else
    ThrowTypeError(env, "role", "'ca', 'server' or 'client'", opts.Get("role"));
  spec.common_name = StringField(opts, "cn");
  spec.organization = StringField(opts, "o");
  spec.alt_names = StringField(opts, "altNames");
  spec.not_before = IntegerField(opts, "notBefore", -kSafeInteger, kSafeInteger);
  spec.not_after = IntegerField(opts, "notAfter", -kSafeInteger, kSafeInteger);
  spec.issuer_cert = StringField(opts, "issuerCert");
  spec.issuer_key = StringField(opts, "issuerKey");
  std::string cert, key, error;
  Napi::Object out = Napi::Object::New(env);
  if (MakeCertificate(spec, &cert, &key, &error)) {
    out.Set("cert", cert);
    out.Set("key", key);
  } else {
    out.Set("error", error);
  }
  return out;
}

}  // namespace

void InitTls(Napi::Env env, Napi::Object exports) {
  exports.Set("TlsContext", TlsContextWrap::Define(env));
  exports.Set("TlsSession", TlsSessionWrap::Define(env));
  ExportFunctions(env, exports, {{"makeCertificate", MakeCertificateJs}});
  Napi::Object codes = Napi::Object::New(env);
  codes.Set("wantRead", Napi::Number::New(env, kTlsWantRead));
  codes.Set("wantWrite", Napi::Number::New(env, kTlsWantWrite));
  codes.Set("failed", Napi::Number::New(env, kTlsFailed));
  exports.Set("tlsResult", codes);
  exports.Set("opensslVersion", OpenSslVersion());
}

}  // namespace pollset
