//! Writes wasmtime's compiled artifact (an ELF file) of a module, for `objdump -d`:
//!
//! ```sh
//! cargo run -p kiln-benches --features wasmtime --example wasmtime_dump -- in.wat out.elf
//! objdump -d out.elf
//! ```

fn main() {
    let mut args = std::env::args().skip(1);
    let (input, output) = (args.next().expect("input"), args.next().expect("output"));
    let bytes = wat::parse_file(&input).expect("read module");
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&engine, &bytes).expect("compile");
    std::fs::write(&output, module.serialize().expect("serialize")).expect("write");
}
