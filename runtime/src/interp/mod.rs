//! The interpreter tier: lazy one-pass translation to a register-style code
//! ([`ir`]) and a dispatch loop over it (the private `exec` module).

#[allow(unsafe_code)]
mod exec;
pub mod ir;
pub mod num;
mod translate;

pub(crate) use exec::{
    call_for_native, funcref, instance_of_funcref, invoke, outer_depth, with_outer_depth,
};
pub(crate) use translate::translate;

use std::sync::atomic::{AtomicU32, Ordering};

/// Translated code of one function, shared by every instance of its module.
#[derive(Debug)]
pub struct FuncCode {
    /// The instructions.
    pub ops: Box<[ir::Op]>,
    /// Slots the frame needs: parameters, locals and the deepest operand stack.
    pub frame_slots: u32,
    /// Slots taken by parameters.
    pub param_slots: u32,
    /// Slots taken by parameters and locals.
    pub local_slots: u32,
    /// Slots taken by results.
    pub result_slots: u32,
    /// Index of the function in its module.
    pub func_index: u32,
    /// Calls that entered this function in the interpreter.
    pub calls: AtomicU32,
    /// Loop back-edges taken in the interpreter.
    pub backedges: AtomicU32,
}

impl FuncCode {
    /// Interpreted calls and back-edges so far (approximate: counted without atomic
    /// read-modify-write, so racing threads may lose increments).
    pub fn hotness(&self) -> (u32, u32) {
        (
            self.calls.load(Ordering::Relaxed),
            self.backedges.load(Ordering::Relaxed),
        )
    }
}

/// Cheap, lossy increment: a load and a store, no locked instruction.
#[inline(always)]
pub(crate) fn bump(counter: &AtomicU32) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}
