//! Threads: the handles are Send + Sync, and calls run in parallel.

mod common;

use common::*;
use kiln::{
    CompiledModule, Function, Global, InterruptHandle, Memory, Module, ModuleConfig, Runtime,
    TypedFunction,
};
use std::sync::{Arc, Barrier};

const fn assert_send_sync<T: Send + Sync>() {}

// Checked at compile time.
const _: () = {
    assert_send_sync::<Runtime>();
    assert_send_sync::<CompiledModule>();
    assert_send_sync::<Module>();
    assert_send_sync::<Function>();
    assert_send_sync::<TypedFunction<(i32, i64), f64>>();
    assert_send_sync::<Memory>();
    assert_send_sync::<Global>();
    assert_send_sync::<InterruptHandle>();
    assert_send_sync::<kiln::Error>();
    assert_send_sync::<kiln::FunctionDefinition>();
    assert_send_sync::<kiln::MemoryDefinition>();
};

const FIB: &str = r#"(module
    (memory (export "mem") 1)
    (func $fib (export "fib") (param i64) (result i64)
        (if (result i64) (i64.lt_s (local.get 0) (i64.const 2))
            (then (local.get 0))
            (else (i64.add
                (call $fib (i64.sub (local.get 0) (i64.const 1)))
                (call $fib (i64.sub (local.get 0) (i64.const 2)))))))
    (func (export "fill") (param $byte i32) (param $n i32)
        (memory.fill (i32.const 0) (local.get $byte) (local.get $n))))"#;

fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

#[test]
fn parallel_calls_on_different_modules() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let compiled = rt.compile(&wat(FIB)).unwrap();
        let threads = 4;
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let (rt, compiled, barrier) = (rt.clone(), compiled.clone(), barrier.clone());
                std::thread::spawn(move || {
                    // Instantiate on this thread, then call in parallel with the others.
                    let m = rt.instantiate(&compiled, ModuleConfig::new()).unwrap();
                    let fib = m.exported_function("fib").unwrap();
                    let typed = fib.typed::<i64, i64>().unwrap();
                    let fill = m.exported_function("fill").unwrap();
                    barrier.wait();
                    let mut results = Vec::new();
                    for round in 0..5 {
                        let n = 15 + i as u64 + round;
                        results.push((n, fib.call(&[n]).unwrap()[0]));
                        results.push((n, typed.call(n as i64).unwrap() as u64));
                    }
                    fill.call(&[i as u64 + 1, 1000]).unwrap();
                    (m, results)
                })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            let (m, results) = h.join().unwrap();
            for (n, r) in results {
                assert_eq!(r, fib(n), "fib({n}) on thread {i}");
            }
            // Each module kept its own memory.
            let view = m.memory().unwrap().read(0, 1000).unwrap().to_vec();
            assert!(view.iter().all(|&b| b == i as u8 + 1), "thread {i}");
        }
    });
}

#[test]
fn one_function_called_from_several_threads() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(&rt, FIB);
        let f = m.exported_function("fib").unwrap();
        let handles: Vec<_> = (0..4u64)
            .map(|i| {
                let f = f.clone();
                std::thread::spawn(move || {
                    (0..10)
                        .map(|k| {
                            let n = 10 + i + k;
                            (n, f.call(&[n]).unwrap()[0])
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (n, r) in h.join().unwrap() {
                assert_eq!(r, fib(n));
            }
        }
    });
}

#[test]
fn modules_move_between_threads() {
    each_engine(|engine| {
        let rt = runtime(engine);
        let m = instantiate(&rt, FIB);
        let m = std::thread::spawn(move || {
            assert_eq!(
                m.exported_function("fib").unwrap().call(&[20]).unwrap(),
                [6765]
            );
            m
        })
        .join()
        .unwrap();
        // Host calls from several threads into one host module.
        let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let c = counter.clone();
        rt.new_host_module_builder("env")
            .new_function_builder()
            .with_func(move |x: i64| {
                c.fetch_add(x as u64, std::sync::atomic::Ordering::SeqCst);
            })
            .export("add")
            .instantiate()
            .unwrap();
        let compiled = rt
            .compile(&wat(
                r#"(module (import "env" "add" (func $add (param i64)))
                    (func (export "run") (param i64)
                        (loop $l
                            (call $add (i64.const 1))
                            (br_if $l (i64.ne (local.tee 0 (i64.sub (local.get 0) (i64.const 1)))
                                              (i64.const 0))))))"#,
            ))
            .unwrap();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (rt, compiled) = (rt.clone(), compiled.clone());
                std::thread::spawn(move || {
                    let guest = rt.instantiate(&compiled, ModuleConfig::new()).unwrap();
                    guest
                        .exported_function("run")
                        .unwrap()
                        .call(&[1000])
                        .unwrap();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(counter.load(std::sync::atomic::Ordering::SeqCst), 4000);
        assert!(!m.is_closed());
    });
}
