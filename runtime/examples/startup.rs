//! Times the phases of start-up for a module (a quick local profiling aid).
use kiln_runtime::*;
use std::time::Instant;
fn main() {
    let path = std::env::args().nth(1).expect("file");
    let bytes = wat::parse_file(&path).expect("wat");
    let engine = Engine::default();
    let (mut c, mut i, mut f, mut d) = (0u128, 0u128, 0u128, 0u128);
    let n = 2000;
    for _ in 0..n {
        let t0 = Instant::now();
        let module = Module::new(&engine, &bytes).expect("module");
        let t1 = Instant::now();
        let inst = Instance::new(&module, &[]).expect("instance");
        let t2 = Instant::now();
        let Some(Extern::Func(func)) = inst.export("run") else {
            panic!("no run")
        };
        let mut s = [1u64, 0];
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
