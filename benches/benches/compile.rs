//! Compile-time benchmarks: how translation cost grows with function size, and how many
//! KiB of Wasm code per second each engine turns into runnable code.
//!
//! Groups:
//!
//! - `compile/function/<engine>/{1x,4x,16x}`: one generated function
//!   ([`kiln_benches::one_function_wat`]) of about 4.5, 18 and 72 KiB of code. Each
//!   iteration compiles the module, instantiates it and calls `run(0)`, which returns at
//!   once: so the time is decoding, validation and translation (whether the engine
//!   translates at compile time, at instantiation or lazily at the first call) plus a
//!   constant. The throughput is the code section's size, so criterion prints bytes per
//!   second for each size: flat across sizes means translation is linear.
//! - `compile/large-module/<engine>`: the same for a module of 300 such functions with
//!   about 1.2 MiB of code ([`kiln_benches::large_module_wat`]); `run(0)` calls every
//!   function once, so all of them are translated. The throughput (KiB/s or MiB/s of
//!   Wasm code) is the engine's compile speed.
//!
//! Engines: `kiln` (the interpreter: validation plus its lazy one-pass translation),
//! `kiln-jit` (only when `EngineKind::Jit.is_available()`; until then the run says so and
//! only the interpreter is measured) and `wasmtime` (with `--features wasmtime`; default
//! `Config`, Cranelift, parallel compilation). `kiln-tiered` has no column: it starts in
//! the interpreter and compiles in the background, so its start-up is the interpreter's.

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use kiln::EngineKind;
use kiln_benches::{
    COMPILE_FUNCTION_CHUNKS, LARGE_MODULE_SHAPE, code_section_size, large_module_wat,
    one_function_wat,
};
use std::hint::black_box;

/// The Kiln engines measured, with their column names; only those this build has.
fn kiln_engines() -> Vec<(&'static str, EngineKind)> {
    [("kiln", EngineKind::Interp), ("kiln-jit", EngineKind::Jit)]
        .into_iter()
        .filter(|(_, engine)| engine.is_available())
        .collect()
}

fn runtime(engine: EngineKind) -> kiln::Runtime {
    kiln::Runtime::with_config(kiln::RuntimeConfig::new().with_engine(engine))
        .expect("engine is available")
}

/// Compiles and instantiates `wasm` with Kiln, then calls `run(0)`; returns its result.
fn kiln_compile_and_touch(runtime: &kiln::Runtime, wasm: &[u8]) -> i64 {
    let compiled = runtime.compile(wasm).expect("kiln: compile");
    let module = runtime
        .instantiate(&compiled, kiln::ModuleConfig::new().with_name(""))
        .expect("kiln: instantiate");
    let run = module
        .exported_function("run")
        .expect("kiln: export `run`")
        .typed::<i32, i64>()
        .expect("kiln: `run` is [i32] -> [i64]");
    run.call(0).expect("kiln: run(0)")
}

/// The same with wasmtime.
#[cfg(feature = "wasmtime")]
fn wasmtime_compile_and_touch(engine: &wasmtime::Engine, wasm: &[u8]) -> i64 {
    let module = wasmtime::Module::new(engine, wasm).expect("wasmtime: compile");
    let mut store = wasmtime::Store::new(engine, ());
    let instance =
        wasmtime::Instance::new(&mut store, &module, &[]).expect("wasmtime: instantiate");
    let run = instance
        .get_typed_func::<i32, i64>(&mut store, "run")
        .expect("wasmtime: typed export `run`");
    run.call(&mut store, 0).expect("wasmtime: run(0)")
}

/// Benchmarks every engine on `wasm` under `id` (a parameter such as `4x`, or none).
fn bench_engines(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    wasm: &[u8],
    parameter: Option<&str>,
) {
    let id = |engine: &str| match parameter {
        Some(p) => BenchmarkId::new(engine, p),
        None => BenchmarkId::from_parameter(engine),
    };
    for (name, engine) in kiln_engines() {
        let rt = runtime(engine);
        assert_eq!(kiln_compile_and_touch(&rt, wasm), 0, "{name}: run(0)");
        group.bench_function(id(name), |b| {
            b.iter(|| kiln_compile_and_touch(&rt, black_box(wasm)))
        });
    }
    #[cfg(feature = "wasmtime")]
    {
        let engine = wasmtime::Engine::default();
        assert_eq!(
            wasmtime_compile_and_touch(&engine, wasm),
            0,
            "wasmtime: run(0)"
        );
        group.bench_function(id("wasmtime"), |b| {
            b.iter(|| wasmtime_compile_and_touch(&engine, black_box(wasm)))
        });
    }
}

fn bench_function_sizes(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile/function");
    for factor in [1, 4, 16] {
        let wasm = wat::parse_str(one_function_wat(factor * COMPILE_FUNCTION_CHUNKS))
            .expect("generated WAT");
        group.throughput(Throughput::Bytes(code_section_size(&wasm) as u64));
        bench_engines(&mut group, &wasm, Some(&format!("{factor}x")));
    }
    group.finish();
}

fn bench_large_module(c: &mut Criterion) {
    let (functions, chunks) = LARGE_MODULE_SHAPE;
    let wasm = wat::parse_str(large_module_wat(functions, chunks)).expect("generated WAT");
    let code = code_section_size(&wasm);
    eprintln!(
        "compile/large-module: {functions} functions, {} KiB of code",
        code / 1024
    );
    let mut group = c.benchmark_group("compile/large-module");
    // One iteration takes tens to hundreds of milliseconds.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .throughput(Throughput::Bytes(code as u64));
    bench_engines(&mut group, &wasm, None);
    group.finish();
}

fn main() {
    if !EngineKind::Jit.is_available() {
        eprintln!(
            "no `kiln-jit` column: engine `jit` is not built yet (only the interpreter's \
             validation and translation are measured)"
        );
    }
    let mut c = Criterion::default().configure_from_args();
    bench_function_sizes(&mut c);
    bench_large_module(&mut c);
    c.final_summary();
}
