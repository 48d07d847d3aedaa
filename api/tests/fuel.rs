//! Fuel: a deterministic instruction budget. Each Wasm operator costs 1; a segment (from
//! function entry or a control operator to the next control operator, inclusive) is charged
//! whole before it runs. The expected numbers below are counted by hand from the WAT.

mod common;

use common::*;
use kiln::{EngineKind, Module, Runtime, RuntimeConfig, TrapCode};

/// Writes `i + 100` at `4 * i` for `i` in `0..n` (at least one iteration).
///
/// Segments: entry `loop` = 1; loop body (local.get, i32.const, i32.mul, local.get,
/// i32.const, i32.add, i32.store, local.get, i32.const, i32.add, local.set, local.get,
/// local.get, i32.lt_u, br_if) = 15 per iteration; the loop's `end` = 1; the function's
/// `end` = 1. So `fill(n)` costs `15 n + 3`.
const FILL: &str = r#"(module
  (memory (export "mem") 1)
  (func $fill (export "fill") (param $n i32) (local $i i32)
    (loop $l
      (i32.store (i32.mul (local.get $i) (i32.const 4))
                 (i32.add (local.get $i) (i32.const 100)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))))"#;

fn fill_cost(n: u64) -> u64 {
    15 * n + 3
}

/// Every configuration that runs code differently: each must charge the same.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Setup {
    Engine(EngineKind),
    /// Tiered, compiling on the first call before it runs.
    TieredSync1,
    /// Tiered, a loop hot after 3 back-edges enters native code mid-call (OSR).
    TieredOsr,
    /// Tiered with the default background compiler (threshold 1).
    TieredBackground,
}

fn setups() -> Vec<Setup> {
    let mut v: Vec<Setup> = ENGINES
        .iter()
        .filter(|e| e.is_available())
        .map(|&e| Setup::Engine(e))
        .collect();
    if EngineKind::Tiered.is_available() {
        v.extend([
            Setup::TieredSync1,
            Setup::TieredOsr,
            Setup::TieredBackground,
        ]);
    }
    assert!(!v.is_empty());
    v
}

fn each_setup(mut f: impl FnMut(Setup, &Runtime)) {
    for setup in setups() {
        eprintln!("setup {setup:?}");
        let base = match setup {
            Setup::Engine(e) => config(e),
            Setup::TieredSync1 => config(EngineKind::Tiered)
                .with_tier_threshold(1)
                .with_tier_sync(true),
            Setup::TieredOsr => config(EngineKind::Tiered)
                .with_tier_threshold(3)
                .with_tier_sync(true),
            Setup::TieredBackground => config(EngineKind::Tiered).with_tier_threshold(1),
        };
        let rt = Runtime::with_config(base.with_fuel(true)).expect("runtime with fuel");
        f(setup, &rt);
    }
}

fn mem_words(module: &Module, n: u32) -> Vec<u32> {
    let mem = module.exported_memory("mem").expect("memory");
    (0..n).map(|i| mem.read_u32_le(4 * i).unwrap()).collect()
}

#[test]
fn out_of_fuel_mid_loop_stops_at_the_same_point() {
    let mut results = Vec::new();
    each_setup(|setup, rt| {
        let module = instantiate(rt, FILL);
        let fill = module.exported_function("fill").unwrap();
        // Enough for the entry and 5 iterations, plus 7: the 6th iteration's 15 fails.
        rt.set_fuel(1 + 15 * 5 + 7).unwrap();
        let err = fill.call(&[10]).unwrap_err();
        let trap = assert_trap(&err, TrapCode::OutOfFuel);
        assert_eq!(trap.code().message(), "all fuel consumed");
        assert!(
            !trap.backtrace().is_empty(),
            "the trap has a Wasm backtrace"
        );
        assert_eq!(trap.backtrace()[0].func_index, 0);
        assert_eq!(
            rt.fuel(),
            Some(7),
            "a failed charge leaves the fuel unchanged"
        );
        let words = mem_words(&module, 8);
        assert_eq!(words, [100, 101, 102, 103, 104, 0, 0, 0]);
        if setup == Setup::TieredOsr {
            let stats = rt.tiering_stats().unwrap();
            assert!(stats.osr_entries >= 1, "OSR ran the loop: {stats:?}");
        }
        results.push((rt.fuel(), words));
    });
    assert!(!results.is_empty());
    assert!(results.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn fuel_use_matches_the_hand_count() {
    each_setup(|_setup, rt| {
        let module = instantiate(rt, FILL);
        let fill = module.exported_function("fill").unwrap();
        for n in [1u64, 3, 50] {
            rt.set_fuel(1_000_000).unwrap();
            fill.call(&[n]).unwrap();
            assert_eq!(rt.fuel(), Some(1_000_000 - fill_cost(n)), "fill({n})");
        }
        // Exactly enough succeeds and leaves 0; one less traps at the function's last
        // segment (its `end`, cost 1) with nothing left.
        rt.set_fuel(fill_cost(4)).unwrap();
        fill.call(&[4]).unwrap();
        assert_eq!(rt.fuel(), Some(0));
        rt.set_fuel(fill_cost(4) - 1).unwrap();
        assert_trap(&fill.call(&[4]).unwrap_err(), TrapCode::OutOfFuel);
        assert_eq!(rt.fuel(), Some(0));
        // With no fuel at all, not even the entry segment runs.
        let before = mem_words(&module, 1);
        module.memory().unwrap().write_u32_le(0, 7);
        assert_trap(&fill.call(&[1]).unwrap_err(), TrapCode::OutOfFuel);
        assert_eq!(mem_words(&module, 1), [7]);
        assert_eq!(before, [100]);
    });
}

#[test]
fn add_fuel_resumes_calls() {
    each_setup(|_setup, rt| {
        let module = instantiate(rt, FILL);
        let fill = module.exported_function("fill").unwrap();
        rt.set_fuel(fill_cost(2)).unwrap();
        assert_trap(&fill.call(&[10]).unwrap_err(), TrapCode::OutOfFuel);
        let left = rt.fuel().unwrap();
        assert_eq!(left, fill_cost(2) - 1 - 15 * 2);
        rt.add_fuel(1000).unwrap();
        fill.call(&[10]).unwrap();
        assert_eq!(rt.fuel(), Some(left + 1000 - fill_cost(10)));
        assert_eq!(mem_words(&module, 10)[9], 109);
        // add_fuel saturates.
        rt.add_fuel(u64::MAX).unwrap();
        assert_eq!(rt.fuel(), Some(u64::MAX));
    });
}

/// `fact` segments: entry (local.get, i32.eqz, if) = 3; then (i32.const, else) = 2; else
/// up to the call (local.get, local.get, i32.const, i32.sub, call) = 5; after the call
/// (i32.mul, end) = 2; after the `if` (end) = 1. So fact(0) = 6, fact(n) = 11 + fact(n-1),
/// i.e. `11 n + 6`. `run(x)`: (local.get, call $h) = 2, (i32.const, call_indirect) = 2,
/// (end) = 1, plus fact(h(x)); the host function costs nothing beyond its call.
const CALLS: &str = r#"(module
  (type $t (func (param i32) (result i32)))
  (import "env" "dec" (func $dec (type $t)))
  (table 1 funcref)
  (elem (i32.const 0) $fact)
  (func $fact (type $t)
    local.get 0
    i32.eqz
    if (result i32)
      i32.const 1
    else
      local.get 0
      local.get 0
      i32.const 1
      i32.sub
      call $fact
      i32.mul
    end)
  (func (export "run") (param i32) (result i32)
    local.get 0
    call $dec
    i32.const 0
    call_indirect (type $t)))"#;

#[test]
fn recursion_call_indirect_and_host_calls_are_charged() {
    let mut seen = Vec::new();
    each_setup(|_setup, rt| {
        rt.new_host_module_builder("env")
            .new_function_builder()
            .with_func(|x: i32| x - 1)
            .export("dec")
            .instantiate()
            .unwrap();
        let module = instantiate(rt, CALLS);
        let run = module.exported_function("run").unwrap();
        for x in [1u64, 4, 8] {
            rt.set_fuel(10_000).unwrap();
            let got = run.call(&[x]).unwrap()[0];
            let n = x - 1;
            assert_eq!(got, (1..=n).product::<u64>());
            let cost = 5 + 11 * n + 6;
            assert_eq!(rt.fuel(), Some(10_000 - cost), "run({x})");
            seen.push(rt.fuel());
        }
        // Out of fuel deep in the recursion: the backtrace shows the recursive frames.
        rt.set_fuel(5 + 11 * 3).unwrap();
        let err = run.call(&[8]).unwrap_err();
        let trap = assert_trap(&err, TrapCode::OutOfFuel);
        assert!(trap.backtrace().len() >= 4, "{trap}");
        assert!(rt.fuel().unwrap() < 11);
    });
    assert!(!seen.is_empty());
    assert!(seen.chunks(3).all(|c| c == &seen[..3]), "{seen:?}");
}

#[test]
fn fuel_off_is_none_and_setting_it_is_an_error() {
    each_engine(|engine| {
        let rt = runtime(engine);
        assert_eq!(rt.fuel(), None);
        assert_usage(&rt.set_fuel(10).unwrap_err());
        assert_usage(&rt.add_fuel(10).unwrap_err());
        let module = instantiate(&rt, FILL);
        module
            .exported_function("fill")
            .unwrap()
            .call(&[3])
            .unwrap();
        assert_eq!(rt.fuel(), None);
    });
    assert!(!RuntimeConfig::new().fuel());
}
