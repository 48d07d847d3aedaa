//! Linear memory as the host sees it.

use crate::definitions::MemoryDefinition;
use kiln_runtime::vm::{MemView, PAGE_SIZE};

/// A linear memory of a module. Reads and writes are little-endian and bounds-checked:
/// out of range they return `None` / `false`, never panic.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// let runtime = kiln::Runtime::with_config(kiln::RuntimeConfig::interpreter())?;
/// let wasm = wat::parse_str(r#"(module (memory (export "mem") 1 2))"#).unwrap();
/// let module = runtime.instantiate_bytes(&wasm)?;
/// let memory = module.memory().unwrap();
/// assert!(memory.write_u32_le(8, 0xdead_beef));
/// assert_eq!(memory.read_u32_le(8), Some(0xdead_beef));
/// assert_eq!(memory.read_u8(65536), None);
/// assert_eq!(memory.grow(1), Some(1));
/// assert_eq!(memory.size(), 2 * 65536);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Memory {
    pub(crate) memory: kiln_runtime::Memory,
    pub(crate) definition: MemoryDefinition,
}

/// A view of a range of memory, borrowed from a [`Memory`] handle.
///
/// Memories never move (they are reserved up front and only grow in place), so a view
/// stays valid whatever happens to the memory. It does not hand out `&[u8]` into guest
/// memory, which Wasm code may write while the view exists; instead it copies on access.
#[derive(Clone, Copy)]
pub struct MemoryView<'a> {
    view: MemView,
    offset: u64,
    len: u64,
    _memory: std::marker::PhantomData<&'a Memory>,
}

impl MemoryView<'_> {
    /// Length of the view in bytes.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The byte at `index` of the view.
    pub fn get(&self, index: usize) -> Option<u8> {
        if index as u64 >= self.len {
            return None;
        }
        let mut b = [0u8];
        self.view.read(self.offset + index as u64, &mut b).ok()?;
        Some(b[0])
    }

    /// Copies the view into `out` (which must have the view's length).
    pub fn copy_to(&self, out: &mut [u8]) -> bool {
        out.len() as u64 == self.len && self.view.read(self.offset, out).is_ok()
    }

    /// Copies the view into a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.len as usize];
        let _ = self.view.read(self.offset, &mut out);
        out
    }
}

macro_rules! rw {
    ($($read:ident / $write:ident: $t:ty, $n:literal;)*) => {$(
        #[doc = concat!("Reads a little-endian `", stringify!($t), "` at `offset`, or `None` out of range.")]
        pub fn $read(&self, offset: u32) -> Option<$t> {
            self.memory.view().load::<$n>(offset, 0).ok().map(<$t>::from_le_bytes)
        }

        #[doc = concat!("Writes a little-endian `", stringify!($t), "` at `offset`; false out of range.")]
        pub fn $write(&self, offset: u32, v: $t) -> bool {
            self.memory.view().store::<$n>(offset, 0, v.to_le_bytes()).is_ok()
        }
    )*};
}

impl Memory {
    /// The memory's definition (limits, import, exports).
    pub fn definition(&self) -> &MemoryDefinition {
        &self.definition
    }

    /// Current size in bytes (a `u64`, so 4 GiB does not wrap to 0).
    pub fn size(&self) -> u64 {
        self.memory.size_pages() * PAGE_SIZE as u64
    }

    /// Grows by `delta_pages`; returns the previous size in pages, or `None` when the
    /// maximum (or the runtime's limit) would be exceeded.
    pub fn grow(&self, delta_pages: u32) -> Option<u32> {
        self.memory.grow(delta_pages as u64).map(|p| p as u32)
    }

    rw! {
        read_u8 / write_u8: u8, 1;
        read_u16_le / write_u16_le: u16, 2;
        read_u32_le / write_u32_le: u32, 4;
        read_u64_le / write_u64_le: u64, 8;
        read_f32_le / write_f32_le: f32, 4;
        read_f64_le / write_f64_le: f64, 8;
    }

    /// A view of `len` bytes at `offset`, or `None` when out of range.
    pub fn read(&self, offset: u32, len: u32) -> Option<MemoryView<'_>> {
        let view = self.memory.view();
        if offset as u64 + len as u64 > view.len() as u64 {
            return None;
        }
        Some(MemoryView {
            view,
            offset: offset as u64,
            len: len as u64,
            _memory: std::marker::PhantomData,
        })
    }

    /// Writes `bytes` at `offset`; false (and nothing written) when out of range.
    pub fn write(&self, offset: u32, bytes: &[u8]) -> bool {
        self.memory.view().write(offset as u64, bytes).is_ok()
    }

    /// Writes the UTF-8 bytes of `s` at `offset`; false when out of range.
    pub fn write_str(&self, offset: u32, s: &str) -> bool {
        self.write(offset, s.as_bytes())
    }
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memory")
            .field("size", &self.size())
            .field("definition", &self.definition)
            .finish()
    }
}

impl std::fmt::Debug for MemoryView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryView")
            .field("offset", &self.offset)
            .field("len", &self.len)
            .finish()
    }
}
