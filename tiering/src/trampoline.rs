//! Per-signature entry points (see `kiln_runtime::vm::abi`): the array trampoline the
//! runtime enters native code through, and the adapter native code calls functions
//! without native code through.

use cranelift_codegen::ir::{
    self, AbiParam, InstBuilder, MemFlagsData, Signature, StackSlotData, StackSlotKind,
    UserFuncName, types,
};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use kiln_runtime::vm::abi::{self, Builtin};
use kiln_runtime::{FuncType, ValType};

use crate::translate::{clif_type, native_signature};

/// Parameters of a native function before the Wasm ones: callee, caller vmctx, depth.
pub const HIDDEN_PARAMS: usize = 3;

/// Flags for the `u64` value buffers: never trap, little-endian; only 8-byte aligned.
fn slot_flags() -> MemFlagsData {
    MemFlagsData::new()
        .with_notrap()
        .with_endianness(ir::Endianness::Little)
}

/// Loads a value of `ty` from the buffer slot at byte `offset`.
pub(crate) fn load_slot(
    b: &mut FunctionBuilder<'_>,
    ty: ValType,
    base: ir::Value,
    offset: i32,
) -> ir::Value {
    let flags = slot_flags();
    match ty {
        ValType::I32 => b.ins().load(types::I32, flags, base, offset),
        ValType::F32 => b.ins().load(types::F32, flags, base, offset),
        other => b.ins().load(clif_type(other), flags, base, offset),
    }
}

/// Stores `v` of `ty` into the slot at byte `offset`, zero-extending 32-bit values.
pub(crate) fn store_slot(
    b: &mut FunctionBuilder<'_>,
    ty: ValType,
    v: ir::Value,
    base: ir::Value,
    offset: i32,
) {
    let flags = slot_flags();
    let v = match ty {
        ValType::I32 => b.ins().uextend(types::I64, v),
        ValType::F32 => {
            let bits = b.ins().bitcast(types::I32, MemFlagsData::new(), v);
            b.ins().uextend(types::I64, bits)
        }
        _ => v,
    };
    b.ins().store(flags, v, base, offset);
}

/// Byte offsets of consecutive values in a slot buffer.
fn slot_offsets(tys: &[ValType]) -> Vec<i32> {
    let mut at = 0i32;
    tys.iter()
        .map(|t| {
            let o = at;
            at += 8 * t.slots() as i32;
            o
        })
        .collect()
}

/// Builds the array trampoline of `ty`:
/// `system_v fn(code, callee, caller_vmctx, values, depth)`.
pub fn array_call_trampoline(
    ty: &FuncType,
    isa: &dyn TargetIsa,
    fctx: &mut FunctionBuilderContext,
) -> ir::Function {
    let mut sig = Signature::new(CallConv::SystemV);
    for _ in 0..4 {
        sig.params.push(AbiParam::new(types::I64));
    }
    sig.params.push(AbiParam::new(types::I32));
    let mut func = ir::Function::with_name_signature(UserFuncName::user(1, 0), sig);
    let callee_sig = native_signature(ty, CallConv::Tail);
    {
        let mut b = FunctionBuilder::new(&mut func, fctx);
        let sig_ref = b.import_signature(callee_sig);
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        b.seal_block(block);
        let p = b.block_params(block).to_vec();
        let (code, callee, caller, values, depth) = (p[0], p[1], p[2], p[3], p[4]);
        let mut args = vec![callee, caller, depth];
        for (&t, o) in ty.params().iter().zip(slot_offsets(ty.params())) {
            args.push(load_slot(&mut b, t, values, o));
        }
        let call = b.ins().call_indirect(sig_ref, code, &args);
        let results = b.inst_results(call).to_vec();
        for ((&t, o), v) in ty
            .results()
            .iter()
            .zip(slot_offsets(ty.results()))
            .zip(results)
        {
            store_slot(&mut b, t, v, values, o);
        }
        b.ins().return_(&[]);
        b.finalize(isa.frontend_config());
    }
    func
}

/// Builds the adapter of `ty`: the native signature, calling [`Builtin::ArrayCall`].
pub fn adapter(
    ty: &FuncType,
    isa: &dyn TargetIsa,
    fctx: &mut FunctionBuilderContext,
) -> ir::Function {
    let sig = native_signature(ty, CallConv::Tail);
    let mut func = ir::Function::with_name_signature(UserFuncName::user(1, 1), sig);
    let pointer = isa.pointer_type();
    {
        let mut b = FunctionBuilder::new(&mut func, fctx);
        let mut builtin_sig = Signature::new(CallConv::SystemV);
        builtin_sig.params.extend([AbiParam::new(pointer); 3]);
        builtin_sig.params.push(AbiParam::new(types::I32));
        builtin_sig.returns.push(AbiParam::new(types::I32));
        let builtin_sig = b.import_signature(builtin_sig);
        let slots = ty.stack_len().max(1) as u32;
        let buffer = b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            slots * 8,
            3,
        ));
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        b.seal_block(block);
        let p = b.block_params(block).to_vec();
        let (callee, caller, depth) = (p[0], p[1], p[2]);
        let values = b.ins().stack_addr(pointer, buffer, 0);
        for ((&t, o), &v) in ty
            .params()
            .iter()
            .zip(slot_offsets(ty.params()))
            .zip(&p[HIDDEN_PARAMS..])
        {
            store_slot(&mut b, t, v, values, o);
        }
        let target = b.ins().iconst(pointer, Builtin::ArrayCall.address() as i64);
        let call = b
            .ins()
            .call_indirect(builtin_sig, target, &[callee, caller, values, depth]);
        let status = b.inst_results(call)[0];
        b.ins()
            .trapnz(status, crate::translate::user_trap(abi::TRAP_PENDING));
        let mut results = Vec::new();
        for (&t, o) in ty.results().iter().zip(slot_offsets(ty.results())) {
            results.push(load_slot(&mut b, t, values, o));
        }
        b.ins().return_(&results);
        b.finalize(isa.frontend_config());
    }
    func
}
