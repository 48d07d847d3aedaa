//! End-to-end checks of native entry, calls through slots, host adapters and traps.

use kiln_runtime::{
    Config, Engine, EngineKind, Extern, Func, FuncType, HostFunc, Instance, Module, TrapCode,
    ValType,
};
use std::sync::Arc;

fn engine() -> Option<Engine> {
    let options = kiln_tiering::translate::TranslateOptions {
        direct_calls: true,
        ..Default::default()
    };
    let backend = kiln_tiering::CraneliftBackend::new(options).ok()?;
    Some(Engine::with_backend(
        Config::default(),
        EngineKind::Jit,
        Some(Arc::new(backend)),
    ))
}

fn export(inst: &Instance, name: &str) -> Func {
    match inst.export(name) {
        Some(Extern::Func(f)) => f,
        _ => panic!("no export {name}"),
    }
}

#[test]
fn native_calls_host_and_traps() {
    let Some(engine) = engine() else { return };
    let host = Instance::host(
        &engine,
        vec![(
            "inc".to_string(),
            HostFunc {
                ty: Arc::new(FuncType::new([ValType::I32], [ValType::I32])),
                func: Arc::new(|_, s| {
                    if s[0] == 99 {
                        return Err(kiln_runtime::Trap::host("ninety-nine"));
                    }
                    s[0] = (s[0] as u32 + 1) as u64;
                    Ok(())
                }),
                name: Some("inc".into()),
            },
        )],
    );
    let wasm = wat::parse_str(
        r#"(module
            (import "h" "inc" (func $inc (param i32) (result i32)))
            (func $add (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
            (func (export "twice") (param i32) (result i32) local.get 0 call $inc call $inc)
            (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_u)
            (func $boom (export "boom") (result i32) unreachable)
            (func (export "outer") (result i32) call $boom i32.const 1 i32.add))"#,
    )
    .unwrap();
    let module = Module::new(&engine, &wasm).unwrap();
    let Some(Extern::Func(inc)) = host.export("inc") else {
        panic!()
    };
    let inst = Instance::new(&module, &[Extern::Func(inc)]).unwrap();
    let mut s = [40u64, 2];
    export(&inst, "add").call(&mut s).unwrap();
    assert_eq!(s[0], 42);
    let mut s = [5u64];
    export(&inst, "twice").call(&mut s).unwrap();
    assert_eq!(s[0], 7);
    let mut s = [7u64, 0];
    let t = export(&inst, "div").call(&mut s).unwrap_err();
    assert_eq!(t.code(), TrapCode::IntegerDivideByZero);
    let mut s = [0u64];
    let t = export(&inst, "outer").call(&mut s).unwrap_err();
    assert_eq!(t.code(), TrapCode::Unreachable);
    let names: Vec<u32> = t.backtrace().iter().map(|f| f.func_index).collect();
    assert_eq!(names, vec![4, 5], "{t}");
    let mut s = [98u64];
    let t = export(&inst, "twice").call(&mut s).unwrap_err();
    assert_eq!(t.code(), TrapCode::HostError, "{t}");
    assert_eq!(t.message(), Some("ninety-nine"));
    // Still healthy after traps.
    let mut s = [1u64, 2];
    export(&inst, "add").call(&mut s).unwrap();
    assert_eq!(s[0], 3);
}

#[test]
fn runaway_recursion_is_a_trap() {
    let Some(engine) = engine() else { return };
    let wasm = wat::parse_str(
        r#"(module (func $r (export "r") (param i32) (result i32) local.get 0 call $r))"#,
    )
    .unwrap();
    let module = Module::new(&engine, &wasm).unwrap();
    let inst = Instance::new(&module, &[]).unwrap();
    let f = export(&inst, "r");
    for _ in 0..3 {
        let mut s = [1u64];
        let t = f.call(&mut s).unwrap_err();
        assert_eq!(t.code(), TrapCode::StackExhausted);
        assert!(!t.backtrace().is_empty());
    }
    // Also on a thread with a small stack.
    let f2 = f.clone();
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let mut s = [1u64];
            let t = f2.call(&mut s).unwrap_err();
            assert_eq!(t.code(), TrapCode::StackExhausted);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn configured_call_depth_is_exact() {
    let Some(backend) = kiln_tiering::CraneliftBackend::new(Default::default()).ok() else {
        return;
    };
    let engine = Engine::with_backend(
        Config::default().with_max_call_depth(50),
        EngineKind::Jit,
        Some(Arc::new(backend)),
    );
    let wasm = wat::parse_str(
        r#"(module (func $r (export "r") (param i32) (result i32) local.get 0 call $r))"#,
    )
    .unwrap();
    let module = Module::new(&engine, &wasm).unwrap();
    let inst = Instance::new(&module, &[]).unwrap();
    let t = export(&inst, "r").call(&mut [1u64]).unwrap_err();
    assert_eq!(t.code(), TrapCode::StackExhausted);
    // The frame that found its budget empty is listed too.
    assert!((50..=51).contains(&t.backtrace().len()));
}
