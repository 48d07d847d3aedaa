//! Errors of the embedding API.

use kiln_runtime::{LimitError, Trap};
use std::fmt;

/// Exit code of a module closed by [`InterruptHandle::interrupt`](crate::InterruptHandle::interrupt)
/// (wazero's `ExitCodeContextCanceled`).
pub const EXIT_CODE_INTERRUPTED: u32 = 0xffff_ffff;

/// Exit code of a module closed because a call passed its deadline
/// (wazero's `ExitCodeDeadlineExceeded`).
pub const EXIT_CODE_DEADLINE_EXCEEDED: u32 = 0xefff_ffff;

/// A module (or runtime) was closed, by the embedder, by a host function such as WASI
/// `proc_exit`, by interruption or by a deadline.
///
/// ```
/// let e = kiln::ExitError::new(3);
/// assert_eq!(e.exit_code(), 3);
/// assert_eq!(e.to_string(), "module closed with exit_code(3)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitError {
    code: u32,
}

impl ExitError {
    /// An exit with `code`.
    pub fn new(code: u32) -> ExitError {
        ExitError { code }
    }

    /// The exit code.
    pub fn exit_code(&self) -> u32 {
        self.code
    }

    /// Whether the module was closed by an interrupt handle.
    pub fn is_interrupted(&self) -> bool {
        self.code == EXIT_CODE_INTERRUPTED
    }

    /// Whether the module was closed because a call passed its deadline.
    pub fn is_deadline_exceeded(&self) -> bool {
        self.code == EXIT_CODE_DEADLINE_EXCEEDED
    }
}

impl fmt::Display for ExitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            EXIT_CODE_INTERRUPTED => write!(
                f,
                "module closed with exit_code({}) (interrupted)",
                self.code
            ),
            EXIT_CODE_DEADLINE_EXCEEDED => {
                write!(
                    f,
                    "module closed with exit_code({}) (deadline exceeded)",
                    self.code
                )
            }
            code => write!(f, "module closed with exit_code({code})"),
        }
    }
}

impl std::error::Error for ExitError {}

/// Every error of the `kiln` API. Compile, link, instantiation, trap and exit errors are
/// told apart by variant; a trap carries its kind and the Wasm backtrace.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a well-formed, valid module.
    #[error("compile error: {0}")]
    Compile(String),
    /// The module needs a feature Kiln does not implement yet.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// An import could not be resolved or has the wrong type.
    #[error("link error: {0}")]
    Link(String),
    /// Instantiation failed for a reason other than a trap (limits, duplicate names, ...).
    #[error("instantiation error: {0}")]
    Instantiate(String),
    /// Wasm code trapped (also while instantiating: segments and start functions).
    #[error("wasm trap: {0}")]
    Trap(Trap),
    /// The module or runtime is closed, or was closed during the call.
    #[error(transparent)]
    Exit(ExitError),
    /// The API was used wrongly (wrong number of parameters, a short stack, ...).
    #[error("{0}")]
    Usage(String),
    /// A limit of the [`RuntimeConfig`](crate::RuntimeConfig) was exceeded (module size,
    /// functions, locals, memory pages, table elements, live instances, committed bytes).
    /// The runtime and its other modules are unaffected.
    #[error("{0}")]
    Limit(LimitError),
}

impl Error {
    /// The trap, if this is a trap error.
    pub fn as_trap(&self) -> Option<&Trap> {
        match self {
            Error::Trap(t) => Some(t),
            _ => None,
        }
    }

    /// The limit error, if this is one.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use kiln::{LimitKind, Runtime, RuntimeConfig};
    /// let rt = Runtime::with_config(RuntimeConfig::interpreter().with_max_module_bytes(8))?;
    /// let err = rt.compile(&wat::parse_str("(module (func))")?).unwrap_err();
    /// assert_eq!(err.as_limit().map(|l| l.kind), Some(LimitKind::ModuleBytes));
    /// # Ok(())
    /// # }
    /// ```
    pub fn as_limit(&self) -> Option<LimitError> {
        match self {
            Error::Limit(l) => Some(*l),
            _ => None,
        }
    }

    /// The exit error, if this is one.
    pub fn as_exit(&self) -> Option<ExitError> {
        match self {
            Error::Exit(e) => Some(*e),
            _ => None,
        }
    }
}

impl From<kiln_runtime::Error> for Error {
    fn from(e: kiln_runtime::Error) -> Error {
        match e {
            kiln_runtime::Error::Compile(m) => Error::Compile(m),
            kiln_runtime::Error::Unsupported(m) => Error::Unsupported(m),
            kiln_runtime::Error::Link(m) => Error::Link(m),
            kiln_runtime::Error::Instantiate(m) => Error::Instantiate(m),
            kiln_runtime::Error::Trap(t) => match t.exit_code() {
                Some(code) => Error::Exit(ExitError::new(code)),
                None => Error::Trap(t),
            },
            kiln_runtime::Error::Usage(m) => Error::Usage(m),
            kiln_runtime::Error::Limit(l) => Error::Limit(l),
            other => Error::Usage(other.to_string()),
        }
    }
}

/// Result alias of the `kiln` crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
