//! Start-up of a whole process, for `hyperfine`: reads a kernel's binary, compiles,
//! instantiates and calls `run(arg)` once in one engine, prints the checksum and exits.
//! Engines as in the `startup` bench group: `kiln-interp`, `kiln-tiered`, `kiln-jit`,
//! `wasmi-eager`, `wasmi` (lazy translation, its default) and `wasmi-lazy`.
//!
//! ```text
//! cargo run --release -p kiln-benches --example dump_kernels -- /tmp/kernels
//! cargo build --release -p kiln-benches --example startup_process
//! hyperfine -N './target/release/examples/startup_process kiln-tiered /tmp/kernels/many-functions.wasm 1' \
//!              './target/release/examples/startup_process wasmi /tmp/kernels/many-functions.wasm 1'
//! ```

use kiln::EngineKind;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, engine, path, arg] = args.as_slice() else {
        eprintln!("usage: startup_process ENGINE FILE.wasm ARG");
        std::process::exit(2);
    };
    let wasm = std::fs::read(path).expect("read the module");
    let arg: i32 = arg.parse().expect("ARG is an i32");
    let result = match engine.as_str() {
        "kiln-interp" => kiln_run(EngineKind::Interp, &wasm, arg),
        "kiln-tiered" => kiln_run(EngineKind::Tiered, &wasm, arg),
        "kiln-jit" => kiln_run(EngineKind::Jit, &wasm, arg),
        "wasmi-eager" => wasmi_run(wasmi::CompilationMode::Eager, &wasm, arg),
        "wasmi" => wasmi_run(wasmi::CompilationMode::LazyTranslation, &wasm, arg),
        "wasmi-lazy" => wasmi_run(wasmi::CompilationMode::Lazy, &wasm, arg),
        other => {
            eprintln!("unknown engine `{other}`");
            std::process::exit(2);
        }
    };
    println!("{result}");
}

fn kiln_run(engine: EngineKind, wasm: &[u8], arg: i32) -> i64 {
    let runtime = kiln::Runtime::with_config(kiln::RuntimeConfig::new().with_engine(engine))
        .expect("engine is available");
    let module = runtime.instantiate_bytes(wasm).expect("kiln: instantiate");
    let run = module
        .exported_function("run")
        .expect("kiln: export `run`")
        .typed::<i32, i64>()
        .expect("kiln: `run` is [i32] -> [i64]");
    run.call(arg).expect("kiln: run")
}

fn wasmi_run(mode: wasmi::CompilationMode, wasm: &[u8], arg: i32) -> i64 {
    let mut config = wasmi::Config::default();
    config.compilation_mode(mode);
    let engine = wasmi::Engine::new(&config);
    let module = wasmi::Module::new(&engine, wasm).expect("wasmi: compile");
    let mut store = wasmi::Store::new(&engine, ());
    let instance = wasmi::Linker::<()>::new(&engine)
        .instantiate_and_start(&mut store, &module)
        .expect("wasmi: instantiate");
    let run = instance
        .get_typed_func::<i32, i64>(&store, "run")
        .expect("wasmi: typed export `run`");
    run.call(&mut store, arg).expect("wasmi: run")
}
