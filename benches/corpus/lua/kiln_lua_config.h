/* Forced-include configuration for building Lua as a benchmark without setjmp/longjmp
 * (wasm32-wasi has neither). A raised Lua error aborts (a trap in Wasm) instead of
 * unwinding: the benchmark script raises none. The string-hash seed and the sort pivot
 * randomisation are fixed so that runs are reproducible (same table layouts everywhere). */
#define LUAI_THROW(L, c) abort()
#define LUAI_TRY(L, c, a) { a }
#define luai_jmpbuf int
#define luai_makeseed(L) 0u
#define l_randomizePivot() 0u
/* Type of the hook/trap flags; the default, sig_atomic_t, needs <signal.h> (absent). */
#define l_signalT int
#include <stdlib.h>
