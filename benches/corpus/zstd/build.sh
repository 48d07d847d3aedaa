#!/usr/bin/env bash
# Rebuilds zstd.wasm (and a native reference binary, for the expected checksums) from the
# Debian source package libzstd 1.5.4+dfsg2-5 (bookworm): the library's compressor and
# decompressor (single-threaded, with the dictionary builder and the legacy-format decoders) and this
# directory's driver.
#
# Needs (Debian 12): apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32 dpkg-dev gcc
# and a deb-src line for bookworm (apt-get source). Usage: ./build.sh [ZSTD_SOURCE_DIR];
# without an argument the package is fetched into a temporary directory.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
version=1.5.4+dfsg2-5
debian_source libzstd "$version" libzstd-1.5.4+dfsg2 "$@"
lib="$src/lib"
sources=("$lib"/common/*.c "$lib"/compress/*.c "$lib"/decompress/*.c "$lib"/dictBuilder/*.c
    "$lib"/legacy/*.c)
# No assembly decoder loop (x86-64 only; off in both builds so they run the same C code).
common=(-O2 -DZSTD_DISABLE_ASM -DZSTD_LEGACY_SUPPORT=1
    -I"$lib" -I"$lib/common" -I"$lib/legacy" -I"$lib/dictBuilder")
# The dictionary builder's progress display reads clock() (emulated in WASI; never called
# at the default notification level 0).
clang --target=wasm32-wasi --sysroot=/usr "${common[@]}" -D_WASI_EMULATED_PROCESS_CLOCKS \
    -lwasi-emulated-process-clocks -mexec-model=reactor -Wl,--strip-debug -Wl,--export=_initialize \
    -o "$here/zstd.wasm" "${sources[@]}" "$here/driver.c"
echo "built zstd.wasm ($(wc -c < "$here/zstd.wasm") bytes)"
gcc "${common[@]}" -DNATIVE_MAIN -o "$work/zstd-native" "${sources[@]}" "$here/driver.c"
for size in 1 2 3 4; do
    echo "native run($size) = $("$work/zstd-native" "$size")"
done
