//! Runs translated code for what the spec suite and the differential test do not reach:
//! tail calls, interruption of a loop without calls, the largest static offsets with
//! guard pages, the call-depth limit, multi-memory.

use kiln_runtime::{
    Config, Engine, EngineKind, Extern, Instance, Module, Trap, TrapCode, vm::native,
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

fn call(inst: &Instance, name: &str, args: &[u64]) -> Result<Vec<u64>, Trap> {
    let Some(Extern::Func(f)) = inst.export(name) else {
        panic!("no export {name}")
    };
    let mut stack = vec![0; f.ty().stack_len().max(args.len())];
    stack[..args.len()].copy_from_slice(args);
    f.call(&mut stack)?;
    stack.truncate(f.ty().results().len());
    Ok(stack)
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
