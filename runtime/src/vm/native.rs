//! Entering native code, and leaving it when it traps: the entry stub, per-thread
//! activations, the code registry and the signal handler.

use super::{VMContext, VMFuncRef};
use crate::error::Trap;
use std::cell::RefCell;

thread_local! {
    static PENDING: RefCell<Option<Trap>> = const { RefCell::new(None) };
}

/// Records `trap` as the reason native code on this thread is about to trap with
/// `TRAP_PENDING`.
pub(crate) fn set_pending_trap(trap: Trap) {
    PENDING.with(|p| *p.borrow_mut() = Some(trap));
}

/// Runs a function without native code for an adapter (see `abi`).
pub(crate) fn call_from_native(
    _callee: *const VMFuncRef,
    _caller_vmctx: *const VMContext,
    _values: *mut u64,
) -> u32 {
    set_pending_trap(Trap::host("unsupported: native adapters are not wired yet"));
    1
}
