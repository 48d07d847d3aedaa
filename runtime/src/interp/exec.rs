//! The interpreter's executor.
//!
//! Every instruction kind has one handler, `unsafe fn(ip, slots, ctx) -> Exit`, written once
//! below. Two backends run the same handlers:
//!
//! * threaded (release builds on x86_64 and aarch64): a handler ends by calling the handler
//!   of the next instruction through [`HANDLERS`], indexed by the instruction's tag. The call
//!   is in tail position with identical signatures, no stack arguments and nothing live after
//!   it, so LLVM emits a `jmp`: the native stack does not grow
//!   (`tests/threaded_dispatch.rs` runs hundreds of millions of instructions to prove it);
//! * trampoline (debug builds and other targets): a handler stores the next `ip`/`slots` in
//!   the context and returns `Exit::Next` to a loop in [`run`], which checks the frame
//!   invariants in debug builds.
//!
//! Handlers keep their fast paths inline and move anything with a non-trivial stack frame
//! (host calls, translation, bulk memory and table instructions, trap construction) into
//! out-of-line functions that return the next instruction pointer, so that the dispatching
//! call is never blocked from becoming a tail call by an escaping local.
//!
//! Wasm-to-Wasm calls never recurse on the host stack: frames live in a vector and the
//! value slots of all frames in one `Vec<u64>` (a callee's frame starts where the caller
//! placed its arguments). Only host functions that call back into Wasm nest `invoke`s, and
//! those are bounded by a native stack budget.
//!
//! This module holds the interpreter's `unsafe`: turning the code and instance pointers of
//! suspended frames and funcref values back into references.

use super::ir::{Op, Slot, for_each_op};
use super::num;
use super::simd;
use super::{FuncCode, bump};
use crate::error::{FrameInfo, FrameSegment, Trap, TrapCode};
use crate::instance::{
    Callee, Caller, CallerTier, InstanceInner, retain_in_global, retain_in_table,
};
use crate::module::tier;
use crate::vm::{MemView, VMFuncRef};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU32, Ordering};

struct Frame {
    code: *const FuncCode,
    inst: *const InstanceInner,
    /// Where to continue in the caller.
    ip: *const Op,
    fp: usize,
}

#[derive(Default)]
struct Stacks {
    values: Vec<u64>,
    frames: Vec<Frame>,
}

thread_local! {
    static POOL: RefCell<Vec<Stacks>> = const { RefCell::new(Vec::new()) };
    /// Frames held by the invocations below this one on the thread.
    static OUTER_DEPTH: Cell<usize> = const { Cell::new(0) };
    /// The interrupt word of the instance the innermost call from the host entered through
    /// (null outside calls): a stop of that instance stops the call in any instance's code.
    static ENTERED: Cell<*const AtomicU32> = const { Cell::new(std::ptr::null()) };
}

/// Runs `f` as a call from the host entering through the instance whose interrupt word is
/// `entered` (restoring the outer call's word afterwards, for host callbacks).
#[inline]
pub(crate) fn with_entered<R>(entered: &AtomicU32, f: impl FnOnce() -> R) -> R {
    /// Restores the outer word even when `f` unwinds, so the thread never keeps a pointer
    /// to a word whose instance may be gone.
    struct Restore(*const AtomicU32);
    impl Drop for Restore {
        fn drop(&mut self) {
            ENTERED.set(self.0);
        }
    }
    let _restore = Restore(ENTERED.replace(entered));
    f()
}

/// The slow path of an interrupt poll, taken when the word of the instance whose code runs
/// (`own`) is non-zero: whether the current call must stop. It must when that instance is
/// stopped ([`INTERRUPT_STOP`](crate::INTERRUPT_STOP)) or the instance the call entered
/// through is; a word that only carries pokes (another instance's close looking for its
/// calls) lets the call go on.
#[cold]
#[inline(never)]
pub(crate) fn stop_requested(own: &AtomicU32) -> bool {
    // The poll read the word relaxed; this pairs with the release of the poke, so the stop
    // bit set before it is visible below.
    std::sync::atomic::fence(Ordering::Acquire);
    if own.load(Ordering::Acquire) & crate::INTERRUPT_STOP != 0 {
        return true;
    }
    let entered = ENTERED.get();
    // SAFETY: `with_entered` sets the word of an instance that the call from the host holds
    // alive (through its `Func`) until it has restored the previous value.
    !entered.is_null() && unsafe { &*entered }.load(Ordering::Acquire) & crate::INTERRUPT_STOP != 0
}

/// Frames held by the invocations below the current one on this thread.
pub(crate) fn outer_depth() -> usize {
    OUTER_DEPTH.get()
}

/// Runs `f` with the frames below it counted as `depth` (native code calling back into the
/// runtime knows its depth only as a number).
pub(crate) fn with_outer_depth<R>(depth: usize, f: impl FnOnce() -> R) -> R {
    let saved = OUTER_DEPTH.replace(depth);
    let r = f();
    OUTER_DEPTH.set(saved);
    r
}

/// Reinterprets a funcref value as its indirection slot.
#[inline(always)]
pub(crate) fn funcref<'a>(v: u64) -> &'a VMFuncRef {
    debug_assert!(v != 0);
    // SAFETY: non-null funcref values are only ever produced from `VMFuncRef`s owned by a
    // live instance (`InstanceInner::funcs`), and every place that stores one (tables,
    // globals, other instances) keeps that instance alive.
    unsafe { &*(v as *const VMFuncRef) }
}

/// The instance that defines the function of a funcref value.
#[inline(always)]
pub(crate) fn instance_of_funcref<'a>(v: u64) -> &'a InstanceInner {
    let f = funcref(v);
    // SAFETY: `vmctx` of a live funcref points to its instance's context, whose `instance`
    // field is the address of the (live) `InstanceInner` set at allocation.
    unsafe { &*((*f.vmctx).instance as *const InstanceInner) }
}

/// Calls `f` with parameters in `slots` and writes its results back into `slots`.
pub(crate) fn invoke(f: &VMFuncRef, slots: &mut [u64]) -> Result<(), Trap> {
    let inst = instance_of_funcref(f as *const VMFuncRef as u64);
    // Every engine enters here from the host, so the nesting limit is engine-independent.
    let _nesting = crate::vm::stack::enter_host_nesting()?;
    match inst.callee(f.index) {
        Callee::Host(h) => (h.func)(
            &Caller {
                instance: None,
                tier: CallerTier::Host,
            },
            slots,
        ),
        Callee::Wasm if !f.array_call.load(Ordering::Acquire).is_null() => {
            crate::vm::native::enter(f, f.vmctx, slots)
        }
        Callee::Wasm => run_pooled(inst, f.index, slots),
    }
}

/// Runs `f` for native code (the adapter path): a host function sees `caller` as its
/// caller; a Wasm function runs natively if it has native code by now, else interpreted.
pub(crate) fn call_for_native(
    f: &VMFuncRef,
    caller: Option<&InstanceInner>,
    slots: &mut [u64],
) -> Result<(), Trap> {
    let inst = instance_of_funcref(f as *const VMFuncRef as u64);
    match inst.callee(f.index) {
        Callee::Host(h) => (h.func)(
            &Caller {
                instance: caller,
                tier: CallerTier::Native,
            },
            slots,
        ),
        Callee::Wasm if !f.array_call.load(Ordering::Acquire).is_null() => {
            let vmctx = caller.map_or(f.vmctx, |c| &*c.vmctx as *const _);
            crate::vm::native::enter(f, vmctx, slots)
        }
        Callee::Wasm => run_pooled(inst, f.index, slots),
    }
}

/// Interprets function `index` of `inst` on a pooled value stack.
fn run_pooled(inst: &InstanceInner, index: u32, slots: &mut [u64]) -> Result<(), Trap> {
    let mut stacks = POOL.with(|p| p.borrow_mut().pop()).unwrap_or_default();
    let r = run_outer(&mut stacks, inst, index, slots);
    stacks.frames.clear();
    POOL.with(|p| p.borrow_mut().push(stacks));
    r
}

fn run_outer(
    stacks: &mut Stacks,
    inst: &InstanceInner,
    index: u32,
    slots: &mut [u64],
) -> Result<(), Trap> {
    let code = inst.code(index)?;
    let config = inst.engine.config();
    let need = code.frame_slots as usize;
    if stacks.values.len() < need {
        if need > config.max_stack_slots {
            return Err(Trap::new(TrapCode::StackExhausted));
        }
        stacks.values.resize(need.max(1024), 0);
    }
    let p = code.param_slots as usize;
    stacks.values[..p].copy_from_slice(&slots[..p]);
    stacks.values[p..code.local_slots as usize].fill(0);
    bump(&code.calls);
    if code.heat() >= code.tier_at.load(Ordering::Relaxed) {
        function_hot(inst, code);
        // SAFETY: `funcs` holds live slots of the instance's function space.
        let f = unsafe { &*inst.funcs[index as usize] };
        if !f.array_call.load(Ordering::SeqCst).is_null() {
            return crate::vm::native::enter(f, f.vmctx, slots);
        }
    }
    let depth_budget = config.max_call_depth.saturating_sub(OUTER_DEPTH.get());
    if depth_budget == 0 {
        return Err(Trap::new(TrapCode::StackExhausted));
    }
    run(stacks, code, inst, depth_budget)?;
    let r = code.result_slots as usize;
    slots[..r].copy_from_slice(&stacks.values[..r]);
    Ok(())
}

#[cold]
#[inline(never)]
fn trap_with_backtrace(
    code: TrapCode,
    host: Option<Trap>,
    current: &FuncCode,
    inst: &InstanceInner,
    frames: &[Frame],
) -> Trap {
    host.unwrap_or_else(|| Trap::new(code))
        .with_backtrace(interp_backtrace(current, inst, frames))
}

/// The interpreter's frames, innermost (`current`) first.
fn interp_backtrace(current: &FuncCode, inst: &InstanceInner, frames: &[Frame]) -> FrameSegment {
    FrameSegment::collect(frames.len() + 1, |i| match i {
        0 => frame_info(current, inst),
        i => suspended_frame_info(&frames[frames.len() - i]),
    })
}

/// The suspended interpreter frames, innermost first.
fn callers_backtrace(frames: &[Frame]) -> FrameSegment {
    FrameSegment::collect(frames.len(), |i| {
        suspended_frame_info(&frames[frames.len() - 1 - i])
    })
}

fn suspended_frame_info(f: &Frame) -> FrameInfo {
    // SAFETY: suspended frames point to code and instances that are alive for the whole
    // invocation (see `run`).
    let (c, i) = unsafe { (&*f.code, &*f.inst) };
    frame_info(c, i)
}

fn frame_info(code: &FuncCode, inst: &InstanceInner) -> FrameInfo {
    FrameInfo {
        module: inst.instance_name(),
        func_index: code.func_index,
        func_name: inst.func_name(code.func_index),
    }
}

/// Engine `tiered`: `code`'s function got hot on a call; asks the policy to compile it.
#[cold]
#[inline(never)]
fn function_hot(inst: &InstanceInner, code: &FuncCode) {
    code.tier_at.store(u32::MAX, Ordering::Relaxed);
    request_function(inst, code.func_index, false);
}

/// Queues function `index` of `inst`'s module for compilation, once per module (until the
/// policy hands the request back, see `Module::tier_cool`); `in_loop` when a running frame
/// got hot in one of its loops (and waits for the OSR entry).
fn request_function(inst: &InstanceInner, index: u32, in_loop: bool) {
    let (Some(module), Some(policy)) = (inst.module.as_ref(), inst.engine.tier_policy()) else {
        return;
    };
    let Some(tiering) = module.0.tiering.as_ref() else {
        return;
    };
    let slot = &tiering.funcs[(index - module.0.num_imported_funcs) as usize];
    if slot
        .state
        .compare_exchange(
            tier::COLD,
            tier::QUEUED,
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_ok()
    {
        if in_loop {
            policy.loop_hot(module, index);
        } else {
            policy.function_hot(module, index);
        }
    }
}

/// Engine `tiered`: a back-edge (the branch at `ip`, `rel` instructions back) of a hot
/// function requests the function; at a loop header a frame can leave, once the compiled
/// function's OSR entry exists the frame moves into it and this returns the function's
/// final `Return`. Otherwise returns the branch target (null after recording a trap).
#[cold]
#[inline(never)]
fn loop_hot(ip: *const Op, rel: i32, cx: &mut Ctx<'_>) -> *const Op {
    let code = cx.code;
    let inst = cx.inst;
    // SAFETY: the translator only emits targets inside the function's code.
    let target = unsafe { ip.offset(rel as isize) };
    let backedges = code.backedges.load(Ordering::Relaxed);
    let interval = inst.engine.config().tier_threshold.clamp(16, 4096);
    code.osr_at
        .store(backedges.saturating_add(interval), Ordering::Relaxed);
    match osr_entry_of(inst, code, target) {
        OsrCheck::Enter { entry, ordinal } => osr_enter(cx, entry, ordinal).unwrap_or(target),
        OsrCheck::Later => target,
        OsrCheck::Never => {
            // No entry for this frame: only later calls can run native code.
            if code.tier_at.swap(u32::MAX, Ordering::Relaxed) != u32::MAX {
                request_function(inst, code.func_index, false);
            }
            target
        }
    }
}

/// What a hot back-edge does about OSR.
enum OsrCheck {
    /// Move the frame into the function's OSR entry at loop `ordinal`.
    Enter { entry: usize, ordinal: u32 },
    /// The function is being compiled: check again later.
    Later,
    /// No OSR here: not an enterable header, not a tiered module, or no entry for it.
    Never,
}

/// Looks up the function's OSR entry for the loop whose header is `target`, requesting the
/// function (whose compile brings the entry) if nobody has. One entry serves every
/// enterable loop of the function, so a function with several loops in sequence (or
/// nested) compiles once, whichever loop got hot first.
fn osr_entry_of(inst: &InstanceInner, code: &FuncCode, target: *const Op) -> OsrCheck {
    let Some((module, tiering)) = inst
        .module
        .as_ref()
        .and_then(|m| Some((m, m.0.tiering.as_ref()?)))
    else {
        code.osr_at.store(u32::MAX, Ordering::Relaxed);
        return OsrCheck::Never;
    };
    let at = (target as usize - code.ops.as_ptr() as usize) / std::mem::size_of::<Op>();
    let Some(ordinal) = code.loop_at(at as u32) else {
        return OsrCheck::Never;
    };
    let slot = &tiering.funcs[(code.func_index - module.0.num_imported_funcs) as usize];
    if slot.state.load(Ordering::Acquire) == tier::COLD {
        // In synchronous mode this publishes before it returns.
        request_function(inst, code.func_index, true);
    }
    match slot.state.load(Ordering::Acquire) {
        tier::PUBLISHED => match slot.osr.get() {
            Some(osr) if osr.enters(ordinal) => OsrCheck::Enter {
                entry: osr.entry,
                ordinal,
            },
            // The compiler found no loop (or not this one) enterable: it agrees with the
            // interpreter's translator on which loops are, so this is only a safeguard.
            _ => OsrCheck::Never,
        },
        tier::QUEUED => OsrCheck::Later,
        _ => OsrCheck::Never,
    }
}

/// Moves the current frame into the OSR entry at `entry`: the native code runs the rest
/// of the function and leaves its results in the frame's first slots. Returns the final
/// `Return` (or null after recording a trap); `None` when native code cannot be entered.
fn osr_enter(cx: &mut Ctx<'_>, entry: usize, ordinal: u32) -> Option<*const Op> {
    let code = cx.code;
    let inst = cx.inst;
    let tramp = inst.engine.osr_trampoline()?;
    // SAFETY: `funcs` holds live slots of the instance's function space.
    let fref = unsafe { &*inst.funcs[code.func_index as usize] };
    // SAFETY: `values` holds the current frame at `fp`.
    let frame = unsafe { cx.values.as_mut_ptr().add(cx.fp) };
    let mut args = [frame as u64, u64::from(ordinal)];
    let outer = OUTER_DEPTH.get();
    // The native frame takes the place of the current one.
    OUTER_DEPTH.set(outer + cx.frames.len());
    // SAFETY: `tramp` is the engine's array trampoline of `(i64, i64) -> ()`, the native
    // type of every OSR entry; `entry` was published for this function by its module,
    // which keeps it alive, and can enter at loop `ordinal`; `args` holds the two slots
    // the trampoline reads.
    let r = unsafe { crate::vm::native::enter_code(tramp, entry, fref, &*inst.vmctx, &mut args) };
    OUTER_DEPTH.set(outer);
    inst.engine.count_osr_entry();
    match r {
        Ok(()) => {
            cx.mem = inst.mem0_view();
            Some(code.ops[code.osr_exit()..].as_ptr())
        }
        Err(mut t) => {
            t.extend_backtrace(callers_backtrace(cx.frames));
            cx.trap = Some(t);
            Some(std::ptr::null())
        }
    }
}

/// Whether handlers dispatch by tail calls (see the module documentation).
const THREADED: bool = cfg!(all(
    not(debug_assertions),
    any(target_arch = "x86_64", target_arch = "aarch64")
));

/// How a handler (and with it the whole chain of threaded handlers) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Exit {
    /// The entry function returned.
    Done,
    /// A trap; it is in `Ctx::trap`.
    Trap,
    /// Trampoline backend: continue at `Ctx::next_ip` / `Ctx::next_slots`.
    Next,
}

/// State shared by the handlers of one invocation, besides `ip` and `slots` which travel in
/// registers.
struct Ctx<'a> {
    values: &'a mut Vec<u64>,
    frames: &'a mut Vec<Frame>,
    code: &'a FuncCode,
    inst: &'a InstanceInner,
    mem: MemView,
    /// The interrupt word of the instance whose code runs (`inst`'s); when non-zero,
    /// [`stop_requested`] decides (also looking at the instance the call entered through).
    interrupt: &'a AtomicU32,
    /// The engine's remaining fuel (used only by `Fuel` instructions).
    fuel: &'a std::sync::atomic::AtomicU64,
    /// Index of the current frame's first slot in `values`.
    fp: usize,
    max_depth: usize,
    max_slots: usize,
    trap: Option<Trap>,
    next_ip: *const Op,
    next_slots: *mut u64,
}

type Handler = unsafe fn(*const Op, *mut u64, &mut Ctx<'_>) -> Exit;

macro_rules! handler_table {
    ($($name:ident,)*) => {
        /// The handler of every instruction kind, indexed by the instruction's tag.
        static HANDLERS: [Handler; [$(stringify!($name)),*].len()] = [$(handlers::$name),*];
    };
}
for_each_op!(handler_table);

/// The handler of the instruction at `ip`.
///
/// # Safety
///
/// `ip` points to a live instruction.
#[inline(always)]
unsafe fn handler_of(ip: *const Op) -> Handler {
    // SAFETY: `Op` is `repr(u16)`, so its first two bytes are the tag, which numbers the
    // variants in declaration order; `HANDLERS` lists them in the same order (both come from
    // `define_ops!`), so the tag is always in bounds.
    unsafe {
        let tag = *(ip as *const u16) as usize;
        debug_assert!(tag < HANDLERS.len());
        *HANDLERS.get_unchecked(tag)
    }
}

/// Continues with the instruction at `ip` in the frame at `slots`.
///
/// # Safety
///
/// `ip` points into the current function's code and `slots` to the current frame, which has
/// room for the function's `frame_slots`.
#[inline(always)]
unsafe fn dispatch(ip: *const Op, slots: *mut u64, cx: &mut Ctx<'_>) -> Exit {
    if THREADED {
        // SAFETY: the caller's guarantees are the handler's preconditions.
        unsafe { handler_of(ip)(ip, slots, cx) }
    } else {
        cx.next_ip = ip;
        cx.next_slots = slots;
        Exit::Next
    }
}

/// Continues after an out-of-line instruction body that returned the next instruction (or
/// null after recording a trap); it may have moved the value stack or changed frames.
///
/// # Safety
///
/// A non-null `next` points into the current function's code.
#[inline(always)]
unsafe fn resume(next: *const Op, cx: &mut Ctx<'_>) -> Exit {
    if next.is_null() {
        return Exit::Trap;
    }
    // SAFETY: `values` holds the current frame at `fp` (every frame entry grows it first).
    let slots = unsafe { cx.values.as_mut_ptr().add(cx.fp) };
    // SAFETY: see above and the caller's guarantee.
    unsafe { dispatch(next, slots, cx) }
}

fn run(
    stacks: &mut Stacks,
    entry: &FuncCode,
    entry_inst: &InstanceInner,
    max_depth: usize,
) -> Result<(), Trap> {
    let Stacks { values, frames } = stacks;
    let mut cx = Ctx {
        max_slots: entry_inst.engine.config().max_stack_slots,
        values,
        frames,
        code: entry,
        inst: entry_inst,
        mem: entry_inst.mem0_view(),
        interrupt: &entry_inst.interrupt,
        fuel: entry_inst.engine.fuel_counter(),
        fp: 0,
        max_depth,
        trap: None,
        next_ip: entry.ops.as_ptr(),
        next_slots: std::ptr::null_mut(),
    };
    cx.next_slots = cx.values.as_mut_ptr();
    let exit = if THREADED {
        // SAFETY: the entry frame starts at slot 0 and `run_outer` grew `values` to its
        // `frame_slots`; the code starts at its first instruction.
        unsafe { dispatch(cx.next_ip, cx.next_slots, &mut cx) }
    } else {
        loop {
            let ip = cx.next_ip;
            debug_assert!(cx.code.ops.as_ptr_range().contains(&ip));
            debug_assert_eq!(cx.next_slots, cx.values[cx.fp..].as_mut_ptr());
            debug_assert!(cx.fp + cx.code.frame_slots as usize <= cx.values.len());
            // SAFETY: the assertions above are the handlers' preconditions; they hold by the
            // translator's invariants (code ends in `Return`/`Unreachable`, targets stay in
            // the code, slot operands are below `frame_slots`) and the frame set-up in
            // `enter`.
            let e = unsafe { handler_of(ip)(ip, cx.next_slots, &mut cx) };
            if e != Exit::Next {
                break e;
            }
        }
    };
    match exit {
        Exit::Done => Ok(()),
        _ => Err(cx.trap.take().expect("trap recorded")),
    }
}

/// Records a trap in the current frame.
#[cold]
#[inline(never)]
fn trap(cx: &mut Ctx<'_>, code: TrapCode) -> Exit {
    cx.trap = Some(trap_with_backtrace(code, None, cx.code, cx.inst, cx.frames));
    Exit::Trap
}

/// Records a trap for an out-of-line body; returns the null "next instruction".
#[cold]
#[inline(never)]
fn fail(cx: &mut Ctx<'_>, code: TrapCode) -> *const Op {
    trap(cx, code);
    std::ptr::null()
}

#[cold]
#[inline(never)]
fn fail_host(cx: &mut Ctx<'_>, t: Trap) -> *const Op {
    cx.trap = Some(trap_with_backtrace(
        TrapCode::HostError,
        Some(t),
        cx.code,
        cx.inst,
        cx.frames,
    ));
    std::ptr::null()
}

/// The general call path: enters `fref` (translating it if needed, growing the value stack)
/// or runs a host function. Returns the next instruction (the callee's first, or `ret` after
/// a host call) or null after recording a trap.
#[inline(never)]
fn enter(ret: *const Op, cx: &mut Ctx<'_>, fref: &VMFuncRef, base: Slot) -> *const Op {
    let callee_inst = instance_of_funcref(fref as *const VMFuncRef as u64);
    let abs = cx.fp + base as usize;
    match callee_inst.callee(fref.index) {
        Callee::Wasm if !fref.array_call.load(Ordering::Acquire).is_null() => {
            call_native(ret, cx, fref, callee_inst, abs)
        }
        Callee::Wasm => {
            let callee = match callee_inst.code(fref.index) {
                Ok(c) => c,
                Err(t) => return fail_host(cx, t),
            };
            if callee.heat() >= callee.tier_at.load(Ordering::Relaxed) {
                function_hot(callee_inst, callee);
            }
            // Caching the code with a swap (a read-modify-write, `AcqRel`), then looking
            // for native code again: `Module::publish` clears the cache with a swap too,
            // after storing `array_call`, and swaps of one location are totally ordered.
            // If the publisher's swap came first, this one reads it (acquires) and the
            // re-read below sees `array_call`; if this one came first, the publisher's
            // clear comes after it. Never a stale entry, without relying on `SeqCst`
            // (which the loom model, runtime/tests/loom_publish.rs, cannot check); every
            // write of `interp_code` outside instantiation is a swap, see there why.
            fref.interp_code
                .swap(callee as *const FuncCode as *mut FuncCode, Ordering::AcqRel);
            if !fref.array_call.load(Ordering::Acquire).is_null() {
                fref.interp_code
                    .swap(std::ptr::null_mut(), Ordering::AcqRel);
                return call_native(ret, cx, fref, callee_inst, abs);
            }
            if cx.frames.len() + 1 >= cx.max_depth {
                return fail(cx, TrapCode::StackExhausted);
            }
            let need = abs + callee.frame_slots as usize;
            if need > cx.values.len() {
                if need > cx.max_slots {
                    return fail(cx, TrapCode::StackExhausted);
                }
                cx.values.resize((need * 2).min(cx.max_slots).max(need), 0);
            }
            cx.frames.push(Frame {
                code: cx.code,
                inst: cx.inst,
                ip: ret,
                fp: cx.fp,
            });
            bump(&callee.calls);
            cx.code = callee;
            cx.inst = callee_inst;
            cx.interrupt = &*callee_inst.interrupt;
            cx.fp = abs;
            cx.values[abs + callee.param_slots as usize..abs + callee.local_slots as usize].fill(0);
            cx.mem = callee_inst.mem0_view();
            if cx.interrupt.load(Ordering::Relaxed) != 0 && stop_requested(cx.interrupt) {
                return fail(cx, TrapCode::Interrupted);
            }
            callee.ops.as_ptr()
        }
        Callee::Host(h) => {
            let n = h.ty.stack_len();
            if abs + n > cx.values.len() {
                if abs + n > cx.max_slots {
                    return fail(cx, TrapCode::StackExhausted);
                }
                cx.values.resize(abs + n, 0);
            }
            let outer = OUTER_DEPTH.get();
            OUTER_DEPTH.set(outer + cx.frames.len() + 1);
            let r = (h.func)(
                &Caller {
                    instance: Some(cx.inst),
                    tier: CallerTier::Interpreter,
                },
                &mut cx.values[abs..abs + n],
            );
            OUTER_DEPTH.set(outer);
            if let Err(t) = r {
                return fail_host(cx, t);
            }
            cx.mem = cx.inst.mem0_view();
            ret
        }
    }
}

/// Calls a function with native code from the interpreter: its parameters are at `abs`
/// and its results go there.
#[cold]
#[inline(never)]
fn call_native(
    ret: *const Op,
    cx: &mut Ctx<'_>,
    fref: &VMFuncRef,
    callee_inst: &InstanceInner,
    abs: usize,
) -> *const Op {
    let n = callee_inst
        .module
        .as_ref()
        .map_or(0, |m| m.0.func_type(fref.index).stack_len());
    if abs + n > cx.values.len() {
        if abs + n > cx.max_slots {
            return fail(cx, TrapCode::StackExhausted);
        }
        cx.values.resize(abs + n, 0);
    }
    let outer = OUTER_DEPTH.get();
    OUTER_DEPTH.set(outer + cx.frames.len() + 1);
    let r = crate::vm::native::enter(fref, &*cx.inst.vmctx, &mut cx.values[abs..abs + n]);
    OUTER_DEPTH.set(outer);
    match r {
        Ok(()) => {
            cx.mem = cx.inst.mem0_view();
            ret
        }
        Err(mut t) => {
            t.extend_backtrace(interp_backtrace(cx.code, cx.inst, cx.frames));
            cx.trap = Some(t);
            std::ptr::null()
        }
    }
}

/// Calls `fref` with its frame at slot `base` of the current frame; `ret` is where the
/// caller continues. The fast path (an already translated Wasm callee whose frame fits) is
/// inline; everything else goes through [`enter`].
///
/// # Safety
///
/// `slots` is the current frame and `ret` points into the current function's code.
#[inline(always)]
unsafe fn call(
    ret: *const Op,
    slots: *mut u64,
    cx: &mut Ctx<'_>,
    fref: &VMFuncRef,
    base: Slot,
) -> Exit {
    let code = fref.interp_code.load(Ordering::Relaxed);
    if !code.is_null() {
        // SAFETY: `interp_code` is only set (by `enter`) to the code of the slot's function,
        // owned by its module, which the slot's (live) instance keeps alive.
        let callee = unsafe { &*code };
        let calls = callee.calls.load(Ordering::Relaxed).wrapping_add(1);
        if calls.wrapping_add(callee.backedges.load(Ordering::Relaxed))
            > callee.tier_at.load(Ordering::Relaxed)
        {
            return call_hot(ret, cx, fref, base, callee);
        }
        let abs = cx.fp + base as usize;
        if cx.frames.len() + 1 < cx.max_depth
            && cx.frames.len() < cx.frames.capacity()
            && abs + callee.frame_slots as usize <= cx.values.len()
        {
            let callee_inst = instance_of_funcref(fref as *const VMFuncRef as u64);
            cx.frames.push(Frame {
                code: cx.code,
                inst: cx.inst,
                ip: ret,
                fp: cx.fp,
            });
            callee.calls.store(calls, Ordering::Relaxed);
            // SAFETY: `abs + frame_slots <= values.len()` was checked above and `slots` is
            // `values[fp..]`, so the callee frame and its locals are inside `values`.
            let callee_slots = unsafe {
                let s = slots.add(base as usize);
                // Volatile stores keep LLVM from turning the loop into a `memset` call, whose
                // register saves would give every call a stack frame (functions have few
                // locals).
                for k in callee.param_slots..callee.local_slots {
                    std::ptr::write_volatile(s.add(k as usize), 0);
                }
                s
            };
            if !std::ptr::eq(callee_inst, cx.inst) {
                cx.mem = callee_inst.mem0_view();
                cx.interrupt = &*callee_inst.interrupt;
            }
            cx.code = callee;
            cx.inst = callee_inst;
            cx.fp = abs;
            if cx.interrupt.load(Ordering::Relaxed) != 0 {
                // SAFETY: as below.
                return unsafe { enter_polled(callee_slots, cx) };
            }
            // SAFETY: the callee's frame was set up above; its code starts at `ops[0]`.
            return unsafe { dispatch(callee.ops.as_ptr(), callee_slots, cx) };
        }
    }
    call_slow(ret, cx, fref, base)
}

// The rare paths of `call` are out of line and reached by tail calls, so that its fast
// path needs no stack frame.

/// A call that made `callee` hot: asks the tiering policy for it, then calls the slow way.
#[cold]
#[inline(never)]
fn call_hot(
    ret: *const Op,
    cx: &mut Ctx<'_>,
    fref: &VMFuncRef,
    base: Slot,
    callee: &FuncCode,
) -> Exit {
    function_hot(instance_of_funcref(fref as *const VMFuncRef as u64), callee);
    call_slow(ret, cx, fref, base)
}

/// Starts the function `cx.code` just entered, whose instance's interrupt word is set.
///
/// # Safety
///
/// `slots` is the new frame, set up for `cx.code`.
#[cold]
#[inline(never)]
unsafe fn enter_polled(slots: *mut u64, cx: &mut Ctx<'_>) -> Exit {
    if stop_requested(cx.interrupt) {
        return trap(cx, TrapCode::Interrupted);
    }
    // SAFETY: the caller's guarantee; code starts at `ops[0]`.
    unsafe { dispatch(cx.code.ops.as_ptr(), slots, cx) }
}

/// The out-of-line part of [`call`] (kept apart so that the fast path needs no stack frame).
#[inline(never)]
fn call_slow(ret: *const Op, cx: &mut Ctx<'_>, fref: &VMFuncRef, base: Slot) -> Exit {
    let next = enter(ret, cx, fref, base);
    // SAFETY: `enter` returns null or an instruction of the (new) current function.
    unsafe { resume(next, cx) }
}

/// `return_call` of `fref`, whose `params` argument slots are at `base` of the current frame:
/// moves them to slot 0, then an interpreted callee replaces the current function in its
/// frame (no frame is pushed, so tail recursion runs in constant space). Native code and
/// host functions are called as by `call`, continuing at `ret` (a `Return` that pops the
/// frame with their results in slots 0..). Returns the next instruction, or null after
/// recording a trap.
#[inline(never)]
fn tail_call(
    ret: *const Op,
    cx: &mut Ctx<'_>,
    fref: &VMFuncRef,
    base: Slot,
    params: u32,
) -> *const Op {
    let (fp, from) = (cx.fp, cx.fp + base as usize);
    cx.values.copy_within(from..from + params as usize, fp);
    let callee_inst = instance_of_funcref(fref as *const VMFuncRef as u64);
    if !matches!(callee_inst.callee(fref.index), Callee::Wasm)
        || !fref.array_call.load(Ordering::Acquire).is_null()
    {
        return enter(ret, cx, fref, 0);
    }
    let callee = match callee_inst.code(fref.index) {
        Ok(c) => c,
        Err(t) => return fail_host(cx, t),
    };
    if callee.heat() >= callee.tier_at.load(Ordering::Relaxed) {
        function_hot(callee_inst, callee);
        // A synchronous tier-up may have published native code just now.
        if !fref.array_call.load(Ordering::Acquire).is_null() {
            return enter(ret, cx, fref, 0);
        }
    }
    let need = fp + callee.frame_slots as usize;
    if need > cx.values.len() {
        if need > cx.max_slots {
            return fail(cx, TrapCode::StackExhausted);
        }
        cx.values.resize((need * 2).min(cx.max_slots).max(need), 0);
    }
    bump(&callee.calls);
    cx.code = callee;
    cx.inst = callee_inst;
    cx.interrupt = &*callee_inst.interrupt;
    cx.values[fp + callee.param_slots as usize..fp + callee.local_slots as usize].fill(0);
    cx.mem = callee_inst.mem0_view();
    if cx.interrupt.load(Ordering::Relaxed) != 0 && stop_requested(cx.interrupt) {
        return fail(cx, TrapCode::Interrupted);
    }
    callee.ops.as_ptr()
}

/// The function a `call_indirect` reaches through `table` at `index`, type-checked.
#[inline(always)]
fn indirect<'a>(cx: &Ctx<'a>, table: u32, index: u64, ty: u32) -> Result<&'a VMFuncRef, TrapCode> {
    let inst = cx.inst;
    let r = inst.tables[table as usize]
        .get(index as u32 as u64)
        .ok_or(TrapCode::UndefinedElement)?;
    if r == 0 {
        return Err(TrapCode::UninitializedElement);
    }
    let fref = funcref(r);
    if fref.type_id != inst.type_ids[ty as usize] {
        return Err(TrapCode::IndirectCallTypeMismatch);
    }
    Ok(fref)
}

#[inline(always)]
fn f32s(v: u64) -> f32 {
    f32::from_bits(v as u32)
}

#[inline(always)]
fn f64s(v: u64) -> f64 {
    f64::from_bits(v)
}

fn imm_of(op: Op) -> (u32, u32) {
    match op {
        Op::Imm { a, b } => (a, b),
        _ => unreachable!("missing immediate"),
    }
}

/// The instruction handlers, one per `Op` variant and named like it.
#[allow(non_snake_case)]
mod handlers {
    use super::*;

    /// Reads a slot of the current frame.
    ///
    /// # Safety
    ///
    /// `s` is the current frame and `i` a slot operand of its code (`< frame_slots`).
    #[inline(always)]
    unsafe fn get(s: *mut u64, i: Slot) -> u64 {
        // SAFETY: the caller's guarantee; the translator emits only slot operands below the
        // function's `frame_slots`, and a frame is entered only with that many slots.
        unsafe { *s.add(i as usize) }
    }

    /// Writes a slot of the current frame.
    ///
    /// # Safety
    ///
    /// As for [`get`].
    #[inline(always)]
    unsafe fn set(s: *mut u64, i: Slot, v: u64) {
        // SAFETY: as for `get`.
        unsafe { *s.add(i as usize) = v }
    }

    /// Continues with the next instruction.
    ///
    /// # Safety
    ///
    /// `ip` is the current instruction, which is not the last of its function.
    #[inline(always)]
    unsafe fn next(ip: *const Op, s: *mut u64, cx: &mut Ctx<'_>) -> Exit {
        // SAFETY: code ends in `Return` or `Unreachable`, which do not call `next`.
        unsafe { dispatch(ip.add(1), s, cx) }
    }

    /// Takes a branch with a relative `target`; a backward one counts a loop back-edge and
    /// checks for interruption.
    ///
    /// # Safety
    ///
    /// `ip` is the branch instruction and `target` its translated offset.
    #[inline(always)]
    unsafe fn branch(ip: *const Op, s: *mut u64, cx: &mut Ctx<'_>, target: u32) -> Exit {
        let rel = target as i32;
        if rel <= 0 {
            let backedges = cx.code.backedges.load(Ordering::Relaxed).wrapping_add(1);
            cx.code.backedges.store(backedges, Ordering::Relaxed);
            // Back-edges alone decide when a loop checks in (one load and compare here);
            // the check itself weighs the function's whole hotness. Everything rare is out
            // of line, reached by a tail call, so that no branch handler needs a stack
            // frame (saving and restoring six registers cost more than the branch itself).
            if cx.interrupt.load(Ordering::Relaxed) != 0
                || backedges >= cx.code.osr_at.load(Ordering::Relaxed)
            {
                // SAFETY: the caller's guarantees.
                return unsafe { back_edge_slow(ip, s, cx, rel) };
            }
        }
        // SAFETY: the translator only emits targets inside the function's code.
        unsafe { dispatch(ip.offset(rel as isize), s, cx) }
    }

    /// The rare part of a back-edge: an interrupt poll that found its word set, or a loop
    /// checking in with the tiering policy.
    ///
    /// # Safety
    ///
    /// As for [`branch`], with `rel` the (backward) offset.
    #[cold]
    #[inline(never)]
    unsafe fn back_edge_slow(ip: *const Op, s: *mut u64, cx: &mut Ctx<'_>, rel: i32) -> Exit {
        if cx.interrupt.load(Ordering::Relaxed) != 0 && stop_requested(cx.interrupt) {
            return trap(cx, TrapCode::Interrupted);
        }
        if cx.code.backedges.load(Ordering::Relaxed) >= cx.code.osr_at.load(Ordering::Relaxed) {
            let next = super::loop_hot(ip, rel, cx);
            // SAFETY: `loop_hot` returns null or an instruction of the current function.
            return unsafe { super::resume(next, cx) };
        }
        // SAFETY: the translator only emits targets inside the function's code.
        unsafe { dispatch(ip.offset(rel as isize), s, cx) }
    }

    /// Defines the handler of `$name`, binding its fields.
    macro_rules! handler {
        ($name:ident { $($f:ident $(: $bind:ident)?),* } |$ip:ident, $s:ident, $cx:ident| $body:expr) => {
            pub(super) unsafe fn $name($ip: *const Op, $s: *mut u64, $cx: &mut Ctx<'_>) -> Exit {
                // SAFETY: the handler table is indexed by the tag of `*ip`, so `*ip` is an
                // `Op::$name`.
                let Op::$name { $($f $(: $bind)?),* } = (unsafe { *$ip }) else {
                    // SAFETY: as above.
                    unsafe { std::hint::unreachable_unchecked() }
                };
                $body
            }
        };
    }

    /// Defines a handler whose body runs out of line (rare or heavy instructions): the body
    /// returns the next instruction, or null after recording a trap.
    macro_rules! slow_handler {
        ($name:ident { $($f:ident $(: $bind:ident)?),* } |$ip:ident, $s:ident, $cx:ident| $body:expr) => {
            pub(super) unsafe fn $name(ip: *const Op, s: *mut u64, cx: &mut Ctx<'_>) -> Exit {
                #[inline(never)]
                #[allow(unused_variables)]
                fn body($ip: *const Op, $s: *mut u64, $cx: &mut Ctx<'_>) -> *const Op {
                    // SAFETY: the handler table is indexed by the tag of `*ip`, so `*ip` is
                    // an `Op::$name`; slot accesses below use only the instruction's slot
                    // operands (see `get`).
                    unsafe {
                        let Op::$name { $($f $(: $bind)?),* } = *$ip else {
                            std::hint::unreachable_unchecked()
                        };
                        $body
                    }
                }
                let next = body(ip, s, cx);
                // SAFETY: `body` returns null or an instruction of the current function.
                unsafe { resume(next, cx) }
            }
        };
    }

    /// `d = f(a)`.
    macro_rules! unops {
        ($($name:ident => |$x:ident: $t:ty| $e:expr;)*) => {$(
            handler!($name { d, a } |ip, s, cx| {
                // SAFETY: `d` and `a` are slot operands (see `get`).
                unsafe {
                    let $x = get(s, a) as $t;
                    set(s, d, $e);
                    next(ip, s, cx)
                }
            });
        )*};
    }

    /// `d = f(a)?`.
    macro_rules! unops_trap {
        ($($name:ident => |$x:ident: $t:ty| $e:expr;)*) => {$(
            handler!($name { d, a } |ip, s, cx| {
                // SAFETY: `d` and `a` are slot operands (see `get`).
                unsafe {
                    let $x = get(s, a) as $t;
                    match $e {
                        Ok(v) => {
                            set(s, d, v);
                            next(ip, s, cx)
                        }
                        Err(c) => trap(cx, c),
                    }
                }
            });
        )*};
    }

    /// `d = f(a, b)`.
    macro_rules! binops {
        ($($name:ident => |$x:ident: $t:ty, $y:ident| $e:expr;)*) => {$(
            handler!($name { d, a, b } |ip, s, cx| {
                // SAFETY: `d`, `a` and `b` are slot operands (see `get`).
                unsafe {
                    let $x = get(s, a) as $t;
                    let $y = get(s, b) as $t;
                    set(s, d, $e);
                    next(ip, s, cx)
                }
            });
        )*};
    }

    /// `d = f(a, b)?`.
    macro_rules! binops_trap {
        ($($name:ident => |$x:ident: $t:ty, $y:ident| $e:expr;)*) => {$(
            handler!($name { d, a, b } |ip, s, cx| {
                // SAFETY: `d`, `a` and `b` are slot operands (see `get`).
                unsafe {
                    let $x = get(s, a) as $t;
                    let $y = get(s, b) as $t;
                    match $e {
                        Ok(v) => {
                            set(s, d, v);
                            next(ip, s, cx)
                        }
                        Err(c) => trap(cx, c),
                    }
                }
            });
        )*};
    }

    /// `d = f(a, imm)`; `$conv` widens the 32-bit immediate.
    macro_rules! immops {
        ($($name:ident => |$x:ident: $t:ty, $y:ident| $e:expr;)*) => {$(
            handler!($name { d, a, imm } |ip, s, cx| {
                // SAFETY: `d` and `a` are slot operands (see `get`).
                unsafe {
                    let $x = get(s, a) as $t;
                    let $y = imm as $t;
                    set(s, d, $e);
                    next(ip, s, cx)
                }
            });
        )*};
    }

    /// As `immops`, for i64 instructions (the immediate is sign-extended).
    macro_rules! immops64 {
        ($($name:ident => |$x:ident: $t:ty, $y:ident| $e:expr;)*) => {$(
            handler!($name { d, a, imm } |ip, s, cx| {
                // SAFETY: `d` and `a` are slot operands (see `get`).
                unsafe {
                    let $x = get(s, a) as $t;
                    let $y = imm as i32 as i64 as $t;
                    set(s, d, $e);
                    next(ip, s, cx)
                }
            });
        )*};
    }

    /// Branch when `f(a, b)`.
    macro_rules! brcmps {
        ($($name:ident => |$x:ident: $t:ty, $y:ident| $e:expr;)*) => {$(
            handler!($name { a, b, target } |ip, s, cx| {
                // SAFETY: `a` and `b` are slot operands (see `get`); `target` is the
                // instruction's translated branch offset.
                unsafe {
                    let $x = get(s, a) as $t;
                    let $y = get(s, b) as $t;
                    // `BrF32NotLt` and co. are negated on purpose: true when unordered.
                    #[allow(clippy::neg_cmp_op_on_partial_ord)]
                    let taken = $e;
                    if taken { branch(ip, s, cx, target) } else { next(ip, s, cx) }
                }
            });
        )*};
    }

    /// Branch when `f(a, imm)`.
    macro_rules! brimms {
        ($($name:ident => |$x:ident: $t:ty, $y:ident| $e:expr;)*) => {$(
            handler!($name { a, imm, target } |ip, s, cx| {
                // SAFETY: `a` is a slot operand (see `get`); `target` is the instruction's
                // translated branch offset.
                unsafe {
                    let $x = get(s, a) as $t;
                    let $y = imm as $t;
                    if $e { branch(ip, s, cx, target) } else { next(ip, s, cx) }
                }
            });
        )*};
    }

    /// As `brimms`, for i64 comparisons (the immediate is sign-extended).
    macro_rules! brimms64 {
        ($($name:ident => |$x:ident: $t:ty, $y:ident| $e:expr;)*) => {$(
            handler!($name { a, imm, target } |ip, s, cx| {
                // SAFETY: `a` is a slot operand (see `get`); `target` is the instruction's
                // translated branch offset.
                unsafe {
                    let $x = get(s, a) as $t;
                    let $y = imm as i32 as i64 as $t;
                    if $e { branch(ip, s, cx, target) } else { next(ip, s, cx) }
                }
            });
        )*};
    }

    /// `d = (a op1 b) op2 c`, `c` in the following `Ext`.
    macro_rules! fused3 {
        ($($name:ident => |$x:ident, $y:ident, $z:ident| $e:expr;)*) => {$(
            handler!($name { d, a, b } |ip, s, cx| {
                // SAFETY: `d`, `a`, `b` and the `Ext`'s `c` are slot operands (see `get`);
                // the translator always emits the `Ext` right after a fused instruction, so
                // `ip + 2` is still inside the code.
                unsafe {
                    let Op::Ext { c } = *ip.add(1) else {
                        std::hint::unreachable_unchecked()
                    };
                    let $x = f64s(get(s, a));
                    let $y = f64s(get(s, b));
                    let $z = f64s(get(s, c));
                    set(s, d, ($e).to_bits());
                    dispatch(ip.add(2), s, cx)
                }
            });
        )*};
    }

    /// `d = a op2 (b op1 imm)`, `imm` in the following `Imm`; `$t` is the operand type and
    /// the immediate is sign-extended to it.
    macro_rules! fused_imm {
        ($($name:ident => |$c:ident: $t:ty, $x:ident, $imm:ident| $e:expr;)*) => {$(
            handler!($name { d, a, b } |ip, s, cx| {
                // SAFETY: `d`, `a` and `b` are slot operands (see `get`); the translator
                // always emits the `Imm` right after a fused instruction, so `ip + 2` is
                // still inside the code.
                unsafe {
                    let Op::Imm { a: imm, .. } = *ip.add(1) else {
                        std::hint::unreachable_unchecked()
                    };
                    let $c = get(s, a) as $t;
                    let $x = get(s, b) as $t;
                    let $imm = imm as i32 as i64 as $t;
                    set(s, d, $e);
                    dispatch(ip.add(2), s, cx)
                }
            });
        )*};
    }

    /// Loads of memory 0.
    macro_rules! loads {
        ($($name:ident => $n:literal, |$b:ident| $e:expr;)*) => {$(
            handler!($name { d, a, off } |ip, s, cx| {
                // SAFETY: `d` and `a` are slot operands (see `get`).
                unsafe {
                    match cx.mem.load::<$n>(get(s, a) as u32, off) {
                        Ok($b) => {
                            set(s, d, $e);
                            next(ip, s, cx)
                        }
                        Err(c) => trap(cx, c),
                    }
                }
            });
        )*};
    }

    /// Loads of memory 0 at `a + off` wrapped to 32 bits (see `ir`'s `...Add` loads).
    macro_rules! loads_add {
        ($($name:ident => $n:literal, |$b:ident| $e:expr;)*) => {$(
            handler!($name { d, a, off } |ip, s, cx| {
                // SAFETY: `d` and `a` are slot operands (see `get`).
                unsafe {
                    match cx.mem.load::<$n>((get(s, a) as u32).wrapping_add(off), 0) {
                        Ok($b) => {
                            set(s, d, $e);
                            next(ip, s, cx)
                        }
                        Err(c) => trap(cx, c),
                    }
                }
            });
        )*};
    }

    /// Stores to memory 0 at `a + off` wrapped to 32 bits.
    macro_rules! stores_add {
        ($($name:ident => $n:literal, $t:ty;)*) => {$(
            handler!($name { a, v, off } |ip, s, cx| {
                // SAFETY: `a` and `v` are slot operands (see `get`).
                unsafe {
                    let bytes = (get(s, v) as $t).to_le_bytes();
                    match cx.mem.store::<$n>((get(s, a) as u32).wrapping_add(off), 0, bytes) {
                        Ok(()) => next(ip, s, cx),
                        Err(c) => trap(cx, c),
                    }
                }
            });
        )*};
    }

    /// Stores to memory 0.
    macro_rules! stores {
        ($($name:ident => $n:literal, $t:ty;)*) => {$(
            handler!($name { a, v, off } |ip, s, cx| {
                // SAFETY: `a` and `v` are slot operands (see `get`).
                unsafe {
                    let bytes = (get(s, v) as $t).to_le_bytes();
                    match cx.mem.store::<$n>(get(s, a) as u32, off, bytes) {
                        Ok(()) => next(ip, s, cx),
                        Err(c) => trap(cx, c),
                    }
                }
            });
        )*};
    }

    // Control.
    handler!(
        Unreachable {} | _ip,
        _s,
        cx | trap(cx, TrapCode::Unreachable)
    );
    handler!(
        Fuel { cost } | ip,
        s,
        cx | {
            // Plain load and store, not an atomic RMW: fuel is exact for one thread at a time.
            let left = cx.fuel.load(Ordering::Relaxed);
            if left < u64::from(cost) {
                trap(cx, TrapCode::OutOfFuel)
            } else {
                cx.fuel.store(left - u64::from(cost), Ordering::Relaxed);
                // SAFETY: `Fuel` is never last in the code (a segment's ops follow it).
                unsafe { next(ip, s, cx) }
            }
        }
    );
    handler!(
        Imm { a, b } | _ip,
        _s,
        _cx | unreachable!("immediate {a}, {b} executed")
    );
    handler!(
        Ext { c } | _ip,
        _s,
        _cx | unreachable!("operand {c} executed")
    );

    fused3! {
        F64AddAdd => |x, y, z| (x + y) + z;
        F64AddSub => |x, y, z| (x + y) - z;
        F64AddRsub => |x, y, z| z - (x + y);
        F64AddMul => |x, y, z| (x + y) * z;
        F64SubAdd => |x, y, z| (x - y) + z;
        F64SubSub => |x, y, z| (x - y) - z;
        F64SubRsub => |x, y, z| z - (x - y);
        F64SubMul => |x, y, z| (x - y) * z;
        F64MulAdd => |x, y, z| (x * y) + z;
        F64MulSub => |x, y, z| (x * y) - z;
        F64MulRsub => |x, y, z| z - (x * y);
        F64MulMul => |x, y, z| (x * y) * z;
    }

    fused_imm! {
        I32AddShlImm => |c: u32, x, imm| (c.wrapping_add(x.wrapping_shl(imm as u32))) as u64;
        I32AddShrUImm => |c: u32, x, imm| (c.wrapping_add(x.wrapping_shr(imm as u32))) as u64;
        I32AddMulImm => |c: u32, x, imm| (c.wrapping_add(x.wrapping_mul(imm))) as u64;
        I32AddAndImm => |c: u32, x, imm| (c.wrapping_add(x & imm)) as u64;
        I32XorShlImm => |c: u32, x, imm| (c ^ x.wrapping_shl(imm as u32)) as u64;
        I32XorShrUImm => |c: u32, x, imm| (c ^ x.wrapping_shr(imm as u32)) as u64;
        I32XorMulImm => |c: u32, x, imm| (c ^ x.wrapping_mul(imm)) as u64;
        I32XorAndImm => |c: u32, x, imm| (c ^ (x & imm)) as u64;
        I32OrShlImm => |c: u32, x, imm| (c | x.wrapping_shl(imm as u32)) as u64;
        I32OrShrUImm => |c: u32, x, imm| (c | x.wrapping_shr(imm as u32)) as u64;
        I32OrMulImm => |c: u32, x, imm| (c | x.wrapping_mul(imm)) as u64;
        I32OrAndImm => |c: u32, x, imm| (c | (x & imm)) as u64;
        I64AddShlImm => |c: u64, x, imm| c.wrapping_add(x.wrapping_shl(imm as u32));
        I64AddShrUImm => |c: u64, x, imm| c.wrapping_add(x.wrapping_shr(imm as u32));
        I64AddMulImm => |c: u64, x, imm| c.wrapping_add(x.wrapping_mul(imm));
        I64AddAndImm => |c: u64, x, imm| c.wrapping_add(x & imm);
        I64XorShlImm => |c: u64, x, imm| c ^ x.wrapping_shl(imm as u32);
        I64XorShrUImm => |c: u64, x, imm| c ^ x.wrapping_shr(imm as u32);
        I64XorMulImm => |c: u64, x, imm| c ^ x.wrapping_mul(imm);
        I64XorAndImm => |c: u64, x, imm| c ^ (x & imm);
        I64OrShlImm => |c: u64, x, imm| c | x.wrapping_shl(imm as u32);
        I64OrShrUImm => |c: u64, x, imm| c | x.wrapping_shr(imm as u32);
        I64OrMulImm => |c: u64, x, imm| c | x.wrapping_mul(imm);
        I64OrAndImm => |c: u64, x, imm| c | (x & imm);
        I32XorRotlImm => |c: u32, x, imm| (c ^ x).rotate_left(imm) as u64;
        I64XorRotlImm => |c: u64, x, imm| (c ^ x).rotate_left(imm as u32);
    }
    handler!(
        Br { target } | ip,
        s,
        cx | {
            // SAFETY: the translator only emits targets inside the function's code.
            unsafe { dispatch(ip.offset(target as i32 as isize), s, cx) }
        }
    );
    handler!(
        BrIfNez { cond, target } | ip,
        s,
        cx | {
            // SAFETY: `cond` is a slot operand, `target` the translated offset.
            unsafe {
                if get(s, cond) as u32 != 0 {
                    branch(ip, s, cx, target)
                } else {
                    next(ip, s, cx)
                }
            }
        }
    );
    handler!(
        BrIfEqz { cond, target } | ip,
        s,
        cx | {
            // SAFETY: `cond` is a slot operand, `target` the translated offset.
            unsafe {
                if get(s, cond) as u32 == 0 {
                    branch(ip, s, cx, target)
                } else {
                    next(ip, s, cx)
                }
            }
        }
    );
    handler!(
        BrI64Eqz { cond, target } | ip,
        s,
        cx | {
            // SAFETY: `cond` is a slot operand, `target` the translated offset.
            unsafe {
                if get(s, cond) == 0 {
                    branch(ip, s, cx, target)
                } else {
                    next(ip, s, cx)
                }
            }
        }
    );
    handler!(
        BrI64Nez { cond, target } | ip,
        s,
        cx | {
            // SAFETY: `cond` is a slot operand, `target` the translated offset.
            unsafe {
                if get(s, cond) != 0 {
                    branch(ip, s, cx, target)
                } else {
                    next(ip, s, cx)
                }
            }
        }
    );
    handler!(
        BackBr { target } | ip,
        s,
        cx | {
            // SAFETY: `target` is the translated (backward) offset.
            unsafe { branch(ip, s, cx, target) }
        }
    );
    handler!(
        BackBrIfNez { cond, target } | ip,
        s,
        cx | {
            // SAFETY: `cond` is a slot operand, `target` the translated offset.
            unsafe {
                if get(s, cond) as u32 != 0 {
                    branch(ip, s, cx, target)
                } else {
                    next(ip, s, cx)
                }
            }
        }
    );
    handler!(
        BrTable { index, len } | ip,
        s,
        cx | {
            // SAFETY: `index` is a slot operand; `len + 1` `Br`/`BackBr` instructions follow,
            // and the chosen one is `1 + min(i, len)` ahead. Its jump is taken right here
            // (saving a dispatch); only a `BackBr` goes backwards, so `branch` counts exactly
            // the back-edges.
            unsafe {
                let i = (get(s, index) as u32).min(len);
                let entry = ip.add(1 + i as usize);
                let (Op::Br { target } | Op::BackBr { target }) = *entry else {
                    std::hint::unreachable_unchecked()
                };
                branch(entry, s, cx, target)
            }
        }
    );
    /// Pops the current frame and continues in the caller (or ends the invocation).
    #[inline(always)]
    fn return_to_caller(cx: &mut Ctx<'_>) -> Exit {
        match cx.frames.pop() {
            None => Exit::Done,
            Some(f) => {
                // SAFETY: the frame was pushed by `call`/`enter` from live references whose
                // referents outlive this invocation: code is owned by modules kept alive by
                // their instances, and instances by the caller chain.
                let (code, inst) = unsafe { (&*f.code, &*f.inst) };
                // Within one instance `cx.mem` is current: `memory.grow` and host calls
                // refresh it where they happen. Another instance may have grown a shared
                // memory, so its callers reload their view.
                if !std::ptr::eq(inst, cx.inst) {
                    cx.mem = inst.mem0_view();
                    cx.interrupt = &*inst.interrupt;
                }
                cx.code = code;
                cx.inst = inst;
                cx.fp = f.fp;
                // SAFETY: the caller's frame is still inside `values` (it never shrinks),
                // and `f.ip` is the instruction after its call.
                unsafe {
                    let s = cx.values.as_mut_ptr().add(f.fp);
                    dispatch(f.ip, s, cx)
                }
            }
        }
    }
    handler!(Return {} | _ip, _s, cx | return_to_caller(cx));
    handler!(
        ReturnOne { s: src } | _ip,
        s,
        cx | {
            // SAFETY: `src` is a slot operand and slot 0 is the result slot.
            unsafe { set(s, 0, get(s, src)) };
            return_to_caller(cx)
        }
    );
    handler!(
        Call { func, base } | ip,
        s,
        cx | {
            // SAFETY: validation proved `func` a function index of the module, and `funcs`
            // has an entry for each. (Unchecked: a panic path would give the handler a
            // stack frame.) `s` is the current frame and the call is not the last
            // instruction.
            unsafe {
                let fref = funcref(*cx.inst.funcs.get_unchecked(func as usize) as u64);
                call(ip.add(1), s, cx, fref, base)
            }
        }
    );
    handler!(
        CallIndirect { ty, index, base } | ip,
        s,
        cx | {
            // SAFETY: `index` is a slot operand; `s` is the current frame and the call is not
            // the last instruction.
            unsafe {
                match indirect(cx, 0, get(s, index), ty) {
                    Ok(fref) => call(ip.add(1), s, cx, fref, base),
                    Err(c) => trap(cx, c),
                }
            }
        }
    );
    slow_handler!(
        CallIndirectTable { ty, index, base } | ip,
        s,
        cx | {
            let (t, _) = imm_of(*ip.add(1));
            match indirect(cx, t, get(s, index), ty) {
                Ok(fref) => enter(ip.add(2), cx, fref, base),
                Err(c) => fail(cx, c),
            }
        }
    );

    slow_handler!(
        ReturnCall { func, base, params } | ip,
        s,
        cx | {
            let fref = funcref(cx.inst.funcs[func as usize] as u64);
            tail_call(ip.add(1), cx, fref, base, params)
        }
    );
    slow_handler!(
        ReturnCallIndirect { ty, index, base } | ip,
        s,
        cx | {
            let (t, params) = imm_of(*ip.add(1));
            match indirect(cx, t, get(s, index), ty) {
                Ok(fref) => tail_call(ip.add(2), cx, fref, base, params),
                Err(c) => fail(cx, c),
            }
        }
    );

    // Copies, constants, selects.
    handler!(
        Copy { d, s: src } | ip,
        s,
        cx | {
            // SAFETY: `d` and `src` are slot operands.
            unsafe {
                set(s, d, get(s, src));
                next(ip, s, cx)
            }
        }
    );
    handler!(
        CopyWide { d, s: src } | ip,
        s,
        cx | {
            // SAFETY: a wide copy's operands name two slots each (a v128). One 16-byte
            // move: two 8-byte stores would make the next 16-byte read of `d` stall.
            unsafe {
                set2(s, d, get2(s, src));
                next(ip, s, cx)
            }
        }
    );
    handler!(
        CopyMany { d, s: src, n } | ip,
        s,
        cx | {
            // SAFETY: the translator emits `d + n` and `src + n` within the frame.
            unsafe {
                for k in 0..n {
                    set(s, d + k, get(s, src + k));
                }
                next(ip, s, cx)
            }
        }
    );
    handler!(
        Const32 { d, v } | ip,
        s,
        cx | {
            // SAFETY: `d` is a slot operand.
            unsafe {
                set(s, d, v as u64);
                next(ip, s, cx)
            }
        }
    );
    handler!(
        Const64 { d, v } | ip,
        s,
        cx | {
            // SAFETY: `d` is a slot operand.
            unsafe {
                set(s, d, v);
                next(ip, s, cx)
            }
        }
    );
    handler!(
        Select { d, a, b } | ip,
        s,
        cx | {
            // SAFETY: `d`, `a`, `b` and the `Ext`'s `c` are slot operands; the translator
            // always emits the `Ext` right after a `Select`, so `ip + 2` is still inside
            // the code.
            unsafe {
                let Op::Ext { c } = *ip.add(1) else {
                    std::hint::unreachable_unchecked()
                };
                let v = if get(s, c) as u32 != 0 {
                    get(s, a)
                } else {
                    get(s, b)
                };
                set(s, d, v);
                dispatch(ip.add(2), s, cx)
            }
        }
    );
    handler!(
        SelectWide { d, b, cond } | ip,
        s,
        cx | {
            // SAFETY: `d` and `b` name two slots each, `cond` one.
            unsafe {
                if get(s, cond) as u32 == 0 {
                    set(s, d, get(s, b));
                    set(s, d + 1, get(s, b + 1));
                }
                next(ip, s, cx)
            }
        }
    );

    // Globals, references, memory and tables.
    handler!(
        GlobalGet { d, g } | ip,
        s,
        cx | {
            // SAFETY: `global_defs` points at definitions owned by `inst.globals`, alive as long
            // as the instance; `d` is a slot operand.
            unsafe {
                let def = &*cx.inst.global_defs[g as usize];
                set(s, d, def.value[0].load(Ordering::Relaxed));
                next(ip, s, cx)
            }
        }
    );
    slow_handler!(
        GlobalSet { g, s: src } | ip,
        s,
        cx | {
            let global = &cx.inst.globals[g as usize];
            let v = get(s, src);
            retain_in_global(global, v);
            global.set([v, 0]);
            ip.add(1)
        }
    );
    handler!(
        GlobalSetNum { g, s: src } | ip,
        s,
        cx | {
            // SAFETY: as for `GlobalGet`; `src` is a slot operand. The second slot of a
            // numeric one-slot global is always 0, so only the first is written.
            unsafe {
                let def = &*cx.inst.global_defs[g as usize];
                def.value[0].store(get(s, src), Ordering::Relaxed);
                next(ip, s, cx)
            }
        }
    );
    slow_handler!(
        GlobalGetWide { d, g } | ip,
        s,
        cx | {
            let v = cx.inst.globals[g as usize].get();
            set(s, d, v[0]);
            set(s, d + 1, v[1]);
            ip.add(1)
        }
    );
    slow_handler!(
        GlobalSetWide { g, s: src } | ip,
        s,
        cx | {
            cx.inst.globals[g as usize].set([get(s, src), get(s, src + 1)]);
            ip.add(1)
        }
    );
    handler!(
        RefFunc { d, func } | ip,
        s,
        cx | {
            // SAFETY: `d` is a slot operand.
            unsafe {
                set(s, d, cx.inst.funcs[func as usize] as u64);
                next(ip, s, cx)
            }
        }
    );
    handler!(
        MemorySize { d, mem } | ip,
        s,
        cx | {
            debug_assert_eq!(mem, 0);
            // SAFETY: `d` is a slot operand.
            unsafe {
                set(s, d, (cx.mem.len() / crate::vm::PAGE_SIZE) as u64);
                next(ip, s, cx)
            }
        }
    );
    slow_handler!(
        MemoryGrow { d, delta } | ip,
        s,
        cx | {
            let delta = get(s, delta) as u32 as u64;
            let r = match cx.inst.memories[0].grow(delta) {
                Some(old) => old as u32,
                None => u32::MAX,
            };
            set(s, d, r as u64);
            cx.mem = cx.inst.mem0_view();
            ip.add(1)
        }
    );
    slow_handler!(
        MemoryFill { d, v, n } | ip,
        s,
        cx | {
            let (dst, val, len) = (
                get(s, d) as u32 as u64,
                get(s, v) as u8,
                get(s, n) as u32 as u64,
            );
            match cx.mem.fill(dst, val, len) {
                Ok(()) => ip.add(1),
                Err(c) => fail(cx, c),
            }
        }
    );
    slow_handler!(
        MemoryCopy { d, s: src, n } | ip,
        s,
        cx | {
            let (dst, from, len) = (
                get(s, d) as u32 as u64,
                get(s, src) as u32 as u64,
                get(s, n) as u32 as u64,
            );
            match cx.mem.copy_from(&cx.mem, dst, from, len) {
                Ok(()) => ip.add(1),
                Err(c) => fail(cx, c),
            }
        }
    );
    slow_handler!(
        MemoryInit { d, s: src, n } | ip,
        s,
        cx | {
            let (seg, _) = imm_of(*ip.add(1));
            let (dst, from, len) = (
                get(s, d) as u32 as u64,
                get(s, src) as u32 as u64,
                get(s, n) as u32 as u64,
            );
            let inst = cx.inst;
            let m = &inst.module.as_ref().expect("wasm").0;
            let range = if inst.dropped_datas[seg as usize].load(Ordering::Relaxed) {
                0..0
            } else {
                m.datas[seg as usize].range.clone()
            };
            let bytes = &m.bytes[range];
            if from + len > bytes.len() as u64 {
                return fail(cx, TrapCode::MemoryOutOfBounds);
            }
            match cx
                .mem
                .write(dst, &bytes[from as usize..(from + len) as usize])
            {
                Ok(()) => ip.add(2),
                Err(c) => fail(cx, c),
            }
        }
    );
    slow_handler!(
        DataDrop { data } | ip,
        s,
        cx | {
            cx.inst.dropped_datas[data as usize].store(true, Ordering::Relaxed);
            ip.add(1)
        }
    );
    slow_handler!(
        TableGet { d, i, table } | ip,
        s,
        cx | {
            let idx = get(s, i) as u32 as u64;
            match cx.inst.tables[table as usize].get(idx) {
                Some(v) => {
                    set(s, d, v);
                    ip.add(1)
                }
                None => fail(cx, TrapCode::TableOutOfBounds),
            }
        }
    );
    slow_handler!(
        TableSet { table, i, v } | ip,
        s,
        cx | {
            let t = &cx.inst.tables[table as usize];
            let (idx, val) = (get(s, i) as u32 as u64, get(s, v));
            retain_in_table(t, val);
            if t.set(idx, val) {
                ip.add(1)
            } else {
                fail(cx, TrapCode::TableOutOfBounds)
            }
        }
    );
    slow_handler!(
        TableSize { d, table } | ip,
        s,
        cx | {
            set(s, d, cx.inst.tables[table as usize].size());
            ip.add(1)
        }
    );
    slow_handler!(
        TableGrow { d, init, delta } | ip,
        s,
        cx | {
            let (t, _) = imm_of(*ip.add(1));
            let table = &cx.inst.tables[t as usize];
            let (val, n) = (get(s, init), get(s, delta) as u32 as u64);
            retain_in_table(table, val);
            let r = match table.grow(n, val) {
                Some(old) => old as u32 as u64,
                None => u32::MAX as u64,
            };
            set(s, d, r);
            ip.add(2)
        }
    );
    slow_handler!(
        TableFill { i, v, n } | ip,
        s,
        cx | {
            let (t, _) = imm_of(*ip.add(1));
            let table = &cx.inst.tables[t as usize];
            let (start, val, len) = (get(s, i) as u32 as u64, get(s, v), get(s, n) as u32 as u64);
            retain_in_table(table, val);
            match table.fill(start, val, len) {
                Ok(()) => ip.add(2),
                Err(c) => fail(cx, c),
            }
        }
    );
    slow_handler!(
        TableCopy { d, s: src, n } | ip,
        s,
        cx | {
            let (dt, st) = imm_of(*ip.add(1));
            let (dst, from, len) = (
                get(s, d) as u32 as u64,
                get(s, src) as u32 as u64,
                get(s, n) as u32 as u64,
            );
            let (dtab, stab) = (&cx.inst.tables[dt as usize], &cx.inst.tables[st as usize]);
            if !dtab.same(stab) {
                for k in 0..len.min(stab.size()) {
                    retain_in_table(dtab, stab.get(from + k).unwrap_or(0));
                }
            }
            match dtab.copy_from(stab, dst, from, len) {
                Ok(()) => ip.add(2),
                Err(c) => fail(cx, c),
            }
        }
    );
    slow_handler!(
        TableInit { d, s: src, n } | ip,
        s,
        cx | {
            let (t, seg) = imm_of(*ip.add(1));
            let (dst, from, len) = (
                get(s, d) as u32 as u64,
                get(s, src) as u32 as u64,
                get(s, n) as u32 as u64,
            );
            let inst = cx.inst;
            let m = &inst.module.as_ref().expect("wasm").0;
            let items: &[crate::module::ConstExpr] =
                if inst.dropped_elems[seg as usize].load(Ordering::Relaxed) {
                    &[]
                } else {
                    &m.elems[seg as usize].items
                };
            let table = &inst.tables[t as usize];
            if from + len > items.len() as u64 || dst + len > table.size() {
                return fail(cx, TrapCode::TableOutOfBounds);
            }
            for k in 0..len {
                let v = match crate::instance::eval_item(inst, &items[(from + k) as usize]) {
                    Ok(v) => v,
                    Err(_) => return fail(cx, TrapCode::TableOutOfBounds),
                };
                retain_in_table(table, v);
                table.set(dst + k, v);
            }
            ip.add(2)
        }
    );
    slow_handler!(
        ElemDrop { elem } | ip,
        s,
        cx | {
            cx.inst.dropped_elems[elem as usize].store(true, Ordering::Relaxed);
            ip.add(1)
        }
    );

    unops! {
        I32Eqz => |x: u32| (x == 0) as u64;
        I64Eqz => |x: u64| (x == 0) as u64;
        RefIsNull => |x: u64| (x == 0) as u64;
        I32Clz => |x: u32| x.leading_zeros() as u64;
        I32Ctz => |x: u32| x.trailing_zeros() as u64;
        I32Popcnt => |x: u32| x.count_ones() as u64;
        I64Clz => |x: u64| x.leading_zeros() as u64;
        I64Ctz => |x: u64| x.trailing_zeros() as u64;
        I64Popcnt => |x: u64| x.count_ones() as u64;
        // Sign operations work on bits so NaN payloads survive.
        F32Abs => |x: u32| (x & 0x7fff_ffff) as u64;
        F32Neg => |x: u32| (x ^ 0x8000_0000) as u64;
        F64Abs => |x: u64| x & 0x7fff_ffff_ffff_ffff;
        F64Neg => |x: u64| x ^ 0x8000_0000_0000_0000;
        F32Ceil => |x: u64| num::f32_ceil(f32s(x)).to_bits() as u64;
        F32Floor => |x: u64| num::f32_floor(f32s(x)).to_bits() as u64;
        F32Trunc => |x: u64| num::f32_trunc(f32s(x)).to_bits() as u64;
        F32Nearest => |x: u64| num::f32_nearest(f32s(x)).to_bits() as u64;
        F32Sqrt => |x: u64| f32s(x).sqrt().to_bits() as u64;
        F64Ceil => |x: u64| num::f64_ceil(f64s(x)).to_bits();
        F64Floor => |x: u64| num::f64_floor(f64s(x)).to_bits();
        F64Trunc => |x: u64| num::f64_trunc(f64s(x)).to_bits();
        F64Nearest => |x: u64| num::f64_nearest(f64s(x)).to_bits();
        F64Sqrt => |x: u64| f64s(x).sqrt().to_bits();
        I32WrapI64 => |x: u32| x as u64;
        I64ExtendI32S => |x: i32| x as i64 as u64;
        I64ExtendI32U => |x: u32| x as u64;
        I32Extend8S => |x: i8| x as i32 as u32 as u64;
        I32Extend16S => |x: i16| x as i32 as u32 as u64;
        I64Extend8S => |x: i8| x as i64 as u64;
        I64Extend16S => |x: i16| x as i64 as u64;
        I64Extend32S => |x: i32| x as i64 as u64;
        I32TruncSatF32S => |x: u64| (f32s(x) as i32) as u32 as u64;
        I32TruncSatF32U => |x: u64| (f32s(x) as u32) as u64;
        I32TruncSatF64S => |x: u64| (f64s(x) as i32) as u32 as u64;
        I32TruncSatF64U => |x: u64| (f64s(x) as u32) as u64;
        I64TruncSatF32S => |x: u64| (f32s(x) as i64) as u64;
        I64TruncSatF32U => |x: u64| f32s(x) as u64;
        I64TruncSatF64S => |x: u64| (f64s(x) as i64) as u64;
        I64TruncSatF64U => |x: u64| f64s(x) as u64;
        F32ConvertI32S => |x: i32| (x as f32).to_bits() as u64;
        F32ConvertI32U => |x: u32| (x as f32).to_bits() as u64;
        F32ConvertI64S => |x: i64| (x as f32).to_bits() as u64;
        F32ConvertI64U => |x: u64| (x as f32).to_bits() as u64;
        F32DemoteF64 => |x: u64| (f64s(x) as f32).to_bits() as u64;
        F64ConvertI32S => |x: i32| (x as f64).to_bits();
        F64ConvertI32U => |x: u32| (x as f64).to_bits();
        F64ConvertI64S => |x: i64| (x as f64).to_bits();
        F64ConvertI64U => |x: u64| (x as f64).to_bits();
        F64PromoteF32 => |x: u64| (f32s(x) as f64).to_bits();
    }

    unops_trap! {
        I32TruncF32S => |x: u64| num::i32_trunc_f32_s(f32s(x)).map(|v| v as u32 as u64);
        I32TruncF32U => |x: u64| num::i32_trunc_f32_u(f32s(x)).map(|v| v as u64);
        I32TruncF64S => |x: u64| num::i32_trunc_f64_s(f64s(x)).map(|v| v as u32 as u64);
        I32TruncF64U => |x: u64| num::i32_trunc_f64_u(f64s(x)).map(|v| v as u64);
        I64TruncF32S => |x: u64| num::i64_trunc_f32_s(f32s(x)).map(|v| v as u64);
        I64TruncF32U => |x: u64| num::i64_trunc_f32_u(f32s(x));
        I64TruncF64S => |x: u64| num::i64_trunc_f64_s(f64s(x)).map(|v| v as u64);
        I64TruncF64U => |x: u64| num::i64_trunc_f64_u(f64s(x));
    }

    binops! {
        I32Eq => |x: u32, y| (x == y) as u64;
        I32Ne => |x: u32, y| (x != y) as u64;
        I32LtS => |x: i32, y| (x < y) as u64;
        I32LtU => |x: u32, y| (x < y) as u64;
        I32GtS => |x: i32, y| (x > y) as u64;
        I32GtU => |x: u32, y| (x > y) as u64;
        I32LeS => |x: i32, y| (x <= y) as u64;
        I32LeU => |x: u32, y| (x <= y) as u64;
        I32GeS => |x: i32, y| (x >= y) as u64;
        I32GeU => |x: u32, y| (x >= y) as u64;
        I64Eq => |x: u64, y| (x == y) as u64;
        I64Ne => |x: u64, y| (x != y) as u64;
        I64LtS => |x: i64, y| (x < y) as u64;
        I64LtU => |x: u64, y| (x < y) as u64;
        I64GtS => |x: i64, y| (x > y) as u64;
        I64GtU => |x: u64, y| (x > y) as u64;
        I64LeS => |x: i64, y| (x <= y) as u64;
        I64LeU => |x: u64, y| (x <= y) as u64;
        I64GeS => |x: i64, y| (x >= y) as u64;
        I64GeU => |x: u64, y| (x >= y) as u64;
        F32Eq => |x: u64, y| (f32s(x) == f32s(y)) as u64;
        F32Ne => |x: u64, y| (f32s(x) != f32s(y)) as u64;
        F32Lt => |x: u64, y| (f32s(x) < f32s(y)) as u64;
        F32Gt => |x: u64, y| (f32s(x) > f32s(y)) as u64;
        F32Le => |x: u64, y| (f32s(x) <= f32s(y)) as u64;
        F32Ge => |x: u64, y| (f32s(x) >= f32s(y)) as u64;
        F64Eq => |x: u64, y| (f64s(x) == f64s(y)) as u64;
        F64Ne => |x: u64, y| (f64s(x) != f64s(y)) as u64;
        F64Lt => |x: u64, y| (f64s(x) < f64s(y)) as u64;
        F64Gt => |x: u64, y| (f64s(x) > f64s(y)) as u64;
        F64Le => |x: u64, y| (f64s(x) <= f64s(y)) as u64;
        F64Ge => |x: u64, y| (f64s(x) >= f64s(y)) as u64;
        I32Add => |x: u32, y| x.wrapping_add(y) as u64;
        I32Sub => |x: u32, y| x.wrapping_sub(y) as u64;
        I32Mul => |x: u32, y| x.wrapping_mul(y) as u64;
        I32And => |x: u32, y| (x & y) as u64;
        I32Or => |x: u32, y| (x | y) as u64;
        I32Xor => |x: u32, y| (x ^ y) as u64;
        I32Shl => |x: u32, y| x.wrapping_shl(y) as u64;
        I32ShrS => |x: u32, y| (x as i32).wrapping_shr(y) as u32 as u64;
        I32ShrU => |x: u32, y| x.wrapping_shr(y) as u64;
        I32Rotl => |x: u32, y| x.rotate_left(y) as u64;
        I32Rotr => |x: u32, y| x.rotate_right(y) as u64;
        I64Add => |x: u64, y| x.wrapping_add(y);
        I64Sub => |x: u64, y| x.wrapping_sub(y);
        I64Mul => |x: u64, y| x.wrapping_mul(y);
        I64And => |x: u64, y| x & y;
        I64Or => |x: u64, y| x | y;
        I64Xor => |x: u64, y| x ^ y;
        I64Shl => |x: u64, y| x.wrapping_shl(y as u32);
        I64ShrS => |x: u64, y| (x as i64).wrapping_shr(y as u32) as u64;
        I64ShrU => |x: u64, y| x.wrapping_shr(y as u32);
        I64Rotl => |x: u64, y| x.rotate_left((y & 63) as u32);
        I64Rotr => |x: u64, y| x.rotate_right((y & 63) as u32);
        F32Add => |x: u64, y| (f32s(x) + f32s(y)).to_bits() as u64;
        F32Sub => |x: u64, y| (f32s(x) - f32s(y)).to_bits() as u64;
        F32Mul => |x: u64, y| (f32s(x) * f32s(y)).to_bits() as u64;
        F32Div => |x: u64, y| (f32s(x) / f32s(y)).to_bits() as u64;
        F32Min => |x: u64, y| num::f32_min(f32s(x), f32s(y)).to_bits() as u64;
        F32Max => |x: u64, y| num::f32_max(f32s(x), f32s(y)).to_bits() as u64;
        F32Copysign => |x: u32, y| ((x & 0x7fff_ffff) | (y & 0x8000_0000)) as u64;
        F64Add => |x: u64, y| (f64s(x) + f64s(y)).to_bits();
        F64Sub => |x: u64, y| (f64s(x) - f64s(y)).to_bits();
        F64Mul => |x: u64, y| (f64s(x) * f64s(y)).to_bits();
        F64Div => |x: u64, y| (f64s(x) / f64s(y)).to_bits();
        F64Min => |x: u64, y| num::f64_min(f64s(x), f64s(y)).to_bits();
        F64Max => |x: u64, y| num::f64_max(f64s(x), f64s(y)).to_bits();
        F64Copysign => |x: u64, y| (x & 0x7fff_ffff_ffff_ffff) | (y & 0x8000_0000_0000_0000);
    }

    binops_trap! {
        I32DivS => |x: i32, y| num::i32_div_s(x, y).map(|v| v as u32 as u64);
        I32DivU => |x: u32, y| x.checked_div(y).map(|v| v as u64).ok_or(TrapCode::IntegerDivideByZero);
        I32RemS => |x: i32, y| if y == 0 {
            Err(TrapCode::IntegerDivideByZero)
        } else {
            Ok(x.wrapping_rem(y) as u32 as u64)
        };
        I32RemU => |x: u32, y| if y == 0 {
            Err(TrapCode::IntegerDivideByZero)
        } else {
            Ok((x % y) as u64)
        };
        I64DivS => |x: i64, y| num::i64_div_s(x, y).map(|v| v as u64);
        I64DivU => |x: u64, y| x.checked_div(y).ok_or(TrapCode::IntegerDivideByZero);
        I64RemS => |x: i64, y| if y == 0 {
            Err(TrapCode::IntegerDivideByZero)
        } else {
            Ok(x.wrapping_rem(y) as u64)
        };
        I64RemU => |x: u64, y| if y == 0 {
            Err(TrapCode::IntegerDivideByZero)
        } else {
            Ok(x % y)
        };
    }

    immops! {
        I32AddImm => |x: u32, y| x.wrapping_add(y) as u64;
        I32MulImm => |x: u32, y| x.wrapping_mul(y) as u64;
        I32AndImm => |x: u32, y| (x & y) as u64;
        I32OrImm => |x: u32, y| (x | y) as u64;
        I32XorImm => |x: u32, y| (x ^ y) as u64;
        I32ShlImm => |x: u32, y| x.wrapping_shl(y) as u64;
        I32ShrSImm => |x: i32, y| x.wrapping_shr(y as u32) as u32 as u64;
        I32ShrUImm => |x: u32, y| x.wrapping_shr(y) as u64;
        I32EqImm => |x: u32, y| (x == y) as u64;
        I32NeImm => |x: u32, y| (x != y) as u64;
        I32LtSImm => |x: i32, y| (x < y) as u64;
        I32LtUImm => |x: u32, y| (x < y) as u64;
        I32GtSImm => |x: i32, y| (x > y) as u64;
        I32GtUImm => |x: u32, y| (x > y) as u64;
        I32LeSImm => |x: i32, y| (x <= y) as u64;
        I32LeUImm => |x: u32, y| (x <= y) as u64;
        I32GeSImm => |x: i32, y| (x >= y) as u64;
        I32GeUImm => |x: u32, y| (x >= y) as u64;
        I32RotlImm => |x: u32, y| x.rotate_left(y) as u64;
        I32RotrImm => |x: u32, y| x.rotate_right(y) as u64;
    }

    immops64! {
        I64AddImm => |x: u64, y| x.wrapping_add(y);
        I64MulImm => |x: u64, y| x.wrapping_mul(y);
        I64AndImm => |x: u64, y| x & y;
        I64OrImm => |x: u64, y| x | y;
        I64XorImm => |x: u64, y| x ^ y;
        I64ShlImm => |x: u64, y| x.wrapping_shl(y as u32);
        I64ShrSImm => |x: i64, y| x.wrapping_shr(y as u32) as u64;
        I64ShrUImm => |x: u64, y| x.wrapping_shr(y as u32);
        I64EqImm => |x: i64, y| (x == y) as u64;
        I64NeImm => |x: i64, y| (x != y) as u64;
        I64LtSImm => |x: i64, y| (x < y) as u64;
        I64LtUImm => |x: u64, y| (x < y) as u64;
        I64GtSImm => |x: i64, y| (x > y) as u64;
        I64GtUImm => |x: u64, y| (x > y) as u64;
        I64LeSImm => |x: i64, y| (x <= y) as u64;
        I64LeUImm => |x: u64, y| (x <= y) as u64;
        I64GeSImm => |x: i64, y| (x >= y) as u64;
        I64GeUImm => |x: u64, y| (x >= y) as u64;
        I64RotlImm => |x: u64, y| x.rotate_left(y as u32);
        I64RotrImm => |x: u64, y| x.rotate_right(y as u32);
    }

    brcmps! {
        BrI32Eq => |x: u32, y| x == y;
        BrI32Ne => |x: u32, y| x != y;
        BrI32LtS => |x: i32, y| x < y;
        BrI32LtU => |x: u32, y| x < y;
        BrI32GtS => |x: i32, y| x > y;
        BrI32GtU => |x: u32, y| x > y;
        BrI32LeS => |x: i32, y| x <= y;
        BrI32LeU => |x: u32, y| x <= y;
        BrI32GeS => |x: i32, y| x >= y;
        BrI32GeU => |x: u32, y| x >= y;
        BrI64Eq => |x: u64, y| x == y;
        BrI64Ne => |x: u64, y| x != y;
        BrI64LtS => |x: i64, y| x < y;
        BrI64LtU => |x: u64, y| x < y;
        BrI64GtS => |x: i64, y| x > y;
        BrI64GtU => |x: u64, y| x > y;
        BrI64LeS => |x: i64, y| x <= y;
        BrI64LeU => |x: u64, y| x <= y;
        BrI64GeS => |x: i64, y| x >= y;
        BrI64GeU => |x: u64, y| x >= y;
        BrF32Eq => |x: u64, y| f32s(x) == f32s(y);
        BrF32Ne => |x: u64, y| f32s(x) != f32s(y);
        BrF32Lt => |x: u64, y| f32s(x) < f32s(y);
        BrF32Gt => |x: u64, y| f32s(x) > f32s(y);
        BrF32Le => |x: u64, y| f32s(x) <= f32s(y);
        BrF32Ge => |x: u64, y| f32s(x) >= f32s(y);
        BrF32NotLt => |x: u64, y| !(f32s(x) < f32s(y));
        BrF32NotGt => |x: u64, y| !(f32s(x) > f32s(y));
        BrF32NotLe => |x: u64, y| !(f32s(x) <= f32s(y));
        BrF32NotGe => |x: u64, y| !(f32s(x) >= f32s(y));
        BrF64Eq => |x: u64, y| f64s(x) == f64s(y);
        BrF64Ne => |x: u64, y| f64s(x) != f64s(y);
        BrF64Lt => |x: u64, y| f64s(x) < f64s(y);
        BrF64Gt => |x: u64, y| f64s(x) > f64s(y);
        BrF64Le => |x: u64, y| f64s(x) <= f64s(y);
        BrF64Ge => |x: u64, y| f64s(x) >= f64s(y);
        BrF64NotLt => |x: u64, y| !(f64s(x) < f64s(y));
        BrF64NotGt => |x: u64, y| !(f64s(x) > f64s(y));
        BrF64NotLe => |x: u64, y| !(f64s(x) <= f64s(y));
        BrF64NotGe => |x: u64, y| !(f64s(x) >= f64s(y));
    }

    brimms! {
        BrI32EqImm => |x: u32, y| x == y;
        BrI32NeImm => |x: u32, y| x != y;
        BrI32LtSImm => |x: i32, y| x < y;
        BrI32LtUImm => |x: u32, y| x < y;
        BrI32GtSImm => |x: i32, y| x > y;
        BrI32GtUImm => |x: u32, y| x > y;
        BrI32LeSImm => |x: i32, y| x <= y;
        BrI32LeUImm => |x: u32, y| x <= y;
        BrI32GeSImm => |x: i32, y| x >= y;
        BrI32GeUImm => |x: u32, y| x >= y;
    }

    brimms64! {
        BrI64EqImm => |x: u64, y| x == y;
        BrI64NeImm => |x: u64, y| x != y;
        BrI64LtSImm => |x: i64, y| x < y;
        BrI64LtUImm => |x: u64, y| x < y;
        BrI64GtSImm => |x: i64, y| x > y;
        BrI64GtUImm => |x: u64, y| x > y;
        BrI64LeSImm => |x: i64, y| x <= y;
        BrI64LeUImm => |x: u64, y| x <= y;
        BrI64GeSImm => |x: i64, y| x >= y;
        BrI64GeUImm => |x: u64, y| x >= y;
    }

    loads! {
        I32Load => 4, |b| u32::from_le_bytes(b) as u64;
        I64Load => 8, |b| u64::from_le_bytes(b);
        I32Load8S => 1, |b| b[0] as i8 as i32 as u32 as u64;
        I32Load8U => 1, |b| b[0] as u64;
        I32Load16S => 2, |b| i16::from_le_bytes(b) as i32 as u32 as u64;
        I32Load16U => 2, |b| u16::from_le_bytes(b) as u64;
        I64Load8S => 1, |b| b[0] as i8 as i64 as u64;
        I64Load8U => 1, |b| b[0] as u64;
        I64Load16S => 2, |b| i16::from_le_bytes(b) as i64 as u64;
        I64Load16U => 2, |b| u16::from_le_bytes(b) as u64;
        I64Load32S => 4, |b| i32::from_le_bytes(b) as i64 as u64;
        I64Load32U => 4, |b| u32::from_le_bytes(b) as u64;
    }

    loads_add! {
        I32LoadAdd => 4, |b| u32::from_le_bytes(b) as u64;
        I64LoadAdd => 8, |b| u64::from_le_bytes(b);
        I32Load8SAdd => 1, |b| b[0] as i8 as i32 as u32 as u64;
        I32Load8UAdd => 1, |b| b[0] as u64;
        I32Load16SAdd => 2, |b| i16::from_le_bytes(b) as i32 as u32 as u64;
        I32Load16UAdd => 2, |b| u16::from_le_bytes(b) as u64;
        I64Load8SAdd => 1, |b| b[0] as i8 as i64 as u64;
        I64Load16SAdd => 2, |b| i16::from_le_bytes(b) as i64 as u64;
        I64Load32SAdd => 4, |b| i32::from_le_bytes(b) as i64 as u64;
        I64Load32UAdd => 4, |b| u32::from_le_bytes(b) as u64;
    }

    stores_add! {
        I32StoreAdd => 4, u32;
        I64StoreAdd => 8, u64;
        I32Store8Add => 1, u8;
        I32Store16Add => 2, u16;
    }

    stores! {
        I32Store => 4, u32;
        I64Store => 8, u64;
        I32Store8 => 1, u8;
        I32Store16 => 2, u16;
        I64Store8 => 1, u8;
        I64Store16 => 2, u16;
        I64Store32 => 4, u32;
    }

    // 128-bit SIMD: handlers read both slots of each v128 operand, call the lane semantics
    // in `simd` and write both slots of the result (after reading every operand).

    /// Reads the v128 in slots `i` (low half) and `i + 1`.
    ///
    /// # Safety
    ///
    /// As for [`get`], for both slots.
    #[inline(always)]
    unsafe fn get2(s: *mut u64, i: Slot) -> simd::V128 {
        if cfg!(target_endian = "little") {
            // One 16-byte load, which LLVM keeps in a vector register for the lane code.
            // SAFETY: the caller's guarantee: slots `i` and `i + 1` are adjacent `u64`s of
            // the frame, low half first, which on a little-endian host are the vector's
            // bytes in order.
            unsafe { std::ptr::read_unaligned(s.add(i as usize) as *const simd::V128) }
        } else {
            // SAFETY: the caller's guarantee.
            unsafe { (get(s, i) as u128 | (get(s, i + 1) as u128) << 64).to_le_bytes() }
        }
    }

    /// Writes a v128 to slots `i` and `i + 1`.
    ///
    /// # Safety
    ///
    /// As for [`get`], for both slots.
    #[inline(always)]
    unsafe fn set2(s: *mut u64, i: Slot, v: simd::V128) {
        if cfg!(target_endian = "little") {
            // SAFETY: as in `get2`.
            unsafe { std::ptr::write_unaligned(s.add(i as usize) as *mut simd::V128, v) }
        } else {
            let v = u128::from_le_bytes(v);
            // SAFETY: the caller's guarantee.
            unsafe {
                set(s, i, v as u64);
                set(s, i + 1, (v >> 64) as u64);
            }
        }
    }

    /// `d = f(a)`, v128 to v128.
    macro_rules! v_unops {
        ($($name:ident => $f:path;)*) => {$(
            handler!($name { d, a } |ip, s, cx| {
                // SAFETY: `d` and `a` are v128 slot operands (see `get2`).
                unsafe {
                    let r = $f(get2(s, a));
                    set2(s, d, r);
                    next(ip, s, cx)
                }
            });
        )*};
    }

    /// `d = f(a)`, scalar to v128.
    macro_rules! v_splats {
        ($($name:ident => $f:path;)*) => {$(
            handler!($name { d, a } |ip, s, cx| {
                // SAFETY: `d` is a v128 slot operand, `a` a scalar one (see `get`).
                unsafe {
                    let r = $f(get(s, a));
                    set2(s, d, r);
                    next(ip, s, cx)
                }
            });
        )*};
    }

    /// `d = f(a)`, v128 to i32.
    macro_rules! v_tests {
        ($($name:ident => $f:path;)*) => {$(
            handler!($name { d, a } |ip, s, cx| {
                // SAFETY: `a` is a v128 slot operand, `d` a scalar one (see `get`).
                unsafe {
                    let r = $f(get2(s, a));
                    set(s, d, r as u64);
                    next(ip, s, cx)
                }
            });
        )*};
    }

    /// `d = f(a, b)`, both v128.
    macro_rules! v_binops {
        ($($name:ident => $f:path;)*) => {$(
            handler!($name { d, a, b } |ip, s, cx| {
                // SAFETY: `d`, `a` and `b` are v128 slot operands (see `get2`).
                unsafe {
                    let r = $f(get2(s, a), get2(s, b));
                    set2(s, d, r);
                    next(ip, s, cx)
                }
            });
        )*};
    }

    /// `d = f(a, b)`, `b` the i32 shift count.
    macro_rules! v_shifts {
        ($($name:ident => $f:path;)*) => {$(
            handler!($name { d, a, b } |ip, s, cx| {
                // SAFETY: `d` and `a` are v128 slot operands, `b` a scalar one (see `get`).
                unsafe {
                    let r = $f(get2(s, a), get(s, b) as u32);
                    set2(s, d, r);
                    next(ip, s, cx)
                }
            });
        )*};
    }

    /// `d = f(a, lane)`, a scalar lane value.
    macro_rules! v_extracts {
        ($($name:ident => $f:path;)*) => {$(
            handler!($name { d, a, lane } |ip, s, cx| {
                // SAFETY: `a` is a v128 slot operand, `d` a scalar one (see `get`).
                unsafe {
                    let r = $f(get2(s, a), lane);
                    set(s, d, r);
                    next(ip, s, cx)
                }
            });
        )*};
    }

    /// `d = f(a, b, lane)`, lane in the following `Imm`.
    macro_rules! v_replaces {
        ($($name:ident => $f:path;)*) => {$(
            handler!($name { d, a, b } |ip, s, cx| {
                // SAFETY: `d` and `a` are v128 slot operands, `b` a scalar one (see `get`);
                // the translator emits the `Imm` right after, so `ip + 2` is in the code.
                unsafe {
                    let Op::Imm { a: lane, .. } = *ip.add(1) else {
                        std::hint::unreachable_unchecked()
                    };
                    let r = $f(get2(s, a), get(s, b), lane);
                    set2(s, d, r);
                    dispatch(ip.add(2), s, cx)
                }
            });
        )*};
    }

    /// v128 loads of memory 0: `$n` bytes, bounds-checked like the scalar loads.
    macro_rules! v_loads {
        ($($name:ident => $n:literal, |$b:ident| $e:expr;)*) => {$(
            handler!($name { d, a, off } |ip, s, cx| {
                // SAFETY: `d` is a v128 slot operand, `a` a scalar one (see `get`).
                unsafe {
                    match cx.mem.load::<$n>(get(s, a) as u32, off) {
                        Ok($b) => {
                            set2(s, d, $e);
                            next(ip, s, cx)
                        }
                        Err(c) => trap(cx, c),
                    }
                }
            });
        )*};
    }

    /// `d = v` with lane (`Imm.b`) loaded from `a + off` (`Imm.a`).
    macro_rules! v_load_lanes {
        ($($name:ident => $n:literal, $f:path, |$b:ident| $e:expr;)*) => {$(
            handler!($name { d, a, v } |ip, s, cx| {
                // SAFETY: `d` and `v` are v128 slot operands, `a` a scalar one (see `get`);
                // the translator emits the `Imm` right after, so `ip + 2` is in the code.
                unsafe {
                    let Op::Imm { a: off, b: lane } = *ip.add(1) else {
                        std::hint::unreachable_unchecked()
                    };
                    match cx.mem.load::<$n>(get(s, a) as u32, off) {
                        Ok($b) => {
                            let r = $f(get2(s, v), $e, lane);
                            set2(s, d, r);
                            dispatch(ip.add(2), s, cx)
                        }
                        Err(c) => trap(cx, c),
                    }
                }
            });
        )*};
    }

    /// Stores lane `Imm.a` of `v` at `a + off`.
    macro_rules! v_store_lanes {
        ($($name:ident => $n:literal, $f:path, $t:ty;)*) => {$(
            handler!($name { a, v, off } |ip, s, cx| {
                // SAFETY: `v` is a v128 slot operand, `a` a scalar one (see `get`); the
                // translator emits the `Imm` right after, so `ip + 2` is in the code.
                unsafe {
                    let Op::Imm { a: lane, .. } = *ip.add(1) else {
                        std::hint::unreachable_unchecked()
                    };
                    let bytes = ($f(get2(s, v), lane) as $t).to_le_bytes();
                    match cx.mem.store::<$n>(get(s, a) as u32, off, bytes) {
                        Ok(()) => dispatch(ip.add(2), s, cx),
                        Err(c) => trap(cx, c),
                    }
                }
            });
        )*};
    }

    handler!(
        V128Const { d, k } | ip,
        s,
        cx | {
            let v = cx.code.v128_consts[k as usize].to_le_bytes();
            // SAFETY: `d` is a v128 slot operand.
            unsafe {
                set2(s, d, v);
                next(ip, s, cx)
            }
        }
    );
    handler!(
        I8x16Shuffle { d, a, b } | ip,
        s,
        cx | {
            // SAFETY: `d`, `a` and `b` are v128 slot operands; the translator emits the `Imm`
            // (the index of the lanes in the constant pool) right after.
            unsafe {
                let Op::Imm { a: k, .. } = *ip.add(1) else {
                    std::hint::unreachable_unchecked()
                };
                let lanes = cx.code.v128_consts[k as usize].to_le_bytes();
                let r = simd::i8x16_shuffle(get2(s, a), get2(s, b), lanes);
                set2(s, d, r);
                dispatch(ip.add(2), s, cx)
            }
        }
    );
    /// `d = f(a, b, c)`, all v128, `c` in the following `Ext`.
    macro_rules! v_ternops {
        ($($name:ident => $f:path;)*) => {$(
            handler!($name { d, a, b } |ip, s, cx| {
                // SAFETY: `d`, `a`, `b` and the `Ext`'s `c` are v128 slot operands; the
                // translator emits the `Ext` right after.
                unsafe {
                    let Op::Ext { c } = *ip.add(1) else {
                        std::hint::unreachable_unchecked()
                    };
                    let r = $f(get2(s, a), get2(s, b), get2(s, c));
                    set2(s, d, r);
                    dispatch(ip.add(2), s, cx)
                }
            });
        )*};
    }

    v_ternops! {
        V128Bitselect => simd::v128_bitselect;
        I8x16RelaxedLaneselect => simd::i8x16_relaxed_laneselect;
        I32x4RelaxedLaneselect => simd::i32x4_relaxed_laneselect;
        I64x2RelaxedLaneselect => simd::i64x2_relaxed_laneselect;
        F32x4RelaxedMadd => simd::f32x4_relaxed_madd;
        F32x4RelaxedNmadd => simd::f32x4_relaxed_nmadd;
        F64x2RelaxedMadd => simd::f64x2_relaxed_madd;
        F64x2RelaxedNmadd => simd::f64x2_relaxed_nmadd;
        I32x4RelaxedDotI8x16I7x16AddS => simd::i32x4_relaxed_dot_i8x16_i7x16_add_s;
    }
    handler!(
        V128Store { a, v, off } | ip,
        s,
        cx | {
            // SAFETY: `v` is a v128 slot operand, `a` a scalar one.
            unsafe {
                let bytes = get2(s, v);
                match cx.mem.store::<16>(get(s, a) as u32, off, bytes) {
                    Ok(()) => next(ip, s, cx),
                    Err(c) => trap(cx, c),
                }
            }
        }
    );

    handler!(
        V128Load { d, a, off } | ip,
        s,
        cx | {
            // SAFETY: `d` is a v128 slot operand (two adjacent frame slots), `a` a scalar
            // one (see `get`).
            unsafe {
                let r = if cfg!(target_endian = "little") {
                    // The slots hold the vector's bytes in memory order: move them as one.
                    let dst = s.add(d as usize) as *mut u8;
                    cx.mem.load_v128_into(get(s, a) as u32, off, dst)
                } else {
                    cx.mem
                        .load::<16>(get(s, a) as u32, off)
                        .map(|b| set2(s, d, b))
                };
                match r {
                    Ok(()) => next(ip, s, cx),
                    Err(c) => trap(cx, c),
                }
            }
        }
    );

    v_loads! {
        V128Load8x8S => 8, |b| simd::load8x8_s(b);
        V128Load8x8U => 8, |b| simd::load8x8_u(b);
        V128Load16x4S => 8, |b| simd::load16x4_s(b);
        V128Load16x4U => 8, |b| simd::load16x4_u(b);
        V128Load32x2S => 8, |b| simd::load32x2_s(b);
        V128Load32x2U => 8, |b| simd::load32x2_u(b);
        V128Load8Splat => 1, |b| simd::i8x16_splat(b[0] as u64);
        V128Load16Splat => 2, |b| simd::i16x8_splat(u16::from_le_bytes(b) as u64);
        V128Load32Splat => 4, |b| simd::i32x4_splat(u32::from_le_bytes(b) as u64);
        V128Load64Splat => 8, |b| simd::i64x2_splat(u64::from_le_bytes(b));
        V128Load32Zero => 4, |b| simd::load32_zero(b);
        V128Load64Zero => 8, |b| simd::load64_zero(b);
    }

    v_load_lanes! {
        V128Load8Lane => 1, simd::i8x16_replace_lane, |b| b[0] as u64;
        V128Load16Lane => 2, simd::i16x8_replace_lane, |b| u16::from_le_bytes(b) as u64;
        V128Load32Lane => 4, simd::i32x4_replace_lane, |b| u32::from_le_bytes(b) as u64;
        V128Load64Lane => 8, simd::i64x2_replace_lane, |b| u64::from_le_bytes(b);
    }

    v_store_lanes! {
        V128Store8Lane => 1, simd::i8x16_extract_lane_u, u8;
        V128Store16Lane => 2, simd::i16x8_extract_lane_u, u16;
        V128Store32Lane => 4, simd::i32x4_extract_lane, u32;
        V128Store64Lane => 8, simd::i64x2_extract_lane, u64;
    }

    v_extracts! {
        I8x16ExtractLaneS => simd::i8x16_extract_lane_s;
        I8x16ExtractLaneU => simd::i8x16_extract_lane_u;
        I16x8ExtractLaneS => simd::i16x8_extract_lane_s;
        I16x8ExtractLaneU => simd::i16x8_extract_lane_u;
        I32x4ExtractLane => simd::i32x4_extract_lane;
        I64x2ExtractLane => simd::i64x2_extract_lane;
    }

    v_replaces! {
        I8x16ReplaceLane => simd::i8x16_replace_lane;
        I16x8ReplaceLane => simd::i16x8_replace_lane;
        I32x4ReplaceLane => simd::i32x4_replace_lane;
        I64x2ReplaceLane => simd::i64x2_replace_lane;
    }

    v_splats! {
        I8x16Splat => simd::i8x16_splat;
        I16x8Splat => simd::i16x8_splat;
        I32x4Splat => simd::i32x4_splat;
        I64x2Splat => simd::i64x2_splat;
    }

    v_tests! {
        V128AnyTrue => simd::v128_any_true;
        I8x16AllTrue => simd::i8x16_all_true;
        I8x16Bitmask => simd::i8x16_bitmask;
        I16x8AllTrue => simd::i16x8_all_true;
        I16x8Bitmask => simd::i16x8_bitmask;
        I32x4AllTrue => simd::i32x4_all_true;
        I32x4Bitmask => simd::i32x4_bitmask;
        I64x2AllTrue => simd::i64x2_all_true;
        I64x2Bitmask => simd::i64x2_bitmask;
    }

    v_shifts! {
        I8x16Shl => simd::i8x16_shl;
        I8x16ShrS => simd::i8x16_shr_s;
        I8x16ShrU => simd::i8x16_shr_u;
        I16x8Shl => simd::i16x8_shl;
        I16x8ShrS => simd::i16x8_shr_s;
        I16x8ShrU => simd::i16x8_shr_u;
        I32x4Shl => simd::i32x4_shl;
        I32x4ShrS => simd::i32x4_shr_s;
        I32x4ShrU => simd::i32x4_shr_u;
        I64x2Shl => simd::i64x2_shl;
        I64x2ShrS => simd::i64x2_shr_s;
        I64x2ShrU => simd::i64x2_shr_u;
    }

    v_unops! {
        V128Not => simd::v128_not;
        I8x16Abs => simd::i8x16_abs;
        I8x16Neg => simd::i8x16_neg;
        I8x16Popcnt => simd::i8x16_popcnt;
        I16x8ExtAddPairwiseI8x16S => simd::i16x8_extadd_pairwise_i8x16_s;
        I16x8ExtAddPairwiseI8x16U => simd::i16x8_extadd_pairwise_i8x16_u;
        I16x8Abs => simd::i16x8_abs;
        I16x8Neg => simd::i16x8_neg;
        I16x8ExtendLowI8x16S => simd::i16x8_extend_low_i8x16_s;
        I16x8ExtendHighI8x16S => simd::i16x8_extend_high_i8x16_s;
        I16x8ExtendLowI8x16U => simd::i16x8_extend_low_i8x16_u;
        I16x8ExtendHighI8x16U => simd::i16x8_extend_high_i8x16_u;
        I32x4ExtAddPairwiseI16x8S => simd::i32x4_extadd_pairwise_i16x8_s;
        I32x4ExtAddPairwiseI16x8U => simd::i32x4_extadd_pairwise_i16x8_u;
        I32x4Abs => simd::i32x4_abs;
        I32x4Neg => simd::i32x4_neg;
        I32x4ExtendLowI16x8S => simd::i32x4_extend_low_i16x8_s;
        I32x4ExtendHighI16x8S => simd::i32x4_extend_high_i16x8_s;
        I32x4ExtendLowI16x8U => simd::i32x4_extend_low_i16x8_u;
        I32x4ExtendHighI16x8U => simd::i32x4_extend_high_i16x8_u;
        I64x2Abs => simd::i64x2_abs;
        I64x2Neg => simd::i64x2_neg;
        I64x2ExtendLowI32x4S => simd::i64x2_extend_low_i32x4_s;
        I64x2ExtendHighI32x4S => simd::i64x2_extend_high_i32x4_s;
        I64x2ExtendLowI32x4U => simd::i64x2_extend_low_i32x4_u;
        I64x2ExtendHighI32x4U => simd::i64x2_extend_high_i32x4_u;
        F32x4Ceil => simd::f32x4_ceil;
        F32x4Floor => simd::f32x4_floor;
        F32x4Trunc => simd::f32x4_trunc;
        F32x4Nearest => simd::f32x4_nearest;
        F32x4Abs => simd::f32x4_abs;
        F32x4Neg => simd::f32x4_neg;
        F32x4Sqrt => simd::f32x4_sqrt;
        F64x2Ceil => simd::f64x2_ceil;
        F64x2Floor => simd::f64x2_floor;
        F64x2Trunc => simd::f64x2_trunc;
        F64x2Nearest => simd::f64x2_nearest;
        F64x2Abs => simd::f64x2_abs;
        F64x2Neg => simd::f64x2_neg;
        F64x2Sqrt => simd::f64x2_sqrt;
        I32x4TruncSatF32x4S => simd::i32x4_trunc_sat_f32x4_s;
        I32x4TruncSatF32x4U => simd::i32x4_trunc_sat_f32x4_u;
        F32x4ConvertI32x4S => simd::f32x4_convert_i32x4_s;
        F32x4ConvertI32x4U => simd::f32x4_convert_i32x4_u;
        I32x4TruncSatF64x2SZero => simd::i32x4_trunc_sat_f64x2_s_zero;
        I32x4TruncSatF64x2UZero => simd::i32x4_trunc_sat_f64x2_u_zero;
        F64x2ConvertLowI32x4S => simd::f64x2_convert_low_i32x4_s;
        F64x2ConvertLowI32x4U => simd::f64x2_convert_low_i32x4_u;
        F32x4DemoteF64x2Zero => simd::f32x4_demote_f64x2_zero;
        F64x2PromoteLowF32x4 => simd::f64x2_promote_low_f32x4;
        I32x4RelaxedTruncF32x4S => simd::i32x4_relaxed_trunc_f32x4_s;
        I32x4RelaxedTruncF64x2SZero => simd::i32x4_relaxed_trunc_f64x2_s_zero;
    }

    v_binops! {
        I8x16Swizzle => simd::i8x16_swizzle;
        I8x16Eq => simd::i8x16_eq;
        I8x16Ne => simd::i8x16_ne;
        I8x16LtS => simd::i8x16_lt_s;
        I8x16LtU => simd::i8x16_lt_u;
        I8x16GtS => simd::i8x16_gt_s;
        I8x16GtU => simd::i8x16_gt_u;
        I8x16LeS => simd::i8x16_le_s;
        I8x16LeU => simd::i8x16_le_u;
        I8x16GeS => simd::i8x16_ge_s;
        I8x16GeU => simd::i8x16_ge_u;
        I16x8Eq => simd::i16x8_eq;
        I16x8Ne => simd::i16x8_ne;
        I16x8LtS => simd::i16x8_lt_s;
        I16x8LtU => simd::i16x8_lt_u;
        I16x8GtS => simd::i16x8_gt_s;
        I16x8GtU => simd::i16x8_gt_u;
        I16x8LeS => simd::i16x8_le_s;
        I16x8LeU => simd::i16x8_le_u;
        I16x8GeS => simd::i16x8_ge_s;
        I16x8GeU => simd::i16x8_ge_u;
        I32x4Eq => simd::i32x4_eq;
        I32x4Ne => simd::i32x4_ne;
        I32x4LtS => simd::i32x4_lt_s;
        I32x4LtU => simd::i32x4_lt_u;
        I32x4GtS => simd::i32x4_gt_s;
        I32x4GtU => simd::i32x4_gt_u;
        I32x4LeS => simd::i32x4_le_s;
        I32x4LeU => simd::i32x4_le_u;
        I32x4GeS => simd::i32x4_ge_s;
        I32x4GeU => simd::i32x4_ge_u;
        I64x2Eq => simd::i64x2_eq;
        I64x2Ne => simd::i64x2_ne;
        I64x2LtS => simd::i64x2_lt_s;
        I64x2GtS => simd::i64x2_gt_s;
        I64x2LeS => simd::i64x2_le_s;
        I64x2GeS => simd::i64x2_ge_s;
        F32x4Eq => simd::f32x4_eq;
        F32x4Ne => simd::f32x4_ne;
        F32x4Lt => simd::f32x4_lt;
        F32x4Gt => simd::f32x4_gt;
        F32x4Le => simd::f32x4_le;
        F32x4Ge => simd::f32x4_ge;
        F64x2Eq => simd::f64x2_eq;
        F64x2Ne => simd::f64x2_ne;
        F64x2Lt => simd::f64x2_lt;
        F64x2Gt => simd::f64x2_gt;
        F64x2Le => simd::f64x2_le;
        F64x2Ge => simd::f64x2_ge;
        V128And => simd::v128_and;
        V128AndNot => simd::v128_andnot;
        V128Or => simd::v128_or;
        V128Xor => simd::v128_xor;
        I8x16NarrowI16x8S => simd::i8x16_narrow_i16x8_s;
        I8x16NarrowI16x8U => simd::i8x16_narrow_i16x8_u;
        I8x16Add => simd::i8x16_add;
        I8x16AddSatS => simd::i8x16_add_sat_s;
        I8x16AddSatU => simd::i8x16_add_sat_u;
        I8x16Sub => simd::i8x16_sub;
        I8x16SubSatS => simd::i8x16_sub_sat_s;
        I8x16SubSatU => simd::i8x16_sub_sat_u;
        I8x16MinS => simd::i8x16_min_s;
        I8x16MinU => simd::i8x16_min_u;
        I8x16MaxS => simd::i8x16_max_s;
        I8x16MaxU => simd::i8x16_max_u;
        I8x16AvgrU => simd::i8x16_avgr_u;
        I16x8Q15MulrSatS => simd::i16x8_q15mulr_sat_s;
        I16x8NarrowI32x4S => simd::i16x8_narrow_i32x4_s;
        I16x8NarrowI32x4U => simd::i16x8_narrow_i32x4_u;
        I16x8Add => simd::i16x8_add;
        I16x8AddSatS => simd::i16x8_add_sat_s;
        I16x8AddSatU => simd::i16x8_add_sat_u;
        I16x8Sub => simd::i16x8_sub;
        I16x8SubSatS => simd::i16x8_sub_sat_s;
        I16x8SubSatU => simd::i16x8_sub_sat_u;
        I16x8Mul => simd::i16x8_mul;
        I16x8MinS => simd::i16x8_min_s;
        I16x8MinU => simd::i16x8_min_u;
        I16x8MaxS => simd::i16x8_max_s;
        I16x8MaxU => simd::i16x8_max_u;
        I16x8AvgrU => simd::i16x8_avgr_u;
        I16x8ExtMulLowI8x16S => simd::i16x8_extmul_low_i8x16_s;
        I16x8ExtMulHighI8x16S => simd::i16x8_extmul_high_i8x16_s;
        I16x8ExtMulLowI8x16U => simd::i16x8_extmul_low_i8x16_u;
        I16x8ExtMulHighI8x16U => simd::i16x8_extmul_high_i8x16_u;
        I32x4Add => simd::i32x4_add;
        I32x4Sub => simd::i32x4_sub;
        I32x4Mul => simd::i32x4_mul;
        I32x4MinS => simd::i32x4_min_s;
        I32x4MinU => simd::i32x4_min_u;
        I32x4MaxS => simd::i32x4_max_s;
        I32x4MaxU => simd::i32x4_max_u;
        I32x4DotI16x8S => simd::i32x4_dot_i16x8_s;
        I32x4ExtMulLowI16x8S => simd::i32x4_extmul_low_i16x8_s;
        I32x4ExtMulHighI16x8S => simd::i32x4_extmul_high_i16x8_s;
        I32x4ExtMulLowI16x8U => simd::i32x4_extmul_low_i16x8_u;
        I32x4ExtMulHighI16x8U => simd::i32x4_extmul_high_i16x8_u;
        I64x2Add => simd::i64x2_add;
        I64x2Sub => simd::i64x2_sub;
        I64x2Mul => simd::i64x2_mul;
        I64x2ExtMulLowI32x4S => simd::i64x2_extmul_low_i32x4_s;
        I64x2ExtMulHighI32x4S => simd::i64x2_extmul_high_i32x4_s;
        I64x2ExtMulLowI32x4U => simd::i64x2_extmul_low_i32x4_u;
        I64x2ExtMulHighI32x4U => simd::i64x2_extmul_high_i32x4_u;
        F32x4Add => simd::f32x4_add;
        F32x4Sub => simd::f32x4_sub;
        F32x4Mul => simd::f32x4_mul;
        F32x4Div => simd::f32x4_div;
        F32x4Min => simd::f32x4_min;
        F32x4Max => simd::f32x4_max;
        F32x4PMin => simd::f32x4_pmin;
        F32x4PMax => simd::f32x4_pmax;
        F64x2Add => simd::f64x2_add;
        F64x2Sub => simd::f64x2_sub;
        F64x2Mul => simd::f64x2_mul;
        F64x2Div => simd::f64x2_div;
        F64x2Min => simd::f64x2_min;
        F64x2Max => simd::f64x2_max;
        F64x2PMin => simd::f64x2_pmin;
        F64x2PMax => simd::f64x2_pmax;
        I8x16RelaxedSwizzle => simd::i8x16_relaxed_swizzle;
        I16x8RelaxedQ15mulrS => simd::i16x8_relaxed_q15mulr_s;
        I16x8RelaxedDotI8x16I7x16S => simd::i16x8_relaxed_dot_i8x16_i7x16_s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_index_the_handler_table() {
        let ops = [
            Op::Unreachable,
            Op::I32Eqz { d: 1, a: 2 },
            Op::Const64 { d: 3, v: 4 },
            Op::ElemDrop { elem: 5 },
        ];
        let tags: Vec<u16> = ops
            .iter()
            // SAFETY: `Op` is `repr(u16)`: its first two bytes are the tag.
            .map(|op| unsafe { *(op as *const Op as *const u16) })
            .collect();
        // `I32Eqz` is the first variant and `ElemDrop` the last.
        assert_eq!(tags[1], 0);
        assert_eq!(tags[3] as usize, HANDLERS.len() - 1);
        assert!(tags.iter().all(|&t| (t as usize) < HANDLERS.len()));
    }
}
