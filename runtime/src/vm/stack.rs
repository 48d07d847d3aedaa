//! The host stack of the calling thread: its measured limits, the per-thread count of host
//! re-entries (Wasm -> host -> Wasm nestings) and the checks that trap with "call stack
//! exhausted" before Rust code could overflow the stack.
//!
//! Wasm frames of the interpreter live on the heap and native Wasm frames are caught by
//! the guard page (see the `native` module), but every host re-entry nests Rust frames
//! (the API call, the interpreter or the entry stub, the host function). Two checks keep
//! them on the stack:
//!
//! * `enter_host_nesting`, at every call from the host into Wasm (the same point in
//!   every engine), counts the nestings of the thread and traps past
//!   [`max_host_nesting`], a limit derived from the thread's stack size alone, so the
//!   allowed depth does not depend on the engine;
//! * `check_room`, there and where native code calls out to the runtime, compares the
//!   stack pointer with the measured end of the stack, as a backstop for whatever the
//!   count does not cover (an embedder that called in with most of its stack used, or
//!   native recursion that used most of it before calling the host).

use crate::error::{Trap, TrapCode};
use std::cell::Cell;

/// Stack one host re-entry may use: the Rust frames between two calls from the host into
/// Wasm in the engine with the largest ones (about 7.5 KiB in a debug build of engine
/// `jit`, 4 KiB in a release build), rounded up.
pub const NESTING_BUDGET: usize = 8 * 1024;

/// Stack kept out of the nesting budget: the embedder's frames below the outermost call
/// and the deepest nesting's own Wasm and host frames.
pub const BASE_RESERVE: usize = 64 * 1024;

/// Stack that must be left when the host enters Wasm or native code calls out to the
/// runtime (a host function, or the interpreter); closer to the end of the stack the call
/// traps with "call stack exhausted" instead.
pub const CALL_ROOM: usize = 32 * 1024;

/// Stack assumed below the first call on a thread whose limits cannot be read.
const UNKNOWN_STACK_SIZE: usize = 128 * 1024;

/// The most stack a thread is taken to have: a main thread with an unlimited
/// `RLIMIT_STACK` reports everything down to the next mapping (terabytes).
const MAX_STACK_SIZE: usize = 1 << 30;

/// The calling thread's stack as measured once.
#[derive(Clone, Copy)]
struct ThreadStack {
    /// Lowest usable address.
    limit: usize,
    /// Usable bytes from the top of the stack down to `limit`.
    size: usize,
}

/// What a call from the host checks, kept together so that entering costs one
/// thread-local read and write.
#[derive(Clone, Copy)]
struct HostCalls {
    /// Calls from the host into Wasm in flight on this thread.
    nesting: usize,
    /// [`max_host_nesting`] of this thread.
    max_nesting: usize,
    /// The stack pointer below which a call has less than [`CALL_ROOM`] left; 0 until the
    /// thread's stack is measured.
    room_floor: usize,
}

thread_local! {
    static STACK: Cell<Option<ThreadStack>> = const { Cell::new(None) };
    static HOST_CALLS: Cell<HostCalls> = const {
        Cell::new(HostCalls { nesting: 0, max_nesting: 0, room_floor: 0 })
    };
}

/// Address of a local of the caller's frame (approximately its stack pointer).
#[inline(always)]
fn stack_pointer() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

fn thread_stack() -> ThreadStack {
    if let Some(s) = STACK.get() {
        return s;
    }
    let s = sys_stack().unwrap_or_else(|| ThreadStack {
        limit: stack_pointer().saturating_sub(UNKNOWN_STACK_SIZE),
        size: UNKNOWN_STACK_SIZE,
    });
    STACK.set(Some(s));
    s
}

/// Bytes of stack left below the caller's frame on this thread.
pub fn stack_left() -> usize {
    stack_pointer().saturating_sub(thread_stack().limit)
}

/// How many calls from the host into Wasm may nest on this thread (beyond the outermost),
/// derived from the size of its stack: `(size - BASE_RESERVE) / NESTING_BUDGET`, e.g. 24
/// on a 256 KiB thread and 1015 on an 8 MiB one (one page of each is not counted).
pub fn max_host_nesting() -> usize {
    thread_stack().size.saturating_sub(BASE_RESERVE) / NESTING_BUDGET
}

/// Traps with "call stack exhausted" unless at least [`CALL_ROOM`] bytes of stack are left.
#[inline]
pub(crate) fn check_room() -> Result<(), Trap> {
    if stack_left() < CALL_ROOM {
        return Err(Trap::new(TrapCode::StackExhausted));
    }
    Ok(())
}

/// A call from the host into Wasm in flight; leaving it (drop) ends the nesting.
pub(crate) struct HostNesting(());

impl Drop for HostNesting {
    #[inline]
    fn drop(&mut self) {
        let mut calls = HOST_CALLS.get();
        calls.nesting -= 1;
        HOST_CALLS.set(calls);
    }
}

/// Starts a call from the host into Wasm.
///
/// # Errors
///
/// "call stack exhausted" when [`max_host_nesting`] calls are already nested on this
/// thread or less than [`CALL_ROOM`] bytes of stack are left.
#[inline]
pub(crate) fn enter_host_nesting() -> Result<HostNesting, Trap> {
    let mut calls = HOST_CALLS.get();
    if calls.room_floor == 0 {
        calls = measure_host_calls(calls);
    }
    if calls.nesting > calls.max_nesting || stack_pointer() < calls.room_floor {
        return Err(Trap::new(TrapCode::StackExhausted));
    }
    calls.nesting += 1;
    HOST_CALLS.set(calls);
    Ok(HostNesting(()))
}

/// The first call from the host on this thread: `calls` with the measured limits.
#[cold]
fn measure_host_calls(calls: HostCalls) -> HostCalls {
    HostCalls {
        max_nesting: max_host_nesting(),
        room_floor: thread_stack().limit.saturating_add(CALL_ROOM).max(1),
        ..calls
    }
}

#[cfg(target_os = "linux")]
fn sys_stack() -> Option<ThreadStack> {
    // SAFETY: plain libc queries of the calling thread's attributes into local storage.
    // For the main thread glibc derives the size from RLIMIT_STACK and the mappings below.
    let (addr, size) = unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let rc = libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        if rc != 0 {
            return None;
        }
        (addr as usize, size)
    };
    // The guard page(s) lie inside the reported range for threads glibc created; one page
    // of margin keeps `limit` above them either way.
    let page = 4096;
    let top = addr.checked_add(size)?;
    let size = size.saturating_sub(page).min(MAX_STACK_SIZE);
    let limit = top - size;
    let here = stack_pointer();
    if here <= limit || here > top {
        return None;
    }
    Some(ThreadStack { limit, size })
}

#[cfg(not(target_os = "linux"))]
fn sys_stack() -> Option<ThreadStack> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_measures_its_own_stack() {
        let (size, left, max) = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let s = thread_stack();
                (s.size, stack_left(), max_host_nesting())
            })
            .unwrap()
            .join()
            .unwrap();
        // glibc may round the size up (and adds its guard pages and TLS to the mapping).
        assert!((200 * 1024..=300 * 1024).contains(&size), "{size}");
        assert!(left < size && left > size / 2, "{left} of {size}");
        assert_eq!(max, (size - BASE_RESERVE) / NESTING_BUDGET);
    }

    #[test]
    fn nesting_is_counted_and_limited() {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let max = max_host_nesting();
                let mut held = Vec::new();
                for _ in 0..=max {
                    held.push(enter_host_nesting().expect("within the limit"));
                }
                let err = enter_host_nesting().err().expect("past the limit");
                assert_eq!(err.code(), TrapCode::StackExhausted);
                held.pop();
                assert!(enter_host_nesting().is_ok());
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
