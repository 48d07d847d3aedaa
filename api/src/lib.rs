//! Kiln: a WebAssembly runtime that starts every function in a fast interpreter and
//! compiles the hot ones to native code with Cranelift.
//!
//! The embedding API modelled on wazero's `api` package is being built (see the project's
//! issues); until then this crate re-exports the runtime core.
//!
//! ```
//! use kiln::runtime::{Engine, Module};
//! let engine = Engine::default();
//! let wasm = wat::parse_str("(module)").unwrap();
//! assert!(Module::new(&engine, &wasm).is_ok());
//! ```

pub use kiln_runtime as runtime;
