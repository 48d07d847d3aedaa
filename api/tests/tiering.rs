//! Engine `tiered`: tier-ups, on-stack replacement, publication and statistics.

mod common;

use common::wat;
use kiln::{CallerTier, EngineKind, ModuleConfig, Runtime, RuntimeConfig, ValueType};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

fn tiered(threshold: u32, sync: bool) -> Option<Runtime> {
    if !EngineKind::Tiered.is_available() {
        eprintln!("tiered engine not available on this platform: skipped");
        return None;
    }
    let config = RuntimeConfig::new()
        .with_engine(EngineKind::Tiered)
        .with_tier_threshold(threshold)
        .with_tier_sync(sync);
    Some(Runtime::with_config(config).expect("tiered engine"))
}

/// A host module `env` with `probe(i32)`, which records the tier of its caller per call.
fn probe_module(rt: &Runtime) -> Arc<Mutex<Vec<CallerTier>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    rt.new_host_module_builder("env")
        .new_function_builder()
        .with_stack_func(&[ValueType::I32], &[], move |caller, _| {
            log.lock().unwrap().push(caller.tier());
            Ok(())
        })
        .export("probe")
        .instantiate()
        .expect("host module");
    seen
}

const LOOP_WITH_PROBE: &str = r#"(module
    (import "env" "probe" (func $probe (param i32)))
    (func (export "run") (param $n i32) (result i32)
        (local $i i32) (local $acc i32)
        (loop $l
            (call $probe (local.get $i))
            (local.set $acc (i32.add (local.get $acc) (i32.mul (local.get $i) (local.get $i))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
        (local.get $acc)))"#;

fn sum_of_squares(n: u32) -> u32 {
    (0..n).fold(0u32, |acc, i| acc.wrapping_add(i.wrapping_mul(i)))
}

/// One call of a long loop moves into native code at a loop header before it returns: the
/// host function called in the loop sees its caller in the interpreter first and in native
/// code later, in the same call, and the result is the interpreter's.
#[test]
fn osr_moves_a_running_loop_into_native_code() {
    for sync in [true, false] {
        let Some(rt) = tiered(100, sync) else { return };
        let seen = probe_module(&rt);
        let m = rt.instantiate_bytes(&wat(LOOP_WITH_PROBE)).unwrap();
        let run = m.exported_function("run").unwrap();
        // In the background mode the loop runs until the OSR entry is ready (bounded).
        let n = if sync { 10_000 } else { 5_000_000 };
        let r = run.call(&[n as u64]).unwrap();
        assert_eq!(r[0] as u32, sum_of_squares(n), "sync = {sync}");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), n as usize);
        assert_eq!(seen[0], CallerTier::Interpreter, "sync = {sync}");
        let first_native = seen
            .iter()
            .position(|t| *t == CallerTier::Native)
            .unwrap_or_else(|| panic!("the loop never entered native code (sync = {sync})"));
        assert!(
            seen[first_native..]
                .iter()
                .all(|t| *t == CallerTier::Native),
            "once native, the call stays native"
        );
        if sync {
            // The OSR entry is compiled at the check after `threshold` back-edges.
            assert!(first_native <= 200, "entered native code at {first_native}");
        }
        let stats = rt.tiering_stats().expect("tiered stats");
        assert!(stats.osr_entries >= 1, "{stats:?}");
        assert!(stats.osr_compiled >= 1, "{stats:?}");
    }
}

/// A loop that gets hot compiles its function once, with the OSR entry: the running frame
/// moves in, and the next call runs the same code from its start, with no second job.
#[test]
fn a_hot_loop_compiles_its_function_once_for_the_frame_and_later_calls() {
    let Some(rt) = tiered(100, true) else { return };
    let seen = probe_module(&rt);
    let m = rt.instantiate_bytes(&wat(LOOP_WITH_PROBE)).unwrap();
    let run = m.exported_function("run").unwrap();
    assert_eq!(run.call(&[1000]).unwrap()[0] as u32, sum_of_squares(1000));
    let stats = rt.tiering_stats().unwrap();
    assert_eq!((stats.osr_compiled, stats.osr_entries), (1, 1), "{stats:?}");
    assert_eq!(
        (stats.functions_queued, stats.functions_compiled),
        (1, 1),
        "{stats:?}"
    );
    seen.lock().unwrap().clear();
    assert_eq!(run.call(&[10]).unwrap()[0] as u32, sum_of_squares(10));
    let stats = rt.tiering_stats().unwrap();
    assert_eq!(
        (stats.functions_queued, stats.functions_compiled),
        (1, 1),
        "{stats:?}"
    );
    assert_eq!(stats.osr_entries, 1, "{stats:?}");
    assert_eq!(stats.functions_interpreted, 1, "{stats:?}");
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|t| *t == CallerTier::Native)
    );
}

/// Runs `run(n)` of the module `text` once, in a fresh tiered runtime (threshold 100,
/// background compilation), checks its result and returns the runtime's tiering stats.
fn run_once_in_background(text: &str, n: u64, expected: u64) -> Option<kiln::TieringStats> {
    let rt = tiered(100, false)?;
    let m = rt.instantiate_bytes(&wat(text)).unwrap();
    let run = m.exported_function("run").unwrap();
    assert_eq!(run.call(&[n]).unwrap()[0], expected);
    Some(rt.tiering_stats().expect("a tiered runtime has statistics"))
}

/// Nested loops in one call, compiled in the background: one compile of the function
/// (with its OSR entry) serves both loops, so hot checks on either loop's back-edges wait
/// for it instead of queueing a second compile, and once the frame has moved no
/// interpreted back-edge asks again.
#[test]
fn nested_hot_loops_compile_one_osr_entry_at_a_time() {
    let text = r#"(module
            (func (export "run") (param $n i32) (result i64)
                (local $i i32) (local $j i32) (local $acc i64)
                (loop $outer
                    (local.set $j (i32.const 0))
                    (loop $inner
                        (local.set $acc (i64.add (local.get $acc)
                            (i64.extend_i32_u (i32.mul (local.get $i) (local.get $j)))))
                        (local.set $j (i32.add (local.get $j) (i32.const 1)))
                        (br_if $inner (i32.lt_u (local.get $j) (i32.const 64))))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br_if $outer (i32.lt_u (local.get $i) (local.get $n))))
                (local.get $acc)))"#;
    let n = 200_000u64;
    let expected: u64 = (0..n).map(|i| i * (0..64).sum::<u64>()).sum();
    let Some(stats) = run_once_in_background(text, n, expected) else {
        return;
    };
    assert!(stats.osr_compiled <= 1, "{stats:?}");
    assert!(stats.osr_entries <= 1, "{stats:?}");
    assert!(stats.functions_compiled <= 1, "{stats:?}");
}

/// The first hot check lands on the outer loop (the inner one does not run at first), so
/// the function is requested there; by the time its OSR entry is ready nearly every
/// back-edge is the inner loop's. The frame enters at the inner loop's header with the
/// same entry rather than compiling a second one for it (per-loop entries kept the float
/// kernel in the interpreter for ~30% of a 1 ms run, behind a second compile).
#[test]
fn a_ready_outer_loop_entry_is_entered_without_a_second_compile() {
    let text = r#"(module
            (func (export "run") (param $n i32) (result i64)
                (local $i i32) (local $j i32) (local $acc i64)
                (loop $outer
                    (local.set $j (i32.const 0))
                    (if (i32.ge_u (local.get $i) (i32.const 300))
                        (then (loop $inner
                            (local.set $acc (i64.add (local.get $acc)
                                (i64.extend_i32_u (i32.xor (local.get $i) (local.get $j)))))
                            (local.set $j (i32.add (local.get $j) (i32.const 1)))
                            (br_if $inner (i32.lt_u (local.get $j) (i32.const 1000))))))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br_if $outer (i32.lt_u (local.get $i) (local.get $n))))
                (local.get $acc)))"#;
    let n = 30_000u64;
    let expected: u64 = (300..n)
        .map(|i| (0..1000u64).map(|j| i ^ j).sum::<u64>())
        .sum();
    let Some(stats) = run_once_in_background(text, n, expected) else {
        return;
    };
    assert_eq!(stats.osr_compiled, 1, "{stats:?}");
    assert_eq!(stats.osr_entries, 1, "{stats:?}");
    assert_eq!(stats.functions_compiled, 1, "{stats:?}");
}

/// Loops in sequence (the shape of the sieve kernel): the entry requested while the first
/// loop runs becomes ready only after that loop has finished (a host call between the
/// loops waits for it). The frame enters the same entry at the second loop's header: the
/// host function in the second loop sees the interpreter at first and native code later,
/// and no second entry is compiled.
#[test]
fn an_entry_requested_in_one_loop_is_entered_at_a_later_loop() {
    let Some(rt) = tiered(100, false) else { return };
    let seen = probe_module(&rt);
    // The runtime is shared with its own host function: a cycle, leaked by this test.
    let stats_of = rt.clone();
    rt.new_host_module_builder("sync")
        .new_function_builder()
        .with_stack_func(&[], &[], move |_, _| {
            let deadline = Instant::now() + Duration::from_secs(60);
            while stats_of
                .tiering_stats()
                .is_some_and(|s| s.osr_compiled == 0)
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(())
        })
        .export("wait_for_osr")
        .instantiate()
        .expect("host module");
    let text = r#"(module
        (import "env" "probe" (func $probe (param i32)))
        (import "sync" "wait_for_osr" (func $wait_for_osr))
        (func (export "run") (param $n i32) (result i32)
            (local $i i32) (local $acc i32)
            (loop $first
                (local.set $acc (i32.add (local.get $acc) (local.get $i)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $first (i32.lt_u (local.get $i) (local.get $n))))
            (call $wait_for_osr)
            (local.set $i (i32.const 0))
            (loop $second
                (call $probe (local.get $i))
                (local.set $acc (i32.add (local.get $acc) (i32.mul (local.get $i) (local.get $i))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $second (i32.lt_u (local.get $i) (local.get $n))))
            (local.get $acc)))"#;
    let m = rt.instantiate_bytes(&wat(text)).unwrap();
    let run = m.exported_function("run").unwrap();
    let n = 5_000u32;
    let expected = (0..n)
        .fold(0u32, |acc, i| acc.wrapping_add(i))
        .wrapping_add(sum_of_squares(n));
    assert_eq!(run.call(&[u64::from(n)]).unwrap()[0] as u32, expected);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), n as usize);
    assert_eq!(seen[0], CallerTier::Interpreter);
    let moved = seen
        .iter()
        .position(|t| *t == CallerTier::Native)
        .expect("the second loop moved into native code");
    assert!(
        seen[moved..].iter().all(|t| *t == CallerTier::Native),
        "{seen:?}"
    );
    // Publication resets the check counter: the frame enters at the second loop's very
    // first back-edge.
    assert_eq!(moved, 1, "{seen:?}");
    let stats = rt.tiering_stats().unwrap();
    assert_eq!(stats.osr_compiled, 1, "{stats:?}");
    assert_eq!(stats.osr_entries, 1, "{stats:?}");
    assert_eq!(stats.functions_compiled, 1, "{stats:?}");
}

/// Threshold 1, synchronous: the first call compiles the function and runs natively.
#[test]
fn threshold_one_sync_runs_native_from_the_first_call() {
    let Some(rt) = tiered(1, true) else { return };
    let seen = probe_module(&rt);
    let m = rt.instantiate_bytes(&wat(LOOP_WITH_PROBE)).unwrap();
    let run = m.exported_function("run").unwrap();
    assert_eq!(run.call(&[10]).unwrap()[0] as u32, sum_of_squares(10));
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|t| *t == CallerTier::Native),
        "{:?}",
        seen.lock().unwrap()
    );
    let stats = rt.tiering_stats().unwrap();
    assert_eq!(stats.functions_compiled, 1, "{stats:?}");
    assert_eq!(stats.functions_interpreted, 1, "{stats:?}");
    assert_eq!(stats.queue_length, 0);
}

/// Below the threshold everything stays interpreted; statistics say so.
#[test]
fn cold_code_stays_interpreted() {
    let Some(rt) = tiered(1000, true) else { return };
    let seen = probe_module(&rt);
    let m = rt.instantiate_bytes(&wat(LOOP_WITH_PROBE)).unwrap();
    let run = m.exported_function("run").unwrap();
    for _ in 0..5 {
        run.call(&[10]).unwrap();
    }
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|t| *t == CallerTier::Interpreter)
    );
    let stats = rt.tiering_stats().unwrap();
    assert_eq!(stats.functions_compiled, 0, "{stats:?}");
    assert_eq!(stats.osr_entries, 0, "{stats:?}");
}

const CALL_SITES: &str = r#"(module
    (type $t (func (param i32) (result i32)))
    (table 1 funcref)
    (elem (i32.const 0) $f)
    (func $f (export "f") (type $t) (i32.add (local.get 0) (i32.const 1)))
    ;; direct call from Wasm
    (func (export "direct") (param i32) (result i32) (call $f (local.get 0)))
    ;; call_indirect through the table
    (func (export "indirect") (param i32) (result i32)
        (call_indirect (type $t) (local.get 0) (i32.const 0)))
    ;; calls from inside a loop (the caller moves to native code itself, by OSR)
    (func (export "looped") (param $n i32) (result i32) (local $acc i32)
        (loop $l
            (local.set $acc (call $f (local.get $acc)))
            (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        (local.get $acc)))"#;

/// After a function is published, the interpreter never runs it again, whichever call
/// site reaches it (host calls, direct and indirect calls from interpreted and from native
/// code), while many threads call it.
#[test]
fn no_stale_call_site_after_publication() {
    let Some(rt) = tiered(200, false) else { return };
    let compiled = rt.compile(&wat(CALL_SITES)).unwrap();
    let instances: Vec<_> = (0..2)
        .map(|_| {
            rt.instantiate(&compiled, ModuleConfig::new().with_name(""))
                .unwrap()
        })
        .collect();
    let f_index = compiled
        .exported_functions()
        .get("f")
        .expect("export f")
        .index();
    let interpreted_entries = || compiled.hotness(f_index).map_or(0, |h| h.0);
    let threads = 4;
    let barrier = Arc::new(Barrier::new(threads + 1));
    let mut handles = Vec::new();
    for t in 0..threads {
        let m = instances[t % instances.len()].clone();
        let barrier = barrier.clone();
        handles.push(std::thread::spawn(move || {
            let f = m.exported_function("f").unwrap();
            let direct = m.exported_function("direct").unwrap();
            let indirect = m.exported_function("indirect").unwrap();
            let looped = m.exported_function("looped").unwrap();
            let round = |k: u64| {
                assert_eq!(f.call(&[k]).unwrap()[0], k + 1);
                assert_eq!(direct.call(&[k]).unwrap()[0], k + 1);
                assert_eq!(indirect.call(&[k]).unwrap()[0], k + 1);
                assert_eq!(looped.call(&[10]).unwrap()[0], 10);
            };
            // Phase 1: warm up until told that `f` is published.
            let mut k = 0;
            barrier.wait();
            while k < 2_000 {
                round(k);
                k += 1;
            }
            barrier.wait();
            // Phase 2: after publication (and after every thread finished the calls it
            // had started before it), keep calling through every call site.
            barrier.wait();
            for k in 0..2_000 {
                round(k);
            }
        }));
    }
    barrier.wait();
    barrier.wait();
    // Every thread made 2000 rounds: `f` got hot long ago; wait for the background
    // compiler to publish it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !compiled.is_tiered_up(f_index) {
        assert!(Instant::now() < deadline, "f was never published");
        std::thread::sleep(Duration::from_millis(5));
    }
    let before = interpreted_entries();
    barrier.wait();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        interpreted_entries(),
        before,
        "the interpreter ran `f` after its publication"
    );
}

/// A module dropped while its functions compile in the background: the compiler
/// discards the result, nothing crashes, and the runtime keeps working.
#[test]
fn module_dropped_while_compiling() {
    let Some(rt) = tiered(1, false) else { return };
    for _ in 0..50 {
        let m = rt
            .instantiate(
                &rt.compile(&wat(CALL_SITES)).unwrap(),
                ModuleConfig::new().with_name(""),
            )
            .unwrap();
        let f = m.exported_function("looped").unwrap();
        assert_eq!(f.call(&[100]).unwrap()[0], 100);
        m.close().unwrap();
        drop(f);
        drop(m);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while rt.tiering_stats().unwrap().queue_length > 0 {
        assert!(Instant::now() < deadline, "queue never drained");
        std::thread::sleep(Duration::from_millis(5));
    }
    let m = rt.instantiate_bytes(&wat(CALL_SITES)).unwrap();
    assert_eq!(
        m.exported_function("looped").unwrap().call(&[5]).unwrap()[0],
        5
    );
}
