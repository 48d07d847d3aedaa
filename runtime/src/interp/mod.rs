//! The interpreter tier: lazy one-pass translation to a register-style code
//! ([`ir`]) and a dispatch loop over it (the private `exec` module).

#[allow(unsafe_code)]
mod exec;
pub mod ir;
pub mod num;
pub mod simd;
mod translate;

pub(crate) use exec::{
    call_for_native, funcref, instance_of_funcref, invoke, outer_depth, stop_requested,
    with_entered, with_outer_depth,
};
pub(crate) use translate::translate;

use std::sync::atomic::{AtomicU32, Ordering};

/// Translated code of one function, shared by every instance of its module.
#[derive(Debug)]
pub struct FuncCode {
    /// The instructions.
    pub ops: Box<[ir::Op]>,
    /// 128-bit immediates (`v128.const` values and `i8x16.shuffle` lane indices), which do
    /// not fit in an instruction.
    pub v128_consts: Box<[u128]>,
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
    /// Loop headers where a running frame may move to native code (engine `tiered` only),
    /// sorted by position.
    pub loops: Box<[LoopHeader]>,
    /// Hotness (calls plus back-edges) at which a call asks the tiering policy to compile
    /// this function; `u32::MAX` when there is nothing (more) to ask.
    pub tier_at: AtomicU32,
    /// Back-edge count at which a back-edge next checks in with the tiering policy (it
    /// then requests the function and, at an enterable loop header, an OSR entry);
    /// `u32::MAX`: never.
    pub osr_at: AtomicU32,
}

/// A loop header in the interpreter's code and the loop's ordinal in the Wasm body (what
/// an OSR entry is entered with, see [`crate::OsrEntry`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoopHeader {
    /// Index of the header's first instruction in [`FuncCode::ops`].
    pub at: u32,
    /// How many `loop` operators precede this one in the body.
    pub ordinal: u32,
}

impl FuncCode {
    /// The loop whose header is instruction `at`, if a frame can enter native code there.
    pub fn loop_at(&self, at: u32) -> Option<u32> {
        let i = self.loops.binary_search_by_key(&at, |l| l.at).ok()?;
        Some(self.loops[i].ordinal)
    }

    /// Calls plus back-edges so far (wrapping).
    #[inline(always)]
    pub(crate) fn heat(&self) -> u32 {
        self.calls
            .load(Ordering::Relaxed)
            .wrapping_add(self.backedges.load(Ordering::Relaxed))
    }

    /// Index of the final `Return`, where a frame whose rest ran natively continues.
    pub fn osr_exit(&self) -> usize {
        self.ops.len() - 1
    }

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
