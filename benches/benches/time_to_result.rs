//! "Time to result": wall-clock end-to-end time (compile + instantiate + run + teardown) of
//! `interp`, `jit` and `tiered` (one background compiler thread, default threshold) on
//! each kernel, at work sizes from about 1 ms to a few seconds of `jit` time.
//!
//! Ids: `ttr-<kernel>/<engine>/<size>`, where `<size>` names the work size by its
//! approximate `jit` time (`1ms`, `8ms`, ... ). The work sizes are calibrated at start-up
//! by timing `jit` (the kernels scale linearly, quadratically (float) or exponentially
//! (fib) in their argument); the sieve is capped at 1 MiB per call, so its larger sizes
//! repeat the call. The chosen sizes are written to
//! `target/criterion/ttr-sizes.json` (for `benches/node/time_to_result.mjs`), and
//! `benches/ttr_table.py` prints the table of ratios from criterion's estimates.
//!
//! `interp` is measured only while it is within 8x of `jit`'s time at the previous size
//! (beyond that `jit` is the better of the two and the interpreter would take minutes).
//! `KILN_TTR_QUICK=1` runs only the two smallest sizes.

use criterion::{BenchmarkId, Criterion, SamplingMode};
use kiln::EngineKind;
use kiln_benches::{Kernel, KernelKind, kernels};
use std::time::{Duration, Instant};

/// Target `jit` times of the work sizes.
const TARGETS_MS: [f64; 5] = [1.0, 8.0, 64.0, 512.0, 2048.0];

/// One work size: the argument of `run` and how many calls.
#[derive(Clone, Copy, Debug)]
struct Work {
    arg: i32,
    reps: u32,
}

fn runtime(engine: EngineKind) -> kiln::Runtime {
    kiln::Runtime::with_config(
        kiln::RuntimeConfig::new()
            .with_engine(engine)
            .with_tier_workers(1),
    )
    .expect("engine available")
}

/// Compile, instantiate, run, drop: the measured unit. Returns the checksum of the last
/// call.
fn end_to_end(rt: &kiln::Runtime, wasm: &[u8], work: Work) -> i64 {
    let compiled = rt.compile(wasm).expect("compile");
    let module = rt
        .instantiate(&compiled, kiln::ModuleConfig::new().with_name(""))
        .expect("instantiate");
    let run = module
        .exported_function("run")
        .expect("run")
        .typed::<i32, i64>()
        .expect("[i32] -> [i64]");
    let mut r = 0;
    for _ in 0..work.reps {
        r = run.call(work.arg).expect("run");
    }
    r
}

fn time_of(rt: &kiln::Runtime, wasm: &[u8], work: Work) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        std::hint::black_box(end_to_end(rt, wasm, work));
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    best
}

/// Work sizes of `kernel` whose `jit` times approximate [`TARGETS_MS`].
fn calibrate(kernel: &Kernel, jit: &kiln::Runtime) -> Vec<Work> {
    let base = Work {
        arg: kernel.execute_arg,
        reps: 1,
    };
    let t = time_of(jit, &kernel.wasm, base).max(1e-3);
    TARGETS_MS
        .iter()
        .map(|&target| {
            let scale = target / t;
            match kernel.kind {
                KernelKind::Fib => {
                    let phi: f64 = 1.618_034;
                    let arg = base.arg as f64 + scale.ln() / phi.ln();
                    Work {
                        arg: arg.round().clamp(1.0, 45.0) as i32,
                        reps: 1,
                    }
                }
                KernelKind::Float => Work {
                    arg: (base.arg as f64 * scale.sqrt()).round().clamp(1.0, 1e5) as i32,
                    reps: 1,
                },
                KernelKind::Sieve => Work {
                    arg: base.arg,
                    reps: scale.round().max(1.0) as u32,
                },
                _ => Work {
                    arg: (base.arg as f64 * scale)
                        .round()
                        .clamp(1.0, i32::MAX as f64) as i32,
                    reps: 1,
                },
            }
        })
        .collect()
}

fn label(target_ms: f64) -> String {
    format!("{target_ms:.0}ms")
}

fn bench(c: &mut Criterion) {
    let quick = std::env::var_os("KILN_TTR_QUICK").is_some();
    let engines: Vec<(&str, EngineKind)> = [
        ("interp", EngineKind::Interp),
        ("jit", EngineKind::Jit),
        ("tiered", EngineKind::Tiered),
    ]
    .into_iter()
    .filter(|(_, e)| e.is_available())
    .collect();
    if engines.len() < 3 {
        eprintln!("time_to_result: needs jit and tiered (Linux x86-64); skipped");
        return;
    }
    let jit = runtime(EngineKind::Jit);
    let mut sizes_json = Vec::new();
    for kernel in kernels()
        .into_iter()
        .filter(|k| k.kind != KernelKind::ManyFunctions)
    {
        let mut works = calibrate(&kernel, &jit);
        if quick {
            works.truncate(2);
        }
        for (w, target) in works.iter().zip(TARGETS_MS) {
            // Checked outside timing, on the engine that is fastest to check.
            let expected = kernel.reference(w.arg);
            assert_eq!(
                end_to_end(&jit, &kernel.wasm, Work { reps: 1, ..*w }),
                expected,
                "{} checksum at {w:?}",
                kernel.name
            );
            sizes_json.push(format!(
                "{{\"kernel\":\"{}\",\"size\":\"{}\",\"arg\":{},\"reps\":{},\"checksum\":\"{}\"}}",
                kernel.name,
                label(target),
                w.arg,
                w.reps,
                expected
            ));
        }
        let mut group = c.benchmark_group(format!("ttr-{}", kernel.name));
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        let mut interp_done = false;
        for (w, target) in works.iter().zip(TARGETS_MS) {
            for &(name, engine) in &engines {
                if engine == EngineKind::Interp && interp_done {
                    eprintln!(
                        "ttr-{}/{name}/{}: skipped (more than 8x jit at the previous size)",
                        kernel.name,
                        label(target)
                    );
                    continue;
                }
                let rt = runtime(engine);
                group.bench_with_input(BenchmarkId::new(name, label(target)), w, |b, &w| {
                    b.iter(|| end_to_end(&rt, &kernel.wasm, w))
                });
            }
            if !interp_done {
                let interp = runtime(EngineKind::Interp);
                let ti = time_of(&interp, &kernel.wasm, *w);
                let tj = time_of(&jit, &kernel.wasm, *w);
                interp_done = ti > 8.0 * tj;
            }
        }
        group.finish();
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion");
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| std::path::PathBuf::from(d).join("criterion"))
        .unwrap_or(dir);
    let _ = std::fs::create_dir_all(&target_dir);
    let path = target_dir.join("ttr-sizes.json");
    if let Err(e) = std::fs::write(&path, format!("[{}]\n", sizes_json.join(",\n"))) {
        eprintln!("time_to_result: cannot write {}: {e}", path.display());
    } else {
        eprintln!("time_to_result: sizes written to {}", path.display());
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
