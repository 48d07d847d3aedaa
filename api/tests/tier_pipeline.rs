//! The compile pipeline of engine `tiered` as the embedder sees it: results identical in
//! every engine, and statistics of jobs, batches, queue length, compile time and code
//! bytes that add up.

mod common;

use common::{each_engine, wat};
use kiln::{EngineKind, Runtime, RuntimeConfig};
use std::time::{Duration, Instant};

/// Small functions called by `run`'s loop.
const FUNCTIONS: u32 = 24;

/// `f_k(x) = x * (k + 3) + k` for each k, and `run(n)`, the wrapping sum of every `f_k(i)`
/// for `i` in `0..n`.
fn module_text() -> String {
    let mut text = String::from("(module\n");
    for k in 0..FUNCTIONS {
        text += &format!(
            "(func $f{k} (param i32) (result i32)
               (i32.add (i32.mul (local.get 0) (i32.const {})) (i32.const {k})))\n",
            k + 3
        );
    }
    text += "(func (export \"run\") (param $n i32) (result i32)
        (local $i i32) (local $acc i32)
        (block $done (loop $l
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))\n";
    for k in 0..FUNCTIONS {
        text +=
            &format!("(local.set $acc (i32.add (local.get $acc) (call $f{k} (local.get $i))))\n");
    }
    text += "(local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l)))
        (local.get $acc)))";
    text
}

fn expected(n: u32) -> u64 {
    let mut acc = 0u32;
    for i in 0..n {
        for k in 0..FUNCTIONS {
            acc = acc.wrapping_add(i.wrapping_mul(k + 3).wrapping_add(k));
        }
    }
    acc as u64
}

fn runtime(engine: EngineKind, sync: bool) -> Runtime {
    Runtime::with_config(
        RuntimeConfig::new()
            .with_engine(engine)
            .with_tier_threshold(10)
            .with_tier_sync(sync)
            .with_tier_workers(1),
    )
    .unwrap()
}

/// Every defined function gets compiled; the statistics account for each request
/// (compiled or deferred, none lost), count batches of at most all the functions, report
/// the queue's high-water mark and exactly the code bytes the runtime has committed.
#[test]
fn stats_count_jobs_batches_queue_length_and_code_bytes() {
    let bytes = wat(&module_text());
    let defined = u64::from(FUNCTIONS) + 1;
    each_engine(|engine| {
        for sync in [true, false] {
            let rt = runtime(engine, sync);
            let m = rt.instantiate_bytes(&bytes).unwrap();
            let run = m.exported_function("run").unwrap();
            assert_eq!(run.call(&[50]).unwrap()[0], expected(50));
            let Some(mut stats) = rt.tiering_stats() else {
                assert_ne!(engine, EngineKind::Tiered);
                continue;
            };
            // In the background, calls keep the functions hot until all are compiled.
            let deadline = Instant::now() + Duration::from_secs(60);
            while stats.functions_compiled < defined || stats.queue_length > 0 {
                assert!(
                    Instant::now() < deadline,
                    "never compiled everything: {stats:?}"
                );
                assert_eq!(run.call(&[50]).unwrap()[0], expected(50));
                stats = rt.tiering_stats().unwrap();
            }
            assert_eq!(run.call(&[70]).unwrap()[0], expected(70));
            assert_eq!(stats.functions_compiled, defined, "{stats:?}");
            assert_eq!(stats.compile_failures, 0);
            assert_eq!(
                stats.functions_queued,
                stats.functions_compiled + stats.functions_deferred,
                "every request compiled or deferred: {stats:?}"
            );
            assert!(stats.batches_compiled >= 1 && stats.batches_compiled <= defined);
            assert!(stats.max_compile_time > Duration::ZERO);
            assert!(stats.total_compile_time >= stats.max_compile_time);
            assert!(stats.code_bytes > 0);
            assert_eq!(stats.code_bytes, rt.committed_bytes().code, "{stats:?}");
            if sync {
                // One function at a time on the calling thread; the queue is not used.
                assert_eq!(stats.batches_compiled, defined);
                assert_eq!((stats.max_queue_length, stats.worker_threads), (0, 0));
            } else {
                assert!(stats.max_queue_length >= 1, "{stats:?}");
                assert!(stats.max_queue_length <= stats.functions_queued);
                assert_eq!(stats.worker_threads, 1);
            }
            drop((run, m));
            assert_eq!(rt.committed_bytes().code, 0, "code freed with the module");
        }
    });
}

/// By default one compiler thread per core beyond the first, at least one, at most four.
#[test]
fn compiler_threads_default_to_the_cores_left_to_the_program() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = RuntimeConfig::new().tier_workers();
    assert!((1..=4).contains(&workers));
    assert_eq!(workers, (cores - 1).clamp(1, 4));
}
