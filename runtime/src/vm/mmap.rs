//! Reserved-then-committed virtual memory for linear memories and tables.
//!
//! On Unix a mapping is reserved `PROT_NONE` (address space only) and committed by
//! `mprotect` as it grows, so its base address never moves. Elsewhere the whole reservation
//! is mapped read-write up front with memmap2 (the OS commits pages lazily on first touch).
//!
//! On Linux a dropped reservation goes to a small process-wide pool instead of being
//! unmapped: its committed bytes are discarded with `madvise(MADV_DONTNEED)` (the next
//! touch of a private anonymous page reads zeros, so a new owner never sees old data), or
//! simply zeroed when there are at most 128 KiB of them, and a
//! later reservation of the same size reuses the mapping, adjusting only the protection of
//! the difference between the old and the new committed size. That saves the `mmap`, the
//! `munmap` (and its TLB shoot-down of a whole VMA) and, when sizes match, the `mprotect`
//! of every instantiation. A reservation's base still never moves while it is owned.

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
        #[cfg(target_os = "linux")]
        if let Some(r) = pool::take(reserve, commit) {
            return Ok(r);
        }
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

/// The pool of released reservations (Linux: `MADV_DONTNEED` zeroes private anonymous
/// pages).
#[cfg(target_os = "linux")]
mod pool {
    use super::{Reservation, page_size};
    use std::sync::Mutex;

    /// Released reservations kept for reuse, at most [`MAX_POOLED`] (address space only:
    /// their pages were given back to the OS).
    static POOL: Mutex<Vec<(usize, usize, usize)>> = Mutex::new(Vec::new());
    const MAX_POOLED: usize = 16;
    /// Committed sizes up to this are zeroed in place instead of discarded: clearing a
    /// page or two costs less than `madvise` plus the page faults of the next owner.
    const ZERO_FILL_MAX: usize = 128 * 1024;

    /// A pooled reservation of exactly `reserve` bytes with `commit` bytes usable, if any.
    pub(super) fn take(reserve: usize, commit: usize) -> Option<Reservation> {
        let (base, reserved, committed) = {
            let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
            let i = pool.iter().position(|&(_, r, _)| r == reserve)?;
            pool.swap_remove(i)
        };
        let mut r = Reservation {
            base: base as *mut u8,
            reserved,
            committed,
        };
        let page = page_size();
        let keep = commit.div_ceil(page) * page;
        let had = committed.div_ceil(page) * page;
        if keep < had {
            // SAFETY: [keep, had) is page aligned and inside our reservation; making it
            // inaccessible again restores the "only committed bytes are accessible" state.
            let rc =
                unsafe { libc::mprotect(r.base.add(keep).cast(), had - keep, libc::PROT_NONE) };
            if rc != 0 {
                return None; // `r` is dropped: unmapped or pooled again.
            }
            r.committed = commit;
        }
        r.commit(commit).ok()?;
        r.committed = commit;
        Some(r)
    }

    /// Zeroes `r`'s committed pages and keeps it for reuse; false when the pool is full or
    /// the pages cannot be discarded (the caller then unmaps it).
    pub(super) fn give(r: &Reservation) -> bool {
        if POOL.lock().unwrap_or_else(|e| e.into_inner()).len() >= MAX_POOLED {
            return false;
        }
        let page = page_size();
        let len = r.committed.div_ceil(page) * page;
        if len > 0 && len <= ZERO_FILL_MAX {
            // SAFETY: [base, base + len) is the committed (read-write) prefix of our own
            // mapping, and nothing else refers to it any more.
            unsafe { std::ptr::write_bytes(r.base, 0, len) };
        } else if len > 0 {
            // SAFETY: [base, base + len) is the committed (read-write) prefix of our own
            // private anonymous mapping; after MADV_DONTNEED its pages read as zeros.
            let rc = unsafe { libc::madvise(r.base.cast(), len, libc::MADV_DONTNEED) };
            if rc != 0 {
                return false;
            }
        }
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() >= MAX_POOLED {
            return false;
        }
        pool.push((r.base as usize, r.reserved, r.committed));
        true
    }
}

#[cfg(unix)]
impl Drop for Reservation {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if pool::give(self) {
            return;
        }
        // SAFETY: base/reserved describe exactly the mapping created in `new`, and nothing
        // can reach it after the owner is dropped.
        unsafe {
            libc::munmap(self.base.cast(), self.reserved);
        }
    }
}
