//! Kiln: a WebAssembly runtime that starts every function in a fast interpreter and is
//! built to move the hot ones to native code with Cranelift.
//!
//! This crate is the embedding API, modelled on wazero's `api` package: a [`Runtime`]
//! compiles modules ([`CompiledModule`]) and instantiates them ([`Module`]); exported
//! [`Function`]s are called with `u64` slots (or typed, through [`Function::typed`]);
//! [`Memory`] and [`Global`] give the host access to module state; host functions come
//! from a [`HostModuleBuilder`]; calls can be interrupted from another thread or by a
//! deadline. The API is the same whichever engine runs.
//!
//! ```
//! # fn main() -> kiln::Result<()> {
//! let runtime = kiln::Runtime::with_config(kiln::RuntimeConfig::interpreter())?;
//! let wasm = wat::parse_str(r#"(module
//!     (func (export "fib") (param i64) (result i64)
//!         (if (result i64) (i64.lt_s (local.get 0) (i64.const 2))
//!             (then (local.get 0))
//!             (else (i64.add
//!                 (call 0 (i64.sub (local.get 0) (i64.const 1)))
//!                 (call 0 (i64.sub (local.get 0) (i64.const 2))))))))"#).unwrap();
//! let module = runtime.instantiate_bytes(&wasm)?;
//! let fib = module.exported_function("fib").unwrap().typed::<i64, i64>()?;
//! assert_eq!(fib.call(20)?, 6765);
//! # Ok(())
//! # }
//! ```
//!
//! # Calls take `&self`
//!
//! Functions, modules and the runtime are shareable handles. A [`MemoryView`] borrowed
//! from a [`Memory`] can be held across a call (even one that grows memory) because a
//! memory never moves: its address space is reserved up front and only committed as it
//! grows, and views copy bytes out instead of lending `&[u8]` into memory that Wasm code
//! may be writing.
//!
//! # What an embedder cannot reach
//!
//! Safe code using this crate cannot make Kiln run code of its choosing. The runtime
//! core (`kiln-runtime`), where code addresses are installed, is not re-exported:
//!
//! ```compile_fail
//! // Refused: `kiln` has no `core` module.
//! use kiln::core::Module;
//! ```
//!
//! A [`CompiledModule`] does not hand out the runtime's module (whose code publication
//! takes raw addresses); it describes itself through definitions instead:
//!
//! ```compile_fail
//! fn publish_somewhere(compiled: &kiln::CompiledModule) {
//!     // Refused: there is no `inner()`.
//!     let _ = compiled.inner();
//! }
//! ```
//!
//! ```
//! fn describe(compiled: &kiln::CompiledModule) -> Vec<String> {
//!     compiled.imports().iter().map(|i| format!("{}::{}", i.module(), i.name())).collect()
//! }
//! ```
//!
//! A [`Function`] has no public indirection slot or code address either:
//!
//! ```compile_fail
//! fn hijack(f: &kiln::Function) {
//!     // Refused: a `Function` exposes no slot.
//!     let _ = f.slot();
//! }
//! ```
//!
//! Funcref values are opaque numbers, checked wherever the host hands one to Wasm: call
//! parameters, [`MutableGlobal::set`] and host function results accept only null or values
//! Kiln handed out.

#![deny(unsafe_code)]

mod config;
mod definitions;
mod error;
mod function;
mod global;
mod host;
mod memory;
mod module;
mod runtime;
mod values;
pub mod wasi;
mod watchdog;

pub use config::{BoundsChecks, CoreFeatures, EngineKind, ModuleConfig, RuntimeConfig};
pub use definitions::{
    CustomSection, ExportDefinition, FunctionDefinition, ImportDefinition, MemoryDefinition,
};
pub use error::{EXIT_CODE_DEADLINE_EXCEEDED, EXIT_CODE_INTERRUPTED, Error, ExitError, Result};
pub use function::{Function, TypedFunction};
pub use global::{Global, MutableGlobal};
pub use host::{Caller, HostFunctionBuilder, HostModuleBuilder, HostReturn, IntoHostFunc};
/// The type of an import or export, with its details (see [`ExternType`] for the kind
/// alone).
pub use kiln_runtime::ExternType as EntityType;
pub use kiln_runtime::{
    BACKTRACE_KEPT_FRAMES, CallerTier, CommittedBytes, FrameInfo, FuncType, GlobalType, LimitError,
    LimitKind, Limits, MemoryType, TableType, TierStats as TieringStats, Trap, TrapCode,
};
pub use memory::{Memory, MemoryView};
pub use module::{InterruptHandle, Module};
pub use runtime::{CompiledModule, Runtime};
pub use values::{
    ExternRef, ExternType, FuncRef, ValueType, WasmValue, WasmValues, decode_externref, decode_f32,
    decode_f64, decode_funcref, decode_i32, decode_i64, decode_u32, decode_v128, encode_externref,
    encode_f32, encode_f64, encode_funcref, encode_i32, encode_i64, encode_u32, encode_v128,
};
