#!/usr/bin/env bash
# npm run build:prebuilds:arm64 — prebuilds/linux-arm64/ cross-compiled with Debian's aarch64 toolchain, then proven
# by loading it with an arm64 Node (Debian's nodejs:arm64, unpacked into a sysroot) under qemu-user and
# running scripts/smoke.js. Only Debian packages are fetched (apt-get as root), nothing else.
#   POLLSET_ARM64_SYSROOT  where the arm64 Node is unpacked (default /tmp/pollset-arm64-sysroot; reused)
set -euo pipefail
cd "$(dirname "$0")/.."
sysroot=${POLLSET_ARM64_SYSROOT:-/tmp/pollset-arm64-sysroot}
triple=aarch64-linux-gnu

apt_updated=
apt_update() { [ -n "$apt_updated" ] || { apt-get update -qq; apt_updated=1; }; }

need=()
command -v "$triple-g++" >/dev/null || need+=("g++-$triple")
command -v qemu-aarch64 >/dev/null || command -v qemu-aarch64-static >/dev/null || need+=(qemu-user)
if [ "${#need[@]}" -gt 0 ]; then
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
qemu=$(command -v qemu-aarch64 || command -v qemu-aarch64-static)

# 1. Cross-compile. node-gyp's make generator takes the toolchain from CC/CXX/LINK/AR; prebuildify strips
#    with STRIP. Headers are the host node's: N-API and libuv headers are arch-neutral and node's OpenSSL
#    headers pick archs/linux-aarch64 from the compiler's macros.
CC=$triple-gcc CXX=$triple-g++ LINK=$triple-g++ AR=$triple-ar STRIP=$triple-strip \
  node scripts/prebuild.js --arch arm64

# 2. An arm64 Node from Debian: nodejs + libnode and their direct library dependencies, plus the
#    architecture-independent node-* packages holding builtins Debian's node loads from /usr/share/nodejs
#    (cjs-module-lexer, acorn, undici), unpacked (not installed) into the sysroot.
if [ ! -f "$sysroot/.complete" ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
    apt_updated=
  fi
  apt-cache show nodejs:arm64 >/dev/null 2>&1 || apt_updated=
  apt_update
  deps() { apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances "$1" | sed -n 's/^ *\(Pre\)\{0,1\}Depends: <\{0,1\}\([^<>: ][^<>: ]*\).*/\2/p'; }
  libnode=$(deps nodejs:arm64 | grep '^libnode' | head -n1)
  all=$( { echo nodejs; echo "$libnode"; deps nodejs:arm64; deps "$libnode:arm64"; deps libstdc++6:arm64; } | sort -u)
  pkgs="$(grep -v '^node-' <<<"$all" | sed 's/$/:arm64/') $(grep '^node-' <<<"$all" || true)"
  debs=$(mktemp -d)
  # shellcheck disable=SC2086  # one package name per word
  (cd "$debs" && apt-get download -qq $pkgs)
  rm -rf "$sysroot" && mkdir -p "$sysroot"
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$sysroot"; done
  rm -rf "$debs"
  touch "$sysroot/.complete"
  echo "arm64 sysroot from Debian packages:" $pkgs
fi

# 3. What the arm64 node links, and where the addon's OpenSSL/libuv/N-API symbols come from there.
node_bin="$sysroot/usr/bin/node"
echo "arm64 node NEEDED: $($triple-readelf -d "$node_bin" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')"
libnode_so=$(find "$sysroot/usr/lib/$triple" -name 'libnode.so.*' | head -n1)
echo "libnode NEEDED: $($triple-readelf -d "$libnode_so" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')"
for sym in napi_create_function uv_poll_start SSL_CTX_new; do
  where=none
  for lib in "$libnode_so" "$sysroot/usr/lib/$triple"/libssl.so.3 "$sysroot/usr/lib/$triple"/libuv.so.1; do
    if $triple-nm -D --defined-only "$lib" 2>/dev/null | grep -w "$sym" >/dev/null; then where=$(basename "$lib"); break; fi
  done
  echo "  $sym defined in: $where"
done

# 4. Load the prebuild through node-gyp-build (build/ absent, PREBUILDS_ONLY=1) with every symbol bound
#    at load time (LD_BIND_NOW), and run the pollset smoke test on the arm64 node.
[ -f dist/index.js ] || npm run build:ts
pkg=$(mktemp -d)
trap 'rm -rf "$pkg"' EXIT
cp -r package.json dist prebuilds "$pkg/"
ln -s "$PWD/node_modules" "$pkg/node_modules"
echo "arm64 addon: $(file -b prebuilds/linux-arm64/*.node | cut -d, -f1-2)"
PREBUILDS_ONLY=1 QEMU_SET_ENV=LD_BIND_NOW=1 "$qemu" -L "$sysroot" "$node_bin" scripts/smoke.js "$pkg"
