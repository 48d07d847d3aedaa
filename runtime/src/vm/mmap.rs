//! Reserved-then-committed virtual memory for linear memories and tables.
//!
//! On Unix a mapping is reserved `PROT_NONE` (address space only) and committed by
//! `mprotect` as it grows, so its base address never moves. Elsewhere the whole reservation
//! is mapped read-write up front with memmap2 (the OS commits pages lazily on first touch).

use std::io;

/// A region of address space whose base address never changes.
pub struct Reservation {
    base: *mut u8,
    reserved: usize,
    committed: usize,
    #[cfg(not(unix))]
    _map: memmap2::MmapMut,
}

// SAFETY: the reservation is plain memory owned by this value; access to its bytes is
// synchronised by the owners (see `Memory` and `Table`).
unsafe impl Send for Reservation {}
// SAFETY: as above; `&Reservation` only exposes the base pointer and sizes.
unsafe impl Sync for Reservation {}

impl Reservation {
    /// Reserves `reserve` bytes of address space and makes the first `commit` bytes usable.
    pub fn new(reserve: usize, commit: usize) -> io::Result<Reservation> {
        assert!(commit <= reserve);
        let reserve = reserve.max(1);
        #[cfg(unix)]
        {
            // SAFETY: an anonymous private mapping with no address hint touches no existing
            // memory; the result is checked for MAP_FAILED.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    reserve,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if ptr == libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            let mut r = Reservation {
                base: ptr.cast(),
                reserved: reserve,
                committed: 0,
            };
            r.commit(commit)?;
            Ok(r)
        }
        #[cfg(not(unix))]
        {
            let mut map = memmap2::MmapMut::map_anon(reserve)?;
            Ok(Reservation {
                base: map.as_mut_ptr(),
                reserved: reserve,
                committed: commit,
                _map: map,
            })
        }
    }

    /// Makes the first `len` bytes readable and writable (never shrinks).
    pub fn commit(&mut self, len: usize) -> io::Result<()> {
        if len > self.reserved {
            return Err(io::Error::other("commit beyond reservation"));
        }
        if len <= self.committed {
            return Ok(());
        }
        #[cfg(unix)]
        {
            let page = page_size();
            let start = self.committed & !(page - 1);
            let end = len.div_ceil(page) * page;
            let end = end.min(self.reserved);
            // SAFETY: [start, end) lies inside our own reservation (start is page aligned,
            // end is clamped to the reservation), so only our mapping changes protection.
            let rc = unsafe {
                libc::mprotect(
                    self.base.add(start).cast(),
                    end - start,
                    libc::PROT_READ | libc::PROT_WRITE,
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        self.committed = len;
        Ok(())
    }

    /// Base address.
    pub fn base(&self) -> *mut u8 {
        self.base
    }

    /// Bytes reserved.
    pub fn reserved(&self) -> usize {
        self.reserved
    }

    /// Bytes committed (usable).
    pub fn committed(&self) -> usize {
        self.committed
    }
}

#[cfg(unix)]
fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p <= 0 { 4096 } else { p as usize }
}

#[cfg(unix)]
impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: base/reserved describe exactly the mapping created in `new`, and nothing
        // can reach it after the owner is dropped.
        unsafe {
            libc::munmap(self.base.cast(), self.reserved);
        }
    }
}
