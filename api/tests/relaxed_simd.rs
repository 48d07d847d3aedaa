//! Relaxed SIMD: every relaxed instruction on edge inputs (NaNs, signed zeros, infinities,
//! out-of-range floats, swizzle indices past 15, mask lanes that are neither all ones nor
//! all zeros, the `i8` extremes) in every engine, with fuel on and off and across a tier-up.
//! Every setup must return the same bits as the interpreter, and those bits must be the
//! result Kiln documents for the instruction (RATIONALE.md, "Which result does each relaxed
//! SIMD instruction give?"), computed here lane by lane from that description.

mod common;

use common::{compile_err, wat};
use kiln::{CoreFeatures, EngineKind, Error, Runtime, RuntimeConfig};

/// The relaxed instructions by arity: name, then the WAT of the body.
const UNARY: [&str; 4] = [
    "i32x4.relaxed_trunc_f32x4_s",
    "i32x4.relaxed_trunc_f32x4_u",
    "i32x4.relaxed_trunc_f64x2_s_zero",
    "i32x4.relaxed_trunc_f64x2_u_zero",
];
const BINARY: [&str; 7] = [
    "i8x16.relaxed_swizzle",
    "f32x4.relaxed_min",
    "f32x4.relaxed_max",
    "f64x2.relaxed_min",
    "f64x2.relaxed_max",
    "i16x8.relaxed_q15mulr_s",
    "i16x8.relaxed_dot_i8x16_i7x16_s",
];
const TERNARY: [&str; 9] = [
    "i8x16.relaxed_laneselect",
    "i16x8.relaxed_laneselect",
    "i32x4.relaxed_laneselect",
    "i64x2.relaxed_laneselect",
    "f32x4.relaxed_madd",
    "f32x4.relaxed_nmadd",
    "f64x2.relaxed_madd",
    "f64x2.relaxed_nmadd",
    "i32x4.relaxed_dot_i8x16_i7x16_add_s",
];

/// A module exporting one function per relaxed instruction, named after it.
fn module_text() -> String {
    let mut text = String::from("(module\n");
    for (names, arity) in [(&UNARY[..], 1), (&BINARY[..], 2), (&TERNARY[..], 3)] {
        for name in names {
            let params = "v128 ".repeat(arity);
            let args: String = (0..arity).map(|i| format!("(local.get {i}) ")).collect();
            text.push_str(&format!(
                "  (func (export \"{name}\") (param {params}) (result v128) ({name} {args}))\n"
            ));
        }
    }
    text.push(')');
    text
}

// ---------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------

fn f32s(l: [f32; 4]) -> u128 {
    l.iter()
        .enumerate()
        .fold(0, |v, (i, x)| v | (x.to_bits() as u128) << (32 * i))
}

fn f64s(l: [f64; 2]) -> u128 {
    l[0].to_bits() as u128 | (l[1].to_bits() as u128) << 64
}

fn bytes(l: [u8; 16]) -> u128 {
    u128::from_le_bytes(l)
}

/// Edge vectors for every lane interpretation, plus a few pseudo-random ones.
fn inputs() -> Vec<u128> {
    // A quiet NaN with a payload, and a signalling one (its payload survives quieted).
    let nan_payload = f32::from_bits(0x7fc0_1234);
    let snan = f32::from_bits(0xff80_0001);
    let two31 = 2_147_483_648.0f32;
    let mut v = vec![
        0,
        u128::MAX,
        f32s([f32::NAN, -0.0, 0.0, 1.0]),
        f32s([0.0, 0.0, -0.0, f32::NAN]),
        f32s([nan_payload, snan, f32::INFINITY, f32::NEG_INFINITY]),
        f32s([two31, -two31, 4_294_967_296.0, -1.5]),
        f32s([2_147_483_520.0, -2_147_483_904.0, 0.999, 1e-45]),
        f32s([f32::MAX, f32::MIN, -0.75, 3.0e9]),
        f64s([f64::NAN, -0.0]),
        f64s([2_147_483_647.9, -2_147_483_648.9]),
        f64s([2_147_483_648.0, -2_147_483_649.0]),
        f64s([f64::INFINITY, 4_294_967_295.5]),
        f64s([f64::from_bits(0xfff0_0000_0000_0042), 1e300]),
        // Swizzle indices: in range, 16..=127 (wrap in `pshufb`), 128.. (zero).
        bytes(std::array::from_fn(|i| i as u8 * 17)),
        bytes(std::array::from_fn(|i| 0x10 + i as u8 * 7)),
        // `i8` and `i16` extremes: -128, 127, 0x8000, 0x7fff, and masks of top bits only.
        bytes([0x80; 16]),
        bytes([0x7f; 16]),
        bytes([
            0x00, 0x80, 0xff, 0x7f, 0x00, 0x80, 0xff, 0x7f, 0, 0, 0, 0x80, 0, 0, 0, 0x80,
        ]),
        bytes([
            0x81, 0x01, 0x7f, 0x80, 0xc0, 0x40, 1, 2, 3, 4, 5, 6, 7, 8, 0xfe, 0xfd,
        ]),
    ];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..3 {
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        v.push(next() as u128 | (next() as u128) << 64);
    }
    v
}

// ---------------------------------------------------------------------------------------
// The documented result of each instruction, lane by lane
// ---------------------------------------------------------------------------------------

fn lanes<const N: usize>(v: u128) -> [u128; N] {
    let bits = 128 / N;
    let mask = if bits == 128 {
        u128::MAX
    } else {
        (1 << bits) - 1
    };
    std::array::from_fn(|i| (v >> (bits * i)) & mask)
}

fn pack<const N: usize>(l: [u128; N]) -> u128 {
    let bits = 128 / N;
    let mask = (1u128 << bits) - 1;
    l.iter()
        .enumerate()
        .fold(0, |v, (i, x)| v | (x & mask) << (bits * i))
}

fn as_f32(x: u128) -> f32 {
    f32::from_bits(x as u32)
}

fn as_f64(x: u128) -> f64 {
    f64::from_bits(x as u64)
}

/// The result Kiln documents for `name`, and per 32- or 64-bit lane whether only "some NaN"
/// is defined (a `relaxed_madd` lane with several NaN operands, where which payload wins
/// is Wasm's ordinary NaN nondeterminism).
fn expected(name: &str, a: u128, b: u128, c: u128) -> (u128, u128) {
    let trunc_s = |x: f64| {
        if x.is_nan() || x <= -2_147_483_649.0 || x >= 2_147_483_648.0 {
            i32::MIN as u32 as u128
        } else {
            x as i32 as u32 as u128
        }
    };
    let sat16 = |x: i32| x.clamp(i16::MIN as i32, i16::MAX as i32) as i16;
    // `pmaddubsw`: signed bytes of `a` times unsigned bytes of `b`, pair sums saturated.
    let pairs = |a: u128, b: u128| -> [i16; 8] {
        let (a, b) = (lanes::<16>(a), lanes::<16>(b));
        std::array::from_fn(|i| {
            let p = |k: usize| a[k] as u8 as i8 as i32 * b[k] as u8 as i32;
            sat16(p(2 * i) + p(2 * i + 1))
        })
    };
    let top_bit_select = |bits: usize| {
        let n = 128 / bits;
        let mut out = 0u128;
        for i in 0..n {
            let lane = ((1u128 << bits) - 1) << (bits * i);
            let top = 1u128 << (bits * i + bits - 1);
            out |= if c & top != 0 { a & lane } else { b & lane };
        }
        out
    };
    let madd32 = |negate: bool| {
        let (a, b, c) = (lanes::<4>(a), lanes::<4>(b), lanes::<4>(c));
        let mut any_nan = 0;
        let r: [u128; 4] = std::array::from_fn(|i| {
            let x = if negate { -as_f32(a[i]) } else { as_f32(a[i]) };
            let nans = [a[i], b[i], c[i]]
                .iter()
                .filter(|&&v| as_f32(v).is_nan())
                .count();
            if nans > 1 {
                any_nan |= 0xffff_ffffu128 << (32 * i);
            }
            (x * as_f32(b[i]) + as_f32(c[i])).to_bits() as u128
        });
        (pack(r), any_nan)
    };
    let madd64 = |negate: bool| {
        let (a, b, c) = (lanes::<2>(a), lanes::<2>(b), lanes::<2>(c));
        let mut any_nan = 0;
        let r: [u128; 2] = std::array::from_fn(|i| {
            let x = if negate { -as_f64(a[i]) } else { as_f64(a[i]) };
            let nans = [a[i], b[i], c[i]]
                .iter()
                .filter(|&&v| as_f64(v).is_nan())
                .count();
            if nans > 1 {
                any_nan |= (u64::MAX as u128) << (64 * i);
            }
            (x * as_f64(b[i]) + as_f64(c[i])).to_bits() as u128
        });
        (pack(r), any_nan)
    };
    let exact = |v: u128| (v, 0);
    match name {
        "i32x4.relaxed_trunc_f32x4_s" => {
            exact(pack(lanes::<4>(a).map(|x| trunc_s(as_f32(x) as f64))))
        }
        "i32x4.relaxed_trunc_f32x4_u" => {
            exact(pack(lanes::<4>(a).map(|x| as_f32(x) as u32 as u128)))
        }
        "i32x4.relaxed_trunc_f64x2_s_zero" => {
            let l = lanes::<2>(a).map(|x| trunc_s(as_f64(x)));
            exact(pack([l[0], l[1], 0, 0]))
        }
        "i32x4.relaxed_trunc_f64x2_u_zero" => {
            let l = lanes::<2>(a).map(|x| as_f64(x) as u32 as u128);
            exact(pack([l[0], l[1], 0, 0]))
        }
        "i8x16.relaxed_swizzle" => {
            let (a, s) = (lanes::<16>(a), lanes::<16>(b));
            exact(pack(
                s.map(|k| if k >= 0x80 { 0 } else { a[(k & 15) as usize] }),
            ))
        }
        // `pmin`/`pmax`: `b < a ? b : a` and `a < b ? b : a`.
        "f32x4.relaxed_min" | "f32x4.relaxed_max" => {
            let (a, b) = (lanes::<4>(a), lanes::<4>(b));
            let min = name.ends_with("min");
            exact(pack::<4>(std::array::from_fn(|i| {
                let (x, y) = (as_f32(a[i]), as_f32(b[i]));
                let take_b = if min { y < x } else { x < y };
                if take_b { b[i] } else { a[i] }
            })))
        }
        "f64x2.relaxed_min" | "f64x2.relaxed_max" => {
            let (a, b) = (lanes::<2>(a), lanes::<2>(b));
            let min = name.ends_with("min");
            exact(pack::<2>(std::array::from_fn(|i| {
                let (x, y) = (as_f64(a[i]), as_f64(b[i]));
                let take_b = if min { y < x } else { x < y };
                if take_b { b[i] } else { a[i] }
            })))
        }
        "i16x8.relaxed_q15mulr_s" => {
            let (a, b) = (lanes::<8>(a), lanes::<8>(b));
            exact(pack::<8>(std::array::from_fn(|i| {
                let p = a[i] as u16 as i16 as i32 * b[i] as u16 as i16 as i32;
                // Only 0x8000 * 0x8000 leaves the i16 range: it wraps to 0x8000.
                ((p + 0x4000) >> 15) as i16 as u16 as u128
            })))
        }
        "i16x8.relaxed_dot_i8x16_i7x16_s" => exact(pack(pairs(a, b).map(|x| x as u16 as u128))),
        "i32x4.relaxed_dot_i8x16_i7x16_add_s" => {
            let (p, c) = (pairs(a, b), lanes::<4>(c));
            exact(pack::<4>(std::array::from_fn(|i| {
                let sum = p[2 * i] as i32 + p[2 * i + 1] as i32;
                sum.wrapping_add(c[i] as u32 as i32) as u32 as u128
            })))
        }
        "i8x16.relaxed_laneselect" => exact(top_bit_select(8)),
        "i16x8.relaxed_laneselect" => exact((a & c) | (b & !c)),
        "i32x4.relaxed_laneselect" => exact(top_bit_select(32)),
        "i64x2.relaxed_laneselect" => exact(top_bit_select(64)),
        "f32x4.relaxed_madd" => madd32(false),
        "f32x4.relaxed_nmadd" => madd32(true),
        "f64x2.relaxed_madd" => madd64(false),
        "f64x2.relaxed_nmadd" => madd64(true),
        other => panic!("no documented result for {other}"),
    }
}

/// Whether `got` is the documented `want` of instruction `name`: exact, except that lanes
/// in `nan_lanes` need only hold a NaN.
fn matches_documented(name: &str, got: u128, (want, nan_lanes): (u128, u128)) -> bool {
    if got & !nan_lanes != want & !nan_lanes {
        return false;
    }
    let lane_bits = if name.starts_with("f32x4") { 32 } else { 64 };
    (0..128 / lane_bits).all(|i| {
        let lane_mask = (u128::MAX >> (128 - lane_bits)) << (lane_bits * i);
        let lane = (got & lane_mask) >> (lane_bits * i);
        nan_lanes & lane_mask == 0
            || if lane_bits == 32 {
                as_f32(lane).is_nan()
            } else {
                as_f64(lane).is_nan()
            }
    })
}

// ---------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------

/// Every setup that must agree: each engine with fuel off and on, and tiered at threshold
/// 1 (native from the first call) and 10 (the first calls interpreted, the rest native).
fn setups() -> Vec<(String, RuntimeConfig)> {
    let base = |engine| {
        RuntimeConfig::new()
            .with_engine(engine)
            .with_core_features(CoreFeatures::V3)
    };
    let mut out = Vec::new();
    for engine in [EngineKind::Interp, EngineKind::Jit, EngineKind::Tiered] {
        if !engine.is_available() {
            eprintln!("skipping engine `{}`: not built", engine.name());
            continue;
        }
        if engine == EngineKind::Tiered {
            for threshold in [1, 10] {
                for fuel in [false, true] {
                    out.push((
                        format!("tiered (threshold {threshold}, fuel {fuel})"),
                        base(engine)
                            .with_tier_threshold(threshold)
                            .with_tier_sync(true)
                            .with_fuel(fuel),
                    ));
                }
            }
        } else {
            for fuel in [false, true] {
                out.push((
                    format!("{} (fuel {fuel})", engine.name()),
                    base(engine).with_fuel(fuel),
                ));
            }
        }
    }
    out
}

/// Every instruction's results on every input combination, in call order.
fn run_all(config: RuntimeConfig) -> Vec<(String, [u128; 3], u128)> {
    let fuel = config.fuel();
    let rt = Runtime::with_config(config).expect("engine is available");
    let module = rt
        .instantiate_bytes(&wat(&module_text()))
        .expect("instantiate");
    let inputs = inputs();
    let mut out = Vec::new();
    let all = UNARY
        .iter()
        .map(|n| (n, 1))
        .chain(BINARY.iter().map(|n| (n, 2)));
    for (name, arity) in all.chain(TERNARY.iter().map(|n| (n, 3))) {
        let f = module.exported_function(name).expect("exported");
        for (i, &a) in inputs.iter().enumerate() {
            let seconds: &[u128] = if arity == 1 { &[0] } else { &inputs };
            for (j, &b) in seconds.iter().enumerate() {
                // The third operand walks the inputs too (not every triple: too many).
                let c = if arity == 3 {
                    inputs[(i * 7 + j * 3) % inputs.len()]
                } else {
                    0
                };
                let mut args = kiln::encode_v128(a).to_vec();
                if arity >= 2 {
                    args.extend(kiln::encode_v128(b));
                }
                if arity == 3 {
                    args.extend(kiln::encode_v128(c));
                }
                if fuel {
                    rt.set_fuel(1_000).expect("fuel on");
                }
                let slots = f.call(&args).unwrap_or_else(|e| panic!("{name}: {e}"));
                let r = kiln::decode_v128([slots[0], slots[1]]);
                out.push((name.to_string(), [a, b, c], r));
            }
        }
    }
    out
}

#[test]
fn relaxed_simd_results_are_the_documented_ones_in_every_engine_and_tier() {
    let setups = setups();
    let reference = run_all(setups[0].1.clone());
    let mut checked = 0;
    for (name, [a, b, c], got) in &reference {
        let want = expected(name, *a, *b, *c);
        assert!(
            matches_documented(name, *got, want),
            "{name}({a:#034x}, {b:#034x}, {c:#034x}) in {}: {got:#034x}, documented {:#034x}",
            setups[0].0,
            want.0
        );
        checked += 1;
    }
    assert!(checked > 2_000, "only {checked} results checked");
    for (setup, config) in &setups[1..] {
        let results = run_all(config.clone());
        assert_eq!(results.len(), reference.len());
        for ((name, args, want), (_, _, got)) in reference.iter().zip(&results) {
            assert_eq!(
                got, want,
                "{name}{args:x?}: {setup} gives {got:#034x}, {} {want:#034x}",
                setups[0].0
            );
        }
    }
}

#[test]
fn relaxed_simd_is_rejected_in_wasm2_mode_and_runs_in_wasm3_mode() {
    let wasm = wat(
        r#"(module (func (export "f") (param v128 v128) (result v128)
        (i8x16.relaxed_swizzle (local.get 0) (local.get 1))))"#,
    );
    common::each_engine(|engine| {
        let v2 = Runtime::with_config(RuntimeConfig::new().with_engine(engine)).unwrap();
        let err = compile_err(&v2, &wasm);
        assert!(matches!(err, Error::Compile(_)), "{engine:?}: {err:?}");
        let v3 = Runtime::with_config(
            RuntimeConfig::new()
                .with_engine(engine)
                .with_core_features(CoreFeatures::V3),
        )
        .unwrap();
        let m = v3.instantiate_bytes(&wasm).expect("valid in 3.0 mode");
        let f = m.exported_function("f").unwrap();
        // Index 0x11 picks byte 1 (`pshufb` ignores bits 4..=6); 0x80 gives 0.
        let table = kiln::encode_v128(bytes(std::array::from_fn(|i| 0xa0 + i as u8)));
        let mut idx = [0u8; 16];
        idx[0] = 0x11;
        idx[1] = 0x80;
        idx[2] = 15;
        let idx = kiln::encode_v128(bytes(idx));
        let r = f.call(&[table[0], table[1], idx[0], idx[1]]).unwrap();
        let r = kiln::decode_v128([r[0], r[1]]).to_le_bytes();
        assert_eq!(r[..3], [0xa1, 0, 0xaf], "{engine:?}");
    });
}

#[test]
fn relaxed_madd_rounds_the_product_first_in_every_engine_and_tier() {
    // (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 rounds to 1 + 2^-11 in f32, so adding -(1 + 2^-11)
    // gives 0 unfused and 2^-24 fused; likewise in f64 with 2^-27.
    let a32 = f32s([1.0 + 1.0 / 4096.0; 4]);
    let c32 = f32s([-(1.0 + 1.0 / 2048.0); 4]);
    let a64 = f64s([1.0 + 1.0 / 134_217_728.0; 2]);
    let c64 = f64s([-(1.0 + 1.0 / 67_108_864.0); 2]);
    let neg = |v: u128, lane_bits: u32| {
        let signs = (0..128 / lane_bits).fold(0u128, |m, i| m | 1 << (lane_bits * (i + 1) - 1));
        v ^ signs
    };
    let wasm = wat(&module_text());
    for (setup, config) in setups() {
        let rt = Runtime::with_config(config).expect("engine is available");
        let module = rt.instantiate_bytes(&wasm).expect("instantiate");
        if rt.config().fuel() {
            rt.set_fuel(1_000_000).expect("fuel on");
        }
        let cases = [
            ("f32x4.relaxed_madd", a32, c32),
            ("f32x4.relaxed_nmadd", a32, neg(c32, 32)),
            ("f64x2.relaxed_madd", a64, c64),
            ("f64x2.relaxed_nmadd", a64, neg(c64, 64)),
        ];
        for (name, a, c) in cases {
            let f = module.exported_function(name).expect("exported");
            // Called enough times for tiered at threshold 10 to reach native code.
            for call in 0..12 {
                let mut args = kiln::encode_v128(a).to_vec();
                args.extend(kiln::encode_v128(a));
                args.extend(kiln::encode_v128(c));
                let r = f.call(&args).expect("call");
                let r = kiln::decode_v128([r[0], r[1]]);
                // +0.0 or -0.0 in every lane: `nmadd` gives -(x) + x, which is +0.
                assert_eq!(r, 0, "{name} in {setup}, call {call}: {r:#034x}");
            }
        }
    }
}
