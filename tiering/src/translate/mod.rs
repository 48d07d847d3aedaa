//! Kiln's WebAssembly-to-CLIF translator: one Wasm function in, one Cranelift
//! [`ir::Function`] out, following the native ABI of `kiln_runtime::vm::abi`.
//!
//! Every operator of WebAssembly 2.0 is translated, SIMD included (plus the tail-call and
//! multi-memory operators when the engine enables those proposals). v128 values are
//! `i8x16` everywhere (stack, locals, block parameters, signatures) and bitcast to the lane
//! type each operator needs. A relaxed-SIMD operator, or any SIMD operator on a host
//! without SSE4.1 and SSSE3, makes translation fail with an error whose message starts with
//! `unsupported: SIMD`.
//!
//! The translation is a single pass over the operators with a value stack of SSA values,
//! a control stack of frames (block, loop, if) and cranelift-frontend variables for the
//! locals. Code following `br`, `br_table`, `return` or `unreachable` up to the end of the
//! enclosing frame is skipped (only the nesting of control operators is counted), so no
//! unreachable CLIF is produced.
//!
//! Memory accesses either rely on guard pages (the 8 GiB reservation; an access that
//! faults carries `HEAP_OUT_OF_BOUNDS`) or compare against the current length
//! ([`BoundsChecks`]). Calls go through the callee's `VMFuncRef` slot, so the runtime can
//! swap code pointers at any time, except with [`TranslateOptions::direct_calls`] (engine
//! `jit`), where calls within the module enter the callee's body directly, and in a tiered
//! body ([`translate_tiered_body`]), which calls the module's published bodies through the
//! module's body table (see `kiln_runtime::vm::abi`, "Calls between tiered bodies").

mod func;

pub(crate) use func::user_trap;

use cranelift_codegen::ir::{
    self, AbiParam, ExtFuncData, ExternalName, InstBuilder, MemFlagsData, Signature,
    UserExternalName, UserFuncName, types,
};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use cranelift_frontend::FunctionBuilderContext;
use kiln_runtime::{FuncType, Module, ValType};

/// How native code keeps memory accesses in bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoundsChecks {
    /// Rely on the 8 GiB reservation (4 GiB addressable plus a 4 GiB guard) and the signal
    /// handler: `base + zext(addr) + offset` is accessed unchecked. The rare accesses whose
    /// static offset could reach past the reservation are still checked explicitly.
    GuardPages,
    /// Compare every access against the current length of the memory.
    Explicit,
}

/// Translation settings.
#[derive(Clone, Copy, Debug)]
pub struct TranslateOptions {
    /// Bounds strategy for linear memory accesses.
    pub bounds_checks: BoundsChecks,
    /// Poll the interrupt flag at every loop header and before calls (once per block; not
    /// at function entry, see `kiln_runtime::vm::abi`).
    pub interrupt_checks: bool,
    /// Call functions of the same module directly (`call rel32` to their bodies, see
    /// [`translate_body`], resolved when the module's code is laid out) instead of through
    /// their slots. Only for code that is never replaced: engine `jit`, which compiles
    /// every defined function as a body plus an [`entry_stub`].
    pub direct_calls: bool,
}

impl Default for TranslateOptions {
    fn default() -> Self {
        TranslateOptions {
            bounds_checks: BoundsChecks::GuardPages,
            interrupt_checks: true,
            direct_calls: false,
        }
    }
}

/// Why a function could not be translated.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// An operator or type the translator does not implement (SIMD, GC, threads, ...).
    /// SIMD messages start with `SIMD`.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The body or the module is not what validation promised (never expected).
    #[error("invalid function body: {0}")]
    Invalid(String),
}

/// The Cranelift type of a Wasm value type (references are `i64` addresses, 0 = null).
pub fn clif_type(ty: ValType) -> ir::Type {
    match ty {
        ValType::I32 => types::I32,
        ValType::I64 => types::I64,
        ValType::F32 => types::F32,
        ValType::F64 => types::F64,
        ValType::V128 => types::I8X16,
        ValType::FuncRef | ValType::ExternRef => types::I64,
    }
}

/// The native signature of a Wasm function type:
/// `(callee: i64, caller_vmctx: i64, depth: i32, params...) -> results` in `call_conv`.
pub fn native_signature(ty: &FuncType, call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I32));
    sig.params
        .extend(ty.params().iter().map(|&t| AbiParam::new(clif_type(t))));
    sig.returns
        .extend(ty.results().iter().map(|&t| AbiParam::new(clif_type(t))));
    sig
}

/// Namespace of the Cranelift names of function bodies (`u1:index`); public entries are
/// `u0:index`.
pub const BODY_NAMESPACE: u32 = 1;

/// The signature of a function *body* in engine `jit`:
/// `(vmctx: i64, depth: i32, params...) -> results` in `call_conv`.
///
/// Direct calls between functions of one module (which share the instance) enter the body
/// and pass their own `vmctx`, so the callee does not load it from its `VMFuncRef`, and
/// the caller does not load the callee's `VMFuncRef` either. Everything else (slots,
/// tables, exports, the host) enters through the [`entry_stub`].
pub fn body_signature(ty: &FuncType, call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I32));
    sig.params
        .extend(ty.params().iter().map(|&t| AbiParam::new(clif_type(t))));
    sig.returns
        .extend(ty.results().iter().map(|&t| AbiParam::new(clif_type(t))));
    sig
}

/// The signature of a function body in engine `tiered`: the [`body_signature`] followed
/// by `frame: i64, loop_ordinal: i64`. A call passes `0` and
/// [`NOT_OSR`](kiln_runtime::vm::abi::NOT_OSR); the [`osr_stub`] passes the interpreter
/// frame and the loop to enter at (see [`translate_tiered_body`]).
pub fn osr_body_signature(ty: &FuncType, call_conv: CallConv) -> Signature {
    let mut sig = body_signature(ty, call_conv);
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I64));
    sig
}

/// The start of a stub of function `func_index` (native signature, already set on `b`'s
/// function): imports the body `u1:func_index` with `body_sig`, opens the entry block and
/// loads `vmctx` from the callee's `VMFuncRef`. Returns the body, the stub's parameters
/// and `vmctx`.
fn stub_prologue(
    b: &mut cranelift_frontend::FunctionBuilder<'_>,
    body_sig: Signature,
    func_index: u32,
) -> (ir::FuncRef, Vec<ir::Value>, ir::Value) {
    let body_sig = b.import_signature(body_sig);
    let name = b
        .func
        .declare_imported_user_function(UserExternalName::new(BODY_NAMESPACE, func_index));
    let body = b.import_function(ExtFuncData {
        name: ExternalName::user(name),
        signature: body_sig,
        colocated: true,
        patchable: false,
    });
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    let flags = MemFlagsData::trusted().with_readonly().with_can_move();
    let vmctx = b.ins().load(
        types::I64,
        flags,
        params[0],
        kiln_runtime::vm::VMFUNCREF_VMCTX as i32,
    );
    (body, params, vmctx)
}

/// The public entry `u0:func_index` of a function compiled as a body (`u1:func_index`):
/// it has the [`native_signature`] of `ty`, loads `vmctx` from the callee's `VMFuncRef`
/// and tail-calls the body, so it leaves no frame behind. With `osr_body` the body is a
/// tiered one ([`osr_body_signature`]), called without an OSR frame.
pub fn entry_stub(
    ty: &FuncType,
    func_index: u32,
    osr_body: bool,
    isa: &dyn TargetIsa,
    fctx: &mut FunctionBuilderContext,
) -> ir::Function {
    let sig = native_signature(ty, CallConv::Tail);
    let mut func = ir::Function::with_name_signature(UserFuncName::user(0, func_index), sig);
    let mut b = cranelift_frontend::FunctionBuilder::new(&mut func, fctx);
    let body_sig = if osr_body {
        osr_body_signature(ty, CallConv::Tail)
    } else {
        body_signature(ty, CallConv::Tail)
    };
    let (body, params, vmctx) = stub_prologue(&mut b, body_sig, func_index);
    let mut args = Vec::with_capacity(params.len() - 1);
    args.push(vmctx);
    args.extend_from_slice(&params[2..]);
    if osr_body {
        args.push(b.ins().iconst(types::I64, 0));
        args.push(b.ins().iconst(types::I64, kiln_runtime::vm::abi::NOT_OSR));
    }
    b.ins().return_call(body, &args);
    b.finalize(isa.frontend_config());
    func
}

/// Translates defined function `func_index` (index space with imports first) of `module`
/// into a Cranelift function named `u0:func_index` with the [`native_signature`] of its
/// type in the `tail` calling convention.
///
/// # Errors
///
/// [`TranslateError::Unsupported`] for operators outside WebAssembly 2.0 (and the
/// tail-call and multi-memory proposals) and for SIMD on a host that lacks SSE4.1 or SSSE3; [`TranslateError::Invalid`] when
/// `func_index` is not a defined function or the body does not decode.
pub fn translate_function(
    module: &Module,
    func_index: u32,
    opts: &TranslateOptions,
    isa: &dyn TargetIsa,
    fctx: &mut FunctionBuilderContext,
) -> Result<ir::Function, TranslateError> {
    func::translate(module, func_index, func::Variant::Entry, opts, isa, fctx).map(|(f, _)| f)
}

/// Like [`translate_function`], the body `u1:func_index` with the [`body_signature`] (engine
/// `jit`; see [`entry_stub`]).
///
/// # Errors
///
/// As [`translate_function`].
pub fn translate_body(
    module: &Module,
    func_index: u32,
    opts: &TranslateOptions,
    isa: &dyn TargetIsa,
    fctx: &mut FunctionBuilderContext,
) -> Result<ir::Function, TranslateError> {
    func::translate(module, func_index, func::Variant::Body, opts, isa, fctx).map(|(f, _)| f)
}

/// The Wasm type of every OSR entry's native signature: `(frame, loop ordinal) -> ()`.
pub fn osr_entry_type() -> FuncType {
    FuncType::new([ValType::I64, ValType::I64], [])
}

/// Translates the body of defined function `func_index` for engine `tiered`: like
/// [`translate_body`] with the [`osr_body_signature`], whose two extra parameters let the
/// same code serve on-stack replacement. Without `direct_calls`, it calls the module's
/// other defined functions through their published bodies when there are some (the
/// module's body table), else through their slots. Called with a loop ordinal, the body loads its
/// declared locals from the interpreter frame instead of zeroing them and jumps to the
/// header of that loop (counting the body's `loop` operators from 0, reachable or not)
/// through a chain of comparisons. Every loop entered with an empty operand stack and no
/// parameters can be entered; their ordinals are returned with the body, in body order
/// (entering at any other traps).
///
/// # Errors
///
/// As [`translate_function`].
pub fn translate_tiered_body(
    module: &Module,
    func_index: u32,
    opts: &TranslateOptions,
    isa: &dyn TargetIsa,
    fctx: &mut FunctionBuilderContext,
) -> Result<(ir::Function, Vec<u32>), TranslateError> {
    func::translate(module, func_index, func::Variant::OsrBody, opts, isa, fctx)
}

/// The OSR entry `u0:func_index` of a function compiled with [`translate_tiered_body`]:
/// native type [`osr_entry_type`], `(callee, caller_vmctx, depth, frame, loop_ordinal)`.
/// It loads the function's parameters from the interpreter frame's first slots (one each,
/// a v128 two, low half first; see `kiln_runtime::vm::abi`), calls the body with the frame
/// and the ordinal, and stores the body's results into the frame's first slots.
pub fn osr_stub(
    ty: &FuncType,
    func_index: u32,
    isa: &dyn TargetIsa,
    fctx: &mut FunctionBuilderContext,
) -> ir::Function {
    let sig = native_signature(&osr_entry_type(), CallConv::Tail);
    let mut func = ir::Function::with_name_signature(UserFuncName::user(0, func_index), sig);
    let mut b = cranelift_frontend::FunctionBuilder::new(&mut func, fctx);
    let (body, params, vmctx) =
        stub_prologue(&mut b, osr_body_signature(ty, CallConv::Tail), func_index);
    let [_callee, _caller_vmctx, depth, frame, ordinal] = params[..] else {
        unreachable!("the OSR entry signature has five parameters");
    };
    let mut args = vec![vmctx, depth];
    let mut slot = 0i32;
    for &t in ty.params() {
        args.push(crate::trampoline::load_slot(&mut b, t, frame, slot * 8));
        slot += t.slots() as i32;
    }
    args.extend([frame, ordinal]);
    let call = b.ins().call(body, &args);
    let results = b.inst_results(call).to_vec();
    let mut slot = 0i32;
    for (&v, &t) in results.iter().zip(ty.results()) {
        crate::trampoline::store_slot(&mut b, t, v, frame, slot * 8);
        slot += t.slots() as i32;
    }
    b.ins().return_(&[]);
    b.finalize(isa.frontend_config());
    func
}

#[cfg(test)]
mod tests;
