#!/usr/bin/env bash
# Rebuilds sqlite.wasm (and a native reference binary, for the expected checksums) from
# the Debian source package sqlite3 3.40.1-2+deb12u2 (bookworm) and this directory's driver.
#
# Needs (Debian 12): apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32 dpkg-dev gcc tcl
# (tclsh generates the amalgamation) and a deb-src line for bookworm (apt-get source).
# Usage: ./build.sh [SQLITE_SOURCE_DIR]; without an argument the package is fetched into a
# temporary directory.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
version=3.40.1-2+deb12u2
debian_source sqlite3 "$version" sqlite3-3.40.1 "$@"
mkdir "$work/build"
(cd "$work/build" && "$src/configure" >/dev/null && make sqlite3.c >/dev/null)
# OS_OTHER: the driver supplies the VFS. LONGDOUBLE_TYPE=double: the same float<->text
# conversions natively and in Wasm (where long double is a 128-bit software type).
common=(-O2 -DSQLITE_OS_OTHER=1 -DSQLITE_THREADSAFE=0 -DSQLITE_TEMP_STORE=3
    -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_DEFAULT_MEMSTATUS=0 -DLONGDOUBLE_TYPE=double
    -I"$work/build")
clang --target=wasm32-wasi --sysroot=/usr "${common[@]}" \
    -mexec-model=reactor -Wl,--strip-debug -Wl,--export=_initialize \
    -o "$here/sqlite.wasm" "$work/build/sqlite3.c" "$here/driver.c"
echo "built sqlite.wasm ($(wc -c < "$here/sqlite.wasm") bytes)"
gcc "${common[@]}" -DNATIVE_MAIN -o "$work/sqlite-native" "$work/build/sqlite3.c" \
    "$here/driver.c" -lm
for size in 1 2 3; do
    echo "native run($size) = $("$work/sqlite-native" "$size")"
done
