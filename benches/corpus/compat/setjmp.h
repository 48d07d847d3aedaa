/* Placeholder <setjmp.h> for wasm32-wasi, whose libc has none (no exception handling in
 * the targeted Wasm features). Programs that include it are built with their error
 * unwinding redefined (see lua/kiln_lua_config.h), so nothing here is used. */
#ifndef KILN_COMPAT_SETJMP_H
#define KILN_COMPAT_SETJMP_H
#endif
