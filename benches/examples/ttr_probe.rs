//! Where the time of one "time to result" point goes: runs compile + instantiate + run +
//! drop of one kernel at one argument many times in `jit` and `tiered`, interleaved, and
//! prints min / median per engine with the tiered engine's compile statistics.
//! With `TTR_PROBE_BACK_TO_BACK=1` each engine runs all its rounds in a row instead; with
//! `TTR_PROBE_SYNC=1` the tiered engine compiles on the caller's thread (with threshold 1
//! its code runs from the first call: native code quality without the tiering).
//!
//! `cargo run --release -p kiln-benches --example ttr_probe -- fib 24 [rounds] [threshold]`

use kiln::EngineKind;
use std::time::{Duration, Instant};

fn runtime(engine: EngineKind, threshold: Option<u32>) -> kiln::Runtime {
    let mut config = kiln::RuntimeConfig::new()
        .with_engine(engine)
        .with_tier_workers(1);
    if let Some(t) = threshold {
        config = config.with_tier_threshold(t);
    }
    if std::env::var_os("TTR_PROBE_SYNC").is_some() {
        config = config.with_tier_sync(true);
    }
    kiln::Runtime::with_config(config).expect("engine available")
}

/// Compile, instantiate, run, drop; the time of each phase.
fn phases(rt: &kiln::Runtime, wasm: &[u8], arg: i32) -> [Duration; 4] {
    let t0 = Instant::now();
    let compiled = rt.compile(wasm).expect("compile");
    let t1 = Instant::now();
    let module = rt
        .instantiate(&compiled, kiln::ModuleConfig::new().with_name(""))
        .expect("instantiate");
    let run = module
        .exported_function("run")
        .expect("run")
        .typed::<i32, i64>()
        .expect("[i32] -> [i64]");
    let t2 = Instant::now();
    std::hint::black_box(run.call(arg).expect("run"));
    let t3 = Instant::now();
    drop(run);
    drop(module);
    drop(compiled);
    [t1 - t0, t2 - t1, t3 - t2, t3.elapsed()]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map(String::as_str).unwrap_or("fib");
    let arg: i32 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(24);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let threshold: Option<u32> = args.get(3).and_then(|a| a.parse().ok());
    let kernel = kiln_benches::kernels()
        .into_iter()
        .find(|k| k.name == name)
        .expect("kernel name");
    let engines = [
        ("jit", runtime(EngineKind::Jit, None)),
        ("tiered", runtime(EngineKind::Tiered, threshold)),
    ];
    let mut times: Vec<Vec<[Duration; 4]>> = vec![Vec::new(); engines.len()];
    if std::env::var_os("TTR_PROBE_BACK_TO_BACK").is_some() {
        // As criterion runs them: every round of one engine, then the next engine.
        for (i, (_, rt)) in engines.iter().enumerate() {
            for _ in 0..rounds {
                times[i].push(phases(rt, &kernel.wasm, arg));
            }
        }
    } else {
        for _ in 0..rounds {
            for (i, (_, rt)) in engines.iter().enumerate() {
                times[i].push(phases(rt, &kernel.wasm, arg));
            }
        }
    }
    for (i, (engine, rt)) in engines.iter().enumerate() {
        let t = &mut times[i];
        let total = |p: &[Duration; 4]| p.iter().sum::<Duration>();
        t.sort_by_key(total);
        let med = t[t.len() / 2];
        let min = t[0];
        let p90 = t[t.len() * 9 / 10];
        let mean = t.iter().map(total).sum::<Duration>() / t.len() as u32;
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "{engine:>7}: total min {:.0} us, median {:.0} us, mean {:.0} us, p90 {:.0} us (median: compile {:.0}, instantiate {:.0}, run {:.0}, drop {:.0})",
            us(total(&min)),
            us(total(&med)),
            us(mean),
            us(total(&p90)),
            us(med[0]),
            us(med[1]),
            us(med[2]),
            us(med[3])
        );
        if let Some(s) = rt.tiering_stats() {
            println!(
                "         compiled {} (+{} OSR) of {} queued in {} batches, {} deferred, {} failed, queue {} (max {}), compile time total {:.1} ms, max {:.0} us, mean {:.0} us",
                s.functions_compiled,
                s.osr_compiled,
                s.functions_queued,
                s.batches_compiled,
                s.functions_deferred,
                s.compile_failures,
                s.queue_length,
                s.max_queue_length,
                s.total_compile_time.as_secs_f64() * 1e3,
                us(s.max_compile_time),
                us(s.total_compile_time) / (s.functions_compiled + s.osr_compiled).max(1) as f64
            );
        }
    }
}
