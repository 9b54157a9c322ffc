// Address text <-> sockaddr. The text forms are Node's own ('127.0.0.1:5514', '[::1]:6514') plus
// unix paths, so an address printed in an error message can be pasted back into a config.
// Linux abstract unix names are written '@name' (the leading NUL made visible).
#include "address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace pollset {
namespace {

// "5514" → 5514; rejects empty, signs, non-digits, and values above 65535.
bool ParsePort(const std::string& text, in_port_t* port) {
  if (text.empty() || text.size() > 5) return false;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + unsigned(c - '0');
  }
  if (value > 65535) return false;
  *port = htons(in_port_t(value));
  return true;
}

int ParseUnix(const std::string& text, sockaddr_storage* out, socklen_t* len) {
  auto* un = reinterpret_cast<sockaddr_un*>(out);
  // The path must fit with its terminating NUL (abstract names need no NUL but keep the same limit).
  if (text.size() >= sizeof(un->sun_path) || text.find('\0') != std::string::npos) return EINVAL;
  un->sun_family = AF_UNIX;
  memcpy(un->sun_path, text.data(), text.size());
#ifdef __linux__
  if (text[0] == '@') {
    un->sun_path[0] = '\0';
    *len = socklen_t(offsetof(sockaddr_un, sun_path) + text.size());
    return 0;
  }
#endif
  *len = socklen_t(offsetof(sockaddr_un, sun_path) + text.size() + 1);
  return 0;
}

int ParseIPv6(const std::string& text, sockaddr_storage* out, socklen_t* len) {
  size_t close = text.find("]:");
  if (close == std::string::npos) return EINVAL;
  auto* in6 = reinterpret_cast<sockaddr_in6*>(out);
  if (!ParsePort(text.substr(close + 2), &in6->sin6_port)) return EINVAL;
  if (inet_pton(AF_INET6, text.substr(1, close - 1).c_str(), &in6->sin6_addr) != 1) return EINVAL;
  in6->sin6_family = AF_INET6;
  *len = sizeof(sockaddr_in6);
  return 0;
}

int ParseIPv4(const std::string& text, sockaddr_storage* out, socklen_t* len) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return EINVAL;
  auto* in = reinterpret_cast<sockaddr_in*>(out);
  if (!ParsePort(text.substr(colon + 1), &in->sin_port)) return EINVAL;
  if (inet_pton(AF_INET, text.substr(0, colon).c_str(), &in->sin_addr) != 1) return EINVAL;
  in->sin_family = AF_INET;
  *len = sizeof(sockaddr_in);
  return 0;
}

}  // namespace

int ParseAddress(const std::string& text, sockaddr_storage* out, socklen_t* len) {
  memset(out, 0, sizeof(*out));
  if (text.empty()) return EINVAL;
  if (text[0] == '/' || text[0] == '@') return ParseUnix(text, out, len);
  if (text[0] == '[') return ParseIPv6(text, out, len);
  return ParseIPv4(text, out, len);
}

int FormatAddress(const sockaddr_storage& addr, socklen_t len, std::string* out) {
  char host[INET6_ADDRSTRLEN];
  // An unbound unix datagram sender comes with no address at all (Linux: length 0).
  if (len == 0) {
    out->clear();
    return 0;
  }
  if (addr.ss_family == AF_UNIX) {
    const auto& un = reinterpret_cast<const sockaddr_un&>(addr);
    const size_t base = offsetof(sockaddr_un, sun_path);
    size_t n = size_t(len) > base ? std::min(size_t(len) - base, sizeof(un.sun_path)) : 0;
    if (n > 0 && un.sun_path[0] == '\0') {
      *out = "@" + std::string(un.sun_path + 1, n - 1);  // abstract: length-delimited, may hold NULs
    } else {
      *out = std::string(un.sun_path, strnlen(un.sun_path, n));  // a path: NUL-terminated within n
    }
    return 0;
  }
  if (len >= socklen_t(sizeof(sockaddr_in)) && addr.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(addr);
    if (!inet_ntop(AF_INET, &in.sin_addr, host, sizeof(host))) return errno;
    *out = std::string(host) + ":" + std::to_string(ntohs(in.sin_port));
    return 0;
  }
  if (len >= socklen_t(sizeof(sockaddr_in6)) && addr.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr);
    if (!inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof(host))) return errno;
    *out = "[" + std::string(host) + "]:" + std::to_string(ntohs(in6.sin6_port));
    return 0;
  }
  return EINVAL;
}

}  // namespace pollset
