//! Wasm → interpreter code, in one pass over a validated function body.
//!
//! The translator keeps a compile-time image of the operand stack. Each entry has a
//! canonical slot (its stack position) and a source slot where its value currently lives:
//! `local.get` pushes an entry whose source is the local itself, so no copy is emitted
//! until something would overwrite that local or control flow merges. Results of an
//! instruction followed by `local.set` are written straight into the local.

use super::ir::{Op, Slot};
use super::{FuncCode, LoopHeader};
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

/// Hoisted constants are named by virtual slots `CONST_BASE + k` during translation; they
/// become real slots right after the locals when translation ends.
const CONST_BASE: Slot = 0x8000_0000;

/// At most this many distinct constants are hoisted out of the loops of one function.
const MAX_CONSTS: usize = 32;

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
    /// For a loop that starts with a few plain instructions and a conditional branch out
    /// of it (`loop (br_if $exit cond) ...`): the branch's index and the ctrl index of its
    /// label. A `br` back to such a loop repeats the test instead of jumping to it.
    exit_test: Option<(u32, u32)>,
}

/// At most this many instructions before a loop's exit test are repeated at its back-edges.
const MAX_LOOP_HEADER: u32 = 3;

/// The translator's growable buffers, kept per thread between translations so that
/// translating a function allocates only its result.
#[derive(Default)]
struct Scratch {
    ops: Vec<Op>,
    stack: Vec<Entry>,
    ctrl: Vec<Ctrl>,
    locals: Vec<(ValType, Slot)>,
    consts: Vec<u64>,
    loops: Vec<LoopHeader>,
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
    /// Values of the constants hoisted out of loops, by virtual slot `CONST_BASE + k`.
    consts: Vec<u64>,
    /// 128-bit immediates (see `FuncCode::v128_consts`).
    v128: Vec<u128>,
    /// Loops enclosing the current instruction.
    loop_depth: u32,
    /// The last instruction index some branch jumps to: the instruction before it may not
    /// be fused with the next one.
    label_at: u32,
    /// Fuel metering on: a `Fuel` op starts every segment (see `op`).
    fuel: bool,
    /// The `Fuel` op of the current segment, patched with its cost when the segment ends
    /// (none while the code is unreachable).
    seg_at: Option<usize>,
    /// Wasm operators seen in the current segment so far.
    seg_cost: u32,
    local_slots: Slot,
    result_slots: Slot,
    max_slots: Slot,
    unreachable: bool,
    /// Blocks opened inside unreachable code, skipped without translation.
    dead_depth: u32,
    /// Index of the last instruction, when its result is the top entry and may be
    /// redirected into a local by a following `local.set`.
    last_result: Option<usize>,
    /// `loop` operators seen so far, reachable or not (the ordinal the JIT's OSR entries use).
    loops_seen: u32,
    /// Headers of the loops a frame can leave for native code (engine `tiered`).
    loops: Vec<LoopHeader>,
    /// Engine `tiered`: loops keep their header (no rotation), so that every back-edge
    /// arrives where the state is exactly the Wasm state at the `loop`.
    osr_headers: bool,
}

fn unsupported(what: impl std::fmt::Display) -> Error {
    Error::Unsupported(what.to_string())
}

/// Translates defined function `func_index` of `module`. (The error is boxed: the result
/// is cached per function, and most functions never fail.)
pub(crate) fn translate(
    module: &ModuleInner,
    func_index: u32,
) -> std::result::Result<FuncCode, Box<Error>> {
    let scratch = SCRATCH.with(|c| c.borrow_mut().take()).unwrap_or_default();
    let mut t = Translator {
        module,
        ops: scratch.ops,
        stack: scratch.stack,
        ctrl: scratch.ctrl,
        locals: scratch.locals,
        consts: scratch.consts,
        v128: Vec::new(),
        loops: scratch.loops,
        loops_seen: 0,
        osr_headers: module.engine.kind() == crate::EngineKind::Tiered,
        loop_depth: 0,
        label_at: u32::MAX,
        fuel: module.engine.config().fuel,
        seg_at: None,
        seg_cost: 0,
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
    t.consts.clear();
    t.loops.clear();
    let r = t.run(func_index);
    SCRATCH.with(|c| {
        *c.borrow_mut() = Some(Scratch {
            ops: t.ops,
            stack: t.stack,
            ctrl: t.ctrl,
            locals: t.locals,
            consts: t.consts,
            loops: t.loops,
        })
    });
    r.map_err(Box::new)
}

impl<'m> Translator<'m> {
    fn run(&mut self, func_index: u32) -> Result<FuncCode> {
        let module = self.module;
        let def = &module.defined[(func_index - module.num_imported_funcs) as usize];
        let body = wasmparser::FunctionBody::new(wasmparser::BinaryReader::new(
            &module.bytes[def.body.start as usize..def.body.end as usize],
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
            exit_test: None,
        });
        if self.fuel {
            self.open_segment();
        }
        let mut reader = body.get_operators_reader().map_err(map)?;
        while !reader.eof() {
            let op = reader.read().map_err(map)?;
            self.op(op)?;
            if self.ctrl.is_empty() {
                break;
            }
        }
        self.thread_jumps();
        let mut frame_slots = self.max_slots.max(self.result_slots).max(self.local_slots);
        let mut prologue = [Op::Unreachable; MAX_CONSTS];
        let num_consts = self.place_consts(&mut prologue);
        frame_slots += num_consts as Slot;
        // Absolute targets become offsets relative to the branch (see `ir`); the prologue
        // that loads the hoisted constants goes first, which leaves relative offsets intact.
        let body = self.ops.iter().enumerate().map(|(i, op)| {
            let mut op = *op;
            if let Some(target) = op.target_mut() {
                *target = (*target as i64 - i as i64) as i32 as u32;
            }
            op
        });
        // A final `Return` (never reached by the translated code) is where a frame that
        // finished in native code (OSR) continues, with its results in place.
        let ops: Box<[Op]> = prologue[..num_consts]
            .iter()
            .copied()
            .chain(body)
            .chain(std::iter::once(Op::Return))
            .collect();
        let threshold = match &self.module.tiering {
            Some(_) => self.module.engine.config().tier_threshold,
            None => u32::MAX,
        };
        let loops: Box<[LoopHeader]> = self
            .loops
            .iter()
            .map(|l| LoopHeader {
                at: l.at + num_consts as u32,
                ordinal: l.ordinal,
            })
            .collect();
        Ok(FuncCode {
            ops,
            v128_consts: std::mem::take(&mut self.v128).into_boxed_slice(),
            frame_slots,
            param_slots,
            local_slots: self.local_slots,
            result_slots: ty.result_slots(),
            func_index,
            calls: AtomicU32::new(0),
            backedges: AtomicU32::new(0),
            loops,
            tier_at: AtomicU32::new(threshold),
            osr_at: AtomicU32::new(threshold),
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
    /// Also a hoisted constant; the flag tells whether the value comes from the last
    /// instruction.
    fn fresh_const(&self) -> Option<(u64, bool)> {
        let top = self.stack.last()?;
        if top.src >= CONST_BASE {
            return Some((self.consts[(top.src - CONST_BASE) as usize], false));
        }
        let at = self.last_result?;
        if at + 1 != self.ops.len() || top.src != top.slot {
            return None;
        }
        match self.ops[at] {
            Op::Const32 { d, v } if d == top.slot => Some((v as u64, true)),
            Op::Const64 { d, v } if d == top.slot => Some((v, true)),
            _ => None,
        }
    }

    fn binary(&mut self, ty: ValType, f: fn(Slot, Slot, Slot) -> Op) -> Result<()> {
        let konst = self.fresh_const();
        let b = self.pop();
        let a = self.pop();
        let d = self.push(ty);
        let op = f(d, a.src, b.src);
        let imm = konst.and_then(|(c, op_made_it)| {
            super::ir::with_immediate(&op, c).map(|imm| (imm, op_made_it))
        });
        let fused = match imm {
            Some(_) => None,
            None => self.fuse_with_last(&op, a, b),
        };
        if let Some((fused, ext)) = fused {
            // The last instruction's result is dead after this: it is computed inline.
            self.ops.pop();
            let at = self.emit(fused);
            self.emit(ext);
            self.last_result = Some(at);
            return Ok(());
        }
        if let Some((imm, op_made_it)) = imm {
            if op_made_it {
                // The constant's instruction is the last one; its slot is dead after this.
                self.ops.pop();
            }
            if let Some((fused, ext)) = self.fuse_last_with_imm(&imm, a) {
                self.ops.pop();
                let at = self.emit(fused);
                self.emit(ext);
                self.last_result = Some(at);
                return Ok(());
            }
            self.emit(imm);
        } else {
            self.emit(op);
        }
        self.last_result = Some(self.ops.len() - 1);
        Ok(())
    }

    /// When operand `a` or `b` of `op` (both just popped) is the temporary the last
    /// instruction computed, the fused form of the two instructions. The last instruction
    /// must not be skipped by a branch to `op`, and its result must be read only by `op`
    /// (a stack temporary, not a local it was redirected to).
    fn fuse_with_last(&self, op: &Op, a: Entry, b: Entry) -> Option<(Op, Op)> {
        let last = *self.ops.last()?;
        if self.label_at == self.here() {
            return None;
        }
        let t = last.clone().result_slot_mut().copied()?;
        let t_left = if b.src == b.slot && b.slot == t {
            false
        } else if a.src == a.slot && a.slot == t {
            true
        } else {
            return None;
        };
        super::ir::fuse_arith(&last, op, t_left)
            .or_else(|| super::ir::fuse_arith_imm(&last, op, t_left))
    }

    /// When the left operand `a` of the immediate instruction `op` is the temporary the last
    /// instruction computed, the fused form of the two (see `ir::fuse_arith_then_imm`).
    fn fuse_last_with_imm(&self, op: &Op, a: Entry) -> Option<(Op, Op)> {
        let last = *self.ops.last()?;
        if self.label_at == self.here() || a.src != a.slot {
            return None;
        }
        if last.clone().result_slot_mut().copied() != Some(a.slot) {
            return None;
        }
        super::ir::fuse_arith_then_imm(&last, op)
    }

    /// Whether the top entry is an i32 the last instruction just computed. Every i32
    /// instruction writes its result zero-extended to 64 bits, unlike copies (and selects)
    /// of locals and globals, which hold whatever the host put there.
    fn fresh_zero_extended(&self) -> bool {
        let (Some(top), Some(at)) = (self.stack.last(), self.last_result) else {
            return false;
        };
        let mut op = self.ops[at];
        at + 1 == self.ops.len()
            && top.src == top.slot
            && top.ty == ValType::I32
            && op.result_slot_mut().copied() == Some(top.slot)
            && !matches!(
                op,
                Op::Copy { .. } | Op::GlobalGet { .. } | Op::Select { .. }
            )
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
        let op = f(d, a.src, memarg.offset as u32);
        let op = self.fold_address_add(op, a);
        self.result_op(ty, op);
        Ok(())
    }

    fn store(&mut self, memarg: wasmparser::MemArg, f: fn(Slot, Slot, u32) -> Op) -> Result<()> {
        if memarg.target != wasmparser::MemArgTarget::Memory(0) {
            return Err(unsupported("multiple memories"));
        }
        let v = self.pop();
        let a = self.pop();
        let op = f(a.src, v.src, memarg.offset as u32);
        let op = self.fold_address_add(op, a);
        self.emit(op);
        Ok(())
    }

    /// When the address `addr` of the load or store `op` (offset 0) is a temporary that the
    /// last instruction computed as `x + c` (an `I32AddImm`), removes that instruction and
    /// returns the form of `op` that adds `c` itself (see `ir::with_address_add`); otherwise
    /// `op`. The temporary is read by nothing else, and `x` cannot change in between: the
    /// two are adjacent and no branch lands between them.
    fn fold_address_add(&mut self, op: Op, addr: Entry) -> Op {
        if self.label_at == self.here() || addr.src != addr.slot {
            return op;
        }
        let Some(&Op::I32AddImm { d, a: x, imm }) = self.ops.last() else {
            return op;
        };
        if d != addr.slot {
            return op;
        }
        match super::ir::with_address_add(&op, x, imm) {
            Some(folded) => {
                self.ops.pop();
                folded
            }
            None => op,
        }
    }

    /// Jump threading on the finished code (absolute targets): an unconditional `Br` to a
    /// return becomes that return, and a branch to a `Br` goes straight to its target.
    /// (`br_table` entries stay `Br`s: the table handler reads their targets.)
    fn thread_jumps(&mut self) {
        let mut i = 0;
        while i < self.ops.len() {
            if let Op::BrTable { len, .. } = self.ops[i] {
                i += len as usize + 2;
                continue;
            }
            let mut op = self.ops[i];
            if let Some(t) = op.target_mut() {
                let mut target = *t as usize;
                // A few hops at most: chains are short, and this stops on a cycle.
                for _ in 0..4 {
                    match self.ops[target] {
                        Op::Br { target: next } if next as usize != target => {
                            target = next as usize;
                        }
                        _ => break,
                    }
                }
                let at_return = matches!(self.ops[target], Op::Return | Op::ReturnOne { .. });
                if matches!(op, Op::Br { .. }) && at_return {
                    self.ops[i] = self.ops[target];
                } else if let Some(t) = self.ops[i].target_mut() {
                    *t = target as u32;
                }
            }
            i += 1;
        }
    }

    /// Gives the hoisted constants that some instruction still reads real slots right after
    /// the locals, moving the operand stack up to make room, and writes the instructions
    /// that load them into `prologue`. Returns how many there are.
    fn place_consts(&mut self, prologue: &mut [Op; MAX_CONSTS]) -> usize {
        if self.consts.is_empty() {
            return 0;
        }
        let mut place = [u32::MAX; MAX_CONSTS];
        let mut n = 0u32;
        for op in &mut self.ops {
            op.for_each_slot(|s| {
                if *s >= CONST_BASE {
                    let k = (*s - CONST_BASE) as usize;
                    if place[k] == u32::MAX {
                        place[k] = n;
                        n += 1;
                    }
                }
            });
        }
        if n == 0 {
            return 0;
        }
        let locals = self.local_slots;
        for op in &mut self.ops {
            op.for_each_slot(|s| {
                if *s >= CONST_BASE {
                    *s = locals + place[(*s - CONST_BASE) as usize];
                } else if *s >= locals {
                    *s += n;
                }
            });
        }
        for (k, &p) in place[..self.consts.len()].iter().enumerate() {
            if p != u32::MAX {
                prologue[p as usize] = Op::Const64 {
                    d: locals + p,
                    v: self.consts[k],
                };
            }
        }
        n as usize
    }

    /// Pushes a constant. Inside a loop it is hoisted: it names a slot loaded once per call
    /// (see `place_consts`), so the loop body spends no instruction on it.
    fn constant(&mut self, ty: ValType, v: u64, wide: bool) {
        // Results live in slots 0.., which must not move when the stack does.
        if self.loop_depth > 0 && self.local_slots >= self.result_slots {
            let k = match self.consts.iter().position(|&c| c == v) {
                Some(k) => Some(k),
                None if self.consts.len() < MAX_CONSTS => {
                    self.consts.push(v);
                    Some(self.consts.len() - 1)
                }
                None => None,
            };
            if let Some(k) = k {
                self.push(ty);
                self.stack.last_mut().expect("pushed").src = CONST_BASE + k as Slot;
                self.last_result = None;
                return;
            }
        }
        let d = self.push(ty);
        let op = if wide {
            Op::Const64 { d, v }
        } else {
            Op::Const32 { d, v: v as u32 }
        };
        self.result_op(ty, op);
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
            exit_test: None,
        });
    }

    fn set_target(&mut self, at: usize, target: u32) {
        if target == self.here() {
            self.label_at = target;
        }
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
        if n == 1 && self.result_slots == 1 && self.stack[len - 1].src != 0 {
            let s = self.stack[len - 1].src;
            self.emit(Op::ReturnOne { s });
            return;
        }
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
            if let Some((test, label)) = self.ctrl[idx].exit_test
                && let Some(stay) = super::ir::negate_branch(&self.ops[test as usize], test + 1)
            {
                // Loop rotation: run the loop's first instructions and its exit test here,
                // jumping back past them while the loop continues, so an iteration costs
                // no separate jump.
                for k in start..test {
                    let op = self.ops[k as usize];
                    self.emit(op);
                }
                self.emit(stay);
                let at = self.emit(Op::Br { target: u32::MAX });
                self.add_patch(label as usize, at);
                return;
            }
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
                self.note_exit_test(at, idx);
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

    /// Records the forward branch at `at` (to the block `label`) as the exit test of the
    /// innermost loop if it comes first in the loop, after only a few plain instructions.
    fn note_exit_test(&mut self, at: usize, label: usize) {
        let Some(c) = self.ctrl.last() else { return };
        // Repeating the exit test at the back-edge would move its operators out of the
        // loop header's fuel segment: off with fuel.
        if c.kind != Kind::Loop || c.exit_test.is_some() || self.osr_headers || self.fuel {
            return;
        }
        let start = c.start as usize;
        if at - start > MAX_LOOP_HEADER as usize
            || !self.ops[start..at]
                .iter()
                .all(|op| op.clone().result_slot_mut().is_some())
        {
            return;
        }
        self.ctrl.last_mut().expect("loop").exit_test = Some((at as u32, label as u32));
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

    /// The first slot of the top `n` operands (the arguments of a call), materialised.
    fn arguments_base(&mut self, n: usize) -> (usize, Slot) {
        let first = self.stack.len() - n;
        self.materialize_from(first);
        let base = match self.stack.get(first) {
            Some(e) => e.slot,
            None => self.next_slot(),
        };
        (first, base)
    }

    /// `return_call`: `ReturnCall`, then the `Return` that a native or host callee's call
    /// continues at (its results are then in slots 0.., where `Return` expects them).
    fn return_call(&mut self, func: u32) -> Result<()> {
        let ty = self.module.func_type(func).clone();
        let (first, base) = self.arguments_base(ty.params().len());
        let params = ty.param_slots();
        self.emit(Op::ReturnCall { func, base, params });
        self.emit(Op::Return);
        self.stack.truncate(first);
        self.max_slots = self.max_slots.max(base + params).max(ty.result_slots());
        self.set_unreachable();
        Ok(())
    }

    /// `return_call_indirect`: as [`Self::return_call`], the table and argument slot count
    /// in an `Imm`.
    fn return_call_indirect(&mut self, type_index: u32, table: u32) -> Result<()> {
        let index = self.pop();
        let ty = self.module.types[type_index as usize].clone();
        let (first, base) = self.arguments_base(ty.params().len());
        let params = ty.param_slots();
        self.emit(Op::ReturnCallIndirect {
            ty: type_index,
            index: index.src,
            base,
        });
        self.emit(Op::Imm {
            a: table,
            b: params,
        });
        self.emit(Op::Return);
        self.stack.truncate(first);
        self.max_slots = self.max_slots.max(base + params).max(ty.result_slots());
        self.set_unreachable();
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
        let n = self.stack.len() - 1;
        let pending = self.stack[..n]
            .iter()
            .any(|e| e.src == slot && e.slot != slot);
        if ty.slots() == 1
            && top.src == top.slot
            && let Some(at) = self.last_result
            && self.ops.len() - at <= 2
            && !(pending && self.label_at == at as u32)
            && self.ops[at].clone().result_slot_mut().copied() == Some(top.slot)
        {
            // Copy elimination: the instruction that computed the top entry writes the local
            // itself. Entries below the top that still read the local (deferred `local.get`s)
            // must see its old value, so their copies go *before* that instruction: they
            // write only those entries' own slots, which the instruction does not read (its
            // operands sat above them), and they read the local before it changes.
            let mut at = at;
            if pending {
                // The instruction and its `Imm`/`Ext`, if any.
                let mut tail = [Op::Unreachable; 2];
                let len = self.ops.len() - at;
                tail[..len].copy_from_slice(&self.ops[at..]);
                self.ops.truncate(at);
                self.materialize_local(slot, true);
                at = self.ops.len();
                self.ops.extend_from_slice(&tail[..len]);
            }
            *self.ops[at].result_slot_mut().expect("checked above") = slot;
            self.last_result = None;
            if tee {
                self.stack.last_mut().expect("validated").src = slot;
            } else {
                self.stack.pop();
            }
            return;
        }
        self.materialize_local(slot, true);
        self.emit(Self::copy_op(ty, slot, top.src));
        if !tee {
            self.stack.pop();
        }
    }

    /// Translates one operator; with fuel on, also cuts the code into segments.
    ///
    /// Fuel is charged at the Wasm level so that every tier charges the same: a segment
    /// starts at function entry and after every control operator, each operator costs 1,
    /// and a segment's whole cost is charged by the `Fuel` op at its start. Segments of
    /// unreachable code get no `Fuel` op (they never run).
    fn op(&mut self, op: O<'_>) -> Result<()> {
        if !self.fuel {
            return self.op_inner(op);
        }
        let boundary = crate::ends_fuel_segment(&op)
            && (!self.unreachable || (matches!(op, O::Else | O::End) && self.dead_depth == 0));
        self.seg_cost += 1;
        self.op_inner(op)?;
        if boundary {
            self.close_segment();
            if !self.ctrl.is_empty() && !self.unreachable {
                self.open_segment();
            }
        }
        Ok(())
    }

    fn open_segment(&mut self) {
        self.seg_cost = 0;
        self.seg_at = Some(self.emit(Op::Fuel { cost: 0 }));
    }

    fn close_segment(&mut self) {
        if let Some(at) = self.seg_at.take() {
            self.ops[at] = Op::Fuel {
                cost: self.seg_cost,
            };
        }
        self.seg_cost = 0;
    }

    fn op_inner(&mut self, op: O<'_>) -> Result<()> {
        if self.unreachable {
            match op {
                O::Block { .. } | O::Loop { .. } | O::If { .. } => {
                    self.loops_seen += matches!(op, O::Loop { .. }) as u32;
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
                let ordinal = self.loops_seen;
                self.loops_seen += 1;
                // OSR needs the whole state in the locals: nothing on the operand stack.
                let enterable = self.osr_headers
                    && self.stack.is_empty()
                    && matches!(blockty, BlockType::Empty | BlockType::Type(_));
                self.push_ctrl(Kind::Loop, blockty);
                let at = self.here();
                if enterable && self.loops.last().is_none_or(|l| l.at != at) {
                    self.loops.push(LoopHeader { at, ordinal });
                }
                self.label_at = self.here();
                self.loop_depth += 1;
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
                if c.kind == Kind::Loop {
                    self.loop_depth -= 1;
                }
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
            O::ReturnCall { function_index } => self.return_call(function_index)?,
            O::ReturnCallIndirect {
                type_index,
                table_index,
            } => self.return_call_indirect(type_index, table_index)?,
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
                if a.ty.slots() == 2 {
                    self.stack.push(a);
                    let i = self.stack.len() - 1;
                    self.materialize(i);
                    self.emit(Op::SelectWide {
                        d: a.slot,
                        b: b.src,
                        cond: cond.src,
                    });
                } else {
                    // Both operands are read where they live (no copy of a deferred
                    // `local.get`), and the result can be redirected into a local.
                    let d = self.push(a.ty);
                    let at = self.emit(Op::Select {
                        d,
                        a: a.src,
                        b: b.src,
                    });
                    self.emit(Op::Ext { c: cond.src });
                    self.last_result = Some(at);
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
                } else if v.ty.is_ref() {
                    self.emit(Op::GlobalSet {
                        g: global_index,
                        s: v.src,
                    });
                } else {
                    self.emit(Op::GlobalSetNum {
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
            O::I32Const { value } => self.constant(ValType::I32, value as u32 as u64, false),
            O::I64Const { value } => self.constant(ValType::I64, value as u64, true),
            O::F32Const { value } => self.constant(ValType::F32, value.bits() as u64, false),
            O::F64Const { value } => self.constant(ValType::F64, value.bits(), true),
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
            O::I64ExtendI32U if self.fresh_zero_extended() => {
                // The value is already its own zero extension.
                self.stack.last_mut().expect("validated").ty = ValType::I64;
            }
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
            other => return self.simd(other),
        }
        Ok(())
    }

    /// Index of a 128-bit immediate in the function's pool (shared when repeated).
    fn v128_const(&mut self, v: u128) -> u32 {
        match self.v128.iter().position(|&c| c == v) {
            Some(k) => k as u32,
            None => {
                self.v128.push(v);
                (self.v128.len() - 1) as u32
            }
        }
    }

    fn v_unary(&mut self, ty: ValType, f: impl FnOnce(Slot, Slot) -> Op) -> Result<()> {
        let a = self.pop();
        let d = self.push(ty);
        self.emit(f(d, a.src));
        Ok(())
    }

    fn v_binary(&mut self, f: impl FnOnce(Slot, Slot, Slot) -> Op) -> Result<()> {
        let b = self.pop();
        let a = self.pop();
        let d = self.push(ValType::V128);
        self.emit(f(d, a.src, b.src));
        Ok(())
    }

    /// An instruction with v128 operands `a`, `b` and `c` and a v128 result, then
    /// `Ext { c }`.
    fn v_ternary(&mut self, f: impl FnOnce(Slot, Slot, Slot) -> Op) -> Result<()> {
        let c = self.pop();
        self.v_binary(f)?;
        self.emit(Op::Ext { c: c.src });
        Ok(())
    }

    /// An instruction with operands `a` and `b` and a v128 result, then `Imm { a: imm }`.
    fn v_binary_imm(&mut self, imm: u32, f: impl FnOnce(Slot, Slot, Slot) -> Op) -> Result<()> {
        self.v_binary(f)?;
        self.emit(Op::Imm { a: imm, b: 0 });
        Ok(())
    }

    fn memory0(memarg: &wasmparser::MemArg) -> Result<u32> {
        if memarg.target != wasmparser::MemArgTarget::Memory(0) {
            return Err(unsupported("multiple memories"));
        }
        Ok(memarg.offset as u32)
    }

    /// `v128.loadN_lane`: address and vector operands, offset and lane in an `Imm`.
    fn v_load_lane(
        &mut self,
        memarg: wasmparser::MemArg,
        lane: u8,
        f: impl FnOnce(Slot, Slot, Slot) -> Op,
    ) -> Result<()> {
        let off = Self::memory0(&memarg)?;
        let v = self.pop();
        let a = self.pop();
        let d = self.push(ValType::V128);
        self.emit(f(d, a.src, v.src));
        self.emit(Op::Imm {
            a: off,
            b: lane as u32,
        });
        Ok(())
    }

    /// `v128.storeN_lane`: lane in an `Imm`.
    fn v_store_lane(
        &mut self,
        memarg: wasmparser::MemArg,
        lane: u8,
        f: impl FnOnce(Slot, Slot, u32) -> Op,
    ) -> Result<()> {
        let off = Self::memory0(&memarg)?;
        let v = self.pop();
        let a = self.pop();
        self.emit(f(a.src, v.src, off));
        self.emit(Op::Imm {
            a: lane as u32,
            b: 0,
        });
        Ok(())
    }

    /// The 128-bit SIMD operators (and the error for anything else).
    fn simd(&mut self, op: O<'_>) -> Result<()> {
        macro_rules! simd {
            (
                v_unary { $($vu:ident),* $(,)? }
                to_i32 { $($ti:ident),* $(,)? }
                splat { $($sf:ident => $st:ident),* $(,)? }
                v_binary { $($vb:ident),* $(,)? }
                extract { $($xf:ident => $xt:ident: $xty:ident),* $(,)? }
                replace { $($rf:ident => $rt:ident),* $(,)? }
                load { $($lf:ident),* $(,)? }
                load_lane { $($llf:ident),* $(,)? }
                store_lane { $($slf:ident),* $(,)? }
            ) => {
                match op {
                    $( O::$vu => self.v_unary(ValType::V128, |d, a| Op::$vu { d, a }), )*
                    $( O::$ti => self.v_unary(ValType::I32, |d, a| Op::$ti { d, a }), )*
                    $( O::$sf => self.v_unary(ValType::V128, |d, a| Op::$st { d, a }), )*
                    $( O::$vb => self.v_binary(|d, a, b| Op::$vb { d, a, b }), )*
                    $( O::$xf { lane } => self.v_unary(ValType::$xty, |d, a| Op::$xt {
                        d,
                        a,
                        lane: lane as u32,
                    }), )*
                    $( O::$rf { lane } => {
                        self.v_binary_imm(lane as u32, |d, a, b| Op::$rt { d, a, b })
                    } )*
                    $( O::$lf { memarg } => {
                        self.load(ValType::V128, memarg, |d, a, off| Op::$lf { d, a, off })
                    } )*
                    $( O::$llf { memarg, lane } => {
                        self.v_load_lane(memarg, lane, |d, a, v| Op::$llf { d, a, v })
                    } )*
                    $( O::$slf { memarg, lane } => {
                        self.v_store_lane(memarg, lane, |a, v, off| Op::$slf { a, v, off })
                    } )*
                    O::V128Store { memarg } => {
                        self.store(memarg, |a, v, off| Op::V128Store { a, v, off })
                    }
                    O::V128Const { value } => {
                        let k = self.v128_const(u128::from_le_bytes(*value.bytes()));
                        let d = self.push(ValType::V128);
                        self.emit(Op::V128Const { d, k });
                        Ok(())
                    }
                    O::I8x16Shuffle { lanes } => {
                        let k = self.v128_const(u128::from_le_bytes(lanes));
                        self.v_binary_imm(k, |d, a, b| Op::I8x16Shuffle { d, a, b })
                    }
                    O::V128Bitselect | O::I16x8RelaxedLaneselect => {
                        self.v_ternary(|d, a, b| Op::V128Bitselect { d, a, b })
                    }
                    O::I8x16RelaxedLaneselect => {
                        self.v_ternary(|d, a, b| Op::I8x16RelaxedLaneselect { d, a, b })
                    }
                    O::I32x4RelaxedLaneselect => {
                        self.v_ternary(|d, a, b| Op::I32x4RelaxedLaneselect { d, a, b })
                    }
                    O::I64x2RelaxedLaneselect => {
                        self.v_ternary(|d, a, b| Op::I64x2RelaxedLaneselect { d, a, b })
                    }
                    O::F32x4RelaxedMadd => {
                        self.v_ternary(|d, a, b| Op::F32x4RelaxedMadd { d, a, b })
                    }
                    O::F32x4RelaxedNmadd => {
                        self.v_ternary(|d, a, b| Op::F32x4RelaxedNmadd { d, a, b })
                    }
                    O::F64x2RelaxedMadd => {
                        self.v_ternary(|d, a, b| Op::F64x2RelaxedMadd { d, a, b })
                    }
                    O::F64x2RelaxedNmadd => {
                        self.v_ternary(|d, a, b| Op::F64x2RelaxedNmadd { d, a, b })
                    }
                    O::I32x4RelaxedDotI8x16I7x16AddS => {
                        self.v_ternary(|d, a, b| Op::I32x4RelaxedDotI8x16I7x16AddS { d, a, b })
                    }
                    // Relaxed instructions whose fixed result is that of a 2.0 instruction
                    // (RATIONALE.md, "Which result does each relaxed SIMD instruction
                    // give?").
                    O::F32x4RelaxedMin => self.v_binary(|d, a, b| Op::F32x4PMin { d, a, b }),
                    O::F32x4RelaxedMax => self.v_binary(|d, a, b| Op::F32x4PMax { d, a, b }),
                    O::F64x2RelaxedMin => self.v_binary(|d, a, b| Op::F64x2PMin { d, a, b }),
                    O::F64x2RelaxedMax => self.v_binary(|d, a, b| Op::F64x2PMax { d, a, b }),
                    O::I32x4RelaxedTruncF32x4U => {
                        self.v_unary(ValType::V128, |d, a| Op::I32x4TruncSatF32x4U { d, a })
                    }
                    O::I32x4RelaxedTruncF64x2UZero => self
                        .v_unary(ValType::V128, |d, a| Op::I32x4TruncSatF64x2UZero { d, a }),
                    other => Err(unsupported(format_args!("operator {other:?}"))),
                }
            };
        }
        simd! {
            v_unary {
                V128Not,
                I8x16Abs, I8x16Neg, I8x16Popcnt,
                I16x8ExtAddPairwiseI8x16S, I16x8ExtAddPairwiseI8x16U, I16x8Abs, I16x8Neg,
                I16x8ExtendLowI8x16S, I16x8ExtendHighI8x16S, I16x8ExtendLowI8x16U,
                I16x8ExtendHighI8x16U,
                I32x4ExtAddPairwiseI16x8S, I32x4ExtAddPairwiseI16x8U, I32x4Abs, I32x4Neg,
                I32x4ExtendLowI16x8S, I32x4ExtendHighI16x8S, I32x4ExtendLowI16x8U,
                I32x4ExtendHighI16x8U,
                I64x2Abs, I64x2Neg,
                I64x2ExtendLowI32x4S, I64x2ExtendHighI32x4S, I64x2ExtendLowI32x4U,
                I64x2ExtendHighI32x4U,
                F32x4Ceil, F32x4Floor, F32x4Trunc, F32x4Nearest, F32x4Abs, F32x4Neg, F32x4Sqrt,
                F64x2Ceil, F64x2Floor, F64x2Trunc, F64x2Nearest, F64x2Abs, F64x2Neg, F64x2Sqrt,
                I32x4TruncSatF32x4S, I32x4TruncSatF32x4U, F32x4ConvertI32x4S, F32x4ConvertI32x4U,
                I32x4TruncSatF64x2SZero, I32x4TruncSatF64x2UZero, F64x2ConvertLowI32x4S,
                F64x2ConvertLowI32x4U, F32x4DemoteF64x2Zero, F64x2PromoteLowF32x4,
                I32x4RelaxedTruncF32x4S, I32x4RelaxedTruncF64x2SZero,
            }
            to_i32 {
                V128AnyTrue, I8x16AllTrue, I8x16Bitmask, I16x8AllTrue, I16x8Bitmask,
                I32x4AllTrue, I32x4Bitmask, I64x2AllTrue, I64x2Bitmask,
            }
            splat {
                I8x16Splat => I8x16Splat, I16x8Splat => I16x8Splat, I32x4Splat => I32x4Splat,
                I64x2Splat => I64x2Splat, F32x4Splat => I32x4Splat, F64x2Splat => I64x2Splat,
            }
            v_binary {
                I8x16Shl, I8x16ShrS, I8x16ShrU, I16x8Shl, I16x8ShrS, I16x8ShrU,
                I32x4Shl, I32x4ShrS, I32x4ShrU, I64x2Shl, I64x2ShrS, I64x2ShrU,
                I8x16Swizzle,
                I8x16Eq, I8x16Ne, I8x16LtS, I8x16LtU, I8x16GtS, I8x16GtU, I8x16LeS, I8x16LeU,
                I8x16GeS, I8x16GeU,
                I16x8Eq, I16x8Ne, I16x8LtS, I16x8LtU, I16x8GtS, I16x8GtU, I16x8LeS, I16x8LeU,
                I16x8GeS, I16x8GeU,
                I32x4Eq, I32x4Ne, I32x4LtS, I32x4LtU, I32x4GtS, I32x4GtU, I32x4LeS, I32x4LeU,
                I32x4GeS, I32x4GeU,
                I64x2Eq, I64x2Ne, I64x2LtS, I64x2GtS, I64x2LeS, I64x2GeS,
                F32x4Eq, F32x4Ne, F32x4Lt, F32x4Gt, F32x4Le, F32x4Ge,
                F64x2Eq, F64x2Ne, F64x2Lt, F64x2Gt, F64x2Le, F64x2Ge,
                V128And, V128AndNot, V128Or, V128Xor,
                I8x16NarrowI16x8S, I8x16NarrowI16x8U, I8x16Add, I8x16AddSatS, I8x16AddSatU,
                I8x16Sub, I8x16SubSatS, I8x16SubSatU, I8x16MinS, I8x16MinU, I8x16MaxS,
                I8x16MaxU, I8x16AvgrU,
                I16x8Q15MulrSatS, I16x8NarrowI32x4S, I16x8NarrowI32x4U, I16x8Add, I16x8AddSatS,
                I16x8AddSatU, I16x8Sub, I16x8SubSatS, I16x8SubSatU, I16x8Mul, I16x8MinS,
                I16x8MinU, I16x8MaxS, I16x8MaxU, I16x8AvgrU,
                I16x8ExtMulLowI8x16S, I16x8ExtMulHighI8x16S, I16x8ExtMulLowI8x16U,
                I16x8ExtMulHighI8x16U,
                I32x4Add, I32x4Sub, I32x4Mul, I32x4MinS, I32x4MinU, I32x4MaxS, I32x4MaxU,
                I32x4DotI16x8S,
                I32x4ExtMulLowI16x8S, I32x4ExtMulHighI16x8S, I32x4ExtMulLowI16x8U,
                I32x4ExtMulHighI16x8U,
                I64x2Add, I64x2Sub, I64x2Mul,
                I64x2ExtMulLowI32x4S, I64x2ExtMulHighI32x4S, I64x2ExtMulLowI32x4U,
                I64x2ExtMulHighI32x4U,
                F32x4Add, F32x4Sub, F32x4Mul, F32x4Div, F32x4Min, F32x4Max, F32x4PMin, F32x4PMax,
                F64x2Add, F64x2Sub, F64x2Mul, F64x2Div, F64x2Min, F64x2Max, F64x2PMin, F64x2PMax,
                I8x16RelaxedSwizzle, I16x8RelaxedQ15mulrS, I16x8RelaxedDotI8x16I7x16S,
            }
            extract {
                I8x16ExtractLaneS => I8x16ExtractLaneS: I32,
                I8x16ExtractLaneU => I8x16ExtractLaneU: I32,
                I16x8ExtractLaneS => I16x8ExtractLaneS: I32,
                I16x8ExtractLaneU => I16x8ExtractLaneU: I32,
                I32x4ExtractLane => I32x4ExtractLane: I32,
                I64x2ExtractLane => I64x2ExtractLane: I64,
                F32x4ExtractLane => I32x4ExtractLane: F32,
                F64x2ExtractLane => I64x2ExtractLane: F64,
            }
            replace {
                I8x16ReplaceLane => I8x16ReplaceLane, I16x8ReplaceLane => I16x8ReplaceLane,
                I32x4ReplaceLane => I32x4ReplaceLane, I64x2ReplaceLane => I64x2ReplaceLane,
                F32x4ReplaceLane => I32x4ReplaceLane, F64x2ReplaceLane => I64x2ReplaceLane,
            }
            load {
                V128Load, V128Load8x8S, V128Load8x8U, V128Load16x4S, V128Load16x4U,
                V128Load32x2S, V128Load32x2U, V128Load8Splat, V128Load16Splat, V128Load32Splat,
                V128Load64Splat, V128Load32Zero, V128Load64Zero,
            }
            load_lane { V128Load8Lane, V128Load16Lane, V128Load32Lane, V128Load64Lane }
            store_lane { V128Store8Lane, V128Store16Lane, V128Store32Lane, V128Store64Lane }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Config, Engine};

    /// A loop writing memory (segments: entry, loop header, after `br_if`, after the
    /// loop's `end`).
    const FILL: &str = r#"(module (memory 1)
      (func (param $n i32) (local $i i32)
        (loop $l
          (i32.store (local.get $i) (local.get $i))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $i) (local.get $n))))))"#;

    fn fuel_costs(fuel: bool) -> Vec<u32> {
        let engine = Engine::new(Config {
            fuel,
            ..Config::default()
        });
        let module = crate::Module::new(&engine, &wat::parse_str(FILL).unwrap()).unwrap();
        let code = translate(&module.0, 0).unwrap();
        code.ops
            .iter()
            .filter_map(|op| match op {
                Op::Fuel { cost } => Some(*cost),
                _ => None,
            })
            .collect()
    }

    /// The code of the only function of module `text` (engine `interp`, fuel off).
    fn ops_of(text: &str) -> Vec<Op> {
        let engine = Engine::new(Config::default());
        let module = crate::Module::new(&engine, &wat::parse_str(text).unwrap()).unwrap();
        translate(&module.0, 0).unwrap().ops.to_vec()
    }

    #[test]
    fn results_go_straight_into_locals_that_the_stack_still_reads() {
        // x (old) stays on the stack while x = x + 5: the old value is copied out first,
        // then the addition writes x itself.
        let ops = ops_of(
            r#"(module (func (param $x i32) (result i32)
                local.get $x
                local.get $x i32.const 5 i32.add local.set $x
                local.get $x i32.sub))"#,
        );
        assert!(
            matches!(
                ops[..3],
                [
                    Op::Copy { d: 1, s: 0 },
                    Op::I32AddImm { d: 0, a: 0, imm: 5 },
                    Op::I32Sub { d: 1, a: 1, b: 0 },
                ]
            ),
            "{ops:?}"
        );
        // A `local.tee` chain: the result goes to the first local, one copy to the second.
        let ops = ops_of(
            r#"(module (func (param $x i32) (param $y i32) (result i32) (local $a i32)
                local.get $x local.get $y i32.mul local.tee $a local.set $y
                local.get $y))"#,
        );
        assert!(
            matches!(
                ops[..2],
                [Op::I32Mul { d: 2, a: 0, b: 1 }, Op::Copy { d: 1, s: 2 },]
            ),
            "{ops:?}"
        );
    }

    #[test]
    fn fused_and_immediate_forms() {
        // The `select` picks the rotated value (slot 3) or $p by $x.
        let ops = ops_of(
            r#"(module (memory 1) (func (param $p i32) (param $x i32) (result i32)
                local.get $p i32.const -4 i32.add i32.load
                local.get $p i32.const 8 i32.add local.get $x i32.store8
                local.get $x local.get $p i32.xor i32.const 7 i32.rotl
                i32.const 3 i32.rotr
                local.get $p
                local.get $x
                select
                i32.add))"#,
        );
        let expected = [
            Op::I32LoadAdd {
                d: 2,
                a: 0,
                off: -4i32 as u32,
            },
            Op::I32Store8Add { a: 0, v: 1, off: 8 },
            Op::I32XorRotlImm { d: 3, a: 1, b: 0 },
            Op::Imm { a: 7, b: 0 },
            Op::I32RotrImm { d: 3, a: 3, imm: 3 },
            Op::Select { d: 3, a: 3, b: 0 },
            Op::Ext { c: 1 },
            Op::I32Add { d: 2, a: 2, b: 3 },
        ];
        assert_eq!(ops[..expected.len()], expected, "{ops:?}");
        // A memarg offset keeps the addition apart (it would have to wrap before the offset).
        let ops = ops_of(
            r#"(module (memory 1) (func (param $p i32) (result i32)
                local.get $p i32.const -4 i32.add i32.load offset=8))"#,
        );
        assert!(
            matches!(
                ops[..2],
                [
                    Op::I32AddImm { d: 1, a: 0, .. },
                    Op::I32Load { d: 1, a: 1, off: 8 }
                ]
            ),
            "{ops:?}"
        );
    }

    #[test]
    fn fuel_ops_only_with_fuel_on_and_with_wasm_level_costs() {
        assert_eq!(fuel_costs(false), Vec::<u32>::new(), "free when off");
        // Entry `loop` = 1; body (local.get, local.get, i32.store, local.get, i32.const,
        // i32.add, local.set, local.get, local.get, i32.lt_u, br_if) = 11; `end` = 1;
        // `end` = 1.
        assert_eq!(fuel_costs(true), [1, 11, 1, 1]);
    }
}
