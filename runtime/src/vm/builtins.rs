//! The runtime functions native code calls (see [`super::abi::Builtin`] for the list and
//! signatures). Each one recovers the calling instance from its `vmctx` and runs the same
//! code as the interpreter's handler; a trap is recorded for the current thread
//! ([`super::native::set_pending_trap`]) and reported as a non-zero status.

use super::VMContext;
use super::native::set_pending_trap;
use crate::error::{Trap, TrapCode};
use crate::instance::{InstanceInner, eval_item, retain_in_global, retain_in_table};
use std::sync::atomic::Ordering;

/// The instance whose context native code passed.
///
/// # Safety
///
/// `vmctx` is the context of a live instance (native code only ever passes its own).
unsafe fn instance<'a>(vmctx: *const VMContext) -> &'a InstanceInner {
    // SAFETY: the caller's guarantee; `instance` is set at allocation to the address of the
    // `InstanceInner` that owns the context.
    unsafe { &*((*vmctx).instance as *const InstanceInner) }
}

fn status(r: Result<(), TrapCode>) -> u32 {
    match r {
        Ok(()) => 0,
        Err(code) => {
            set_pending_trap(Trap::new(code));
            1
        }
    }
}

pub(crate) extern "C" fn memory_grow(vmctx: *const VMContext, mem: u32, delta: u32) -> u32 {
    // SAFETY: called by native code with its own context.
    let inst = unsafe { instance(vmctx) };
    match inst.memories[mem as usize].grow(delta as u64) {
        Some(old) => old as u32,
        None => u32::MAX,
    }
}

pub(crate) extern "C" fn memory_fill(
    vmctx: *const VMContext,
    mem: u32,
    dst: u32,
    val: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by native code with its own context.
    let inst = unsafe { instance(vmctx) };
    let view = inst.memories[mem as usize].view();
    status(view.fill(dst as u64, val as u8, len as u64))
}

pub(crate) extern "C" fn memory_copy(
    vmctx: *const VMContext,
    dst_mem: u32,
    src_mem: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by native code with its own context.
    let inst = unsafe { instance(vmctx) };
    let d = inst.memories[dst_mem as usize].view();
    let s = inst.memories[src_mem as usize].view();
    status(d.copy_from(&s, dst as u64, src as u64, len as u64))
}

pub(crate) extern "C" fn memory_init(
    vmctx: *const VMContext,
    mem: u32,
    data: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by native code with its own context.
    let inst = unsafe { instance(vmctx) };
    let m = &inst.module.as_ref().expect("wasm instance").0;
    let range = if inst.dropped_datas[data as usize].load(Ordering::Relaxed) {
        0..0
    } else {
        m.datas[data as usize].range.clone()
    };
    let bytes = &m.bytes[range];
    let (src, len) = (src as u64, len as u64);
    if src + len > bytes.len() as u64 {
        return status(Err(TrapCode::MemoryOutOfBounds));
    }
    let view = inst.memories[mem as usize].view();
    status(view.write(dst as u64, &bytes[src as usize..(src + len) as usize]))
}

pub(crate) extern "C" fn data_drop(vmctx: *const VMContext, data: u32) {
    // SAFETY: called by native code with its own context.
    let inst = unsafe { instance(vmctx) };
    inst.dropped_datas[data as usize].store(true, Ordering::Relaxed);
}

pub(crate) extern "C" fn table_set(
    vmctx: *const VMContext,
    table: u32,
    index: u32,
    value: u64,
) -> u32 {
    // SAFETY: called by native code with its own context.
    let inst = unsafe { instance(vmctx) };
    let t = &inst.tables[table as usize];
    retain_in_table(t, value);
    if t.set(index as u64, value) {
        0
    } else {
        status(Err(TrapCode::TableOutOfBounds))
    }
}

pub(crate) extern "C" fn table_grow(
    vmctx: *const VMContext,
    table: u32,
    init: u64,
    delta: u32,
) -> u32 {
    // SAFETY: called by native code with its own context.
    let inst = unsafe { instance(vmctx) };
    let t = &inst.tables[table as usize];
    retain_in_table(t, init);
    match t.grow(delta as u64, init) {
        Some(old) => old as u32,
        None => u32::MAX,
    }
}

pub(crate) extern "C" fn table_fill(
    vmctx: *const VMContext,
    table: u32,
    dst: u32,
    value: u64,
    len: u32,
) -> u32 {
    // SAFETY: called by native code with its own context.
    let inst = unsafe { instance(vmctx) };
    let t = &inst.tables[table as usize];
    retain_in_table(t, value);
    status(t.fill(dst as u64, value, len as u64))
}

pub(crate) extern "C" fn table_copy(
    vmctx: *const VMContext,
    dst_table: u32,
    src_table: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by native code with its own context.
    let inst = unsafe { instance(vmctx) };
    let (dtab, stab) = (
        &inst.tables[dst_table as usize],
        &inst.tables[src_table as usize],
    );
    let (dst, src, len) = (dst as u64, src as u64, len as u64);
    if !dtab.same(stab) {
        for k in 0..len.min(stab.size()) {
            retain_in_table(dtab, stab.get(src + k).unwrap_or(0));
        }
    }
    status(dtab.copy_from(stab, dst, src, len))
}

pub(crate) extern "C" fn table_init(
    vmctx: *const VMContext,
    table: u32,
    elem: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by native code with its own context.
    let inst = unsafe { instance(vmctx) };
    let m = &inst.module.as_ref().expect("wasm instance").0;
    let items: &[crate::module::ConstExpr] =
        if inst.dropped_elems[elem as usize].load(Ordering::Relaxed) {
            &[]
        } else {
            &m.elems[elem as usize].items
        };
    let t = &inst.tables[table as usize];
    let (dst, src, len) = (dst as u64, src as u64, len as u64);
    if src + len > items.len() as u64 || dst + len > t.size() {
        return status(Err(TrapCode::TableOutOfBounds));
    }
    for k in 0..len {
        let v = match eval_item(inst, &items[(src + k) as usize]) {
            Ok(v) => v,
            Err(_) => return status(Err(TrapCode::TableOutOfBounds)),
        };
        retain_in_table(t, v);
        t.set(dst + k, v);
    }
    0
}

pub(crate) extern "C" fn elem_drop(vmctx: *const VMContext, elem: u32) {
    // SAFETY: called by native code with its own context.
    let inst = unsafe { instance(vmctx) };
    inst.dropped_elems[elem as usize].store(true, Ordering::Relaxed);
}

pub(crate) extern "C" fn global_set_ref(vmctx: *const VMContext, global: u32, value: u64) {
    // SAFETY: called by native code with its own context.
    let inst = unsafe { instance(vmctx) };
    let g = &inst.globals[global as usize];
    retain_in_global(g, value);
    g.set([value, 0]);
}

pub(crate) extern "C" fn array_call(
    callee: *const super::VMFuncRef,
    caller_vmctx: *const VMContext,
    values: *mut u64,
    depth: u32,
) -> u32 {
    super::native::call_from_native(callee, caller_vmctx, values, depth)
}

pub(crate) extern "C" fn interrupt_poll(vmctx: *const VMContext) -> u32 {
    // SAFETY: called by native code with its own context.
    let inst = unsafe { instance(vmctx) };
    crate::interp::stop_requested(&inst.interrupt) as u32
}
