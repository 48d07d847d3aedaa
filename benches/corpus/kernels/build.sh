#!/usr/bin/env bash
# Rebuilds kernels.wasm (and a native reference binary, for the expected checksums) from
# kernels.c: six small kernels, each exported as `[i32] -> [i64]`.
#
# Needs (Debian 12): apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32 gcc
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
# -ffp-contract=off: no fused multiply-add in the native build, so its doubles round as
# Wasm's do.
clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor -Wl,--strip-debug \
    -Wl,--export=_initialize -o "$here/kernels.wasm" "$here/kernels.c"
echo "built kernels.wasm ($(wc -c < "$here/kernels.wasm") bytes)"
gcc -O2 -ffp-contract=off -DNATIVE_MAIN -o "$work/kernels-native" "$here/kernels.c"
for kernel in byteloop:20 alu_rotate:20000 recursion:20 float_loop:20000 switch_interp:5000 sort:5000; do
    name=${kernel%%:*}
    size=${kernel##*:}
    echo "native $name($size) = $("$work/kernels-native" "$name" "$size")"
done
