//! Host stack limits: Wasm -> host -> Wasm nesting and deep recursion on threads with small
//! stacks trap with "call stack exhausted" instead of overflowing, with the same allowed
//! nesting depth in every engine; stack-overflow backtraces are short.

mod common;

use common::*;
use kiln::{Error, Module, Runtime, Trap, TrapCode, ValueType};

/// `down(n)` calls the host's `reenter(n - 1)`, which calls `down` again: `n` nestings of
/// Wasm -> host -> Wasm.
const REENTER: &str = r#"(module $reenter
    (import "host" "reenter" (func $reenter (param i32) (result i32)))
    (func $down (export "down") (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0))
            (then (i32.const 0))
            (else (i32.add (call $reenter (i32.sub (local.get 0) (i32.const 1)))
                           (i32.const 1))))))"#;

fn reenter_module(rt: &Runtime) -> Module {
    rt.new_host_module_builder("host")
        .new_function_builder()
        .with_stack_func(&[ValueType::I32], &[ValueType::I32], |caller, stack| {
            let m = caller.module().expect("called from the Wasm module");
            let down = m.exported_function("down").expect("export down");
            match down.call(&[stack[0]]) {
                Ok(r) => {
                    stack[0] = r[0];
                    Ok(())
                }
                Err(Error::Trap(t)) => Err(t),
                Err(e) => Err(Trap::host(e.to_string())),
            }
        })
        .export("reenter")
        .instantiate()
        .unwrap();
    instantiate(rt, REENTER)
}

/// Runs `f` on a new thread of `stack` bytes and returns its result.
fn on_thread<T: Send + 'static>(stack: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(f)
        .unwrap()
        .join()
        .expect("the thread finished")
}

/// The deepest nesting `down` allows on this thread (all deeper calls must trap with
/// "call stack exhausted"), found by bisection.
fn max_nesting(m: &Module) -> u32 {
    let down = m.exported_function("down").unwrap();
    let ok = |n: u32| match down.call(&[u64::from(n)]) {
        Ok(r) => {
            assert_eq!(r, [u64::from(n)]);
            true
        }
        Err(e) => {
            assert_trap(&e, TrapCode::StackExhausted);
            false
        }
    };
    let (mut lo, mut hi) = (0u32, 1u32);
    while ok(hi) {
        lo = hi;
        hi *= 2;
        assert!(hi < 1 << 20, "nesting is unbounded");
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if ok(mid) { lo = mid } else { hi = mid }
    }
    // Monotone: the limit holds, one more traps, again.
    assert!(ok(lo));
    assert!(!ok(lo + 1));
    lo
}

const SMALL_STACK: usize = 256 * 1024;
const LARGE_STACK: usize = 8 * 1024 * 1024;

/// The deepest host re-entry every engine allows on a thread of `stack` bytes, by engine;
/// deeper runs end in a clean "call stack exhausted" trap.
fn nesting_by_engine(stack: usize) -> Vec<(String, u32)> {
    configs_with_eager_tiering()
        .into_iter()
        .map(|(name, cfg)| {
            let depth = on_thread(stack, move || {
                let rt = Runtime::with_config(cfg).unwrap();
                let m = reenter_module(&rt);
                let depth = max_nesting(&m);
                // The thread and the module are fine after the trap.
                let down = m.exported_function("down").unwrap();
                assert_eq!(down.call(&[5]).unwrap(), [5]);
                depth
            });
            (name, depth)
        })
        .collect()
}

#[test]
fn host_reentry_on_a_small_thread_traps_at_the_same_depth_in_every_engine() {
    let depths = nesting_by_engine(SMALL_STACK);
    let (first_engine, first) = &depths[0];
    assert!(
        *first >= 20,
        "{first_engine} allows only {first} nestings: {depths:?}"
    );
    for (engine, depth) in &depths {
        assert_eq!(depth, first, "{engine} vs {first_engine}: {depths:?}");
    }
}

#[test]
fn host_reentry_on_a_large_thread_traps_at_the_same_depth_in_every_engine() {
    let depths = nesting_by_engine(LARGE_STACK);
    let (first_engine, first) = &depths[0];
    for (engine, depth) in &depths {
        assert_eq!(depth, first, "{engine} vs {first_engine}: {depths:?}");
    }
    // The limit comes from the thread's stack: 32 times the stack, far more nestings.
    let small = nesting_by_engine(SMALL_STACK)[0].1;
    assert!(
        *first > 20 * small,
        "{first_engine}: {first} vs {small} on a small thread"
    );
}

/// `recurse(n)` recurses `n` frames deep in Wasm, then calls the host's `leaf`, which
/// calls the Wasm `answer`; `forever` recurses without end.
const RECURSE: &str = r#"(module $deep
    (import "host" "leaf" (func $leaf (result i32)))
    (func $recurse (export "recurse") (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0))
            (then (call $leaf))
            (else (call $recurse (i32.sub (local.get 0) (i32.const 1))))))
    (func $forever (export "forever") (param i64) (result i64)
        (i64.add (call $forever (i64.add (local.get 0) (i64.const 1))) (i64.const 1)))
    (func (export "answer") (result i32) i32.const 42))"#;

fn recurse_module(rt: &Runtime) -> Module {
    rt.new_host_module_builder("host")
        .new_function_builder()
        .with_stack_func(&[], &[ValueType::I32], |caller, stack| {
            let m = caller.module().expect("called from the Wasm module");
            match m.exported_function("answer").unwrap().call(&[]) {
                Ok(r) => {
                    stack[0] = r[0];
                    Ok(())
                }
                Err(Error::Trap(t)) => Err(t),
                Err(e) => Err(Trap::host(e.to_string())),
            }
        })
        .export("leaf")
        .instantiate()
        .unwrap();
    instantiate(rt, RECURSE)
}

#[test]
fn deep_wasm_recursion_on_a_small_thread_traps_cleanly() {
    for (name, cfg) in configs_with_eager_tiering() {
        on_thread(SMALL_STACK, move || {
            let rt = Runtime::with_config(cfg).unwrap();
            let m = recurse_module(&rt);
            let forever = m.exported_function("forever").unwrap();
            for _ in 0..2 {
                let err = forever.call(&[0]).unwrap_err();
                assert_trap(&err, TrapCode::StackExhausted);
            }
            // Host calls at the bottom of a Wasm recursion: shallow ones run, deep ones
            // either run or trap, none overflows the stack.
            let recurse = m.exported_function("recurse").unwrap();
            for n in [0u64, 10, 100] {
                assert_eq!(recurse.call(&[n]).unwrap(), [42], "{name}: depth {n}");
            }
            for n in [1_000u64, 5_000, 19_990, 30_000] {
                match recurse.call(&[n]) {
                    Ok(r) => assert_eq!(r, [42], "{name}: depth {n}"),
                    Err(e) => {
                        assert_trap(&e, TrapCode::StackExhausted);
                    }
                }
            }
            assert_eq!(recurse.call(&[1]).unwrap(), [42], "{name}");
        });
    }
}

/// The stack-overflow trap of `forever` (unbounded recursion) and its text.
fn overflow_trap(cfg: kiln::RuntimeConfig) -> (Trap, String) {
    let rt = Runtime::with_config(cfg).unwrap();
    let m = recurse_module(&rt);
    let err = m
        .exported_function("forever")
        .unwrap()
        .call(&[0])
        .unwrap_err();
    let trap = assert_trap(&err, TrapCode::StackExhausted).clone();
    let text = trap.to_string();
    (trap, text)
}

#[test]
fn stack_overflow_backtraces_are_capped_and_alike_in_every_engine() {
    let traps: Vec<_> = configs_with_eager_tiering()
        .into_iter()
        .map(|(name, cfg)| (name, overflow_trap(cfg)))
        .collect();
    let (first_engine, (first, first_text)) = &traps[0];
    for (engine, (trap, text)) in &traps {
        // Every frame counted, both ends kept, the middle omitted.
        let kept = trap.backtrace().len();
        assert_eq!(kept, 2 * kiln::BACKTRACE_KEPT_FRAMES, "{engine}");
        assert_eq!(trap.frame_count(), kept + trap.omitted_frames(), "{engine}");
        assert!(
            trap.frame_count() > 1_000,
            "{engine}: {}",
            trap.frame_count()
        );
        assert!(
            trap.backtrace()
                .iter()
                .all(|f| f.to_string() == "deep!forever"),
            "{engine}: {text}"
        );
        // Runs of one frame collapse: a short text.
        assert!(text.len() < 1024, "{engine}: {} bytes: {text}", text.len());
        assert!(
            text.contains(&format!("... {} frames omitted ...", trap.omitted_frames())),
            "{engine}: {text}"
        );
        // The same depth, so the same backtrace and text, in every engine.
        assert_eq!(
            trap.frame_count(),
            first.frame_count(),
            "{engine} vs {first_engine}"
        );
        assert_eq!(text, first_text, "{engine} vs {first_engine}");
    }
}

#[test]
fn backtraces_name_instances_in_every_engine() {
    for (engine, cfg) in configs_with_eager_tiering() {
        let rt = Runtime::with_config(cfg).unwrap();
        // Both modules are instantiated under names other than their name sections'.
        let lib = rt
            .compile(&wat(
                r#"(module $lib (func $boom (export "boom") unreachable))"#,
            ))
            .unwrap();
        rt.instantiate(&lib, kiln::ModuleConfig::new().with_name("lib_instance"))
            .unwrap();
        let app = rt
            .compile(&wat(
                r#"(module $app (import "lib_instance" "boom" (func $boom))
                    (func $run (export "run") call $boom))"#,
            ))
            .unwrap();
        let m = rt
            .instantiate(&app, kiln::ModuleConfig::new().with_name("app_instance"))
            .unwrap();
        let run = m.exported_function("run").unwrap();
        for _ in 0..3 {
            let err = run.call(&[]).unwrap_err();
            let trap = assert_trap(&err, TrapCode::Unreachable);
            let frames: Vec<_> = trap.backtrace().iter().map(|f| f.to_string()).collect();
            assert_eq!(
                frames,
                ["lib_instance!boom", "app_instance!run"],
                "{engine}"
            );
        }
    }
}

/// Recurses in Rust until less than `left` bytes of a `size`-byte thread stack whose top
/// is near `top` remain, then runs `f`.
#[inline(never)]
fn with_stack_used<T>(top: usize, size: usize, left: usize, f: &mut dyn FnMut() -> T) -> T {
    let pad = [0u8; 1024];
    let here = std::hint::black_box(&pad) as *const _ as usize;
    if top - here > size - left {
        return f();
    }
    let r = with_stack_used(top, size, left, f);
    std::hint::black_box(&pad);
    r
}

#[test]
fn a_call_with_most_of_the_stack_used_traps() {
    for (name, cfg) in configs_with_eager_tiering() {
        on_thread(SMALL_STACK, move || {
            let rt = Runtime::with_config(cfg).unwrap();
            let m = recurse_module(&rt);
            let recurse = m.exported_function("recurse").unwrap();
            assert_eq!(recurse.call(&[3]).unwrap(), [42], "{name}");
            let marker = 0u8;
            let top = std::hint::black_box(&marker) as *const u8 as usize;
            // About 20 KiB left: less than a call into Wasm needs.
            let err = with_stack_used(top, SMALL_STACK, 24 * 1024, &mut || {
                recurse.call(&[3]).unwrap_err()
            });
            assert_trap(&err, TrapCode::StackExhausted);
            assert_eq!(recurse.call(&[3]).unwrap(), [42], "{name}");
        });
    }
}
