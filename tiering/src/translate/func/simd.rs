//! The SIMD operators of WebAssembly 2.0 (the 0xFD prefix) and relaxed SIMD.
//!
//! Each relaxed instruction computes one fixed result, the same as the interpreter's
//! (`kiln_runtime::interp::simd`; RATIONALE.md, "Which result does each relaxed SIMD
//! instruction give?"): mostly the single x86 instruction the proposal was modelled on.
//!
//! Every v128 value on the value stack, in a local, a block parameter or a call is an
//! `i8x16`; an operator bitcasts its operands to the lane type it works on and its result
//! back to `i8x16` (the bitcasts cost nothing on the host).

use super::{Access, FuncTranslator, Result, simd};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::types::{F32X4, F64X2, I8, I8X16, I16, I16X8, I32, I32X4, I64, I64X2};
use cranelift_codegen::ir::{ConstantData, Endianness, InstBuilder, MemFlagsData, Type, Value};
use wasmparser::{MemArg, Operator};

/// Flags of a bitcast between vector types: lanes in little-endian order, as in Wasm.
fn cast_flags() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

impl FuncTranslator<'_, '_> {
    /// The constant v128 with little-endian `bits`.
    pub(super) fn v128_const(&mut self, bits: u128) -> Value {
        self.vconst(I8X16, bits)
    }

    /// The constant vector of type `ty` with little-endian `bits`.
    fn vconst(&mut self, ty: Type, bits: u128) -> Value {
        let data = ConstantData::from(&bits.to_le_bytes()[..]);
        let handle = self.b.func.dfg.constants.insert(data);
        self.b.ins().vconst(ty, handle)
    }

    /// `v` as a vector of type `ty`.
    fn cast(&mut self, v: Value, ty: Type) -> Value {
        if self.b.func.dfg.value_type(v) == ty {
            v
        } else {
            self.b.ins().bitcast(ty, cast_flags(), v)
        }
    }

    /// Pops a v128 as a vector of type `ty`.
    fn pop_v(&mut self, ty: Type) -> Result<Value> {
        let v = self.pop()?;
        Ok(self.cast(v, ty))
    }

    fn pop2_v(&mut self, ty: Type) -> Result<(Value, Value)> {
        let b = self.pop_v(ty)?;
        let a = self.pop_v(ty)?;
        Ok((a, b))
    }

    /// Pushes vector `v` as an `i8x16`.
    fn push_v(&mut self, v: Value) {
        let v = self.cast(v, I8X16);
        self.push(v);
    }

    /// A scalar load of `lane` (its full width) from the address on the stack.
    fn load_scalar(&mut self, lane: Type, memarg: &MemArg) -> Result<Value> {
        self.load(lane, Access::Full, memarg)?;
        self.pop()
    }

    /// Loads 8 bytes and widens its lanes (`v128.load8x8_s` and the like).
    fn load_extend(&mut self, memarg: &MemArg, signed: bool, half: Type) -> Result<()> {
        let bits = self.load_scalar(I64, memarg)?;
        let v = self.b.ins().scalar_to_vector(I64X2, bits);
        let v = self.cast(v, half);
        let w = if signed {
            self.b.ins().swiden_low(v)
        } else {
            self.b.ins().uwiden_low(v)
        };
        self.push_v(w);
        Ok(())
    }

    fn load_splat(&mut self, vty: Type, memarg: &MemArg) -> Result<()> {
        let x = self.load_scalar(vty.lane_type(), memarg)?;
        let v = self.b.ins().splat(vty, x);
        self.push_v(v);
        Ok(())
    }

    fn load_zero(&mut self, vty: Type, memarg: &MemArg) -> Result<()> {
        let x = self.load_scalar(vty.lane_type(), memarg)?;
        let v = self.b.ins().scalar_to_vector(vty, x);
        self.push_v(v);
        Ok(())
    }

    fn load_lane(&mut self, vty: Type, memarg: &MemArg, lane: u8) -> Result<()> {
        let vec = self.pop_v(vty)?;
        let x = self.load_scalar(vty.lane_type(), memarg)?;
        let v = self.b.ins().insertlane(vec, x, lane);
        self.push_v(v);
        Ok(())
    }

    fn store_lane(&mut self, vty: Type, memarg: &MemArg, lane: u8) -> Result<()> {
        let vec = self.pop_v(vty)?;
        let x = self.b.ins().extractlane(vec, lane);
        self.push(x);
        self.store(Access::Full, memarg)
    }

    fn extract_lane(&mut self, vty: Type, lane: u8, signed: Option<bool>) -> Result<()> {
        let vec = self.pop_v(vty)?;
        let x = self.b.ins().extractlane(vec, lane);
        let x = match signed {
            Some(true) => self.b.ins().sextend(I32, x),
            Some(false) => self.b.ins().uextend(I32, x),
            None => x,
        };
        self.push(x);
        Ok(())
    }

    fn replace_lane(&mut self, vty: Type, lane: u8) -> Result<()> {
        let mut x = self.pop()?;
        let vec = self.pop_v(vty)?;
        if matches!(vty.lane_type(), I8 | I16) {
            x = self.b.ins().ireduce(vty.lane_type(), x);
        }
        let v = self.b.ins().insertlane(vec, x, lane);
        self.push_v(v);
        Ok(())
    }

    fn splat(&mut self, vty: Type) -> Result<()> {
        let mut x = self.pop()?;
        if matches!(vty.lane_type(), I8 | I16) {
            x = self.b.ins().ireduce(vty.lane_type(), x);
        }
        let v = self.b.ins().splat(vty, x);
        self.push_v(v);
        Ok(())
    }

    fn vicmp(&mut self, vty: Type, cc: IntCC) -> Result<()> {
        let (a, b) = self.pop2_v(vty)?;
        let v = self.b.ins().icmp(cc, a, b);
        self.push_v(v);
        Ok(())
    }

    fn vfcmp(&mut self, vty: Type, cc: FloatCC) -> Result<()> {
        let (a, b) = self.pop2_v(vty)?;
        let v = self.b.ins().fcmp(cc, a, b);
        self.push_v(v);
        Ok(())
    }

    /// A shift of the lanes of `vty` by the `i32` on the stack modulo the lane width (which
    /// Cranelift's vector shifts also do; the explicit mask does not depend on it).
    fn vshift(&mut self, vty: Type, kind: u8) -> Result<()> {
        let amount = self.pop()?;
        let a = self.pop_v(vty)?;
        let masked = self
            .b
            .ins()
            .band_imm_u(amount, i64::from(vty.lane_bits() - 1));
        let v = match kind {
            0 => self.b.ins().ishl(a, masked),
            1 => self.b.ins().sshr(a, masked),
            _ => self.b.ins().ushr(a, masked),
        };
        self.push_v(v);
        Ok(())
    }

    /// Widens the low or high half of `a` (signed or not).
    fn widen(&mut self, a: Value, signed: bool, high: bool) -> Value {
        let ins = self.b.ins();
        match (signed, high) {
            (true, false) => ins.swiden_low(a),
            (true, true) => ins.swiden_high(a),
            (false, false) => ins.uwiden_low(a),
            (false, true) => ins.uwiden_high(a),
        }
    }

    fn extend(&mut self, from: Type, signed: bool, high: bool) -> Result<()> {
        let a = self.pop_v(from)?;
        let v = self.widen(a, signed, high);
        self.push_v(v);
        Ok(())
    }

    fn extmul(&mut self, from: Type, signed: bool, high: bool) -> Result<()> {
        let (a, b) = self.pop2_v(from)?;
        let a = self.widen(a, signed, high);
        let b = self.widen(b, signed, high);
        let v = self.b.ins().imul(a, b);
        self.push_v(v);
        Ok(())
    }

    fn extadd_pairwise(&mut self, from: Type, signed: bool) -> Result<()> {
        let a = self.pop_v(from)?;
        let lo = self.widen(a, signed, false);
        let hi = self.widen(a, signed, true);
        let v = self.b.ins().iadd_pairwise(lo, hi);
        self.push_v(v);
        Ok(())
    }

    /// `f32x4.pmin` and friends: `b < a ? b : a` (`min`) or `a < b ? b : a` (`max`),
    /// lane-wise, without NaN or zero-sign special cases.
    fn pminmax(&mut self, vty: Type, max: bool) -> Result<()> {
        let (a, b) = self.pop2_v(vty)?;
        let cmp = if max {
            self.b.ins().fcmp(FloatCC::LessThan, a, b)
        } else {
            self.b.ins().fcmp(FloatCC::LessThan, b, a)
        };
        let cmp = self.cast(cmp, vty);
        let v = self.b.ins().bitselect(cmp, b, a);
        self.push_v(v);
        Ok(())
    }

    /// `i32x4.trunc_sat_f64x2_{s,u}_zero`.
    fn trunc_sat_zero(&mut self, signed: bool) -> Result<()> {
        let a = self.pop_v(F64X2)?;
        // Typed i64x2 at once: the x64 backend lowers `snarrow`/`uunarrow` of i64x2 only
        // in this pattern (with a `vconst` of zero).
        let zero = self.vconst(I64X2, 0);
        let v = if signed {
            let c = self.b.ins().fcvt_to_sint_sat(I64X2, a);
            self.b.ins().snarrow(c, zero)
        } else {
            let c = self.b.ins().fcvt_to_uint_sat(I64X2, a);
            self.b.ins().uunarrow(c, zero)
        };
        self.push_v(v);
        Ok(())
    }

    /// `i32x4.relaxed_trunc_f64x2_s_zero` as `cvttpd2dq` (NaN and out of range give
    /// `i32::MIN`): the x64 backend lowers `x86_cvtt2dq` of f64x2 only in this pattern.
    fn relaxed_trunc_zero_s(&mut self) -> Result<()> {
        let a = self.pop_v(F64X2)?;
        let zero = self.vconst(I64X2, 0);
        let c = self.b.ins().x86_cvtt2dq(I64X2, a);
        let v = self.b.ins().snarrow(c, zero);
        self.push_v(v);
        Ok(())
    }

    /// The relaxed lane selects of `vty` (`a` where the mask lane's top bit is set, as
    /// `pblendvb`/`blendvps`/`blendvpd`).
    fn relaxed_laneselect(&mut self, vty: Type) -> Result<()> {
        let mask = self.pop_v(vty)?;
        let (a, b) = self.pop2_v(vty)?;
        let v = self.b.ins().blendv(mask, a, b);
        self.push_v(v);
        Ok(())
    }

    /// `relaxed_madd` (`a * b + c`) and `relaxed_nmadd` (`-a * b + c`), unfused.
    fn relaxed_madd(&mut self, vty: Type, negate: bool) -> Result<()> {
        let c = self.pop_v(vty)?;
        let (mut a, b) = self.pop2_v(vty)?;
        if negate {
            a = self.b.ins().fneg(a);
        }
        let product = self.b.ins().fmul(a, b);
        let v = self.b.ins().fadd(product, c);
        self.push_v(v);
        Ok(())
    }

    pub(super) fn simd_operator(&mut self, op: Operator<'_>) -> Result<()> {
        use Operator as O;

        if !self.simd_ok {
            return Err(simd("the host CPU lacks SSE4.1 or SSSE3"));
        }

        macro_rules! un {
            ($ty:expr, $f:ident) => {{
                let a = self.pop_v($ty)?;
                let v = self.b.ins().$f(a);
                self.push_v(v);
            }};
        }
        macro_rules! bin {
            ($ty:expr, $f:ident) => {{
                let (a, b) = self.pop2_v($ty)?;
                let v = self.b.ins().$f(a, b);
                self.push_v(v);
            }};
        }
        macro_rules! conv {
            ($from:expr, $f:ident, $to:expr) => {{
                let a = self.pop_v($from)?;
                let v = self.b.ins().$f($to, a);
                self.push_v(v);
            }};
        }
        macro_rules! to_i32 {
            ($ty:expr, $f:ident) => {{
                let a = self.pop_v($ty)?;
                let c = self.b.ins().$f(a);
                let v = self.b.ins().uextend(I32, c);
                self.push(v);
            }};
        }

        match op {
            // ----- memory -----
            O::V128Load { memarg } => self.load(I8X16, Access::Full, &memarg)?,
            O::V128Store { memarg } => self.store(Access::Full, &memarg)?,
            O::V128Load8x8S { memarg } => self.load_extend(&memarg, true, I8X16)?,
            O::V128Load8x8U { memarg } => self.load_extend(&memarg, false, I8X16)?,
            O::V128Load16x4S { memarg } => self.load_extend(&memarg, true, I16X8)?,
            O::V128Load16x4U { memarg } => self.load_extend(&memarg, false, I16X8)?,
            O::V128Load32x2S { memarg } => self.load_extend(&memarg, true, I32X4)?,
            O::V128Load32x2U { memarg } => self.load_extend(&memarg, false, I32X4)?,
            O::V128Load8Splat { memarg } => self.load_splat(I8X16, &memarg)?,
            O::V128Load16Splat { memarg } => self.load_splat(I16X8, &memarg)?,
            O::V128Load32Splat { memarg } => self.load_splat(I32X4, &memarg)?,
            O::V128Load64Splat { memarg } => self.load_splat(I64X2, &memarg)?,
            O::V128Load32Zero { memarg } => self.load_zero(I32X4, &memarg)?,
            O::V128Load64Zero { memarg } => self.load_zero(I64X2, &memarg)?,
            O::V128Load8Lane { memarg, lane } => self.load_lane(I8X16, &memarg, lane)?,
            O::V128Load16Lane { memarg, lane } => self.load_lane(I16X8, &memarg, lane)?,
            O::V128Load32Lane { memarg, lane } => self.load_lane(I32X4, &memarg, lane)?,
            O::V128Load64Lane { memarg, lane } => self.load_lane(I64X2, &memarg, lane)?,
            O::V128Store8Lane { memarg, lane } => self.store_lane(I8X16, &memarg, lane)?,
            O::V128Store16Lane { memarg, lane } => self.store_lane(I16X8, &memarg, lane)?,
            O::V128Store32Lane { memarg, lane } => self.store_lane(I32X4, &memarg, lane)?,
            O::V128Store64Lane { memarg, lane } => self.store_lane(I64X2, &memarg, lane)?,

            // ----- constants, lanes, shuffles -----
            O::V128Const { value } => {
                let v = self.v128_const(u128::from_le_bytes(*value.bytes()));
                self.push(v);
            }
            O::I8x16Shuffle { lanes } => {
                let (a, b) = self.pop2_v(I8X16)?;
                let mask = self
                    .b
                    .func
                    .dfg
                    .immediates
                    .push(ConstantData::from(&lanes[..]));
                let v = self.b.ins().shuffle(a, b, mask);
                self.push_v(v);
            }
            O::I8x16Swizzle => bin!(I8X16, swizzle),
            O::I8x16Splat => self.splat(I8X16)?,
            O::I16x8Splat => self.splat(I16X8)?,
            O::I32x4Splat => self.splat(I32X4)?,
            O::I64x2Splat => self.splat(I64X2)?,
            O::F32x4Splat => self.splat(F32X4)?,
            O::F64x2Splat => self.splat(F64X2)?,
            O::I8x16ExtractLaneS { lane } => self.extract_lane(I8X16, lane, Some(true))?,
            O::I8x16ExtractLaneU { lane } => self.extract_lane(I8X16, lane, Some(false))?,
            O::I16x8ExtractLaneS { lane } => self.extract_lane(I16X8, lane, Some(true))?,
            O::I16x8ExtractLaneU { lane } => self.extract_lane(I16X8, lane, Some(false))?,
            O::I32x4ExtractLane { lane } => self.extract_lane(I32X4, lane, None)?,
            O::I64x2ExtractLane { lane } => self.extract_lane(I64X2, lane, None)?,
            O::F32x4ExtractLane { lane } => self.extract_lane(F32X4, lane, None)?,
            O::F64x2ExtractLane { lane } => self.extract_lane(F64X2, lane, None)?,
            O::I8x16ReplaceLane { lane } => self.replace_lane(I8X16, lane)?,
            O::I16x8ReplaceLane { lane } => self.replace_lane(I16X8, lane)?,
            O::I32x4ReplaceLane { lane } => self.replace_lane(I32X4, lane)?,
            O::I64x2ReplaceLane { lane } => self.replace_lane(I64X2, lane)?,
            O::F32x4ReplaceLane { lane } => self.replace_lane(F32X4, lane)?,
            O::F64x2ReplaceLane { lane } => self.replace_lane(F64X2, lane)?,

            // ----- integer comparisons -----
            O::I8x16Eq => self.vicmp(I8X16, IntCC::Equal)?,
            O::I8x16Ne => self.vicmp(I8X16, IntCC::NotEqual)?,
            O::I8x16LtS => self.vicmp(I8X16, IntCC::SignedLessThan)?,
            O::I8x16LtU => self.vicmp(I8X16, IntCC::UnsignedLessThan)?,
            O::I8x16GtS => self.vicmp(I8X16, IntCC::SignedGreaterThan)?,
            O::I8x16GtU => self.vicmp(I8X16, IntCC::UnsignedGreaterThan)?,
            O::I8x16LeS => self.vicmp(I8X16, IntCC::SignedLessThanOrEqual)?,
            O::I8x16LeU => self.vicmp(I8X16, IntCC::UnsignedLessThanOrEqual)?,
            O::I8x16GeS => self.vicmp(I8X16, IntCC::SignedGreaterThanOrEqual)?,
            O::I8x16GeU => self.vicmp(I8X16, IntCC::UnsignedGreaterThanOrEqual)?,
            O::I16x8Eq => self.vicmp(I16X8, IntCC::Equal)?,
            O::I16x8Ne => self.vicmp(I16X8, IntCC::NotEqual)?,
            O::I16x8LtS => self.vicmp(I16X8, IntCC::SignedLessThan)?,
            O::I16x8LtU => self.vicmp(I16X8, IntCC::UnsignedLessThan)?,
            O::I16x8GtS => self.vicmp(I16X8, IntCC::SignedGreaterThan)?,
            O::I16x8GtU => self.vicmp(I16X8, IntCC::UnsignedGreaterThan)?,
            O::I16x8LeS => self.vicmp(I16X8, IntCC::SignedLessThanOrEqual)?,
            O::I16x8LeU => self.vicmp(I16X8, IntCC::UnsignedLessThanOrEqual)?,
            O::I16x8GeS => self.vicmp(I16X8, IntCC::SignedGreaterThanOrEqual)?,
            O::I16x8GeU => self.vicmp(I16X8, IntCC::UnsignedGreaterThanOrEqual)?,
            O::I32x4Eq => self.vicmp(I32X4, IntCC::Equal)?,
            O::I32x4Ne => self.vicmp(I32X4, IntCC::NotEqual)?,
            O::I32x4LtS => self.vicmp(I32X4, IntCC::SignedLessThan)?,
            O::I32x4LtU => self.vicmp(I32X4, IntCC::UnsignedLessThan)?,
            O::I32x4GtS => self.vicmp(I32X4, IntCC::SignedGreaterThan)?,
            O::I32x4GtU => self.vicmp(I32X4, IntCC::UnsignedGreaterThan)?,
            O::I32x4LeS => self.vicmp(I32X4, IntCC::SignedLessThanOrEqual)?,
            O::I32x4LeU => self.vicmp(I32X4, IntCC::UnsignedLessThanOrEqual)?,
            O::I32x4GeS => self.vicmp(I32X4, IntCC::SignedGreaterThanOrEqual)?,
            O::I32x4GeU => self.vicmp(I32X4, IntCC::UnsignedGreaterThanOrEqual)?,
            O::I64x2Eq => self.vicmp(I64X2, IntCC::Equal)?,
            O::I64x2Ne => self.vicmp(I64X2, IntCC::NotEqual)?,
            O::I64x2LtS => self.vicmp(I64X2, IntCC::SignedLessThan)?,
            O::I64x2GtS => self.vicmp(I64X2, IntCC::SignedGreaterThan)?,
            O::I64x2LeS => self.vicmp(I64X2, IntCC::SignedLessThanOrEqual)?,
            O::I64x2GeS => self.vicmp(I64X2, IntCC::SignedGreaterThanOrEqual)?,

            // ----- float comparisons -----
            O::F32x4Eq => self.vfcmp(F32X4, FloatCC::Equal)?,
            O::F32x4Ne => self.vfcmp(F32X4, FloatCC::NotEqual)?,
            O::F32x4Lt => self.vfcmp(F32X4, FloatCC::LessThan)?,
            O::F32x4Gt => self.vfcmp(F32X4, FloatCC::GreaterThan)?,
            O::F32x4Le => self.vfcmp(F32X4, FloatCC::LessThanOrEqual)?,
            O::F32x4Ge => self.vfcmp(F32X4, FloatCC::GreaterThanOrEqual)?,
            O::F64x2Eq => self.vfcmp(F64X2, FloatCC::Equal)?,
            O::F64x2Ne => self.vfcmp(F64X2, FloatCC::NotEqual)?,
            O::F64x2Lt => self.vfcmp(F64X2, FloatCC::LessThan)?,
            O::F64x2Gt => self.vfcmp(F64X2, FloatCC::GreaterThan)?,
            O::F64x2Le => self.vfcmp(F64X2, FloatCC::LessThanOrEqual)?,
            O::F64x2Ge => self.vfcmp(F64X2, FloatCC::GreaterThanOrEqual)?,

            // ----- bitwise -----
            O::V128Not => un!(I8X16, bnot),
            O::V128And => bin!(I8X16, band),
            O::V128AndNot => bin!(I8X16, band_not),
            O::V128Or => bin!(I8X16, bor),
            O::V128Xor => bin!(I8X16, bxor),
            O::V128Bitselect => {
                let c = self.pop_v(I8X16)?;
                let (a, b) = self.pop2_v(I8X16)?;
                let v = self.b.ins().bitselect(c, a, b);
                self.push_v(v);
            }
            O::V128AnyTrue => to_i32!(I8X16, vany_true),
            O::I8x16AllTrue => to_i32!(I8X16, vall_true),
            O::I16x8AllTrue => to_i32!(I16X8, vall_true),
            O::I32x4AllTrue => to_i32!(I32X4, vall_true),
            O::I64x2AllTrue => to_i32!(I64X2, vall_true),
            O::I8x16Bitmask | O::I16x8Bitmask | O::I32x4Bitmask | O::I64x2Bitmask => {
                let ty = match op {
                    O::I8x16Bitmask => I8X16,
                    O::I16x8Bitmask => I16X8,
                    O::I32x4Bitmask => I32X4,
                    _ => I64X2,
                };
                let a = self.pop_v(ty)?;
                let v = self.b.ins().vhigh_bits(I32, a);
                self.push(v);
            }

            // ----- shifts -----
            O::I8x16Shl => self.vshift(I8X16, 0)?,
            O::I8x16ShrS => self.vshift(I8X16, 1)?,
            O::I8x16ShrU => self.vshift(I8X16, 2)?,
            O::I16x8Shl => self.vshift(I16X8, 0)?,
            O::I16x8ShrS => self.vshift(I16X8, 1)?,
            O::I16x8ShrU => self.vshift(I16X8, 2)?,
            O::I32x4Shl => self.vshift(I32X4, 0)?,
            O::I32x4ShrS => self.vshift(I32X4, 1)?,
            O::I32x4ShrU => self.vshift(I32X4, 2)?,
            O::I64x2Shl => self.vshift(I64X2, 0)?,
            O::I64x2ShrS => self.vshift(I64X2, 1)?,
            O::I64x2ShrU => self.vshift(I64X2, 2)?,

            // ----- integer arithmetic -----
            O::I8x16Abs => un!(I8X16, iabs),
            O::I16x8Abs => un!(I16X8, iabs),
            O::I32x4Abs => un!(I32X4, iabs),
            O::I64x2Abs => un!(I64X2, iabs),
            O::I8x16Neg => un!(I8X16, ineg),
            O::I16x8Neg => un!(I16X8, ineg),
            O::I32x4Neg => un!(I32X4, ineg),
            O::I64x2Neg => un!(I64X2, ineg),
            O::I8x16Popcnt => un!(I8X16, popcnt),
            O::I8x16Add => bin!(I8X16, iadd),
            O::I16x8Add => bin!(I16X8, iadd),
            O::I32x4Add => bin!(I32X4, iadd),
            O::I64x2Add => bin!(I64X2, iadd),
            O::I8x16Sub => bin!(I8X16, isub),
            O::I16x8Sub => bin!(I16X8, isub),
            O::I32x4Sub => bin!(I32X4, isub),
            O::I64x2Sub => bin!(I64X2, isub),
            O::I16x8Mul => bin!(I16X8, imul),
            O::I32x4Mul => bin!(I32X4, imul),
            O::I64x2Mul => bin!(I64X2, imul),
            O::I8x16AddSatS => bin!(I8X16, sadd_sat),
            O::I8x16AddSatU => bin!(I8X16, uadd_sat),
            O::I16x8AddSatS => bin!(I16X8, sadd_sat),
            O::I16x8AddSatU => bin!(I16X8, uadd_sat),
            O::I8x16SubSatS => bin!(I8X16, ssub_sat),
            O::I8x16SubSatU => bin!(I8X16, usub_sat),
            O::I16x8SubSatS => bin!(I16X8, ssub_sat),
            O::I16x8SubSatU => bin!(I16X8, usub_sat),
            O::I8x16MinS => bin!(I8X16, smin),
            O::I8x16MinU => bin!(I8X16, umin),
            O::I8x16MaxS => bin!(I8X16, smax),
            O::I8x16MaxU => bin!(I8X16, umax),
            O::I16x8MinS => bin!(I16X8, smin),
            O::I16x8MinU => bin!(I16X8, umin),
            O::I16x8MaxS => bin!(I16X8, smax),
            O::I16x8MaxU => bin!(I16X8, umax),
            O::I32x4MinS => bin!(I32X4, smin),
            O::I32x4MinU => bin!(I32X4, umin),
            O::I32x4MaxS => bin!(I32X4, smax),
            O::I32x4MaxU => bin!(I32X4, umax),
            O::I8x16AvgrU => bin!(I8X16, avg_round),
            O::I16x8AvgrU => bin!(I16X8, avg_round),
            O::I16x8Q15MulrSatS => bin!(I16X8, sqmul_round_sat),
            O::I32x4DotI16x8S => {
                let (a, b) = self.pop2_v(I16X8)?;
                let (alo, blo) = (self.widen(a, true, false), self.widen(b, true, false));
                let lo = self.b.ins().imul(alo, blo);
                let (ahi, bhi) = (self.widen(a, true, true), self.widen(b, true, true));
                let hi = self.b.ins().imul(ahi, bhi);
                let v = self.b.ins().iadd_pairwise(lo, hi);
                self.push_v(v);
            }

            // ----- narrowing and widening -----
            O::I8x16NarrowI16x8S => bin!(I16X8, snarrow),
            O::I8x16NarrowI16x8U => bin!(I16X8, unarrow),
            O::I16x8NarrowI32x4S => bin!(I32X4, snarrow),
            O::I16x8NarrowI32x4U => bin!(I32X4, unarrow),
            O::I16x8ExtendLowI8x16S => self.extend(I8X16, true, false)?,
            O::I16x8ExtendHighI8x16S => self.extend(I8X16, true, true)?,
            O::I16x8ExtendLowI8x16U => self.extend(I8X16, false, false)?,
            O::I16x8ExtendHighI8x16U => self.extend(I8X16, false, true)?,
            O::I32x4ExtendLowI16x8S => self.extend(I16X8, true, false)?,
            O::I32x4ExtendHighI16x8S => self.extend(I16X8, true, true)?,
            O::I32x4ExtendLowI16x8U => self.extend(I16X8, false, false)?,
            O::I32x4ExtendHighI16x8U => self.extend(I16X8, false, true)?,
            O::I64x2ExtendLowI32x4S => self.extend(I32X4, true, false)?,
            O::I64x2ExtendHighI32x4S => self.extend(I32X4, true, true)?,
            O::I64x2ExtendLowI32x4U => self.extend(I32X4, false, false)?,
            O::I64x2ExtendHighI32x4U => self.extend(I32X4, false, true)?,
            O::I16x8ExtMulLowI8x16S => self.extmul(I8X16, true, false)?,
            O::I16x8ExtMulHighI8x16S => self.extmul(I8X16, true, true)?,
            O::I16x8ExtMulLowI8x16U => self.extmul(I8X16, false, false)?,
            O::I16x8ExtMulHighI8x16U => self.extmul(I8X16, false, true)?,
            O::I32x4ExtMulLowI16x8S => self.extmul(I16X8, true, false)?,
            O::I32x4ExtMulHighI16x8S => self.extmul(I16X8, true, true)?,
            O::I32x4ExtMulLowI16x8U => self.extmul(I16X8, false, false)?,
            O::I32x4ExtMulHighI16x8U => self.extmul(I16X8, false, true)?,
            O::I64x2ExtMulLowI32x4S => self.extmul(I32X4, true, false)?,
            O::I64x2ExtMulHighI32x4S => self.extmul(I32X4, true, true)?,
            O::I64x2ExtMulLowI32x4U => self.extmul(I32X4, false, false)?,
            O::I64x2ExtMulHighI32x4U => self.extmul(I32X4, false, true)?,
            O::I16x8ExtAddPairwiseI8x16S => self.extadd_pairwise(I8X16, true)?,
            O::I16x8ExtAddPairwiseI8x16U => self.extadd_pairwise(I8X16, false)?,
            O::I32x4ExtAddPairwiseI16x8S => self.extadd_pairwise(I16X8, true)?,
            O::I32x4ExtAddPairwiseI16x8U => self.extadd_pairwise(I16X8, false)?,

            // ----- float arithmetic -----
            O::F32x4Abs => un!(F32X4, fabs),
            O::F64x2Abs => un!(F64X2, fabs),
            O::F32x4Neg => un!(F32X4, fneg),
            O::F64x2Neg => un!(F64X2, fneg),
            O::F32x4Sqrt => un!(F32X4, sqrt),
            O::F64x2Sqrt => un!(F64X2, sqrt),
            O::F32x4Ceil => un!(F32X4, ceil),
            O::F64x2Ceil => un!(F64X2, ceil),
            O::F32x4Floor => un!(F32X4, floor),
            O::F64x2Floor => un!(F64X2, floor),
            O::F32x4Trunc => un!(F32X4, trunc),
            O::F64x2Trunc => un!(F64X2, trunc),
            O::F32x4Nearest => un!(F32X4, nearest),
            O::F64x2Nearest => un!(F64X2, nearest),
            O::F32x4Add => bin!(F32X4, fadd),
            O::F64x2Add => bin!(F64X2, fadd),
            O::F32x4Sub => bin!(F32X4, fsub),
            O::F64x2Sub => bin!(F64X2, fsub),
            O::F32x4Mul => bin!(F32X4, fmul),
            O::F64x2Mul => bin!(F64X2, fmul),
            O::F32x4Div => bin!(F32X4, fdiv),
            O::F64x2Div => bin!(F64X2, fdiv),
            // Cranelift's fmin/fmax follow Wasm: NaN propagates, -0 < +0.
            O::F32x4Min => bin!(F32X4, fmin),
            O::F64x2Min => bin!(F64X2, fmin),
            O::F32x4Max => bin!(F32X4, fmax),
            O::F64x2Max => bin!(F64X2, fmax),
            O::F32x4PMin => self.pminmax(F32X4, false)?,
            O::F64x2PMin => self.pminmax(F64X2, false)?,
            O::F32x4PMax => self.pminmax(F32X4, true)?,
            O::F64x2PMax => self.pminmax(F64X2, true)?,

            // ----- conversions -----
            O::I32x4TruncSatF32x4S => conv!(F32X4, fcvt_to_sint_sat, I32X4),
            O::I32x4TruncSatF32x4U => conv!(F32X4, fcvt_to_uint_sat, I32X4),
            O::I32x4TruncSatF64x2SZero => self.trunc_sat_zero(true)?,
            O::I32x4TruncSatF64x2UZero => self.trunc_sat_zero(false)?,
            O::F32x4ConvertI32x4S => conv!(I32X4, fcvt_from_sint, F32X4),
            O::F32x4ConvertI32x4U => conv!(I32X4, fcvt_from_uint, F32X4),
            O::F64x2ConvertLowI32x4S | O::F64x2ConvertLowI32x4U => {
                let signed = matches!(op, O::F64x2ConvertLowI32x4S);
                let a = self.pop_v(I32X4)?;
                let w = self.widen(a, signed, false);
                let v = if signed {
                    self.b.ins().fcvt_from_sint(F64X2, w)
                } else {
                    self.b.ins().fcvt_from_uint(F64X2, w)
                };
                self.push_v(v);
            }
            O::F32x4DemoteF64x2Zero => un!(F64X2, fvdemote),
            O::F64x2PromoteLowF32x4 => un!(F32X4, fvpromote_low),

            // ----- relaxed SIMD -----
            O::I8x16RelaxedSwizzle => bin!(I8X16, x86_pshufb),
            O::I32x4RelaxedTruncF32x4S => conv!(F32X4, x86_cvtt2dq, I32X4),
            O::I32x4RelaxedTruncF32x4U => conv!(F32X4, fcvt_to_uint_sat, I32X4),
            O::I32x4RelaxedTruncF64x2SZero => self.relaxed_trunc_zero_s()?,
            O::I32x4RelaxedTruncF64x2UZero => self.trunc_sat_zero(false)?,
            O::F32x4RelaxedMadd => self.relaxed_madd(F32X4, false)?,
            O::F32x4RelaxedNmadd => self.relaxed_madd(F32X4, true)?,
            O::F64x2RelaxedMadd => self.relaxed_madd(F64X2, false)?,
            O::F64x2RelaxedNmadd => self.relaxed_madd(F64X2, true)?,
            O::I8x16RelaxedLaneselect => self.relaxed_laneselect(I8X16)?,
            O::I32x4RelaxedLaneselect => self.relaxed_laneselect(I32X4)?,
            O::I64x2RelaxedLaneselect => self.relaxed_laneselect(I64X2)?,
            // `pblendvb` would select the two bytes of a 16-bit lane separately.
            O::I16x8RelaxedLaneselect => {
                let c = self.pop_v(I8X16)?;
                let (a, b) = self.pop2_v(I8X16)?;
                let v = self.b.ins().bitselect(c, a, b);
                self.push_v(v);
            }
            O::F32x4RelaxedMin => self.pminmax(F32X4, false)?,
            O::F64x2RelaxedMin => self.pminmax(F64X2, false)?,
            O::F32x4RelaxedMax => self.pminmax(F32X4, true)?,
            O::F64x2RelaxedMax => self.pminmax(F64X2, true)?,
            O::I16x8RelaxedQ15mulrS => bin!(I16X8, x86_pmulhrsw),
            O::I16x8RelaxedDotI8x16I7x16S => {
                let (a, b) = self.pop2_v(I8X16)?;
                let v = self.b.ins().x86_pmaddubsw(a, b);
                self.push_v(v);
            }
            O::I32x4RelaxedDotI8x16I7x16AddS => {
                let c = self.pop_v(I32X4)?;
                let (a, b) = self.pop2_v(I8X16)?;
                let pairs = self.b.ins().x86_pmaddubsw(a, b);
                let lo = self.widen(pairs, true, false);
                let hi = self.widen(pairs, true, true);
                let sums = self.b.ins().iadd_pairwise(lo, hi);
                let v = self.b.ins().iadd(sums, c);
                self.push_v(v);
            }

            other => return Err(simd(format!("{other:?}"))),
        }
        Ok(())
    }
}
