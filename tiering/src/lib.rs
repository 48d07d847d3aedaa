//! Kiln's optimizing tier: hotness policy, compile queue, the Wasm-to-CLIF translator,
//! executable memory, publishing into the indirection slots, OSR.
//!
//! Not built yet: the `jit` and `tiered` engines are refused with an `unsupported` error
//! by the `kiln` API until this crate implements them. The VM layout it will compile
//! against (`kiln_runtime::vm`) is fixed and pinned by tests.
