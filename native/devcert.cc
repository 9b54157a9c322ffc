// Development certificates made in-process with OpenSSL calls (no `openssl` binary needed): a CA,
// servers and clients it signs. ECDSA P-256 keeps key generation and handshakes fast, which
// matters for tests that make thousands of handshakes.
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "tls.h"

namespace pollset {
namespace {

using X509Ptr = OwnedBy<X509, X509_free>;
using KeyPtr = OwnedBy<EVP_PKEY, EVP_PKEY_free>;
using BioPtr = OwnedBy<BIO, BIO_free>;

// 127 random bits: unique without a serial database, and positive as RFC 5280 requires.
bool RandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
  bytes[0] &= 0x7f;
  bytes[0] |= 0x40;  // keep the full length so no encoder strips a leading zero byte
  OwnedBy<BIGNUM, BN_free> bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  return bn && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) != nullptr;
}

bool SetSubject(X509* cert, const CertSpec& spec) {
  X509_NAME* name = X509_get_subject_name(cert);
  auto add = [name](const char* field, const std::string& value) {
    return value.empty() ||
           X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.c_str()),
                                      -1, -1, 0) == 1;
  };
  return add("O", spec.organization) && add("CN", spec.common_name);
}

bool AddExtension(X509* cert, X509V3_CTX* v3, int nid, const std::string& value) {
  if (value.empty()) return true;
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, v3, nid, value.c_str());
  bool ok = ext && X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

bool AddRoleExtensions(X509* cert, X509* issuer, const CertSpec& spec) {
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer, cert, nullptr, nullptr, 0);
  bool ca = spec.role == CertRole::kCa;
  const char* usage = ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature";
  const char* purpose = spec.role == CertRole::kServer   ? "serverAuth"
                        : spec.role == CertRole::kClient ? "clientAuth"
                                                         : "";
  return AddExtension(cert, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
         AddExtension(cert, &v3, NID_key_usage, usage) && AddExtension(cert, &v3, NID_ext_key_usage, purpose) &&
         AddExtension(cert, &v3, NID_subject_alt_name, spec.alt_names) &&
         AddExtension(cert, &v3, NID_subject_key_identifier, "hash") &&
         AddExtension(cert, &v3, NID_authority_key_identifier, issuer == cert ? "" : "keyid:always");
}

std::string KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) return "";
  return MemBioText(bio.get());
}

}  // namespace

bool MakeCertificate(const CertSpec& spec, std::string* cert_pem, std::string* key_pem, std::string* error) {
  ERR_clear_error();
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  X509Ptr cert(X509_new());
  if (!key || !cert) return FailWith(error, "cannot allocate key or certificate");

  X509Ptr issuer_cert;
  KeyPtr issuer_key;
  if (!spec.issuer_cert.empty()) {
    BioPtr cbio(BIO_new_mem_buf(spec.issuer_cert.data(), int(spec.issuer_cert.size())));
    BioPtr kbio(BIO_new_mem_buf(spec.issuer_key.data(), int(spec.issuer_key.size())));
    issuer_cert.reset(PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr));
    issuer_key.reset(PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr));
    if (!issuer_cert || !issuer_key) return FailWith(error, "cannot read the issuer's certificate and key");
    if (X509_check_private_key(issuer_cert.get(), issuer_key.get()) != 1) {
      return FailWith(error, "issuer key does not match issuer certificate");
    }
  }
  X509* signer = issuer_cert ? issuer_cert.get() : cert.get();
  EVP_PKEY* signing_key = issuer_key ? issuer_key.get() : key.get();

  bool ok = X509_set_version(cert.get(), X509_VERSION_3) == 1 && RandomSerial(cert.get()) &&
            ASN1_TIME_set(X509_getm_notBefore(cert.get()), time_t(spec.not_before)) &&
            ASN1_TIME_set(X509_getm_notAfter(cert.get()), time_t(spec.not_after)) && SetSubject(cert.get(), spec) &&
            X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) == 1 &&
            X509_set_pubkey(cert.get(), key.get()) == 1 && AddRoleExtensions(cert.get(), signer, spec) &&
            X509_sign(cert.get(), signing_key, EVP_sha256()) > 0;
  if (!ok) return FailWith(error, "cannot build certificate");

  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509(out.get(), cert.get()) != 1) return FailWith(error, "cannot encode certificate");
  *cert_pem = MemBioText(out.get());
  *key_pem = KeyPem(key.get());
  if (key_pem->empty()) return FailWith(error, "cannot encode key");
  return true;
}

}  // namespace pollset
