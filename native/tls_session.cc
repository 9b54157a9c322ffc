// An SSL bound to a non-blocking fd. Every call returns at once: progress, want-read/want-write
// (retry the same call when the fd is ready), a socket errno, or a TLS failure with its reason.
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <climits>

#include "tls.h"

namespace pollset {
namespace {

bool IsIpAddress(const std::string& name) {
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(name.c_str());
  if (!ip) ERR_clear_error();
  ASN1_OCTET_STRING_free(ip);
  return ip != nullptr;
}

// RFC 6066 forbids IP literals in SNI, so an address is only checked against the IP SANs.
bool ExpectServerName(SSL* ssl, const std::string& name) {
  if (IsIpAddress(name)) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1;
  return SSL_set_tlsext_host_name(ssl, name.c_str()) == 1 && SSL_set1_host(ssl, name.c_str()) == 1;
}

int Clamp(size_t length) { return length > size_t(INT_MAX) ? INT_MAX : int(length); }

}  // namespace

TlsSession* TlsSession::Create(SSL_CTX* ctx, int fd, bool server, const std::string& servername, std::string* error) {
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx);  // takes its own reference on ctx: a session may outlive its context
  bool ok = ssl && SSL_set_fd(ssl, fd) == 1 && (server || servername.empty() || ExpectServerName(ssl, servername));
  if (!ok) {
    *error = TakeOpenSslError();
    if (error->empty()) *error = "cannot create TLS session";
    SSL_free(ssl);
    return nullptr;
  }
  if (server)
    SSL_set_accept_state(ssl);
  else
    SSL_set_connect_state(ssl);
  return new TlsSession(ssl);
}

TlsSession::~TlsSession() { Free(); }

void TlsSession::Free() {
  SSL_free(ssl_);  // the socket BIO is BIO_NOCLOSE: the fd stays open for its owner
  ssl_ = nullptr;
}

// The one place an OpenSSL result becomes ours. errno must be read before anything else runs.
int TlsSession::Classify(int rc, int saved_errno) {
  switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_WANT_READ: return kTlsWantRead;
    case SSL_ERROR_WANT_WRITE: return kTlsWantWrite;
    case SSL_ERROR_ZERO_RETURN: return 0;  // close_notify: a clean end of stream
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0 && saved_errno != 0) return -saved_errno;
      break;
    default: break;
  }
  error_ = TakeOpenSslError();
  if (error_.empty()) error_ = "unexpected eof while reading";
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) error_ += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
  return kTlsFailed;
}

// Results below `floor` go through Classify; at or above it they are progress.
template <typename Op>
int TlsSession::Run(Op op, int floor) {
  if (!ssl_) {
    error_ = "session is freed";
    return kTlsFailed;
  }
  ERR_clear_error();
  errno = 0;
  int rc = op(ssl_);
  int saved_errno = errno;
  return rc >= floor ? rc : Classify(rc, saved_errno);
}

int TlsSession::Handshake() {
  return Run([](SSL* ssl) { return SSL_do_handshake(ssl); }, 1);
}

int TlsSession::Read(uint8_t* data, size_t length) {
  return Run([&](SSL* ssl) { return SSL_read(ssl, data, Clamp(length)); }, 1);
}

int TlsSession::Write(const uint8_t* data, size_t length) {
  if (length == 0) return 0;  // SSL_write of nothing is unspecified; nothing to send is trivially done
  return Run([&](SSL* ssl) { return SSL_write(ssl, data, Clamp(length)); }, 1);
}

Description TlsSession::Describe() const {
  Description d;
  d.protocol = SSL_get_version(ssl_);
  d.cipher = SSL_get_cipher_name(ssl_);
  d.verify_code = SSL_get_verify_result(ssl_);
  d.verify_text = X509_verify_cert_error_string(d.verify_code);
  if (const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name)) d.servername = name;
  const unsigned char* alpn = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl_, &alpn, &length);
  if (alpn) d.alpn.assign(reinterpret_cast<const char*>(alpn), length);
  return d;
}

namespace {
std::optional<CertInfo> Described(X509* owned) {
  OwnedBy<X509, X509_free> cert(owned);
  if (!cert) return std::nullopt;
  return DescribeCertificate(cert.get());
}
}  // namespace

std::optional<CertInfo> TlsSession::PeerCertificate() const { return Described(SSL_get1_peer_certificate(ssl_)); }

std::optional<CertInfo> TlsSession::PresentedCertificate() const {
  return Described(pollset::PresentedCertificate(ssl_));
}

// SSL_shutdown's 0 means "ours sent, theirs not yet seen": progress, not a failure.
int TlsSession::Shutdown() {
  return Run([](SSL* ssl) { return SSL_shutdown(ssl); }, 0);
}

}  // namespace pollset
