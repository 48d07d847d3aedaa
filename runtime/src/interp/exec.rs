//! The interpreter's dispatch loop.
//!
//! Wasm-to-Wasm calls never recurse on the host stack: frames live in a vector and the
//! value slots of all frames in one `Vec<u64>` (a callee's frame starts where the caller
//! placed its arguments). Only host functions that call back into Wasm nest `invoke`s, and
//! those are bounded by a native stack budget.
//!
//! This module holds the interpreter's `unsafe`: turning the code and instance pointers of
//! suspended frames and funcref values back into references.

use super::ir::Op;
use super::num;
use super::{FuncCode, bump};
use crate::error::{FrameInfo, Trap, TrapCode};
use crate::instance::{Callee, Caller, InstanceInner, retain_in_global, retain_in_table};
use crate::vm::{MemView, VMFuncRef};
use std::cell::{Cell, RefCell};
use std::sync::atomic::Ordering;

/// Host stack the nested invocations of one thread may use before they trap.
const NATIVE_STACK_BUDGET: usize = 512 * 1024;

struct Frame {
    code: *const FuncCode,
    inst: *const InstanceInner,
    ip: usize,
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
    /// Address of a local of the outermost invocation (approximate stack top).
    static STACK_TOP: Cell<usize> = const { Cell::new(0) };
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
    let marker = 0u8;
    let here = &marker as *const u8 as usize;
    let top = STACK_TOP.get();
    let outermost = top == 0;
    if outermost {
        STACK_TOP.set(here);
    } else if top.saturating_sub(here) > NATIVE_STACK_BUDGET {
        return Err(Trap::new(TrapCode::StackExhausted));
    }
    let result = match inst.callee(f.index) {
        Callee::Host(h) => (h.func)(&Caller { instance: None }, slots),
        Callee::Wasm => {
            let mut stacks = POOL.with(|p| p.borrow_mut().pop()).unwrap_or_default();
            let r = run_outer(&mut stacks, inst, f.index, slots);
            stacks.frames.clear();
            POOL.with(|p| p.borrow_mut().push(stacks));
            r
        }
    };
    if outermost {
        STACK_TOP.set(0);
    }
    result
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
    let mut bt = vec![frame_info(current, inst)];
    for f in frames.iter().rev() {
        // SAFETY: suspended frames point to code and instances that are alive for the whole
        // invocation (see `run`).
        let (c, i) = unsafe { (&*f.code, &*f.inst) };
        bt.push(frame_info(c, i));
    }
    host.unwrap_or_else(|| Trap::new(code)).with_backtrace(bt)
}

fn frame_info(code: &FuncCode, inst: &InstanceInner) -> FrameInfo {
    FrameInfo {
        module: inst.instance_name(),
        func_index: code.func_index,
        func_name: inst.func_name(code.func_index),
    }
}

/// A frame slot as a place. Checked in debug builds; unchecked in release builds, where the
/// translator's invariant holds: every slot operand is below the function's `frame_slots`,
/// and a frame is only entered after `values` was grown to `fp + frame_slots`.
#[cfg(debug_assertions)]
macro_rules! reg {
    ($regs:ident, $s:expr) => {
        $regs[$s as usize]
    };
}
#[cfg(not(debug_assertions))]
macro_rules! reg {
    ($regs:ident, $s:expr) => {
        // SAFETY: see the macro's documentation: `$s < frame_slots <= regs.len()`.
        *unsafe { $regs.get_unchecked_mut($s as usize) }
    };
}

fn run(
    stacks: &mut Stacks,
    entry: &FuncCode,
    entry_inst: &InstanceInner,
    max_depth: usize,
) -> Result<(), Trap> {
    let Stacks { values, frames } = stacks;
    let max_slots = entry_inst.engine.config().max_stack_slots;
    let mut code: &FuncCode = entry;
    let mut inst: &InstanceInner = entry_inst;
    let mut ops: &[Op] = &code.ops;
    let mut ip: usize = 0;
    let mut fp: usize = 0;
    let mut mem: MemView = inst.mem0_view();
    let mut regs: &mut [u64] = &mut values[fp..];
    // The flag of the instance the invocation entered through: closing or interrupting that
    // module stops the call wherever it runs.
    let interrupt: &std::sync::atomic::AtomicU32 = &entry_inst.interrupt;

    macro_rules! trap {
        ($code:expr) => {{
            return Err(trap_with_backtrace($code, None, code, inst, frames));
        }};
    }
    macro_rules! tri {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(c) => trap!(c),
            }
        };
    }
    macro_rules! un {
        ($d:expr, $a:expr, |$x:ident: $t:ty| $e:expr) => {{
            let $x = reg!(regs, $a) as $t;
            reg!(regs, $d) = $e;
        }};
    }
    macro_rules! bin {
        ($d:expr, $a:expr, $b:expr, |$x:ident: $t:ty, $y:ident| $e:expr) => {{
            let $x = reg!(regs, $a) as $t;
            let $y = reg!(regs, $b) as $t;
            reg!(regs, $d) = $e;
        }};
    }
    macro_rules! f32s {
        ($v:expr) => {
            f32::from_bits($v as u32)
        };
    }
    macro_rules! f64s {
        ($v:expr) => {
            f64::from_bits($v)
        };
    }
    macro_rules! funop {
        ($d:expr, $a:expr, f32, |$x:ident| $e:expr) => {{
            let $x = f32s!(reg!(regs, $a));
            reg!(regs, $d) = ($e).to_bits() as u64;
        }};
        ($d:expr, $a:expr, f64, |$x:ident| $e:expr) => {{
            let $x = f64s!(reg!(regs, $a));
            reg!(regs, $d) = ($e).to_bits();
        }};
    }
    macro_rules! fbin {
        ($d:expr, $a:expr, $b:expr, f32, |$x:ident, $y:ident| $e:expr) => {{
            let $x = f32s!(reg!(regs, $a));
            let $y = f32s!(reg!(regs, $b));
            reg!(regs, $d) = ($e).to_bits() as u64;
        }};
        ($d:expr, $a:expr, $b:expr, f64, |$x:ident, $y:ident| $e:expr) => {{
            let $x = f64s!(reg!(regs, $a));
            let $y = f64s!(reg!(regs, $b));
            reg!(regs, $d) = ($e).to_bits();
        }};
    }
    macro_rules! fcmp {
        ($d:expr, $a:expr, $b:expr, $conv:ident, |$x:ident, $y:ident| $e:expr) => {{
            let $x = $conv!(reg!(regs, $a));
            let $y = $conv!(reg!(regs, $b));
            reg!(regs, $d) = ($e) as u64;
        }};
    }
    macro_rules! load {
        ($d:expr, $a:expr, $off:expr, $n:literal, |$bytes:ident| $e:expr) => {{
            let $bytes = tri!(mem.load::<$n>(reg!(regs, $a) as u32, $off));
            reg!(regs, $d) = $e;
        }};
    }
    macro_rules! store {
        ($a:expr, $v:expr, $off:expr, $n:literal, $ty:ty) => {{
            let v = reg!(regs, $v) as $ty;
            tri!(mem.store::<$n>(reg!(regs, $a) as u32, $off, v.to_le_bytes()));
        }};
    }
    // A taken conditional branch; a backward one is a loop back-edge.
    macro_rules! take_branch {
        ($target:expr) => {{
            let t = $target as usize;
            if t < ip {
                bump(&code.backedges);
                if interrupt.load(Ordering::Relaxed) != 0 {
                    trap!(TrapCode::Interrupted);
                }
            }
            ip = t;
        }};
    }
    macro_rules! brcmp {
        ($a:expr, $b:expr, $target:expr, |$x:ident: $t:ty, $y:ident| $e:expr) => {{
            let $x = reg!(regs, $a) as $t;
            let $y = reg!(regs, $b) as $t;
            if $e {
                take_branch!($target);
            }
        }};
    }
    macro_rules! brimm {
        ($a:expr, $imm:expr, $target:expr, |$x:ident: $t:ty, $y:ident| $e:expr) => {{
            let $x = reg!(regs, $a) as $t;
            let $y = $imm as $t;
            if $e {
                take_branch!($target);
            }
        }};
    }
    macro_rules! imm {
        () => {{
            match ops[ip] {
                Op::Imm { a, b } => {
                    ip += 1;
                    (a, b)
                }
                _ => unreachable!("missing immediate"),
            }
        }};
    }
    // Enters `$fref` with its frame starting at slot `$base` of the current frame.
    macro_rules! call {
        ($fref:expr, $base:expr) => {{
            let fref: &VMFuncRef = $fref;
            let callee_inst = instance_of_funcref(fref as *const VMFuncRef as u64);
            let abs = fp + $base as usize;
            match callee_inst.callee(fref.index) {
                Callee::Wasm => {
                    let callee = match callee_inst.code(fref.index) {
                        Ok(c) => c,
                        Err(t) => {
                            return Err(trap_with_backtrace(
                                TrapCode::HostError,
                                Some(t),
                                code,
                                inst,
                                frames,
                            ));
                        }
                    };
                    if frames.len() + 1 >= max_depth {
                        trap!(TrapCode::StackExhausted);
                    }
                    let need = abs + callee.frame_slots as usize;
                    if need > values.len() {
                        if need > max_slots {
                            trap!(TrapCode::StackExhausted);
                        }
                        values.resize((need * 2).min(max_slots).max(need), 0);
                    }
                    frames.push(Frame { code, inst, ip, fp });
                    bump(&callee.calls);
                    code = callee;
                    inst = callee_inst;
                    ops = &code.ops;
                    ip = 0;
                    fp = abs;
                    regs = &mut values[fp..];
                    regs[code.param_slots as usize..code.local_slots as usize].fill(0);
                    mem = inst.mem0_view();
                    if interrupt.load(Ordering::Relaxed) != 0 {
                        trap!(TrapCode::Interrupted);
                    }
                }
                Callee::Host(h) => {
                    let n = h.ty.stack_len();
                    if abs + n > values.len() {
                        if abs + n > max_slots {
                            trap!(TrapCode::StackExhausted);
                        }
                        values.resize(abs + n, 0);
                    }
                    let outer = OUTER_DEPTH.get();
                    OUTER_DEPTH.set(outer + frames.len() + 1);
                    let r = (h.func)(
                        &Caller {
                            instance: Some(inst),
                        },
                        &mut values[abs..abs + n],
                    );
                    OUTER_DEPTH.set(outer);
                    if let Err(t) = r {
                        return Err(trap_with_backtrace(
                            TrapCode::HostError,
                            Some(t),
                            code,
                            inst,
                            frames,
                        ));
                    }
                    regs = &mut values[fp..];
                    mem = inst.mem0_view();
                }
            }
        }};
    }

    loop {
        debug_assert!(regs.len() >= code.frame_slots as usize);
        #[cfg(debug_assertions)]
        let op = ops[ip];
        // SAFETY: every function's code ends in `Return` or `Unreachable` and every branch
        // target produced by the translator is inside the code, so `ip` stays in bounds.
        #[cfg(not(debug_assertions))]
        let op = *unsafe { ops.get_unchecked(ip) };
        ip += 1;
        match op {
            Op::Unreachable => trap!(TrapCode::Unreachable),
            Op::Br { target } => ip = target as usize,
            Op::BrIfNez { cond, target } => {
                if reg!(regs, cond) as u32 != 0 {
                    take_branch!(target);
                }
            }
            Op::BrIfEqz { cond, target } => {
                if reg!(regs, cond) as u32 == 0 {
                    take_branch!(target);
                }
            }
            Op::BackBr { target } => {
                bump(&code.backedges);
                if interrupt.load(Ordering::Relaxed) != 0 {
                    trap!(TrapCode::Interrupted);
                }
                ip = target as usize;
            }
            Op::BackBrIfNez { cond, target } => {
                if reg!(regs, cond) as u32 != 0 {
                    bump(&code.backedges);
                    if interrupt.load(Ordering::Relaxed) != 0 {
                        trap!(TrapCode::Interrupted);
                    }
                    ip = target as usize;
                }
            }
            Op::BrTable { index, len } => {
                let i = (reg!(regs, index) as u32).min(len);
                ip += i as usize;
            }
            Op::Return => match frames.pop() {
                None => return Ok(()),
                Some(f) => {
                    // SAFETY: the frame was pushed by `call!` from live references whose
                    // referents outlive this invocation: code is owned by modules kept
                    // alive by their instances, and instances by the caller chain.
                    unsafe {
                        code = &*f.code;
                        inst = &*f.inst;
                    }
                    ops = &code.ops;
                    ip = f.ip;
                    fp = f.fp;
                    regs = &mut values[fp..];
                    mem = inst.mem0_view();
                }
            },
            Op::Copy { d, s } => reg!(regs, d) = reg!(regs, s),
            Op::CopyWide { d, s } => {
                reg!(regs, d) = reg!(regs, s);
                reg!(regs, d + 1) = reg!(regs, s + 1);
            }
            Op::CopyMany { d, s, n } => {
                for k in 0..n {
                    reg!(regs, d + k) = reg!(regs, s + k);
                }
            }
            Op::Const32 { d, v } => reg!(regs, d) = v as u64,
            Op::Const64 { d, v } => reg!(regs, d) = v,
            Op::Select { d, b, cond } => {
                if reg!(regs, cond) as u32 == 0 {
                    reg!(regs, d) = reg!(regs, b);
                }
            }
            Op::SelectWide { d, b, cond } => {
                if reg!(regs, cond) as u32 == 0 {
                    reg!(regs, d) = reg!(regs, b);
                    reg!(regs, d + 1) = reg!(regs, b + 1);
                }
            }
            Op::Call { func, base } => {
                let fref = funcref(inst.funcs[func as usize] as u64);
                call!(fref, base)
            }
            Op::CallIndirect { ty, index, base } => {
                let i = reg!(regs, index) as u32 as u64;
                let table = &inst.tables[0];
                let Some(r) = table.get(i) else {
                    trap!(TrapCode::UndefinedElement)
                };
                if r == 0 {
                    trap!(TrapCode::UninitializedElement);
                }
                let fref = funcref(r);
                if fref.type_id != inst.type_ids[ty as usize] {
                    trap!(TrapCode::IndirectCallTypeMismatch);
                }
                call!(fref, base)
            }
            Op::CallIndirectTable { ty, index, base } => {
                let (t, _) = imm!();
                let i = reg!(regs, index) as u32 as u64;
                let table = &inst.tables[t as usize];
                let Some(r) = table.get(i) else {
                    trap!(TrapCode::UndefinedElement)
                };
                if r == 0 {
                    trap!(TrapCode::UninitializedElement);
                }
                let fref = funcref(r);
                if fref.type_id != inst.type_ids[ty as usize] {
                    trap!(TrapCode::IndirectCallTypeMismatch);
                }
                call!(fref, base)
            }
            Op::Imm { .. } => unreachable!("immediate executed as an instruction"),
            Op::GlobalGet { d, g } => {
                // SAFETY: `global_defs` points at definitions owned by `inst.globals`, alive
                // as long as the instance.
                let def = unsafe { &*inst.global_defs[g as usize] };
                reg!(regs, d) = def.value[0].load(Ordering::Relaxed);
            }
            Op::GlobalSet { g, s } => {
                let global = &inst.globals[g as usize];
                let v = reg!(regs, s);
                retain_in_global(global, v);
                global.set([v, 0]);
            }
            Op::GlobalGetWide { d, g } => {
                let v = inst.globals[g as usize].get();
                reg!(regs, d) = v[0];
                reg!(regs, d + 1) = v[1];
            }
            Op::GlobalSetWide { g, s } => {
                inst.globals[g as usize].set([reg!(regs, s), reg!(regs, s + 1)]);
            }
            Op::RefFunc { d, func } => reg!(regs, d) = inst.funcs[func as usize] as u64,
            Op::MemorySize { d, .. } => {
                reg!(regs, d) = (mem.len() / crate::vm::PAGE_SIZE) as u64;
            }
            Op::MemoryGrow { d, delta } => {
                let delta = reg!(regs, delta) as u32 as u64;
                let r = match inst.memories[0].grow(delta) {
                    Some(old) => old as u32,
                    None => u32::MAX,
                };
                reg!(regs, d) = r as u64;
                mem = inst.mem0_view();
            }
            Op::MemoryFill { d, v, n } => {
                let (dst, val, len) = (
                    reg!(regs, d) as u32 as u64,
                    reg!(regs, v) as u8,
                    reg!(regs, n) as u32 as u64,
                );
                tri!(mem.fill(dst, val, len));
            }
            Op::MemoryCopy { d, s, n } => {
                let (dst, src, len) = (
                    reg!(regs, d) as u32 as u64,
                    reg!(regs, s) as u32 as u64,
                    reg!(regs, n) as u32 as u64,
                );
                tri!(mem.copy_from(&mem, dst, src, len));
            }
            Op::MemoryInit { d, s, n } => {
                let (seg, _) = imm!();
                let (dst, src, len) = (
                    reg!(regs, d) as u32 as u64,
                    reg!(regs, s) as u32 as u64,
                    reg!(regs, n) as u32 as u64,
                );
                let m = &inst.module.as_ref().expect("wasm").0;
                let range = if inst.dropped_datas[seg as usize].load(Ordering::Relaxed) {
                    0..0
                } else {
                    m.datas[seg as usize].range.clone()
                };
                let bytes = &m.bytes[range];
                if src + len > bytes.len() as u64 {
                    trap!(TrapCode::MemoryOutOfBounds);
                }
                tri!(mem.write(dst, &bytes[src as usize..(src + len) as usize]));
            }
            Op::DataDrop { data } => {
                inst.dropped_datas[data as usize].store(true, Ordering::Relaxed);
            }
            Op::TableGet { d, i, table } => {
                let idx = reg!(regs, i) as u32 as u64;
                match inst.tables[table as usize].get(idx) {
                    Some(v) => reg!(regs, d) = v,
                    None => trap!(TrapCode::TableOutOfBounds),
                }
            }
            Op::TableSet { table, i, v } => {
                let t = &inst.tables[table as usize];
                let (idx, val) = (reg!(regs, i) as u32 as u64, reg!(regs, v));
                retain_in_table(t, val);
                if !t.set(idx, val) {
                    trap!(TrapCode::TableOutOfBounds);
                }
            }
            Op::TableSize { d, table } => reg!(regs, d) = inst.tables[table as usize].size(),
            Op::TableGrow { d, init, delta } => {
                let (t, _) = imm!();
                let table = &inst.tables[t as usize];
                let (val, n) = (reg!(regs, init), reg!(regs, delta) as u32 as u64);
                retain_in_table(table, val);
                reg!(regs, d) = match table.grow(n, val) {
                    Some(old) => old as u32 as u64,
                    None => u32::MAX as u64,
                };
            }
            Op::TableFill { i, v, n } => {
                let (t, _) = imm!();
                let table = &inst.tables[t as usize];
                let (start, val, len) = (
                    reg!(regs, i) as u32 as u64,
                    reg!(regs, v),
                    reg!(regs, n) as u32 as u64,
                );
                retain_in_table(table, val);
                tri!(table.fill(start, val, len));
            }
            Op::TableCopy { d, s, n } => {
                let (dt, st) = imm!();
                let (dst, src, len) = (
                    reg!(regs, d) as u32 as u64,
                    reg!(regs, s) as u32 as u64,
                    reg!(regs, n) as u32 as u64,
                );
                let (dtab, stab) = (&inst.tables[dt as usize], &inst.tables[st as usize]);
                if !dtab.same(stab) {
                    for k in 0..len.min(stab.size()) {
                        retain_in_table(dtab, stab.get(src + k).unwrap_or(0));
                    }
                }
                tri!(dtab.copy_from(stab, dst, src, len));
            }
            Op::TableInit { d, s, n } => {
                let (t, seg) = imm!();
                let (dst, src, len) = (
                    reg!(regs, d) as u32 as u64,
                    reg!(regs, s) as u32 as u64,
                    reg!(regs, n) as u32 as u64,
                );
                let m = &inst.module.as_ref().expect("wasm").0;
                let items: &[crate::module::ConstExpr] =
                    if inst.dropped_elems[seg as usize].load(Ordering::Relaxed) {
                        &[]
                    } else {
                        &m.elems[seg as usize].items
                    };
                let table = &inst.tables[t as usize];
                if src + len > items.len() as u64 || dst + len > table.size() {
                    trap!(TrapCode::TableOutOfBounds);
                }
                for k in 0..len {
                    let v = match crate::instance::eval_item(inst, &items[(src + k) as usize]) {
                        Ok(v) => v,
                        Err(_) => trap!(TrapCode::TableOutOfBounds),
                    };
                    retain_in_table(table, v);
                    table.set(dst + k, v);
                }
            }
            Op::ElemDrop { elem } => {
                inst.dropped_elems[elem as usize].store(true, Ordering::Relaxed);
            }

            // Binary instructions with a constant right operand.
            Op::I32AddImm { d, a, imm } => un!(d, a, |x: u32| x.wrapping_add(imm) as u64),
            Op::I32MulImm { d, a, imm } => un!(d, a, |x: u32| x.wrapping_mul(imm) as u64),
            Op::I32AndImm { d, a, imm } => un!(d, a, |x: u32| (x & imm) as u64),
            Op::I32OrImm { d, a, imm } => un!(d, a, |x: u32| (x | imm) as u64),
            Op::I32XorImm { d, a, imm } => un!(d, a, |x: u32| (x ^ imm) as u64),
            Op::I32ShlImm { d, a, imm } => un!(d, a, |x: u32| x.wrapping_shl(imm) as u64),
            Op::I32ShrSImm { d, a, imm } => {
                un!(d, a, |x: i32| x.wrapping_shr(imm) as u32 as u64)
            }
            Op::I32ShrUImm { d, a, imm } => un!(d, a, |x: u32| x.wrapping_shr(imm) as u64),
            Op::I32EqImm { d, a, imm } => un!(d, a, |x: u32| (x == imm) as u64),
            Op::I32NeImm { d, a, imm } => un!(d, a, |x: u32| (x != imm) as u64),
            Op::I32LtSImm { d, a, imm } => un!(d, a, |x: i32| (x < imm as i32) as u64),
            Op::I32LtUImm { d, a, imm } => un!(d, a, |x: u32| (x < imm) as u64),
            Op::I32GtSImm { d, a, imm } => un!(d, a, |x: i32| (x > imm as i32) as u64),
            Op::I32GtUImm { d, a, imm } => un!(d, a, |x: u32| (x > imm) as u64),
            Op::I32LeSImm { d, a, imm } => un!(d, a, |x: i32| (x <= imm as i32) as u64),
            Op::I32LeUImm { d, a, imm } => un!(d, a, |x: u32| (x <= imm) as u64),
            Op::I32GeSImm { d, a, imm } => un!(d, a, |x: i32| (x >= imm as i32) as u64),
            Op::I32GeUImm { d, a, imm } => un!(d, a, |x: u32| (x >= imm) as u64),
            Op::I64AddImm { d, a, imm } => un!(d, a, |x: u64| x.wrapping_add(imm as i32 as u64)),
            Op::I64MulImm { d, a, imm } => un!(d, a, |x: u64| x.wrapping_mul(imm as i32 as u64)),
            Op::I64AndImm { d, a, imm } => un!(d, a, |x: u64| x & imm as i32 as u64),
            Op::I64OrImm { d, a, imm } => un!(d, a, |x: u64| x | imm as i32 as u64),
            Op::I64XorImm { d, a, imm } => un!(d, a, |x: u64| x ^ imm as i32 as u64),
            Op::I64ShlImm { d, a, imm } => un!(d, a, |x: u64| x.wrapping_shl(imm)),
            Op::I64ShrSImm { d, a, imm } => un!(d, a, |x: i64| x.wrapping_shr(imm) as u64),
            Op::I64ShrUImm { d, a, imm } => un!(d, a, |x: u64| x.wrapping_shr(imm)),
            Op::I64EqImm { d, a, imm } => un!(d, a, |x: i64| (x == imm as i32 as i64) as u64),
            Op::I64NeImm { d, a, imm } => un!(d, a, |x: i64| (x != imm as i32 as i64) as u64),
            Op::I64LtSImm { d, a, imm } => un!(d, a, |x: i64| (x < imm as i32 as i64) as u64),
            Op::I64LtUImm { d, a, imm } => {
                un!(d, a, |x: u64| (x < imm as i32 as i64 as u64) as u64)
            }
            Op::I64GtSImm { d, a, imm } => un!(d, a, |x: i64| (x > imm as i32 as i64) as u64),
            Op::I64GtUImm { d, a, imm } => {
                un!(d, a, |x: u64| (x > imm as i32 as i64 as u64) as u64)
            }
            Op::I64LeSImm { d, a, imm } => un!(d, a, |x: i64| (x <= imm as i32 as i64) as u64),
            Op::I64LeUImm { d, a, imm } => {
                un!(d, a, |x: u64| (x <= imm as i32 as i64 as u64) as u64)
            }
            Op::I64GeSImm { d, a, imm } => un!(d, a, |x: i64| (x >= imm as i32 as i64) as u64),
            Op::I64GeUImm { d, a, imm } => {
                un!(d, a, |x: u64| (x >= imm as i32 as i64 as u64) as u64)
            }

            // Comparisons fused with a conditional branch.
            Op::BrI32Eq { a, b, target } => brcmp!(a, b, target, |x: u32, y| x == y),
            Op::BrI32Ne { a, b, target } => brcmp!(a, b, target, |x: u32, y| x != y),
            Op::BrI32LtS { a, b, target } => brcmp!(a, b, target, |x: i32, y| x < y),
            Op::BrI32LtU { a, b, target } => brcmp!(a, b, target, |x: u32, y| x < y),
            Op::BrI32GtS { a, b, target } => brcmp!(a, b, target, |x: i32, y| x > y),
            Op::BrI32GtU { a, b, target } => brcmp!(a, b, target, |x: u32, y| x > y),
            Op::BrI32LeS { a, b, target } => brcmp!(a, b, target, |x: i32, y| x <= y),
            Op::BrI32LeU { a, b, target } => brcmp!(a, b, target, |x: u32, y| x <= y),
            Op::BrI32GeS { a, b, target } => brcmp!(a, b, target, |x: i32, y| x >= y),
            Op::BrI32GeU { a, b, target } => brcmp!(a, b, target, |x: u32, y| x >= y),
            Op::BrI32EqImm { a, imm, target } => brimm!(a, imm, target, |x: u32, y| x == y),
            Op::BrI32NeImm { a, imm, target } => brimm!(a, imm, target, |x: u32, y| x != y),
            Op::BrI32LtSImm { a, imm, target } => brimm!(a, imm, target, |x: i32, y| x < y),
            Op::BrI32LtUImm { a, imm, target } => brimm!(a, imm, target, |x: u32, y| x < y),
            Op::BrI32GtSImm { a, imm, target } => brimm!(a, imm, target, |x: i32, y| x > y),
            Op::BrI32GtUImm { a, imm, target } => brimm!(a, imm, target, |x: u32, y| x > y),
            Op::BrI32LeSImm { a, imm, target } => brimm!(a, imm, target, |x: i32, y| x <= y),
            Op::BrI32LeUImm { a, imm, target } => brimm!(a, imm, target, |x: u32, y| x <= y),
            Op::BrI32GeSImm { a, imm, target } => brimm!(a, imm, target, |x: i32, y| x >= y),
            Op::BrI32GeUImm { a, imm, target } => brimm!(a, imm, target, |x: u32, y| x >= y),

            // Loads and stores of memory 0.
            Op::I32Load { d, a, off } => load!(d, a, off, 4, |b| u32::from_le_bytes(b) as u64),
            Op::I64Load { d, a, off } => load!(d, a, off, 8, |b| u64::from_le_bytes(b)),
            Op::I32Load8S { d, a, off } => load!(d, a, off, 1, |b| b[0] as i8 as i32 as u32 as u64),
            Op::I32Load8U { d, a, off } => load!(d, a, off, 1, |b| b[0] as u64),
            Op::I32Load16S { d, a, off } => {
                load!(d, a, off, 2, |b| i16::from_le_bytes(b) as i32 as u32 as u64)
            }
            Op::I32Load16U { d, a, off } => load!(d, a, off, 2, |b| u16::from_le_bytes(b) as u64),
            Op::I64Load8S { d, a, off } => load!(d, a, off, 1, |b| b[0] as i8 as i64 as u64),
            Op::I64Load8U { d, a, off } => load!(d, a, off, 1, |b| b[0] as u64),
            Op::I64Load16S { d, a, off } => {
                load!(d, a, off, 2, |b| i16::from_le_bytes(b) as i64 as u64)
            }
            Op::I64Load16U { d, a, off } => load!(d, a, off, 2, |b| u16::from_le_bytes(b) as u64),
            Op::I64Load32S { d, a, off } => {
                load!(d, a, off, 4, |b| i32::from_le_bytes(b) as i64 as u64)
            }
            Op::I64Load32U { d, a, off } => load!(d, a, off, 4, |b| u32::from_le_bytes(b) as u64),
            Op::I32Store { a, v, off } => store!(a, v, off, 4, u32),
            Op::I64Store { a, v, off } => store!(a, v, off, 8, u64),
            Op::I32Store8 { a, v, off } => store!(a, v, off, 1, u8),
            Op::I32Store16 { a, v, off } => store!(a, v, off, 2, u16),
            Op::I64Store8 { a, v, off } => store!(a, v, off, 1, u8),
            Op::I64Store16 { a, v, off } => store!(a, v, off, 2, u16),
            Op::I64Store32 { a, v, off } => store!(a, v, off, 4, u32),

            // Integer tests and comparisons.
            Op::I32Eqz { d, a } => un!(d, a, |x: u32| (x == 0) as u64),
            Op::I64Eqz { d, a } => un!(d, a, |x: u64| (x == 0) as u64),
            Op::RefIsNull { d, a } => un!(d, a, |x: u64| (x == 0) as u64),
            Op::I32Eq { d, a, b } => bin!(d, a, b, |x: u32, y| (x == y) as u64),
            Op::I32Ne { d, a, b } => bin!(d, a, b, |x: u32, y| (x != y) as u64),
            Op::I32LtS { d, a, b } => bin!(d, a, b, |x: i32, y| (x < y) as u64),
            Op::I32LtU { d, a, b } => bin!(d, a, b, |x: u32, y| (x < y) as u64),
            Op::I32GtS { d, a, b } => bin!(d, a, b, |x: i32, y| (x > y) as u64),
            Op::I32GtU { d, a, b } => bin!(d, a, b, |x: u32, y| (x > y) as u64),
            Op::I32LeS { d, a, b } => bin!(d, a, b, |x: i32, y| (x <= y) as u64),
            Op::I32LeU { d, a, b } => bin!(d, a, b, |x: u32, y| (x <= y) as u64),
            Op::I32GeS { d, a, b } => bin!(d, a, b, |x: i32, y| (x >= y) as u64),
            Op::I32GeU { d, a, b } => bin!(d, a, b, |x: u32, y| (x >= y) as u64),
            Op::I64Eq { d, a, b } => bin!(d, a, b, |x: u64, y| (x == y) as u64),
            Op::I64Ne { d, a, b } => bin!(d, a, b, |x: u64, y| (x != y) as u64),
            Op::I64LtS { d, a, b } => bin!(d, a, b, |x: i64, y| (x < y) as u64),
            Op::I64LtU { d, a, b } => bin!(d, a, b, |x: u64, y| (x < y) as u64),
            Op::I64GtS { d, a, b } => bin!(d, a, b, |x: i64, y| (x > y) as u64),
            Op::I64GtU { d, a, b } => bin!(d, a, b, |x: u64, y| (x > y) as u64),
            Op::I64LeS { d, a, b } => bin!(d, a, b, |x: i64, y| (x <= y) as u64),
            Op::I64LeU { d, a, b } => bin!(d, a, b, |x: u64, y| (x <= y) as u64),
            Op::I64GeS { d, a, b } => bin!(d, a, b, |x: i64, y| (x >= y) as u64),
            Op::I64GeU { d, a, b } => bin!(d, a, b, |x: u64, y| (x >= y) as u64),

            // Float comparisons.
            Op::F32Eq { d, a, b } => fcmp!(d, a, b, f32s, |x, y| x == y),
            Op::F32Ne { d, a, b } => fcmp!(d, a, b, f32s, |x, y| x != y),
            Op::F32Lt { d, a, b } => fcmp!(d, a, b, f32s, |x, y| x < y),
            Op::F32Gt { d, a, b } => fcmp!(d, a, b, f32s, |x, y| x > y),
            Op::F32Le { d, a, b } => fcmp!(d, a, b, f32s, |x, y| x <= y),
            Op::F32Ge { d, a, b } => fcmp!(d, a, b, f32s, |x, y| x >= y),
            Op::F64Eq { d, a, b } => fcmp!(d, a, b, f64s, |x, y| x == y),
            Op::F64Ne { d, a, b } => fcmp!(d, a, b, f64s, |x, y| x != y),
            Op::F64Lt { d, a, b } => fcmp!(d, a, b, f64s, |x, y| x < y),
            Op::F64Gt { d, a, b } => fcmp!(d, a, b, f64s, |x, y| x > y),
            Op::F64Le { d, a, b } => fcmp!(d, a, b, f64s, |x, y| x <= y),
            Op::F64Ge { d, a, b } => fcmp!(d, a, b, f64s, |x, y| x >= y),

            // i32 arithmetic.
            Op::I32Clz { d, a } => un!(d, a, |x: u32| x.leading_zeros() as u64),
            Op::I32Ctz { d, a } => un!(d, a, |x: u32| x.trailing_zeros() as u64),
            Op::I32Popcnt { d, a } => un!(d, a, |x: u32| x.count_ones() as u64),
            Op::I32Add { d, a, b } => bin!(d, a, b, |x: u32, y| x.wrapping_add(y) as u64),
            Op::I32Sub { d, a, b } => bin!(d, a, b, |x: u32, y| x.wrapping_sub(y) as u64),
            Op::I32Mul { d, a, b } => bin!(d, a, b, |x: u32, y| x.wrapping_mul(y) as u64),
            Op::I32DivS { d, a, b } => {
                let (x, y) = (reg!(regs, a) as i32, reg!(regs, b) as i32);
                reg!(regs, d) = tri!(num::i32_div_s(x, y)) as u32 as u64;
            }
            Op::I32DivU { d, a, b } => {
                let (x, y) = (reg!(regs, a) as u32, reg!(regs, b) as u32);
                if y == 0 {
                    trap!(TrapCode::IntegerDivideByZero);
                }
                reg!(regs, d) = (x / y) as u64;
            }
            Op::I32RemS { d, a, b } => {
                let (x, y) = (reg!(regs, a) as i32, reg!(regs, b) as i32);
                if y == 0 {
                    trap!(TrapCode::IntegerDivideByZero);
                }
                reg!(regs, d) = x.wrapping_rem(y) as u32 as u64;
            }
            Op::I32RemU { d, a, b } => {
                let (x, y) = (reg!(regs, a) as u32, reg!(regs, b) as u32);
                if y == 0 {
                    trap!(TrapCode::IntegerDivideByZero);
                }
                reg!(regs, d) = (x % y) as u64;
            }
            Op::I32And { d, a, b } => bin!(d, a, b, |x: u32, y| (x & y) as u64),
            Op::I32Or { d, a, b } => bin!(d, a, b, |x: u32, y| (x | y) as u64),
            Op::I32Xor { d, a, b } => bin!(d, a, b, |x: u32, y| (x ^ y) as u64),
            Op::I32Shl { d, a, b } => bin!(d, a, b, |x: u32, y| x.wrapping_shl(y) as u64),
            Op::I32ShrS { d, a, b } => {
                bin!(d, a, b, |x: u32, y| (x as i32).wrapping_shr(y) as u32
                    as u64)
            }
            Op::I32ShrU { d, a, b } => bin!(d, a, b, |x: u32, y| x.wrapping_shr(y) as u64),
            Op::I32Rotl { d, a, b } => bin!(d, a, b, |x: u32, y| x.rotate_left(y) as u64),
            Op::I32Rotr { d, a, b } => bin!(d, a, b, |x: u32, y| x.rotate_right(y) as u64),

            // i64 arithmetic.
            Op::I64Clz { d, a } => un!(d, a, |x: u64| x.leading_zeros() as u64),
            Op::I64Ctz { d, a } => un!(d, a, |x: u64| x.trailing_zeros() as u64),
            Op::I64Popcnt { d, a } => un!(d, a, |x: u64| x.count_ones() as u64),
            Op::I64Add { d, a, b } => bin!(d, a, b, |x: u64, y| x.wrapping_add(y)),
            Op::I64Sub { d, a, b } => bin!(d, a, b, |x: u64, y| x.wrapping_sub(y)),
            Op::I64Mul { d, a, b } => bin!(d, a, b, |x: u64, y| x.wrapping_mul(y)),
            Op::I64DivS { d, a, b } => {
                let (x, y) = (reg!(regs, a) as i64, reg!(regs, b) as i64);
                reg!(regs, d) = tri!(num::i64_div_s(x, y)) as u64;
            }
            Op::I64DivU { d, a, b } => {
                let (x, y) = (reg!(regs, a), reg!(regs, b));
                if y == 0 {
                    trap!(TrapCode::IntegerDivideByZero);
                }
                reg!(regs, d) = x / y;
            }
            Op::I64RemS { d, a, b } => {
                let (x, y) = (reg!(regs, a) as i64, reg!(regs, b) as i64);
                if y == 0 {
                    trap!(TrapCode::IntegerDivideByZero);
                }
                reg!(regs, d) = x.wrapping_rem(y) as u64;
            }
            Op::I64RemU { d, a, b } => {
                let (x, y) = (reg!(regs, a), reg!(regs, b));
                if y == 0 {
                    trap!(TrapCode::IntegerDivideByZero);
                }
                reg!(regs, d) = x % y;
            }
            Op::I64And { d, a, b } => bin!(d, a, b, |x: u64, y| x & y),
            Op::I64Or { d, a, b } => bin!(d, a, b, |x: u64, y| x | y),
            Op::I64Xor { d, a, b } => bin!(d, a, b, |x: u64, y| x ^ y),
            Op::I64Shl { d, a, b } => bin!(d, a, b, |x: u64, y| x.wrapping_shl(y as u32)),
            Op::I64ShrS { d, a, b } => {
                bin!(d, a, b, |x: u64, y| (x as i64).wrapping_shr(y as u32)
                    as u64)
            }
            Op::I64ShrU { d, a, b } => bin!(d, a, b, |x: u64, y| x.wrapping_shr(y as u32)),
            Op::I64Rotl { d, a, b } => bin!(d, a, b, |x: u64, y| x.rotate_left((y & 63) as u32)),
            Op::I64Rotr { d, a, b } => {
                bin!(d, a, b, |x: u64, y| x.rotate_right((y & 63) as u32))
            }

            // Float arithmetic. Sign operations work on bits so NaN payloads survive.
            Op::F32Abs { d, a } => reg!(regs, d) = (reg!(regs, a) as u32 & 0x7fff_ffff) as u64,
            Op::F32Neg { d, a } => reg!(regs, d) = (reg!(regs, a) as u32 ^ 0x8000_0000) as u64,
            Op::F32Copysign { d, a, b } => {
                let (x, y) = (reg!(regs, a) as u32, reg!(regs, b) as u32);
                reg!(regs, d) = ((x & 0x7fff_ffff) | (y & 0x8000_0000)) as u64;
            }
            Op::F64Abs { d, a } => reg!(regs, d) = reg!(regs, a) & 0x7fff_ffff_ffff_ffff,
            Op::F64Neg { d, a } => reg!(regs, d) = reg!(regs, a) ^ 0x8000_0000_0000_0000,
            Op::F64Copysign { d, a, b } => {
                let (x, y) = (reg!(regs, a), reg!(regs, b));
                reg!(regs, d) = (x & 0x7fff_ffff_ffff_ffff) | (y & 0x8000_0000_0000_0000);
            }
            Op::F32Ceil { d, a } => funop!(d, a, f32, |x| num::f32_ceil(x)),
            Op::F32Floor { d, a } => funop!(d, a, f32, |x| num::f32_floor(x)),
            Op::F32Trunc { d, a } => funop!(d, a, f32, |x| num::f32_trunc(x)),
            Op::F32Nearest { d, a } => funop!(d, a, f32, |x| num::f32_nearest(x)),
            Op::F32Sqrt { d, a } => funop!(d, a, f32, |x| x.sqrt()),
            Op::F64Ceil { d, a } => funop!(d, a, f64, |x| num::f64_ceil(x)),
            Op::F64Floor { d, a } => funop!(d, a, f64, |x| num::f64_floor(x)),
            Op::F64Trunc { d, a } => funop!(d, a, f64, |x| num::f64_trunc(x)),
            Op::F64Nearest { d, a } => funop!(d, a, f64, |x| num::f64_nearest(x)),
            Op::F64Sqrt { d, a } => funop!(d, a, f64, |x| x.sqrt()),
            Op::F32Add { d, a, b } => fbin!(d, a, b, f32, |x, y| x + y),
            Op::F32Sub { d, a, b } => fbin!(d, a, b, f32, |x, y| x - y),
            Op::F32Mul { d, a, b } => fbin!(d, a, b, f32, |x, y| x * y),
            Op::F32Div { d, a, b } => fbin!(d, a, b, f32, |x, y| x / y),
            Op::F32Min { d, a, b } => fbin!(d, a, b, f32, |x, y| num::f32_min(x, y)),
            Op::F32Max { d, a, b } => fbin!(d, a, b, f32, |x, y| num::f32_max(x, y)),
            Op::F64Add { d, a, b } => fbin!(d, a, b, f64, |x, y| x + y),
            Op::F64Sub { d, a, b } => fbin!(d, a, b, f64, |x, y| x - y),
            Op::F64Mul { d, a, b } => fbin!(d, a, b, f64, |x, y| x * y),
            Op::F64Div { d, a, b } => fbin!(d, a, b, f64, |x, y| x / y),
            Op::F64Min { d, a, b } => fbin!(d, a, b, f64, |x, y| num::f64_min(x, y)),
            Op::F64Max { d, a, b } => fbin!(d, a, b, f64, |x, y| num::f64_max(x, y)),

            // Conversions.
            Op::I32WrapI64 { d, a } => un!(d, a, |x: u32| x as u64),
            Op::I64ExtendI32S { d, a } => un!(d, a, |x: i32| x as i64 as u64),
            Op::I64ExtendI32U { d, a } => un!(d, a, |x: u32| x as u64),
            Op::I32Extend8S { d, a } => un!(d, a, |x: i8| x as i32 as u32 as u64),
            Op::I32Extend16S { d, a } => un!(d, a, |x: i16| x as i32 as u32 as u64),
            Op::I64Extend8S { d, a } => un!(d, a, |x: i8| x as i64 as u64),
            Op::I64Extend16S { d, a } => un!(d, a, |x: i16| x as i64 as u64),
            Op::I64Extend32S { d, a } => un!(d, a, |x: i32| x as i64 as u64),
            Op::I32TruncF32S { d, a } => {
                reg!(regs, d) = tri!(num::i32_trunc_f32_s(f32s!(reg!(regs, a)))) as u32 as u64
            }
            Op::I32TruncF32U { d, a } => {
                reg!(regs, d) = tri!(num::i32_trunc_f32_u(f32s!(reg!(regs, a)))) as u64
            }
            Op::I32TruncF64S { d, a } => {
                reg!(regs, d) = tri!(num::i32_trunc_f64_s(f64s!(reg!(regs, a)))) as u32 as u64
            }
            Op::I32TruncF64U { d, a } => {
                reg!(regs, d) = tri!(num::i32_trunc_f64_u(f64s!(reg!(regs, a)))) as u64
            }
            Op::I64TruncF32S { d, a } => {
                reg!(regs, d) = tri!(num::i64_trunc_f32_s(f32s!(reg!(regs, a)))) as u64
            }
            Op::I64TruncF32U { d, a } => {
                reg!(regs, d) = tri!(num::i64_trunc_f32_u(f32s!(reg!(regs, a))))
            }
            Op::I64TruncF64S { d, a } => {
                reg!(regs, d) = tri!(num::i64_trunc_f64_s(f64s!(reg!(regs, a)))) as u64
            }
            Op::I64TruncF64U { d, a } => {
                reg!(regs, d) = tri!(num::i64_trunc_f64_u(f64s!(reg!(regs, a))))
            }
            Op::I32TruncSatF32S { d, a } => {
                reg!(regs, d) = (f32s!(reg!(regs, a)) as i32) as u32 as u64
            }
            Op::I32TruncSatF32U { d, a } => reg!(regs, d) = (f32s!(reg!(regs, a)) as u32) as u64,
            Op::I32TruncSatF64S { d, a } => {
                reg!(regs, d) = (f64s!(reg!(regs, a)) as i32) as u32 as u64
            }
            Op::I32TruncSatF64U { d, a } => reg!(regs, d) = (f64s!(reg!(regs, a)) as u32) as u64,
            Op::I64TruncSatF32S { d, a } => reg!(regs, d) = (f32s!(reg!(regs, a)) as i64) as u64,
            Op::I64TruncSatF32U { d, a } => reg!(regs, d) = f32s!(reg!(regs, a)) as u64,
            Op::I64TruncSatF64S { d, a } => reg!(regs, d) = (f64s!(reg!(regs, a)) as i64) as u64,
            Op::I64TruncSatF64U { d, a } => reg!(regs, d) = f64s!(reg!(regs, a)) as u64,
            Op::F32ConvertI32S { d, a } => funop!(d, a, f32, |x| (x.to_bits() as i32) as f32),
            Op::F32ConvertI32U { d, a } => funop!(d, a, f32, |x| x.to_bits() as f32),
            Op::F32ConvertI64S { d, a } => {
                reg!(regs, d) = ((reg!(regs, a) as i64) as f32).to_bits() as u64
            }
            Op::F32ConvertI64U { d, a } => reg!(regs, d) = (reg!(regs, a) as f32).to_bits() as u64,
            Op::F32DemoteF64 { d, a } => {
                reg!(regs, d) = (f64s!(reg!(regs, a)) as f32).to_bits() as u64
            }
            Op::F64ConvertI32S { d, a } => {
                reg!(regs, d) = ((reg!(regs, a) as i32) as f64).to_bits()
            }
            Op::F64ConvertI32U { d, a } => {
                reg!(regs, d) = ((reg!(regs, a) as u32) as f64).to_bits()
            }
            Op::F64ConvertI64S { d, a } => {
                reg!(regs, d) = ((reg!(regs, a) as i64) as f64).to_bits()
            }
            Op::F64ConvertI64U { d, a } => reg!(regs, d) = (reg!(regs, a) as f64).to_bits(),
            Op::F64PromoteF32 { d, a } => reg!(regs, d) = (f32s!(reg!(regs, a)) as f64).to_bits(),
        }
    }
}
