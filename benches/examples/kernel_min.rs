//! A quick comparison for noisy machines: the minimum and median time of one `run` call of
//! each kernel, kiln-jit against wasmtime, calls interleaved between the engines.
//!
//! ```sh
//! cargo run --release -p kiln-benches --features wasmtime --example kernel_min -- [kernel] [rounds]
//! ```

use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let only = args.next().filter(|a| a != "all");
    let rounds: usize = args.next().map_or(200, |r| r.parse().expect("rounds"));
    for kernel in kiln_benches::kernels() {
        if only.as_deref().is_some_and(|o| o != kernel.name) {
            continue;
        }
        let arg = kernel.execute_arg;
        let runtime = kiln::Runtime::with_config(
            kiln::RuntimeConfig::new().with_engine(kiln::EngineKind::Jit),
        )
        .expect("jit");
        let compiled = runtime.compile(&kernel.wasm).expect("compile");
        let module = runtime
            .instantiate(&compiled, kiln::ModuleConfig::new().with_name(""))
            .expect("instantiate");
        let run = module
            .exported_function("run")
            .unwrap()
            .typed::<i32, i64>()
            .unwrap();
        let engine = wasmtime::Engine::default();
        let wt_module = wasmtime::Module::new(&engine, &kernel.wasm).expect("wasmtime");
        let mut store = wasmtime::Store::new(&engine, ());
        let inst = wasmtime::Instance::new(&mut store, &wt_module, &[]).unwrap();
        let wt_run = inst.get_typed_func::<i32, i64>(&mut store, "run").unwrap();
        let (mut kiln_t, mut wt_t) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t = Instant::now();
            std::hint::black_box(run.call(std::hint::black_box(arg)).unwrap());
            kiln_t.push(t.elapsed());
            let t = Instant::now();
            std::hint::black_box(wt_run.call(&mut store, std::hint::black_box(arg)).unwrap());
            wt_t.push(t.elapsed());
        }
        let stats = |v: &mut Vec<Duration>| {
            v.sort();
            (v[0], v[v.len() / 2])
        };
        let (km, kmed) = stats(&mut kiln_t);
        let (wm, wmed) = stats(&mut wt_t);
        println!(
            "{:<16} kiln-jit min {:>10.1?} med {:>10.1?} | wasmtime min {:>10.1?} med {:>10.1?} | min ratio {:.3} med ratio {:.3}",
            kernel.name,
            km,
            kmed,
            wm,
            wmed,
            km.as_secs_f64() / wm.as_secs_f64(),
            kmed.as_secs_f64() / wmed.as_secs_f64()
        );
    }
}
