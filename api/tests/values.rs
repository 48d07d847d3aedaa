//! Value types, extern types, the u64 slot encoding and the typed-value traits.

mod common;

use common::*;
use kiln::{ExternRef, ExternType, FuncRef, ValueType, WasmValue, WasmValues};

#[test]
fn value_type_names() {
    let cases = [
        (ValueType::I32, "i32"),
        (ValueType::I64, "i64"),
        (ValueType::F32, "f32"),
        (ValueType::F64, "f64"),
        (ValueType::V128, "v128"),
        (ValueType::FuncRef, "funcref"),
        (ValueType::ExternRef, "externref"),
    ];
    for (ty, name) in cases {
        assert_eq!(ty.name(), name);
        assert_eq!(ty.to_string(), name);
        assert_eq!(ty.slots(), if ty == ValueType::V128 { 2 } else { 1 });
        assert_eq!(
            ty.is_ref(),
            matches!(ty, ValueType::FuncRef | ValueType::ExternRef)
        );
    }
}

#[test]
fn extern_type_names() {
    let cases = [
        (ExternType::Func, "func"),
        (ExternType::Table, "table"),
        (ExternType::Memory, "memory"),
        (ExternType::Global, "global"),
    ];
    for (ty, name) in cases {
        assert_eq!(ty.name(), name);
        assert_eq!(ty.to_string(), name);
    }
}

#[test]
fn i32_and_u32_encoding() {
    for v in [0, 1, -1, 42, -42, i32::MIN, i32::MAX] {
        assert_eq!(kiln::decode_i32(kiln::encode_i32(v)), v);
        assert!(kiln::encode_i32(v) <= u32::MAX as u64, "zero-extended");
    }
    assert_eq!(kiln::encode_i32(-1), 0xffff_ffff);
    assert_eq!(kiln::encode_i32(i32::MIN), 0x8000_0000);
    // Only the low 32 bits count when decoding.
    assert_eq!(kiln::decode_i32(0xdead_beef_0000_0005), 5);
    assert_eq!(kiln::decode_i32(0xffff_ffff_ffff_fffe), -2);
    for v in [0, 1, u32::MAX, 0x8000_0000] {
        assert_eq!(kiln::decode_u32(kiln::encode_u32(v)), v);
        assert_eq!(kiln::encode_u32(v), v as u64);
    }
    assert_eq!(kiln::decode_u32(0x1_0000_0003), 3);
    // Signed and unsigned views of the same slot.
    assert_eq!(kiln::decode_u32(kiln::encode_i32(-1)), u32::MAX);
}

#[test]
fn i64_encoding() {
    for v in [0, 1, -1, i64::MIN, i64::MAX, 0x1234_5678_9abc_def0] {
        assert_eq!(kiln::decode_i64(kiln::encode_i64(v)), v);
    }
    assert_eq!(kiln::encode_i64(-1), u64::MAX);
    assert_eq!(kiln::encode_i64(i64::MIN), 1 << 63);
}

#[test]
fn float_encoding() {
    for v in [
        0.0f32,
        -0.0,
        1.5,
        -3.25,
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::INFINITY,
    ] {
        assert_eq!(kiln::decode_f32(kiln::encode_f32(v)).to_bits(), v.to_bits());
        assert_eq!(
            kiln::encode_f32(v),
            v.to_bits() as u64,
            "bits in the low half"
        );
    }
    let nan = f32::from_bits(0x7fa0_0001);
    assert_eq!(
        kiln::decode_f32(kiln::encode_f32(nan)).to_bits(),
        0x7fa0_0001
    );
    assert_eq!(
        kiln::decode_f32(0xffff_ffff_3fc0_0000),
        1.5,
        "high half ignored"
    );
    for v in [
        0.0f64,
        -0.0,
        1.5,
        -0.25,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::NEG_INFINITY,
    ] {
        assert_eq!(kiln::decode_f64(kiln::encode_f64(v)).to_bits(), v.to_bits());
        assert_eq!(kiln::encode_f64(v), v.to_bits());
    }
    let nan = f64::from_bits(0x7ff4_0000_0000_0001);
    assert_eq!(
        kiln::decode_f64(kiln::encode_f64(nan)).to_bits(),
        nan.to_bits()
    );
}

#[test]
fn reference_and_vector_encoding() {
    for v in [0usize, 1, 0xdead_beef, usize::MAX] {
        assert_eq!(kiln::decode_externref(kiln::encode_externref(v)), v);
    }
    assert_eq!(kiln::encode_externref(0), 0, "null is 0");
    for v in [0u64, 8, u64::MAX] {
        assert_eq!(kiln::decode_funcref(kiln::encode_funcref(v)), v);
    }
    for v in [
        0u128,
        1,
        u128::MAX,
        0x0011_2233_4455_6677_8899_aabb_ccdd_eeff,
    ] {
        assert_eq!(kiln::decode_v128(kiln::encode_v128(v)), v);
    }
    let v = 0x0011_2233_4455_6677_8899_aabb_ccdd_eeffu128;
    assert_eq!(
        kiln::encode_v128(v),
        [0x8899_aabb_ccdd_eeff, 0x0011_2233_4455_6677],
        "low half first"
    );
    assert!(ExternRef::NULL.is_null());
    assert!(ExternRef::default().is_null());
    assert!(!ExternRef(1).is_null());
    assert_eq!(FuncRef::NULL, FuncRef(0));
    assert_eq!(FuncRef::default(), FuncRef::NULL);
}

fn round_trip<T: WasmValue + PartialEq + std::fmt::Debug>(v: T, ty: ValueType) {
    assert_eq!(T::TYPE, ty);
    assert_eq!(T::SLOTS, ty.slots() as usize);
    let mut slots = [0u64; 2];
    v.write_slots(&mut slots);
    assert_eq!(T::read_slots(&slots), v);
}

#[test]
fn wasm_value_impls() {
    round_trip(-7i32, ValueType::I32);
    round_trip(u32::MAX, ValueType::I32);
    round_trip(i64::MIN, ValueType::I64);
    round_trip(u64::MAX, ValueType::I64);
    round_trip(2.5f32, ValueType::F32);
    round_trip(-2.5f64, ValueType::F64);
    round_trip(ExternRef(9), ValueType::ExternRef);
    round_trip(FuncRef(16), ValueType::FuncRef);
    round_trip(u128::MAX - 5, ValueType::V128);
    // The trait encoding is the free functions' encoding.
    let encoded = |v: &dyn Fn(&mut [u64])| {
        let mut slots = [0u64; 2];
        v(&mut slots);
        slots
    };
    assert_eq!(
        encoded(&|s| (-7i32).write_slots(s))[0],
        kiln::encode_i32(-7)
    );
    assert_eq!(
        encoded(&|s| 2.5f32.write_slots(s))[0],
        kiln::encode_f32(2.5)
    );
    assert_eq!(
        encoded(&|s| ExternRef(9).write_slots(s))[0],
        kiln::encode_externref(9)
    );
    let v = 0x0011_2233_4455_6677_8899_aabb_ccdd_eeffu128;
    assert_eq!(encoded(&|s| v.write_slots(s)), kiln::encode_v128(v));
}

#[test]
fn wasm_values_tuples() {
    assert_eq!(<() as WasmValues>::LEN, 0);
    assert!(<() as WasmValues>::types().is_empty());
    assert_eq!(<i32 as WasmValues>::LEN, 1);
    assert_eq!(<f64 as WasmValues>::types(), [ValueType::F64]);
    assert_eq!(<(i32,) as WasmValues>::types(), [ValueType::I32]);
    type Four = (i32, i64, f32, ExternRef);
    assert_eq!(<Four as WasmValues>::LEN, 4);
    assert_eq!(
        <Four as WasmValues>::types(),
        [
            ValueType::I32,
            ValueType::I64,
            ValueType::F32,
            ValueType::ExternRef
        ]
    );
    let mut stack = [0u64; 6];
    (-1i32, 5i64, 1.5f32, ExternRef(3)).store(&mut stack);
    assert_eq!(stack[..4], [0xffff_ffff, 5, 1.5f32.to_bits() as u64, 3]);
    assert_eq!(stack[4..], [0, 0], "nothing past LEN is written");
    assert_eq!(
        <Four as WasmValues>::load(&stack),
        (-1, 5, 1.5, ExternRef(3))
    );
    type Eight = (i32, i32, i32, i32, i32, i32, i32, u64);
    assert_eq!(<Eight as WasmValues>::LEN, 8);
    let mut stack = [0u64; 8];
    (1, 2, 3, 4, 5, 6, 7, 8u64).store(&mut stack);
    assert_eq!(stack, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(
        <Eight as WasmValues>::load(&stack),
        (1, 2, 3, 4, 5, 6, 7, 8)
    );
    // A v128 takes two slots, low half first, and shifts what follows.
    type Mixed = (i32, u128, f64);
    assert_eq!(<Mixed as WasmValues>::LEN, 4);
    assert_eq!(
        <Mixed as WasmValues>::types(),
        [ValueType::I32, ValueType::V128, ValueType::F64]
    );
    let v = (7i32, (3u128 << 64) | 2, 0.5f64);
    let mut stack = [0u64; 4];
    v.store(&mut stack);
    assert_eq!(stack, [7, 2, 3, 0.5f64.to_bits()]);
    assert_eq!(<Mixed as WasmValues>::load(&stack), v);
}

#[test]
fn typed_calls_and_host_closures_take_v128() {
    each_engine(|engine| {
        let rt = runtime(engine);
        rt.new_host_module_builder("host")
            .new_function_builder()
            .with_func(|a: u128, b: i32| a.rotate_left(8) ^ b as u128)
            .export("mix")
            .instantiate()
            .unwrap();
        let m = instantiate(
            &rt,
            r#"(module
                (import "host" "mix" (func $mix (param v128 i32) (result v128)))
                (func (export "add") (param i32 v128 v128) (result v128 i32)
                    local.get 1 local.get 2 i32x4.add local.get 0)
                (func (export "via_host") (param v128) (result v128)
                    local.get 0 i32.const 5 call $mix))"#,
        );
        let add = m
            .exported_function("add")
            .unwrap()
            .typed::<(i32, u128, u128), (u128, i32)>()
            .unwrap();
        let a = 0x0000_0004_0000_0003_0000_0002_0000_0001u128;
        let b = 0xffff_ffff_0000_0010_0000_0020_0000_0030u128;
        assert_eq!(
            add.call((9, a, b)).unwrap(),
            (0x0000_0003_0000_0013_0000_0022_0000_0031, 9),
            "engine {engine:?}"
        );
        let via_host = m
            .exported_function("via_host")
            .unwrap()
            .typed::<u128, u128>()
            .unwrap();
        assert_eq!(via_host.call(a).unwrap(), a.rotate_left(8) ^ 5);
        // A v128 parameter is not an i64 pair.
        assert!(
            m.exported_function("via_host")
                .unwrap()
                .typed::<(u64, u64), u128>()
                .is_err()
        );
    });
}

#[test]
fn encoded_values_reach_wasm_intact() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(
            &rt,
            r#"(module
                (func (export "i32") (param i32) (result i32) local.get 0)
                (func (export "i64") (param i64) (result i64) local.get 0)
                (func (export "f32") (param f32) (result f32) local.get 0)
                (func (export "f64") (param f64) (result f64) local.get 0)
                (func (export "f32_bits") (param f32) (result i32) local.get 0 i32.reinterpret_f32)
                (func (export "neg_i32") (result i32) i32.const -3))"#,
        );
        let id = |name: &str, v: u64| m.exported_function(name).unwrap().call(&[v]).unwrap()[0];
        assert_eq!(
            kiln::decode_i32(id("i32", kiln::encode_i32(i32::MIN))),
            i32::MIN
        );
        assert_eq!(kiln::decode_i64(id("i64", kiln::encode_i64(-9))), -9);
        assert_eq!(kiln::decode_f32(id("f32", kiln::encode_f32(-0.5))), -0.5);
        assert_eq!(kiln::decode_f64(id("f64", kiln::encode_f64(1e300))), 1e300);
        assert_eq!(
            id("f32_bits", kiln::encode_f32(1.0)),
            1.0f32.to_bits() as u64
        );
        // Wasm results are zero-extended i32s.
        let r = m.exported_function("neg_i32").unwrap().call(&[]).unwrap()[0];
        assert_eq!(r, 0xffff_fffd);
        assert_eq!(kiln::decode_i32(r), -3);
    });
}

/// An i32 or f32 is the low half of its `u64` slot: garbage in the high half (here of
/// parameters, a host function's results and a global's value) is ignored the same way
/// by every engine, interpreted or compiled, and never reaches a host function or comes
/// back to the caller.
#[test]
fn narrow_values_ignore_high_bits_of_their_slot() {
    use std::sync::{Arc, Mutex};
    const HIGH: u64 = 0xFFFF_FFFF_0000_0000;
    let f32_bits = u64::from(1.5f32.to_bits());
    each_engine(|engine| {
        let mut configs = vec![config(engine)];
        if engine == kiln::EngineKind::Tiered {
            // Compiled before its first call, as well as interpreted.
            configs.push(config(engine).with_tier_threshold(1).with_tier_sync(true));
        }
        for config in configs {
            let rt = kiln::Runtime::with_config(config).unwrap();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let record = seen.clone();
            rt.new_host_module_builder("host")
                .new_function_builder()
                .with_stack_func(&[ValueType::I32], &[ValueType::I32], |_, stack| {
                    stack[0] |= HIGH;
                    Ok(())
                })
                .export("dirty_i32")
                .new_function_builder()
                .with_stack_func(&[ValueType::F32], &[ValueType::F32], |_, stack| {
                    stack[0] |= HIGH;
                    Ok(())
                })
                .export("dirty_f32")
                .new_function_builder()
                .with_stack_func(&[ValueType::I32, ValueType::F32], &[], move |_, stack| {
                    record.lock().unwrap().push((stack[0], stack[1]));
                    Ok(())
                })
                .export("record")
                .instantiate()
                .unwrap();
            let m = instantiate(
                &rt,
                r#"(module
                    (import "host" "dirty_i32" (func $dirty_i32 (param i32) (result i32)))
                    (import "host" "dirty_f32" (func $dirty_f32 (param f32) (result f32)))
                    (import "host" "record" (func $record (param i32 f32)))
                    (global $g (export "g") (mut i32) (i32.const 0))
                    (func (export "id_i32") (param i32) (result i32) local.get 0)
                    (func (export "id_f32") (param f32) (result f32) local.get 0)
                    (func (export "pass") (param i32 f32)
                        local.get 0 local.get 1 call $record)
                    (func (export "dirty") (param i32 f32) (result i32 f32)
                        local.get 0 call $dirty_i32 local.get 1 call $dirty_f32
                        call $record
                        local.get 0 call $dirty_i32 local.get 1 call $dirty_f32)
                    (func (export "get_g") (result i32) global.get $g)
                    (func (export "wrap") (param i64) (result i32)
                        local.get 0 i32.wrap_i64 f32.const 1.5 call $record
                        local.get 0 i32.wrap_i64))"#,
            );
            let call = |name: &str, params: &[u64]| {
                m.exported_function(name).unwrap().call(params).unwrap()
            };
            // Twice: a tiered function called the first time may compile for the second.
            for _ in 0..2 {
                assert_eq!(call("id_i32", &[HIGH | 9]), [9], "engine {engine:?}");
                assert_eq!(call("id_f32", &[HIGH | f32_bits]), [f32_bits]);
                let mut stack = [HIGH | 7, 0];
                m.exported_function("id_i32")
                    .unwrap()
                    .call_with_stack(&mut stack)
                    .unwrap();
                assert_eq!(stack[0], 7);
                let typed = m.exported_function("id_i32").unwrap();
                let typed = typed.typed::<u32, u32>().unwrap();
                assert_eq!(typed.call(9).unwrap(), 9);
                call("pass", &[HIGH | 9, HIGH | f32_bits]);
                // An i32 that Wasm code computed (native code may leave the high half of
                // its register undefined).
                assert_eq!(call("wrap", &[HIGH | 9]), [9]);
                assert_eq!(call("dirty", &[9, f32_bits]), [9, f32_bits]);
                // The host module's functions called directly.
                let host = rt.module("host").unwrap();
                let record = host.exported_function("record").unwrap();
                record.call(&[HIGH | 9, HIGH | f32_bits]).unwrap();
                let dirty = host.exported_function("dirty_i32").unwrap();
                assert_eq!(dirty.call(&[9]).unwrap(), [9]);
            }
            assert_eq!(
                *seen.lock().unwrap(),
                [(9, f32_bits); 8],
                "values a host function received in engine {engine:?}"
            );
            let g = m.exported_global("g").unwrap();
            assert!(g.as_mutable().unwrap().set(HIGH | 5));
            assert_eq!(g.get(), 5);
            assert_eq!(call("get_g", &[]), [5]);
            if rt.config().tier_threshold() == 1 {
                let stats = rt.tiering_stats().unwrap();
                assert!(stats.functions_compiled >= 4, "{stats:?}");
            }
        }
    });
}
