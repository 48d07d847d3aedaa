//! Wasm → interpreter code, in one pass over a validated function body.
//!
//! The translator keeps a compile-time image of the operand stack. Each entry has a
//! canonical slot (its stack position) and a source slot where its value currently lives:
//! `local.get` pushes an entry whose source is the local itself, so no copy is emitted
//! until something would overwrite that local or control flow merges. Results of an
//! instruction followed by `local.set` are written straight into the local.

use super::FuncCode;
use super::ir::{Op, Slot};
use crate::error::{Error, Result};
use crate::module::ModuleInner;
use crate::types::ValType;
use std::sync::atomic::AtomicU32;
use wasmparser::{BlockType, Operator as O};

#[derive(Clone, Copy, Debug)]
struct Entry {
    ty: ValType,
    /// Canonical slot of this stack position.
    slot: Slot,
    /// Where the value lives now: `slot`, or a local's slot for a deferred `local.get`.
    src: Slot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Function,
    Block,
    Loop,
    If,
    Else,
}

/// The signature of a block, without allocating: nothing, one result, or a module type.
#[derive(Clone, Copy, Debug)]
enum Sig {
    Empty,
    One(ValType),
    Type(u32),
}

/// No forward branch to patch (the end of a chain of pending branches).
const NO_PATCH: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Ctrl {
    kind: Kind,
    /// Operand stack length below the block's parameters.
    height: usize,
    sig: Sig,
    /// Canonical slot of the first parameter / result.
    base_slot: Slot,
    /// First instruction of a loop.
    start: u32,
    /// The last forward branch to the end of the block that still needs its target.
    /// Pending branches form a chain through their (not yet final) target fields.
    patches: u32,
    /// The `BrIfEqz` of an `if`, patched at `else` or `end`.
    else_patch: Option<usize>,
}

/// The translator's growable buffers, kept per thread between translations so that
/// translating a function allocates only its result.
#[derive(Default)]
struct Scratch {
    ops: Vec<Op>,
    stack: Vec<Entry>,
    ctrl: Vec<Ctrl>,
    locals: Vec<(ValType, Slot)>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Option<Scratch>> = const { std::cell::RefCell::new(None) };
}

/// A one-element slice of `ty` that lives forever.
fn one(ty: ValType) -> &'static [ValType] {
    match ty {
        ValType::I32 => &[ValType::I32],
        ValType::I64 => &[ValType::I64],
        ValType::F32 => &[ValType::F32],
        ValType::F64 => &[ValType::F64],
        ValType::V128 => &[ValType::V128],
        ValType::FuncRef => &[ValType::FuncRef],
        ValType::ExternRef => &[ValType::ExternRef],
    }
}

struct Translator<'m> {
    module: &'m ModuleInner,
    ops: Vec<Op>,
    stack: Vec<Entry>,
    ctrl: Vec<Ctrl>,
    /// Type and slot of each local (parameters first).
    locals: Vec<(ValType, Slot)>,
    local_slots: Slot,
    result_slots: Slot,
    max_slots: Slot,
    unreachable: bool,
    /// Blocks opened inside unreachable code, skipped without translation.
    dead_depth: u32,
    /// Index of the last instruction, when its result is the top entry and may be
    /// redirected into a local by a following `local.set`.
    last_result: Option<usize>,
}

fn unsupported(what: impl std::fmt::Display) -> Error {
    Error::Unsupported(what.to_string())
}

/// Translates defined function `func_index` of `module`.
pub(crate) fn translate(module: &ModuleInner, func_index: u32) -> Result<FuncCode> {
    let scratch = SCRATCH.with(|c| c.borrow_mut().take()).unwrap_or_default();
    let mut t = Translator {
        module,
        ops: scratch.ops,
        stack: scratch.stack,
        ctrl: scratch.ctrl,
        locals: scratch.locals,
        local_slots: 0,
        result_slots: 0,
        max_slots: 0,
        unreachable: false,
        dead_depth: 0,
        last_result: None,
    };
    t.ops.clear();
    t.stack.clear();
    t.ctrl.clear();
    t.locals.clear();
    let r = t.run(func_index);
    SCRATCH.with(|c| {
        *c.borrow_mut() = Some(Scratch {
            ops: t.ops,
            stack: t.stack,
            ctrl: t.ctrl,
            locals: t.locals,
        })
    });
    r
}

impl<'m> Translator<'m> {
    fn run(&mut self, func_index: u32) -> Result<FuncCode> {
        let module = self.module;
        let def = &module.defined[(func_index - module.num_imported_funcs) as usize];
        let body = wasmparser::FunctionBody::new(wasmparser::BinaryReader::new(
            &module.bytes[def.body.clone()],
            def.body.start as u64,
        ));
        let type_index = module.funcs[func_index as usize];
        let ty = &module.types[type_index as usize];
        let mut next: Slot = 0;
        for &p in ty.params() {
            self.locals.push((p, next));
            next += p.slots();
        }
        let param_slots = next;
        let map = |e: wasmparser::BinaryReaderError| Error::Compile(e.to_string());
        for local in body.get_locals_reader().map_err(map)? {
            let (count, t) = local.map_err(map)?;
            let t = ValType::from_wasm(t).map_err(Error::Unsupported)?;
            for _ in 0..count {
                self.locals.push((t, next));
                next += t.slots();
            }
        }
        self.local_slots = next;
        self.result_slots = ty.result_slots();
        self.max_slots = next;
        self.ctrl.push(Ctrl {
            kind: Kind::Function,
            height: 0,
            sig: Sig::Type(type_index),
            base_slot: next,
            start: 0,
            patches: NO_PATCH,
            else_patch: None,
        });
        let mut reader = body.get_operators_reader().map_err(map)?;
        while !reader.eof() {
            let op = reader.read().map_err(map)?;
            self.op(op)?;
            if self.ctrl.is_empty() {
                break;
            }
        }
        let frame_slots = self.max_slots.max(self.result_slots).max(self.local_slots);
        // Absolute targets become offsets relative to the branch (see `ir`).
        let ops: Box<[Op]> = self
            .ops
            .iter()
            .enumerate()
            .map(|(i, op)| {
                let mut op = *op;
                if let Some(target) = op.target_mut() {
                    *target = (*target as i64 - i as i64) as i32 as u32;
                }
                op
            })
            .collect();
        Ok(FuncCode {
            ops,
            frame_slots,
            param_slots,
            local_slots: self.local_slots,
            result_slots: ty.result_slots(),
            func_index,
            calls: AtomicU32::new(0),
            backedges: AtomicU32::new(0),
        })
    }

    fn emit(&mut self, op: Op) -> usize {
        self.ops.push(op);
        self.last_result = None;
        self.ops.len() - 1
    }

    fn here(&self) -> u32 {
        self.ops.len() as u32
    }

    fn next_slot(&self) -> Slot {
        match self.stack.last() {
            Some(e) => e.slot + e.ty.slots(),
            None => self.local_slots,
        }
    }

    fn push(&mut self, ty: ValType) -> Slot {
        let slot = self.next_slot();
        self.max_slots = self.max_slots.max(slot + ty.slots());
        self.stack.push(Entry {
            ty,
            slot,
            src: slot,
        });
        slot
    }

    fn pop(&mut self) -> Entry {
        self.last_result = None;
        self.stack
            .pop()
            .expect("validated: operand stack underflow")
    }

    fn copy_op(ty: ValType, d: Slot, s: Slot) -> Op {
        if ty.slots() == 2 {
            Op::CopyWide { d, s }
        } else {
            Op::Copy { d, s }
        }
    }

    /// Moves entry `i` into its canonical slot.
    fn materialize(&mut self, i: usize) {
        let e = self.stack[i];
        if e.src != e.slot {
            self.emit(Self::copy_op(e.ty, e.slot, e.src));
            self.stack[i].src = e.slot;
        }
    }

    fn materialize_from(&mut self, from: usize) {
        for i in from..self.stack.len() {
            self.materialize(i);
        }
    }

    /// Materialises every deferred read of the local at `slot` (before it is overwritten).
    fn materialize_local(&mut self, slot: Slot, skip_top: bool) -> bool {
        let n = self.stack.len() - usize::from(skip_top);
        let mut any = false;
        for i in 0..n {
            if self.stack[i].src == slot && self.stack[i].slot != slot {
                self.materialize(i);
                any = true;
            }
        }
        any
    }

    fn unary(&mut self, ty: ValType, f: fn(Slot, Slot) -> Op) -> Result<()> {
        let a = self.pop();
        let d = self.push(ty);
        self.emit(f(d, a.src));
        self.last_result = Some(self.ops.len() - 1);
        Ok(())
    }

    /// The value of the top entry when it is a constant the last instruction just produced
    /// (and nothing else refers to that instruction's position).
    fn fresh_const(&self) -> Option<u64> {
        let top = self.stack.last()?;
        let at = self.last_result?;
        if at + 1 != self.ops.len() || top.src != top.slot {
            return None;
        }
        match self.ops[at] {
            Op::Const32 { d, v } if d == top.slot => Some(v as u64),
            Op::Const64 { d, v } if d == top.slot => Some(v),
            _ => None,
        }
    }

    fn binary(&mut self, ty: ValType, f: fn(Slot, Slot, Slot) -> Op) -> Result<()> {
        let konst = self.fresh_const();
        let b = self.pop();
        let a = self.pop();
        let d = self.push(ty);
        let op = f(d, a.src, b.src);
        if let Some(imm) = konst.and_then(|c| super::ir::with_immediate(&op, c)) {
            // The constant's instruction is the last one; its slot is dead after this.
            self.ops.pop();
            self.emit(imm);
        } else {
            self.emit(op);
        }
        self.last_result = Some(self.ops.len() - 1);
        Ok(())
    }

    /// When the top entry is a comparison the last instruction just produced, removes that
    /// instruction and returns the fused branch (taken when the comparison is `when`).
    fn fused_branch(&mut self, when: bool, target: u32) -> Option<Op> {
        let top = *self.stack.last()?;
        let at = self.last_result?;
        if at + 1 != self.ops.len() || top.src != top.slot {
            return None;
        }
        if self.ops[at].clone().result_slot_mut().copied() != Some(top.slot) {
            return None;
        }
        let fused = super::ir::fuse_compare(&self.ops[at], when, target)?;
        self.ops.pop();
        Some(fused)
    }

    fn result_op(&mut self, ty: ValType, op: Op) {
        self.emit(op);
        let _ = ty;
        self.last_result = Some(self.ops.len() - 1);
    }

    fn load(
        &mut self,
        ty: ValType,
        memarg: wasmparser::MemArg,
        f: fn(Slot, Slot, u32) -> Op,
    ) -> Result<()> {
        if memarg.target != wasmparser::MemArgTarget::Memory(0) {
            return Err(unsupported("multiple memories"));
        }
        let a = self.pop();
        let d = self.push(ty);
        self.result_op(ty, f(d, a.src, memarg.offset as u32));
        Ok(())
    }

    fn store(&mut self, memarg: wasmparser::MemArg, f: fn(Slot, Slot, u32) -> Op) -> Result<()> {
        if memarg.target != wasmparser::MemArgTarget::Memory(0) {
            return Err(unsupported("multiple memories"));
        }
        let v = self.pop();
        let a = self.pop();
        self.emit(f(a.src, v.src, memarg.offset as u32));
        Ok(())
    }

    /// The parameter types of a block (none for the function body).
    fn params_of(&self, c: &Ctrl) -> &'m [ValType] {
        match c.sig {
            Sig::Type(i) if c.kind != Kind::Function => self.module.types[i as usize].params(),
            _ => &[],
        }
    }

    /// The result types of a block.
    fn results_of(&self, c: &Ctrl) -> &'m [ValType] {
        match c.sig {
            Sig::Empty => &[],
            Sig::One(t) => one(t),
            Sig::Type(i) => self.module.types[i as usize].results(),
        }
    }

    fn push_ctrl(&mut self, kind: Kind, bt: BlockType) {
        let sig = match bt {
            BlockType::Empty => Sig::Empty,
            BlockType::Type(t) => Sig::One(ValType::from_wasm(t).unwrap_or(ValType::I32)),
            BlockType::FuncType(i) => Sig::Type(i),
        };
        let n_params = match sig {
            Sig::Type(i) => self.module.types[i as usize].params().len(),
            _ => 0,
        };
        self.materialize_from(0);
        self.last_result = None;
        let height = self.stack.len() - n_params;
        let base_slot = match self.stack.get(height) {
            Some(e) => e.slot,
            None => self.next_slot(),
        };
        self.ctrl.push(Ctrl {
            kind,
            height,
            sig,
            base_slot,
            start: self.here(),
            patches: NO_PATCH,
            else_patch: None,
        });
    }

    fn set_target(&mut self, at: usize, target: u32) {
        let op = &mut self.ops[at];
        match op.target_mut() {
            Some(t) => *t = target,
            None => unreachable!("not a branch: {op:?}"),
        }
    }

    /// Records the forward branch at `at` as pending until the end of block `idx`.
    fn add_patch(&mut self, idx: usize, at: usize) {
        let prev = self.ctrl[idx].patches;
        self.set_target(at, prev);
        self.ctrl[idx].patches = at as u32;
    }

    /// Points every pending branch of the chain starting at `head` to `here`.
    fn patch_chain(&mut self, mut head: u32, here: u32) {
        while head != NO_PATCH {
            let at = head as usize;
            head = *self.ops[at].target_mut().expect("pending branch");
            self.set_target(at, here);
        }
    }

    /// Copies the top `tys.len()` values to consecutive slots starting at `dst`.
    fn copy_top_to(&mut self, tys_len: usize, dst: Slot) {
        let n = self.stack.len();
        let mut d = dst;
        for i in n - tys_len..n {
            let e = self.stack[i];
            if e.src != d {
                self.ops.push(Self::copy_op(e.ty, d, e.src));
            }
            d += e.ty.slots();
        }
        self.last_result = None;
    }

    fn needs_copies(&self, tys_len: usize, dst: Slot) -> bool {
        let n = self.stack.len();
        let mut d = dst;
        for i in n - tys_len..n {
            let e = self.stack[i];
            if e.src != d {
                return true;
            }
            d += e.ty.slots();
        }
        false
    }

    /// Emits the copies of results into slots 0.. and a `Return`.
    fn emit_return(&mut self) {
        let n = self.results_of(&self.ctrl[0]).len();
        let len = self.stack.len();
        // Deferred locals below the result area could be overwritten by earlier copies.
        for i in len - n..len {
            if self.stack[i].src < self.result_slots && self.stack[i].src != self.stack[i].slot {
                self.materialize(i);
            }
        }
        self.copy_top_to(n, 0);
        self.emit(Op::Return);
    }

    /// Label arity and canonical destination of a branch to relative depth `depth`.
    fn label(&self, depth: u32) -> (usize, usize, Slot) {
        let idx = self.ctrl.len() - 1 - depth as usize;
        let c = &self.ctrl[idx];
        let arity = if c.kind == Kind::Loop {
            self.params_of(c).len()
        } else {
            self.results_of(c).len()
        };
        (idx, arity, c.base_slot)
    }

    /// Emits an unconditional jump to label `depth` (after its copies).
    fn emit_jump(&mut self, depth: u32) {
        let (idx, arity, base) = self.label(depth);
        if self.ctrl[idx].kind == Kind::Function {
            self.emit_return();
            return;
        }
        self.copy_top_to(arity, base);
        if self.ctrl[idx].kind == Kind::Loop {
            let start = self.ctrl[idx].start;
            self.emit(Op::BackBr { target: start });
        } else {
            let at = self.emit(Op::Br { target: u32::MAX });
            self.add_patch(idx, at);
        }
    }

    fn br_if(&mut self, depth: u32) {
        let (idx, arity, base) = self.label(depth);
        let kind = self.ctrl[idx].kind;
        // Values kept for the branch sit below the condition.
        let cond_top = self.stack.pop().expect("validated");
        let simple = kind != Kind::Function && !self.needs_copies(arity, base);
        self.stack.push(cond_top);
        if simple {
            let target = if kind == Kind::Loop {
                self.ctrl[idx].start
            } else {
                u32::MAX
            };
            let fused = self.fused_branch(true, target);
            let cond = self.pop();
            let op = match fused {
                Some(op) => op,
                None if kind == Kind::Loop => Op::BackBrIfNez {
                    cond: cond.src,
                    target,
                },
                None => Op::BrIfNez {
                    cond: cond.src,
                    target,
                },
            };
            let at = self.emit(op);
            if kind != Kind::Loop {
                self.add_patch(idx, at);
            }
            return;
        }
        let fused = self.fused_branch(false, u32::MAX);
        let cond = self.pop();
        let skip = self.emit(fused.unwrap_or(Op::BrIfEqz {
            cond: cond.src,
            target: u32::MAX,
        }));
        self.emit_jump(depth);
        let here = self.here();
        self.set_target(skip, here);
    }

    fn br_table(&mut self, targets: &wasmparser::BrTable<'_>) -> Result<()> {
        let index = self.pop();
        let len = targets.len();
        self.emit(Op::BrTable {
            index: index.src,
            len,
        });
        let table_start = self.ops.len();
        for _ in 0..=len {
            self.ops.push(Op::Br { target: u32::MAX });
        }
        // Each stub's copies run only on its own path: every stub starts from the stack as
        // it is before the table (a deferred local materialised by one stub is still
        // deferred on the others).
        let saved = self.stack.clone();
        let depths = targets
            .targets()
            .chain(std::iter::once(Ok(targets.default())));
        for (k, depth) in depths.enumerate() {
            let depth = depth.map_err(|e| Error::Compile(e.to_string()))?;
            self.stack.clone_from(&saved);
            let (idx, arity, base) = self.label(depth);
            let kind = self.ctrl[idx].kind;
            let entry = table_start + k;
            if kind != Kind::Function && !self.needs_copies(arity, base) {
                if kind == Kind::Loop {
                    self.ops[entry] = Op::BackBr {
                        target: self.ctrl[idx].start,
                    };
                } else {
                    self.add_patch(idx, entry);
                }
            } else {
                let stub = self.here();
                self.set_target(entry, stub);
                self.emit_jump(depth);
            }
        }
        Ok(())
    }

    fn set_unreachable(&mut self) {
        self.unreachable = true;
        self.last_result = None;
    }

    fn call(&mut self, func: u32) -> Result<()> {
        let ty = self.module.func_type(func).clone();
        let n = ty.params().len();
        let first = self.stack.len() - n;
        self.materialize_from(first);
        let base = match self.stack.get(first) {
            Some(e) => e.slot,
            None => self.next_slot(),
        };
        self.emit(Op::Call { func, base });
        self.stack.truncate(first);
        for &r in ty.results() {
            self.push(r);
        }
        self.max_slots = self
            .max_slots
            .max(base + ty.param_slots().max(ty.result_slots()));
        Ok(())
    }

    fn call_indirect(&mut self, type_index: u32, table: u32) -> Result<()> {
        let index = self.pop();
        let ty = self.module.types[type_index as usize].clone();
        let n = ty.params().len();
        let first = self.stack.len() - n;
        self.materialize_from(first);
        let base = match self.stack.get(first) {
            Some(e) => e.slot,
            None => self.next_slot(),
        };
        if table == 0 {
            self.emit(Op::CallIndirect {
                ty: type_index,
                index: index.src,
                base,
            });
        } else {
            self.emit(Op::CallIndirectTable {
                ty: type_index,
                index: index.src,
                base,
            });
            self.emit(Op::Imm { a: table, b: 0 });
        }
        self.stack.truncate(first);
        for &r in ty.results() {
            self.push(r);
        }
        self.max_slots = self
            .max_slots
            .max(base + ty.param_slots().max(ty.result_slots()));
        Ok(())
    }

    fn local_set(&mut self, index: u32, tee: bool) {
        let (ty, slot) = self.locals[index as usize];
        let top = *self.stack.last().expect("validated");
        if top.src == slot {
            if !tee {
                self.pop();
            }
            return;
        }
        let clobbers = self.materialize_local(slot, true);
        if !clobbers
            && ty.slots() == 1
            && let Some(at) = self.last_result
            && let Some(d) = self.ops[at].result_slot_mut()
            && *d == top.slot
            && top.src == top.slot
        {
            *d = slot;
            self.last_result = None;
            if tee {
                self.stack.last_mut().expect("validated").src = slot;
            } else {
                self.stack.pop();
            }
            return;
        }
        self.emit(Self::copy_op(ty, slot, top.src));
        if !tee {
            self.stack.pop();
        }
    }

    fn op(&mut self, op: O<'_>) -> Result<()> {
        if self.unreachable {
            match op {
                O::Block { .. } | O::Loop { .. } | O::If { .. } => {
                    self.dead_depth += 1;
                    return Ok(());
                }
                O::Else if self.dead_depth == 0 => {}
                O::End if self.dead_depth == 0 => {}
                O::End => {
                    self.dead_depth -= 1;
                    return Ok(());
                }
                _ => return Ok(()),
            }
        }
        match op {
            O::Nop => {}
            O::Unreachable => {
                self.emit(Op::Unreachable);
                self.set_unreachable();
            }
            O::Block { blockty } => self.push_ctrl(Kind::Block, blockty),
            O::Loop { blockty } => {
                self.push_ctrl(Kind::Loop, blockty);
                self.last_result = None;
            }
            O::If { blockty } => {
                let fused = self.fused_branch(false, u32::MAX);
                let cond = self.pop();
                // Copies that materialise the stack only write slots of entries still on it,
                // never the condition's (or fused comparison's) sources, so the branch can
                // follow them.
                self.push_ctrl(Kind::If, blockty);
                let at = self.emit(fused.unwrap_or(Op::BrIfEqz {
                    cond: cond.src,
                    target: u32::MAX,
                }));
                self.ctrl.last_mut().expect("just pushed").else_patch = Some(at);
            }
            O::Else => {
                let reachable = !self.unreachable;
                let idx = self.ctrl.len() - 1;
                if reachable {
                    let h = self.ctrl[idx].height;
                    self.materialize_from(h);
                    let at = self.emit(Op::Br { target: u32::MAX });
                    self.add_patch(idx, at);
                }
                let here = self.here();
                if let Some(p) = self.ctrl[idx].else_patch.take() {
                    self.set_target(p, here);
                }
                let params = self.params_of(&self.ctrl[idx]);
                let c = &mut self.ctrl[idx];
                c.kind = Kind::Else;
                let h = c.height;
                self.stack.truncate(h);
                for &p in params {
                    self.push(p);
                }
                self.unreachable = false;
                self.last_result = None;
            }
            O::End => {
                let reachable = !self.unreachable;
                let c = self.ctrl.last().expect("validated");
                let h = c.height;
                if c.kind == Kind::Function {
                    if reachable {
                        self.emit_return();
                    }
                    self.ctrl.pop();
                    return Ok(());
                }
                if reachable {
                    self.materialize_from(h);
                }
                let c = self.ctrl.pop().expect("validated");
                let here = self.here();
                if let Some(p) = c.else_patch {
                    self.set_target(p, here);
                }
                self.patch_chain(c.patches, here);
                self.stack.truncate(c.height);
                for &r in self.results_of(&c) {
                    self.push(r);
                }
                self.unreachable = false;
                self.last_result = None;
            }
            O::Br { relative_depth } => {
                self.emit_jump(relative_depth);
                self.set_unreachable();
            }
            O::BrIf { relative_depth } => self.br_if(relative_depth),
            O::BrTable { targets } => {
                self.br_table(&targets)?;
                self.set_unreachable();
            }
            O::Return => {
                self.emit_return();
                self.set_unreachable();
            }
            O::Call { function_index } => self.call(function_index)?,
            O::CallIndirect {
                type_index,
                table_index,
            } => self.call_indirect(type_index, table_index)?,
            O::Drop => {
                self.pop();
            }
            O::Select | O::TypedSelect { .. } | O::TypedSelectMulti { .. } => {
                let cond = self.pop();
                let b = self.pop();
                let a = self.pop();
                self.stack.push(a);
                let i = self.stack.len() - 1;
                self.materialize(i);
                if a.ty.slots() == 2 {
                    self.emit(Op::SelectWide {
                        d: a.slot,
                        b: b.src,
                        cond: cond.src,
                    });
                } else {
                    self.emit(Op::Select {
                        d: a.slot,
                        b: b.src,
                        cond: cond.src,
                    });
                }
            }
            O::LocalGet { local_index } => {
                let (ty, slot) = self.locals[local_index as usize];
                let d = self.push(ty);
                self.stack.last_mut().expect("pushed").src = slot;
                let _ = d;
                self.last_result = None;
            }
            O::LocalSet { local_index } => self.local_set(local_index, false),
            O::LocalTee { local_index } => self.local_set(local_index, true),
            O::GlobalGet { global_index } => {
                let ty = self.module.globals[global_index as usize].content;
                let d = self.push(ty);
                if ty.slots() == 2 {
                    self.emit(Op::GlobalGetWide { d, g: global_index });
                } else {
                    self.result_op(ty, Op::GlobalGet { d, g: global_index });
                }
            }
            O::GlobalSet { global_index } => {
                let v = self.pop();
                if v.ty.slots() == 2 {
                    self.emit(Op::GlobalSetWide {
                        g: global_index,
                        s: v.src,
                    });
                } else {
                    self.emit(Op::GlobalSet {
                        g: global_index,
                        s: v.src,
                    });
                }
            }
            O::I32Load { memarg } | O::F32Load { memarg } => {
                let ty = if matches!(op, O::I32Load { .. }) {
                    ValType::I32
                } else {
                    ValType::F32
                };
                self.load(ty, memarg, |d, a, off| Op::I32Load { d, a, off })?
            }
            O::I64Load { memarg } | O::F64Load { memarg } => {
                let ty = if matches!(op, O::I64Load { .. }) {
                    ValType::I64
                } else {
                    ValType::F64
                };
                self.load(ty, memarg, |d, a, off| Op::I64Load { d, a, off })?
            }
            O::I32Load8S { memarg } => self.load(ValType::I32, memarg, |d, a, off| {
                Op::I32Load8S { d, a, off }
            })?,
            O::I32Load8U { memarg } => self.load(ValType::I32, memarg, |d, a, off| {
                Op::I32Load8U { d, a, off }
            })?,
            O::I32Load16S { memarg } => self.load(ValType::I32, memarg, |d, a, off| {
                Op::I32Load16S { d, a, off }
            })?,
            O::I32Load16U { memarg } => self.load(ValType::I32, memarg, |d, a, off| {
                Op::I32Load16U { d, a, off }
            })?,
            O::I64Load8S { memarg } => self.load(ValType::I64, memarg, |d, a, off| {
                Op::I64Load8S { d, a, off }
            })?,
            O::I64Load8U { memarg } => self.load(ValType::I64, memarg, |d, a, off| {
                Op::I64Load8U { d, a, off }
            })?,
            O::I64Load16S { memarg } => self.load(ValType::I64, memarg, |d, a, off| {
                Op::I64Load16S { d, a, off }
            })?,
            O::I64Load16U { memarg } => self.load(ValType::I64, memarg, |d, a, off| {
                Op::I64Load16U { d, a, off }
            })?,
            O::I64Load32S { memarg } => self.load(ValType::I64, memarg, |d, a, off| {
                Op::I64Load32S { d, a, off }
            })?,
            O::I64Load32U { memarg } => self.load(ValType::I64, memarg, |d, a, off| {
                Op::I64Load32U { d, a, off }
            })?,
            O::I32Store { memarg } | O::F32Store { memarg } => {
                self.store(memarg, |a, v, off| Op::I32Store { a, v, off })?
            }
            O::I64Store { memarg } | O::F64Store { memarg } => {
                self.store(memarg, |a, v, off| Op::I64Store { a, v, off })?
            }
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => {
                self.store(memarg, |a, v, off| Op::I32Store8 { a, v, off })?
            }
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => {
                self.store(memarg, |a, v, off| Op::I32Store16 { a, v, off })?
            }
            O::I64Store32 { memarg } => {
                self.store(memarg, |a, v, off| Op::I32Store { a, v, off })?
            }
            O::MemorySize { mem } => {
                let d = self.push(ValType::I32);
                self.result_op(ValType::I32, Op::MemorySize { d, mem });
            }
            O::MemoryGrow { mem } => {
                if mem != 0 {
                    return Err(unsupported("multiple memories"));
                }
                let delta = self.pop();
                let d = self.push(ValType::I32);
                self.emit(Op::MemoryGrow {
                    d,
                    delta: delta.src,
                });
            }
            O::MemoryFill { mem } => {
                if mem != 0 {
                    return Err(unsupported("multiple memories"));
                }
                let n = self.pop();
                let v = self.pop();
                let d = self.pop();
                self.emit(Op::MemoryFill {
                    d: d.src,
                    v: v.src,
                    n: n.src,
                });
            }
            O::MemoryCopy { dst_mem, src_mem } => {
                if dst_mem != 0 || src_mem != 0 {
                    return Err(unsupported("multiple memories"));
                }
                let n = self.pop();
                let s = self.pop();
                let d = self.pop();
                self.emit(Op::MemoryCopy {
                    d: d.src,
                    s: s.src,
                    n: n.src,
                });
            }
            O::MemoryInit { data_index, mem } => {
                if mem != 0 {
                    return Err(unsupported("multiple memories"));
                }
                let n = self.pop();
                let s = self.pop();
                let d = self.pop();
                self.emit(Op::MemoryInit {
                    d: d.src,
                    s: s.src,
                    n: n.src,
                });
                self.emit(Op::Imm {
                    a: data_index,
                    b: 0,
                });
            }
            O::DataDrop { data_index } => {
                self.emit(Op::DataDrop { data: data_index });
            }
            O::I32Const { value } => {
                let d = self.push(ValType::I32);
                self.result_op(ValType::I32, Op::Const32 { d, v: value as u32 });
            }
            O::I64Const { value } => {
                let d = self.push(ValType::I64);
                self.result_op(ValType::I64, Op::Const64 { d, v: value as u64 });
            }
            O::F32Const { value } => {
                let d = self.push(ValType::F32);
                self.result_op(ValType::F32, Op::Const32 { d, v: value.bits() });
            }
            O::F64Const { value } => {
                let d = self.push(ValType::F64);
                self.result_op(ValType::F64, Op::Const64 { d, v: value.bits() });
            }
            O::I32ReinterpretF32
            | O::F32ReinterpretI32
            | O::I64ReinterpretF64
            | O::F64ReinterpretI64 => {
                let ty = match op {
                    O::I32ReinterpretF32 => ValType::I32,
                    O::F32ReinterpretI32 => ValType::F32,
                    O::I64ReinterpretF64 => ValType::I64,
                    _ => ValType::F64,
                };
                let e = self.stack.last_mut().expect("validated");
                e.ty = ty;
            }
            O::RefNull { .. } => {
                let d = self.push(ValType::ExternRef);
                self.result_op(ValType::ExternRef, Op::Const64 { d, v: 0 });
            }
            O::RefFunc { function_index } => {
                let d = self.push(ValType::FuncRef);
                self.result_op(
                    ValType::FuncRef,
                    Op::RefFunc {
                        d,
                        func: function_index,
                    },
                );
            }
            O::TableGet { table } => {
                let i = self.pop();
                let ty = self.module.tables[table as usize].element;
                let d = self.push(ty);
                self.result_op(ty, Op::TableGet { d, i: i.src, table });
            }
            O::TableSet { table } => {
                let v = self.pop();
                let i = self.pop();
                self.emit(Op::TableSet {
                    table,
                    i: i.src,
                    v: v.src,
                });
            }
            O::TableSize { table } => {
                let d = self.push(ValType::I32);
                self.result_op(ValType::I32, Op::TableSize { d, table });
            }
            O::TableGrow { table } => {
                let delta = self.pop();
                let init = self.pop();
                let d = self.push(ValType::I32);
                self.emit(Op::TableGrow {
                    d,
                    init: init.src,
                    delta: delta.src,
                });
                self.emit(Op::Imm { a: table, b: 0 });
            }
            O::TableFill { table } => {
                let n = self.pop();
                let v = self.pop();
                let i = self.pop();
                self.emit(Op::TableFill {
                    i: i.src,
                    v: v.src,
                    n: n.src,
                });
                self.emit(Op::Imm { a: table, b: 0 });
            }
            O::TableCopy {
                dst_table,
                src_table,
            } => {
                let n = self.pop();
                let s = self.pop();
                let d = self.pop();
                self.emit(Op::TableCopy {
                    d: d.src,
                    s: s.src,
                    n: n.src,
                });
                self.emit(Op::Imm {
                    a: dst_table,
                    b: src_table,
                });
            }
            O::TableInit { elem_index, table } => {
                let n = self.pop();
                let s = self.pop();
                let d = self.pop();
                self.emit(Op::TableInit {
                    d: d.src,
                    s: s.src,
                    n: n.src,
                });
                self.emit(Op::Imm {
                    a: table,
                    b: elem_index,
                });
            }
            O::ElemDrop { elem_index } => {
                self.emit(Op::ElemDrop { elem: elem_index });
            }
            O::I32Eqz => self.unary(ValType::I32, |d, a| Op::I32Eqz { d, a })?,
            O::I64Eqz => self.unary(ValType::I32, |d, a| Op::I64Eqz { d, a })?,
            O::I32Clz => self.unary(ValType::I32, |d, a| Op::I32Clz { d, a })?,
            O::I32Ctz => self.unary(ValType::I32, |d, a| Op::I32Ctz { d, a })?,
            O::I32Popcnt => self.unary(ValType::I32, |d, a| Op::I32Popcnt { d, a })?,
            O::I64Clz => self.unary(ValType::I64, |d, a| Op::I64Clz { d, a })?,
            O::I64Ctz => self.unary(ValType::I64, |d, a| Op::I64Ctz { d, a })?,
            O::I64Popcnt => self.unary(ValType::I64, |d, a| Op::I64Popcnt { d, a })?,
            O::F32Abs => self.unary(ValType::F32, |d, a| Op::F32Abs { d, a })?,
            O::F32Neg => self.unary(ValType::F32, |d, a| Op::F32Neg { d, a })?,
            O::F32Ceil => self.unary(ValType::F32, |d, a| Op::F32Ceil { d, a })?,
            O::F32Floor => self.unary(ValType::F32, |d, a| Op::F32Floor { d, a })?,
            O::F32Trunc => self.unary(ValType::F32, |d, a| Op::F32Trunc { d, a })?,
            O::F32Nearest => self.unary(ValType::F32, |d, a| Op::F32Nearest { d, a })?,
            O::F32Sqrt => self.unary(ValType::F32, |d, a| Op::F32Sqrt { d, a })?,
            O::F64Abs => self.unary(ValType::F64, |d, a| Op::F64Abs { d, a })?,
            O::F64Neg => self.unary(ValType::F64, |d, a| Op::F64Neg { d, a })?,
            O::F64Ceil => self.unary(ValType::F64, |d, a| Op::F64Ceil { d, a })?,
            O::F64Floor => self.unary(ValType::F64, |d, a| Op::F64Floor { d, a })?,
            O::F64Trunc => self.unary(ValType::F64, |d, a| Op::F64Trunc { d, a })?,
            O::F64Nearest => self.unary(ValType::F64, |d, a| Op::F64Nearest { d, a })?,
            O::F64Sqrt => self.unary(ValType::F64, |d, a| Op::F64Sqrt { d, a })?,
            O::I32WrapI64 => self.unary(ValType::I32, |d, a| Op::I32WrapI64 { d, a })?,
            O::I32TruncF32S => self.unary(ValType::I32, |d, a| Op::I32TruncF32S { d, a })?,
            O::I32TruncF32U => self.unary(ValType::I32, |d, a| Op::I32TruncF32U { d, a })?,
            O::I32TruncF64S => self.unary(ValType::I32, |d, a| Op::I32TruncF64S { d, a })?,
            O::I32TruncF64U => self.unary(ValType::I32, |d, a| Op::I32TruncF64U { d, a })?,
            O::I64ExtendI32S => self.unary(ValType::I64, |d, a| Op::I64ExtendI32S { d, a })?,
            O::I64ExtendI32U => self.unary(ValType::I64, |d, a| Op::I64ExtendI32U { d, a })?,
            O::I64TruncF32S => self.unary(ValType::I64, |d, a| Op::I64TruncF32S { d, a })?,
            O::I64TruncF32U => self.unary(ValType::I64, |d, a| Op::I64TruncF32U { d, a })?,
            O::I64TruncF64S => self.unary(ValType::I64, |d, a| Op::I64TruncF64S { d, a })?,
            O::I64TruncF64U => self.unary(ValType::I64, |d, a| Op::I64TruncF64U { d, a })?,
            O::F32ConvertI32S => self.unary(ValType::F32, |d, a| Op::F32ConvertI32S { d, a })?,
            O::F32ConvertI32U => self.unary(ValType::F32, |d, a| Op::F32ConvertI32U { d, a })?,
            O::F32ConvertI64S => self.unary(ValType::F32, |d, a| Op::F32ConvertI64S { d, a })?,
            O::F32ConvertI64U => self.unary(ValType::F32, |d, a| Op::F32ConvertI64U { d, a })?,
            O::F32DemoteF64 => self.unary(ValType::F32, |d, a| Op::F32DemoteF64 { d, a })?,
            O::F64ConvertI32S => self.unary(ValType::F64, |d, a| Op::F64ConvertI32S { d, a })?,
            O::F64ConvertI32U => self.unary(ValType::F64, |d, a| Op::F64ConvertI32U { d, a })?,
            O::F64ConvertI64S => self.unary(ValType::F64, |d, a| Op::F64ConvertI64S { d, a })?,
            O::F64ConvertI64U => self.unary(ValType::F64, |d, a| Op::F64ConvertI64U { d, a })?,
            O::F64PromoteF32 => self.unary(ValType::F64, |d, a| Op::F64PromoteF32 { d, a })?,
            O::I32Extend8S => self.unary(ValType::I32, |d, a| Op::I32Extend8S { d, a })?,
            O::I32Extend16S => self.unary(ValType::I32, |d, a| Op::I32Extend16S { d, a })?,
            O::I64Extend8S => self.unary(ValType::I64, |d, a| Op::I64Extend8S { d, a })?,
            O::I64Extend16S => self.unary(ValType::I64, |d, a| Op::I64Extend16S { d, a })?,
            O::I64Extend32S => self.unary(ValType::I64, |d, a| Op::I64Extend32S { d, a })?,
            O::I32TruncSatF32S => self.unary(ValType::I32, |d, a| Op::I32TruncSatF32S { d, a })?,
            O::I32TruncSatF32U => self.unary(ValType::I32, |d, a| Op::I32TruncSatF32U { d, a })?,
            O::I32TruncSatF64S => self.unary(ValType::I32, |d, a| Op::I32TruncSatF64S { d, a })?,
            O::I32TruncSatF64U => self.unary(ValType::I32, |d, a| Op::I32TruncSatF64U { d, a })?,
            O::I64TruncSatF32S => self.unary(ValType::I64, |d, a| Op::I64TruncSatF32S { d, a })?,
            O::I64TruncSatF32U => self.unary(ValType::I64, |d, a| Op::I64TruncSatF32U { d, a })?,
            O::I64TruncSatF64S => self.unary(ValType::I64, |d, a| Op::I64TruncSatF64S { d, a })?,
            O::I64TruncSatF64U => self.unary(ValType::I64, |d, a| Op::I64TruncSatF64U { d, a })?,
            O::RefIsNull => self.unary(ValType::I32, |d, a| Op::RefIsNull { d, a })?,
            O::I32Eq => self.binary(ValType::I32, |d, a, b| Op::I32Eq { d, a, b })?,
            O::I32Ne => self.binary(ValType::I32, |d, a, b| Op::I32Ne { d, a, b })?,
            O::I32LtS => self.binary(ValType::I32, |d, a, b| Op::I32LtS { d, a, b })?,
            O::I32LtU => self.binary(ValType::I32, |d, a, b| Op::I32LtU { d, a, b })?,
            O::I32GtS => self.binary(ValType::I32, |d, a, b| Op::I32GtS { d, a, b })?,
            O::I32GtU => self.binary(ValType::I32, |d, a, b| Op::I32GtU { d, a, b })?,
            O::I32LeS => self.binary(ValType::I32, |d, a, b| Op::I32LeS { d, a, b })?,
            O::I32LeU => self.binary(ValType::I32, |d, a, b| Op::I32LeU { d, a, b })?,
            O::I32GeS => self.binary(ValType::I32, |d, a, b| Op::I32GeS { d, a, b })?,
            O::I32GeU => self.binary(ValType::I32, |d, a, b| Op::I32GeU { d, a, b })?,
            O::I64Eq => self.binary(ValType::I32, |d, a, b| Op::I64Eq { d, a, b })?,
            O::I64Ne => self.binary(ValType::I32, |d, a, b| Op::I64Ne { d, a, b })?,
            O::I64LtS => self.binary(ValType::I32, |d, a, b| Op::I64LtS { d, a, b })?,
            O::I64LtU => self.binary(ValType::I32, |d, a, b| Op::I64LtU { d, a, b })?,
            O::I64GtS => self.binary(ValType::I32, |d, a, b| Op::I64GtS { d, a, b })?,
            O::I64GtU => self.binary(ValType::I32, |d, a, b| Op::I64GtU { d, a, b })?,
            O::I64LeS => self.binary(ValType::I32, |d, a, b| Op::I64LeS { d, a, b })?,
            O::I64LeU => self.binary(ValType::I32, |d, a, b| Op::I64LeU { d, a, b })?,
            O::I64GeS => self.binary(ValType::I32, |d, a, b| Op::I64GeS { d, a, b })?,
            O::I64GeU => self.binary(ValType::I32, |d, a, b| Op::I64GeU { d, a, b })?,
            O::F32Eq => self.binary(ValType::I32, |d, a, b| Op::F32Eq { d, a, b })?,
            O::F32Ne => self.binary(ValType::I32, |d, a, b| Op::F32Ne { d, a, b })?,
            O::F32Lt => self.binary(ValType::I32, |d, a, b| Op::F32Lt { d, a, b })?,
            O::F32Gt => self.binary(ValType::I32, |d, a, b| Op::F32Gt { d, a, b })?,
            O::F32Le => self.binary(ValType::I32, |d, a, b| Op::F32Le { d, a, b })?,
            O::F32Ge => self.binary(ValType::I32, |d, a, b| Op::F32Ge { d, a, b })?,
            O::F64Eq => self.binary(ValType::I32, |d, a, b| Op::F64Eq { d, a, b })?,
            O::F64Ne => self.binary(ValType::I32, |d, a, b| Op::F64Ne { d, a, b })?,
            O::F64Lt => self.binary(ValType::I32, |d, a, b| Op::F64Lt { d, a, b })?,
            O::F64Gt => self.binary(ValType::I32, |d, a, b| Op::F64Gt { d, a, b })?,
            O::F64Le => self.binary(ValType::I32, |d, a, b| Op::F64Le { d, a, b })?,
            O::F64Ge => self.binary(ValType::I32, |d, a, b| Op::F64Ge { d, a, b })?,
            O::I32Add => self.binary(ValType::I32, |d, a, b| Op::I32Add { d, a, b })?,
            O::I32Sub => self.binary(ValType::I32, |d, a, b| Op::I32Sub { d, a, b })?,
            O::I32Mul => self.binary(ValType::I32, |d, a, b| Op::I32Mul { d, a, b })?,
            O::I32DivS => self.binary(ValType::I32, |d, a, b| Op::I32DivS { d, a, b })?,
            O::I32DivU => self.binary(ValType::I32, |d, a, b| Op::I32DivU { d, a, b })?,
            O::I32RemS => self.binary(ValType::I32, |d, a, b| Op::I32RemS { d, a, b })?,
            O::I32RemU => self.binary(ValType::I32, |d, a, b| Op::I32RemU { d, a, b })?,
            O::I32And => self.binary(ValType::I32, |d, a, b| Op::I32And { d, a, b })?,
            O::I32Or => self.binary(ValType::I32, |d, a, b| Op::I32Or { d, a, b })?,
            O::I32Xor => self.binary(ValType::I32, |d, a, b| Op::I32Xor { d, a, b })?,
            O::I32Shl => self.binary(ValType::I32, |d, a, b| Op::I32Shl { d, a, b })?,
            O::I32ShrS => self.binary(ValType::I32, |d, a, b| Op::I32ShrS { d, a, b })?,
            O::I32ShrU => self.binary(ValType::I32, |d, a, b| Op::I32ShrU { d, a, b })?,
            O::I32Rotl => self.binary(ValType::I32, |d, a, b| Op::I32Rotl { d, a, b })?,
            O::I32Rotr => self.binary(ValType::I32, |d, a, b| Op::I32Rotr { d, a, b })?,
            O::I64Add => self.binary(ValType::I64, |d, a, b| Op::I64Add { d, a, b })?,
            O::I64Sub => self.binary(ValType::I64, |d, a, b| Op::I64Sub { d, a, b })?,
            O::I64Mul => self.binary(ValType::I64, |d, a, b| Op::I64Mul { d, a, b })?,
            O::I64DivS => self.binary(ValType::I64, |d, a, b| Op::I64DivS { d, a, b })?,
            O::I64DivU => self.binary(ValType::I64, |d, a, b| Op::I64DivU { d, a, b })?,
            O::I64RemS => self.binary(ValType::I64, |d, a, b| Op::I64RemS { d, a, b })?,
            O::I64RemU => self.binary(ValType::I64, |d, a, b| Op::I64RemU { d, a, b })?,
            O::I64And => self.binary(ValType::I64, |d, a, b| Op::I64And { d, a, b })?,
            O::I64Or => self.binary(ValType::I64, |d, a, b| Op::I64Or { d, a, b })?,
            O::I64Xor => self.binary(ValType::I64, |d, a, b| Op::I64Xor { d, a, b })?,
            O::I64Shl => self.binary(ValType::I64, |d, a, b| Op::I64Shl { d, a, b })?,
            O::I64ShrS => self.binary(ValType::I64, |d, a, b| Op::I64ShrS { d, a, b })?,
            O::I64ShrU => self.binary(ValType::I64, |d, a, b| Op::I64ShrU { d, a, b })?,
            O::I64Rotl => self.binary(ValType::I64, |d, a, b| Op::I64Rotl { d, a, b })?,
            O::I64Rotr => self.binary(ValType::I64, |d, a, b| Op::I64Rotr { d, a, b })?,
            O::F32Add => self.binary(ValType::F32, |d, a, b| Op::F32Add { d, a, b })?,
            O::F32Sub => self.binary(ValType::F32, |d, a, b| Op::F32Sub { d, a, b })?,
            O::F32Mul => self.binary(ValType::F32, |d, a, b| Op::F32Mul { d, a, b })?,
            O::F32Div => self.binary(ValType::F32, |d, a, b| Op::F32Div { d, a, b })?,
            O::F32Min => self.binary(ValType::F32, |d, a, b| Op::F32Min { d, a, b })?,
            O::F32Max => self.binary(ValType::F32, |d, a, b| Op::F32Max { d, a, b })?,
            O::F32Copysign => self.binary(ValType::F32, |d, a, b| Op::F32Copysign { d, a, b })?,
            O::F64Add => self.binary(ValType::F64, |d, a, b| Op::F64Add { d, a, b })?,
            O::F64Sub => self.binary(ValType::F64, |d, a, b| Op::F64Sub { d, a, b })?,
            O::F64Mul => self.binary(ValType::F64, |d, a, b| Op::F64Mul { d, a, b })?,
            O::F64Div => self.binary(ValType::F64, |d, a, b| Op::F64Div { d, a, b })?,
            O::F64Min => self.binary(ValType::F64, |d, a, b| Op::F64Min { d, a, b })?,
            O::F64Max => self.binary(ValType::F64, |d, a, b| Op::F64Max { d, a, b })?,
            O::F64Copysign => self.binary(ValType::F64, |d, a, b| Op::F64Copysign { d, a, b })?,
            other => return Err(unsupported(format_args!("operator {other:?}"))),
        }
        Ok(())
    }
}
