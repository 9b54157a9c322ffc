// SSL_CTX from PEM buffers: the policy every session of a context shares (TLS 1.2 minimum, no
// renegotiation, the verify mode, the trusted CAs). lib/ reads files and passes their bytes, so
// the native side has one input format only.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include "tls.h"

namespace pollset {
namespace {

using BioPtr = OwnedBy<BIO, BIO_free>;

BioPtr MemBio(const std::string& pem) { return BioPtr(BIO_new_mem_buf(pem.data(), int(pem.size()))); }

// Leaf then chain: a server that sends its intermediates lets clients verify with the root only.
bool UseCertificateChain(SSL_CTX* ctx, const std::string& pem, std::string* error) {
  BioPtr bio = MemBio(pem);
  X509* leaf = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (!leaf) return FailWith(error, "no certificate in cert PEM");
  int ok = SSL_CTX_use_certificate(ctx, leaf);
  X509_free(leaf);
  if (ok != 1) return FailWith(error, "cannot use certificate");
  while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      return FailWith(error, "cannot add chain certificate");
    }
  }
  ERR_clear_error();  // the loop ends on a "no start line" error, which is the normal end
  return true;
}

bool UsePrivateKey(SSL_CTX* ctx, const std::string& pem, std::string* error) {
  BioPtr bio = MemBio(pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (!key) return FailWith(error, "no private key in key PEM");
  int ok = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (ok != 1) return FailWith(error, "cannot use private key");
  if (SSL_CTX_check_private_key(ctx) != 1) return FailWith(error, "private key does not match certificate");
  return true;
}

// Trusted CAs verify the peer; a server also names them in its CertificateRequest so a client
// holding several certificates can pick one this server accepts.
bool TrustCas(SSL_CTX* ctx, const std::string& pem, bool server, std::string* error) {
  BioPtr bio = MemBio(pem);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int count = 0;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    count++;
    bool ok = X509_STORE_add_cert(store, ca) == 1 && (!server || SSL_CTX_add_client_CA(ctx, ca) == 1);
    X509_free(ca);
    if (!ok) return FailWith(error, "cannot trust CA certificate");
  }
  ERR_clear_error();
  if (count == 0) {
    *error = "no certificate in CA PEM";
    return false;
  }
  return true;
}

// The presented leaf lives in the SSL's ex_data, freed with the SSL: OpenSSL itself keeps the peer
// certificate only once verification succeeded.
void FreePresented(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { X509_free(static_cast<X509*>(ptr)); }

int PresentedIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, FreePresented);
  return index;
}

// Called from every verify callback: the first call (whatever its depth or verdict) keeps the leaf.
void KeepPresented(X509_STORE_CTX* store) {
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  X509* leaf = X509_STORE_CTX_get0_cert(store);
  if (!ssl || !leaf || PresentedIndex() < 0 || SSL_get_ex_data(ssl, PresentedIndex())) return;
  if (X509_up_ref(leaf) != 1) return;
  if (SSL_set_ex_data(ssl, PresentedIndex(), leaf) != 1) X509_free(leaf);
}

// 'optional': ask for a certificate and record the verdict, but let the handshake finish either
// way; the application reads the verify result and decides.
int AcceptAnyway(int, X509_STORE_CTX* store) {
  KeepPresented(store);
  return 1;
}

// Pins live in the SSL_CTX's ex_data, freed with the context (sessions keep contexts alive).
struct Pins {
  std::string issuer;
  std::vector<std::string> fingerprints;
};

void FreePins(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<Pins*>(ptr); }

int PinsIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreePins);
  return index;
}

// Fails verification of the leaf with `reason`. The reason goes on the error queue first, so the
// handshake error names it rather than a generic verdict.
int RefuseLeaf(X509_STORE_CTX* store, const std::string& reason) {
  ERR_raise_data(ERR_LIB_USER, ERR_R_OPERATION_FAIL, "%s", reason.c_str());
  X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
  return 0;
}

// With verify 'require', after OpenSSL has verified the chain, the leaf (depth 0) is checked further:
// - a server accepts only an end-entity client certificate (RFC 5280): one that can itself sign
//   certificates (basicConstraints CA:TRUE, keyUsage keyCertSign) is a CA's, and whoever holds a CA
//   key must not be able to log in with the CA certificate itself. OpenSSL's default "ssl_client"
//   purpose check does not refuse it when the certificate also allows digitalSignature.
// - it must match the pins, if any.
int VerifyLeaf(int ok, X509_STORE_CTX* store) {
  KeepPresented(store);
  if (!ok || X509_STORE_CTX_get_error_depth(store) != 0) return ok;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  X509* leaf = X509_STORE_CTX_get_current_cert(store);
  if (!ssl || !leaf) return ok;
  if (SSL_is_server(ssl) && X509_check_ca(leaf) != 0) {
    return RefuseLeaf(store, "client certificate \"" + DescribeCertificate(leaf).subject +
                                 "\" is a CA certificate (basicConstraints CA:TRUE or keyUsage keyCertSign); "
                                 "an end-entity certificate is required");
  }
  auto* pins = static_cast<Pins*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), PinsIndex()));
  if (!pins) return ok;
  CertInfo info = DescribeCertificate(leaf);
  if (!pins->issuer.empty() && info.issuer != pins->issuer) {
    return RefuseLeaf(store, "issuer \"" + info.issuer + "\" is not \"" + pins->issuer + "\"");
  }
  if (!pins->fingerprints.empty() && std::find(pins->fingerprints.begin(), pins->fingerprints.end(),
                                               info.fingerprint256) == pins->fingerprints.end()) {
    return RefuseLeaf(store, "fingerprint " + info.fingerprint256 + " is not allowed");
  }
  return 1;
}

bool SetPins(SSL_CTX* ctx, const ContextSpec& spec, std::string* error) {
  if (spec.issuer.empty() && spec.fingerprints.empty()) return true;
  if (spec.verify != Verify::kRequire) {
    *error = "issuer and fingerprint pins need verify 'require'";
    return false;
  }
  auto* pins = new Pins{spec.issuer, spec.fingerprints};
  if (PinsIndex() < 0 || SSL_CTX_set_ex_data(ctx, PinsIndex(), pins) != 1) {
    delete pins;
    return FailWith(error, "cannot attach certificate pins");
  }
  return true;
}

void SetVerify(SSL_CTX* ctx, Verify verify, bool server) {
  switch (verify) {
    case Verify::kNone: SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr); break;
    case Verify::kOptional: SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, AcceptAnyway); break;
    case Verify::kRequire:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), VerifyLeaf);
      break;
  }
}

// ALPN names in wire format (each prefixed by its length), as RFC 7301 sends them.
bool AlpnWire(const std::vector<std::string>& names, std::string* wire, std::string* error) {
  for (const std::string& name : names) {
    if (name.empty() || name.size() > 255) {
      *error = "an ALPN protocol name must be 1 to 255 bytes";
      return false;
    }
    wire->push_back(char(name.size()));
    *wire += name;
  }
  return true;
}

// A server's ALPN list lives in the SSL_CTX's ex_data, freed with the context.
void FreeAlpn(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<std::string*>(ptr); }

int AlpnIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeAlpn);
  return index;
}

// Only called when the client offered ALPN. No common protocol is not a failure: the handshake goes
// on without one (NOACK), so a client offering something else is served like one offering nothing.
int SelectAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
               void*) {
  auto* ours = static_cast<std::string*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), AlpnIndex()));
  if (!ours) return SSL_TLSEXT_ERR_NOACK;
  unsigned char* selected = nullptr;
  int found = SSL_select_next_proto(&selected, outlen, reinterpret_cast<const unsigned char*>(ours->data()),
                                    unsigned(ours->size()), in, inlen);
  if (found != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_NOACK;
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

bool SetAlpn(SSL_CTX* ctx, const ContextSpec& spec, std::string* error) {
  if (spec.alpn.empty()) return true;
  std::string wire;
  if (!AlpnWire(spec.alpn, &wire, error)) return false;
  if (!spec.server) {
    // Unlike most of OpenSSL, 0 is success here.
    if (SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire.data()), unsigned(wire.size())) != 0) {
      return FailWith(error, "cannot set ALPN protocols");
    }
    return true;
  }
  auto* list = new std::string(std::move(wire));
  if (AlpnIndex() < 0 || SSL_CTX_set_ex_data(ctx, AlpnIndex(), list) != 1) {
    delete list;
    return FailWith(error, "cannot attach ALPN protocols");
  }
  SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, nullptr);
  return true;
}

}  // namespace

X509* PresentedCertificate(SSL* ssl) {
  X509* peer = SSL_get1_peer_certificate(ssl);
  if (peer || PresentedIndex() < 0) return peer;
  auto* kept = static_cast<X509*>(SSL_get_ex_data(ssl, PresentedIndex()));
  return kept && X509_up_ref(kept) == 1 ? kept : nullptr;
}

ContextRef BuildContext(const ContextSpec& spec, std::string* error) {
  ERR_clear_error();
  ContextRef ctx(SSL_CTX_new(spec.server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) {
    FailWith(error, "SSL_CTX_new failed");
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // write() behaves like write(2): partial progress is reported, and a retry after want-write may
  // pass a different buffer object holding the same bytes (JS callers do that).
  SSL_CTX_set_mode(ctx.get(),
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  if (spec.server) {
    // Sessions do not offer resumption: no server-side cache to grow, no tickets to send.
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx.get(), 0);
  }
  if (!spec.cert.empty() && !UseCertificateChain(ctx.get(), spec.cert, error)) return nullptr;
  if (!spec.key.empty() && !UsePrivateKey(ctx.get(), spec.key, error)) return nullptr;
  if (spec.cert.empty() != spec.key.empty()) {
    *error = "cert and key must be given together";
    return nullptr;
  }
  if (spec.server && spec.cert.empty()) {
    *error = "a server context needs cert and key";
    return nullptr;
  }
  if (spec.ca && !TrustCas(ctx.get(), *spec.ca, spec.server, error)) return nullptr;
  SetVerify(ctx.get(), spec.verify, spec.server);
  if (!SetPins(ctx.get(), spec, error)) return nullptr;
  if (!SetAlpn(ctx.get(), spec, error)) return nullptr;
  return ctx;
}

}  // namespace pollset
