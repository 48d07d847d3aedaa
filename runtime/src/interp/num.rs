//! Pure semantics of numeric instructions that are more than one Rust operator, shared by
//! every tier (the JIT calls some of them as helpers).

use crate::error::TrapCode;

/// `f32.min` with Wasm NaN and signed-zero rules.
#[inline]
pub fn f32_min(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        return a + b;
    }
    if a == b {
        // -0 < +0
        return f32::from_bits(a.to_bits() | b.to_bits());
    }
    if a < b { a } else { b }
}

/// `f32.max`.
#[inline]
pub fn f32_max(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        return a + b;
    }
    if a == b {
        return f32::from_bits(a.to_bits() & b.to_bits());
    }
    if a > b { a } else { b }
}

/// `f64.min`.
#[inline]
pub fn f64_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return a + b;
    }
    if a == b {
        return f64::from_bits(a.to_bits() | b.to_bits());
    }
    if a < b { a } else { b }
}

/// `f64.max`.
#[inline]
pub fn f64_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return a + b;
    }
    if a == b {
        return f64::from_bits(a.to_bits() & b.to_bits());
    }
    if a > b { a } else { b }
}

/// Rounding instructions must return a quiet NaN for a NaN input; host rounding may keep a
/// signalling one.
macro_rules! rounding {
    ($($name:ident: $t:ty, $quiet:expr, $op:ident;)*) => {$(
        /// Wasm rounding of a float (NaN results are quiet).
        #[inline]
        pub fn $name(a: $t) -> $t {
            if a.is_nan() {
                <$t>::from_bits(a.to_bits() | $quiet)
            } else {
                a.$op()
            }
        }
    )*};
}

rounding! {
    f32_ceil: f32, 0x0040_0000, ceil;
    f32_floor: f32, 0x0040_0000, floor;
    f32_trunc: f32, 0x0040_0000, trunc;
    f32_nearest: f32, 0x0040_0000, round_ties_even;
    f64_ceil: f64, 0x0008_0000_0000_0000, ceil;
    f64_floor: f64, 0x0008_0000_0000_0000, floor;
    f64_trunc: f64, 0x0008_0000_0000_0000, trunc;
    f64_nearest: f64, 0x0008_0000_0000_0000, round_ties_even;
}

macro_rules! trunc {
    ($name:ident, $f:ty, $i:ty, $lo:expr, $hi:expr) => {
        /// Trapping float-to-int truncation.
        #[inline]
        pub fn $name(x: $f) -> Result<$i, TrapCode> {
            if x.is_nan() {
                return Err(TrapCode::InvalidConversionToInteger);
            }
            let t = x.trunc();
            if ($lo..$hi).contains(&t) {
                Ok(t as $i)
            } else {
                Err(TrapCode::IntegerOverflow)
            }
        }
    };
}

trunc!(i32_trunc_f32_s, f32, i32, -2147483648.0f32, 2147483648.0f32);
trunc!(i32_trunc_f32_u, f32, u32, 0.0f32, 4294967296.0f32);
trunc!(i32_trunc_f64_s, f64, i32, -2147483648.0f64, 2147483648.0f64);
trunc!(i32_trunc_f64_u, f64, u32, 0.0f64, 4294967296.0f64);
trunc!(
    i64_trunc_f32_s,
    f32,
    i64,
    -9223372036854775808.0f32,
    9223372036854775808.0f32
);
trunc!(i64_trunc_f32_u, f32, u64, 0.0f32, 18446744073709551616.0f32);
trunc!(
    i64_trunc_f64_s,
    f64,
    i64,
    -9223372036854775808.0f64,
    9223372036854775808.0f64
);
trunc!(i64_trunc_f64_u, f64, u64, 0.0f64, 18446744073709551616.0f64);

/// `i32.div_s`.
#[inline]
pub fn i32_div_s(a: i32, b: i32) -> Result<i32, TrapCode> {
    if b == 0 {
        Err(TrapCode::IntegerDivideByZero)
    } else if a == i32::MIN && b == -1 {
        Err(TrapCode::IntegerOverflow)
    } else {
        Ok(a / b)
    }
}

/// `i64.div_s`.
#[inline]
pub fn i64_div_s(a: i64, b: i64) -> Result<i64, TrapCode> {
    if b == 0 {
        Err(TrapCode::IntegerDivideByZero)
    } else if a == i64::MIN && b == -1 {
        Err(TrapCode::IntegerOverflow)
    } else {
        Ok(a / b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_max_follow_wasm_rules() {
        assert_eq!(f32_min(-0.0, 0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(f32_max(-0.0, 0.0).to_bits(), 0.0f32.to_bits());
        assert!(f64_min(f64::NAN, 1.0).is_nan());
    }

    #[test]
    fn truncation_ranges() {
        assert_eq!(i32_trunc_f32_s(-2147483648.0), Ok(i32::MIN));
        assert_eq!(
            i32_trunc_f32_s(2147483648.0),
            Err(TrapCode::IntegerOverflow)
        );
        assert_eq!(i32_trunc_f64_u(-0.9), Ok(0));
        assert_eq!(i32_trunc_f64_s(-2147483648.9), Ok(i32::MIN));
        assert_eq!(
            i64_trunc_f64_u(f64::NAN),
            Err(TrapCode::InvalidConversionToInteger)
        );
    }
}
