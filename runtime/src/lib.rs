//! Kiln's runtime core: decoding and validation (wasmparser), modules and instances, the
//! VM context shared by every tier, linear memory, tables, globals, traps, and the
//! interpreter tier.
//!
//! Embedders use the `kiln` crate; this crate is the engine room it is built on.
//!
//! ```
//! use kiln_runtime::{Engine, Extern, Instance, Module};
//! let engine = Engine::default();
//! let wasm = wat::parse_str(r#"(module (func (export "add") (param i32 i32) (result i32)
//!     local.get 0 local.get 1 i32.add))"#).unwrap();
//! let module = Module::new(&engine, &wasm).unwrap();
//! let instance = Instance::new(&module, &[]).unwrap();
//! let Some(Extern::Func(add)) = instance.export("add") else { panic!() };
//! let mut stack = [2, 40];
//! add.call(&mut stack).unwrap();
//! assert_eq!(stack[0], 42);
//! ```

#![deny(unsafe_code)]

pub mod engine;
pub mod error;
pub mod instance;
pub mod interp;
pub mod limits;
pub mod module;
pub mod types;
#[allow(unsafe_code)]
pub mod vm;

pub use engine::{
    BatchFunction, CompiledBatch, CompiledFunction, Config, Engine, EngineKind, NativeBackend,
    OsrEntry, TierPolicy, TierStats, Trampolines,
};
pub use error::{BACKTRACE_KEPT_FRAMES, Error, FrameInfo, Result, Trap, TrapCode};
pub use instance::{
    Caller, CallerTier, Extern, Func, HostFunc, INTERRUPT_POKE, INTERRUPT_STOP, Instance, WeakFunc,
};
pub use limits::{CommittedBytes, LimitError, LimitKind};
pub use module::{CustomSection, ExportIndex, Import, Module, WeakModule};
pub use types::{ExternType, FuncType, GlobalType, Limits, MemoryType, TableType, ValType};
pub use vm::{Global, Memory, Table};

/// Whether a segment of fuel accounting ends after `op` (control operators and calls).
///
/// Fuel is charged per segment, the same way in every tier: a segment starts at function
/// entry and after each such operator, every operator costs 1, and a segment's whole cost
/// is charged before it runs.
///
/// ```
/// assert!(kiln_runtime::ends_fuel_segment(&wasmparser::Operator::Return));
/// assert!(!kiln_runtime::ends_fuel_segment(&wasmparser::Operator::Nop));
/// ```
pub fn ends_fuel_segment(op: &wasmparser::Operator<'_>) -> bool {
    matches!(
        op,
        wasmparser::Operator::Block { .. }
            | wasmparser::Operator::Loop { .. }
            | wasmparser::Operator::If { .. }
            | wasmparser::Operator::Else
            | wasmparser::Operator::End
            | wasmparser::Operator::Br { .. }
            | wasmparser::Operator::BrIf { .. }
            | wasmparser::Operator::BrTable { .. }
            | wasmparser::Operator::Return
            | wasmparser::Operator::Call { .. }
            | wasmparser::Operator::CallIndirect { .. }
            | wasmparser::Operator::ReturnCall { .. }
            | wasmparser::Operator::ReturnCallIndirect { .. }
            | wasmparser::Operator::Unreachable
    )
}
