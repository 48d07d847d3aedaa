//! Times one export of a module in the interpreter (a quick local profiling aid).
use kiln_runtime::*;
fn main() {
    let path = std::env::args().nth(1).expect("file");
    let n: u64 = std::env::args().nth(2).expect("n").parse().expect("number");
    let bytes = wat::parse_file(&path).expect("wat");
    let engine = Engine::default();
    let module = Module::new(&engine, &bytes).expect("module");
    let inst = Instance::new(&module, &[]).expect("instance");
    let Some(Extern::Func(f)) = inst.export("run") else {
        panic!("no run export")
    };
    if std::env::var_os("DIS").is_some() {
        for i in 0..module.num_funcs() {
            if let Ok(d) = module.disassemble(i) {
                println!("{d}");
            }
        }
    }
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let mut s = [n, 0];
        f.call(&mut s).expect("call");
        println!("{:?} {}", t.elapsed(), s[0]);
    }
}
