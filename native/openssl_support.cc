// Small helpers every OpenSSL-facing file shares. OpenSSL reports failures on a per-thread error
// queue that Node's own TLS code uses too: we take ours out completely after every failure so
// nothing stale reaches the next caller.
#include <openssl/err.h>

#include "tls.h"

namespace pollset {

std::string TakeOpenSslError() {
  // The oldest entry is the cause; later ones are usually "called from here" context.
  const char* data = nullptr;
  int flags = 0;
  unsigned long first = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags);
  // Text attached by whoever raised it (our verify callback does) says more than the reason code.
  std::string detail = data && (flags & ERR_TXT_STRING) ? data : "";
  ERR_clear_error();
  if (first == 0) return std::string();
  if (!detail.empty() && ERR_GET_LIB(first) == ERR_LIB_USER) return detail;
  const char* reason = ERR_reason_error_string(first);
  if (reason) return reason;
  char buf[256];
  ERR_error_string_n(first, buf, sizeof buf);
  return buf;
}

bool FailWith(std::string* error, const char* what) {
  std::string reason = TakeOpenSslError();
  *error = reason.empty() ? what : std::string(what) + ": " + reason;
  return false;
}

std::string MemBioText(BIO* bio) {
  char* data = nullptr;
  long length = bio ? BIO_get_mem_data(bio, &data) : 0;
  return length > 0 && data ? std::string(data, size_t(length)) : std::string();
}

std::string OpenSslVersion() { return OpenSSL_version(OPENSSL_VERSION); }

}  // namespace pollset
