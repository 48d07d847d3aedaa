//! Writes every benchmark kernel as `<name>.wasm` into the directory given as argument
//! (for the V8 comparison in `benches/node/`).

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    std::fs::create_dir_all(&dir)?;
    for k in kiln_benches::kernels() {
        let path = std::path::Path::new(&dir).join(format!("{}.wasm", k.name));
        std::fs::write(&path, &k.wasm)?;
        println!("{}", path.display());
    }
    Ok(())
}
