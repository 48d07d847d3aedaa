//! Resource limits and the runtime's own count of committed bytes.
//!
//! Every engine owns one [`Accounting`]: memories and tables add the bytes they commit
//! (and remove them when dropped), registered native code adds its size. Limits are
//! checked against this count, not against the process's resident size, so they are
//! exact, per engine, and independent of what else the process does.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which limit was hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitKind {
    /// Pages of one memory (a declared minimum above the limit).
    MemoryPages,
    /// Elements of one table (a declared minimum above the limit).
    TableElements,
    /// Size of a module's binary in bytes.
    ModuleBytes,
    /// Functions of one module, imports included.
    Functions,
    /// Declared locals of one function (parameters not counted).
    Locals,
    /// Live (instantiated, not closed) instances of one runtime.
    Instances,
    /// Bytes committed by memories, tables and code together.
    CommittedBytes,
}

impl LimitKind {
    /// A short name of the limit (`memory pages`, `table elements`, ...).
    ///
    /// ```
    /// assert_eq!(kiln_runtime::LimitKind::Locals.name(), "locals per function");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            LimitKind::MemoryPages => "memory pages",
            LimitKind::TableElements => "table elements",
            LimitKind::ModuleBytes => "module size in bytes",
            LimitKind::Functions => "functions per module",
            LimitKind::Locals => "locals per function",
            LimitKind::Instances => "live instances",
            LimitKind::CommittedBytes => "committed bytes",
        }
    }
}

/// A configured limit was exceeded: which one, what was asked for and what is allowed.
///
/// ```
/// use kiln_runtime::{LimitError, LimitKind};
/// let e = LimitError::new(LimitKind::Functions, 50_001, 50_000);
/// assert_eq!(e.to_string(), "limit exceeded: functions per module: 50001 requested, 50000 allowed");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitError {
    /// The limit.
    pub kind: LimitKind,
    /// The amount requested (for [`LimitKind::CommittedBytes`]: the total it would reach).
    pub requested: u64,
    /// The configured maximum.
    pub allowed: u64,
}

impl LimitError {
    /// A limit error.
    pub fn new(kind: LimitKind, requested: u64, allowed: u64) -> LimitError {
        LimitError {
            kind,
            requested,
            allowed,
        }
    }
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "limit exceeded: {}: {} requested, {} allowed",
            self.kind.name(),
            self.requested,
            self.allowed
        )
    }
}

impl std::error::Error for LimitError {}

/// Bytes an engine has committed, by its own count.
///
/// ```
/// let engine = kiln_runtime::Engine::default();
/// let c = engine.committed_bytes();
/// assert_eq!(c.total, c.memories + c.tables + c.code);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommittedBytes {
    /// Committed bytes of linear memories (their current sizes).
    pub memories: u64,
    /// Committed bytes of tables (8 bytes per element).
    pub tables: u64,
    /// Executable memory of compiled module code (functions and OSR entries; the shared
    /// trampolines of the backend are not counted).
    pub code: u64,
    /// The sum of the three.
    pub total: u64,
}

/// What an [`Accounting`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// Linear memories.
    Memories,
    /// Tables.
    Tables,
    /// Native code.
    Code,
}

/// The committed-byte counters of one engine and its budget.
#[derive(Debug)]
pub struct Accounting {
    memories: AtomicU64,
    tables: AtomicU64,
    code: AtomicU64,
    /// Sum of the three; charged first, so the budget check and the charge are one step.
    total: AtomicU64,
    budget: u64,
}

impl Accounting {
    /// Counters at zero with a budget of `budget` bytes in total.
    pub fn new(budget: u64) -> Accounting {
        Accounting {
            memories: AtomicU64::new(0),
            tables: AtomicU64::new(0),
            code: AtomicU64::new(0),
            total: AtomicU64::new(0),
            budget,
        }
    }

    fn counter(&self, category: Category) -> &AtomicU64 {
        match category {
            Category::Memories => &self.memories,
            Category::Tables => &self.tables,
            Category::Code => &self.code,
        }
    }

    /// Adds `bytes` to `category` if the total stays within the budget.
    ///
    /// # Errors
    ///
    /// [`LimitKind::CommittedBytes`] when it would not (nothing is charged then).
    pub fn try_charge(&self, category: Category, bytes: u64) -> Result<(), LimitError> {
        let budget = self.budget;
        self.total
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                t.checked_add(bytes).filter(|&n| n <= budget)
            })
            .map_err(|t| {
                LimitError::new(LimitKind::CommittedBytes, t.saturating_add(bytes), budget)
            })?;
        self.counter(category).fetch_add(bytes, Ordering::AcqRel);
        Ok(())
    }

    /// Removes `bytes` from `category` (released memory).
    pub fn release(&self, category: Category, bytes: u64) {
        self.counter(category).fetch_sub(bytes, Ordering::AcqRel);
        self.total.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// The budget in bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// The counters now.
    pub fn snapshot(&self) -> CommittedBytes {
        let memories = self.memories.load(Ordering::Acquire);
        let tables = self.tables.load(Ordering::Acquire);
        let code = self.code.load(Ordering::Acquire);
        CommittedBytes {
            memories,
            tables,
            code,
            total: memories + tables + code,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_checked_and_released() {
        let a = Accounting::new(100);
        a.try_charge(Category::Memories, 60).unwrap();
        a.try_charge(Category::Code, 40).unwrap();
        let e = a.try_charge(Category::Tables, 1).unwrap_err();
        assert_eq!(e, LimitError::new(LimitKind::CommittedBytes, 101, 100));
        a.release(Category::Memories, 60);
        a.try_charge(Category::Tables, 8).unwrap();
        let s = a.snapshot();
        assert_eq!((s.memories, s.tables, s.code, s.total), (0, 8, 40, 48));
    }
}
