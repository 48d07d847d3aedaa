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

/// Frames a backtrace keeps at each end of the call stack: the innermost and the outermost
/// `BACKTRACE_KEPT_FRAMES`; the frames between them are only counted
/// ([`Trap::omitted_frames`]). The same in every engine.
pub const BACKTRACE_KEPT_FRAMES: usize = 32;

/// Frames of one part of a backtrace, innermost first, built without materialising the
/// frames a trap would not keep: up to [`BACKTRACE_KEPT_FRAMES`] frames at each end of the
/// part and the number of frames between them.
#[derive(Debug, Default)]
pub(crate) struct FrameSegment {
    inner: Vec<FrameInfo>,
    skipped: usize,
    outer: Vec<FrameInfo>,
}

impl FrameSegment {
    /// The `count` frames `frame(0)` (innermost) .. `frame(count - 1)`; only the kept
    /// ones are built.
    pub(crate) fn collect(count: usize, mut frame: impl FnMut(usize) -> FrameInfo) -> Self {
        let k = BACKTRACE_KEPT_FRAMES;
        if count <= 2 * k {
            return FrameSegment {
                inner: (0..count).map(frame).collect(),
                ..FrameSegment::default()
            };
        }
        FrameSegment {
            inner: (0..k).map(&mut frame).collect(),
            skipped: count - 2 * k,
            outer: (count - k..count).map(frame).collect(),
        }
    }

    /// Frames `inner`, then `skipped` frames not known, then `outer`. With `skipped > 0`,
    /// `inner` and `outer` must hold at least [`BACKTRACE_KEPT_FRAMES`] frames each (so
    /// every frame the trap keeps is known).
    pub(crate) fn new(inner: Vec<FrameInfo>, skipped: usize, outer: Vec<FrameInfo>) -> Self {
        FrameSegment {
            inner,
            skipped,
            outer,
        }
    }
}

impl From<Vec<FrameInfo>> for FrameSegment {
    fn from(frames: Vec<FrameInfo>) -> Self {
        FrameSegment {
            inner: frames,
            ..FrameSegment::default()
        }
    }
}

/// A trap: the kind, an optional message (for host errors) and the Wasm call stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trap {
    code: TrapCode,
    message: Option<String>,
    exit_code: Option<u32>,
    /// The innermost frames (up to `BACKTRACE_KEPT_FRAMES`), then the outermost ones (up to
    /// as many); `omitted_frames` frames were between them.
    backtrace: Vec<FrameInfo>,
    omitted_frames: usize,
}

impl Trap {
    /// A trap of the given kind with an empty backtrace.
    pub fn new(code: TrapCode) -> Trap {
        Trap {
            code,
            message: None,
            exit_code: None,
            backtrace: Vec::new(),
            omitted_frames: 0,
        }
    }

    /// The unwinding signal of a host function that exits the module with `code`.
    pub fn exit(code: u32) -> Trap {
        Trap {
            code: TrapCode::Exit,
            message: None,
            exit_code: Some(code),
            backtrace: Vec::new(),
            omitted_frames: 0,
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
            omitted_frames: 0,
        }
    }

    /// The kind of trap.
    pub fn code(&self) -> TrapCode {
        self.code
    }

    /// The Wasm frames active when the trap happened, innermost first. A deep stack keeps
    /// its innermost and outermost [`BACKTRACE_KEPT_FRAMES`] frames: the
    /// [`omitted_frames`](Trap::omitted_frames) were between `backtrace()[..BACKTRACE_KEPT_FRAMES]`
    /// and the rest.
    pub fn backtrace(&self) -> &[FrameInfo] {
        &self.backtrace
    }

    /// How many frames of the call stack the backtrace left out (0 unless more than twice
    /// [`BACKTRACE_KEPT_FRAMES`] frames were active).
    pub fn omitted_frames(&self) -> usize {
        self.omitted_frames
    }

    /// How many Wasm frames were active when the trap happened (kept and omitted).
    pub fn frame_count(&self) -> usize {
        self.backtrace.len() + self.omitted_frames
    }

    /// Appends an outer frame, dropping (and counting) the oldest outer frame kept once
    /// both ends are full.
    fn push_frame(&mut self, frame: FrameInfo) {
        if self.backtrace.len() == 2 * BACKTRACE_KEPT_FRAMES {
            self.backtrace.remove(BACKTRACE_KEPT_FRAMES);
            self.omitted_frames += 1;
        }
        self.backtrace.push(frame);
    }

    /// Appends outer frames (the callers of the frames already recorded).
    pub(crate) fn extend_backtrace(&mut self, frames: impl Into<FrameSegment>) {
        let FrameSegment {
            inner,
            skipped,
            outer,
        } = frames.into();
        for frame in inner {
            self.push_frame(frame);
        }
        if skipped > 0 {
            // The `outer` frames that follow replace every outer frame kept so far.
            let kept_outer = self.backtrace.len().saturating_sub(BACKTRACE_KEPT_FRAMES);
            self.backtrace.truncate(BACKTRACE_KEPT_FRAMES);
            self.omitted_frames += kept_outer + skipped;
        }
        for frame in outer {
            self.push_frame(frame);
        }
    }

    pub(crate) fn with_backtrace(mut self, frames: impl Into<FrameSegment>) -> Trap {
        if self.backtrace.is_empty() {
            self.extend_backtrace(frames);
        }
        self
    }
}

/// Writes backtrace lines for `frames` (numbered from `first`), one line per run of
/// equal frames.
fn write_frames(f: &mut fmt::Formatter<'_>, first: usize, frames: &[FrameInfo]) -> fmt::Result {
    let mut i = 0;
    while i < frames.len() {
        let run = frames[i..].iter().take_while(|x| **x == frames[i]).count();
        let at = first + i;
        if run == 1 {
            write!(f, "\n  {at}: {}", frames[i])?;
        } else {
            let last = at + run - 1;
            write!(f, "\n  {at}-{last}: {} ({run} frames)", frames[i])?;
        }
        i += run;
    }
    Ok(())
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => write!(f, "{}: {m}", self.code)?,
            None => write!(f, "{}", self.code)?,
        }
        if !self.backtrace.is_empty() {
            f.write_str("\nwasm backtrace:")?;
            if self.omitted_frames == 0 {
                write_frames(f, 0, &self.backtrace)?;
            } else {
                let inner = self.backtrace.len().min(BACKTRACE_KEPT_FRAMES);
                let (inner, outer) = self.backtrace.split_at(inner);
                write_frames(f, 0, inner)?;
                write!(f, "\n  ... {} frames omitted ...", self.omitted_frames)?;
                write_frames(f, inner.len() + self.omitted_frames, outer)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(i: usize) -> FrameInfo {
        FrameInfo {
            module: Some("m".into()),
            func_index: i as u32,
            func_name: None,
        }
    }

    /// The frames of a trap built from `parts` (frame counts, innermost part first) of one
    /// call stack whose frame `i` is `frame(i / run)`.
    fn built(parts: &[usize], run: usize) -> Trap {
        let mut trap = Trap::new(TrapCode::StackExhausted);
        let mut first = 0;
        for &count in parts {
            trap.extend_backtrace(FrameSegment::collect(count, |i| frame((first + i) / run)));
            first += count;
        }
        trap
    }

    #[test]
    fn a_backtrace_keeps_both_ends_however_it_was_built() {
        let k = BACKTRACE_KEPT_FRAMES;
        let whole = built(&[1000], 1);
        assert_eq!(whole.frame_count(), 1000);
        assert_eq!(whole.omitted_frames(), 1000 - 2 * k);
        let expected: Vec<_> = (0..k).chain(1000 - k..1000).map(frame).collect();
        assert_eq!(whole.backtrace(), expected);
        for parts in [
            &[10, 990][..],
            &[500, 3, 497],
            &[2 * k, 1, 1000 - 2 * k - 1],
            &[999, 1],
        ] {
            assert_eq!(built(parts, 1), whole, "{parts:?}");
        }
        let short = built(&[5, 7], 1);
        assert_eq!(short.omitted_frames(), 0);
        assert_eq!(short.backtrace(), (0..12).map(frame).collect::<Vec<_>>());
    }

    #[test]
    fn the_text_collapses_runs_of_one_frame() {
        let k = BACKTRACE_KEPT_FRAMES;
        let trap = built(&[10_000], 10_000);
        let omitted = 10_000 - 2 * k;
        assert_eq!(
            trap.to_string(),
            format!(
                "call stack exhausted\nwasm backtrace:\n  0-{}: m!<func 0> ({k} frames)\n  \
                 ... {omitted} frames omitted ...\n  {}-9999: m!<func 0> ({k} frames)",
                k - 1,
                10_000 - k
            )
        );
        let text = built(&[3], 2).to_string();
        assert!(
            text.ends_with("\n  0-1: m!<func 0> (2 frames)\n  2: m!<func 1>"),
            "{text}"
        );
    }
}
