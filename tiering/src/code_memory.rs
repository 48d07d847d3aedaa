//! Executable memory: code is copied into read-write pages, which are then made
//! read-execute (never writable and executable at once) and released when the last owner
//! drops the block. A module of engine `jit` (and each set of trampolines) gets a fresh
//! mapping; the batches of engine `tiered` are appended to their module's [`CodeRegion`],
//! so that its hot code shares pages instead of taking one mapping per function.

use cranelift_codegen::ir::TrapCode as ClifTrap;
use kiln_runtime::TrapCode;
use kiln_runtime::vm::abi;
use kiln_runtime::vm::native::{NativeCode, NativeTrap};
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

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

    /// Maps the code executable, in a mapping of its own.
    ///
    /// # Errors
    ///
    /// When a direct call cannot be patched, or the mapping or the protection change fails.
    pub fn finish(mut self) -> std::io::Result<CodeMemory> {
        self.link()?;
        let mut map = memmap2::MmapMut::map_anon(self.bytes.len().max(1))?;
        map[..self.bytes.len()].copy_from_slice(&self.bytes);
        let map = map.make_exec()?;
        let base = map.as_ptr() as usize;
        Ok(self.into_memory(base, Storage::Mapped(map)))
    }

    /// Maps the code executable in the next pages of `region`.
    ///
    /// # Errors
    ///
    /// When a direct call cannot be patched, or reserving or protecting pages fails.
    pub fn finish_in(mut self, region: &CodeRegion) -> std::io::Result<CodeMemory> {
        self.link()?;
        let pages = region.write(&self.bytes)?;
        let base = pages.start();
        Ok(self.into_memory(base, Storage::Region(pages)))
    }

    /// Patches the direct calls.
    fn link(&mut self) -> std::io::Result<()> {
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
        Ok(())
    }

    /// The finished block, its code at `base` in `storage`.
    fn into_memory(self, base: usize, storage: Storage) -> CodeMemory {
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
        CodeMemory {
            _storage: storage,
            base,
            len: self.bytes.len(),
            functions,
            entries,
            traps,
        }
    }
}

/// The system's page size.
fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: `sysconf` only reads a system constant.
        let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(p).unwrap_or(4096).max(4096)
    })
}

/// Address space reserved at a time for a module's tiered code (inaccessible until code
/// is written into it; only the pages written are committed).
const CHUNK_BYTES: usize = 8 << 20;

/// The address space the tiered code of one module is appended to: each block (a batch
/// of functions) takes the next whole pages of a reserved chunk, written read-write and
/// then made read-execute, so the module's hot code is contiguous and shares pages and
/// TLB entries. A full chunk is followed by a new one. A chunk is unmapped when the
/// region and every block in it are gone; a block's pages are released when it is
/// dropped.
pub struct CodeRegion {
    state: Mutex<RegionState>,
}

struct RegionState {
    /// The chunk blocks are appended to, and the bytes of it already handed out.
    chunk: Option<(Arc<Chunk>, usize)>,
}

/// One reservation of address space.
struct Chunk {
    base: usize,
    len: usize,
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // SAFETY: `base..base + len` is this chunk's own mapping (`Chunk::reserve`), and no
        // block in it is left (each holds the chunk).
        unsafe { libc::munmap(self.base as *mut libc::c_void, self.len) };
    }
}

impl Chunk {
    fn reserve(len: usize) -> std::io::Result<Chunk> {
        // SAFETY: a fresh anonymous mapping at an address the kernel picks, touching no
        // existing memory.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Chunk {
            base: ptr as usize,
            len,
        })
    }
}

/// The pages of one block in a [`CodeRegion`] (read-execute), released when dropped.
struct RegionPages {
    chunk: Arc<Chunk>,
    offset: usize,
    len: usize,
}

impl RegionPages {
    fn start(&self) -> usize {
        self.chunk.base + self.offset
    }

    /// Sets the protection of these pages.
    fn protect(&self, prot: libc::c_int) -> std::io::Result<()> {
        // SAFETY: the pages lie inside the chunk's mapping (`CodeRegion::write`), handed
        // out to this block alone.
        let rc = unsafe { libc::mprotect(self.start() as *mut libc::c_void, self.len, prot) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for RegionPages {
    fn drop(&mut self) {
        // Nothing runs this block's code any more: give the memory back and make any
        // stray jump into it fault.
        // SAFETY: the pages lie inside the chunk's mapping and belong to this block alone;
        // discarding anonymous pages only drops their contents.
        unsafe {
            libc::madvise(
                self.start() as *mut libc::c_void,
                self.len,
                libc::MADV_DONTNEED,
            )
        };
        let _ = self.protect(libc::PROT_NONE);
    }
}

impl Default for CodeRegion {
    fn default() -> CodeRegion {
        CodeRegion::new()
    }
}

impl CodeRegion {
    /// An empty region (no address space is reserved before the first block).
    pub fn new() -> CodeRegion {
        CodeRegion {
            state: Mutex::new(RegionState { chunk: None }),
        }
    }

    /// Copies `bytes` into the next pages, which end up read-execute.
    fn write(&self, bytes: &[u8]) -> std::io::Result<RegionPages> {
        let len = bytes.len().max(1).next_multiple_of(page_size());
        let pages = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let fits = matches!(&state.chunk, Some((c, used)) if used + len <= c.len);
            if !fits {
                let chunk = Chunk::reserve(len.max(CHUNK_BYTES))?;
                state.chunk = Some((Arc::new(chunk), 0));
            }
            let Some((chunk, used)) = &mut state.chunk else {
                unreachable!("a chunk was just reserved");
            };
            let offset = *used;
            *used += len;
            RegionPages {
                chunk: chunk.clone(),
                offset,
                len,
            }
        };
        pages.protect(libc::PROT_READ | libc::PROT_WRITE)?;
        // SAFETY: the pages were just made writable, belong to this block alone, and hold
        // at least `bytes.len()` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), pages.start() as *mut u8, bytes.len());
        }
        pages.protect(libc::PROT_READ | libc::PROT_EXEC)?;
        Ok(pages)
    }
}

/// Where a [`CodeMemory`]'s code lives.
enum Storage {
    /// A mapping of its own.
    Mapped(#[allow(dead_code)] memmap2::Mmap),
    /// Pages of a module's code region.
    Region(#[allow(dead_code)] RegionPages),
}

/// Finished, executable code.
pub struct CodeMemory {
    /// Keeps the code mapped (released when dropped).
    _storage: Storage,
    base: usize,
    len: usize,
    functions: Vec<(Range<usize>, u32)>,
    entries: Vec<(u32, usize)>,
    traps: Vec<(usize, NativeTrap)>,
}

impl CodeMemory {
    /// Address of the byte at `offset`.
    pub fn address(&self, offset: usize) -> usize {
        self.base + offset
    }

    /// Bytes of code.
    pub fn code_len(&self) -> usize {
        self.len
    }
}

// SAFETY: the range is this block's own read-execute mapping or region pages, released
// only when the block is dropped; functions, trap sites and entries are the offsets
// Cranelift reported for the code copied into it (`CodeBuilder::push`), made absolute.
unsafe impl NativeCode for CodeMemory {
    fn range(&self) -> Range<usize> {
        self.base..self.base + self.len.max(1)
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
