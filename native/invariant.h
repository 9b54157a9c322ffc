// invariant.h — POLLSET_ASSERT(condition, why): what the code relies on and a release build never tests.
// On in debug builds (POLLSET_DEBUG_CHECKS, set for the Debug configuration by binding.gyp and
// CMakeLists.txt from native/build.json; `npm run test:sanitize` builds Debug), where a broken invariant
// prints itself and where it broke, then aborts: it is a bug in this addon, never a caller's mistake.
// Off in release builds, where the condition is compiled but never evaluated.
#pragma once

#ifdef POLLSET_DEBUG_CHECKS
#include <cstdio>
#include <cstdlib>

namespace pollset {
[[noreturn]] inline void InvariantFailed(const char* condition, const char* why, const char* file, int line) {
  std::fprintf(stderr, "pollset invariant failed: %s (%s) at %s:%d\n", why, condition, file, line);
  std::abort();
}
}  // namespace pollset

#define POLLSET_ASSERT(condition, why) \
  ((condition) ? (void)0 : ::pollset::InvariantFailed(#condition, why, __FILE__, __LINE__))
#else
#define POLLSET_ASSERT(condition, why) ((void)sizeof(condition))
#endif
