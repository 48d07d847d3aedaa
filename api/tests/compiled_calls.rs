//! Calls between compiled functions: in engine `tiered` a compiled function calls another
//! published function of its module straight through the module's body table, as engine
//! `jit` calls bodies directly. Traps, backtraces, stack exhaustion, fuel and interruption
//! under such calls must be what the interpreter gives.

mod common;

use common::*;
use kiln::{EXIT_CODE_INTERRUPTED, Error, Module, Runtime, RuntimeConfig, TrapCode};
use std::time::Duration;

/// Every engine, and `tiered` compiling each function on its first call, so that from the
/// second call on every call between the module's functions goes body to body.
fn configs() -> Vec<(String, RuntimeConfig)> {
    let out = configs_with_eager_tiering();
    assert_eq!(out[0].0, "interp", "the interpreter is the reference");
    out
}

/// `top(n)` = `1000 / n + mem[4096 n] + 1` through `top` → `middle` → `leaf`, `load`:
/// divides by zero in `leaf` for 0, reads out of bounds in `load` from 16 on. `even(n)`
/// and `odd(n)` recurse into each other `n` times.
const CALLS: &str = r#"(module $calls
    (memory 1)
    (func $leaf (param i32) (result i32) (i32.div_u (i32.const 1000) (local.get 0)))
    (func $load (param i32) (result i32) (i32.load (local.get 0)))
    (func $middle (param i32) (result i32)
        (i32.add (call $leaf (local.get 0))
                 (call $load (i32.mul (local.get 0) (i32.const 4096)))))
    (func $top (export "top") (param i32) (result i32)
        (i32.add (call $middle (local.get 0)) (i32.const 1)))
    (func $even (export "even") (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0))
            (then (i32.const 1))
            (else (call $odd (i32.sub (local.get 0) (i32.const 1))))))
    (func $odd (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0))
            (then (i32.const 0))
            (else (call $even (i32.sub (local.get 0) (i32.const 1))))))
    (func (export "spin") (loop (drop (call $even (i32.const 200))) (br 0))))"#;

/// Runs `top` and `even` on small inputs twice, so that in engine `tiered` with threshold 1
/// every function is compiled and published before the calls under test.
fn warm_up(m: &Module) {
    for _ in 0..2 {
        assert_eq!(
            m.exported_function("top").unwrap().call(&[8]).unwrap(),
            [126]
        );
        assert_eq!(
            m.exported_function("even").unwrap().call(&[9]).unwrap(),
            [0]
        );
    }
}

/// What a call gave: its results, or the trap's kind, frames and frame count.
#[derive(Debug, PartialEq)]
enum Outcome {
    Returned(Vec<u64>),
    Trapped {
        code: TrapCode,
        frames: Vec<String>,
        frame_count: usize,
    },
}

fn outcome(m: &Module, export: &str, params: &[u64]) -> Outcome {
    match m.exported_function(export).unwrap().call(params) {
        Ok(results) => Outcome::Returned(results),
        Err(Error::Trap(t)) => Outcome::Trapped {
            code: t.code(),
            frames: t.backtrace().iter().map(|f| f.to_string()).collect(),
            frame_count: t.frame_count(),
        },
        Err(e) => panic!("{export}({params:?}): not a trap: {e:?}"),
    }
}

/// Runs `f` on each configuration and checks that it gives what the interpreter gives.
fn same_as_interpreter<T: PartialEq + std::fmt::Debug>(
    configure: impl Fn(RuntimeConfig) -> RuntimeConfig,
    f: impl Fn(&Runtime) -> T,
) {
    let mut reference = None;
    for (name, cfg) in configs() {
        let rt = Runtime::with_config(configure(cfg)).unwrap();
        let got = f(&rt);
        match &reference {
            None => reference = Some(got),
            Some(expected) => assert_eq!(&got, expected, "{name} vs interp"),
        }
    }
}

#[test]
fn traps_and_backtraces_under_calls_between_compiled_functions_match_the_interpreter() {
    same_as_interpreter(
        |cfg| cfg,
        |rt| {
            let m = instantiate(rt, CALLS);
            warm_up(&m);
            let outcomes: Vec<Outcome> = [0, 20, 5, 0]
                .into_iter()
                .map(|n| outcome(&m, "top", &[n]))
                .collect();
            let frames = |leaf: &str| {
                [leaf, "middle", "top"]
                    .iter()
                    .map(|f| format!("calls!{f}"))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                outcomes[0],
                Outcome::Trapped {
                    code: TrapCode::IntegerDivideByZero,
                    frames: frames("leaf"),
                    frame_count: 3
                }
            );
            assert_eq!(
                outcomes[1],
                Outcome::Trapped {
                    code: TrapCode::MemoryOutOfBounds,
                    frames: frames("load"),
                    frame_count: 3
                }
            );
            assert_eq!(outcomes[2], Outcome::Returned(vec![1000 / 5 + 1]));
            assert_eq!(outcomes[3], outcomes[0], "the same trap again");
            outcomes
        },
    );
}

/// The deepest `even(n)` that returns under `max_call_depth`, found by bisection; deeper
/// calls trap with "call stack exhausted".
fn deepest_even(m: &Module) -> u64 {
    let ok = |n: u64| match outcome(m, "even", &[n]) {
        Outcome::Returned(r) => {
            assert_eq!(r, [u64::from(n.is_multiple_of(2))]);
            true
        }
        Outcome::Trapped { code, .. } => {
            assert_eq!(code, TrapCode::StackExhausted);
            false
        }
    };
    let (mut lo, mut hi) = (0, 4096);
    assert!(!ok(hi), "the call depth is not limited");
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if ok(mid) { lo = mid } else { hi = mid }
    }
    lo
}

#[test]
fn stack_exhaustion_under_calls_between_compiled_functions_matches_the_interpreter() {
    let depth = 300;
    same_as_interpreter(
        |cfg| cfg.with_max_call_depth(depth),
        |rt| {
            let m = instantiate(rt, CALLS);
            warm_up(&m);
            let deepest = deepest_even(&m);
            // `even(n)` opens n + 1 frames.
            assert_eq!(deepest + 1, depth as u64);
            let trap = outcome(&m, "even", &[deepest + 1]);
            let Outcome::Trapped {
                frames,
                frame_count,
                ..
            } = &trap
            else {
                panic!("one frame too many returned: {trap:?}")
            };
            // The frame one too many is refused at its entry: the others are listed.
            assert_eq!(*frame_count, depth, "{frames:?}");
            (deepest, trap)
        },
    );
}

#[test]
fn fuel_under_calls_between_compiled_functions_matches_the_interpreter() {
    same_as_interpreter(
        |cfg| cfg.with_fuel(true),
        |rt| {
            rt.set_fuel(1_000_000).unwrap();
            let m = instantiate(rt, CALLS);
            warm_up(&m);
            let before = rt.fuel().unwrap();
            assert_eq!(outcome(&m, "even", &[100]), Outcome::Returned(vec![1]));
            let cost = before - rt.fuel().unwrap();
            assert!(cost > 100, "{cost}");
            // Half of that runs out in the middle of the recursion.
            rt.set_fuel(cost / 2).unwrap();
            let Outcome::Trapped { code, frames, .. } = outcome(&m, "even", &[100]) else {
                panic!("ran with half the fuel")
            };
            assert_eq!(code, TrapCode::OutOfFuel);
            (cost, frames.len(), rt.fuel().unwrap())
        },
    );
}

#[test]
fn interruption_under_calls_between_compiled_functions_matches_the_interpreter() {
    same_as_interpreter(
        |cfg| cfg,
        |rt| {
            let m = instantiate(rt, CALLS);
            warm_up(&m);
            let spin = m.exported_function("spin").unwrap();
            let handle = m.interrupt_handle();
            let stopper = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                assert!(handle.interrupt());
            });
            let (result, _) = run_bounded(STOP_BOUND + Duration::from_millis(50), move || {
                spin.call(&[])
            });
            stopper.join().unwrap();
            let err = result.unwrap_err();
            assert_exit(&err, EXIT_CODE_INTERRUPTED);
            assert!(m.is_closed());
            err.as_exit().map(|e| e.exit_code())
        },
    );
}
