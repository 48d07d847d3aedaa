//! Prints the CLIF and the machine code (Cranelift's VCode listing) that engine `jit`
//! generates for every defined function of a module (entry stub and body).
//!
//! ```sh
//! cargo run -p kiln-tiering --example jit_disasm -- benches/wasm/fib.wat
//! ```

use cranelift_codegen::Context;
use cranelift_codegen::control::ControlPlane;
use cranelift_frontend::FunctionBuilderContext;
use kiln_runtime::Engine;
use kiln_tiering::backend::host_isa;
use kiln_tiering::translate::{TranslateOptions, entry_stub, translate_body};

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: jit_disasm <file.wat|file.wasm>");
    let bytes = wat::parse_file(&path).expect("read module");
    let module = kiln_runtime::Module::new(&Engine::default(), &bytes).expect("module");
    let isa = host_isa().expect("isa");
    let opts = TranslateOptions {
        direct_calls: true,
        ..TranslateOptions::default()
    };
    let mut fctx = FunctionBuilderContext::new();
    let mut ctx = Context::new();
    for i in module.num_imported_funcs()..module.num_funcs() {
        let body = translate_body(&module, i, &opts, &*isa, &mut fctx).expect("translate");
        let ty = module.func_type(i).expect("type");
        let stub = entry_stub(ty, i, false, &*isa, &mut fctx);
        for func in [stub, body] {
            println!("{}", func.display());
            ctx.clear();
            ctx.func = func;
            ctx.set_disasm(true);
            let code = ctx
                .compile(&*isa, &mut ControlPlane::default())
                .expect("compile");
            println!(
                "; {} bytes\n{}",
                code.code_buffer().len(),
                code.vcode.as_deref().unwrap_or("")
            );
        }
    }
}
