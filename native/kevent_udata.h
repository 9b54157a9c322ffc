// kevent_udata.h — a registration's generation in and out of kevent's udata.
//
// udata is `void *` on macOS, FreeBSD, OpenBSD, NetBSD ≥ 10 and libkqueue, but `intptr_t` on older NetBSD,
// and 32 bits wide on i386/armv7 either way: it carries the 32-bit generation alone (the fd comes back in
// `ident`), through these two templates instead of casts written at each EV_SET, so the same code compiles
// for either type. Kept free of <sys/event.h> so the conversion is unit-tested on any host (-m32 included).
#pragma once
#include <cstdint>
#include <type_traits>

namespace pollset {

template <typename Udata>
Udata GenerationToUdata(uint32_t generation) {
  static_assert(sizeof(Udata) >= sizeof(uint32_t), "udata narrower than a generation");
  if constexpr (std::is_pointer_v<Udata>) {
    return reinterpret_cast<Udata>(uintptr_t{generation});
  } else {
    // A 32-bit intptr_t takes generations >= 2^31 as negative values (modulo 2^32, defined since C++20
    // and what every compiler we target does before it); GenerationFromUdata maps them back.
    return static_cast<Udata>(uintptr_t{generation});
  }
}

template <typename Udata>
uint32_t GenerationFromUdata(Udata udata) {
  if constexpr (std::is_pointer_v<Udata>) {
    return uint32_t(reinterpret_cast<uintptr_t>(udata));
  } else {
    return uint32_t(static_cast<uintptr_t>(udata));
  }
}

}  // namespace pollset
