//! Runs translated code for what the spec suite and the differential test do not reach:
//! tail calls, interruption of a loop without calls, the largest static offsets with
//! guard pages, the call-depth limit, multi-memory, v128 values at every boundary.

mod common;

use common::call;
use kiln_runtime::{
    Config, Engine, EngineKind, Extern, Func, FuncType, Instance, Module, Trap, TrapCode, ValType,
    vm::native,
};
use kiln_tiering::CraneliftBackend;
use kiln_tiering::translate::{BoundsChecks, TranslateOptions};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use wasmparser::WasmFeatures;

/// Engine `jit` as the `kiln` API configures it (guard pages, direct calls) and with
/// explicit bounds checks and calls through the slots (as for tiered code).
fn engines(features: WasmFeatures) -> Vec<Engine> {
    [
        (BoundsChecks::GuardPages, true),
        (BoundsChecks::Explicit, false),
    ]
    .into_iter()
    .map(|(bounds_checks, direct_calls)| {
        let backend = CraneliftBackend::new(TranslateOptions {
            bounds_checks,
            interrupt_checks: true,
            direct_calls,
        })
        .expect("backend");
        Engine::with_backend(
            Config::default().with_features(features),
            EngineKind::Jit,
            Some(Arc::new(backend)),
        )
    })
    .collect()
}

fn instance(engine: &Engine, wat: &str) -> Instance {
    let bytes = wat::parse_str(wat).expect("wat");
    let module = Module::new(engine, &bytes).expect("module");
    Instance::new(&module, &[]).expect("instance")
}

fn code(r: Result<Vec<u64>, Trap>) -> TrapCode {
    r.expect_err("expected a trap").code()
}

#[test]
fn tail_calls_run_in_constant_stack() {
    if !native::is_supported() {
        return;
    }
    let wat = r#"(module
      (type $t (func (param i64 i64) (result i64)))
      (table funcref (elem $count))
      (func $count (export "count") (param i64 i64) (result i64)
        (if (result i64) (i64.eqz (local.get 0))
          (then (local.get 1))
          (else (return_call $count2 (i64.sub (local.get 0) (i64.const 1))
                                     (i64.add (local.get 1) (i64.const 1))))))
      (func $count2 (param i64 i64) (result i64)
        (return_call_indirect (type $t) (local.get 0) (local.get 1) (i32.const 0)))
      (func (export "bad") (result i64)
        (return_call_indirect (type $t) (i64.const 1) (i64.const 1) (i32.const 5))))"#;
    for engine in engines(WasmFeatures::WASM2 | WasmFeatures::TAIL_CALL) {
        let inst = instance(&engine, wat);
        assert_eq!(call(&inst, "count", &[1_000_000, 0]).unwrap(), [1_000_000]);
        assert_eq!(code(call(&inst, "bad", &[])), TrapCode::UndefinedElement);
    }
}

/// Engine `tiered` with every function compiled and published before it runs (the
/// interpreter has no tail calls): published bodies call each other through the module's
/// body table, `return_call` in constant stack and within the call-depth limit, `call`
/// keeping that limit exactly.
#[test]
fn published_tiered_bodies_call_and_tail_call_each_other() {
    if !native::is_supported() {
        return;
    }
    let depth = 1000;
    let config = Config::default()
        .with_features(WasmFeatures::WASM2 | WasmFeatures::TAIL_CALL)
        .with_tier_threshold(u32::MAX)
        .with_tier_sync(true)
        .with_max_call_depth(depth);
    let backend = Arc::new(CraneliftBackend::new(TranslateOptions::default()).expect("backend"));
    let policy = Arc::new(kiln_tiering::Tiering::new(backend.clone(), &config));
    let engine = Engine::with_tiering(config, backend, policy.clone());
    let bytes = wat::parse_str(
        r#"(module
      (func $count (export "count") (param i64 i64) (result i64)
        (if (result i64) (i64.eqz (local.get 0))
          (then (local.get 1))
          (else (return_call $count2 (i64.sub (local.get 0) (i64.const 1))
                                     (i64.add (local.get 1) (i64.const 1))))))
      (func $count2 (param i64 i64) (result i64)
        (return_call $count (local.get 0) (local.get 1)))
      (func $even (export "even") (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0))
          (then (i32.const 1))
          (else (call $odd (i32.sub (local.get 0) (i32.const 1))))))
      (func $odd (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0))
          (then (i32.const 0))
          (else (call $even (i32.sub (local.get 0) (i32.const 1)))))))"#,
    )
    .expect("wat");
    let module = Module::new(&engine, &bytes).expect("module");
    assert_eq!(engine.kind(), EngineKind::Tiered);
    for index in 0..module.num_funcs() {
        use kiln_runtime::TierPolicy;
        policy.function_hot(&module, index);
        assert!(module.is_tiered_up(index), "function {index}");
    }
    let inst = Instance::new(&module, &[]).expect("instance");
    // Far more tail calls than frames allowed.
    assert_eq!(call(&inst, "count", &[1_000_000, 5]).unwrap(), [1_000_005]);
    // `even(n)` opens n + 1 frames.
    let n = depth as u64 - 1;
    assert_eq!(
        call(&inst, "even", &[n]).unwrap(),
        [u64::from(n.is_multiple_of(2))]
    );
    assert_eq!(
        code(call(&inst, "even", &[n + 1])),
        TrapCode::StackExhausted
    );
    assert_eq!(engine.tier_stats().unwrap().functions_interpreted, 0);
}

#[test]
fn loops_without_calls_are_interruptible() {
    if !native::is_supported() {
        return;
    }
    for engine in engines(WasmFeatures::WASM2) {
        let inst = instance(&engine, r#"(module (func (export "spin") (loop (br 0))))"#);
        let flag = engine.interrupt_flag();
        let setter = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            flag.store(1, Ordering::SeqCst);
        });
        assert_eq!(code(call(&inst, "spin", &[])), TrapCode::Interrupted);
        setter.join().unwrap();
        engine.interrupt_flag().store(0, Ordering::SeqCst);
    }
}

/// Functions poll the interrupt flag before calls rather than at entry: endless recursion
/// without loops (a call tree far too large to finish, and tail calls in constant stack,
/// direct and indirect) still stops.
#[test]
fn recursion_without_loops_is_interruptible() {
    if !native::is_supported() {
        return;
    }
    let wat = r#"(module
      (type $v (func))
      (table funcref (elem $spin_indirect))
      (func $fib (export "fib") (param i32) (result i32)
        (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
          (then (local.get 0))
          (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                         (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
      (func $spin_tail (export "spin_tail") (return_call $spin_tail))
      (func $spin_indirect (export "spin_indirect")
        (return_call_indirect (type $v) (i32.const 0))))"#;
    for engine in engines(WasmFeatures::WASM2 | WasmFeatures::TAIL_CALL) {
        let inst = instance(&engine, wat);
        assert_eq!(call(&inst, "fib", &[20]).unwrap(), [6765]);
        for (name, args) in [
            ("fib", &[100u64][..]),
            ("spin_tail", &[]),
            ("spin_indirect", &[]),
        ] {
            let flag = engine.interrupt_flag();
            let setter = std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                flag.store(1, Ordering::SeqCst);
            });
            assert_eq!(
                code(call(&inst, name, args)),
                TrapCode::Interrupted,
                "{name}"
            );
            setter.join().unwrap();
            engine.interrupt_flag().store(0, Ordering::SeqCst);
        }
    }
}

#[test]
fn largest_offsets_trap_cleanly() {
    if !native::is_supported() {
        return;
    }
    let wat = r#"(module (memory 1)
      (func (export "load64") (param i32) (result i64)
        (i64.load offset=4294967295 (local.get 0)))
      (func (export "store64") (param i32)
        (i64.store offset=4294967295 (local.get 0) (i64.const -1)))
      (func (export "load8") (param i32) (result i32)
        (i32.load8_u offset=65535 (local.get 0)))
      (func (export "store16") (param i32 i32)
        (i32.store16 offset=2 (local.get 0) (local.get 1)))
      (func (export "load16") (param i32) (result i32)
        (i32.load16_s offset=2 (local.get 0))))"#;
    for engine in engines(WasmFeatures::WASM2) {
        let inst = instance(&engine, wat);
        for addr in [0, 1, u32::MAX as u64 - 8, u32::MAX as u64] {
            assert_eq!(
                code(call(&inst, "load64", &[addr])),
                TrapCode::MemoryOutOfBounds
            );
            assert_eq!(
                code(call(&inst, "store64", &[addr])),
                TrapCode::MemoryOutOfBounds
            );
        }
        assert_eq!(call(&inst, "load8", &[0]).unwrap(), [0]);
        assert_eq!(
            code(call(&inst, "load8", &[1])),
            TrapCode::MemoryOutOfBounds
        );
        call(&inst, "store16", &[65532, 0x8001]).unwrap();
        assert_eq!(
            call(&inst, "load16", &[65532]).unwrap(),
            [0xffff_8001u32 as u64]
        );
        assert_eq!(
            code(call(&inst, "store16", &[65533, 1])),
            TrapCode::MemoryOutOfBounds
        );
    }
}

#[test]
fn call_depth_is_limited() {
    if !native::is_supported() {
        return;
    }
    let wat = r#"(module
      (func $down (export "down") (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0))
          (then (i32.const 7))
          (else (call $down (i32.sub (local.get 0) (i32.const 1)))))))"#;
    for engine in engines(WasmFeatures::WASM2) {
        let inst = instance(&engine, wat);
        assert_eq!(call(&inst, "down", &[1000]).unwrap(), [7]);
        assert_eq!(
            code(call(&inst, "down", &[100_000_000])),
            TrapCode::StackExhausted
        );
        assert_eq!(call(&inst, "down", &[10]).unwrap(), [7]);
    }
}

#[test]
fn multiple_memories() {
    if !native::is_supported() {
        return;
    }
    let wat = r#"(module
      (memory $a 1)
      (memory $b 2 3)
      (func (export "run") (result i32)
        (i32.store $b (i32.const 70000) (i32.const 42))
        (memory.copy $a $b (i32.const 8) (i32.const 70000) (i32.const 4))
        (memory.fill $b (i32.const 70000) (i32.const 0) (i32.const 4))
        (drop (memory.grow $b (i32.const 1)))
        (i32.add (i32.load $a (i32.const 8))
          (i32.add (i32.load $b (i32.const 70000)) (memory.size $b))))
      (func (export "oob") (result i32) (i32.load $a (i32.const 65536))))"#;
    for engine in engines(WasmFeatures::WASM2 | WasmFeatures::MULTI_MEMORY) {
        let inst = instance(&engine, wat);
        assert_eq!(call(&inst, "run", &[]).unwrap(), [45]);
        assert_eq!(code(call(&inst, "oob", &[])), TrapCode::MemoryOutOfBounds);
    }
}

/// More results than the `tail` convention returns in registers (needs
/// `enable_multi_ret_implicit_sret` in `backend::host_isa`).
#[test]
fn many_results() {
    if !native::is_supported() {
        return;
    }
    let results = "i64 f64 ".repeat(20);
    let values: String = (0..20)
        .map(|i| format!("(i64.const {i}) (f64.const {i}) "))
        .collect();
    let wat = format!(
        r#"(module
          (func $many (export "many") (result {results}) {values})
          (func (export "sum") (result i64) (local i64)
            call $many
            {folds}
            local.get 0))"#,
        // From the top, each (i64, f64) pair is added into the accumulator local.
        folds = "i64.trunc_f64_s i64.add local.get 0 i64.add local.set 0 ".repeat(20)
    );
    for engine in engines(WasmFeatures::WASM2) {
        let inst = instance(&engine, &wat);
        assert_eq!(call(&inst, "sum", &[]).unwrap(), [2 * 190]);
        let many = call(&inst, "many", &[]).unwrap();
        assert_eq!(many.len(), 40);
        assert_eq!(many[39], 19f64.to_bits());
    }
}

/// A v128 as the two `u64` slots it takes (low half first).
fn v128(bits: u128) -> [u64; 2] {
    [bits as u64, (bits >> 64) as u64]
}

/// v128 values through the array trampoline, host imports (the adapter), imports of another
/// instance, direct, indirect and tail calls, multi-value and many results, globals and
/// memory (aligned or not, at the bounds).
#[test]
fn v128_values_cross_every_boundary() {
    if !native::is_supported() {
        return;
    }
    let lib = r#"(module
      (func (export "twice") (param v128) (result v128 v128)
        (local.get 0) (i64x2.add (local.get 0) (local.get 0))))"#;
    let wat = r#"(module
      (import "host" "swap" (func $swap (param v128 i32) (result i32 v128)))
      (import "lib" "twice" (func $twice (param v128) (result v128 v128)))
      (type $t (func (param v128 i32) (result i32 v128)))
      (table funcref (elem $swap $local))
      (global $g (mut v128) (v128.const i64x2 5 6))
      (memory 1)
      ;; Swaps the halves and adds 2 to the i32.
      (func $local (param v128 i32) (result i32 v128)
        (i32.add (local.get 1) (i32.const 2))
        (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get 0) (local.get 0)))
      (func (export "host") (param v128 i32) (result i32 v128)
        (call $swap (local.get 0) (local.get 1)))
      (func (export "direct") (param v128 i32) (result i32 v128)
        (call $local (local.get 0) (local.get 1)))
      (func (export "indirect") (param v128 i32 i32) (result i32 v128)
        (call_indirect (type $t) (local.get 0) (local.get 1) (local.get 2)))
      (func (export "tail") (param v128 i32) (result i32 v128)
        (return_call $local (local.get 0) (local.get 1)))
      (func (export "tail_indirect") (param v128 i32 i32) (result i32 v128)
        (return_call_indirect (type $t) (local.get 0) (local.get 1) (local.get 2)))
      (func (export "lib") (param v128) (result v128 v128)
        (call $twice (local.get 0)))
      (func (export "global") (param v128) (result v128)
        (global.get $g) (global.set $g (local.get 0)))
      (func (export "store") (param i32 v128) (v128.store (local.get 0) (local.get 1)))
      (func (export "load") (param i32) (result v128) (v128.load (local.get 0)))
      (func (export "load_far") (param i32) (result v128)
        (v128.load offset=4294967295 (local.get 0)))
      (func (export "load64_lane") (param i32) (result v128)
        (v128.load64_lane 1 (local.get 0) (v128.const i64x2 -1 -1)))
      (func $many (export "many") (result v128 v128 v128 v128 v128 v128 v128 v128 v128 v128 i32)
        (v128.const i64x2 1 2) (v128.const i64x2 3 4) (v128.const i64x2 5 6)
        (v128.const i64x2 7 8) (v128.const i64x2 9 10) (v128.const i64x2 11 12)
        (v128.const i64x2 13 14) (v128.const i64x2 15 16) (v128.const i64x2 17 18)
        (v128.const i64x2 19 20) (i32.const 21))
      (func (export "sum") (result i64) (local i32)
        (local.set 0 (call $many))
        i64x2.add i64x2.add i64x2.add i64x2.add i64x2.add i64x2.add i64x2.add i64x2.add
        i64x2.add
        (i64x2.extract_lane 1)
        (i64.extend_i32_u (local.get 0))
        i64.add))"#;
    for engine in engines(WasmFeatures::WASM2 | WasmFeatures::TAIL_CALL) {
        let swap = Func::host(
            &engine,
            FuncType::new([ValType::V128, ValType::I32], [ValType::I32, ValType::V128]),
            Some("swap".into()),
            |_, s| {
                let (lo, hi, i) = (s[0], s[1], s[2]);
                s[0] = (i as u32 + 1) as u64;
                s[1] = hi;
                s[2] = lo;
                Ok(())
            },
        );
        let lib = instance(&engine, lib);
        let Some(twice) = lib.export("twice") else {
            panic!("no twice")
        };
        let module = Module::new(&engine, &wat::parse_str(wat).expect("wat")).expect("module");
        let inst = Instance::new(&module, &[Extern::Func(swap), twice]).expect("instance");

        let x = 0x1111_2222_3333_4444_5555_6666_7777_8888u128;
        let [lo, hi] = v128(x);
        for f in ["host", "direct", "tail"] {
            let add = if f == "host" { 1 } else { 2 };
            assert_eq!(
                call(&inst, f, &[lo, hi, 40]).unwrap(),
                [40 + add, hi, lo],
                "{f}"
            );
        }
        for f in ["indirect", "tail_indirect"] {
            assert_eq!(call(&inst, f, &[lo, hi, 7, 0]).unwrap(), [8, hi, lo], "{f}");
            assert_eq!(call(&inst, f, &[lo, hi, 7, 1]).unwrap(), [9, hi, lo], "{f}");
            assert_eq!(
                code(call(&inst, f, &[lo, hi, 7, 2])),
                TrapCode::UndefinedElement
            );
        }
        assert_eq!(
            call(&inst, "lib", &[1, 1 << 62]).unwrap(),
            [1, 1 << 62, 2, 1 << 63]
        );
        assert_eq!(call(&inst, "global", &[lo, hi]).unwrap(), [5, 6]);
        assert_eq!(call(&inst, "global", &[0, 0]).unwrap(), [lo, hi]);

        for addr in [0u64, 3, 65520] {
            call(&inst, "store", &[addr, lo, hi]).unwrap();
            assert_eq!(call(&inst, "load", &[addr]).unwrap(), [lo, hi]);
        }
        for addr in [65521u64, 65535, u32::MAX as u64] {
            assert_eq!(
                code(call(&inst, "store", &[addr, lo, hi])),
                TrapCode::MemoryOutOfBounds
            );
            assert_eq!(
                code(call(&inst, "load", &[addr])),
                TrapCode::MemoryOutOfBounds
            );
        }
        for addr in [0u64, 1, u32::MAX as u64 - 16, u32::MAX as u64] {
            assert_eq!(
                code(call(&inst, "load_far", &[addr])),
                TrapCode::MemoryOutOfBounds
            );
        }
        assert_eq!(
            call(&inst, "load64_lane", &[65520]).unwrap(),
            [u64::MAX, lo]
        );
        assert_eq!(
            code(call(&inst, "load64_lane", &[65529])),
            TrapCode::MemoryOutOfBounds
        );

        let many = call(&inst, "many", &[]).unwrap();
        assert_eq!(many, (1..=21).collect::<Vec<u64>>());
        assert_eq!(call(&inst, "sum", &[]).unwrap(), [110 + 21]);
    }
}
