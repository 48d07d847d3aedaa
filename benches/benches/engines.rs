//! Kiln's interpreter against wasmi 2.0 on the kernels of `kiln_benches::kernels()`.
//!
//! Groups (engines side by side in each group, so ratios come from one run):
//!
//! - `startup/<kernel>/{kiln,wasmi}`: binary bytes → compile (`Module::new`) →
//!   instantiate → first call of `run` with a tiny work size → teardown. The WAT is
//!   converted to bytes once, outside the timed code; the engine is created once per
//!   benchmark, outside the timed code.
//! - `execute/<kernel>/{kiln,wasmi}`: steady-state calls of `run` with a fixed work size
//!   on an instance created (and warmed up) outside the timed code.
//!
//! Before a kernel is benchmarked, its checksums on both engines are checked against the
//! native Rust reference (at the start-up and the execute work size), outside timing.
//!
//! wasmi runs with its default `Config`, whose compilation mode is
//! `CompilationMode::LazyTranslation` (see `wasmi-2.0.0/src/engine/config.rs`: the enum's
//! `#[default]` variant, and `Config::default()` uses `CompilationMode::default()`): the
//! whole module is validated eagerly in `Module::new`, function bodies are translated to
//! wasmi bytecode lazily, on first call. Kiln does the same (eager validation — in
//! parallel on rayon's thread pool — and lazy translation on first call).

use criterion::{Criterion, SamplingMode};
use kiln_benches::{Kernel, kernels};
use std::hint::black_box;

/// A wasmi instance of a kernel: its store and its typed `run` export.
struct WasmiInstance {
    store: wasmi::Store<()>,
    run: wasmi::TypedFunc<i32, i64>,
}

impl WasmiInstance {
    /// Compiles, instantiates and starts `wasm` (no imports) with default settings.
    fn new(engine: &wasmi::Engine, wasm: &[u8]) -> WasmiInstance {
        let module = wasmi::Module::new(engine, wasm).expect("wasmi: compile");
        let mut store = wasmi::Store::new(engine, ());
        let linker = wasmi::Linker::<()>::new(engine);
        let instance = linker
            .instantiate_and_start(&mut store, &module)
            .expect("wasmi: instantiate");
        let run = instance
            .get_typed_func::<i32, i64>(&store, "run")
            .expect("wasmi: typed export `run`");
        WasmiInstance { store, run }
    }

    fn call(&mut self, arg: i32) -> Result<i64, wasmi::Error> {
        self.run.call(&mut self.store, arg)
    }
}

/// Asserts that Kiln, wasmi and the Rust reference agree on `kernel`'s checksums.
fn check_checksums(kernel: &Kernel) {
    let kiln_engine = kiln_runtime::Engine::default();
    let kiln_run = kiln_benches::kiln::instantiate(&kiln_engine, &kernel.wasm);
    let wasmi_engine = wasmi::Engine::default();
    let mut wasmi = WasmiInstance::new(&wasmi_engine, &kernel.wasm);
    for arg in [kernel.startup_arg, kernel.execute_arg] {
        let expected = kernel.reference(arg);
        let wasmi_result = wasmi
            .call(arg)
            .unwrap_or_else(|e| panic!("{}: wasmi run({arg}) failed: {e}", kernel.name));
        let kiln_result = kiln_benches::kiln::call(&kiln_run, arg)
            .unwrap_or_else(|e| panic!("{}: kiln run({arg}) trapped: {e}", kernel.name));
        assert_eq!(
            wasmi_result, expected,
            "{}: wasmi run({arg}) disagrees with the Rust reference",
            kernel.name
        );
        assert_eq!(
            kiln_result, expected,
            "{}: kiln run({arg}) = {kiln_result:#x}, wasmi and the Rust reference say {expected:#x}",
            kernel.name
        );
    }
}

fn bench_startup(c: &mut Criterion, kernel: &Kernel) {
    let mut group = c.benchmark_group(format!("startup/{}", kernel.name));
    let wasm = kernel.wasm.as_slice();
    let arg = kernel.startup_arg;
    group.bench_function("kiln", |b| {
        let engine = kiln_runtime::Engine::default();
        b.iter(|| {
            let run = kiln_benches::kiln::instantiate(&engine, black_box(wasm));
            kiln_benches::kiln::call(&run, black_box(arg)).expect("kiln: run")
        });
    });
    group.bench_function("wasmi", |b| {
        let engine = wasmi::Engine::default();
        b.iter(|| {
            let mut instance = WasmiInstance::new(&engine, black_box(wasm));
            instance.call(black_box(arg)).expect("wasmi: run")
        });
    });
    group.finish();
}

fn bench_execute(c: &mut Criterion, kernel: &Kernel) {
    let mut group = c.benchmark_group(format!("execute/{}", kernel.name));
    // One call takes milliseconds: flat sampling with few samples keeps the default
    // measurement time meaningful (linear sampling would need thousands of calls).
    group.sampling_mode(SamplingMode::Flat).sample_size(20);
    let arg = kernel.execute_arg;
    group.bench_function("kiln", |b| {
        let engine = kiln_runtime::Engine::default();
        let run = kiln_benches::kiln::instantiate(&engine, &kernel.wasm);
        b.iter(|| kiln_benches::kiln::call(&run, black_box(arg)).expect("kiln: run"));
    });
    group.bench_function("wasmi", |b| {
        let engine = wasmi::Engine::default();
        let mut instance = WasmiInstance::new(&engine, &kernel.wasm);
        b.iter(|| instance.call(black_box(arg)).expect("wasmi: run"));
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    for kernel in &kernels() {
        check_checksums(kernel);
        bench_startup(&mut c, kernel);
        bench_execute(&mut c, kernel);
    }
    c.final_summary();
}
