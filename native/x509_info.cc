// A certificate as the application sees it after a handshake: names in the same RFC 2253 form
// `openssl x509 -nameopt RFC2253` prints (so configuration can be copied from that output), the
// SHA-256 fingerprint in Node's notation, and validity as ISO 8601 UTC.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <ctime>

#include "tls.h"

namespace pollset {
namespace {

using BioPtr = OwnedBy<BIO, BIO_free>;

std::string Rfc2253(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return std::string();
  return MemBioText(bio.get());
}

std::string Fingerprint256(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert, EVP_sha256(), md, &length) != 1) return std::string();
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < length; i++) {
    if (i) out += ':';
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string Iso8601(const ASN1_TIME* time) {
  struct tm tm {};
  if (!time || ASN1_TIME_to_tm(time, &tm) != 1) return std::string();
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return std::string();
  return MemBioText(bio.get());
}

}  // namespace

CertInfo DescribeCertificate(X509* cert) {
  CertInfo info;
  info.subject = Rfc2253(X509_get_subject_name(cert));
  info.issuer = Rfc2253(X509_get_issuer_name(cert));
  info.fingerprint256 = Fingerprint256(cert);
  info.valid_from = Iso8601(X509_get0_notBefore(cert));
  info.valid_to = Iso8601(X509_get0_notAfter(cert));
  info.pem = Pem(cert);
  ERR_clear_error();
  return info;
}

}  // namespace pollset
