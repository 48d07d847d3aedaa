//! Lane semantics of the 128-bit SIMD instructions (Wasm 2.0, and relaxed SIMD of 3.0), for
//! the interpreter.
//!
//! A `v128` is its 16 bytes in Wasm's (little-endian) order: lane 0 comes first, and bytes
//! 0..8 are the first of its two frame slots. Every function views the bytes as an array of
//! lanes (little-endian lane values, so the views are free on little-endian hosts), works
//! lane by lane with plain loops and packs the lanes back; LLVM turns most of them into
//! vector instructions. (A `u128` in the signatures defeats that: the lanes get repacked
//! with shifts.)
//!
//! Float arithmetic uses the host's operators (NaN results may be any NaN the host makes,
//! which the spec accepts); `min`/`max`/`pmin`/`pmax`, rounding and conversions follow the
//! Wasm rules exactly.

use super::num;

/// A 128-bit vector.
pub type V128 = [u8; 16];

macro_rules! lanes {
    ($($to:ident / $from:ident: $t:ty, $n:literal;)*) => {$(
        /// The lanes of a vector.
        #[inline(always)]
        pub fn $to(v: V128) -> [$t; $n] {
            const W: usize = 16 / $n;
            std::array::from_fn(|i| {
                let mut x = [0u8; W];
                x.copy_from_slice(&v[i * W..i * W + W]);
                <$t>::from_le_bytes(x)
            })
        }

        /// The vector of lanes.
        #[inline(always)]
        pub fn $from(l: [$t; $n]) -> V128 {
            const W: usize = 16 / $n;
            let mut b = [0u8; 16];
            for i in 0..$n {
                b[i * W..i * W + W].copy_from_slice(&l[i].to_le_bytes());
            }
            b
        }
    )*};
}

lanes! {
    u8x16 / from_u8x16: u8, 16;
    i8x16 / from_i8x16: i8, 16;
    u16x8 / from_u16x8: u16, 8;
    i16x8 / from_i16x8: i16, 8;
    u32x4 / from_u32x4: u32, 4;
    i32x4 / from_i32x4: i32, 4;
    u64x2 / from_u64x2: u64, 2;
    i64x2 / from_i64x2: i64, 2;
    f32x4 / from_f32x4: f32, 4;
    f64x2 / from_f64x2: f64, 2;
}

/// Lane-wise unary functions: `name => view, pack, |x| lane result;`.
macro_rules! map1 {
    ($($name:ident => $to:ident, $from:ident, |$x:ident| $e:expr;)*) => {$(
        #[doc = concat!("`", stringify!($name), "`.")]
        #[inline]
        pub fn $name(a: V128) -> V128 {
            $from($to(a).map(|$x| $e))
        }
    )*};
}

/// Lane-wise binary functions.
macro_rules! map2 {
    ($($name:ident => $to:ident, $from:ident, |$x:ident, $y:ident| $e:expr;)*) => {$(
        #[doc = concat!("`", stringify!($name), "`.")]
        #[inline]
        pub fn $name(a: V128, b: V128) -> V128 {
            let (a, b) = ($to(a), $to(b));
            $from(std::array::from_fn(|i| {
                let ($x, $y) = (a[i], b[i]);
                $e
            }))
        }
    )*};
}

/// Lane-wise comparisons: all ones where true, zero where false (`$m` is the signed
/// integer type of the lane width).
macro_rules! cmp {
    ($($name:ident => $to:ident, $from:ident: $m:ty, |$x:ident, $y:ident| $e:expr;)*) => {$(
        #[doc = concat!("`", stringify!($name), "`.")]
        #[inline]
        #[allow(clippy::float_cmp)]
        pub fn $name(a: V128, b: V128) -> V128 {
            let (a, b) = ($to(a), $to(b));
            $from(std::array::from_fn(|i| {
                let ($x, $y) = (a[i], b[i]);
                -(($e) as $m)
            }))
        }
    )*};
}

/// Shifts by a scalar count taken modulo the lane width.
macro_rules! shifts {
    ($($name:ident => $to:ident, $from:ident, $bits:literal, |$x:ident, $k:ident| $e:expr;)*) => {$(
        #[doc = concat!("`", stringify!($name), "`.")]
        #[inline]
        pub fn $name(a: V128, count: u32) -> V128 {
            let $k = count & ($bits - 1);
            $from($to(a).map(|$x| $e))
        }
    )*};
}

// Bitwise.

/// `v128.not`.
#[inline]
pub fn v128_not(a: V128) -> V128 {
    a.map(|x| !x)
}

/// `v128.and`.
#[inline]
pub fn v128_and(a: V128, b: V128) -> V128 {
    std::array::from_fn(|i| {
        let (x, y) = (a[i], b[i]);
        x & y
    })
}

/// `v128.andnot`.
#[inline]
pub fn v128_andnot(a: V128, b: V128) -> V128 {
    std::array::from_fn(|i| {
        let (x, y) = (a[i], b[i]);
        x & !y
    })
}

/// `v128.or`.
#[inline]
pub fn v128_or(a: V128, b: V128) -> V128 {
    std::array::from_fn(|i| {
        let (x, y) = (a[i], b[i]);
        x | y
    })
}

/// `v128.xor`.
#[inline]
pub fn v128_xor(a: V128, b: V128) -> V128 {
    std::array::from_fn(|i| {
        let (x, y) = (a[i], b[i]);
        x ^ y
    })
}

/// `v128.bitselect`: bits of `a` where `c` is set, of `b` elsewhere.
#[inline]
pub fn v128_bitselect(a: V128, b: V128, c: V128) -> V128 {
    std::array::from_fn(|i| (a[i] & c[i]) | (b[i] & !c[i]))
}

/// `v128.any_true`.
#[inline]
pub fn v128_any_true(a: V128) -> u32 {
    (u128::from_ne_bytes(a) != 0) as u32
}

macro_rules! all_true_bitmask {
    ($($all:ident, $mask:ident => $to:ident;)*) => {$(
        #[doc = concat!("`", stringify!($all), "`.")]
        #[inline]
        pub fn $all(a: V128) -> u32 {
            $to(a).iter().all(|&x| x != 0) as u32
        }

        #[doc = concat!("`", stringify!($mask), "`: the sign bits of the lanes.")]
        #[inline]
        pub fn $mask(a: V128) -> u32 {
            $to(a)
                .iter()
                .enumerate()
                .fold(0, |m, (i, &x)| m | (((x < 0) as u32) << i))
        }
    )*};
}

all_true_bitmask! {
    i8x16_all_true, i8x16_bitmask => i8x16;
    i16x8_all_true, i16x8_bitmask => i16x8;
    i32x4_all_true, i32x4_bitmask => i32x4;
    i64x2_all_true, i64x2_bitmask => i64x2;
}

// Splats and lanes.

/// `i8x16.splat`.
#[inline]
pub fn i8x16_splat(x: u64) -> V128 {
    from_u8x16([x as u8; 16])
}

/// `i16x8.splat`.
#[inline]
pub fn i16x8_splat(x: u64) -> V128 {
    from_u16x8([x as u16; 8])
}

/// `i32x4.splat` (also `f32x4.splat`: the bits are the same).
#[inline]
pub fn i32x4_splat(x: u64) -> V128 {
    from_u32x4([x as u32; 4])
}

/// `i64x2.splat` (also `f64x2.splat`).
#[inline]
pub fn i64x2_splat(x: u64) -> V128 {
    from_u64x2([x; 2])
}

/// `i8x16.extract_lane_s` (zero-extended i32 in a slot).
#[inline]
pub fn i8x16_extract_lane_s(a: V128, lane: u32) -> u64 {
    i8x16(a)[lane as usize & 15] as i32 as u32 as u64
}

/// `i8x16.extract_lane_u`.
#[inline]
pub fn i8x16_extract_lane_u(a: V128, lane: u32) -> u64 {
    u8x16(a)[lane as usize & 15] as u64
}

/// `i16x8.extract_lane_s`.
#[inline]
pub fn i16x8_extract_lane_s(a: V128, lane: u32) -> u64 {
    i16x8(a)[lane as usize & 7] as i32 as u32 as u64
}

/// `i16x8.extract_lane_u`.
#[inline]
pub fn i16x8_extract_lane_u(a: V128, lane: u32) -> u64 {
    u16x8(a)[lane as usize & 7] as u64
}

/// `i32x4.extract_lane` and `f32x4.extract_lane`.
#[inline]
pub fn i32x4_extract_lane(a: V128, lane: u32) -> u64 {
    u32x4(a)[lane as usize & 3] as u64
}

/// `i64x2.extract_lane` and `f64x2.extract_lane`.
#[inline]
pub fn i64x2_extract_lane(a: V128, lane: u32) -> u64 {
    u64x2(a)[lane as usize & 1]
}

/// `i8x16.replace_lane`.
#[inline]
pub fn i8x16_replace_lane(a: V128, x: u64, lane: u32) -> V128 {
    let mut l = u8x16(a);
    l[lane as usize & 15] = x as u8;
    from_u8x16(l)
}

/// `i16x8.replace_lane`.
#[inline]
pub fn i16x8_replace_lane(a: V128, x: u64, lane: u32) -> V128 {
    let mut l = u16x8(a);
    l[lane as usize & 7] = x as u16;
    from_u16x8(l)
}

/// `i32x4.replace_lane` and `f32x4.replace_lane`.
#[inline]
pub fn i32x4_replace_lane(a: V128, x: u64, lane: u32) -> V128 {
    let mut l = u32x4(a);
    l[lane as usize & 3] = x as u32;
    from_u32x4(l)
}

/// `i64x2.replace_lane` and `f64x2.replace_lane`.
#[inline]
pub fn i64x2_replace_lane(a: V128, x: u64, lane: u32) -> V128 {
    let mut l = u64x2(a);
    l[lane as usize & 1] = x;
    from_u64x2(l)
}

/// `i8x16.shuffle`: lane `i` is byte `lanes[i]` of the 32 bytes of `a` then `b`
/// (`lanes` holds the 16 lane indices, validated to be below 32).
#[inline]
pub fn i8x16_shuffle(a: V128, b: V128, lanes: V128) -> V128 {
    let (a, b, s) = (u8x16(a), u8x16(b), u8x16(lanes));
    from_u8x16(std::array::from_fn(|i| {
        let k = s[i] as usize & 31;
        if k < 16 { a[k] } else { b[k - 16] }
    }))
}

/// `i8x16.swizzle`: lane `i` is byte `b[i]` of `a`, or 0 when that index is 16 or more.
#[inline]
pub fn i8x16_swizzle(a: V128, b: V128) -> V128 {
    let (a, s) = (u8x16(a), u8x16(b));
    from_u8x16(s.map(|k| if k < 16 { a[k as usize] } else { 0 }))
}

// Integer arithmetic.

map1! {
    i8x16_abs => i8x16, from_i8x16, |x| x.wrapping_abs();
    i8x16_neg => i8x16, from_i8x16, |x| x.wrapping_neg();
    i8x16_popcnt => u8x16, from_u8x16, |x| x.count_ones() as u8;
    i16x8_abs => i16x8, from_i16x8, |x| x.wrapping_abs();
    i16x8_neg => i16x8, from_i16x8, |x| x.wrapping_neg();
    i32x4_abs => i32x4, from_i32x4, |x| x.wrapping_abs();
    i32x4_neg => i32x4, from_i32x4, |x| x.wrapping_neg();
    i64x2_abs => i64x2, from_i64x2, |x| x.wrapping_abs();
    i64x2_neg => i64x2, from_i64x2, |x| x.wrapping_neg();
}

map2! {
    i8x16_add => u8x16, from_u8x16, |x, y| x.wrapping_add(y);
    i8x16_sub => u8x16, from_u8x16, |x, y| x.wrapping_sub(y);
    i8x16_add_sat_s => i8x16, from_i8x16, |x, y| x.saturating_add(y);
    i8x16_add_sat_u => u8x16, from_u8x16, |x, y| x.saturating_add(y);
    i8x16_sub_sat_s => i8x16, from_i8x16, |x, y| x.saturating_sub(y);
    i8x16_sub_sat_u => u8x16, from_u8x16, |x, y| x.saturating_sub(y);
    i8x16_min_s => i8x16, from_i8x16, |x, y| x.min(y);
    i8x16_min_u => u8x16, from_u8x16, |x, y| x.min(y);
    i8x16_max_s => i8x16, from_i8x16, |x, y| x.max(y);
    i8x16_max_u => u8x16, from_u8x16, |x, y| x.max(y);
    i8x16_avgr_u => u8x16, from_u8x16, |x, y| ((x as u16 + y as u16 + 1) >> 1) as u8;
    i16x8_add => u16x8, from_u16x8, |x, y| x.wrapping_add(y);
    i16x8_sub => u16x8, from_u16x8, |x, y| x.wrapping_sub(y);
    i16x8_mul => u16x8, from_u16x8, |x, y| x.wrapping_mul(y);
    i16x8_add_sat_s => i16x8, from_i16x8, |x, y| x.saturating_add(y);
    i16x8_add_sat_u => u16x8, from_u16x8, |x, y| x.saturating_add(y);
    i16x8_sub_sat_s => i16x8, from_i16x8, |x, y| x.saturating_sub(y);
    i16x8_sub_sat_u => u16x8, from_u16x8, |x, y| x.saturating_sub(y);
    i16x8_min_s => i16x8, from_i16x8, |x, y| x.min(y);
    i16x8_min_u => u16x8, from_u16x8, |x, y| x.min(y);
    i16x8_max_s => i16x8, from_i16x8, |x, y| x.max(y);
    i16x8_max_u => u16x8, from_u16x8, |x, y| x.max(y);
    i16x8_avgr_u => u16x8, from_u16x8, |x, y| ((x as u32 + y as u32 + 1) >> 1) as u16;
    i16x8_q15mulr_sat_s => i16x8, from_i16x8, |x, y| {
        let p = (x as i32 * y as i32 + 0x4000) >> 15;
        p.clamp(i16::MIN as i32, i16::MAX as i32) as i16
    };
    i32x4_add => u32x4, from_u32x4, |x, y| x.wrapping_add(y);
    i32x4_sub => u32x4, from_u32x4, |x, y| x.wrapping_sub(y);
    i32x4_mul => u32x4, from_u32x4, |x, y| x.wrapping_mul(y);
    i32x4_min_s => i32x4, from_i32x4, |x, y| x.min(y);
    i32x4_min_u => u32x4, from_u32x4, |x, y| x.min(y);
    i32x4_max_s => i32x4, from_i32x4, |x, y| x.max(y);
    i32x4_max_u => u32x4, from_u32x4, |x, y| x.max(y);
    i64x2_add => u64x2, from_u64x2, |x, y| x.wrapping_add(y);
    i64x2_sub => u64x2, from_u64x2, |x, y| x.wrapping_sub(y);
    i64x2_mul => u64x2, from_u64x2, |x, y| x.wrapping_mul(y);
}

shifts! {
    i8x16_shl => u8x16, from_u8x16, 8, |x, k| x << k;
    i8x16_shr_s => i8x16, from_i8x16, 8, |x, k| x >> k;
    i8x16_shr_u => u8x16, from_u8x16, 8, |x, k| x >> k;
    i16x8_shl => u16x8, from_u16x8, 16, |x, k| x << k;
    i16x8_shr_s => i16x8, from_i16x8, 16, |x, k| x >> k;
    i16x8_shr_u => u16x8, from_u16x8, 16, |x, k| x >> k;
    i32x4_shl => u32x4, from_u32x4, 32, |x, k| x << k;
    i32x4_shr_s => i32x4, from_i32x4, 32, |x, k| x >> k;
    i32x4_shr_u => u32x4, from_u32x4, 32, |x, k| x >> k;
    i64x2_shl => u64x2, from_u64x2, 64, |x, k| x << k;
    i64x2_shr_s => i64x2, from_i64x2, 64, |x, k| x >> k;
    i64x2_shr_u => u64x2, from_u64x2, 64, |x, k| x >> k;
}

cmp! {
    i8x16_eq => u8x16, from_i8x16: i8, |x, y| x == y;
    i8x16_ne => u8x16, from_i8x16: i8, |x, y| x != y;
    i8x16_lt_s => i8x16, from_i8x16: i8, |x, y| x < y;
    i8x16_lt_u => u8x16, from_i8x16: i8, |x, y| x < y;
    i8x16_gt_s => i8x16, from_i8x16: i8, |x, y| x > y;
    i8x16_gt_u => u8x16, from_i8x16: i8, |x, y| x > y;
    i8x16_le_s => i8x16, from_i8x16: i8, |x, y| x <= y;
    i8x16_le_u => u8x16, from_i8x16: i8, |x, y| x <= y;
    i8x16_ge_s => i8x16, from_i8x16: i8, |x, y| x >= y;
    i8x16_ge_u => u8x16, from_i8x16: i8, |x, y| x >= y;
    i16x8_eq => u16x8, from_i16x8: i16, |x, y| x == y;
    i16x8_ne => u16x8, from_i16x8: i16, |x, y| x != y;
    i16x8_lt_s => i16x8, from_i16x8: i16, |x, y| x < y;
    i16x8_lt_u => u16x8, from_i16x8: i16, |x, y| x < y;
    i16x8_gt_s => i16x8, from_i16x8: i16, |x, y| x > y;
    i16x8_gt_u => u16x8, from_i16x8: i16, |x, y| x > y;
    i16x8_le_s => i16x8, from_i16x8: i16, |x, y| x <= y;
    i16x8_le_u => u16x8, from_i16x8: i16, |x, y| x <= y;
    i16x8_ge_s => i16x8, from_i16x8: i16, |x, y| x >= y;
    i16x8_ge_u => u16x8, from_i16x8: i16, |x, y| x >= y;
    i32x4_eq => u32x4, from_i32x4: i32, |x, y| x == y;
    i32x4_ne => u32x4, from_i32x4: i32, |x, y| x != y;
    i32x4_lt_s => i32x4, from_i32x4: i32, |x, y| x < y;
    i32x4_lt_u => u32x4, from_i32x4: i32, |x, y| x < y;
    i32x4_gt_s => i32x4, from_i32x4: i32, |x, y| x > y;
    i32x4_gt_u => u32x4, from_i32x4: i32, |x, y| x > y;
    i32x4_le_s => i32x4, from_i32x4: i32, |x, y| x <= y;
    i32x4_le_u => u32x4, from_i32x4: i32, |x, y| x <= y;
    i32x4_ge_s => i32x4, from_i32x4: i32, |x, y| x >= y;
    i32x4_ge_u => u32x4, from_i32x4: i32, |x, y| x >= y;
    i64x2_eq => u64x2, from_i64x2: i64, |x, y| x == y;
    i64x2_ne => u64x2, from_i64x2: i64, |x, y| x != y;
    i64x2_lt_s => i64x2, from_i64x2: i64, |x, y| x < y;
    i64x2_gt_s => i64x2, from_i64x2: i64, |x, y| x > y;
    i64x2_le_s => i64x2, from_i64x2: i64, |x, y| x <= y;
    i64x2_ge_s => i64x2, from_i64x2: i64, |x, y| x >= y;
    f32x4_eq => f32x4, from_i32x4: i32, |x, y| x == y;
    f32x4_ne => f32x4, from_i32x4: i32, |x, y| x != y;
    f32x4_lt => f32x4, from_i32x4: i32, |x, y| x < y;
    f32x4_gt => f32x4, from_i32x4: i32, |x, y| x > y;
    f32x4_le => f32x4, from_i32x4: i32, |x, y| x <= y;
    f32x4_ge => f32x4, from_i32x4: i32, |x, y| x >= y;
    f64x2_eq => f64x2, from_i64x2: i64, |x, y| x == y;
    f64x2_ne => f64x2, from_i64x2: i64, |x, y| x != y;
    f64x2_lt => f64x2, from_i64x2: i64, |x, y| x < y;
    f64x2_gt => f64x2, from_i64x2: i64, |x, y| x > y;
    f64x2_le => f64x2, from_i64x2: i64, |x, y| x <= y;
    f64x2_ge => f64x2, from_i64x2: i64, |x, y| x >= y;
}

/// Narrowing with saturation: the lanes of `a` then those of `b`.
macro_rules! narrow {
    ($($name:ident => $to:ident, $from:ident: $t:ty, $n:literal;)*) => {$(
        #[doc = concat!("`", stringify!($name), "`.")]
        #[inline]
        pub fn $name(a: V128, b: V128) -> V128 {
            let (a, b) = ($to(a), $to(b));
            const H: usize = $n / 2;
            $from(std::array::from_fn(|i| {
                let x = if i < H { a[i] } else { b[i - H] };
                x.clamp(<$t>::MIN.into(), <$t>::MAX.into()) as $t
            }))
        }
    )*};
}

narrow! {
    i8x16_narrow_i16x8_s => i16x8, from_i8x16: i8, 16;
    i8x16_narrow_i16x8_u => i16x8, from_u8x16: u8, 16;
    i16x8_narrow_i32x4_s => i32x4, from_i16x8: i16, 8;
    i16x8_narrow_i32x4_u => i32x4, from_u16x8: u16, 8;
}

/// Widening of the low or high half of the lanes.
macro_rules! extend {
    ($($name:ident => $to:ident, $from:ident: $t:ty, $n:literal, $at:literal;)*) => {$(
        #[doc = concat!("`", stringify!($name), "`.")]
        #[inline]
        pub fn $name(a: V128) -> V128 {
            let a = $to(a);
            $from(std::array::from_fn(|i| a[$at + i] as $t))
        }
    )*};
}

extend! {
    i16x8_extend_low_i8x16_s => i8x16, from_i16x8: i16, 8, 0;
    i16x8_extend_high_i8x16_s => i8x16, from_i16x8: i16, 8, 8;
    i16x8_extend_low_i8x16_u => u8x16, from_u16x8: u16, 8, 0;
    i16x8_extend_high_i8x16_u => u8x16, from_u16x8: u16, 8, 8;
    i32x4_extend_low_i16x8_s => i16x8, from_i32x4: i32, 4, 0;
    i32x4_extend_high_i16x8_s => i16x8, from_i32x4: i32, 4, 4;
    i32x4_extend_low_i16x8_u => u16x8, from_u32x4: u32, 4, 0;
    i32x4_extend_high_i16x8_u => u16x8, from_u32x4: u32, 4, 4;
    i64x2_extend_low_i32x4_s => i32x4, from_i64x2: i64, 2, 0;
    i64x2_extend_high_i32x4_s => i32x4, from_i64x2: i64, 2, 2;
    i64x2_extend_low_i32x4_u => u32x4, from_u64x2: u64, 2, 0;
    i64x2_extend_high_i32x4_u => u32x4, from_u64x2: u64, 2, 2;
    f64x2_convert_low_i32x4_s => i32x4, from_f64x2: f64, 2, 0;
    f64x2_convert_low_i32x4_u => u32x4, from_f64x2: f64, 2, 0;
    f64x2_promote_low_f32x4 => f32x4, from_f64x2: f64, 2, 0;
}

/// Extended multiplication of the low or high halves (exact in the wide type).
macro_rules! extmul {
    ($($name:ident => $to:ident, $from:ident: $t:ty, $at:literal;)*) => {$(
        #[doc = concat!("`", stringify!($name), "`.")]
        #[inline]
        pub fn $name(a: V128, b: V128) -> V128 {
            let (a, b) = ($to(a), $to(b));
            $from(std::array::from_fn(|i| (a[$at + i] as $t).wrapping_mul(b[$at + i] as $t)))
        }
    )*};
}

extmul! {
    i16x8_extmul_low_i8x16_s => i8x16, from_i16x8: i16, 0;
    i16x8_extmul_high_i8x16_s => i8x16, from_i16x8: i16, 8;
    i16x8_extmul_low_i8x16_u => u8x16, from_u16x8: u16, 0;
    i16x8_extmul_high_i8x16_u => u8x16, from_u16x8: u16, 8;
    i32x4_extmul_low_i16x8_s => i16x8, from_i32x4: i32, 0;
    i32x4_extmul_high_i16x8_s => i16x8, from_i32x4: i32, 4;
    i32x4_extmul_low_i16x8_u => u16x8, from_u32x4: u32, 0;
    i32x4_extmul_high_i16x8_u => u16x8, from_u32x4: u32, 4;
    i64x2_extmul_low_i32x4_s => i32x4, from_i64x2: i64, 0;
    i64x2_extmul_high_i32x4_s => i32x4, from_i64x2: i64, 2;
    i64x2_extmul_low_i32x4_u => u32x4, from_u64x2: u64, 0;
    i64x2_extmul_high_i32x4_u => u32x4, from_u64x2: u64, 2;
}

/// Sums of adjacent pairs of lanes, widened.
macro_rules! extadd_pairwise {
    ($($name:ident => $to:ident, $from:ident: $t:ty;)*) => {$(
        #[doc = concat!("`", stringify!($name), "`.")]
        #[inline]
        pub fn $name(a: V128) -> V128 {
            let a = $to(a);
            $from(std::array::from_fn(|i| (a[2 * i] as $t).wrapping_add(a[2 * i + 1] as $t)))
        }
    )*};
}

extadd_pairwise! {
    i16x8_extadd_pairwise_i8x16_s => i8x16, from_i16x8: i16;
    i16x8_extadd_pairwise_i8x16_u => u8x16, from_u16x8: u16;
    i32x4_extadd_pairwise_i16x8_s => i16x8, from_i32x4: i32;
    i32x4_extadd_pairwise_i16x8_u => u16x8, from_u32x4: u32;
}

/// `i32x4.dot_i16x8_s`: sums of the products of adjacent signed 16-bit lanes (wrapping).
#[inline]
pub fn i32x4_dot_i16x8_s(a: V128, b: V128) -> V128 {
    let (a, b) = (i16x8(a), i16x8(b));
    from_i32x4(std::array::from_fn(|i| {
        let lo = a[2 * i] as i32 * b[2 * i] as i32;
        let hi = a[2 * i + 1] as i32 * b[2 * i + 1] as i32;
        lo.wrapping_add(hi)
    }))
}

// Floats.

map1! {
    // Sign operations work on bits so NaN payloads survive.
    f32x4_abs => u32x4, from_u32x4, |x| x & 0x7fff_ffff;
    f32x4_neg => u32x4, from_u32x4, |x| x ^ 0x8000_0000;
    f64x2_abs => u64x2, from_u64x2, |x| x & 0x7fff_ffff_ffff_ffff;
    f64x2_neg => u64x2, from_u64x2, |x| x ^ 0x8000_0000_0000_0000;
    f32x4_sqrt => f32x4, from_f32x4, |x| x.sqrt();
    f64x2_sqrt => f64x2, from_f64x2, |x| x.sqrt();
    f32x4_ceil => f32x4, from_f32x4, |x| num::f32_ceil(x);
    f32x4_floor => f32x4, from_f32x4, |x| num::f32_floor(x);
    f32x4_trunc => f32x4, from_f32x4, |x| num::f32_trunc(x);
    f32x4_nearest => f32x4, from_f32x4, |x| num::f32_nearest(x);
    f64x2_ceil => f64x2, from_f64x2, |x| num::f64_ceil(x);
    f64x2_floor => f64x2, from_f64x2, |x| num::f64_floor(x);
    f64x2_trunc => f64x2, from_f64x2, |x| num::f64_trunc(x);
    f64x2_nearest => f64x2, from_f64x2, |x| num::f64_nearest(x);
    // Float-to-int `as` saturates and maps NaN to 0: exactly `trunc_sat`.
    i32x4_trunc_sat_f32x4_s => f32x4, from_i32x4, |x| x as i32;
    i32x4_trunc_sat_f32x4_u => f32x4, from_u32x4, |x| x as u32;
    // Int-to-float `as` rounds to nearest, ties to even.
    f32x4_convert_i32x4_s => i32x4, from_f32x4, |x| x as f32;
    f32x4_convert_i32x4_u => u32x4, from_f32x4, |x| x as f32;
}

map2! {
    f32x4_add => f32x4, from_f32x4, |x, y| x + y;
    f32x4_sub => f32x4, from_f32x4, |x, y| x - y;
    f32x4_mul => f32x4, from_f32x4, |x, y| x * y;
    f32x4_div => f32x4, from_f32x4, |x, y| x / y;
    f32x4_min => f32x4, from_f32x4, |x, y| num::f32_min(x, y);
    f32x4_max => f32x4, from_f32x4, |x, y| num::f32_max(x, y);
    // Pseudo-min/max: `b < a ? b : a` and `a < b ? b : a`, NaN and zero signs included.
    f32x4_pmin => f32x4, from_f32x4, |x, y| if y < x { y } else { x };
    f32x4_pmax => f32x4, from_f32x4, |x, y| if x < y { y } else { x };
    f64x2_add => f64x2, from_f64x2, |x, y| x + y;
    f64x2_sub => f64x2, from_f64x2, |x, y| x - y;
    f64x2_mul => f64x2, from_f64x2, |x, y| x * y;
    f64x2_div => f64x2, from_f64x2, |x, y| x / y;
    f64x2_min => f64x2, from_f64x2, |x, y| num::f64_min(x, y);
    f64x2_max => f64x2, from_f64x2, |x, y| num::f64_max(x, y);
    f64x2_pmin => f64x2, from_f64x2, |x, y| if y < x { y } else { x };
    f64x2_pmax => f64x2, from_f64x2, |x, y| if x < y { y } else { x };
}

/// `i32x4.trunc_sat_f64x2_s_zero`.
#[inline]
pub fn i32x4_trunc_sat_f64x2_s_zero(a: V128) -> V128 {
    let a = f64x2(a);
    from_i32x4([a[0] as i32, a[1] as i32, 0, 0])
}

/// `i32x4.trunc_sat_f64x2_u_zero`.
#[inline]
pub fn i32x4_trunc_sat_f64x2_u_zero(a: V128) -> V128 {
    let a = f64x2(a);
    from_u32x4([a[0] as u32, a[1] as u32, 0, 0])
}

/// `f32x4.demote_f64x2_zero`.
#[inline]
pub fn f32x4_demote_f64x2_zero(a: V128) -> V128 {
    let a = f64x2(a);
    from_f32x4([a[0] as f32, a[1] as f32, 0.0, 0.0])
}

// Relaxed SIMD (WebAssembly 3.0). The proposal lets each instruction return one of several
// results; Kiln fixes one per instruction, the one its native code computes on x86-64
// (RATIONALE.md, "Which result does each relaxed SIMD instruction give?"), so that every
// engine and tier returns the same bits. `relaxed_min`/`max` are `pmin`/`pmax`,
// `relaxed_trunc_*_u` are `trunc_sat_*_u` and `i16x8.relaxed_laneselect` is `bitselect`:
// those have no functions of their own.

/// `i8x16.relaxed_swizzle`, as x86 `pshufb`: lane `i` is 0 when bit 7 of `b[i]` is set,
/// else byte `b[i] & 15` of `a` (so indices 16..=127 wrap instead of giving 0).
#[inline]
pub fn i8x16_relaxed_swizzle(a: V128, b: V128) -> V128 {
    // Clearing bits 4..=6 leaves an index below 16, or one of 128 and above, which
    // `swizzle` maps to 0: the same lanes, through the code LLVM already vectorises.
    i8x16_swizzle(a, b.map(|k| k & 0x8f))
}

/// `i32x4.relaxed_trunc_f32x4_s`, as x86 `cvttps2dq`: truncation, and `i32::MIN` for NaN
/// and for lanes out of the `i32` range.
#[inline]
pub fn i32x4_relaxed_trunc_f32x4_s(a: V128) -> V128 {
    // -2^31 is exact in f32; below it, the next f32 truncates out of range.
    from_i32x4(f32x4(a).map(|x| {
        if (-2_147_483_648.0..2_147_483_648.0).contains(&x) {
            x as i32
        } else {
            i32::MIN
        }
    }))
}

/// `i32x4.relaxed_trunc_f64x2_s_zero`, as x86 `cvttpd2dq`: truncation, `i32::MIN` for NaN
/// and out of range, zero upper lanes.
#[inline]
pub fn i32x4_relaxed_trunc_f64x2_s_zero(a: V128) -> V128 {
    // Open below: -2^31 - 0.5 still truncates to -2^31.
    let t = f64x2(a).map(|x| {
        if x > -2_147_483_649.0 && x < 2_147_483_648.0 {
            x as i32
        } else {
            i32::MIN
        }
    });
    from_i32x4([t[0], t[1], 0, 0])
}

map2! {
    // x86 `pmulhrsw`: rounding like `q15mulr_sat_s`, but -1 * -1 (0x8000 squared) wraps
    // to -32768 instead of saturating to 32767.
    i16x8_relaxed_q15mulr_s => i16x8, from_i16x8, |x, y| {
        ((x as i32 * y as i32 + 0x4000) >> 15) as i16
    };
}

/// `f32x4.relaxed_madd`: `a * b + c`, unfused: the product rounds before the sum, as
/// baseline x86-64 (no FMA) computes it. (Rust never contracts `*` and `+` into a fused
/// multiply-add, so the host does the same.)
#[inline]
pub fn f32x4_relaxed_madd(a: V128, b: V128, c: V128) -> V128 {
    f32x4_add(f32x4_mul(a, b), c)
}

/// `f32x4.relaxed_nmadd`: `-a * b + c`, unfused.
#[inline]
pub fn f32x4_relaxed_nmadd(a: V128, b: V128, c: V128) -> V128 {
    f32x4_add(f32x4_mul(f32x4_neg(a), b), c)
}

/// `f64x2.relaxed_madd`: `a * b + c`, unfused.
#[inline]
pub fn f64x2_relaxed_madd(a: V128, b: V128, c: V128) -> V128 {
    f64x2_add(f64x2_mul(a, b), c)
}

/// `f64x2.relaxed_nmadd`: `-a * b + c`, unfused.
#[inline]
pub fn f64x2_relaxed_nmadd(a: V128, b: V128, c: V128) -> V128 {
    f64x2_add(f64x2_mul(f64x2_neg(a), b), c)
}

/// Lane selection by the top bit of each mask lane, as x86 `pblendvb`/`blendvps`/`blendvpd`.
macro_rules! laneselect {
    ($($name:ident => $to:ident, $from:ident;)*) => {$(
        #[doc = concat!("`", stringify!($name), "`: the lane of `a` where the mask lane's top")]
        /// bit is set, of `b` elsewhere (the other mask bits are ignored).
        #[inline]
        pub fn $name(a: V128, b: V128, mask: V128) -> V128 {
            let (a, b, m) = ($to(a), $to(b), $to(mask));
            $from(std::array::from_fn(|i| if m[i] < 0 { a[i] } else { b[i] }))
        }
    )*};
}

laneselect! {
    i8x16_relaxed_laneselect => i8x16, from_i8x16;
    i32x4_relaxed_laneselect => i32x4, from_i32x4;
    i64x2_relaxed_laneselect => i64x2, from_i64x2;
}

/// The pairwise products of x86 `pmaddubsw`: lane `i` is `a[2i] * b[2i] + a[2i+1] * b[2i+1]`
/// with the lanes of `a` signed, those of `b` unsigned, the sum saturated to `i16`.
#[inline]
fn pmaddubsw(a: V128, b: V128) -> [i16; 8] {
    let (a, b) = (i8x16(a), u8x16(b));
    std::array::from_fn(|i| {
        let lo = a[2 * i] as i32 * b[2 * i] as i32;
        let hi = a[2 * i + 1] as i32 * b[2 * i + 1] as i32;
        (lo + hi).clamp(i16::MIN as i32, i16::MAX as i32) as i16
    })
}

/// `i16x8.relaxed_dot_i8x16_i7x16_s`, as x86 `pmaddubsw`: `b`'s lanes unsigned, so a lane of
/// `b` with its top bit set counts as 128..=255; the pair sums saturate.
#[inline]
pub fn i16x8_relaxed_dot_i8x16_i7x16_s(a: V128, b: V128) -> V128 {
    from_i16x8(pmaddubsw(a, b))
}

/// `i32x4.relaxed_dot_i8x16_i7x16_add_s`: the saturated pairs of `pmaddubsw`, summed in
/// pairs exactly in 32 bits, plus `c` (wrapping).
#[inline]
pub fn i32x4_relaxed_dot_i8x16_i7x16_add_s(a: V128, b: V128, c: V128) -> V128 {
    let (p, c) = (pmaddubsw(a, b), i32x4(c));
    from_i32x4(std::array::from_fn(|i| {
        (p[2 * i] as i32 + p[2 * i + 1] as i32).wrapping_add(c[i])
    }))
}

// Memory: the lanes of extending loads (`bytes` as read from memory, little-endian).

/// `v128.load8x8_s`.
#[inline]
pub fn load8x8_s(b: [u8; 8]) -> V128 {
    from_i16x8(b.map(|x| x as i8 as i16))
}

/// `v128.load8x8_u`.
#[inline]
pub fn load8x8_u(b: [u8; 8]) -> V128 {
    from_u16x8(b.map(|x| x as u16))
}

/// `v128.load16x4_s`.
#[inline]
pub fn load16x4_s(b: [u8; 8]) -> V128 {
    from_i32x4(std::array::from_fn(|i| {
        i16::from_le_bytes([b[2 * i], b[2 * i + 1]]) as i32
    }))
}

/// `v128.load16x4_u`.
#[inline]
pub fn load16x4_u(b: [u8; 8]) -> V128 {
    from_u32x4(std::array::from_fn(|i| {
        u16::from_le_bytes([b[2 * i], b[2 * i + 1]]) as u32
    }))
}

/// `v128.load32x2_s`.
#[inline]
pub fn load32x2_s(b: [u8; 8]) -> V128 {
    let x = u64::from_le_bytes(b);
    from_i64x2([x as i32 as i64, (x >> 32) as i32 as i64])
}

/// `v128.load32_zero`.
#[inline]
pub fn load32_zero(b: [u8; 4]) -> V128 {
    let mut v = [0; 16];
    v[..4].copy_from_slice(&b);
    v
}

/// `v128.load64_zero`.
#[inline]
pub fn load64_zero(b: [u8; 8]) -> V128 {
    let mut v = [0; 16];
    v[..8].copy_from_slice(&b);
    v
}

/// `v128.load32x2_u`.
#[inline]
pub fn load32x2_u(b: [u8; 8]) -> V128 {
    let x = u64::from_le_bytes(b);
    from_u64x2([x as u32 as u64, x >> 32])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32v(l: [f32; 4]) -> V128 {
        from_f32x4(l)
    }

    #[test]
    fn lane_order_is_little_endian() {
        let v = from_u8x16(std::array::from_fn(|i| i as u8));
        assert_eq!(u64x2(v)[0], 0x0706_0504_0302_0100);
        assert_eq!(u32x4(v)[1], 0x0706_0504);
        assert_eq!(i8x16_extract_lane_u(v, 15), 15);
        assert_eq!(i64x2_extract_lane(v, 1), 0x0f0e_0d0c_0b0a_0908);
    }

    #[test]
    fn shifts_take_the_count_modulo_the_lane_width() {
        let v = i8x16_splat(0x81);
        assert_eq!(u8x16(i8x16_shl(v, 9))[0], 0x02);
        assert_eq!(u8x16(i8x16_shr_s(v, 8))[0], 0x81);
        assert_eq!(u8x16(i8x16_shr_s(v, 1))[0], 0xc0);
        assert_eq!(u8x16(i8x16_shr_u(v, 1))[0], 0x40);
        assert_eq!(u64x2(i64x2_shl(i64x2_splat(1), 65))[1], 2);
    }

    #[test]
    fn saturation_and_narrowing() {
        assert_eq!(
            i8x16(i8x16_add_sat_s(i8x16_splat(100), i8x16_splat(100)))[3],
            127
        );
        assert_eq!(u8x16(i8x16_sub_sat_u(i8x16_splat(1), i8x16_splat(2)))[3], 0);
        let a = from_i16x8([300, -300, 5, -5, 127, 128, -128, -129]);
        assert_eq!(
            i8x16(i8x16_narrow_i16x8_s(a, [0; 16]))[..8],
            [127, -128, 5, -5, 127, 127, -128, -128]
        );
        assert_eq!(
            u8x16(i8x16_narrow_i16x8_u(a, [0; 16]))[..8],
            [255, 0, 5, 0, 127, 128, 0, 0]
        );
        let m = i16x8_splat(0x8000);
        assert_eq!(i16x8(i16x8_q15mulr_sat_s(m, m))[0], i16::MAX);
        assert_eq!(
            u8x16(i8x16_avgr_u(i8x16_splat(255), i8x16_splat(254)))[0],
            255
        );
    }

    #[test]
    fn comparisons_make_masks_and_bitmasks() {
        let a = from_i32x4([1, -1, 3, i32::MIN]);
        let b = from_i32x4([1, 1, 2, 0]);
        assert_eq!(i32x4(i32x4_lt_s(a, b)), [0, -1, 0, -1]);
        assert_eq!(i32x4(i32x4_lt_u(a, b)), [0, 0, 0, 0]);
        assert_eq!(i32x4_bitmask(a), 0b1010);
        assert_eq!(i32x4_all_true(a), 1);
        assert_eq!(i32x4_all_true(b), 0);
        assert_eq!(v128_any_true([0; 16]), 0);
        assert_eq!(v128_any_true(i64x2_replace_lane([0; 16], 1 << 63, 1)), 1);
        let n = f32v([f32::NAN, 1.0, -0.0, 2.0]);
        let m = f32v([f32::NAN, 1.0, 0.0, 1.0]);
        assert_eq!(i32x4(f32x4_eq(n, m)), [0, -1, -1, 0]);
        assert_eq!(i32x4(f32x4_ne(n, m)), [-1, 0, 0, -1]);
    }

    #[test]
    fn float_min_max_follow_wasm_rules() {
        let a = f32v([-0.0, 0.0, f32::NAN, 1.0]);
        let b = f32v([0.0, -0.0, 1.0, f32::NAN]);
        let min = f32x4(f32x4_min(a, b));
        assert_eq!(min[0].to_bits(), (-0.0f32).to_bits());
        assert_eq!(min[1].to_bits(), (-0.0f32).to_bits());
        assert!(min[2].is_nan() && min[3].is_nan());
        let max = f32x4(f32x4_max(a, b));
        assert_eq!(max[0].to_bits(), 0);
        // pmin/pmax return the first operand unless the second is strictly smaller/larger.
        let pmin = f32x4(f32x4_pmin(a, b));
        assert_eq!(pmin[0].to_bits(), (-0.0f32).to_bits());
        assert_eq!(pmin[1].to_bits(), 0);
        assert!(pmin[2].is_nan());
        assert_eq!(pmin[3], 1.0);
        let pmax = f64x2(f64x2_pmax(
            from_f64x2([1.0, f64::NAN]),
            from_f64x2([f64::NAN, 2.0]),
        ));
        assert_eq!(pmax[0], 1.0);
        assert!(pmax[1].is_nan());
    }

    #[test]
    fn rounding_and_conversions() {
        let r = f32x4(f32x4_nearest(f32v([0.5, 1.5, 2.5, -0.5])));
        assert_eq!(r[..3], [0.0, 2.0, 2.0]);
        assert_eq!(r[3].to_bits(), (-0.0f32).to_bits());
        let t = i32x4(i32x4_trunc_sat_f32x4_s(f32v([f32::NAN, 3e9, -3e9, -1.9])));
        assert_eq!(t, [0, i32::MAX, i32::MIN, -1]);
        let u = u32x4(i32x4_trunc_sat_f64x2_u_zero(from_f64x2([-1.0, 5e9])));
        assert_eq!(u, [0, u32::MAX, 0, 0]);
        let c = f64x2(f64x2_convert_low_i32x4_u(from_i32x4([-1, 2, 3, 4])));
        assert_eq!(c, [4294967295.0, 2.0]);
        let d = f32x4(f32x4_demote_f64x2_zero(from_f64x2([1.5, 1e300])));
        assert_eq!(d, [1.5, f32::INFINITY, 0.0, 0.0]);
    }

    #[test]
    fn widening_and_pairwise() {
        let v = from_i8x16(std::array::from_fn(|i| i as i8 - 8));
        assert_eq!(i16x8(i16x8_extend_low_i8x16_s(v))[0], -8);
        assert_eq!(u16x8(i16x8_extend_low_i8x16_u(v))[0], 248);
        assert_eq!(i16x8(i16x8_extend_high_i8x16_s(v))[7], 7);
        assert_eq!(i16x8(i16x8_extadd_pairwise_i8x16_s(v))[0], -15);
        assert_eq!(u16x8(i16x8_extadd_pairwise_i8x16_u(v))[0], 248 + 249);
        let m = i16x8_splat(0x8000);
        assert_eq!(i32x4(i32x4_dot_i16x8_s(m, m))[0], i32::MIN);
        assert_eq!(i32x4(i32x4_extmul_high_i16x8_s(m, m))[3], 1 << 30);
        assert_eq!(u32x4(i32x4_extmul_low_i16x8_u(m, m))[0], 1 << 30);
        assert_eq!(
            i64x2(load32x2_s(0xffff_ffff_0000_0001u64.to_le_bytes())),
            [1, -1]
        );
        assert_eq!(
            i16x8(load8x8_s([0x80, 1, 2, 3, 4, 5, 6, 0xff]))[..2],
            [-128, 1]
        );
    }

    #[test]
    fn relaxed_results_are_those_of_the_x86_instructions() {
        // pshufb: bit 7 gives 0, indices 16..=127 wrap.
        let a = from_u8x16(std::array::from_fn(|i| 0xa0 + i as u8));
        let idx = from_u8x16(std::array::from_fn(|i| [0x11, 0x80, 0xff, 0x7f][i % 4]));
        assert_eq!(
            u8x16(i8x16_relaxed_swizzle(a, idx))[..4],
            [0xa1, 0, 0, 0xaf]
        );
        // cvttps2dq / cvttpd2dq: i32::MIN for NaN and out of range, truncation otherwise.
        let t = i32x4(i32x4_relaxed_trunc_f32x4_s(f32v([
            f32::NAN,
            3e9,
            -2147483648.0,
            -1.9,
        ])));
        assert_eq!(t, [i32::MIN, i32::MIN, i32::MIN, -1]);
        let t = i32x4(i32x4_relaxed_trunc_f64x2_s_zero(from_f64x2([
            -2147483648.9,
            2147483648.0,
        ])));
        assert_eq!(t, [i32::MIN, i32::MIN, 0, 0]);
        let t = i32x4(i32x4_relaxed_trunc_f64x2_s_zero(from_f64x2([
            2147483647.9,
            -2147483649.0,
        ])));
        assert_eq!(t, [i32::MAX, i32::MIN, 0, 0]);
        // pmulhrsw: 0x8000 squared wraps.
        let m = i16x8_splat(0x8000);
        assert_eq!(i16x8(i16x8_relaxed_q15mulr_s(m, m))[0], i16::MIN);
        // pmaddubsw: `b` unsigned, pair sums saturated; the 32-bit sums add them exactly.
        let a = from_i8x16([-128; 16]);
        let b = from_i8x16([-127; 16]);
        assert_eq!(i16x8(i16x8_relaxed_dot_i8x16_i7x16_s(a, b))[0], i16::MIN);
        let c = from_i32x4([1, 2, 3, 4]);
        assert_eq!(
            i32x4(i32x4_relaxed_dot_i8x16_i7x16_add_s(a, b, c)),
            [-65535, -65534, -65533, -65532]
        );
        // blendv: the top bit of each mask lane only.
        let mask = from_u32x4([0x8000_0000, 0x7fff_ffff, 0xffff_ffff, 0]);
        let (x, y) = (from_u32x4([1; 4]), from_u32x4([2; 4]));
        assert_eq!(u32x4(i32x4_relaxed_laneselect(x, y, mask)), [1, 2, 1, 2]);
        // Unfused multiply-add: (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 rounds to 1 + 2^-11 before
        // the sum, so adding -(1 + 2^-11) gives 0 (a fused multiply-add gives 2^-24).
        let p = from_f32x4([1.0 + 1.0 / 4096.0; 4]);
        let minus = from_f32x4([-(1.0 + 1.0 / 2048.0); 4]);
        assert_eq!(f32x4(f32x4_relaxed_madd(p, p, minus))[0], 0.0);
        assert_eq!(f32x4(f32x4_relaxed_nmadd(p, p, f32x4_neg(minus)))[0], 0.0);
        let p = from_f64x2([1.0 + 1.0 / 134217728.0; 2]);
        let minus = from_f64x2([-(1.0 + 1.0 / 67108864.0); 2]);
        assert_eq!(f64x2(f64x2_relaxed_madd(p, p, minus))[0], 0.0);
    }

    #[test]
    fn shuffle_swizzle_bitselect() {
        let a = from_u8x16(std::array::from_fn(|i| i as u8));
        let b = from_u8x16(std::array::from_fn(|i| 16 + i as u8));
        let rev = from_u8x16(std::array::from_fn(|i| 31 - i as u8));
        assert_eq!(u8x16(i8x16_shuffle(a, b, rev))[0], 31);
        assert_eq!(u8x16(i8x16_shuffle(a, b, rev))[15], 16);
        let idx = from_u8x16(std::array::from_fn(
            |i| if i == 0 { 200 } else { 15 - i as u8 },
        ));
        let s = u8x16(i8x16_swizzle(a, idx));
        assert_eq!(s[0], 0);
        assert_eq!(s[1], 14);
        let mask = i64x2_splat(0xff);
        assert_eq!(
            u64x2(v128_bitselect([0xff; 16], [0; 16], mask)),
            [0xff, 0xff]
        );
        assert_eq!(u32x4(i8x16_replace_lane([0; 16], 0x1ff, 2))[0], 0xff_0000);
        assert_eq!(u64x2(v128_andnot([0xff; 16], mask))[1], !0xff);
        assert_eq!(u32x4(load32_zero([1, 0, 0, 0])), [1, 0, 0, 0]);
    }
}
