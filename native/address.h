// address.h — socket addresses as text ('127.0.0.1:5514', '[::1]:6514', '/run/x.sock') and as
// sockaddr bytes. No name resolution: a host name is EINVAL here (lib/net/address.ts resolves).
#pragma once
#include <sys/socket.h>

#include <string>

namespace pollset {

// Fills `out`/`len` from `text`; 0 or EINVAL (bad syntax, port out of range, path too long).
int ParseAddress(const std::string& text, sockaddr_storage* out, socklen_t* len);
// The text form of a kernel-supplied address; an unnamed unix socket (or no address) is "". EINVAL for a family
// other than IPv4/IPv6/unix or a length too short for its family.
int FormatAddress(const sockaddr_storage& addr, socklen_t len, std::string* out);

}  // namespace pollset
