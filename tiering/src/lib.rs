//! Kiln's optimizing tier: the Wasm-to-CLIF translator, executable memory, per-signature
//! trampolines and the [`backend::CraneliftBackend`] the runtime compiles through.
//!
//! The VM layout and calling convention native code follows are in
//! `kiln_runtime::vm::abi`. Native code exists on Linux x86-64 only; elsewhere
//! [`backend::CraneliftBackend::new`] fails and Kiln interprets.

pub mod backend;
pub mod code_memory;
pub mod policy;
pub mod queue;
pub mod trampoline;
pub mod translate;

pub use backend::CraneliftBackend;
pub use policy::Tiering;
