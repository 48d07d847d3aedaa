//! Kiln's engines against wasmi 2.0 (and wasmtime 48, with the `wasmtime` feature) on the
//! kernels of `kiln_benches::kernels()`.
//!
//! Groups (engines side by side in each group, so ratios come from one run):
//!
//! - `startup/<kernel>/<engine>`: binary bytes → compile → instantiate → first call of
//!   `run` with a tiny work size → teardown. The WAT is converted to bytes once, outside
//!   the timed code; the engine is created once per benchmark, outside the timed code.
//! - `execute/<kernel>/<engine>`: steady-state calls of `run` with a fixed work size on an
//!   instance created (and warmed up) outside the timed code.
//!
//! Engines: `kiln` (the interpreter, through `kiln-runtime` directly), `kiln-jit` and
//! `kiln-tiered` (through the `kiln` API, each only when
//! [`EngineKind::is_available`] says this build has it), `wasmi`, and `wasmtime` (only
//! with `--features wasmtime`; default `Config`, so Cranelift with its default settings).
//! The `startup` group also has `kiln-interp` (the interpreter through the `kiln` API, like
//! `kiln-tiered`) and wasmi in its other compilation modes, `wasmi-eager` (everything
//! translated in `Module::new`) and `wasmi-lazy` (validation too deferred to first call).
//!
//! Before a kernel is benchmarked, its checksums on every engine are checked against the
//! native Rust reference (at the start-up and the execute work size), outside timing.
//!
//! wasmi runs with its default `Config`, whose compilation mode is
//! `CompilationMode::LazyTranslation` (see `wasmi-2.0.0/src/engine/config.rs`: the enum's
//! `#[default]` variant, and `Config::default()` uses `CompilationMode::default()`): the
//! whole module is validated eagerly in `Module::new`, function bodies are translated to
//! wasmi bytecode lazily, on first call. Kiln does the same (eager validation — in
//! parallel on rayon's thread pool — and lazy translation on first call).

use criterion::{Criterion, SamplingMode};
use kiln::EngineKind;
use kiln_benches::{Kernel, kernels};
use std::hint::black_box;

/// The Kiln engines run through the `kiln` API, with their column names (the interpreter
/// has its own `kiln` column through `kiln-runtime`).
const API_ENGINES: [(&str, EngineKind); 2] = [
    ("kiln-jit", EngineKind::Jit),
    ("kiln-tiered", EngineKind::Tiered),
];

/// The engines of [`API_ENGINES`] this build has.
fn api_engines() -> Vec<(&'static str, EngineKind)> {
    API_ENGINES
        .into_iter()
        .filter(|(_, engine)| engine.is_available())
        .collect()
}

/// wasmi's compilation modes, with their column names in the `startup` group: `wasmi` is
/// the default, `LazyTranslation` (eager validation, translation on first call, as Kiln).
const WASMI_MODES: [(&str, wasmi::CompilationMode); 3] = [
    ("wasmi-eager", wasmi::CompilationMode::Eager),
    ("wasmi", wasmi::CompilationMode::LazyTranslation),
    ("wasmi-lazy", wasmi::CompilationMode::Lazy),
];

/// A wasmi engine compiling in `mode`, with default settings otherwise.
fn wasmi_engine(mode: wasmi::CompilationMode) -> wasmi::Engine {
    let mut config = wasmi::Config::default();
    config.compilation_mode(mode);
    wasmi::Engine::new(&config)
}

/// A runtime of `engine` with default settings otherwise.
fn api_runtime(engine: EngineKind) -> kiln::Runtime {
    kiln::Runtime::with_config(kiln::RuntimeConfig::new().with_engine(engine))
        .expect("engine is available")
}

/// A Kiln instance through the API: the module (kept alive) and its typed `run`.
struct ApiInstance {
    _module: kiln::Module,
    run: kiln::TypedFunction<i32, i64>,
}

impl ApiInstance {
    /// Compiles and instantiates `wasm` anonymously (so it can be instantiated again).
    fn new(runtime: &kiln::Runtime, wasm: &[u8]) -> ApiInstance {
        let compiled = runtime.compile(wasm).expect("kiln api: compile");
        let module = runtime
            .instantiate(&compiled, kiln::ModuleConfig::new().with_name(""))
            .expect("kiln api: instantiate");
        let run = module
            .exported_function("run")
            .expect("kiln api: export `run`")
            .typed::<i32, i64>()
            .expect("kiln api: `run` is [i32] -> [i64]");
        ApiInstance {
            _module: module,
            run,
        }
    }

    fn call(&self, arg: i32) -> kiln::Result<i64> {
        self.run.call(arg)
    }
}

/// A wasmtime instance of a kernel: its store and its typed `run` export.
#[cfg(feature = "wasmtime")]
struct WasmtimeInstance {
    store: wasmtime::Store<()>,
    run: wasmtime::TypedFunc<i32, i64>,
}

#[cfg(feature = "wasmtime")]
impl WasmtimeInstance {
    /// Compiles (Cranelift), instantiates and starts `wasm` (no imports).
    fn new(engine: &wasmtime::Engine, wasm: &[u8]) -> WasmtimeInstance {
        let module = wasmtime::Module::new(engine, wasm).expect("wasmtime: compile");
        let mut store = wasmtime::Store::new(engine, ());
        let instance =
            wasmtime::Instance::new(&mut store, &module, &[]).expect("wasmtime: instantiate");
        let run = instance
            .get_typed_func::<i32, i64>(&mut store, "run")
            .expect("wasmtime: typed export `run`");
        WasmtimeInstance { store, run }
    }

    fn call(&mut self, arg: i32) -> wasmtime::Result<i64> {
        self.run.call(&mut self.store, arg)
    }
}

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

/// Asserts that every engine and the Rust reference agree on `kernel`'s checksums.
fn check_checksums(kernel: &Kernel) {
    let kiln_engine = kiln_runtime::Engine::default();
    let kiln_run = kiln_benches::kiln::instantiate(&kiln_engine, &kernel.wasm);
    let wasmi_engine = wasmi::Engine::default();
    let mut wasmi = WasmiInstance::new(&wasmi_engine, &kernel.wasm);
    let api: Vec<(&str, ApiInstance)> = api_engines()
        .into_iter()
        .map(|(name, engine)| (name, ApiInstance::new(&api_runtime(engine), &kernel.wasm)))
        .collect();
    #[cfg(feature = "wasmtime")]
    let mut wasmtime = WasmtimeInstance::new(&wasmtime::Engine::default(), &kernel.wasm);
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
        for (name, instance) in &api {
            let got = instance
                .call(arg)
                .unwrap_or_else(|e| panic!("{}: {name} run({arg}) failed: {e}", kernel.name));
            assert_eq!(
                got, expected,
                "{}: {name} run({arg}) = {got:#x}, the Rust reference says {expected:#x}",
                kernel.name
            );
        }
        #[cfg(feature = "wasmtime")]
        {
            let got = wasmtime
                .call(arg)
                .unwrap_or_else(|e| panic!("{}: wasmtime run({arg}) failed: {e}", kernel.name));
            assert_eq!(
                got, expected,
                "{}: wasmtime run({arg}) = {got:#x}, the Rust reference says {expected:#x}",
                kernel.name
            );
        }
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
    // The interpreter through the API too, so `kiln-interp` and `kiln-tiered` pay the same
    // API costs and differ only by the engine.
    let startup_engines = std::iter::once(("kiln-interp", EngineKind::Interp)).chain(api_engines());
    for (name, engine) in startup_engines {
        group.bench_function(name, |b| {
            let runtime = api_runtime(engine);
            b.iter(|| {
                let instance = ApiInstance::new(&runtime, black_box(wasm));
                instance.call(black_box(arg)).expect("kiln api: run")
            });
        });
    }
    for (name, mode) in WASMI_MODES {
        group.bench_function(name, |b| {
            let engine = wasmi_engine(mode);
            b.iter(|| {
                let mut instance = WasmiInstance::new(&engine, black_box(wasm));
                instance.call(black_box(arg)).expect("wasmi: run")
            });
        });
    }
    #[cfg(feature = "wasmtime")]
    group.bench_function("wasmtime", |b| {
        let engine = wasmtime::Engine::default();
        b.iter(|| {
            let mut instance = WasmtimeInstance::new(&engine, black_box(wasm));
            instance.call(black_box(arg)).expect("wasmtime: run")
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
    for (name, engine) in api_engines() {
        group.bench_function(name, |b| {
            let runtime = api_runtime(engine);
            let instance = ApiInstance::new(&runtime, &kernel.wasm);
            b.iter(|| instance.call(black_box(arg)).expect("kiln api: run"));
        });
    }
    // The JIT with explicit bounds checks instead of guard pages (the RATIONALE choice).
    if EngineKind::Jit.is_available() {
        group.bench_function("kiln-jit-explicit", |b| {
            let config = kiln::RuntimeConfig::new()
                .with_engine(EngineKind::Jit)
                .with_bounds_checks(kiln::BoundsChecks::Explicit);
            let runtime = kiln::Runtime::with_config(config).expect("jit");
            let instance = ApiInstance::new(&runtime, &kernel.wasm);
            b.iter(|| instance.call(black_box(arg)).expect("kiln api: run"));
        });
    }
    group.bench_function("wasmi", |b| {
        let engine = wasmi::Engine::default();
        let mut instance = WasmiInstance::new(&engine, &kernel.wasm);
        b.iter(|| instance.call(black_box(arg)).expect("wasmi: run"));
    });
    #[cfg(feature = "wasmtime")]
    group.bench_function("wasmtime", |b| {
        let engine = wasmtime::Engine::default();
        let mut instance = WasmtimeInstance::new(&engine, &kernel.wasm);
        b.iter(|| instance.call(black_box(arg)).expect("wasmtime: run"));
    });
    group.finish();
}

fn main() {
    for (name, engine) in API_ENGINES {
        if !engine.is_available() {
            eprintln!(
                "no `{name}` column: engine `{}` is not built yet",
                engine.name()
            );
        }
    }
    let mut c = Criterion::default().configure_from_args();
    for kernel in &kernels() {
        check_checksums(kernel);
        bench_startup(&mut c, kernel);
        bench_execute(&mut c, kernel);
    }
    c.final_summary();
}
