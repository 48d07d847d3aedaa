#!/usr/bin/env bash
# Rebuilds the WASI test programs (*.c -> *.wasm) in this directory. The .wasm files are
# committed, so `cargo test` needs no C toolchain; run this after changing a .c file.
#
# Needs (Debian 12): apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32
set -euo pipefail
cd "$(dirname "$0")"
CC=${CC:-clang}
for src in *.c; do
    out=${src%.c}.wasm
    "$CC" --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-debug -o "$out" "$src"
    echo "built $out ($(wc -c < "$out") bytes)"
done
