//! The interpreter's instruction set.
//!
//! A function's frame is an array of `u64` slots: parameters, then locals, then the operand
//! stack. Every instruction names its operand and result slots directly (frame-relative), so
//! `local.get` is free and `i32.add` reads two slots and writes one: a register machine whose
//! registers are the Wasm stack positions, with branch targets and stack heights resolved
//! once at translation. A `v128` takes two adjacent slots.
//!
//! Branch targets are absolute instruction indices while a function is being translated and
//! are rewritten into offsets relative to the branch instruction (an `i32` stored in the
//! `u32` field; `<= 0` is a backward branch) when translation ends, so the executor jumps
//! by adding to its instruction pointer.

/// A frame-relative slot index.
pub type Slot = u32;

/// Passes a field of type `Slot` to `g`; fields of other types are not slots.
macro_rules! slot_operand {
    (Slot, $x:ident, $g:ident) => {
        $g($x)
    };
    ($t:ident, $x:ident, $g:ident) => {
        let _ = $x;
    };
}

macro_rules! define_ops {
    (
        $dollar:tt
        unary { $($un:ident),* $(,)? }
        binary { $($bin:ident),* $(,)? }
        load { $($ld:ident),* $(,)? }
        store { $($st:ident),* $(,)? }
        binary_imm { $($bi:ident),* $(,)? }
        branch_cmp { $($bc:ident),* $(,)? }
        branch_cmp_imm { $($bci:ident),* $(,)? }
        result_first { $( $rf:ident { $($rff:ident : $rft:ident),* } ),* $(,)? }
        v_unary { $($vu:ident),* $(,)? }
        v_binary { $($vb:ident),* $(,)? }
        v_load { $($vl:ident),* $(,)? }
        v_store { $($vs:ident),* $(,)? }
        v_lane { $($vx:ident),* $(,)? }
        v_other { $( $(#[$vm:meta])* $vo:ident { $($vof:ident : $voft:ident),* } ),* $(,)? }
        other { $( $(#[$m:meta])* $other:ident $({ $($f:ident : $t:ident),* })? ),* $(,)? }
    ) => {
        /// One interpreter instruction (16 bytes). `repr(u16)`: the first two bytes are the
        /// tag, numbered in declaration order, which the executor uses to index its handler
        /// table. (A 16-bit tag costs no space: every field is 32-bit aligned.)
        #[derive(Clone, Copy, Debug, PartialEq)]
        #[allow(missing_docs)]
        #[repr(u16)]
        pub enum Op {
            $( $un { d: Slot, a: Slot }, )*
            $( $bin { d: Slot, a: Slot, b: Slot }, )*
            $( $ld { d: Slot, a: Slot, off: u32 }, )*
            $( $st { a: Slot, v: Slot, off: u32 }, )*
            $( $bi { d: Slot, a: Slot, imm: u32 }, )*
            $( $bc { a: Slot, b: Slot, target: u32 }, )*
            $( $bci { a: Slot, imm: u32, target: u32 }, )*
            $( $rf { d: Slot, $($rff: $rft),* }, )*
            $( $vu { d: Slot, a: Slot }, )*
            $( $vb { d: Slot, a: Slot, b: Slot }, )*
            $( $vl { d: Slot, a: Slot, off: u32 }, )*
            $( $vs { a: Slot, v: Slot, off: u32 }, )*
            $( $vx { d: Slot, a: Slot, lane: u32 }, )*
            $( $(#[$vm])* $vo { $($vof: $voft),* }, )*
            $( $(#[$m])* $other $({ $($f: $t),* })?, )*
        }

        impl Op {
            /// The slot this instruction writes its single result to, if it has exactly one
            /// and nothing else reads that slot afterwards within the instruction.
            pub fn result_slot_mut(&mut self) -> Option<&mut Slot> {
                match self {
                    $( Op::$un { d, .. } => Some(d), )*
                    $( Op::$bin { d, .. } => Some(d), )*
                    $( Op::$ld { d, .. } => Some(d), )*
                    $( Op::$bi { d, .. } => Some(d), )*
                    $( Op::$rf { d, .. } => Some(d), )*
                    _ => None,
                }
            }

            /// Calls `g` with every frame-slot operand (read or written) of the instruction.
            pub fn for_each_slot(&mut self, mut g: impl FnMut(&mut Slot)) {
                match self {
                    $( Op::$un { d, a } => { g(d); g(a); } )*
                    $( Op::$bin { d, a, b } => { g(d); g(a); g(b); } )*
                    $( Op::$ld { d, a, .. } => { g(d); g(a); } )*
                    $( Op::$st { a, v, .. } => { g(a); g(v); } )*
                    $( Op::$bi { d, a, .. } => { g(d); g(a); } )*
                    $( Op::$bc { a, b, .. } => { g(a); g(b); } )*
                    $( Op::$bci { a, .. } => { g(a); } )*
                    $( Op::$rf { d, $($rff),* } => {
                        g(d);
                        $( slot_operand!($rft, $rff, g); )*
                    } )*
                    $( Op::$vu { d, a } => { g(d); g(a); } )*
                    $( Op::$vb { d, a, b } => { g(d); g(a); g(b); } )*
                    $( Op::$vl { d, a, .. } => { g(d); g(a); } )*
                    $( Op::$vs { a, v, .. } => { g(a); g(v); } )*
                    $( Op::$vx { d, a, .. } => { g(d); g(a); } )*
                    $( Op::$vo { $($vof),* } => {
                        $( slot_operand!($voft, $vof, g); )*
                    } )*
                    $( Op::$other $({ $($f),* })? => {
                        $($( slot_operand!($t, $f, g); )*)?
                    } )*
                }
            }

            /// The branch target of a branch instruction.
            pub fn target_mut(&mut self) -> Option<&mut u32> {
                match self {
                    $( Op::$bc { target, .. } => Some(target), )*
                    $( Op::$bci { target, .. } => Some(target), )*
                    Op::BrI64Eqz { target, .. } | Op::BrI64Nez { target, .. } => Some(target),
                    Op::Br { target }
                    | Op::BrIfNez { target, .. }
                    | Op::BrIfEqz { target, .. }
                    | Op::BackBr { target }
                    | Op::BackBrIfNez { target, .. } => Some(target),
                    _ => None,
                }
            }
        }

        /// Invokes `$m! { Name, ... }` with every instruction name in tag order.
        macro_rules! for_each_op {
            ($dollar m:ident) => {
                $dollar m! {
                    $($un,)* $($bin,)* $($ld,)* $($st,)* $($bi,)* $($bc,)* $($bci,)* $($rf,)*
                    $($vu,)* $($vb,)* $($vl,)* $($vs,)* $($vx,)* $($vo,)*
                    $($other,)*
                }
            };
        }
        pub(crate) use for_each_op;
    };
}

define_ops! {
    $
    unary {
        I32Eqz, I64Eqz, I32Clz, I32Ctz, I32Popcnt, I64Clz, I64Ctz, I64Popcnt,
        F32Abs, F32Neg, F32Ceil, F32Floor, F32Trunc, F32Nearest, F32Sqrt,
        F64Abs, F64Neg, F64Ceil, F64Floor, F64Trunc, F64Nearest, F64Sqrt,
        I32WrapI64, I32TruncF32S, I32TruncF32U, I32TruncF64S, I32TruncF64U,
        I64ExtendI32S, I64ExtendI32U, I64TruncF32S, I64TruncF32U, I64TruncF64S, I64TruncF64U,
        F32ConvertI32S, F32ConvertI32U, F32ConvertI64S, F32ConvertI64U, F32DemoteF64,
        F64ConvertI32S, F64ConvertI32U, F64ConvertI64S, F64ConvertI64U, F64PromoteF32,
        I32Extend8S, I32Extend16S, I64Extend8S, I64Extend16S, I64Extend32S,
        I32TruncSatF32S, I32TruncSatF32U, I32TruncSatF64S, I32TruncSatF64U,
        I64TruncSatF32S, I64TruncSatF32U, I64TruncSatF64S, I64TruncSatF64U,
        RefIsNull,
    }
    binary {
        I32Eq, I32Ne, I32LtS, I32LtU, I32GtS, I32GtU, I32LeS, I32LeU, I32GeS, I32GeU,
        I64Eq, I64Ne, I64LtS, I64LtU, I64GtS, I64GtU, I64LeS, I64LeU, I64GeS, I64GeU,
        F32Eq, F32Ne, F32Lt, F32Gt, F32Le, F32Ge,
        F64Eq, F64Ne, F64Lt, F64Gt, F64Le, F64Ge,
        I32Add, I32Sub, I32Mul, I32DivS, I32DivU, I32RemS, I32RemU,
        I32And, I32Or, I32Xor, I32Shl, I32ShrS, I32ShrU, I32Rotl, I32Rotr,
        I64Add, I64Sub, I64Mul, I64DivS, I64DivU, I64RemS, I64RemU,
        I64And, I64Or, I64Xor, I64Shl, I64ShrS, I64ShrU, I64Rotl, I64Rotr,
        F32Add, F32Sub, F32Mul, F32Div, F32Min, F32Max, F32Copysign,
        F64Add, F64Sub, F64Mul, F64Div, F64Min, F64Max, F64Copysign,
    }
    load {
        I32Load, I64Load, I32Load8S, I32Load8U, I32Load16S, I32Load16U,
        I64Load8S, I64Load8U, I64Load16S, I64Load16U, I64Load32S, I64Load32U,
        // An `i32.add` of a constant fused into a load whose memarg offset is 0: the
        // address is `a + off` wrapped to 32 bits, exactly as the `i32.add` computes it
        // (`off` is the constant).
        I32LoadAdd, I64LoadAdd, I32Load8SAdd, I32Load8UAdd, I32Load16SAdd, I32Load16UAdd,
        I64Load8SAdd, I64Load16SAdd, I64Load32SAdd, I64Load32UAdd,
    }
    store {
        I32Store, I64Store, I32Store8, I32Store16, I64Store8, I64Store16, I64Store32,
        // As the `...Add` loads: the address is `a + off` wrapped to 32 bits.
        I32StoreAdd, I64StoreAdd, I32Store8Add, I32Store16Add,
    }
    binary_imm {
        I32AddImm, I32MulImm, I32AndImm, I32OrImm, I32XorImm, I32ShlImm, I32ShrSImm, I32ShrUImm,
        I32EqImm, I32NeImm, I32LtSImm, I32LtUImm, I32GtSImm, I32GtUImm, I32LeSImm, I32LeUImm,
        I32GeSImm, I32GeUImm,
        I64AddImm, I64MulImm, I64AndImm, I64OrImm, I64XorImm, I64ShlImm, I64ShrSImm, I64ShrUImm,
        I64EqImm, I64NeImm, I64LtSImm, I64LtUImm, I64GtSImm, I64GtUImm, I64LeSImm, I64LeUImm,
        I64GeSImm, I64GeUImm,
        // Rotate counts are taken modulo the width, as by the operators.
        I32RotlImm, I32RotrImm, I64RotlImm, I64RotrImm,
    }
    branch_cmp {
        BrI32Eq, BrI32Ne, BrI32LtS, BrI32LtU, BrI32GtS, BrI32GtU, BrI32LeS, BrI32LeU,
        BrI32GeS, BrI32GeU,
        BrI64Eq, BrI64Ne, BrI64LtS, BrI64LtU, BrI64GtS, BrI64GtU, BrI64LeS, BrI64LeU,
        BrI64GeS, BrI64GeU,
        // Float comparisons are false when an operand is NaN, so each has a negated form.
        BrF32Eq, BrF32Ne, BrF32Lt, BrF32Gt, BrF32Le, BrF32Ge,
        BrF32NotLt, BrF32NotGt, BrF32NotLe, BrF32NotGe,
        BrF64Eq, BrF64Ne, BrF64Lt, BrF64Gt, BrF64Le, BrF64Ge,
        BrF64NotLt, BrF64NotGt, BrF64NotLe, BrF64NotGe,
    }
    branch_cmp_imm {
        BrI32EqImm, BrI32NeImm, BrI32LtSImm, BrI32LtUImm, BrI32GtSImm, BrI32GtUImm,
        BrI32LeSImm, BrI32LeUImm, BrI32GeSImm, BrI32GeUImm,
        // The immediate is sign-extended to 64 bits.
        BrI64EqImm, BrI64NeImm, BrI64LtSImm, BrI64LtUImm, BrI64GtSImm, BrI64GtUImm,
        BrI64LeSImm, BrI64LeUImm, BrI64GeSImm, BrI64GeUImm,
    }
    result_first {
        // d = constant
        Const32 { v: u32 },
        Const64 { v: u64 },
        // d = s
        Copy { s: Slot },
        GlobalGet { g: u32 },
        RefFunc { func: u32 },
        MemorySize { mem: u32 },
        TableGet { i: Slot, table: u32 },
        TableSize { table: u32 },
        // Two f64 operations fused, `T = a op1 b` feeding `d = T op2 c` (`c` in the `Ext`
        // that follows); each is rounded separately, exactly as the two instructions.
        F64AddAdd { a: Slot, b: Slot },
        F64AddSub { a: Slot, b: Slot },
        F64AddRsub { a: Slot, b: Slot },
        F64AddMul { a: Slot, b: Slot },
        F64SubAdd { a: Slot, b: Slot },
        F64SubSub { a: Slot, b: Slot },
        F64SubRsub { a: Slot, b: Slot },
        F64SubMul { a: Slot, b: Slot },
        F64MulAdd { a: Slot, b: Slot },
        F64MulSub { a: Slot, b: Slot },
        F64MulRsub { a: Slot, b: Slot },
        F64MulMul { a: Slot, b: Slot },
        // An integer instruction with an immediate, `T = b op1 imm`, feeding a commutative
        // `d = a op2 T` (`imm` in the `Imm` that follows).
        I32AddShlImm { a: Slot, b: Slot },
        I32AddShrUImm { a: Slot, b: Slot },
        I32AddMulImm { a: Slot, b: Slot },
        I32AddAndImm { a: Slot, b: Slot },
        I32XorShlImm { a: Slot, b: Slot },
        I32XorShrUImm { a: Slot, b: Slot },
        I32XorMulImm { a: Slot, b: Slot },
        I32XorAndImm { a: Slot, b: Slot },
        I32OrShlImm { a: Slot, b: Slot },
        I32OrShrUImm { a: Slot, b: Slot },
        I32OrMulImm { a: Slot, b: Slot },
        I32OrAndImm { a: Slot, b: Slot },
        I64AddShlImm { a: Slot, b: Slot },
        I64AddShrUImm { a: Slot, b: Slot },
        I64AddMulImm { a: Slot, b: Slot },
        I64AddAndImm { a: Slot, b: Slot },
        I64XorShlImm { a: Slot, b: Slot },
        I64XorShrUImm { a: Slot, b: Slot },
        I64XorMulImm { a: Slot, b: Slot },
        I64XorAndImm { a: Slot, b: Slot },
        I64OrShlImm { a: Slot, b: Slot },
        I64OrShrUImm { a: Slot, b: Slot },
        I64OrMulImm { a: Slot, b: Slot },
        I64OrAndImm { a: Slot, b: Slot },
        // An integer instruction `T = a op1 b` feeding `d = T op2 imm` (`imm` in the `Imm`
        // that follows).
        I32XorRotlImm { a: Slot, b: Slot },
        I64XorRotlImm { a: Slot, b: Slot },
        // `d = if c != 0 { a } else { b }` (one-slot values), `c` in the `Ext` that follows.
        Select { a: Slot, b: Slot },
    }
    // 128-bit SIMD. A `v128` operand or result names two slots (low half first). The
    // instructions never write their result before reading every operand, so a result may
    // overlap its operands. Float lane extraction, replacement and splats share the integer
    // instructions of their width (the slot bits are the same).
    v_unary {
        // Scalar operand.
        I8x16Splat, I16x8Splat, I32x4Splat, I64x2Splat,
        // i32 result.
        V128AnyTrue, I8x16AllTrue, I8x16Bitmask, I16x8AllTrue, I16x8Bitmask,
        I32x4AllTrue, I32x4Bitmask, I64x2AllTrue, I64x2Bitmask,
        // v128 operand and result.
        V128Not,
        I8x16Abs, I8x16Neg, I8x16Popcnt,
        I16x8ExtAddPairwiseI8x16S, I16x8ExtAddPairwiseI8x16U, I16x8Abs, I16x8Neg,
        I16x8ExtendLowI8x16S, I16x8ExtendHighI8x16S, I16x8ExtendLowI8x16U, I16x8ExtendHighI8x16U,
        I32x4ExtAddPairwiseI16x8S, I32x4ExtAddPairwiseI16x8U, I32x4Abs, I32x4Neg,
        I32x4ExtendLowI16x8S, I32x4ExtendHighI16x8S, I32x4ExtendLowI16x8U, I32x4ExtendHighI16x8U,
        I64x2Abs, I64x2Neg,
        I64x2ExtendLowI32x4S, I64x2ExtendHighI32x4S, I64x2ExtendLowI32x4U, I64x2ExtendHighI32x4U,
        F32x4Ceil, F32x4Floor, F32x4Trunc, F32x4Nearest, F32x4Abs, F32x4Neg, F32x4Sqrt,
        F64x2Ceil, F64x2Floor, F64x2Trunc, F64x2Nearest, F64x2Abs, F64x2Neg, F64x2Sqrt,
        I32x4TruncSatF32x4S, I32x4TruncSatF32x4U, F32x4ConvertI32x4S, F32x4ConvertI32x4U,
        I32x4TruncSatF64x2SZero, I32x4TruncSatF64x2UZero, F64x2ConvertLowI32x4S,
        F64x2ConvertLowI32x4U, F32x4DemoteF64x2Zero, F64x2PromoteLowF32x4,
        // Relaxed SIMD (the others share the instructions of their deterministic choice).
        I32x4RelaxedTruncF32x4S, I32x4RelaxedTruncF64x2SZero,
    }
    v_binary {
        // Shifts: `b` is the i32 count.
        I8x16Shl, I8x16ShrS, I8x16ShrU, I16x8Shl, I16x8ShrS, I16x8ShrU,
        I32x4Shl, I32x4ShrS, I32x4ShrU, I64x2Shl, I64x2ShrS, I64x2ShrU,
        // Two v128 operands.
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
        I8x16NarrowI16x8S, I8x16NarrowI16x8U, I8x16Add, I8x16AddSatS, I8x16AddSatU, I8x16Sub,
        I8x16SubSatS, I8x16SubSatU, I8x16MinS, I8x16MinU, I8x16MaxS, I8x16MaxU, I8x16AvgrU,
        I16x8Q15MulrSatS, I16x8NarrowI32x4S, I16x8NarrowI32x4U, I16x8Add, I16x8AddSatS,
        I16x8AddSatU, I16x8Sub, I16x8SubSatS, I16x8SubSatU, I16x8Mul, I16x8MinS, I16x8MinU,
        I16x8MaxS, I16x8MaxU, I16x8AvgrU,
        I16x8ExtMulLowI8x16S, I16x8ExtMulHighI8x16S, I16x8ExtMulLowI8x16U, I16x8ExtMulHighI8x16U,
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
    v_load {
        V128Load, V128Load8x8S, V128Load8x8U, V128Load16x4S, V128Load16x4U, V128Load32x2S,
        V128Load32x2U, V128Load8Splat, V128Load16Splat, V128Load32Splat, V128Load64Splat,
        V128Load32Zero, V128Load64Zero,
    }
    v_store {
        V128Store,
    }
    v_lane {
        // Scalar result.
        I8x16ExtractLaneS, I8x16ExtractLaneU, I16x8ExtractLaneS, I16x8ExtractLaneU,
        I32x4ExtractLane, I64x2ExtractLane,
    }
    v_other {
        /// `d = ` the function's 128-bit constant number `k` (`FuncCode::v128_consts`).
        V128Const { d: Slot, k: u32 },
        /// `d = shuffle(a, b)`; the following `Imm` names the constant holding the lanes.
        I8x16Shuffle { d: Slot, a: Slot, b: Slot },
        /// `d = bitselect(a, b, c)`, `c` in the following `Ext`.
        V128Bitselect { d: Slot, a: Slot, b: Slot },
        /// Relaxed SIMD with three v128 operands: `d = op(a, b, c)`, `c` in the following
        /// `Ext`.
        I8x16RelaxedLaneselect { d: Slot, a: Slot, b: Slot },
        I32x4RelaxedLaneselect { d: Slot, a: Slot, b: Slot },
        I64x2RelaxedLaneselect { d: Slot, a: Slot, b: Slot },
        F32x4RelaxedMadd { d: Slot, a: Slot, b: Slot },
        F32x4RelaxedNmadd { d: Slot, a: Slot, b: Slot },
        F64x2RelaxedMadd { d: Slot, a: Slot, b: Slot },
        F64x2RelaxedNmadd { d: Slot, a: Slot, b: Slot },
        I32x4RelaxedDotI8x16I7x16AddS { d: Slot, a: Slot, b: Slot },
        /// `d = a` with a lane replaced by the scalar `b`; lane in the following `Imm`.
        I8x16ReplaceLane { d: Slot, a: Slot, b: Slot },
        I16x8ReplaceLane { d: Slot, a: Slot, b: Slot },
        I32x4ReplaceLane { d: Slot, a: Slot, b: Slot },
        I64x2ReplaceLane { d: Slot, a: Slot, b: Slot },
        /// `d = v` with a lane loaded from address `a`; offset and lane in the following
        /// `Imm`.
        V128Load8Lane { d: Slot, a: Slot, v: Slot },
        V128Load16Lane { d: Slot, a: Slot, v: Slot },
        V128Load32Lane { d: Slot, a: Slot, v: Slot },
        V128Load64Lane { d: Slot, a: Slot, v: Slot },
        /// Stores a lane of `v` at address `a`; lane in the following `Imm`.
        V128Store8Lane { a: Slot, v: Slot, off: u32 },
        V128Store16Lane { a: Slot, v: Slot, off: u32 },
        V128Store32Lane { a: Slot, v: Slot, off: u32 },
        V128Store64Lane { a: Slot, v: Slot, off: u32 },
    }
    other {
        /// Traps with "unreachable".
        Unreachable,
        /// Charges `cost` fuel (the Wasm operator count of the segment it starts), or traps
        /// with "all fuel consumed" leaving the fuel unchanged. Emitted only with fuel on.
        Fuel { cost: u32 },
        /// Unconditional jump (see the module documentation for the target encoding).
        Br { target: u32 },
        /// Jump when `cond` is non-zero.
        BrIfNez { cond: Slot, target: u32 },
        /// Jump when `cond` is zero.
        BrIfEqz { cond: Slot, target: u32 },
        /// A jump back to a loop header: counts a back-edge and checks for interruption.
        BackBr { target: u32 },
        /// Conditional back-edge.
        BackBrIfNez { cond: Slot, target: u32 },
        /// Jump when the 64-bit `cond` is zero.
        BrI64Eqz { cond: Slot, target: u32 },
        /// Jump when the 64-bit `cond` is non-zero.
        BrI64Nez { cond: Slot, target: u32 },
        /// Jumps to the `min(index, len)`-th of the `len + 1` `Br` instructions that follow.
        BrTable { index: Slot, len: u32 },
        /// Pops the frame; results are already in slots 0.. of the frame.
        Return,
        /// Copies slot `s` to slot 0 (the only result) and pops the frame.
        ReturnOne { s: Slot },
        /// Copies a two-slot value (v128).
        CopyWide { d: Slot, s: Slot },
        /// Copies `n` slots from `s..` to `d..` in increasing order (`d <= s`).
        CopyMany { d: Slot, s: Slot, n: u32 },
        /// Two-slot select.
        SelectWide { d: Slot, b: Slot, cond: Slot },
        /// Calls function `func` with arguments (and then results) at `base..`.
        Call { func: u32, base: Slot },
        /// `call_indirect` through table 0; `ty` is the module type index.
        CallIndirect { ty: u32, index: Slot, base: Slot },
        /// `call_indirect` through another table, given by the following `Imm`.
        CallIndirectTable { ty: u32, index: Slot, base: Slot },
        /// `return_call`: the callee's `params` argument slots at `base..` move to slot 0
        /// and it runs in the current frame. A `Return` follows, where the call of a callee
        /// that is native code or a host function continues.
        ReturnCall { func: u32, base: Slot, params: u32 },
        /// `return_call_indirect` (`ty` the module type index): the table and the argument
        /// slot count in the following `Imm`, then a `Return` as for `ReturnCall`.
        ReturnCallIndirect { ty: u32, index: Slot, base: Slot },
        /// An immediate operand of the previous instruction.
        Imm { a: u32, b: u32 },
        /// A third slot operand of the previous (fused) instruction.
        Ext { c: Slot },
        /// `global.set`.
        GlobalSet { g: u32, s: Slot },
        /// `global.set` of a one-slot numeric global: a plain store (no reference to keep
        /// alive), as cheap as `GlobalGet` (`__stack_pointer` is set twice per call).
        GlobalSetNum { g: u32, s: Slot },
        /// Two-slot `global.get`.
        GlobalGetWide { d: Slot, g: u32 },
        /// Two-slot `global.set`.
        GlobalSetWide { g: u32, s: Slot },
        /// `memory.grow` of memory 0.
        MemoryGrow { d: Slot, delta: Slot },
        /// `memory.fill` of memory 0.
        MemoryFill { d: Slot, v: Slot, n: Slot },
        /// `memory.copy` within memory 0.
        MemoryCopy { d: Slot, s: Slot, n: Slot },
        /// `memory.init` from the data segment in the following `Imm`.
        MemoryInit { d: Slot, s: Slot, n: Slot },
        /// `data.drop`.
        DataDrop { data: u32 },
        /// `table.set`.
        TableSet { table: u32, i: Slot, v: Slot },
        /// `table.grow`; table in `Imm`.
        TableGrow { d: Slot, init: Slot, delta: Slot },
        /// `table.fill`; table in `Imm`.
        TableFill { i: Slot, v: Slot, n: Slot },
        /// `table.copy`; tables (dst, src) in `Imm`.
        TableCopy { d: Slot, s: Slot, n: Slot },
        /// `table.init`; table and segment in `Imm`.
        TableInit { d: Slot, s: Slot, n: Slot },
        /// `elem.drop`.
        ElemDrop { elem: u32 },
    }
}

/// Fuses a comparison that feeds a conditional branch: the branch taken when the comparison
/// is true (`when == true`) or false. Returns `None` for instructions that are not fusable.
pub fn fuse_compare(op: &Op, when: bool, target: u32) -> Option<Op> {
    macro_rules! fuse {
        ($($cmp:ident / $neg:ident => $br:ident / $brneg:ident;)*) => {
            match *op {
                $(
                    Op::$cmp { a, b, .. } => Some(if when {
                        Op::$br { a, b, target }
                    } else {
                        Op::$brneg { a, b, target }
                    }),
                )*
                _ => None,
            }
        };
    }
    macro_rules! fuse_imm {
        ($($cmp:ident => $br:ident / $brneg:ident;)*) => {
            match *op {
                $(
                    Op::$cmp { a, imm, .. } => Some(if when {
                        Op::$br { a, imm, target }
                    } else {
                        Op::$brneg { a, imm, target }
                    }),
                )*
                _ => None,
            }
        };
    }
    if let Op::I32Eqz { a, .. } = *op {
        return Some(if when {
            Op::BrIfEqz { cond: a, target }
        } else {
            Op::BrIfNez { cond: a, target }
        });
    }
    if let Op::I64Eqz { a, .. } = *op {
        return Some(if when {
            Op::BrI64Eqz { cond: a, target }
        } else {
            Op::BrI64Nez { cond: a, target }
        });
    }
    fuse! {
        I32Eq / I32Ne => BrI32Eq / BrI32Ne;
        I32Ne / I32Eq => BrI32Ne / BrI32Eq;
        I32LtS / I32GeS => BrI32LtS / BrI32GeS;
        I32LtU / I32GeU => BrI32LtU / BrI32GeU;
        I32GtS / I32LeS => BrI32GtS / BrI32LeS;
        I32GtU / I32LeU => BrI32GtU / BrI32LeU;
        I32LeS / I32GtS => BrI32LeS / BrI32GtS;
        I32LeU / I32GtU => BrI32LeU / BrI32GtU;
        I32GeS / I32LtS => BrI32GeS / BrI32LtS;
        I32GeU / I32LtU => BrI32GeU / BrI32LtU;
        I64Eq / I64Ne => BrI64Eq / BrI64Ne;
        I64Ne / I64Eq => BrI64Ne / BrI64Eq;
        I64LtS / I64GeS => BrI64LtS / BrI64GeS;
        I64LtU / I64GeU => BrI64LtU / BrI64GeU;
        I64GtS / I64LeS => BrI64GtS / BrI64LeS;
        I64GtU / I64LeU => BrI64GtU / BrI64LeU;
        I64LeS / I64GtS => BrI64LeS / BrI64GtS;
        I64LeU / I64GtU => BrI64LeU / BrI64GtU;
        I64GeS / I64LtS => BrI64GeS / BrI64LtS;
        I64GeU / I64LtU => BrI64GeU / BrI64LtU;
        F32Eq / F32Ne => BrF32Eq / BrF32Ne;
        F32Ne / F32Eq => BrF32Ne / BrF32Eq;
        F32Lt / F32NotLt => BrF32Lt / BrF32NotLt;
        F32Gt / F32NotGt => BrF32Gt / BrF32NotGt;
        F32Le / F32NotLe => BrF32Le / BrF32NotLe;
        F32Ge / F32NotGe => BrF32Ge / BrF32NotGe;
        F64Eq / F64Ne => BrF64Eq / BrF64Ne;
        F64Ne / F64Eq => BrF64Ne / BrF64Eq;
        F64Lt / F64NotLt => BrF64Lt / BrF64NotLt;
        F64Gt / F64NotGt => BrF64Gt / BrF64NotGt;
        F64Le / F64NotLe => BrF64Le / BrF64NotLe;
        F64Ge / F64NotGe => BrF64Ge / BrF64NotGe;
    }
    .or_else(|| {
        fuse_imm! {
            I32EqImm => BrI32EqImm / BrI32NeImm;
            I32NeImm => BrI32NeImm / BrI32EqImm;
            I32LtSImm => BrI32LtSImm / BrI32GeSImm;
            I32LtUImm => BrI32LtUImm / BrI32GeUImm;
            I32GtSImm => BrI32GtSImm / BrI32LeSImm;
            I32GtUImm => BrI32GtUImm / BrI32LeUImm;
            I32LeSImm => BrI32LeSImm / BrI32GtSImm;
            I32LeUImm => BrI32LeUImm / BrI32GtUImm;
            I32GeSImm => BrI32GeSImm / BrI32LtSImm;
            I32GeUImm => BrI32GeUImm / BrI32LtUImm;
            I64EqImm => BrI64EqImm / BrI64NeImm;
            I64NeImm => BrI64NeImm / BrI64EqImm;
            I64LtSImm => BrI64LtSImm / BrI64GeSImm;
            I64LtUImm => BrI64LtUImm / BrI64GeUImm;
            I64GtSImm => BrI64GtSImm / BrI64LeSImm;
            I64GtUImm => BrI64GtUImm / BrI64LeUImm;
            I64LeSImm => BrI64LeSImm / BrI64GtSImm;
            I64LeUImm => BrI64LeUImm / BrI64GtUImm;
            I64GeSImm => BrI64GeSImm / BrI64LtSImm;
            I64GeUImm => BrI64GeUImm / BrI64LtUImm;
        }
    })
}

/// Fuses `inner` (`T = a op1 b`) with `outer`, which consumes `T` as its left operand
/// (`t_left`) or right one, into a fused instruction and its `Ext`. `None` when the pair
/// has no fused form.
pub fn fuse_arith(inner: &Op, outer: &Op, t_left: bool) -> Option<(Op, Op)> {
    macro_rules! fuse {
        ($($inner:ident => $add:ident, $sub:ident, $rsub:ident, $mul:ident;)*) => {
            match *inner {
                $(
                    Op::$inner { a, b, .. } => match *outer {
                        Op::F64Add { d, a: l, b: r } => {
                            Some((Op::$add { d, a, b }, Op::Ext { c: if t_left { r } else { l } }))
                        }
                        Op::F64Mul { d, a: l, b: r } => {
                            Some((Op::$mul { d, a, b }, Op::Ext { c: if t_left { r } else { l } }))
                        }
                        Op::F64Sub { d, a: l, b: r } => Some(if t_left {
                            (Op::$sub { d, a, b }, Op::Ext { c: r })
                        } else {
                            (Op::$rsub { d, a, b }, Op::Ext { c: l })
                        }),
                        _ => None,
                    },
                )*
                _ => None,
            }
        };
    }
    fuse! {
        F64Add => F64AddAdd, F64AddSub, F64AddRsub, F64AddMul;
        F64Sub => F64SubAdd, F64SubSub, F64SubRsub, F64SubMul;
        F64Mul => F64MulAdd, F64MulSub, F64MulRsub, F64MulMul;
    }
}

/// Fuses `inner` (`T = x op1 imm`) with the commutative `outer`, which consumes `T`, into a
/// fused instruction and its `Imm`. `None` when the pair has no fused form.
pub fn fuse_arith_imm(inner: &Op, outer: &Op, t_left: bool) -> Option<(Op, Op)> {
    macro_rules! fuse {
        ($($inner:ident => $($outer:ident => $fused:ident),*;)*) => {
            match (*inner, *outer) {
                $($(
                    (Op::$inner { a: x, imm, .. }, Op::$outer { d, a: l, b: r }) => Some((
                        Op::$fused { d, a: if t_left { r } else { l }, b: x },
                        Op::Imm { a: imm, b: 0 },
                    )),
                )*)*
                _ => None,
            }
        };
    }
    fuse! {
        I32ShlImm => I32Add => I32AddShlImm, I32Xor => I32XorShlImm, I32Or => I32OrShlImm;
        I32ShrUImm => I32Add => I32AddShrUImm, I32Xor => I32XorShrUImm, I32Or => I32OrShrUImm;
        I32MulImm => I32Add => I32AddMulImm, I32Xor => I32XorMulImm, I32Or => I32OrMulImm;
        I32AndImm => I32Add => I32AddAndImm, I32Xor => I32XorAndImm, I32Or => I32OrAndImm;
        I64ShlImm => I64Add => I64AddShlImm, I64Xor => I64XorShlImm, I64Or => I64OrShlImm;
        I64ShrUImm => I64Add => I64AddShrUImm, I64Xor => I64XorShrUImm, I64Or => I64OrShrUImm;
        I64MulImm => I64Add => I64AddMulImm, I64Xor => I64XorMulImm, I64Or => I64OrMulImm;
        I64AndImm => I64Add => I64AddAndImm, I64Xor => I64XorAndImm, I64Or => I64OrAndImm;
    }
}

/// Fuses `inner` (`T = a op1 b`) with `outer` (`d = T op2 imm`, reading `T` as its
/// operand) into a fused instruction and its `Imm`. `None` when the pair has no fused form.
pub fn fuse_arith_then_imm(inner: &Op, outer: &Op) -> Option<(Op, Op)> {
    match (*inner, *outer) {
        (Op::I32Xor { a, b, .. }, Op::I32RotlImm { d, imm, .. }) => {
            Some((Op::I32XorRotlImm { d, a, b }, Op::Imm { a: imm, b: 0 }))
        }
        (Op::I64Xor { a, b, .. }, Op::I64RotlImm { d, imm, .. }) => {
            Some((Op::I64XorRotlImm { d, a, b }, Op::Imm { a: imm, b: 0 }))
        }
        _ => None,
    }
}

/// The branch taken exactly when the conditional branch `op` is not, jumping to `target`.
/// `None` for other instructions.
pub fn negate_branch(op: &Op, target: u32) -> Option<Op> {
    macro_rules! negate {
        (cmp: $($x:ident / $y:ident),*; imm: $($xi:ident / $yi:ident),*; cond: $($xc:ident / $yc:ident),*) => {
            match *op {
                $(
                    Op::$x { a, b, .. } => Some(Op::$y { a, b, target }),
                    Op::$y { a, b, .. } => Some(Op::$x { a, b, target }),
                )*
                $(
                    Op::$xi { a, imm, .. } => Some(Op::$yi { a, imm, target }),
                    Op::$yi { a, imm, .. } => Some(Op::$xi { a, imm, target }),
                )*
                $(
                    Op::$xc { cond, .. } => Some(Op::$yc { cond, target }),
                    Op::$yc { cond, .. } => Some(Op::$xc { cond, target }),
                )*
                _ => None,
            }
        };
    }
    negate! {
        cmp: BrI32Eq / BrI32Ne, BrI32LtS / BrI32GeS, BrI32LtU / BrI32GeU,
            BrI32GtS / BrI32LeS, BrI32GtU / BrI32LeU,
            BrI64Eq / BrI64Ne, BrI64LtS / BrI64GeS, BrI64LtU / BrI64GeU,
            BrI64GtS / BrI64LeS, BrI64GtU / BrI64LeU,
            BrF32Eq / BrF32Ne, BrF32Lt / BrF32NotLt, BrF32Gt / BrF32NotGt,
            BrF32Le / BrF32NotLe, BrF32Ge / BrF32NotGe,
            BrF64Eq / BrF64Ne, BrF64Lt / BrF64NotLt, BrF64Gt / BrF64NotGt,
            BrF64Le / BrF64NotLe, BrF64Ge / BrF64NotGe;
        imm: BrI32EqImm / BrI32NeImm, BrI32LtSImm / BrI32GeSImm, BrI32LtUImm / BrI32GeUImm,
            BrI32GtSImm / BrI32LeSImm, BrI32GtUImm / BrI32LeUImm,
            BrI64EqImm / BrI64NeImm, BrI64LtSImm / BrI64GeSImm, BrI64LtUImm / BrI64GeUImm,
            BrI64GtSImm / BrI64LeSImm, BrI64GtUImm / BrI64LeUImm;
        cond: BrIfNez / BrIfEqz, BrI64Nez / BrI64Eqz
    }
}

/// The form of load or store `op` (memarg offset 0) whose address is `x + c` wrapped to 32
/// bits, where `x + c` is the `i32.add` of a constant `c` that computed `op`'s address:
/// `op` with its address operand replaced by `x` and the addition done inside. `None` for
/// instructions without such a form or with a non-zero offset.
pub fn with_address_add(op: &Op, x: Slot, c: u32) -> Option<Op> {
    macro_rules! fold {
        (load: $($l:ident => $la:ident),*; store: $($s:ident => $sa:ident),*) => {
            match *op {
                $( Op::$l { d, off: 0, .. } => Some(Op::$la { d, a: x, off: c }), )*
                $( Op::$s { v, off: 0, .. } => Some(Op::$sa { a: x, v, off: c }), )*
                _ => None,
            }
        };
    }
    fold! {
        load: I32Load => I32LoadAdd, I64Load => I64LoadAdd, I32Load8S => I32Load8SAdd,
            I32Load8U => I32Load8UAdd, I32Load16S => I32Load16SAdd,
            I32Load16U => I32Load16UAdd, I64Load8S => I64Load8SAdd,
            I64Load8U => I32Load8UAdd, I64Load16S => I64Load16SAdd,
            I64Load16U => I32Load16UAdd, I64Load32S => I64Load32SAdd,
            I64Load32U => I64Load32UAdd;
        store: I32Store => I32StoreAdd, I64Store => I64StoreAdd, I32Store8 => I32Store8Add,
            I32Store16 => I32Store16Add
    }
}

/// The immediate form of a binary instruction whose right operand is the constant `c`, if
/// there is one and `c` fits.
pub fn with_immediate(op: &Op, c: u64) -> Option<Op> {
    let c32 = c as u32;
    // i64 immediates are sign-extended from 32 bits.
    let fits64 = (c as i64) == (c as i32 as i64);
    macro_rules! imm32 {
        ($($from:ident => $to:ident),* $(,)?) => {
            match *op {
                $( Op::$from { d, a, .. } => return Some(Op::$to { d, a, imm: c32 }), )*
                _ => {}
            }
        };
    }
    macro_rules! imm64 {
        ($($from:ident => $to:ident),* $(,)?) => {
            match *op {
                $( Op::$from { d, a, .. } if fits64 => return Some(Op::$to { d, a, imm: c32 }), )*
                _ => {}
            }
        };
    }
    imm32! {
        I32Add => I32AddImm, I32Mul => I32MulImm, I32And => I32AndImm, I32Or => I32OrImm,
        I32Xor => I32XorImm, I32Shl => I32ShlImm, I32ShrS => I32ShrSImm, I32ShrU => I32ShrUImm,
        I32Eq => I32EqImm, I32Ne => I32NeImm, I32LtS => I32LtSImm, I32LtU => I32LtUImm,
        I32GtS => I32GtSImm, I32GtU => I32GtUImm, I32LeS => I32LeSImm, I32LeU => I32LeUImm,
        I32GeS => I32GeSImm, I32GeU => I32GeUImm, I32Rotl => I32RotlImm, I32Rotr => I32RotrImm,
    }
    // Any 64-bit count rotates by its value modulo 64.
    match *op {
        Op::I64Rotl { d, a, .. } => {
            return Some(Op::I64RotlImm {
                d,
                a,
                imm: c32 & 63,
            });
        }
        Op::I64Rotr { d, a, .. } => {
            return Some(Op::I64RotrImm {
                d,
                a,
                imm: c32 & 63,
            });
        }
        _ => {}
    }
    if let Op::I32Sub { d, a, .. } = *op {
        return Some(Op::I32AddImm {
            d,
            a,
            imm: c32.wrapping_neg(),
        });
    }
    imm64! {
        I64Add => I64AddImm, I64Mul => I64MulImm, I64And => I64AndImm, I64Or => I64OrImm,
        I64Xor => I64XorImm, I64Shl => I64ShlImm, I64ShrS => I64ShrSImm, I64ShrU => I64ShrUImm,
        I64Eq => I64EqImm, I64Ne => I64NeImm, I64LtS => I64LtSImm, I64LtU => I64LtUImm,
        I64GtS => I64GtSImm, I64GtU => I64GtUImm, I64LeS => I64LeSImm, I64LeU => I64LeUImm,
        I64GeS => I64GeSImm, I64GeU => I64GeUImm,
    }
    if let Op::I64Sub { d, a, .. } = *op {
        let neg = (c as i64).wrapping_neg();
        if neg == neg as i32 as i64 {
            return Some(Op::I64AddImm {
                d,
                a,
                imm: neg as u32,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn op_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<super::Op>(), 16);
    }
}
