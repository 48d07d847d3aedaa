//! Concurrency stress: many threads compile, instantiate and call at once on engine
//! `tiered` while the background compiler publishes code into the instances they call;
//! every result is checked, and the runtime's committed bytes return to zero at the end.

mod common;

use common::wat;
use kiln::{EngineKind, ModuleConfig, Runtime, RuntimeConfig};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const THREADS: u64 = 8;
const ROUNDS: u64 = 12;
const CALLS: u64 = 300;

/// A module whose `f(x)` is `x * k + salt`, computed through a helper, an indirect call and
/// a loop, so tier-ups, OSR and `call_indirect` all run while other threads publish.
fn module_text(k: u64, salt: u64) -> String {
    format!(
        r#"(module
            (type $t (func (param i32) (result i32)))
            (table 1 funcref)
            (elem (i32.const 0) $mul)
            (memory 1)
            (func $mul (param i32) (result i32) (i32.mul (local.get 0) (i32.const {k})))
            (func (export "f") (param $x i32) (result i32)
              (local $i i32) (local $acc i32)
              (local.set $acc (call_indirect (type $t) (local.get $x) (i32.const 0)))
              (loop $l
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $l (i32.lt_u (local.get $i) (i32.const 50))))
              (i32.store (i32.const 8) (local.get $acc))
              (i32.add (i32.load (i32.const 8)) (i32.const {salt}))))"#
    )
}

fn f(k: u64, salt: u64, x: u64) -> u64 {
    (x as u32).wrapping_mul(k as u32).wrapping_add(salt as u32) as u64
}

#[test]
fn threads_compile_instantiate_and_call_while_tiering() {
    let engines: Vec<EngineKind> = [EngineKind::Tiered, EngineKind::Jit, EngineKind::Interp]
        .into_iter()
        .filter(|e| e.is_available())
        .collect();
    for engine in engines {
        let rt = Runtime::with_config(
            RuntimeConfig::new()
                .with_engine(engine)
                .with_tier_threshold(5)
                .with_tier_workers(2),
        )
        .unwrap();
        // One module shared by every thread (its code is published while all of them call
        // it), besides each thread's own modules.
        let shared = rt.compile(&wat(&module_text(7, 1))).unwrap();
        let barrier = Arc::new(Barrier::new(THREADS as usize));
        let start = Instant::now();
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let (rt, shared, barrier) = (rt.clone(), shared.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut checked = 0u64;
                    for round in 0..ROUNDS {
                        let (k, salt) = (t * 31 + round + 2, t * 1000 + round);
                        let own = rt.compile(&wat(&module_text(k, salt))).unwrap();
                        let a = rt.instantiate(&own, ModuleConfig::new()).unwrap();
                        let b = rt.instantiate(&shared, ModuleConfig::new()).unwrap();
                        let (fa, fb) = (
                            a.exported_function("f").unwrap(),
                            b.exported_function("f").unwrap(),
                        );
                        for x in 0..CALLS {
                            let x = x * 7919 + t;
                            assert_eq!(fa.call(&[x]).unwrap(), [f(k, salt, x)], "{engine:?}");
                            assert_eq!(fb.call(&[x]).unwrap(), [f(7, 1, x)], "{engine:?}");
                            checked += 2;
                        }
                        a.close().unwrap();
                        b.close().unwrap();
                    }
                    checked
                })
            })
            .collect();
        let checked: u64 = threads.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(checked, THREADS * ROUNDS * CALLS * 2);
        let stats = rt.tiering_stats();
        eprintln!(
            "stress {}: {checked} checked calls in {:.1?}; tiering {stats:?}",
            engine.name(),
            start.elapsed()
        );
        if let Some(stats) = stats {
            assert!(stats.functions_compiled > 0, "no tier-ups: {stats:?}");
            // The shared module stayed alive, so both its functions were published while
            // the threads were calling them (jobs of modules already dropped are skipped).
            let deadline = Instant::now() + Duration::from_secs(20);
            while !(shared.is_tiered_up(0) && shared.is_tiered_up(1)) {
                assert!(Instant::now() < deadline, "shared module not tiered up");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        drop(shared);
        let deadline = Instant::now() + Duration::from_secs(20);
        while rt.committed_bytes().total != 0 {
            assert!(
                Instant::now() < deadline,
                "{engine:?}: still committed: {:?}",
                rt.committed_bytes()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(rt.live_instances(), 0);
    }
}
