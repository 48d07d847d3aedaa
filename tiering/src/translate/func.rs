//! The translation of one function body: value stack, control frames, operators.

use super::{
    BODY_NAMESPACE, BoundsChecks, TranslateError, TranslateOptions, body_signature, clif_type,
    native_signature, osr_body_signature,
};
use cranelift_codegen::entity::packed_option::ReservedValue;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::{
    self, AbiParam, AliasRegion, AliasRegionData, Block, BlockArg, Endianness, InstBuilder,
    JumpTableData, MemFlagsData, SigRef, Signature, TrapCode, Type, UserFuncName, Value, types,
};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use kiln_runtime::vm::abi::{self, Builtin};
use kiln_runtime::vm::{
    MEMORY_RESERVATION, VMCTX_BODIES, VMCTX_FUEL, VMCTX_FUNCS, VMCTX_GLOBALS, VMCTX_INTERRUPT,
    VMCTX_MEMORIES, VMCTX_MEMORY0, VMCTX_TABLES, VMCTX_TYPE_IDS, VMFUNCREF_NATIVE_CODE,
    VMFUNCREF_TYPE_ID, VMFUNCREF_VMCTX, VMMEMORY_BASE, VMMEMORY_LENGTH, VMTABLE_BASE,
    VMTABLE_LENGTH,
};
use kiln_runtime::{FuncType, Module, ValType};
use std::borrow::Cow;
use std::sync::Arc;
use wasmparser::{BlockType, MemArg, MemArgTarget, Operator};

mod simd;

type Result<T> = std::result::Result<T, TranslateError>;

/// Upper bound on the number of locals (wasmparser's validator allows 50 000).
const MAX_LOCALS: u64 = 1 << 20;

fn invalid(msg: impl Into<String>) -> TranslateError {
    TranslateError::Invalid(msg.into())
}

fn simd(what: impl std::fmt::Display) -> TranslateError {
    TranslateError::Unsupported(format!("SIMD ({what})"))
}

fn read_err(e: wasmparser::BinaryReaderError) -> TranslateError {
    invalid(format!("{} (at offset {:#x})", e.message(), e.offset()))
}

pub(crate) fn user_trap(code: u8) -> TrapCode {
    TrapCode::unwrap_user(code)
}

/// Loads of VM data that never changes while the instance lives (array pointers, memory
/// and table bases, function slots, type ids): free to move, merge or drop.
fn const_flags() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly().with_can_move()
}

/// Width in bytes and kind of a linear-memory access.
#[derive(Clone, Copy)]
enum Access {
    /// Full-width load or store of the value type.
    Full,
    /// Zero-extending load / truncating store of this many bytes.
    Zext(u8),
    /// Sign-extending load of this many bytes.
    Sext(u8),
}

enum FrameKind {
    Block,
    Loop {
        header: Block,
    },
    If {
        else_block: Block,
        has_else: bool,
        /// The block parameters, which the `else` arm starts from again.
        params: Vec<Value>,
    },
}

struct Frame {
    kind: FrameKind,
    /// Where control continues after `end`; its parameters are the results.
    next: Block,
    /// Height of the value stack below the frame's parameters.
    base: usize,
    nparams: usize,
    nresults: usize,
    /// Whether some branch (or the implicit `else`) jumps to `next`.
    exit_reached: bool,
}

/// Alias regions: disjoint kinds of memory that generated code accesses.
struct Regions {
    heap: AliasRegion,
    table: AliasRegion,
    global: AliasRegion,
    /// Mutable VM words: memory and table lengths, code pointers.
    vm: AliasRegion,
}

struct FuncTranslator<'a, 'f> {
    b: FunctionBuilder<'f>,
    module: &'a Module,
    opts: &'a TranslateOptions,
    /// Calling convention of the runtime's `extern "C"` builtins.
    builtin_cc: CallConv,
    body: &'a [u8],
    body_offset: usize,
    ty: Arc<FuncType>,
    stack: Vec<Value>,
    frames: Vec<Frame>,
    reachable: bool,
    /// Control operators opened inside unreachable code and not closed yet.
    unreachable_depth: u32,
    locals: Vec<Variable>,
    vmctx: Value,
    /// This frame's call budget (`depth`, see the ABI) and the one its callees get.
    depth: Value,
    inner_depth: Value,
    /// Whether this is the body of an engine-`jit` function (see [`body_signature`]):
    /// `vmctx` comes in as the first parameter.
    is_body: bool,
    /// The block in which the interrupt flag was last polled (a call polls unless its
    /// block already did).
    polled: Option<Block>,
    sigs: Vec<Option<SigRef>>,
    /// Signatures of function bodies (direct calls), by type index.
    body_sigs: Vec<Option<SigRef>>,
    builtin_sigs: Vec<(Builtin, SigRef)>,
    regions: Regions,
    args: Vec<BlockArg>,
    /// Set when translating a tiered body, which OSR entries enter too (see
    /// `kiln_runtime::vm::abi`).
    osr: Option<Osr>,
    /// A tiered body: the module's table of published bodies (`vmctx.bodies`), through
    /// which it calls the module's other functions (see [`Self::call_published`]).
    bodies: Option<Value>,
    /// `loop` operators seen so far, reachable or not (OSR targets count this way).
    loops_seen: u32,
    /// Index of the function being translated.
    func_index: u32,
    /// Whether the host has what the SIMD lowerings need (SSE4.1 and SSSE3 on x86-64).
    simd_ok: bool,
    /// Fuel metering: the cost of every segment of the body in order (see
    /// `kiln_runtime::ends_fuel_segment`), empty when fuel is off.
    fuel_costs: Vec<u32>,
    /// Index of the current segment in `fuel_costs`.
    segment: usize,
}

/// The OSR path of a tiered body: it dispatches on the loop-ordinal parameter through a
/// chain of blocks, one test per enterable loop, each emitted when its loop's header is
/// created (before the header is sealed).
struct Osr {
    /// The interpreter frame's slots: locals in, results out.
    frame: Value,
    /// The ordinal of the loop to enter (an `i64` parameter).
    ordinal: Value,
    /// The next link of the dispatch chain (`None` before the locals are loaded).
    dispatch: Option<Block>,
    /// Ordinals of the loops the entry can enter, in body order.
    loops: Vec<u32>,
}

/// What [`translate`] produces.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Variant {
    /// The function with its public native signature.
    Entry,
    /// The body that direct calls enter (`vmctx` first).
    Body,
    /// The body of engine `tiered`, which OSR entries enter too (see
    /// [`super::translate_tiered_body`]).
    OsrBody,
}

/// Translates defined function `func_index`; for [`Variant::OsrBody`] also returns the
/// ordinals of the loops an OSR entry can enter (empty otherwise).
pub(super) fn translate(
    module: &Module,
    func_index: u32,
    variant: Variant,
    opts: &TranslateOptions,
    isa: &dyn TargetIsa,
    fctx: &mut FunctionBuilderContext,
) -> Result<(ir::Function, Vec<u32>)> {
    let is_body = variant != Variant::Entry;
    if isa.pointer_type() != types::I64 {
        return Err(TranslateError::Unsupported(
            "native code for a target without 64-bit pointers".into(),
        ));
    }
    let ty_index = module
        .func_type_index(func_index)
        .ok_or_else(|| invalid(format!("no function {func_index}")))?;
    let ty = module
        .types()
        .get(ty_index as usize)
        .ok_or_else(|| invalid(format!("no type {ty_index}")))?
        .clone();
    let (Some(body), Some(body_offset)) = (
        module.func_body(func_index),
        module.func_body_offset(func_index),
    ) else {
        return Err(invalid(format!(
            "function {func_index} is not a defined function"
        )));
    };
    let (name, sig) = match variant {
        Variant::Entry => (
            UserFuncName::user(0, func_index),
            native_signature(&ty, CallConv::Tail),
        ),
        Variant::Body => (
            UserFuncName::user(BODY_NAMESPACE, func_index),
            body_signature(&ty, CallConv::Tail),
        ),
        Variant::OsrBody => (
            UserFuncName::user(BODY_NAMESPACE, func_index),
            osr_body_signature(&ty, CallConv::Tail),
        ),
    };
    let mut func = ir::Function::with_name_signature(name, sig);
    let result = {
        let mut b = FunctionBuilder::new(&mut func, fctx);
        let regions = Regions {
            heap: region(&mut b, 1, "heap"),
            table: region(&mut b, 2, "table elements"),
            global: region(&mut b, 3, "globals"),
            vm: region(&mut b, 4, "vm"),
        };
        let entry = b.create_block();
        // Loaded in `run`, before any use.
        let vmctx = Value::reserved_value();
        let mut t = FuncTranslator {
            b,
            module,
            opts,
            builtin_cc: isa.default_call_conv(),
            body,
            body_offset,
            ty,
            stack: Vec::new(),
            frames: Vec::new(),
            reachable: true,
            unreachable_depth: 0,
            locals: Vec::new(),
            vmctx,
            depth: Value::reserved_value(),
            inner_depth: Value::reserved_value(),
            is_body,
            polled: None,
            sigs: vec![None; module.types().len()],
            body_sigs: vec![None; module.types().len()],
            builtin_sigs: Vec::new(),
            regions,
            args: Vec::new(),
            osr: (variant == Variant::OsrBody).then(|| Osr {
                frame: Value::reserved_value(),
                ordinal: Value::reserved_value(),
                dispatch: None,
                loops: Vec::new(),
            }),
            bodies: None,
            loops_seen: 0,
            func_index,
            simd_ok: isa.has_round() && isa.has_x86_pshufb_lowering(),
            fuel_costs: Vec::new(),
            segment: 0,
        };
        match t.run(entry) {
            Ok(()) => {
                t.b.seal_all_blocks();
                t.b.finalize(isa.frontend_config());
                Ok(t.osr.map(|o| o.loops).unwrap_or_default())
            }
            Err(e) => Err(e),
        }
    };
    match result {
        Ok(loops) => Ok((func, loops)),
        Err(e) => {
            // The builder was dropped half-way: start the context afresh for its next use.
            *fctx = FunctionBuilderContext::new();
            Err(e)
        }
    }
}

fn region(b: &mut FunctionBuilder<'_>, id: u32, what: &'static str) -> AliasRegion {
    b.func.dfg.alias_regions.insert(AliasRegionData {
        user_id: id,
        description: Cow::Borrowed(what),
    })
}

/// Byte offset `index * scale` as a load offset when it fits, else `None`.
fn scaled(index: u32, scale: i64) -> Option<i32> {
    i32::try_from(index as i64 * scale).ok()
}

impl FuncTranslator<'_, '_> {
    // ----- value stack -------------------------------------------------------------------

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn pop(&mut self) -> Result<Value> {
        self.stack
            .pop()
            .ok_or_else(|| invalid("value stack underflow"))
    }

    fn pop2(&mut self) -> Result<(Value, Value)> {
        let b = self.pop()?;
        let a = self.pop()?;
        Ok((a, b))
    }

    fn pop3(&mut self) -> Result<(Value, Value, Value)> {
        let c = self.pop()?;
        let b = self.pop()?;
        let a = self.pop()?;
        Ok((a, b, c))
    }

    /// The top `n` values, in order.
    fn top(&self, n: usize) -> Result<&[Value]> {
        let at = self
            .stack
            .len()
            .checked_sub(n)
            .ok_or_else(|| invalid("value stack underflow"))?;
        Ok(&self.stack[at..])
    }

    fn pop_n(&mut self, n: usize) -> Result<Vec<Value>> {
        let at = self
            .stack
            .len()
            .checked_sub(n)
            .ok_or_else(|| invalid("value stack underflow"))?;
        Ok(self.stack.split_off(at))
    }

    /// Fills `self.args` with the top `n` values as block arguments.
    fn take_args(&mut self, n: usize) -> Result<Vec<BlockArg>> {
        let mut args = std::mem::take(&mut self.args);
        args.clear();
        args.extend(self.top(n)?.iter().map(|&v| BlockArg::Value(v)));
        Ok(args)
    }

    fn jump_with_top(&mut self, block: Block, n: usize) -> Result<()> {
        let args = self.take_args(n)?;
        self.b.ins().jump(block, &args);
        self.args = args;
        Ok(())
    }

    // ----- types ---------------------------------------------------------------------------

    fn wasm_type(&self, ty: wasmparser::ValType) -> Result<Type> {
        use wasmparser::ValType as W;
        Ok(match ty {
            W::I32 => types::I32,
            W::I64 => types::I64,
            W::F32 => types::F32,
            W::F64 => types::F64,
            W::V128 => types::I8X16,
            W::Ref(r) => {
                if r == wasmparser::RefType::FUNCREF || r == wasmparser::RefType::EXTERNREF {
                    types::I64
                } else {
                    return Err(TranslateError::Unsupported(format!("reference type {r}")));
                }
            }
        })
    }

    fn func_type(&self, type_index: u32) -> Result<Arc<FuncType>> {
        self.module
            .types()
            .get(type_index as usize)
            .cloned()
            .ok_or_else(|| invalid(format!("no type {type_index}")))
    }

    fn block_types(&self, bt: BlockType) -> Result<(Vec<Type>, Vec<Type>)> {
        Ok(match bt {
            BlockType::Empty => (Vec::new(), Vec::new()),
            BlockType::Type(t) => (Vec::new(), vec![self.wasm_type(t)?]),
            BlockType::FuncType(i) => {
                let ft = self.func_type(i)?;
                let conv = |tys: &[ValType]| tys.iter().map(|&t| clif_type(t)).collect();
                (conv(ft.params()), conv(ft.results()))
            }
        })
    }

    fn sig_ref(&mut self, type_index: u32) -> Result<SigRef> {
        if let Some(Some(s)) = self.sigs.get(type_index as usize) {
            return Ok(*s);
        }
        let ft = self.func_type(type_index)?;
        let s = self
            .b
            .import_signature(native_signature(&ft, CallConv::Tail));
        self.sigs[type_index as usize] = Some(s);
        Ok(s)
    }

    /// The [`body_signature`] of type `type_index` (for direct calls).
    fn body_sig_ref(&mut self, type_index: u32) -> Result<SigRef> {
        if let Some(Some(s)) = self.body_sigs.get(type_index as usize) {
            return Ok(*s);
        }
        let ft = self.func_type(type_index)?;
        // A tiered body calls bodies with its own signature (itself, and published ones).
        let sig = if self.osr.is_some() {
            osr_body_signature(&ft, CallConv::Tail)
        } else {
            body_signature(&ft, CallConv::Tail)
        };
        let s = self.b.import_signature(sig);
        self.body_sigs[type_index as usize] = Some(s);
        Ok(s)
    }

    // ----- VM context access ---------------------------------------------------------------

    /// Flags for a global's value: a v128 global is only 8-byte aligned.
    fn global_flags(&self, ty: ValType) -> MemFlagsData {
        let flags = if ty == ValType::V128 {
            MemFlagsData::new()
                .with_notrap()
                .with_endianness(Endianness::Little)
        } else {
            MemFlagsData::trusted()
        };
        flags.with_alias_region(Some(self.regions.global))
    }

    fn vm_flags(&self) -> MemFlagsData {
        MemFlagsData::trusted().with_alias_region(Some(self.regions.vm))
    }

    fn load_const(&mut self, ty: Type, base: Value, offset: usize) -> Value {
        self.b.ins().load(ty, const_flags(), base, offset as i32)
    }

    /// `*(base + index * 8)` for an invariant pointer array.
    fn load_const_elem(&mut self, base: Value, index: u32) -> Value {
        match scaled(index, 8) {
            Some(off) => self.b.ins().load(types::I64, const_flags(), base, off),
            None => {
                let addr = self.b.ins().iadd_imm_s(base, index as i64 * 8);
                self.b.ins().load(types::I64, const_flags(), addr, 0)
            }
        }
    }

    fn memory_def(&mut self, mem: u32) -> Result<Value> {
        let ty = self
            .module
            .memories()
            .get(mem as usize)
            .ok_or_else(|| invalid(format!("no memory {mem}")))?;
        if ty.memory64 {
            return Err(TranslateError::Unsupported("memory64".into()));
        }
        let vmctx = self.vmctx;
        if mem == 0 {
            return Ok(self.load_const(types::I64, vmctx, VMCTX_MEMORY0));
        }
        let arr = self.load_const(types::I64, vmctx, VMCTX_MEMORIES);
        Ok(self.load_const_elem(arr, mem))
    }

    fn table_def(&mut self, table: u32) -> Result<Value> {
        if table as usize >= self.module.tables().len() {
            return Err(invalid(format!("no table {table}")));
        }
        let vmctx = self.vmctx;
        let arr = self.load_const(types::I64, vmctx, VMCTX_TABLES);
        Ok(self.load_const_elem(arr, table))
    }

    fn global_def(&mut self, global: u32) -> Result<(Value, kiln_runtime::GlobalType)> {
        let gt = *self
            .module
            .globals()
            .get(global as usize)
            .ok_or_else(|| invalid(format!("no global {global}")))?;
        let vmctx = self.vmctx;
        let arr = self.load_const(types::I64, vmctx, VMCTX_GLOBALS);
        Ok((self.load_const_elem(arr, global), gt))
    }

    /// The `VMFuncRef` of function `index`.
    fn func_ref(&mut self, index: u32) -> Result<Value> {
        if index >= self.module.num_funcs() {
            return Err(invalid(format!("no function {index}")));
        }
        let vmctx = self.vmctx;
        let arr = self.load_const(types::I64, vmctx, VMCTX_FUNCS);
        Ok(self.load_const_elem(arr, index))
    }

    fn interrupt_check(&mut self) {
        if !self.opts.interrupt_checks {
            return;
        }
        let vmctx = self.vmctx;
        let flag_ptr = self.load_const(types::I64, vmctx, VMCTX_INTERRUPT);
        // Atomic so that it is reloaded every time (another thread sets it).
        let flag = self
            .b
            .ins()
            .atomic_load(types::I32, MemFlagsData::trusted(), flag_ptr);
        // A set word may carry only pokes for calls entered through another instance: the
        // runtime decides out of line whether this call stops.
        let slow = self.b.create_block();
        let cont = self.b.create_block();
        self.b.set_cold_block(slow);
        self.b.ins().brif(flag, slow, &[], cont, &[]);
        self.b.seal_block(slow);
        self.b.switch_to_block(slow);
        let stop = self
            .call_builtin(Builtin::InterruptPoll, &[])
            .expect("the poll builtin returns a value");
        self.b.ins().trapnz(stop, user_trap(abi::TRAP_INTERRUPTED));
        self.b.ins().jump(cont, &[]);
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
    }

    /// Charges the current segment's fuel: traps `OutOfFuel` (leaving the counter as it
    /// is) when fewer remain, else subtracts. The same Wasm-level cost the interpreter's
    /// `Fuel` op charges, so every tier stops at the same point.
    fn charge_fuel(&mut self) {
        let Some(&cost) = self.fuel_costs.get(self.segment) else {
            return;
        };
        let vmctx = self.vmctx;
        let ptr = self.load_const(types::I64, vmctx, VMCTX_FUEL);
        // A plain load and store: calls in between may charge too, and Cranelift does not
        // carry loads across calls; concurrent callers are not exact (documented).
        let flags = MemFlagsData::trusted();
        let left = self.b.ins().load(types::I64, flags, ptr, 0);
        let short = self
            .b
            .ins()
            .icmp_imm_u(IntCC::UnsignedLessThan, left, i64::from(cost));
        self.b.ins().trapnz(short, user_trap(abi::TRAP_OUT_OF_FUEL));
        let rest = self.b.ins().iadd_imm_s(left, -i64::from(cost));
        self.b.ins().store(flags, rest, ptr, 0);
    }

    /// Polls the interrupt flag before a call, unless the current block already did.
    ///
    /// Functions do not poll at entry: every unbounded execution either runs a loop (polled
    /// at its header) or makes calls without end, and a call polls first; between two polls
    /// run at most straight-line code and calls of functions that neither loop nor call.
    fn poll_before_call(&mut self) {
        let block = self.b.current_block();
        if block.is_some() && block != self.polled {
            self.interrupt_check();
            // The check ends in a new block, where the call goes.
            self.polled = self.b.current_block();
        }
    }

    /// The index value (`i32`) of a table access, checked against the current length
    /// (trapping with `code`); returns the address of the element.
    fn table_elem_addr(&mut self, table: u32, index: Value, code: u8) -> Result<Value> {
        let def = self.table_def(table)?;
        let flags = self.vm_flags();
        let len = self
            .b
            .ins()
            .load(types::I64, flags, def, VMTABLE_LENGTH as i32);
        let idx = self.b.ins().uextend(types::I64, index);
        let oob = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThanOrEqual, idx, len);
        self.b.ins().trapnz(oob, user_trap(code));
        let base = self.load_const(types::I64, def, VMTABLE_BASE);
        let off = self.b.ins().ishl_imm_u(idx, 3);
        Ok(self.b.ins().iadd(base, off))
    }

    fn table_flags(&self) -> MemFlagsData {
        MemFlagsData::trusted().with_alias_region(Some(self.regions.table))
    }

    // ----- builtins ------------------------------------------------------------------------

    fn builtin_sig(&mut self, which: Builtin) -> SigRef {
        if let Some((_, s)) = self.builtin_sigs.iter().find(|(b, _)| *b == which) {
            return *s;
        }
        use types::{I32, I64};
        let (params, ret): (&[Type], Option<Type>) = match which {
            Builtin::MemoryGrow => (&[I64, I32, I32], Some(I32)),
            Builtin::MemoryFill => (&[I64, I32, I32, I32, I32], Some(I32)),
            Builtin::MemoryCopy | Builtin::MemoryInit | Builtin::TableCopy | Builtin::TableInit => {
                (&[I64, I32, I32, I32, I32, I32], Some(I32))
            }
            Builtin::DataDrop | Builtin::ElemDrop => (&[I64, I32], None),
            Builtin::TableSet => (&[I64, I32, I32, I64], Some(I32)),
            Builtin::TableGrow => (&[I64, I32, I64, I32], Some(I32)),
            Builtin::TableFill => (&[I64, I32, I32, I64, I32], Some(I32)),
            Builtin::GlobalSetRef => (&[I64, I32, I64], None),
            Builtin::ArrayCall => (&[I64, I64, I64], Some(I32)),
            Builtin::InterruptPoll => (&[I64], Some(I32)),
        };
        let mut sig = Signature::new(self.builtin_cc);
        sig.params.extend(params.iter().map(|&t| AbiParam::new(t)));
        sig.returns.extend(ret.map(AbiParam::new));
        let s = self.b.import_signature(sig);
        self.builtin_sigs.push((which, s));
        s
    }

    /// Calls `which` with `vmctx` followed by `args`; returns its result, if any.
    fn call_builtin(&mut self, which: Builtin, args: &[Value]) -> Option<Value> {
        let sig = self.builtin_sig(which);
        let addr = self.b.ins().iconst(types::I64, which.address() as i64);
        let mut all = Vec::with_capacity(args.len() + 1);
        all.push(self.vmctx);
        all.extend_from_slice(args);
        let call = self.b.ins().call_indirect(sig, addr, &all);
        self.b.inst_results(call).first().copied()
    }

    /// Calls a builtin returning a status and traps with the pending trap on failure.
    fn call_builtin_status(&mut self, which: Builtin, args: &[Value]) -> Result<()> {
        let status = self
            .call_builtin(which, args)
            .ok_or_else(|| invalid("builtin without a status"))?;
        self.b.ins().trapnz(status, user_trap(abi::TRAP_PENDING));
        Ok(())
    }

    fn u32_const(&mut self, v: u32) -> Value {
        self.b.ins().iconst(types::I32, v as i64)
    }

    // ----- calls ---------------------------------------------------------------------------

    /// Calls `callee` (a `*const VMFuncRef`) with the native signature of `type_index`,
    /// taking the arguments from the stack and pushing the results (or tail-calling).
    fn call_through(&mut self, type_index: u32, callee: Value, tail: bool) -> Result<()> {
        let nparams = self.func_type(type_index)?.params().len();
        let params = self.pop_n(nparams)?;
        if let Some(results) = self.emit_call_through(type_index, callee, &params, tail)? {
            self.stack.extend_from_slice(&results);
        }
        Ok(())
    }

    /// Emits the call of `callee` (a `*const VMFuncRef`) with the native signature of
    /// `type_index` and the Wasm arguments `params`; returns its results, or `None` for a
    /// tail call (which ends the block).
    fn emit_call_through(
        &mut self,
        type_index: u32,
        callee: Value,
        params: &[Value],
        tail: bool,
    ) -> Result<Option<Vec<Value>>> {
        let sig = self.sig_ref(type_index)?;
        let flags = self.vm_flags();
        let code = self
            .b
            .ins()
            .load(types::I64, flags, callee, VMFUNCREF_NATIVE_CODE as i32);
        let mut args = Vec::with_capacity(params.len() + 3);
        args.push(callee);
        args.push(self.vmctx);
        // A tail call replaces this frame, so the callee inherits its budget.
        args.push(if tail { self.depth } else { self.inner_depth });
        args.extend_from_slice(params);
        if tail {
            self.b.ins().return_call_indirect(sig, code, &args);
            self.reachable = false;
            Ok(None)
        } else {
            let call = self.b.ins().call_indirect(sig, code, &args);
            Ok(Some(self.b.inst_results(call).to_vec()))
        }
    }

    fn call(&mut self, function_index: u32, tail: bool) -> Result<()> {
        let type_index = self
            .module
            .func_type_index(function_index)
            .ok_or_else(|| invalid(format!("no function {function_index}")))?;
        self.poll_before_call();
        let defined = function_index >= self.module.num_imported_funcs();
        // A body calls itself directly in every engine: its code never changes once it
        // runs (tiered code is published once), only other functions' code does.
        let self_call = self.is_body && function_index == self.func_index;
        if (self.opts.direct_calls || self_call) && defined {
            return self.call_direct(type_index, function_index, tail);
        }
        if let Some(bodies) = self.bodies
            && defined
        {
            return self.call_published(bodies, type_index, function_index, tail);
        }
        let callee = self.func_ref(function_index)?;
        self.call_through(type_index, callee, tail)
    }

    /// A tiered body's call of another defined function of its module: when the callee's
    /// body is published (`bodies[function_index - imports]` non-zero) an indirect call
    /// straight to it, passing this instance's `vmctx` and no OSR frame, as the callee's
    /// entry stub would; else (a cold branch) the call through its slot, which reaches the
    /// interpreter or the entry stub. Both paths run the same code with the same `depth`,
    /// so traps, fuel, interruption and backtraces do not depend on which is taken.
    fn call_published(
        &mut self,
        bodies: Value,
        type_index: u32,
        function_index: u32,
        tail: bool,
    ) -> Result<()> {
        let ft = self.func_type(type_index)?;
        let body_sig = self.body_sig_ref(type_index)?;
        let defined = function_index - self.module.num_imported_funcs();
        // A plain load, like the slot's `native_code`: the call depends on the address it
        // reads, and x86-64 loads are not reordered with older loads (see the ABI).
        let flags = self.vm_flags();
        let body = match scaled(defined, 8) {
            Some(off) => self.b.ins().load(types::I64, flags, bodies, off),
            None => {
                let addr = self.b.ins().iadd_imm_s(bodies, i64::from(defined) * 8);
                self.b.ins().load(types::I64, flags, addr, 0)
            }
        };
        let params = self.pop_n(ft.params().len())?;
        let published = self.b.create_block();
        let through_slot = self.b.create_block();
        self.b.set_cold_block(through_slot);
        self.b.ins().brif(body, published, &[], through_slot, &[]);
        self.b.seal_block(published);
        self.b.seal_block(through_slot);
        let results: Vec<Type> = ft.results().iter().map(|&t| clif_type(t)).collect();
        let join = (!tail).then(|| self.block_with_params(&results));

        self.b.switch_to_block(published);
        let mut args = Vec::with_capacity(params.len() + 4);
        args.push(self.vmctx);
        // A tail call replaces this frame, so the callee inherits its budget.
        args.push(if tail { self.depth } else { self.inner_depth });
        args.extend_from_slice(&params);
        // A call, not an OSR entry: no frame, no loop.
        args.push(self.b.ins().iconst(types::I64, 0));
        args.push(self.b.ins().iconst(types::I64, abi::NOT_OSR));
        match join {
            None => {
                self.b.ins().return_call_indirect(body_sig, body, &args);
            }
            Some(join) => {
                let call = self.b.ins().call_indirect(body_sig, body, &args);
                let out: Vec<BlockArg> = self
                    .b
                    .inst_results(call)
                    .iter()
                    .map(|&v| BlockArg::Value(v))
                    .collect();
                self.b.ins().jump(join, &out);
            }
        }

        self.b.switch_to_block(through_slot);
        let callee = self.func_ref(function_index)?;
        let results = self.emit_call_through(type_index, callee, &params, tail)?;
        if let (Some(join), Some(results)) = (join, results) {
            let out: Vec<BlockArg> = results.into_iter().map(BlockArg::Value).collect();
            self.b.ins().jump(join, &out);
            self.b.seal_block(join);
            self.b.switch_to_block(join);
            let joined = self.b.block_params(join).to_vec();
            self.stack.extend_from_slice(&joined);
            // The poll before this call covers the rest of the block it started in.
            self.polled = Some(join);
        }
        Ok(())
    }

    /// A `call rel32` (or `jmp rel32` for a tail call) to the body of a function of the
    /// same module (engine `jit`, where code never moves between tiers), passing this
    /// instance's `vmctx`: the code block resolves the relocation when it is laid out.
    fn call_direct(&mut self, type_index: u32, function_index: u32, tail: bool) -> Result<()> {
        let sig = self.body_sig_ref(type_index)?;
        let ft = self.func_type(type_index)?;
        let name = self
            .b
            .func
            .declare_imported_user_function(ir::UserExternalName::new(
                BODY_NAMESPACE,
                function_index,
            ));
        let func = self.b.import_function(ir::ExtFuncData {
            name: ir::ExternalName::user(name),
            signature: sig,
            colocated: true,
            patchable: false,
        });
        let mut args = Vec::with_capacity(ft.params().len() + 4);
        args.push(self.vmctx);
        // A tail call replaces this frame, so the callee inherits its budget.
        args.push(if tail { self.depth } else { self.inner_depth });
        let params = self.pop_n(ft.params().len())?;
        args.extend_from_slice(&params);
        if self.osr.is_some() {
            // A call, not an OSR entry: no frame, no loop.
            args.push(self.b.ins().iconst(types::I64, 0));
            args.push(self.b.ins().iconst(types::I64, abi::NOT_OSR));
        }
        if tail {
            self.b.ins().return_call(func, &args);
            self.reachable = false;
        } else {
            let call = self.b.ins().call(func, &args);
            let results = self.b.inst_results(call);
            self.stack.extend_from_slice(results);
        }
        Ok(())
    }

    fn call_indirect(&mut self, type_index: u32, table: u32, tail: bool) -> Result<()> {
        self.poll_before_call();
        let index = self.pop()?;
        let addr = self.table_elem_addr(table, index, abi::TRAP_UNDEFINED_ELEMENT)?;
        let flags = self.table_flags();
        let callee = self.b.ins().load(types::I64, flags, addr, 0);
        self.b
            .ins()
            .trapz(callee, user_trap(abi::TRAP_UNINITIALIZED_ELEMENT));
        let actual = self.b.ins().load(
            types::I32,
            MemFlagsData::trusted().with_readonly(),
            callee,
            VMFUNCREF_TYPE_ID as i32,
        );
        let vmctx = self.vmctx;
        let ids = self.load_const(types::I64, vmctx, VMCTX_TYPE_IDS);
        let expected = match scaled(type_index, 4) {
            Some(off) => self.b.ins().load(types::I32, const_flags(), ids, off),
            None => return Err(invalid(format!("type index {type_index} too large"))),
        };
        let mismatch = self.b.ins().icmp(IntCC::NotEqual, actual, expected);
        self.b
            .ins()
            .trapnz(mismatch, user_trap(abi::TRAP_INDIRECT_CALL_TYPE_MISMATCH));
        self.call_through(type_index, callee, tail)
    }

    // ----- linear memory -------------------------------------------------------------------

    fn heap_flags(&self) -> MemFlagsData {
        MemFlagsData::new()
            .with_endianness(Endianness::Little)
            .with_trap_code(Some(TrapCode::HEAP_OUT_OF_BOUNDS))
            .with_alias_region(Some(self.regions.heap))
    }

    /// Pops the address operand of an access of `size` bytes and returns the native
    /// address and the static offset to use with it, after any bounds check.
    fn heap_addr(&mut self, memarg: &MemArg, size: u32) -> Result<(Value, i32)> {
        let mem = match memarg.target {
            MemArgTarget::Memory(m) => m,
            MemArgTarget::Array(_) => {
                return Err(TranslateError::Unsupported("GC array access".into()));
            }
        };
        let index = self.pop()?;
        let def = self.memory_def(mem)?;
        let offset = memarg.offset;
        if offset > u32::MAX as u64 {
            return Err(invalid("memory offset beyond 32 bits"));
        }
        let end = offset + size as u64;
        let idx = self.b.ins().uextend(types::I64, index);
        // With guard pages, any 32-bit address plus a 32-bit offset lands in the
        // reservation, except for the very last bytes of the largest offsets.
        let check = match self.opts.bounds_checks {
            BoundsChecks::Explicit => true,
            BoundsChecks::GuardPages => u32::MAX as u64 + end > MEMORY_RESERVATION as u64,
        };
        if check {
            let flags = self.vm_flags();
            let len = self
                .b
                .ins()
                .load(types::I64, flags, def, VMMEMORY_LENGTH as i32);
            let last = self.b.ins().iadd_imm_u(idx, end as i64);
            let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThan, last, len);
            self.b.ins().trapnz(oob, TrapCode::HEAP_OUT_OF_BOUNDS);
        }
        let base = self.load_const(types::I64, def, VMMEMORY_BASE);
        let addr = self.b.ins().iadd(base, idx);
        Ok(match i32::try_from(offset) {
            Ok(off) => (addr, off),
            Err(_) => (self.b.ins().iadd_imm_u(addr, offset as i64), 0),
        })
    }

    fn load(&mut self, ty: Type, access: Access, memarg: &MemArg) -> Result<()> {
        let size = match access {
            Access::Full => ty.bytes(),
            Access::Zext(n) | Access::Sext(n) => n as u32,
        };
        let (addr, off) = self.heap_addr(memarg, size)?;
        let flags = self.heap_flags();
        let ins = self.b.ins();
        let v = match access {
            Access::Full => ins.load(ty, flags, addr, off),
            Access::Zext(1) => ins.uload8(ty, flags, addr, off),
            Access::Sext(1) => ins.sload8(ty, flags, addr, off),
            Access::Zext(2) => ins.uload16(ty, flags, addr, off),
            Access::Sext(2) => ins.sload16(ty, flags, addr, off),
            Access::Zext(_) => ins.uload32(flags, addr, off),
            Access::Sext(_) => ins.sload32(flags, addr, off),
        };
        self.push(v);
        Ok(())
    }

    fn store(&mut self, access: Access, memarg: &MemArg) -> Result<()> {
        let value = self.pop()?;
        let size = match access {
            Access::Full => self.b.func.dfg.value_type(value).bytes(),
            Access::Zext(n) | Access::Sext(n) => n as u32,
        };
        let (addr, off) = self.heap_addr(memarg, size)?;
        let flags = self.heap_flags();
        let ins = self.b.ins();
        match access {
            Access::Full => ins.store(flags, value, addr, off),
            Access::Zext(1) | Access::Sext(1) => ins.istore8(flags, value, addr, off),
            Access::Zext(2) | Access::Sext(2) => ins.istore16(flags, value, addr, off),
            Access::Zext(_) | Access::Sext(_) => ins.istore32(flags, value, addr, off),
        };
        Ok(())
    }

    // ----- control -------------------------------------------------------------------------

    fn push_frame(&mut self, kind: FrameKind, next: Block, nparams: usize, nresults: usize) {
        let base = self.stack.len().saturating_sub(nparams);
        self.frames.push(Frame {
            kind,
            next,
            base,
            nparams,
            nresults,
            exit_reached: false,
        });
    }

    fn block_with_params(&mut self, tys: &[Type]) -> Block {
        let block = self.b.create_block();
        for &t in tys {
            self.b.append_block_param(block, t);
        }
        block
    }

    /// The block a branch to relative `depth` jumps to and how many values it takes.
    fn branch_target(&mut self, depth: u32) -> Result<(Block, usize)> {
        let i = self
            .frames
            .len()
            .checked_sub(depth as usize + 1)
            .ok_or_else(|| invalid(format!("branch depth {depth} out of range")))?;
        let f = &mut self.frames[i];
        Ok(match f.kind {
            FrameKind::Loop { header } => (header, f.nparams),
            _ => {
                f.exit_reached = true;
                (f.next, f.nresults)
            }
        })
    }

    fn op_block(&mut self, bt: BlockType) -> Result<()> {
        let (params, results) = self.block_types(bt)?;
        if self.stack.len() < params.len() {
            return Err(invalid("value stack underflow"));
        }
        let next = self.block_with_params(&results);
        self.push_frame(FrameKind::Block, next, params.len(), results.len());
        Ok(())
    }

    fn op_loop(&mut self, bt: BlockType) -> Result<()> {
        let ordinal = self.loops_seen;
        self.loops_seen += 1;
        let (params, results) = self.block_types(bt)?;
        let header = self.block_with_params(&params);
        let next = self.block_with_params(&results);
        self.jump_with_top(header, params.len())?;
        // An OSR entry can enter here when the locals are the whole state (what the
        // interpreter's translator records as an OSR point): one more link of the chain.
        if let Some(osr) = &mut self.osr
            && let Some(dispatch) = osr.dispatch
            && self.stack.is_empty()
            && params.is_empty()
        {
            let next_link = self.b.create_block();
            self.b.set_cold_block(next_link);
            self.b.switch_to_block(dispatch);
            let here = self
                .b
                .ins()
                .icmp_imm_u(IntCC::Equal, osr.ordinal, i64::from(ordinal));
            self.b.ins().brif(here, header, &[], next_link, &[]);
            self.b.seal_block(dispatch);
            osr.dispatch = Some(next_link);
            osr.loops.push(ordinal);
        }
        let base = self.stack.len() - params.len();
        self.stack.truncate(base);
        self.b.switch_to_block(header);
        let header_params = self.b.block_params(header);
        self.stack.extend_from_slice(header_params);
        self.interrupt_check();
        self.polled = self.b.current_block();
        self.push_frame(
            FrameKind::Loop { header },
            next,
            params.len(),
            results.len(),
        );
        Ok(())
    }

    fn op_if(&mut self, bt: BlockType) -> Result<()> {
        let (params, results) = self.block_types(bt)?;
        let cond = self.pop()?;
        let saved = self.top(params.len())?.to_vec();
        let then_block = self.b.create_block();
        let else_block = self.b.create_block();
        let next = self.block_with_params(&results);
        self.b.ins().brif(cond, then_block, &[], else_block, &[]);
        self.b.seal_block(then_block);
        self.b.seal_block(else_block);
        self.b.switch_to_block(then_block);
        self.push_frame(
            FrameKind::If {
                else_block,
                has_else: false,
                params: saved,
            },
            next,
            params.len(),
            results.len(),
        );
        Ok(())
    }

    fn op_else(&mut self) -> Result<()> {
        let reachable = self.reachable;
        let (next, nresults, else_block, base, params) = match self.frames.last_mut() {
            Some(Frame {
                kind:
                    FrameKind::If {
                        else_block,
                        has_else: has_else @ false,
                        params,
                    },
                next,
                nresults,
                base,
                exit_reached,
                ..
            }) => {
                *has_else = true;
                if reachable {
                    *exit_reached = true;
                }
                (*next, *nresults, *else_block, *base, std::mem::take(params))
            }
            _ => return Err(invalid("else outside if")),
        };
        if reachable {
            self.jump_with_top(next, nresults)?;
        }
        self.b.switch_to_block(else_block);
        self.stack.truncate(base);
        self.stack.extend_from_slice(&params);
        self.reachable = true;
        Ok(())
    }

    fn op_end(&mut self) -> Result<()> {
        let frame = self
            .frames
            .pop()
            .ok_or_else(|| invalid("end without a frame"))?;
        let mut exit_reached = frame.exit_reached;
        match &frame.kind {
            FrameKind::If {
                else_block,
                has_else: false,
                params,
            } => {
                // No `else`: the false edge passes the parameters through.
                if self.reachable {
                    self.jump_with_top(frame.next, frame.nresults)?;
                }
                self.b.switch_to_block(*else_block);
                let args: Vec<BlockArg> = params.iter().map(|&v| BlockArg::Value(v)).collect();
                self.b.ins().jump(frame.next, &args);
                self.reachable = false;
                exit_reached = true;
            }
            FrameKind::Loop { header } => self.b.seal_block(*header),
            _ => {}
        }
        if self.reachable {
            if self.stack.len() != frame.base + frame.nresults {
                return Err(invalid("value stack height mismatch at end"));
            }
            if exit_reached {
                self.jump_with_top(frame.next, frame.nresults)?;
                self.reachable = false;
            }
            // Otherwise control simply falls through with the results on the stack.
        }
        if !self.reachable {
            self.stack.truncate(frame.base);
            if exit_reached {
                self.b.switch_to_block(frame.next);
                self.b.seal_block(frame.next);
                let results = self.b.block_params(frame.next);
                self.stack.extend_from_slice(results);
                self.reachable = true;
            }
        }
        if self.frames.is_empty() && self.reachable {
            let results = self.pop_n(frame.nresults)?;
            self.emit_return(&results);
            self.reachable = false;
        }
        Ok(())
    }

    fn op_br(&mut self, depth: u32) -> Result<()> {
        let (target, n) = self.branch_target(depth)?;
        self.jump_with_top(target, n)?;
        self.reachable = false;
        Ok(())
    }

    fn op_br_if(&mut self, depth: u32) -> Result<()> {
        let cond = self.pop()?;
        let (target, n) = self.branch_target(depth)?;
        let args = self.take_args(n)?;
        let cont = self.b.create_block();
        self.b.ins().brif(cond, target, &args, cont, &[]);
        self.args = args;
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
        Ok(())
    }

    fn op_br_table(&mut self, table: &wasmparser::BrTable<'_>) -> Result<()> {
        let index = self.pop()?;
        let (default, n) = self.branch_target(table.default())?;
        let args = self.take_args(n)?;
        let default_call = self.b.func.dfg.block_call(default, &args);
        let mut calls = Vec::with_capacity(table.len() as usize);
        for depth in table.targets() {
            let depth = depth.map_err(read_err)?;
            let (target, m) = self.branch_target(depth)?;
            if m != n {
                return Err(invalid("br_table targets of different arities"));
            }
            calls.push(self.b.func.dfg.block_call(target, &args));
        }
        self.args = args;
        let jt = self
            .b
            .create_jump_table(JumpTableData::new(default_call, &calls));
        self.b.ins().br_table(index, jt);
        self.reachable = false;
        Ok(())
    }

    fn op_return(&mut self) -> Result<()> {
        let n = self.ty.results().len();
        let results = self.top(n)?.to_vec();
        self.emit_return(&results);
        self.reachable = false;
        Ok(())
    }

    // ----- the body ------------------------------------------------------------------------

    fn run(&mut self, entry: Block) -> Result<()> {
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        self.b.seal_block(entry);
        let params = self.b.block_params(entry).to_vec();
        let (depth, mut wasm_params) = match (self.is_body, params.as_slice()) {
            (true, [vmctx, depth, rest @ ..]) => {
                self.vmctx = *vmctx;
                (*depth, rest.to_vec())
            }
            (false, [callee, _caller_vmctx, depth, rest @ ..]) => {
                self.vmctx = self.load_const(types::I64, *callee, VMFUNCREF_VMCTX);
                (*depth, rest.to_vec())
            }
            _ => return Err(invalid("native signature without context parameters")),
        };
        if let Some(osr) = &mut self.osr {
            let (Some(ordinal), Some(frame)) = (wasm_params.pop(), wasm_params.pop()) else {
                return Err(invalid("OSR-capable body without frame and loop ordinal"));
            };
            (osr.frame, osr.ordinal) = (frame, ordinal);
            if !self.opts.direct_calls {
                // Loaded once per function (dropped when unused): the table never moves.
                let vmctx = self.vmctx;
                self.bodies = Some(self.load_const(types::I64, vmctx, VMCTX_BODIES));
            }
        }
        // The call budget: 0 means this frame is one too many.
        self.b.ins().trapz(depth, TrapCode::STACK_OVERFLOW);
        self.depth = depth;
        self.inner_depth = self.b.ins().iadd_imm_s(depth, -1);

        let ty = self.ty.clone();
        for (&p, &t) in wasm_params.iter().zip(ty.params()) {
            let var = self.b.declare_var(clif_type(t));
            self.b.def_var(var, p);
            self.locals.push(var);
        }

        let body = wasmparser::FunctionBody::new(wasmparser::BinaryReader::new(
            self.body,
            self.body_offset as u64,
        ));
        let mut locals = body.get_locals_reader().map_err(read_err)?;
        let mut declared = Vec::new();
        for _ in 0..locals.get_count() {
            let (count, wty) = locals.read().map_err(read_err)?;
            if declared.len() as u64 + count as u64 > MAX_LOCALS {
                return Err(invalid("too many locals"));
            }
            let ty = self.wasm_type(wty)?;
            declared.extend(std::iter::repeat_n(ty, count as usize));
        }
        for &ty in &declared {
            let var = self.b.declare_var(ty);
            self.locals.push(var);
        }
        if self.osr.is_some() {
            self.enter_osr(&local_types(&ty, &body)?)?;
        }
        // Declared locals start at zero (on the OSR path they come from the frame).
        let mut zeros: [Option<Value>; 5] = [None; 5];
        for (&ty, var) in declared
            .iter()
            .zip(self.locals[ty.params().len()..].to_vec())
        {
            let slot = match ty {
                types::I32 => 0,
                types::I64 => 1,
                types::F32 => 2,
                types::F64 => 3,
                _ => 4,
            };
            let zero = match zeros[slot] {
                Some(z) => z,
                None => {
                    let z = match ty {
                        types::F32 => self.b.ins().f32const(Ieee32::with_bits(0)),
                        types::F64 => self.b.ins().f64const(Ieee64::with_bits(0)),
                        types::I8X16 => self.v128_const(0),
                        _ => self.b.ins().iconst(ty, 0),
                    };
                    zeros[slot] = Some(z);
                    z
                }
            };
            self.b.def_var(var, zero);
        }

        let results: Vec<Type> = ty.results().iter().map(|&t| clif_type(t)).collect();
        let next = self.block_with_params(&results);
        self.push_frame(FrameKind::Block, next, 0, results.len());

        let fuel = self.module.engine().config().fuel;
        let code = locals.get_binary_reader();
        if fuel {
            // Segment costs first: a segment is charged whole at its start.
            let mut scan = wasmparser::OperatorsReader::new(code.clone());
            self.fuel_costs.push(0);
            while !scan.eof() {
                let op = scan.read().map_err(read_err)?;
                *self.fuel_costs.last_mut().expect("pushed") += 1;
                if kiln_runtime::ends_fuel_segment(&op) {
                    self.fuel_costs.push(0);
                }
            }
            // Function entry, on the call path (an OSR entry starts at its loop header's
            // charge).
            self.charge_fuel();
        }
        let mut ops = wasmparser::OperatorsReader::new(code);
        while !ops.eof() {
            let (op, offset) = ops.read_with_offset().map_err(read_err)?;
            if self.frames.is_empty() {
                return Err(invalid("operators after the final end"));
            }
            let boundary = fuel && kiln_runtime::ends_fuel_segment(&op);
            if self.reachable {
                self.operator(op, offset as usize)?;
            } else {
                self.skip(&op)?;
            }
            // Segments are numbered statically (dead ones included); only reachable ones
            // are charged, as in the interpreter.
            if boundary {
                self.segment += 1;
                if self.reachable && !self.frames.is_empty() {
                    self.charge_fuel();
                }
            }
        }
        if !self.frames.is_empty() {
            return Err(invalid("function body without its final end"));
        }
        if let Some(osr) = &self.osr {
            // End of the chain: the runtime only enters at the loops it was told of (and
            // has no OSR entry for a function without one).
            let last = osr.dispatch.expect("set by enter_osr");
            self.b.switch_to_block(last);
            self.b.ins().trap(user_trap(abi::TRAP_UNREACHABLE));
            self.b.seal_block(last);
        }
        Ok(())
    }

    /// The OSR path of a tiered body: when the ordinal parameter names a loop (it is
    /// [`abi::NOT_OSR`] on a call), the declared locals come from the interpreter frame
    /// (`types` are the Wasm types of all locals; the parameters come in as arguments,
    /// loaded from the frame by the OSR stub) and control enters the dispatch chain,
    /// whose links `op_loop` adds. Translation goes on in the call path.
    fn enter_osr(&mut self, types: &[ValType]) -> Result<()> {
        let Some((frame, ordinal)) = self.osr.as_ref().map(|o| (o.frame, o.ordinal)) else {
            return Ok(());
        };
        let call_path = self.b.create_block();
        let osr_path = self.b.create_block();
        let is_call = self.b.ins().icmp_imm_s(IntCC::Equal, ordinal, abi::NOT_OSR);
        self.b.ins().brif(is_call, call_path, &[], osr_path, &[]);
        // Calls are the common entry: the OSR path and its dispatch chain go out of line.
        self.b.set_cold_block(osr_path);
        self.b.seal_block(call_path);
        self.b.seal_block(osr_path);
        self.b.switch_to_block(osr_path);
        // Slot `i` of a local is the sum of the slots of those before it (a v128 takes
        // two, low half first).
        let nparams = self.ty.params().len();
        let mut slot = 0u32;
        for (i, (&t, &var)) in types.iter().zip(&self.locals).enumerate() {
            if i >= nparams {
                let offset = scaled(slot, 8).ok_or_else(|| invalid("too many locals"))?;
                let v = crate::trampoline::load_slot(&mut self.b, t, frame, offset);
                self.b.def_var(var, v);
            }
            slot += t.slots();
        }
        let dispatch = self.b.create_block();
        self.b.set_cold_block(dispatch);
        self.b.ins().jump(dispatch, &[]);
        self.b.switch_to_block(call_path);
        if let Some(o) = self.osr.as_mut() {
            o.dispatch = Some(dispatch);
        }
        Ok(())
    }

    /// Returns `results` from the function.
    fn emit_return(&mut self, results: &[Value]) {
        self.b.ins().return_(results);
    }

    /// An operator in unreachable code: only the nesting of control matters.
    fn skip(&mut self, op: &Operator<'_>) -> Result<()> {
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                self.loops_seen += matches!(op, Operator::Loop { .. }) as u32;
                self.unreachable_depth += 1;
            }
            Operator::Else if self.unreachable_depth == 0 => self.op_else()?,
            Operator::End => {
                if self.unreachable_depth == 0 {
                    self.op_end()?;
                } else {
                    self.unreachable_depth -= 1;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn unsupported(&self, op: &Operator<'_>, offset: usize) -> TranslateError {
        if self.is_simd_op(offset) {
            simd(format!("{op:?}"))
        } else {
            TranslateError::Unsupported(format!("operator {op:?}"))
        }
    }

    /// Whether the operator at `offset` has the SIMD prefix 0xFD.
    fn is_simd_op(&self, offset: usize) -> bool {
        let prefix = offset
            .checked_sub(self.body_offset)
            .and_then(|at| self.body.get(at));
        prefix == Some(&0xFD)
    }

    fn local(&self, index: u32) -> Result<Variable> {
        self.locals
            .get(index as usize)
            .copied()
            .ok_or_else(|| invalid(format!("no local {index}")))
    }

    fn operator(&mut self, op: Operator<'_>, offset: usize) -> Result<()> {
        // Every SIMD operator is encoded behind the 0xFD prefix.
        if self.is_simd_op(offset) {
            return self.simd_operator(op);
        }
        use Operator as O;
        use types::{F32, F64, I8, I16, I32, I64};

        macro_rules! unop {
            ($f:ident) => {{
                let a = self.pop()?;
                let v = self.b.ins().$f(a);
                self.push(v);
            }};
        }
        macro_rules! binop {
            ($f:ident) => {{
                let (a, b) = self.pop2()?;
                let v = self.b.ins().$f(a, b);
                self.push(v);
            }};
        }
        macro_rules! convert {
            ($f:ident, $ty:expr) => {{
                let a = self.pop()?;
                let v = self.b.ins().$f($ty, a);
                self.push(v);
            }};
        }
        macro_rules! icmp {
            ($cc:expr) => {{
                let (a, b) = self.pop2()?;
                let c = self.b.ins().icmp($cc, a, b);
                let v = self.b.ins().uextend(I32, c);
                self.push(v);
            }};
        }
        macro_rules! fcmp {
            ($cc:expr) => {{
                let (a, b) = self.pop2()?;
                let c = self.b.ins().fcmp($cc, a, b);
                let v = self.b.ins().uextend(I32, c);
                self.push(v);
            }};
        }
        macro_rules! eqz {
            () => {{
                let a = self.pop()?;
                let c = self.b.ins().icmp_imm_u(IntCC::Equal, a, 0);
                let v = self.b.ins().uextend(I32, c);
                self.push(v);
            }};
        }
        macro_rules! sext {
            ($from:expr, $to:expr) => {{
                let a = self.pop()?;
                let n = self.b.ins().ireduce($from, a);
                let v = self.b.ins().sextend($to, n);
                self.push(v);
            }};
        }
        macro_rules! reinterpret {
            ($ty:expr) => {{
                let a = self.pop()?;
                let v = self.b.ins().bitcast($ty, MemFlagsData::new(), a);
                self.push(v);
            }};
        }

        match op {
            // ----- control -----
            O::Unreachable => {
                self.b.ins().trap(user_trap(abi::TRAP_UNREACHABLE));
                self.reachable = false;
            }
            O::Nop => {}
            O::Block { blockty } => self.op_block(blockty)?,
            O::Loop { blockty } => self.op_loop(blockty)?,
            O::If { blockty } => self.op_if(blockty)?,
            O::Else => self.op_else()?,
            O::End => self.op_end()?,
            O::Br { relative_depth } => self.op_br(relative_depth)?,
            O::BrIf { relative_depth } => self.op_br_if(relative_depth)?,
            O::BrTable { targets } => self.op_br_table(&targets)?,
            O::Return => self.op_return()?,
            O::Call { function_index } => self.call(function_index, false)?,
            O::CallIndirect {
                type_index,
                table_index,
            } => self.call_indirect(type_index, table_index, false)?,
            O::ReturnCall { function_index } => self.call(function_index, true)?,
            O::ReturnCallIndirect {
                type_index,
                table_index,
            } => self.call_indirect(type_index, table_index, true)?,

            // ----- parametric -----
            O::Drop => {
                self.pop()?;
            }
            O::Select | O::TypedSelect { .. } => {
                let (a, b, c) = self.pop3()?;
                let v = self.b.ins().select(c, a, b);
                self.push(v);
            }

            // ----- variables -----
            O::LocalGet { local_index } => {
                let var = self.local(local_index)?;
                let v = self.b.use_var(var);
                self.push(v);
            }
            O::LocalSet { local_index } => {
                let var = self.local(local_index)?;
                let v = self.pop()?;
                self.b.def_var(var, v);
            }
            O::LocalTee { local_index } => {
                let var = self.local(local_index)?;
                let v = *self
                    .stack
                    .last()
                    .ok_or_else(|| invalid("value stack underflow"))?;
                self.b.def_var(var, v);
            }
            O::GlobalGet { global_index } => {
                let (def, gt) = self.global_def(global_index)?;
                let mut flags = self.global_flags(gt.content);
                if !gt.mutable {
                    flags = flags.with_readonly().with_can_move();
                }
                let v = self.b.ins().load(clif_type(gt.content), flags, def, 0);
                self.push(v);
            }
            O::GlobalSet { global_index } => {
                let v = self.pop()?;
                let gt = *self
                    .module
                    .globals()
                    .get(global_index as usize)
                    .ok_or_else(|| invalid(format!("no global {global_index}")))?;
                match gt.content {
                    ValType::FuncRef | ValType::ExternRef => {
                        let g = self.u32_const(global_index);
                        self.call_builtin(Builtin::GlobalSetRef, &[g, v]);
                    }
                    _ => {
                        let (def, gt) = self.global_def(global_index)?;
                        let flags = self.global_flags(gt.content);
                        self.b.ins().store(flags, v, def, 0);
                    }
                }
            }

            // ----- tables -----
            O::TableGet { table } => {
                let index = self.pop()?;
                let addr = self.table_elem_addr(table, index, abi::TRAP_TABLE_OUT_OF_BOUNDS)?;
                let flags = self.table_flags();
                let v = self.b.ins().load(I64, flags, addr, 0);
                self.push(v);
            }
            O::TableSet { table } => {
                let (index, value) = self.pop2()?;
                let t = self.u32_const(table);
                self.call_builtin_status(Builtin::TableSet, &[t, index, value])?;
            }
            O::TableSize { table } => {
                let def = self.table_def(table)?;
                let flags = self.vm_flags();
                let len = self.b.ins().load(I64, flags, def, VMTABLE_LENGTH as i32);
                let v = self.b.ins().ireduce(I32, len);
                self.push(v);
            }
            O::TableGrow { table } => {
                let (init, delta) = self.pop2()?;
                self.table_def(table)?;
                let t = self.u32_const(table);
                let v = self
                    .call_builtin(Builtin::TableGrow, &[t, init, delta])
                    .ok_or_else(|| invalid("table.grow without a result"))?;
                self.push(v);
            }
            O::TableFill { table } => {
                let (dst, value, len) = self.pop3()?;
                self.table_def(table)?;
                let t = self.u32_const(table);
                self.call_builtin_status(Builtin::TableFill, &[t, dst, value, len])?;
            }
            O::TableCopy {
                dst_table,
                src_table,
            } => {
                let (dst, src, len) = self.pop3()?;
                let d = self.u32_const(dst_table);
                let s = self.u32_const(src_table);
                self.call_builtin_status(Builtin::TableCopy, &[d, s, dst, src, len])?;
            }
            O::TableInit { elem_index, table } => {
                let (dst, src, len) = self.pop3()?;
                let t = self.u32_const(table);
                let e = self.u32_const(elem_index);
                self.call_builtin_status(Builtin::TableInit, &[t, e, dst, src, len])?;
            }
            O::ElemDrop { elem_index } => {
                let e = self.u32_const(elem_index);
                self.call_builtin(Builtin::ElemDrop, &[e]);
            }

            // ----- references -----
            O::RefNull { .. } => {
                let v = self.b.ins().iconst(I64, 0);
                self.push(v);
            }
            O::RefIsNull => eqz!(),
            O::RefFunc { function_index } => {
                let v = self.func_ref(function_index)?;
                self.push(v);
            }

            // ----- memory -----
            O::I32Load { memarg } => self.load(I32, Access::Full, &memarg)?,
            O::I64Load { memarg } => self.load(I64, Access::Full, &memarg)?,
            O::F32Load { memarg } => self.load(F32, Access::Full, &memarg)?,
            O::F64Load { memarg } => self.load(F64, Access::Full, &memarg)?,
            O::I32Load8S { memarg } => self.load(I32, Access::Sext(1), &memarg)?,
            O::I32Load8U { memarg } => self.load(I32, Access::Zext(1), &memarg)?,
            O::I32Load16S { memarg } => self.load(I32, Access::Sext(2), &memarg)?,
            O::I32Load16U { memarg } => self.load(I32, Access::Zext(2), &memarg)?,
            O::I64Load8S { memarg } => self.load(I64, Access::Sext(1), &memarg)?,
            O::I64Load8U { memarg } => self.load(I64, Access::Zext(1), &memarg)?,
            O::I64Load16S { memarg } => self.load(I64, Access::Sext(2), &memarg)?,
            O::I64Load16U { memarg } => self.load(I64, Access::Zext(2), &memarg)?,
            O::I64Load32S { memarg } => self.load(I64, Access::Sext(4), &memarg)?,
            O::I64Load32U { memarg } => self.load(I64, Access::Zext(4), &memarg)?,
            O::I32Store { memarg }
            | O::I64Store { memarg }
            | O::F32Store { memarg }
            | O::F64Store { memarg } => self.store(Access::Full, &memarg)?,
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => {
                self.store(Access::Zext(1), &memarg)?
            }
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => {
                self.store(Access::Zext(2), &memarg)?
            }
            O::I64Store32 { memarg } => self.store(Access::Zext(4), &memarg)?,
            O::MemorySize { mem } => {
                let def = self.memory_def(mem)?;
                let flags = self.vm_flags();
                let len = self.b.ins().load(I64, flags, def, VMMEMORY_LENGTH as i32);
                let pages = self.b.ins().ushr_imm_u(len, 16);
                let v = self.b.ins().ireduce(I32, pages);
                self.push(v);
            }
            O::MemoryGrow { mem } => {
                let delta = self.pop()?;
                self.memory_def(mem)?;
                let m = self.u32_const(mem);
                let v = self
                    .call_builtin(Builtin::MemoryGrow, &[m, delta])
                    .ok_or_else(|| invalid("memory.grow without a result"))?;
                self.push(v);
            }
            O::MemoryFill { mem } => {
                let (dst, val, len) = self.pop3()?;
                self.memory_def(mem)?;
                let m = self.u32_const(mem);
                self.call_builtin_status(Builtin::MemoryFill, &[m, dst, val, len])?;
            }
            O::MemoryCopy { dst_mem, src_mem } => {
                let (dst, src, len) = self.pop3()?;
                self.memory_def(dst_mem)?;
                self.memory_def(src_mem)?;
                let d = self.u32_const(dst_mem);
                let s = self.u32_const(src_mem);
                self.call_builtin_status(Builtin::MemoryCopy, &[d, s, dst, src, len])?;
            }
            O::MemoryInit { data_index, mem } => {
                let (dst, src, len) = self.pop3()?;
                self.memory_def(mem)?;
                let m = self.u32_const(mem);
                let d = self.u32_const(data_index);
                self.call_builtin_status(Builtin::MemoryInit, &[m, d, dst, src, len])?;
            }
            O::DataDrop { data_index } => {
                let d = self.u32_const(data_index);
                self.call_builtin(Builtin::DataDrop, &[d]);
            }

            // ----- constants -----
            O::I32Const { value } => {
                let v = self.b.ins().iconst(I32, value as u32 as i64);
                self.push(v);
            }
            O::I64Const { value } => {
                let v = self.b.ins().iconst(I64, value);
                self.push(v);
            }
            O::F32Const { value } => {
                let v = self.b.ins().f32const(Ieee32::with_bits(value.bits()));
                self.push(v);
            }
            O::F64Const { value } => {
                let v = self.b.ins().f64const(Ieee64::with_bits(value.bits()));
                self.push(v);
            }

            // ----- comparisons -----
            O::I32Eqz | O::I64Eqz => eqz!(),
            O::I32Eq | O::I64Eq => icmp!(IntCC::Equal),
            O::I32Ne | O::I64Ne => icmp!(IntCC::NotEqual),
            O::I32LtS | O::I64LtS => icmp!(IntCC::SignedLessThan),
            O::I32LtU | O::I64LtU => icmp!(IntCC::UnsignedLessThan),
            O::I32GtS | O::I64GtS => icmp!(IntCC::SignedGreaterThan),
            O::I32GtU | O::I64GtU => icmp!(IntCC::UnsignedGreaterThan),
            O::I32LeS | O::I64LeS => icmp!(IntCC::SignedLessThanOrEqual),
            O::I32LeU | O::I64LeU => icmp!(IntCC::UnsignedLessThanOrEqual),
            O::I32GeS | O::I64GeS => icmp!(IntCC::SignedGreaterThanOrEqual),
            O::I32GeU | O::I64GeU => icmp!(IntCC::UnsignedGreaterThanOrEqual),
            O::F32Eq | O::F64Eq => fcmp!(FloatCC::Equal),
            O::F32Ne | O::F64Ne => fcmp!(FloatCC::NotEqual),
            O::F32Lt | O::F64Lt => fcmp!(FloatCC::LessThan),
            O::F32Gt | O::F64Gt => fcmp!(FloatCC::GreaterThan),
            O::F32Le | O::F64Le => fcmp!(FloatCC::LessThanOrEqual),
            O::F32Ge | O::F64Ge => fcmp!(FloatCC::GreaterThanOrEqual),

            // ----- integer arithmetic -----
            O::I32Clz | O::I64Clz => unop!(clz),
            O::I32Ctz | O::I64Ctz => unop!(ctz),
            O::I32Popcnt | O::I64Popcnt => unop!(popcnt),
            O::I32Add | O::I64Add => binop!(iadd),
            O::I32Sub | O::I64Sub => binop!(isub),
            O::I32Mul | O::I64Mul => binop!(imul),
            // `sdiv` traps with INTEGER_OVERFLOW for MIN / -1 and INTEGER_DIVISION_BY_ZERO
            // for a zero divisor; `srem` of MIN by -1 is 0 (no trap), as Wasm wants.
            O::I32DivS | O::I64DivS => binop!(sdiv),
            O::I32DivU | O::I64DivU => binop!(udiv),
            O::I32RemS | O::I64RemS => binop!(srem),
            O::I32RemU | O::I64RemU => binop!(urem),
            O::I32And | O::I64And => binop!(band),
            O::I32Or | O::I64Or => binop!(bor),
            O::I32Xor | O::I64Xor => binop!(bxor),
            // Cranelift masks shift and rotate amounts by the type width, as Wasm does.
            O::I32Shl | O::I64Shl => binop!(ishl),
            O::I32ShrS | O::I64ShrS => binop!(sshr),
            O::I32ShrU | O::I64ShrU => binop!(ushr),
            O::I32Rotl | O::I64Rotl => binop!(rotl),
            O::I32Rotr | O::I64Rotr => binop!(rotr),

            // ----- float arithmetic -----
            O::F32Abs | O::F64Abs => unop!(fabs),
            O::F32Neg | O::F64Neg => unop!(fneg),
            O::F32Ceil | O::F64Ceil => unop!(ceil),
            O::F32Floor | O::F64Floor => unop!(floor),
            O::F32Trunc | O::F64Trunc => unop!(trunc),
            O::F32Nearest | O::F64Nearest => unop!(nearest),
            O::F32Sqrt | O::F64Sqrt => unop!(sqrt),
            O::F32Add | O::F64Add => binop!(fadd),
            O::F32Sub | O::F64Sub => binop!(fsub),
            O::F32Mul | O::F64Mul => binop!(fmul),
            O::F32Div | O::F64Div => binop!(fdiv),
            // Cranelift's fmin/fmax follow Wasm: NaN propagates, -0 < +0.
            O::F32Min | O::F64Min => binop!(fmin),
            O::F32Max | O::F64Max => binop!(fmax),
            O::F32Copysign | O::F64Copysign => binop!(fcopysign),

            // ----- conversions -----
            O::I32WrapI64 => convert!(ireduce, I32),
            O::I64ExtendI32S => convert!(sextend, I64),
            O::I64ExtendI32U => convert!(uextend, I64),
            // Trapping conversions: BAD_CONVERSION_TO_INTEGER for NaN, INTEGER_OVERFLOW for
            // out-of-range values.
            O::I32TruncF32S | O::I32TruncF64S => convert!(fcvt_to_sint, I32),
            O::I32TruncF32U | O::I32TruncF64U => convert!(fcvt_to_uint, I32),
            O::I64TruncF32S | O::I64TruncF64S => convert!(fcvt_to_sint, I64),
            O::I64TruncF32U | O::I64TruncF64U => convert!(fcvt_to_uint, I64),
            O::I32TruncSatF32S | O::I32TruncSatF64S => convert!(fcvt_to_sint_sat, I32),
            O::I32TruncSatF32U | O::I32TruncSatF64U => convert!(fcvt_to_uint_sat, I32),
            O::I64TruncSatF32S | O::I64TruncSatF64S => convert!(fcvt_to_sint_sat, I64),
            O::I64TruncSatF32U | O::I64TruncSatF64U => convert!(fcvt_to_uint_sat, I64),
            O::F32ConvertI32S | O::F32ConvertI64S => convert!(fcvt_from_sint, F32),
            O::F32ConvertI32U | O::F32ConvertI64U => convert!(fcvt_from_uint, F32),
            O::F64ConvertI32S | O::F64ConvertI64S => convert!(fcvt_from_sint, F64),
            O::F64ConvertI32U | O::F64ConvertI64U => convert!(fcvt_from_uint, F64),
            O::F32DemoteF64 => convert!(fdemote, F32),
            O::F64PromoteF32 => convert!(fpromote, F64),
            O::I32ReinterpretF32 => reinterpret!(I32),
            O::I64ReinterpretF64 => reinterpret!(I64),
            O::F32ReinterpretI32 => reinterpret!(F32),
            O::F64ReinterpretI64 => reinterpret!(F64),
            O::I32Extend8S => sext!(I8, I32),
            O::I32Extend16S => sext!(I16, I32),
            O::I64Extend8S => sext!(I8, I64),
            O::I64Extend16S => sext!(I16, I64),
            O::I64Extend32S => sext!(I32, I64),

            other => return Err(self.unsupported(&other, offset)),
        }
        Ok(())
    }
}

/// The Wasm types of all locals of a function of type `ty` with `body`: parameters first.
fn local_types(ty: &FuncType, body: &wasmparser::FunctionBody<'_>) -> Result<Vec<ValType>> {
    let mut out = ty.params().to_vec();
    for local in body.get_locals_reader().map_err(read_err)? {
        let (count, t) = local.map_err(read_err)?;
        let t = match t {
            wasmparser::ValType::I32 => ValType::I32,
            wasmparser::ValType::I64 => ValType::I64,
            wasmparser::ValType::F32 => ValType::F32,
            wasmparser::ValType::F64 => ValType::F64,
            wasmparser::ValType::V128 => ValType::V128,
            wasmparser::ValType::Ref(r) if r == wasmparser::RefType::FUNCREF => ValType::FuncRef,
            wasmparser::ValType::Ref(r) if r == wasmparser::RefType::EXTERNREF => {
                ValType::ExternRef
            }
            wasmparser::ValType::Ref(r) => {
                return Err(TranslateError::Unsupported(format!("reference type {r}")));
            }
        };
        if out.len() as u64 + count as u64 > MAX_LOCALS {
            return Err(invalid("too many locals"));
        }
        out.extend(std::iter::repeat_n(t, count as usize));
    }
    Ok(out)
}
