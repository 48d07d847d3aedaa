//! Executable memory: code is copied into a fresh anonymous read-write mapping, which is
//! then made read-execute (never writable and executable at once) and unmapped when the
//! last owner drops it.

use cranelift_codegen::ir::TrapCode as ClifTrap;
use kiln_runtime::TrapCode;
use kiln_runtime::vm::abi;
use kiln_runtime::vm::native::{NativeCode, NativeTrap};
use std::ops::Range;

/// Machine code of several functions, being assembled (not executable yet).
#[derive(Default)]
pub struct CodeBuilder {
    bytes: Vec<u8>,
    functions: Vec<(Range<usize>, u32)>,
    entries: Vec<(u32, usize)>,
    /// Offsets of function bodies (engine `jit`), which only direct calls enter.
    bodies: Vec<(u32, usize)>,
    traps: Vec<(usize, NativeTrap)>,
    /// Direct calls: site of the 32-bit displacement, target function, whether to its
    /// body, addend.
    calls: Vec<(usize, u32, bool, i64)>,
}

/// Alignment of every function's entry.
const FUNCTION_ALIGN: usize = 64;

impl CodeBuilder {
    /// Appends one function's code; `index` is its Wasm function index (`None` for
    /// trampolines). Returns its offset in the block.
    pub fn push(&mut self, index: Option<u32>, compiled: &crate::backend::Compiled) -> usize {
        let start = self.append(compiled);
        if let Some(index) = index {
            self.functions
                .push((start..start + compiled.code.len(), index));
            self.entries.push((index, start));
        }
        start
    }

    /// Appends the body of function `index` (see
    /// [`translate_body`](crate::translate::translate_body)); its public entry is pushed
    /// separately. Returns its offset in the block.
    pub fn push_body(&mut self, index: u32, compiled: &crate::backend::Compiled) -> usize {
        let start = self.append(compiled);
        self.functions
            .push((start..start + compiled.code.len(), index));
        self.bodies.push((index, start));
        start
    }

    fn append(&mut self, compiled: &crate::backend::Compiled) -> usize {
        let (code, traps) = (&compiled.code[..], &compiled.traps[..]);
        let start = self.bytes.len().next_multiple_of(FUNCTION_ALIGN);
        // Padding is `int3`, so a stray jump into it faults.
        self.bytes.resize(start, 0xcc);
        self.bytes.extend_from_slice(code);
        self.traps.extend(
            traps
                .iter()
                .map(|t| (start + t.offset as usize, map_trap(t.code))),
        );
        self.calls.extend(
            compiled
                .calls
                .iter()
                .map(|c| (start + c.offset as usize, c.target, c.body, c.addend)),
        );
        start
    }

    /// Bytes of code so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Maps the code executable.
    ///
    /// # Errors
    ///
    /// When the mapping or the protection change fails.
    pub fn finish(mut self) -> std::io::Result<CodeMemory> {
        self.entries.sort_unstable();
        self.bodies.sort_unstable();
        for &(site, target, body, addend) in &self.calls {
            let targets = if body { &self.bodies } else { &self.entries };
            let Ok(i) = targets.binary_search_by_key(&target, |e| e.0) else {
                return Err(std::io::Error::other(format!(
                    "direct call to function {target}, which is not in this code"
                )));
            };
            let disp = targets[i].1 as i64 + addend - site as i64;
            let disp = i32::try_from(disp)
                .map_err(|_| std::io::Error::other("direct call out of 32-bit range"))?;
            self.bytes[site..site + 4].copy_from_slice(&disp.to_le_bytes());
        }
        let mut map = memmap2::MmapMut::map_anon(self.bytes.len().max(1))?;
        map[..self.bytes.len()].copy_from_slice(&self.bytes);
        let map = map.make_exec()?;
        let base = map.as_ptr() as usize;
        let entries = self.entries;
        let mut traps: Vec<(usize, NativeTrap)> =
            self.traps.into_iter().map(|(o, t)| (base + o, t)).collect();
        traps.sort_unstable_by_key(|(pc, _)| *pc);
        let mut functions: Vec<(Range<usize>, u32)> = self
            .functions
            .into_iter()
            .map(|(r, i)| (base + r.start..base + r.end, i))
            .collect();
        functions.sort_unstable_by_key(|(r, _)| r.start);
        Ok(CodeMemory {
            map,
            len: self.bytes.len(),
            functions,
            entries,
            traps,
        })
    }
}

/// Finished, executable code.
pub struct CodeMemory {
    map: memmap2::Mmap,
    len: usize,
    functions: Vec<(Range<usize>, u32)>,
    entries: Vec<(u32, usize)>,
    traps: Vec<(usize, NativeTrap)>,
}

impl CodeMemory {
    /// Address of the byte at `offset`.
    pub fn address(&self, offset: usize) -> usize {
        self.map.as_ptr() as usize + offset
    }

    /// Bytes of code.
    pub fn code_len(&self) -> usize {
        self.len
    }
}

// SAFETY: the range is this block's own read-execute mapping, unmapped only when the block
// is dropped; functions, trap sites and entries are the offsets Cranelift reported for the
// code copied into it (`CodeBuilder::push`), made absolute.
unsafe impl NativeCode for CodeMemory {
    fn range(&self) -> Range<usize> {
        let base = self.map.as_ptr() as usize;
        base..base + self.len.max(1)
    }

    fn functions(&self) -> Vec<(Range<usize>, u32)> {
        self.functions.clone()
    }

    fn traps(&self) -> Vec<(usize, NativeTrap)> {
        self.traps.clone()
    }

    fn entry(&self, index: u32) -> Option<*const u8> {
        let i = self.entries.binary_search_by_key(&index, |e| e.0).ok()?;
        Some(self.address(self.entries[i].1) as *const u8)
    }
}

/// What a Cranelift trap code means for Kiln.
pub fn map_trap(code: ClifTrap) -> NativeTrap {
    let c = match code {
        ClifTrap::STACK_OVERFLOW => TrapCode::StackExhausted,
        ClifTrap::INTEGER_OVERFLOW => TrapCode::IntegerOverflow,
        ClifTrap::HEAP_OUT_OF_BOUNDS => TrapCode::MemoryOutOfBounds,
        ClifTrap::INTEGER_DIVISION_BY_ZERO => TrapCode::IntegerDivideByZero,
        ClifTrap::BAD_CONVERSION_TO_INTEGER => TrapCode::InvalidConversionToInteger,
        other => match other.as_raw().get() {
            abi::TRAP_UNREACHABLE => TrapCode::Unreachable,
            abi::TRAP_TABLE_OUT_OF_BOUNDS => TrapCode::TableOutOfBounds,
            abi::TRAP_UNDEFINED_ELEMENT => TrapCode::UndefinedElement,
            abi::TRAP_UNINITIALIZED_ELEMENT => TrapCode::UninitializedElement,
            abi::TRAP_INDIRECT_CALL_TYPE_MISMATCH => TrapCode::IndirectCallTypeMismatch,
            abi::TRAP_INTERRUPTED => TrapCode::Interrupted,
            abi::TRAP_OUT_OF_FUEL => TrapCode::OutOfFuel,
            _ => return NativeTrap::Pending,
        },
    };
    NativeTrap::Code(c)
}
