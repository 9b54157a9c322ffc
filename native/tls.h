// tls.h — TLS over our own non-blocking fds, with the OpenSSL that Node ships.
//
// No -lssl: the headers come with node-gyp (include/node/openssl) and the symbols are exported by
// the node binary, so the addon always uses exactly the library Node was built with (3.0.x in
// Node 20). A context or session never owns an fd: SSL_set_fd wraps it in a BIO_NOCLOSE socket
// BIO, so SSL_free leaves the fd to the socket layer, which closes it.
//
// Results: >= 0 is success (bytes, or 1 for "done"); -errno is a socket failure seen by OpenSSL's
// socket BIO; the three codes below are TLS outcomes. They lie far below -4095, the lowest errno a
// kernel returns, so one number carries every case without ambiguity.
#pragma once
#include <openssl/opensslv.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#if OPENSSL_VERSION_NUMBER < 0x30000000L
#error "pollset's TLS needs OpenSSL 3 (Node >= 18 ships it)"
#endif

namespace pollset {

enum TlsResult : int {
  kTlsWantRead = -100001,   // retry the same call once the fd is readable
  kTlsWantWrite = -100002,  // retry the same call once the fd is writable
  kTlsFailed = -100003,     // protocol/verification failure; the reason is in TlsSession::error()
};

enum class Verify { kNone = 0, kOptional = 1, kRequire = 2 };

// The oldest error on this thread's OpenSSL queue as "reason" text (empty if none); drains the
// queue so a later call (ours or Node's own) never reports a stale error.
std::string TakeOpenSslError();

// *error = "what: reason" (reason from the queue, if any); returns false for `return FailWith(...)`.
bool FailWith(std::string* error, const char* what);
// The bytes written into a memory BIO.
std::string MemBioText(BIO* bio);
// The OpenSSL this process runs ("OpenSSL 3.0.15+quic 3 Sep 2024"): Node's own.
std::string OpenSslVersion();

// unique_ptr deleter calling an OpenSSL free function: OwnedBy<X509, X509_free>.
template <auto Free>
struct OpenSslFree {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
template <typename T, auto Free>
using OwnedBy = std::unique_ptr<T, OpenSslFree<Free>>;

// ---- contexts (tls_context.cc) ----
struct ContextSpec {
  bool server = false;
  std::string cert;  // PEM: leaf first, then any chain certificates
  std::string key;   // PEM private key
  // PEM: trusted certificates for verifying the peer. Given but holding no certificate is an error
  // (an empty file would otherwise leave nothing trusted and refuse every peer).
  std::optional<std::string> ca;
  Verify verify = Verify::kNone;
  // Optional pins on the peer's own certificate, checked inside chain verification so a mismatch
  // aborts the handshake with an alert: exact RFC 2253 issuer, and/or SHA-256 fingerprints
  // (`AB:CD:…`). Only with Verify::kRequire.
  std::string issuer;
  std::vector<std::string> fingerprints;
  // ALPN protocol names (RFC 7301), most preferred first. A client offers them; a server selects the
  // first of its own that the client offered, and a client that offers none (or none of these)
  // still connects, with no protocol negotiated. Empty: no ALPN.
  std::vector<std::string> alpn;
};
// One reference to an SSL_CTX; sessions take their own, so dropping this never breaks a live session.
using ContextRef = OwnedBy<SSL_CTX, SSL_CTX_free>;
// A ready context, or null with *error set.
ContextRef BuildContext(const ContextSpec& spec, std::string* error);
// The leaf certificate the peer presented, kept by the verify callback even when verification
// refused it, so a rejection can say who knocked; null when it sent none. The caller owns the reference.
X509* PresentedCertificate(SSL* ssl);

// ---- certificates (x509_info.cc) ----
struct CertInfo {
  std::string subject;  // RFC 2253, as `openssl x509 -nameopt RFC2253` prints it
  std::string issuer;
  std::string fingerprint256;  // "AB:CD:…", like Node's X509Certificate.fingerprint256
  std::string valid_from;      // ISO 8601 UTC, "2025-01-31T12:00:00Z"
  std::string valid_to;
  std::string pem;
};
CertInfo DescribeCertificate(X509* cert);

// ---- sessions (tls_session.cc) ----
struct Description {
  std::string protocol;  // "TLSv1.3"
  std::string cipher;
  long verify_code = 0;  // X509_V_OK (0) when the peer's chain verified
  std::string verify_text;
  std::optional<std::string> servername;  // the SNI name the client sent, if any
  std::string alpn;                       // the protocol negotiated; empty when none was
};

class TlsSession {
 public:
  // An SSL bound to fd in server or client mode. For a client, servername (if not empty) is sent
  // as SNI when it is a host name, and the server certificate must match it (DNS or IP SAN).
  static TlsSession* Create(SSL_CTX* ctx, int fd, bool server, const std::string& servername, std::string* error);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  int Handshake();                                // 1 when done
  int Read(uint8_t* data, size_t length);         // bytes; 0 on the peer's close_notify
  int Write(const uint8_t* data, size_t length);  // bytes (a partial write is possible)
  int Shutdown();                                 // 1 both close_notify seen, 0 ours sent
  void Free();                                    // idempotent; never closes the fd
  bool freed() const { return ssl_ == nullptr; }
  const std::string& error() const { return error_; }
  // What the handshake settled on, and the peer's certificate if it sent one (nullopt otherwise).
  // Meaningful once the handshake is done; the session must not be freed.
  Description Describe() const;
  std::optional<CertInfo> PeerCertificate() const;
  // The certificate the peer presented, verified or not (after a failed handshake too).
  std::optional<CertInfo> PresentedCertificate() const;

 private:
  explicit TlsSession(SSL* ssl) : ssl_(ssl) {}
  template <typename Op>
  int Run(Op op, int floor);
  int Classify(int rc, int saved_errno);
  SSL* ssl_;
  std::string error_;
};

// ---- development certificates (devcert.cc) ----
enum class CertRole { kCa, kServer, kClient };
struct CertSpec {
  CertRole role = CertRole::kCa;
  std::string common_name;
  std::string organization;  // may be empty
  std::string alt_names;     // server: "DNS:localhost,IP:127.0.0.1,IP:::1"
  int64_t not_before = 0;    // seconds since the epoch
  int64_t not_after = 0;
  std::string issuer_cert;  // PEM of the signing CA; empty → self-signed
  std::string issuer_key;
};
// A fresh ECDSA P-256 key and its certificate, both as PEM; false with *error set on failure.
bool MakeCertificate(const CertSpec& spec, std::string* cert_pem, std::string* key_pem, std::string* error);

}  // namespace pollset
