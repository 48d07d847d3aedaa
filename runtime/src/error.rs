//! Errors and traps.

use std::fmt;

/// Why execution of WebAssembly code stopped abnormally.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrapCode {
    /// `unreachable` was executed.
    Unreachable,
    /// A load or store or bulk memory operation was out of bounds.
    MemoryOutOfBounds,
    /// A table access or bulk table operation was out of bounds.
    TableOutOfBounds,
    /// `call_indirect` went through an index past the end of the table.
    UndefinedElement,
    /// `call_indirect` found a null reference.
    UninitializedElement,
    /// `call_indirect` found a function of the wrong signature.
    IndirectCallTypeMismatch,
    /// Signed division overflowed.
    IntegerOverflow,
    /// Integer division or remainder by zero.
    IntegerDivideByZero,
    /// A float-to-int conversion was out of range or NaN.
    InvalidConversionToInteger,
    /// The call stack (frames or value slots) exceeded its limit.
    StackExhausted,
    /// The call was interrupted by the embedder.
    Interrupted,
    /// The runtime's fuel ran out (fuel metering on): the remaining fuel was less than the
    /// cost of the next segment of code, and is left unchanged.
    OutOfFuel,
    /// A host function returned an error.
    HostError,
    /// A host function closed the calling module with an exit code (e.g. WASI `proc_exit`).
    Exit,
}

impl TrapCode {
    /// The message the spec test suite uses for this trap.
    pub fn message(self) -> &'static str {
        match self {
            TrapCode::Unreachable => "unreachable",
            TrapCode::MemoryOutOfBounds => "out of bounds memory access",
            TrapCode::TableOutOfBounds => "out of bounds table access",
            TrapCode::UndefinedElement => "undefined element",
            TrapCode::UninitializedElement => "uninitialized element",
            TrapCode::IndirectCallTypeMismatch => "indirect call type mismatch",
            TrapCode::IntegerOverflow => "integer overflow",
            TrapCode::IntegerDivideByZero => "integer divide by zero",
            TrapCode::InvalidConversionToInteger => "invalid conversion to integer",
            TrapCode::StackExhausted => "call stack exhausted",
            TrapCode::Interrupted => "interrupted",
            TrapCode::OutOfFuel => "all fuel consumed",
            TrapCode::HostError => "host function error",
            TrapCode::Exit => "module exited",
        }
    }
}

impl fmt::Display for TrapCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// One frame of a Wasm backtrace, innermost first in [`Trap::backtrace`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    /// Name of the module instance, if it has one.
    pub module: Option<String>,
    /// Function index within its module.
    pub func_index: u32,
    /// Function name from the name section, if present.
    pub func_name: Option<String>,
}

impl fmt::Display for FrameInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let module = self.module.as_deref().unwrap_or("<module>");
        match &self.func_name {
            Some(name) => write!(f, "{module}!{name}"),
            None => write!(f, "{module}!<func {}>", self.func_index),
        }
    }
}

/// A trap: the kind, an optional message (for host errors) and the Wasm call stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trap {
    code: TrapCode,
    message: Option<String>,
    exit_code: Option<u32>,
    backtrace: Vec<FrameInfo>,
}

impl Trap {
    /// A trap of the given kind with an empty backtrace.
    pub fn new(code: TrapCode) -> Trap {
        Trap {
            code,
            message: None,
            exit_code: None,
            backtrace: Vec::new(),
        }
    }

    /// The unwinding signal of a host function that exits the module with `code`.
    pub fn exit(code: u32) -> Trap {
        Trap {
            code: TrapCode::Exit,
            message: None,
            exit_code: Some(code),
            backtrace: Vec::new(),
        }
    }

    /// The exit code of a [`TrapCode::Exit`] trap.
    pub fn exit_code(&self) -> Option<u32> {
        self.exit_code
    }

    /// The message of a host error, if any.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// A trap raised by a host function, carrying its message.
    pub fn host(message: impl Into<String>) -> Trap {
        Trap {
            code: TrapCode::HostError,
            message: Some(message.into()),
            exit_code: None,
            backtrace: Vec::new(),
        }
    }

    /// The kind of trap.
    pub fn code(&self) -> TrapCode {
        self.code
    }

    /// The Wasm frames active when the trap happened, innermost first.
    pub fn backtrace(&self) -> &[FrameInfo] {
        &self.backtrace
    }

    /// Appends outer frames (the callers of the frames already recorded).
    pub(crate) fn extend_backtrace(&mut self, frames: Vec<FrameInfo>) {
        self.backtrace.extend(frames);
    }

    pub(crate) fn with_backtrace(mut self, frames: Vec<FrameInfo>) -> Trap {
        if self.backtrace.is_empty() {
            self.backtrace = frames;
        }
        self
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => write!(f, "{}: {m}", self.code)?,
            None => write!(f, "{}", self.code)?,
        }
        if !self.backtrace.is_empty() {
            f.write_str("\nwasm backtrace:")?;
            for (i, frame) in self.backtrace.iter().enumerate() {
                write!(f, "\n  {i}: {frame}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Trap {}

impl From<TrapCode> for Trap {
    fn from(code: TrapCode) -> Trap {
        Trap::new(code)
    }
}

/// Every error the runtime reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a well-formed or valid module.
    #[error("compile error: {0}")]
    Compile(String),
    /// The module uses a feature Kiln does not implement yet.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// An import is missing or has the wrong type.
    #[error("link error: {0}")]
    Link(String),
    /// Instantiation failed for a reason other than a trap (e.g. a resource limit).
    #[error("instantiation error: {0}")]
    Instantiate(String),
    /// Execution trapped (also during instantiation: segments or the start function).
    #[error("trap: {0}")]
    Trap(#[from] Trap),
    /// The caller misused the API (wrong number of arguments, short stack, ...).
    #[error("{0}")]
    Usage(String),
    /// A configured resource limit was exceeded (see [`crate::LimitKind`]).
    #[error("{0}")]
    Limit(#[from] crate::limits::LimitError),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
