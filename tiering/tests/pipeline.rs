//! The compile pipeline of engine `tiered` below the policy: batches compiled into a
//! module's code region and published at once, and requests handed back to the
//! interpreter (`Module::tier_cool`).

mod common;

use common::call;
use kiln_runtime::vm::native;
use kiln_runtime::{Config, Engine, Instance, Module, TierPolicy, TierStats, TrapCode};
use kiln_tiering::CraneliftBackend;
use kiln_tiering::code_memory::CodeRegion;
use kiln_tiering::translate::{BoundsChecks, TranslateOptions};
use std::sync::{Arc, Mutex};

/// A policy that only records which functions were requested (nothing compiles unless a
/// test does it).
#[derive(Default)]
struct Recorder(Mutex<Vec<u32>>);

impl TierPolicy for Recorder {
    fn function_hot(&self, _: &Module, index: u32) {
        self.0.lock().unwrap().push(index);
    }

    fn stats(&self) -> TierStats {
        TierStats::default()
    }
}

/// Engine `tiered` as the `kiln` API configures it, with the recording policy.
fn engine(threshold: u32) -> Option<(Engine, Arc<CraneliftBackend>, Arc<Recorder>)> {
    if !native::is_supported() {
        eprintln!("no native code on this platform: skipped");
        return None;
    }
    let backend = Arc::new(
        CraneliftBackend::new(TranslateOptions {
            bounds_checks: BoundsChecks::GuardPages,
            interrupt_checks: true,
            direct_calls: false,
        })
        .expect("backend"),
    );
    let recorder = Arc::new(Recorder::default());
    let engine = Engine::with_tiering(
        Config::default().with_tier_threshold(threshold),
        backend.clone(),
        recorder.clone(),
    );
    Some((engine, backend, recorder))
}

const CHAIN: &str = r#"(module
    (func $add (param i32) (result i32) (i32.add (local.get 0) (i32.const 7)))
    (func $mul (param i32) (result i32) (i32.mul (call $add (local.get 0)) (i32.const 3)))
    (func (export "top") (param i32) (result i32)
        (if (i32.eqz (local.get 0)) (then unreachable))
        (call $mul (local.get 0)))
    (func (export "other") (result i32) (i32.const 99)))"#;

/// Three functions compiled as one batch share one page of the module's region, are
/// published at once, run natively, and a trap in one of them is found in the code
/// registry with every batched frame of the backtrace. A second batch follows on the next
/// page of the same region, and dropping the module releases the code.
#[test]
fn a_batch_shares_pages_publishes_at_once_and_traps_with_its_frames() {
    let Some((engine, backend, _)) = engine(1000) else {
        return;
    };
    let module = Module::new(&engine, &wat::parse_str(CHAIN).unwrap()).unwrap();
    let inst = Instance::new(&module, &[]).unwrap();
    assert_eq!(call(&inst, "top", &[5]).unwrap(), [36]);
    let region = module.tier_backend_state(CodeRegion::new).unwrap();

    let outcome = backend.compile_batch(&module, &[0, 1, 2], &region);
    assert!(outcome.failed.is_empty());
    let batch = outcome.batch.expect("a batch");
    let range = batch.code.range();
    assert_eq!(range.len(), outcome.code_bytes);
    let page = |a: usize| a / 4096;
    let entries: Vec<usize> = batch.functions.iter().map(|f| f.entry).collect();
    assert_eq!(entries.len(), 3);
    assert!(entries.iter().all(|e| range.contains(e)));
    assert!(
        entries.iter().all(|&e| page(e) == page(entries[0])),
        "small functions of one batch share a page: {entries:x?}"
    );
    // SAFETY: compiled by this module's engine's backend for these functions.
    unsafe { module.publish_batch(batch) }.unwrap();
    assert!((0..3).all(|i| module.is_tiered_up(i)));
    assert!(!module.is_tiered_up(3));
    assert_eq!(call(&inst, "top", &[5]).unwrap(), [36]);
    let trap = call(&inst, "top", &[0]).unwrap_err();
    assert_eq!(trap.code(), TrapCode::Unreachable);
    assert_eq!(trap.backtrace()[0].func_index, 2);
    assert_eq!(engine.committed_bytes().code, range.len() as u64);

    // Dropped unpublished: its pages are released at once.
    let second = backend
        .compile_batch(&module, &[3], &region)
        .batch
        .expect("a batch")
        .code
        .range();
    assert_eq!(
        second.start,
        range.start + range.len().next_multiple_of(4096),
        "the next batch takes the next page of the region"
    );
    assert_eq!(call(&inst, "other", &[]).unwrap(), [99]);
    drop((inst, module, region));
    assert_eq!(engine.committed_bytes().code, 0);
}

/// A request the policy hands back (`tier_cool`) leaves the function in the interpreter
/// with its counters reset: it is requested again after exactly `threshold` more calls.
#[test]
fn a_cooled_function_is_requested_again_when_it_heats_up_again() {
    const THRESHOLD: u32 = 10;
    let Some((engine, _, recorder)) = engine(THRESHOLD) else {
        return;
    };
    let module = Module::new(&engine, &wat::parse_str(CHAIN).unwrap()).unwrap();
    let inst = Instance::new(&module, &[]).unwrap();
    let requests = || recorder.0.lock().unwrap().clone();
    let mut calls = 0;
    while requests().is_empty() {
        assert_eq!(call(&inst, "other", &[]).unwrap(), [99]);
        calls += 1;
        assert!(calls <= THRESHOLD, "never requested");
    }
    assert_eq!((calls, requests()), (THRESHOLD, vec![3]));
    // Queued: more calls do not ask again.
    for _ in 0..3 * THRESHOLD {
        call(&inst, "other", &[]).unwrap();
    }
    assert_eq!(requests(), [3]);

    module.tier_cool(3);
    assert_eq!(module.hotness(3), Some((0, 0)));
    assert!(!module.is_tiered_up(3));
    let mut calls = 0;
    while requests().len() == 1 {
        call(&inst, "other", &[]).unwrap();
        calls += 1;
        assert!(calls <= THRESHOLD, "never requested again");
    }
    assert_eq!((calls, requests()), (THRESHOLD, vec![3, 3]));
}
