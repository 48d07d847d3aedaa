//! Placeholder until the Wasm-to-CLIF translator lands: every function is refused.

use cranelift_codegen::ir;
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::FunctionBuilderContext;

/// How native code keeps memory accesses in bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoundsChecks {
    /// Rely on the 8 GiB reservation and the signal handler.
    GuardPages,
    /// Compare every access against the current length.
    Explicit,
}

/// Translation settings.
#[derive(Clone, Copy, Debug)]
pub struct TranslateOptions {
    /// Bounds strategy.
    pub bounds_checks: BoundsChecks,
    /// Poll the interrupt flag at entries and loop headers.
    pub interrupt_checks: bool,
}

impl Default for TranslateOptions {
    fn default() -> Self {
        TranslateOptions {
            bounds_checks: BoundsChecks::GuardPages,
            interrupt_checks: true,
        }
    }
}

/// Why a function could not be translated.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// Not implemented.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Malformed body.
    #[error("invalid function body: {0}")]
    Invalid(String),
}

/// Translates one function (not available yet).
///
/// # Errors
///
/// Always [`TranslateError::Unsupported`].
pub fn translate_function(
    _module: &kiln_runtime::Module,
    _func_index: u32,
    _opts: &TranslateOptions,
    _isa: &dyn TargetIsa,
    _fctx: &mut FunctionBuilderContext,
) -> Result<ir::Function, TranslateError> {
    Err(TranslateError::Unsupported(
        "the Wasm-to-CLIF translator".into(),
    ))
}
