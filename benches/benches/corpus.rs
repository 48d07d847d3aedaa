//! Kiln's engines and wasmi on the corpus of compiled C programs (`benches/corpus/`, see
//! `kiln_benches::corpus`).
//!
//! * `corpus_ttr/<program>/<size>/<engine>`: time to result, i.e. compile + instantiate
//!   (with `_initialize`) + `run(size)` + close, each iteration from the bytes.
//!   `<size>` names the work size by the approximate time `run` takes on `jit` once
//!   compiled (`10ms`, `100ms`, `1s`; compilation comes on top). The sizes are calibrated
//!   at start-up by timing `run` on a `jit` instance; all programs scale about linearly.
//! * `corpus_steady/<program>/<engine>`: repeated `run` on one instance at the `10ms` size,
//!   after a warm-up of at least a second (so `tiered` has tiered up what is hot).
//! * `corpus_kernels/<kernel>/<engine>`: the same steady-state measurement for each C
//!   kernel of `benches/corpus/kernels/` (`kiln_benches::corpus::KERNELS`), at its `10ms`
//!   size.
//!
//! Engines: `interp`, `jit`, `tiered` (default threshold, one background compiler thread),
//! `wasmi` (default `Config`: lazy translation). Every engine gets the same WASI stubs
//! (`EBADF` for everything; the programs do no I/O on their normal path).
//!
//! Before measuring a size, every engine runs it once and must return the same checksum.
//! An interpreter (`interp`, `wasmi`) whose time to result at a size, estimated from its
//! run at the previous size (the same start-up plus the run time scaled by the size
//! ratio), would exceed [`MAX_ITERATION`] is skipped at that size and the larger ones (with
//! a note): with criterion's minimum of 10 samples, the interpreters at the `1s` size would
//! otherwise take minutes per program. The probe runs happen whatever the filter.
//! `KILN_CORPUS_QUICK=1` measures only the `10ms` size.

use criterion::{BenchmarkId, Criterion, SamplingMode};
use kiln::{EngineKind, Runtime};
use kiln_benches::corpus::{self, KERNELS, PROGRAMS, Program, STUB_ERRNO, WASI_MODULE};
use std::time::{Duration, Instant};

/// Target `jit` run times of the work sizes, with their labels.
const TARGETS: [(f64, &str); 3] = [(0.010, "10ms"), (0.100, "100ms"), (1.0, "1s")];

/// Longest single iteration worth measuring (an estimate above it skips the engine).
const MAX_ITERATION: Duration = Duration::from_secs(3);

/// A Kiln runtime of `engine` with the corpus's WASI stubs registered.
fn kiln_runtime(engine: EngineKind, program: &Program) -> Runtime {
    let rt = Runtime::with_config(
        kiln::RuntimeConfig::new()
            .with_engine(engine)
            .with_tier_workers(1),
    )
    .expect("engine available");
    let compiled = rt.compile(program.wasm).expect("compile");
    corpus::register_wasi_stubs(&rt, &compiled).expect("WASI stubs");
    rt
}

/// wasmi: a linker with a stub for every WASI import of `module` (`proc_exit` traps).
fn wasmi_linker(engine: &wasmi::Engine, module: &wasmi::Module) -> wasmi::Linker<()> {
    let mut linker = wasmi::Linker::<()>::new(engine);
    for import in module.imports() {
        let wasmi::ExternType::Func(ty) = import.ty() else {
            panic!("corpus programs import only functions");
        };
        assert_eq!(
            import.module(),
            WASI_MODULE,
            "corpus programs import only WASI"
        );
        let is_exit = import.name() == "proc_exit";
        linker
            .func_new(
                WASI_MODULE,
                import.name(),
                ty.clone(),
                move |_, params, results| {
                    if is_exit {
                        let code = params.first().and_then(|v| v.i32()).unwrap_or(1);
                        return Err(wasmi::Error::i32_exit(code));
                    }
                    for r in results.iter_mut() {
                        *r = match r.ty() {
                            wasmi::ValType::I32 => wasmi::Val::I32(STUB_ERRNO),
                            ty => wasmi::Val::default_for_ty(ty),
                        };
                    }
                    Ok(())
                },
            )
            .expect("define stub");
    }
    linker
}

/// A wasmi instance of a program, initialised.
struct WasmiInstance {
    store: wasmi::Store<()>,
    run: wasmi::TypedFunc<i32, i64>,
}

impl WasmiInstance {
    fn new(engine: &wasmi::Engine, program: &Program) -> WasmiInstance {
        let module = wasmi::Module::new(engine, program.wasm).expect("wasmi: compile");
        let mut store = wasmi::Store::new(engine, ());
        let instance = wasmi_linker(engine, &module)
            .instantiate_and_start(&mut store, &module)
            .expect("wasmi: instantiate");
        instance
            .get_typed_func::<(), ()>(&store, "_initialize")
            .expect("wasmi: `_initialize`")
            .call(&mut store, ())
            .expect("wasmi: `_initialize` runs");
        let run = instance
            .get_typed_func::<i32, i64>(&store, program.export)
            .expect("wasmi: typed `[i32] -> [i64]` export");
        WasmiInstance { store, run }
    }

    fn call(&mut self, size: i32) -> i64 {
        self.run.call(&mut self.store, size).expect("wasmi: run")
    }
}

/// One engine under measurement.
enum Subject {
    Kiln(Runtime),
    Wasmi(wasmi::Engine),
}

impl Subject {
    /// Time to result: everything from the bytes to the checksum.
    fn time_to_result(&self, program: &Program, size: i32) -> i64 {
        match self {
            Subject::Kiln(rt) => corpus::compile_and_run(rt, program, size).expect("kiln: run"),
            Subject::Wasmi(engine) => WasmiInstance::new(engine, program).call(size),
        }
    }

    /// One time-to-result run, timed in two parts: start-up (compile, instantiate,
    /// `_initialize`) and `run`.
    fn probe(&self, program: &Program, size: i32) -> Probe {
        let start = Instant::now();
        match self {
            Subject::Kiln(rt) => {
                let compiled = rt.compile(program.wasm).expect("kiln: compile");
                let module = corpus::instantiate(rt, &compiled).expect("kiln: instantiate");
                let startup = start.elapsed().as_secs_f64();
                let checksum =
                    corpus::run_export(&module, program.export, size).expect("kiln: run");
                let run = start.elapsed().as_secs_f64() - startup;
                module.close().expect("kiln: close");
                Probe {
                    checksum,
                    size,
                    startup,
                    run,
                }
            }
            Subject::Wasmi(engine) => {
                let mut instance = WasmiInstance::new(engine, program);
                let startup = start.elapsed().as_secs_f64();
                let checksum = instance.call(size);
                Probe {
                    checksum,
                    size,
                    startup,
                    run: start.elapsed().as_secs_f64() - startup,
                }
            }
        }
    }
}

/// A timed time-to-result run (see [`Subject::probe`]).
#[derive(Clone, Copy, Debug)]
struct Probe {
    checksum: i64,
    size: i32,
    startup: f64,
    run: f64,
}

impl Probe {
    /// Estimated seconds of a time-to-result run at `size`: the same start-up, and `run`
    /// scaled linearly.
    fn estimate(&self, size: i32) -> f64 {
        self.startup + self.run * f64::from(size) / f64::from(self.size)
    }
}

fn subjects(program: &Program) -> Vec<(&'static str, Subject)> {
    let mut out: Vec<(&'static str, Subject)> = [
        ("interp", EngineKind::Interp),
        ("jit", EngineKind::Jit),
        ("tiered", EngineKind::Tiered),
    ]
    .into_iter()
    .filter(|(_, e)| e.is_available())
    .map(|(name, e)| (name, Subject::Kiln(kiln_runtime(e, program))))
    .collect();
    out.push(("wasmi", Subject::Wasmi(wasmi::Engine::default())));
    out
}

/// Shortest of three timed runs of `f`.
fn best_of_three(mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

/// Work sizes whose `jit` run times approximate [`TARGETS`]: a linear estimate from the
/// last size timed (the test size at first), corrected by timing it when that is cheap.
fn calibrate(program: &Program) -> Vec<i32> {
    let rt = kiln_runtime(EngineKind::Jit, program);
    let compiled = rt.compile(program.wasm).expect("compile");
    let module = corpus::instantiate(&rt, &compiled).expect("instantiate");
    let time = |size: i32| {
        best_of_three(|| {
            std::hint::black_box(corpus::run_export(&module, program.export, size).expect("run"));
        })
    };
    let mut per_unit = time(program.test_size) / f64::from(program.test_size);
    TARGETS
        .iter()
        .map(|&(target, _)| {
            let guess = ((target / per_unit).round() as i32).max(1);
            if target > 0.2 {
                // Too slow to time three times; the estimate from the last size serves.
                return guess;
            }
            per_unit = time(guess).max(1e-6) / f64::from(guess);
            ((target / per_unit).round() as i32).max(1)
        })
        .collect()
}

fn ttr(c: &mut Criterion, program: &Program, sizes: &[i32]) {
    let subjects = subjects(program);
    let mut group = c.benchmark_group(format!("corpus_ttr/{}", program.name));
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    // Per engine: its probe at the last size it was measured at.
    let mut last: Vec<Option<Probe>> = vec![None; subjects.len()];
    for (&size, &(_, label)) in sizes.iter().zip(&TARGETS) {
        let mut expected = None;
        for (i, (name, subject)) in subjects.iter().enumerate() {
            // Only the interpreters are skipped: `jit` sets the sizes, and `tiered` is what
            // the sizes are for (its linear estimate would also count its interpreted start).
            let interpreter = matches!(*name, "interp" | "wasmi");
            if let Some(estimate) = last[i].map(|p| p.estimate(size))
                && interpreter
                && estimate > MAX_ITERATION.as_secs_f64()
            {
                eprintln!(
                    "corpus_ttr/{}/{label}/{name}: skipped (estimated {estimate:.1} s per run)",
                    program.name
                );
                continue;
            }
            let probe = subject.probe(program, size);
            last[i] = Some(probe);
            let expected = *expected.get_or_insert(probe.checksum);
            assert_eq!(
                probe.checksum, expected,
                "{}: {name} run({size})",
                program.name
            );
            group.bench_with_input(BenchmarkId::new(label, name), &size, |b, &size| {
                b.iter(|| subject.time_to_result(program, size))
            });
        }
        eprintln!("corpus_ttr/{}/{label}: size {size}", program.name);
    }
    group.finish();
}

fn steady(c: &mut Criterion, group_name: &str, program: &Program, size: i32) {
    let mut group = c.benchmark_group(group_name);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    let mut expected = None;
    for (name, subject) in subjects(program) {
        let mut call: Box<dyn FnMut() -> i64> = match subject {
            Subject::Kiln(rt) => {
                let compiled = rt.compile(program.wasm).expect("compile");
                let module = corpus::instantiate(&rt, &compiled).expect("instantiate");
                Box::new(move || corpus::run_export(&module, program.export, size).expect("run"))
            }
            Subject::Wasmi(engine) => {
                let mut instance = WasmiInstance::new(&engine, program);
                Box::new(move || instance.call(size))
            }
        };
        // Warm-up beyond criterion's own: a second of calls, so tier-up has happened.
        let start = Instant::now();
        let checksum = call();
        while start.elapsed() < Duration::from_secs(1) {
            assert_eq!(
                call(),
                checksum,
                "{}: {name} is not deterministic",
                program.name
            );
        }
        let expected = *expected.get_or_insert(checksum);
        assert_eq!(checksum, expected, "{}: {name} run({size})", program.name);
        group.bench_function(BenchmarkId::new(program.name, name), |b| b.iter(&mut call));
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    let quick = std::env::var_os("KILN_CORPUS_QUICK").is_some();
    if !EngineKind::Jit.is_available() {
        eprintln!("corpus: needs the jit engine (Linux x86-64) to calibrate; skipped");
        return;
    }
    for program in &PROGRAMS {
        let mut sizes = calibrate(program);
        if quick {
            sizes.truncate(1);
        }
        ttr(c, program, &sizes);
        steady(c, "corpus_steady", program, sizes[0]);
    }
    // The kernels start in microseconds, so only their steady state is of interest.
    for kernel in &KERNELS {
        let sizes = calibrate(kernel);
        steady(c, "corpus_kernels", kernel, sizes[0]);
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
