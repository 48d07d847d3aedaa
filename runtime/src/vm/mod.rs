//! The VM layout shared by every tier, and all of the runtime's `unsafe` memory access.
//!
//! Native code and the interpreter see an instance through one `#[repr(C)]` [`VMContext`]:
//! pointers to arrays of memory, table and global definitions and to the per-function
//! indirection slots ([`VMFuncRef`]). The offsets generated code loads from are the
//! `VMCTX_*` constants, pinned to the structs by a unit test. See RATIONALE.md.

pub mod abi;
mod builtins;
pub mod mmap;
pub mod native;
pub mod stack;

use crate::error::TrapCode;
use crate::limits::{Accounting, Category, LimitError, LimitKind};
use crate::types::{GlobalType, MemoryType, TableType, ValType};
use mmap::Reservation;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Size of a WebAssembly page.
pub const PAGE_SIZE: usize = 65536;

/// Bytes reserved for a 32-bit memory when possible: 4 GiB of addressable space plus a 4 GiB
/// guard, so that native code can use any 32-bit address plus any 32-bit offset unchecked.
pub const MEMORY_RESERVATION: usize = 8 << 30;

/// Where a linear memory lives. Its `base` never changes; `length` only grows.
#[repr(C)]
pub struct VMMemoryDefinition {
    /// Start of the memory.
    pub base: *mut u8,
    /// Current size in bytes.
    pub length: AtomicUsize,
}

/// Where a table's elements live. Each element is one `u64` (0 = null).
#[repr(C)]
pub struct VMTableDefinition {
    /// Start of the element array (stable, like memories).
    pub base: *mut u64,
    /// Current number of elements.
    pub length: AtomicUsize,
}

/// Storage of one global: two slots so a `v128` fits (low half first).
#[repr(C, align(16))]
pub struct VMGlobalDefinition {
    /// The value, as `u64` slots.
    pub value: [AtomicU64; 2],
}

/// The indirection slot of one function: every call site (interpreter, native code, host)
/// goes through it. `native_code` is null until the optimizing tier publishes code.
///
/// Its code pointers are private to the runtime: only instantiation and
/// [`Module::publish`](crate::Module::publish) (an `unsafe fn`) write them, so safe code
/// holding a slot (from [`Func::slot`](crate::Func::slot)) cannot redirect calls:
///
/// ```compile_fail
/// use std::sync::atomic::Ordering;
/// fn hijack(func: &kiln_runtime::Func) {
///     // Refused: `native_code` is private.
///     func.slot().native_code.store(0xdead_beef as *mut u8, Ordering::SeqCst);
/// }
/// ```
///
/// What native code needs of the layout is public (the `VMFUNCREF_*` offsets), and so are
/// the fields that only describe the function:
///
/// ```
/// fn describe(func: &kiln_runtime::Func) -> (u32, u32) {
///     (func.slot().index, func.slot().type_id)
/// }
/// ```
#[repr(C)]
pub struct VMFuncRef {
    /// Entry of published native code, or null while the function runs in the interpreter.
    pub(crate) native_code: AtomicPtr<u8>,
    /// The context of the instance that defines the function.
    pub vmctx: *const VMContext,
    /// Engine-wide signature id, compared by `call_indirect`.
    pub type_id: u32,
    /// Index of the function in its instance's function space.
    pub index: u32,
    /// The interpreter's translated code, cached by the interpreter on first entry (null
    /// before; host functions keep null). The code is owned by the module, which the
    /// instance owning this slot keeps alive.
    pub(crate) interp_code: AtomicPtr<crate::interp::FuncCode>,
    /// The array trampoline of this function's type while `native_code` is compiled code
    /// (see [`abi`]); null while the function has no native code of its own (interpreted
    /// or host functions, whose `native_code` is an adapter). Published after
    /// `native_code`, so a reader that sees it non-null also sees the compiled code.
    pub(crate) array_call: AtomicPtr<u8>,
}

/// The per-instance context every tier reads. All arrays are owned by the instance and
/// outlive any code running in it.
#[repr(C)]
pub struct VMContext {
    /// Memory 0, or null.
    pub memory0: *const VMMemoryDefinition,
    /// One pointer per memory (imports first).
    pub memories: *const *const VMMemoryDefinition,
    /// One pointer per table (imports first).
    pub tables: *const *const VMTableDefinition,
    /// One pointer per global (imports first).
    pub globals: *const *const VMGlobalDefinition,
    /// One pointer per function (imports point into the exporting instance).
    pub funcs: *const *const VMFuncRef,
    /// Engine-wide signature id of each module type index.
    pub type_ids: *const u32,
    /// Non-zero when the running call must stop.
    pub interrupt: *const AtomicU32,
    /// The owning `InstanceInner` (opaque to native code).
    pub instance: *const (),
    /// The engine's remaining fuel (one counter per engine, shared by all its instances;
    /// read only when fuel metering is on).
    pub fuel: *const std::sync::atomic::AtomicU64,
    /// Engine `tiered`: the module's table of published function *bodies*, one word per
    /// defined function (imports not counted), 0 until the function is published (see
    /// [`abi`], "Calls between tiered bodies"). Shared by every instance of the module,
    /// since a tiered body takes its `vmctx` as a parameter; null in other engines and in
    /// host instances.
    pub bodies: *const AtomicUsize,
}

/// Offset of [`VMContext::memory0`].
pub const VMCTX_MEMORY0: usize = 0;
/// Offset of [`VMContext::memories`].
pub const VMCTX_MEMORIES: usize = 8;
/// Offset of [`VMContext::tables`].
pub const VMCTX_TABLES: usize = 16;
/// Offset of [`VMContext::globals`].
pub const VMCTX_GLOBALS: usize = 24;
/// Offset of [`VMContext::funcs`].
pub const VMCTX_FUNCS: usize = 32;
/// Offset of [`VMContext::type_ids`].
pub const VMCTX_TYPE_IDS: usize = 40;
/// Offset of [`VMContext::interrupt`].
pub const VMCTX_INTERRUPT: usize = 48;
/// Offset of [`VMContext::instance`].
pub const VMCTX_INSTANCE: usize = 56;
/// Offset of [`VMContext::fuel`].
pub const VMCTX_FUEL: usize = 64;
/// Offset of [`VMContext::bodies`].
pub const VMCTX_BODIES: usize = 72;
/// Offset of [`VMMemoryDefinition::base`].
pub const VMMEMORY_BASE: usize = 0;
/// Offset of [`VMMemoryDefinition::length`].
pub const VMMEMORY_LENGTH: usize = 8;
/// Offset of [`VMTableDefinition::base`].
pub const VMTABLE_BASE: usize = 0;
/// Offset of [`VMTableDefinition::length`].
pub const VMTABLE_LENGTH: usize = 8;
/// Offset of `VMFuncRef::native_code` (private to the runtime).
pub const VMFUNCREF_NATIVE_CODE: usize = 0;
/// Offset of [`VMFuncRef::vmctx`].
pub const VMFUNCREF_VMCTX: usize = 8;
/// Offset of [`VMFuncRef::type_id`].
pub const VMFUNCREF_TYPE_ID: usize = 16;
/// Offset of [`VMFuncRef::index`].
pub const VMFUNCREF_INDEX: usize = 20;
/// Offset of `VMFuncRef::interp_code` (private to the runtime).
pub const VMFUNCREF_INTERP_CODE: usize = 24;
/// Offset of `VMFuncRef::array_call` (private to the runtime).
pub const VMFUNCREF_ARRAY_CALL: usize = 32;

// SAFETY: the raw pointers in these structs point into instance-owned data that lives as
// long as the instance; the values they reach are atomics or are only accessed through the
// raw-pointer helpers in this module.
unsafe impl Send for VMFuncRef {}
// SAFETY: see above.
unsafe impl Sync for VMFuncRef {}
// SAFETY: see above.
unsafe impl Send for VMContext {}
// SAFETY: see above.
unsafe impl Sync for VMContext {}
// SAFETY: `base` is the stable start of a reservation owned by the memory.
unsafe impl Send for VMMemoryDefinition {}
// SAFETY: see above; `length` is atomic.
unsafe impl Sync for VMMemoryDefinition {}
// SAFETY: `base` is the stable start of a reservation owned by the table.
unsafe impl Send for VMTableDefinition {}
// SAFETY: see above; `length` is atomic.
unsafe impl Sync for VMTableDefinition {}

/// A snapshot of a memory's base and length, used by the interpreter for bounds-checked
/// loads and stores. Taking a fresh view after anything that can grow memory keeps it valid:
/// the base never moves and the length never shrinks.
#[derive(Clone, Copy)]
pub struct MemView {
    base: *mut u8,
    len: usize,
}

impl MemView {
    /// A view of no memory: every access is out of bounds.
    pub const EMPTY: MemView = MemView {
        base: std::ptr::null_mut(),
        len: 0,
    };

    /// A view of `def`. Crate-private: `def`'s fields are public, and a view of a
    /// definition made up by safe code would read and write wherever it points.
    pub(crate) fn of(def: &VMMemoryDefinition) -> MemView {
        MemView {
            base: def.base,
            len: def.length.load(Ordering::Acquire),
        }
    }

    /// Current length in bytes.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the memory has zero length.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    fn check(&self, addr: u32, offset: u32, size: usize) -> Result<usize, TrapCode> {
        let ea = addr as u64 + offset as u64;
        if ea + size as u64 > self.len as u64 {
            Err(TrapCode::MemoryOutOfBounds)
        } else {
            Ok(ea as usize)
        }
    }

    /// Loads `N` little-endian bytes at `addr + offset`.
    #[inline(always)]
    pub fn load<const N: usize>(&self, addr: u32, offset: u32) -> Result<[u8; N], TrapCode> {
        let ea = self.check(addr, offset, N)?;
        // SAFETY: `check` proved ea + N <= len, and [base, base + len) is committed memory of
        // a live reservation (the view was taken from the memory's definition, whose base
        // never moves and whose length never shrinks). Unaligned reads are allowed.
        Ok(unsafe { std::ptr::read_unaligned(self.base.add(ea) as *const [u8; N]) })
    }

    /// Copies the 16 bytes at `addr + offset` to `dst` (an interpreter frame's two slots
    /// of a v128) as one unaligned 16-byte move. Going through `load::<16>` instead puts
    /// the bytes in a `Result<[u8; 16], _>`, whose odd layout makes LLVM split the store,
    /// and the next 16-byte read of the slots then stalls on store forwarding.
    ///
    /// # Safety
    /// `dst` must be valid for writing 16 bytes.
    #[inline(always)]
    pub unsafe fn load_v128_into(
        &self,
        addr: u32,
        offset: u32,
        dst: *mut u8,
    ) -> Result<(), TrapCode> {
        let ea = self.check(addr, offset, 16)?;
        // SAFETY: `check` proved [ea, ea + 16) is inside committed memory (as in `load`);
        // the caller guarantees `dst`. Guest memory and frames never overlap.
        unsafe {
            let v = std::ptr::read_unaligned(self.base.add(ea) as *const [u8; 16]);
            std::ptr::write_unaligned(dst as *mut [u8; 16], v);
        }
        Ok(())
    }

    /// Stores `N` bytes at `addr + offset`.
    #[inline(always)]
    pub fn store<const N: usize>(
        &self,
        addr: u32,
        offset: u32,
        bytes: [u8; N],
    ) -> Result<(), TrapCode> {
        let ea = self.check(addr, offset, N)?;
        // SAFETY: as in `load`: [ea, ea + N) is inside committed memory.
        unsafe { std::ptr::write_unaligned(self.base.add(ea) as *mut [u8; N], bytes) };
        Ok(())
    }

    /// `memory.fill`.
    pub fn fill(&self, dst: u64, val: u8, len: u64) -> Result<(), TrapCode> {
        if dst + len > self.len as u64 {
            return Err(TrapCode::MemoryOutOfBounds);
        }
        // SAFETY: bounds checked just above.
        unsafe { std::ptr::write_bytes(self.base.add(dst as usize), val, len as usize) };
        Ok(())
    }

    /// `memory.copy` from `src` (possibly another memory) into this one; ranges may overlap.
    pub fn copy_from(&self, src: &MemView, dst: u64, from: u64, len: u64) -> Result<(), TrapCode> {
        if dst + len > self.len as u64 || from + len > src.len as u64 {
            return Err(TrapCode::MemoryOutOfBounds);
        }
        // SAFETY: both ranges were bounds checked; `copy` handles overlap.
        unsafe {
            std::ptr::copy(
                src.base.add(from as usize),
                self.base.add(dst as usize),
                len as usize,
            )
        };
        Ok(())
    }

    /// Writes `bytes` at `dst` (`memory.init`, data segments, host writes).
    pub fn write(&self, dst: u64, bytes: &[u8]) -> Result<(), TrapCode> {
        if dst + bytes.len() as u64 > self.len as u64 {
            return Err(TrapCode::MemoryOutOfBounds);
        }
        // SAFETY: bounds checked; `bytes` is host memory that cannot overlap guest memory
        // mutably borrowed elsewhere (it is a shared slice).
        unsafe {
            std::ptr::copy(bytes.as_ptr(), self.base.add(dst as usize), bytes.len());
        }
        Ok(())
    }

    /// Copies `out.len()` bytes at `src` out of the memory.
    pub fn read(&self, src: u64, out: &mut [u8]) -> Result<(), TrapCode> {
        if src + out.len() as u64 > self.len as u64 {
            return Err(TrapCode::MemoryOutOfBounds);
        }
        // SAFETY: bounds checked; `out` is host memory distinct from the guest memory.
        unsafe {
            std::ptr::copy(self.base.add(src as usize), out.as_mut_ptr(), out.len());
        }
        Ok(())
    }

    /// Borrows `len` bytes at `offset` as a slice.
    ///
    /// The borrow must not outlive the memory nor overlap a call that writes memory; the
    /// public API ties it to a borrow of the module so that holds.
    pub fn slice(&self, offset: u64, len: u64) -> Option<&[u8]> {
        if offset + len > self.len as u64 {
            return None;
        }
        if len == 0 {
            return Some(&[]);
        }
        // SAFETY: the range is committed memory (bounds checked); the caller's borrow rules
        // (see above) exclude concurrent mutation through the API.
        Some(unsafe { std::slice::from_raw_parts(self.base.add(offset as usize), len as usize) })
    }
}

struct MemoryState {
    reservation: Reservation,
}

/// A linear memory. Cloning shares it (imports and exports share one memory).
#[derive(Clone)]
pub struct Memory(Arc<MemoryInner>);

struct MemoryInner {
    def: Box<VMMemoryDefinition>,
    ty: MemoryType,
    /// Effective maximum in pages: declared maximum capped by the engine limit.
    max_pages: u64,
    state: Mutex<MemoryState>,
    /// The engine's counters, charged with the committed length.
    accounting: Option<Arc<Accounting>>,
}

impl Drop for MemoryInner {
    fn drop(&mut self) {
        if let Some(a) = &self.accounting {
            a.release(Category::Memories, *self.def.length.get_mut() as u64);
        }
    }
}

impl Memory {
    /// Creates a memory of type `ty`, capped at `limit_pages` (not counted by any engine).
    pub fn new(ty: MemoryType, limit_pages: u64) -> Result<Memory, String> {
        Memory::create(ty, limit_pages, None).map_err(|e| match e {
            crate::Error::Instantiate(m) => m,
            other => other.to_string(),
        })
    }

    /// Creates a memory of type `ty`, capped at `limit_pages`, whose committed bytes count
    /// in `accounting` (and are limited by its budget).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Limit`] when the minimum is above the page limit or the budget,
    /// [`crate::Error::Instantiate`] when the memory cannot be reserved, or for memory64
    /// and shared memories.
    pub fn new_accounted(
        ty: MemoryType,
        limit_pages: u64,
        accounting: &Arc<Accounting>,
    ) -> crate::Result<Memory> {
        Memory::create(ty, limit_pages, Some(accounting.clone()))
    }

    fn create(
        ty: MemoryType,
        limit_pages: u64,
        accounting: Option<Arc<Accounting>>,
    ) -> crate::Result<Memory> {
        if ty.memory64 {
            return Err(crate::Error::Instantiate("unsupported: memory64".into()));
        }
        if ty.shared {
            return Err(crate::Error::Instantiate(
                "unsupported: shared memory".into(),
            ));
        }
        let max_pages = ty.limits.max.unwrap_or(65536).min(limit_pages).min(65536);
        if ty.limits.min > max_pages {
            return Err(LimitError::new(LimitKind::MemoryPages, ty.limits.min, max_pages).into());
        }
        let initial = ty.limits.min as usize * PAGE_SIZE;
        if let Some(a) = &accounting {
            a.try_charge(Category::Memories, initial as u64)?;
        }
        let refund = |e: String| {
            if let Some(a) = &accounting {
                a.release(Category::Memories, initial as u64);
            }
            crate::Error::Instantiate(e)
        };
        let max_bytes = max_pages as usize * PAGE_SIZE;
        let reservation = Reservation::new(MEMORY_RESERVATION, initial)
            .or_else(|_| Reservation::new(max_bytes, initial))
            .map_err(|e| refund(format!("cannot reserve memory: {e}")))?;
        let def = Box::new(VMMemoryDefinition {
            base: reservation.base(),
            length: AtomicUsize::new(initial),
        });
        Ok(Memory(Arc::new(MemoryInner {
            def,
            ty,
            max_pages,
            state: Mutex::new(MemoryState { reservation }),
            accounting,
        })))
    }

    /// The declared type.
    pub fn ty(&self) -> MemoryType {
        self.0.ty
    }

    /// The type as seen by import matching: current size as minimum.
    pub fn current_type(&self) -> MemoryType {
        let mut ty = self.0.ty;
        ty.limits.min = self.size_pages();
        ty
    }

    /// Current size in pages.
    pub fn size_pages(&self) -> u64 {
        (self.0.def.length.load(Ordering::Acquire) / PAGE_SIZE) as u64
    }

    /// Grows by `delta` pages; returns the previous size, or `None` if it cannot grow.
    pub fn grow(&self, delta: u64) -> Option<u64> {
        let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.size_pages();
        let new = old.checked_add(delta)?;
        if new > self.0.max_pages {
            return None;
        }
        let new_bytes = new as usize * PAGE_SIZE;
        // Over the committed-byte budget, growing fails like any other failed grow (-1).
        let delta_bytes = (new - old) * PAGE_SIZE as u64;
        if let Some(a) = &self.0.accounting {
            a.try_charge(Category::Memories, delta_bytes).ok()?;
        }
        if state.reservation.commit(new_bytes).is_err() {
            if let Some(a) = &self.0.accounting {
                a.release(Category::Memories, delta_bytes);
            }
            return None;
        }
        self.0.def.length.store(new_bytes, Ordering::Release);
        Some(old)
    }

    /// Whether the memory sits in a full 8 GiB reservation, so that native code may skip
    /// bounds checks (any 32-bit address plus 32-bit offset lands in it, and everything past
    /// the current length is inaccessible).
    pub fn is_guarded(&self) -> bool {
        let state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        cfg!(unix) && state.reservation.reserved() >= MEMORY_RESERVATION
    }

    /// A bounds-checking view of the memory as it is now.
    pub fn view(&self) -> MemView {
        MemView::of(&self.0.def)
    }

    /// The definition native code and the VM context point at.
    pub fn definition(&self) -> *const VMMemoryDefinition {
        &*self.0.def
    }

    /// Whether two handles are the same memory.
    pub fn same(&self, other: &Memory) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A table of references. Cloning shares it.
#[derive(Clone)]
pub struct Table(Arc<TableInner>);

struct TableInner {
    def: Box<VMTableDefinition>,
    ty: TableType,
    max: u64,
    state: Mutex<Reservation>,
    owner: AtomicUsize,
    /// Instances whose functions were stored in this table and must outlive it.
    keepalive: Mutex<Vec<Arc<dyn Send + Sync>>>,
    /// The engine's counters, charged with 8 bytes per element.
    accounting: Option<Arc<Accounting>>,
}

impl Drop for TableInner {
    fn drop(&mut self) {
        if let Some(a) = &self.accounting {
            a.release(Category::Tables, *self.def.length.get_mut() as u64 * 8);
        }
    }
}

impl Table {
    /// Creates a table of type `ty` filled with `init`, capped at `limit` elements (not
    /// counted by any engine).
    pub fn new(ty: TableType, init: u64, limit: u64) -> Result<Table, String> {
        Table::create(ty, init, limit, None).map_err(|e| match e {
            crate::Error::Instantiate(m) => m,
            other => other.to_string(),
        })
    }

    /// Creates a table like [`Table::new`] whose committed bytes count in `accounting`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Limit`] when the minimum is above `limit` or the budget,
    /// [`crate::Error::Instantiate`] when it cannot be reserved.
    pub fn new_accounted(
        ty: TableType,
        init: u64,
        limit: u64,
        accounting: &Arc<Accounting>,
    ) -> crate::Result<Table> {
        Table::create(ty, init, limit, Some(accounting.clone()))
    }

    fn create(
        ty: TableType,
        init: u64,
        limit: u64,
        accounting: Option<Arc<Accounting>>,
    ) -> crate::Result<Table> {
        let max = ty.limits.max.unwrap_or(u32::MAX as u64).min(limit);
        if ty.limits.min > max {
            return Err(LimitError::new(LimitKind::TableElements, ty.limits.min, max).into());
        }
        let initial = ty.limits.min * 8;
        if let Some(a) = &accounting {
            a.try_charge(Category::Tables, initial)?;
        }
        let reservation = match Reservation::new(max as usize * 8, initial as usize) {
            Ok(r) => r,
            Err(e) => {
                if let Some(a) = &accounting {
                    a.release(Category::Tables, initial);
                }
                return Err(crate::Error::Instantiate(format!(
                    "cannot reserve table: {e}"
                )));
            }
        };
        let def = Box::new(VMTableDefinition {
            base: reservation.base().cast(),
            length: AtomicUsize::new(ty.limits.min as usize),
        });
        let t = Table(Arc::new(TableInner {
            def,
            ty,
            max,
            state: Mutex::new(reservation),
            owner: AtomicUsize::new(0),
            keepalive: Mutex::new(Vec::new()),
            accounting,
        }));
        if init != 0 {
            t.fill(0, init, ty.limits.min)
                .map_err(|_| crate::Error::Instantiate("table init".to_string()))?;
        }
        Ok(t)
    }

    /// The declared type.
    pub fn ty(&self) -> TableType {
        self.0.ty
    }

    /// The type with the current size as minimum.
    pub fn current_type(&self) -> TableType {
        let mut ty = self.0.ty;
        ty.limits.min = self.size();
        ty
    }

    /// Element type.
    pub fn element(&self) -> ValType {
        self.0.ty.element
    }

    /// Current number of elements.
    #[inline]
    pub fn size(&self) -> u64 {
        self.0.def.length.load(Ordering::Acquire) as u64
    }

    #[inline]
    fn slot(&self, i: u64) -> Option<&AtomicU64> {
        if i >= self.size() {
            return None;
        }
        // SAFETY: i < length and [0, length) elements are committed; the base is stable and
        // element storage is only accessed atomically.
        Some(unsafe { &*(self.0.def.base.add(i as usize) as *const AtomicU64) })
    }

    /// Reads element `i`.
    #[inline]
    pub fn get(&self, i: u64) -> Option<u64> {
        self.slot(i).map(|s| s.load(Ordering::Relaxed))
    }

    /// Writes element `i`; false when out of bounds.
    #[inline]
    pub fn set(&self, i: u64, v: u64) -> bool {
        match self.slot(i) {
            Some(s) => {
                s.store(v, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Grows by `delta` elements filled with `init`; returns the old size or `None`.
    pub fn grow(&self, delta: u64, init: u64) -> Option<u64> {
        let mut res = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.size();
        let new = old.checked_add(delta)?;
        if new > self.0.max {
            return None;
        }
        if let Some(a) = &self.0.accounting {
            a.try_charge(Category::Tables, delta * 8).ok()?;
        }
        if res.commit(new as usize * 8).is_err() {
            if let Some(a) = &self.0.accounting {
                a.release(Category::Tables, delta * 8);
            }
            return None;
        }
        self.0.def.length.store(new as usize, Ordering::Release);
        drop(res);
        if init != 0 {
            let _ = self.fill(old, init, delta);
        }
        Some(old)
    }

    /// `table.fill`.
    pub fn fill(&self, start: u64, v: u64, len: u64) -> Result<(), TrapCode> {
        if start.checked_add(len).is_none_or(|e| e > self.size()) {
            return Err(TrapCode::TableOutOfBounds);
        }
        for i in start..start + len {
            self.set(i, v);
        }
        Ok(())
    }

    /// `table.copy` from `src` (maybe the same table); ranges may overlap.
    pub fn copy_from(&self, src: &Table, dst: u64, from: u64, len: u64) -> Result<(), TrapCode> {
        if dst.checked_add(len).is_none_or(|e| e > self.size())
            || from.checked_add(len).is_none_or(|e| e > src.size())
        {
            return Err(TrapCode::TableOutOfBounds);
        }
        if dst <= from {
            for k in 0..len {
                self.set(dst + k, src.get(from + k).unwrap_or(0));
            }
        } else {
            for k in (0..len).rev() {
                self.set(dst + k, src.get(from + k).unwrap_or(0));
            }
        }
        Ok(())
    }

    /// The definition the VM context points at.
    pub fn definition(&self) -> *const VMTableDefinition {
        &*self.0.def
    }

    /// Keeps `owner` alive as long as this table (an instance whose function was stored here).
    pub fn keep_alive(&self, owner: Arc<dyn Send + Sync>) {
        let mut k = self.0.keepalive.lock().unwrap_or_else(|e| e.into_inner());
        let p = Arc::as_ptr(&owner) as *const ();
        if !k.iter().any(|o| Arc::as_ptr(o) as *const () == p) {
            k.push(owner);
        }
    }

    /// Records the instance that defines this table (0 for host-created tables).
    pub fn set_owner(&self, owner: usize) {
        self.0.owner.store(owner, Ordering::Relaxed);
    }

    /// The instance that defines this table, as an address (0 for none).
    pub fn owner(&self) -> usize {
        self.0.owner.load(Ordering::Relaxed)
    }

    /// Whether two handles are the same table.
    pub fn same(&self, other: &Table) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Identity of the table (for keep-alive deduplication).
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

/// A global variable. Cloning shares it.
#[derive(Clone)]
pub struct Global(Arc<GlobalInner>);

struct GlobalInner {
    def: Box<VMGlobalDefinition>,
    ty: GlobalType,
    owner: AtomicUsize,
    keepalive: Mutex<Vec<Arc<dyn Send + Sync>>>,
}

impl Global {
    /// Creates a global holding `value` (two slots; the second is used by v128 only).
    pub fn new(ty: GlobalType, value: [u64; 2]) -> Global {
        Global(Arc::new(GlobalInner {
            def: Box::new(VMGlobalDefinition {
                value: [AtomicU64::new(value[0]), AtomicU64::new(value[1])],
            }),
            ty,
            owner: AtomicUsize::new(0),
            keepalive: Mutex::new(Vec::new()),
        }))
    }

    /// Records the instance that defines this global.
    pub fn set_owner(&self, owner: usize) {
        self.0.owner.store(owner, Ordering::Relaxed);
    }

    /// The instance that defines this global, as an address (0 for none).
    pub fn owner(&self) -> usize {
        self.0.owner.load(Ordering::Relaxed)
    }

    /// The type.
    pub fn ty(&self) -> GlobalType {
        self.0.ty
    }

    /// Reads the value.
    #[inline]
    pub fn get(&self) -> [u64; 2] {
        [
            self.0.def.value[0].load(Ordering::Relaxed),
            self.0.def.value[1].load(Ordering::Relaxed),
        ]
    }

    /// Writes the value (mutability is checked by validation or the API).
    #[inline]
    pub fn set(&self, v: [u64; 2]) {
        self.0.def.value[0].store(v[0], Ordering::Relaxed);
        self.0.def.value[1].store(v[1], Ordering::Relaxed);
    }

    /// The definition the VM context points at.
    pub fn definition(&self) -> *const VMGlobalDefinition {
        &*self.0.def
    }

    /// Keeps `owner` alive as long as this global.
    pub fn keep_alive(&self, owner: Arc<dyn Send + Sync>) {
        let mut k = self.0.keepalive.lock().unwrap_or_else(|e| e.into_inner());
        let p = Arc::as_ptr(&owner) as *const ();
        if !k.iter().any(|o| Arc::as_ptr(o) as *const () == p) {
            k.push(owner);
        }
    }

    /// Whether two handles are the same global.
    pub fn same(&self, other: &Global) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::offset_of;

    #[test]
    fn layout_offsets_are_pinned() {
        assert_eq!(offset_of!(VMContext, memory0), VMCTX_MEMORY0);
        assert_eq!(offset_of!(VMContext, memories), VMCTX_MEMORIES);
        assert_eq!(offset_of!(VMContext, tables), VMCTX_TABLES);
        assert_eq!(offset_of!(VMContext, globals), VMCTX_GLOBALS);
        assert_eq!(offset_of!(VMContext, funcs), VMCTX_FUNCS);
        assert_eq!(offset_of!(VMContext, type_ids), VMCTX_TYPE_IDS);
        assert_eq!(offset_of!(VMContext, interrupt), VMCTX_INTERRUPT);
        assert_eq!(offset_of!(VMContext, instance), VMCTX_INSTANCE);
        assert_eq!(offset_of!(VMContext, fuel), VMCTX_FUEL);
        assert_eq!(offset_of!(VMContext, bodies), VMCTX_BODIES);
        assert_eq!(offset_of!(VMMemoryDefinition, base), VMMEMORY_BASE);
        assert_eq!(offset_of!(VMMemoryDefinition, length), VMMEMORY_LENGTH);
        assert_eq!(offset_of!(VMTableDefinition, base), VMTABLE_BASE);
        assert_eq!(offset_of!(VMTableDefinition, length), VMTABLE_LENGTH);
        assert_eq!(offset_of!(VMFuncRef, native_code), VMFUNCREF_NATIVE_CODE);
        assert_eq!(offset_of!(VMFuncRef, vmctx), VMFUNCREF_VMCTX);
        assert_eq!(offset_of!(VMFuncRef, type_id), VMFUNCREF_TYPE_ID);
        assert_eq!(offset_of!(VMFuncRef, index), VMFUNCREF_INDEX);
        assert_eq!(offset_of!(VMFuncRef, interp_code), VMFUNCREF_INTERP_CODE);
        assert_eq!(offset_of!(VMFuncRef, array_call), VMFUNCREF_ARRAY_CALL);
        assert_eq!(std::mem::size_of::<VMGlobalDefinition>(), 16);
    }

    #[test]
    fn memory_grows_within_limits() {
        let ty = MemoryType {
            limits: crate::types::Limits {
                min: 1,
                max: Some(3),
            },
            memory64: false,
            shared: false,
        };
        let m = Memory::new(ty, 65536).unwrap();
        assert_eq!(m.size_pages(), 1);
        assert_eq!(m.grow(2), Some(1));
        assert_eq!(m.grow(1), None);
        let v = m.view();
        assert!(v.store::<4>(3 * 65536 - 4, 0, [1, 2, 3, 4]).is_ok());
        assert_eq!(v.load::<4>(3 * 65536 - 4, 0), Ok([1, 2, 3, 4]));
        assert!(v.load::<4>(3 * 65536 - 3, 0).is_err());
        assert!(v.load::<1>(u32::MAX, u32::MAX).is_err());
    }

    #[test]
    fn reused_reservations_are_zeroed_and_reprotected() {
        let ty = |min, max| MemoryType {
            limits: crate::types::Limits {
                min,
                max: Some(max),
            },
            memory64: false,
            shared: false,
        };
        for round in 0..40u8 {
            // Alternate sizes so pooled reservations are both shrunk and grown on reuse.
            let pages = 1 + (round % 3) as u64;
            let m = Memory::new(ty(pages, 4), 65536).unwrap();
            let v = m.view();
            assert_eq!(v.len(), pages as usize * PAGE_SIZE);
            for p in 0..pages as u32 {
                assert_eq!(
                    v.load::<8>(p * 65536 + 8, 0),
                    Ok([0; 8]),
                    "old data visible"
                );
                v.store::<8>(p * 65536 + 8, 0, [round + 1; 8]).unwrap();
            }
            assert_eq!(m.grow(4 - pages), Some(pages));
            let v = m.view();
            assert_eq!(v.load::<8>(3 * 65536 + 8, 0), Ok([0; 8]));
            v.store::<8>(3 * 65536 + 8, 0, [round + 1; 8]).unwrap();
        }
    }
}
