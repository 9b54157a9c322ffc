#!/usr/bin/env bash
# npm run test:sanitize: the native-facing suites under AddressSanitizer + UndefinedBehaviorSanitizer.
#   1. cmake-js compiles the same sources (CMakeLists.txt, flags from native/build.json) with the sanitizers into
#      build-sanitize/; build/ and prebuilds/ are not touched.
#   2. jest runs the suites in scripts/jest-sanitize.config.js with POLLSET_ADDON pointing lib/native.ts at that
#      build and the sanitizer runtimes preloaded (node itself is not instrumented, so the runtime must be in the
#      process before the addon is loaded; ASan refuses to start otherwise).
#   3. Any sanitizer report fails the run: a report aborts the process that hit it (a jest worker crash fails its
#      suite); ASan reports are also written to files in a fresh directory that is checked after jest, so one
#      from a child process whose exit no test looks at still fails the run; UBSan reports are found in jest's
#      output (see log_path below).
# Extra arguments go to jest (e.g. a test file or -t <name>).
# Needs g++ with its sanitizer runtimes (libasan, libubsan: Debian's libgcc-<n>-dev, pulled in by g++) and cmake.
set -euo pipefail
cd "$(dirname "$0")/.."

out=build-sanitize
cxx=${CXX:-g++}
asan=$("$cxx" -print-file-name=libasan.so)
ubsan=$("$cxx" -print-file-name=libubsan.so)
for lib in "$asan" "$ubsan"; do
  # -print-file-name echoes the bare name when the compiler has no such runtime.
  if [ ! -e "$lib" ]; then
    echo "test:sanitize: $cxx has no $(basename "$lib") (install the compiler's sanitizer runtimes)" >&2
    exit 1
  fi
done

echo "== sanitizer build ($cxx) -> $out/"
# -O1 keeps stack traces readable and the run fast; -fno-sanitize-recover makes UBSan stop at the first finding
# like ASan does, instead of printing and carrying on.
sanflags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
# cmake-js sets CMAKE_CXX_FLAGS itself (and would drop ours), so the flags go in the Debug configuration's.
CXX=$cxx npx cmake-js rebuild --out "$out" --config Debug --log-level warn \
  --CDCMAKE_CXX_FLAGS_DEBUG="$sanflags" --CDCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined"
addon=$PWD/$out/Debug/pollset.node
[ -f "$addon" ] || { echo "test:sanitize: the build made no $addon" >&2; exit 1; }
# Instrumented code calls into both runtimes; a build whose flags were lost would pass every suite silently.
imports=$(nm -D --undefined-only "$addon")
for hook in __asan_report_ __ubsan_handle_; do
  grep -q "$hook" <<<"$imports" ||
    { echo "test:sanitize: $addon is not instrumented (no $hook* calls)" >&2; exit 1; }
done

# The Debug configuration turns on the addon's invariant checks (native/invariant.h): make sure they are in.
grep -q "pollset invariant failed" "$addon" ||
  { echo "test:sanitize: $addon has no invariant checks (POLLSET_DEBUG_CHECKS not defined)" >&2; exit 1; }

# Children that the suites start through bin/ load dist/, which must honour POLLSET_ADDON too.
npm run build:ts --silent

reports=$(mktemp -d "${TMPDIR:-/tmp}/pollset-sanitize-XXXXXX")
trap 'rm -rf "$reports" "$reports.out"' EXIT

echo "== native-facing suites under ASan + UBSan"
status=0
# detect_leaks=0: node and V8 leave their heaps to the OS at exit by design, so LeakSanitizer would report
#   memory that is not the addon's at every process exit; the suites check fd and object leaks themselves.
# abort_on_error=1: a report ends the process with SIGABRT, which jest and the tests' child checks see as a crash.
# log_path: each ASan report goes to <dir>/asan.<pid>, read below. g++'s UBSan runtime is a second copy of the
#   sanitizer common code; with ASan loaded its log_path lands in ASan's copy, so its reports stay on stderr.
#   They abort the process too, and jest's output is searched for them below; a UBSan report from a child whose
#   stderr a test captures and whose exit status it ignores is the one case this cannot see.
env LD_PRELOAD="$asan $ubsan${LD_PRELOAD:+ $LD_PRELOAD}" \
  POLLSET_ADDON="$addon" \
  ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:log_path=$reports/asan" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1" \
  node node_modules/jest/bin/jest.js --config scripts/jest-sanitize.config.js "$@" 2>&1 | tee "$reports.out" ||
  status=$?

found=$(find "$reports" -type f | sort)
ubsan_lines=$(grep -E '^[^ ]+:[0-9]+:[0-9]+: runtime error: ' "$reports.out" || true)
if [ -n "$found" ] || [ -n "$ubsan_lines" ]; then
  for f in $found; do
    echo "== sanitizer report: $(basename "$f")" >&2
    cat "$f" >&2
  done
  [ -z "$ubsan_lines" ] || { echo "== UndefinedBehaviorSanitizer reports (stacks above)" >&2; echo "$ubsan_lines" >&2; }
  echo "test:sanitize: FAILED, $(echo "$found" | grep -c . || true) ASan report(s)," \
    "$(echo "$ubsan_lines" | grep -c . || true) UBSan report(s)" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "test:sanitize: FAILED, jest exited with status $status (no sanitizer report)" >&2
  exit "$status"
fi
echo "test:sanitize: passed, no sanitizer reports"
