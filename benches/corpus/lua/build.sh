#!/usr/bin/env bash
# Rebuilds lua.wasm (and a native reference binary, for the expected checksums) from the
# Debian source package lua5.4 5.4.4-3+deb12u1 (bookworm) and this directory's driver.
#
# Needs (Debian 12): apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32 dpkg-dev gcc
# and a deb-src line for bookworm (apt-get source). Usage: ./build.sh [LUA_SOURCE_DIR]
# Without an argument the package is fetched into a temporary directory.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
version=5.4.4-3+deb12u1
debian_source lua5.4 "$version" lua5.4-5.4.4 "$@"
# The Lua core and the libraries the driver opens (no lua.c/luac.c, io, os, package).
files="lapi lcode lctype ldebug ldo ldump lfunc lgc llex lmem lobject lopcodes lparser
lstate lstring ltable ltm lundump lvm lzio lauxlib lbaselib lcorolib ldblib lmathlib
lstrlib ltablib lutf8lib"
sources=()
for f in $files; do sources+=("$src/src/$f.c"); done
(cd "$here" && xxd -i bench.lua) > "$work/bench_lua.h"
# Debian's module-path patch includes this generated header (used by loadlib, not built).
echo '#define DEB_HOST_MULTIARCH "wasm32-wasi"' > "$work/lua5.4-deb-multiarch.h"
common=(-O2 -DLUA_COMPAT_5_3 -include "$here/kiln_lua_config.h" -I"$src/src" -I"$work")
clang --target=wasm32-wasi --sysroot=/usr "${common[@]}" -I"$here/../compat" \
    -mexec-model=reactor -Wl,--strip-debug -Wl,--export=_initialize \
    -o "$here/lua.wasm" "${sources[@]}" "$here/driver.c"
echo "built lua.wasm ($(wc -c < "$here/lua.wasm") bytes)"
gcc "${common[@]}" -DNATIVE_MAIN -o "${NATIVE_OUT:-$work/lua-native}" \
    "${sources[@]}" "$here/driver.c" -lm
for size in 1 2 3; do
    echo "native run($size) = $("${NATIVE_OUT:-$work/lua-native}" "$size")"
done
