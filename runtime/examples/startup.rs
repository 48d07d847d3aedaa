//! Times the phases of start-up for a module (a quick local profiling aid).
//! `ITER` sets the number of rounds (default 2000), `ARG` the argument of `run` (1).
use kiln_runtime::*;
use std::time::Instant;
fn main() {
    let path = std::env::args().nth(1).expect("file");
    let bytes = wat::parse_file(&path).expect("wat");
    let engine = Engine::default();
    let (mut c, mut i, mut f, mut d) = (0u128, 0u128, 0u128, 0u128);
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let n = env("ITER", 2000) as u128;
    let arg = env("ARG", 1);
    for _ in 0..n {
        let t0 = Instant::now();
        let module = Module::new(&engine, &bytes).expect("module");
        let t1 = Instant::now();
        let inst = Instance::new(&module, &[]).expect("instance");
        let t2 = Instant::now();
        let Some(Extern::Func(func)) = inst.export("run") else {
            panic!("no run")
        };
        let mut s = [arg, 0];
        func.call(&mut s).expect("call");
        let t3 = Instant::now();
        drop(func);
        drop(inst);
        drop(module);
        let t4 = Instant::now();
        c += (t1 - t0).as_nanos();
        i += (t2 - t1).as_nanos();
        f += (t3 - t2).as_nanos();
        d += (t4 - t3).as_nanos();
    }
    println!(
        "compile {} ns, instantiate {} ns, first call {} ns, drop {} ns",
        c / n,
        i / n,
        f / n,
        d / n
    );
}
