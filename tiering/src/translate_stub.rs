//! Placeholder until the Wasm-to-CLIF translator lands: every function is refused.

use cranelift_codegen::ir;
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::FunctionBuilderContext;

/// How native code keeps memory accesses in bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoundsChecks {
    /// Rely on the 8 GiB reservation and the signal handler.
    GuardPages,
    /// Compare every access against the current length.
    Explicit,
}

/// Translation settings.
#[derive(Clone, Copy, Debug)]
pub struct TranslateOptions {
    /// Bounds strategy.
    pub bounds_checks: BoundsChecks,
    /// Poll the interrupt flag at entries and loop headers.
    pub interrupt_checks: bool,
}

impl Default for TranslateOptions {
    fn default() -> Self {
        TranslateOptions {
            bounds_checks: BoundsChecks::GuardPages,
            interrupt_checks: true,
        }
    }
}

/// Why a function could not be translated.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// Not implemented.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Malformed body.
    #[error("invalid function body: {0}")]
    Invalid(String),
}

/// Translates one function. This placeholder knows only a handful of operators (enough to
/// exercise entry, calls, host adapters and traps): `local.get`, `i32.const`, `i32.add`,
/// `i32.div_u`, `call`, `unreachable`, `end`.
///
/// # Errors
///
/// [`TranslateError::Unsupported`] for anything else.
pub fn translate_function(
    module: &kiln_runtime::Module,
    func_index: u32,
    _opts: &TranslateOptions,
    isa: &dyn TargetIsa,
    fctx: &mut FunctionBuilderContext,
) -> Result<ir::Function, TranslateError> {
    use crate::trampoline::{clif_type, wasm_signature};
    use cranelift_codegen::ir::{InstBuilder, MemFlagsData, types};
    use cranelift_codegen::isa::CallConv;
    use cranelift_frontend::FunctionBuilder;
    use kiln_runtime::vm::{VMCTX_FUNCS, VMFUNCREF_NATIVE_CODE, VMFUNCREF_VMCTX};
    let unsupported = |m: &str| TranslateError::Unsupported(m.to_string());
    let ty = module
        .func_type(func_index)
        .ok_or_else(|| unsupported("no type"))?
        .clone();
    let body = module
        .func_body(func_index)
        .ok_or_else(|| unsupported("no body"))?;
    let body = wasmparser::FunctionBody::new(wasmparser::BinaryReader::new(body, 0));
    let sig = wasm_signature(&ty, CallConv::Tail);
    let mut func = ir::Function::with_name_signature(ir::UserFuncName::user(0, func_index), sig);
    let mut b = FunctionBuilder::new(&mut func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    let flags = MemFlagsData::trusted();
    let vmctx = b
        .ins()
        .load(types::I64, flags, params[0], VMFUNCREF_VMCTX as i32);
    let depth = params[2];
    b.ins().trapz(depth, ir::TrapCode::STACK_OVERFLOW);
    let inner_depth = b.ins().iadd_imm_s(depth, -1);
    let mut stack: Vec<ir::Value> = Vec::new();
    let ops = body
        .get_operators_reader()
        .map_err(|e| TranslateError::Invalid(e.to_string()))?;
    for op in ops {
        let op = op.map_err(|e| TranslateError::Invalid(e.to_string()))?;
        use wasmparser::Operator as O;
        match op {
            O::LocalGet { local_index } => stack.push(params[3 + local_index as usize]),
            O::I32Const { value } => stack.push(b.ins().iconst(types::I32, value as i64)),
            O::I32Add => {
                let (y, x) = (stack.pop().unwrap(), stack.pop().unwrap());
                stack.push(b.ins().iadd(x, y));
            }
            O::I32DivU => {
                let (y, x) = (stack.pop().unwrap(), stack.pop().unwrap());
                stack.push(b.ins().udiv(x, y));
            }
            O::Unreachable => {
                b.ins().trap(crate::code_memory::user_trap(
                    kiln_runtime::vm::abi::TRAP_UNREACHABLE,
                ));
                let dead = b.create_block();
                b.switch_to_block(dead);
                b.seal_block(dead);
            }
            O::Call { function_index } => {
                let cty = module.func_type(function_index).unwrap().clone();
                let csig = b.import_signature(wasm_signature(&cty, CallConv::Tail));
                let funcs = b.ins().load(types::I64, flags, vmctx, VMCTX_FUNCS as i32);
                let callee = b
                    .ins()
                    .load(types::I64, flags, funcs, 8 * function_index as i32);
                let code = b
                    .ins()
                    .load(types::I64, flags, callee, VMFUNCREF_NATIVE_CODE as i32);
                let n = cty.params().len();
                let mut args = vec![callee, vmctx, inner_depth];
                args.extend(stack.split_off(stack.len() - n));
                let call = b.ins().call_indirect(csig, code, &args);
                stack.extend(b.inst_results(call).to_vec());
            }
            O::End => {
                let n = ty.results().len();
                let rets = stack.split_off(stack.len().saturating_sub(n));
                if rets.len() == n {
                    b.ins().return_(&rets);
                } else {
                    let zeros: Vec<_> = ty
                        .results()
                        .iter()
                        .map(|&t| {
                            let ct = clif_type(t);
                            if ct.is_int() {
                                b.ins().iconst(ct, 0)
                            } else {
                                b.ins().f32const(0.0)
                            }
                        })
                        .collect();
                    b.ins().return_(&zeros);
                }
            }
            other => {
                return Err(unsupported(&format!(
                    "{other:?} in the placeholder translator"
                )));
            }
        }
    }
    b.finalize(isa.frontend_config());
    Ok(func)
}
