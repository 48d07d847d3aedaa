//! Value and entity types shared by every tier.

use std::fmt;

/// The type of a WebAssembly value.
///
/// Every value crosses Kiln's boundaries as `u64` slots: numbers take one slot, a `v128`
/// takes two (low half first), and a reference takes one opaque slot where `0` is null.
///
/// ```
/// use kiln_runtime::ValType;
/// assert_eq!(ValType::V128.slots(), 2);
/// assert_eq!(ValType::I32.to_string(), "i32");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit IEEE float.
    F32,
    /// 64-bit IEEE float.
    F64,
    /// 128-bit vector.
    V128,
    /// Nullable reference to a function.
    FuncRef,
    /// Nullable opaque reference owned by the host.
    ExternRef,
}

impl ValType {
    /// How many `u64` slots a value of this type occupies.
    #[inline]
    pub const fn slots(self) -> u32 {
        match self {
            ValType::V128 => 2,
            _ => 1,
        }
    }

    /// Whether this is a reference type.
    pub const fn is_ref(self) -> bool {
        matches!(self, ValType::FuncRef | ValType::ExternRef)
    }

    /// The text-format name of the type.
    pub const fn name(self) -> &'static str {
        match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        }
    }

    pub(crate) fn from_wasm(ty: wasmparser::ValType) -> Result<ValType, String> {
        use wasmparser::ValType as W;
        Ok(match ty {
            W::I32 => ValType::I32,
            W::I64 => ValType::I64,
            W::F32 => ValType::F32,
            W::F64 => ValType::F64,
            W::V128 => ValType::V128,
            W::Ref(r) => ValType::from_ref(r)?,
        })
    }

    pub(crate) fn from_ref(r: wasmparser::RefType) -> Result<ValType, String> {
        if r == wasmparser::RefType::FUNCREF {
            Ok(ValType::FuncRef)
        } else if r == wasmparser::RefType::EXTERNREF {
            Ok(ValType::ExternRef)
        } else {
            Err(format!("unsupported: reference type {r}"))
        }
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A function signature.
///
/// ```
/// use kiln_runtime::{FuncType, ValType};
/// let ty = FuncType::new([ValType::I32, ValType::V128], [ValType::F64]);
/// assert_eq!(ty.param_slots(), 3);
/// assert_eq!(ty.to_string(), "(i32, v128) -> (f64)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FuncType {
    params: Box<[ValType]>,
    results: Box<[ValType]>,
    param_slots: u32,
    result_slots: u32,
}

impl FuncType {
    /// Builds a signature from its parameter and result types.
    pub fn new(
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
    ) -> FuncType {
        let params: Box<[ValType]> = params.into_iter().collect();
        let results: Box<[ValType]> = results.into_iter().collect();
        let param_slots = params.iter().map(|t| t.slots()).sum();
        let result_slots = results.iter().map(|t| t.slots()).sum();
        FuncType {
            params,
            results,
            param_slots,
            result_slots,
        }
    }

    /// Parameter types.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }

    /// Result types.
    pub fn results(&self) -> &[ValType] {
        &self.results
    }

    /// Number of `u64` slots the parameters occupy.
    pub fn param_slots(&self) -> u32 {
        self.param_slots
    }

    /// Number of `u64` slots the results occupy.
    pub fn result_slots(&self) -> u32 {
        self.result_slots
    }

    /// Length of the value stack `call_with_stack` needs: max(param slots, result slots).
    pub fn stack_len(&self) -> usize {
        self.param_slots.max(self.result_slots) as usize
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, tys: &[ValType]| -> fmt::Result {
            f.write_str("(")?;
            for (i, t) in tys.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{t}")?;
            }
            f.write_str(")")
        };
        list(f, &self.params)?;
        f.write_str(" -> ")?;
        list(f, &self.results)
    }
}

/// Minimum and optional maximum of a memory (in 64 KiB pages) or a table (in elements).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Initial size.
    pub min: u64,
    /// Maximum size, if declared.
    pub max: Option<u64>,
}

/// The type of a linear memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryType {
    /// Size limits in pages.
    pub limits: Limits,
    /// Whether the memory is indexed with 64-bit addresses (memory64, not supported yet).
    pub memory64: bool,
    /// Whether the memory is shared (threads, not supported yet).
    pub shared: bool,
}

/// The type of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableType {
    /// Element type: `FuncRef` or `ExternRef`.
    pub element: ValType,
    /// Size limits in elements.
    pub limits: Limits,
}

/// The type of a global.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalType {
    /// Type of the value.
    pub content: ValType,
    /// Whether `global.set` may change it.
    pub mutable: bool,
}

/// The type of an import or export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExternType {
    /// A function with its signature.
    Func(FuncType),
    /// A table.
    Table(TableType),
    /// A linear memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
}

impl ExternType {
    /// The text-format name of the kind: `func`, `table`, `memory` or `global`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ExternType::Func(_) => "func",
            ExternType::Table(_) => "table",
            ExternType::Memory(_) => "memory",
            ExternType::Global(_) => "global",
        }
    }
}
