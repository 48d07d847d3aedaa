//! The corpus of compiled C programs under `benches/corpus/`: real programs (Lua, SQLite,
//! zstd) and a generated module of 6,000 small functions, each built by clang as a WASI
//! reactor that exports `run: [i32] -> [i64]` (argument: work size; result: a checksum
//! that a native build of the same source prints too).
//!
//! Each program must be initialised by calling its `_initialize` export once before `run`.
//! The programs do no I/O on their normal path, but wasi-libc still links a few WASI
//! imports (`fd_write`, `clock_time_get`, ...); [`instantiate`] satisfies them with stubs
//! that fail with `EBADF` (and make `proc_exit` trap), the same stubs the benchmarks give
//! other engines, so no engine pays for a real WASI layer.

use ::kiln::{CompiledModule, Error, Module, ModuleConfig, Runtime, ValueType};

/// Import module of WASI preview 1.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// WASI `errno` the import stubs return: `EBADF` (every descriptor is closed).
pub const STUB_ERRNO: i32 = 8;

/// One program of the corpus.
#[derive(Clone, Copy, Debug)]
pub struct Program {
    /// Short name, used in benchmark ids and as the directory under `benches/corpus/`.
    pub name: &'static str,
    /// The committed binary.
    pub wasm: &'static [u8],
    /// The `[i32] -> [i64]` export to run: `run`, or a kernel's name in [`KERNELS`].
    pub export: &'static str,
    /// A work size small enough for a debug-build test in every engine.
    pub test_size: i32,
    /// `run(test_size)` of the native build (`build.sh` prints it; see the README).
    pub test_checksum: i64,
}

/// Lua 5.4.4 running `benches/corpus/lua/bench.lua`.
pub const LUA: Program = Program {
    name: "lua",
    wasm: include_bytes!("../corpus/lua/lua.wasm"),
    export: "run",
    test_size: 2,
    test_checksum: 767_167_137,
};

/// SQLite 3.40.1 running an SQL workload against an in-memory database.
pub const SQLITE: Program = Program {
    name: "sqlite",
    wasm: include_bytes!("../corpus/sqlite/sqlite.wasm"),
    export: "run",
    test_size: 2,
    test_checksum: 2_777_570_021_338_660_770,
};

/// zstd 1.5.4: dictionary training, compression at four levels, decompression.
pub const ZSTD: Program = Program {
    name: "zstd",
    wasm: include_bytes!("../corpus/zstd/zstd.wasm"),
    export: "run",
    test_size: 4,
    test_checksum: 9_005_548_001_958_372_003,
};

/// 6,000 generated small C functions called through a function table.
pub const MANYFUNCS: Program = Program {
    name: "manyfuncs",
    wasm: include_bytes!("../corpus/manyfuncs/manyfuncs.wasm"),
    export: "run",
    test_size: 1000,
    test_checksum: 5_015_234_912_784_594_076,
};

/// Every program of the corpus.
pub const PROGRAMS: [Program; 4] = [LUA, SQLITE, ZSTD, MANYFUNCS];

/// `benches/corpus/kernels/kernels.wasm`: small C kernels, one export each.
const KERNELS_WASM: &[u8] = include_bytes!("../corpus/kernels/kernels.wasm");

/// A kernel of `kernels.wasm` (named after its export) with its native checksum.
const fn kernel(name: &'static str, test_size: i32, test_checksum: i64) -> Program {
    Program {
        name,
        wasm: KERNELS_WASM,
        export: name,
        test_size,
        test_checksum,
    }
}

/// The C kernels of `benches/corpus/kernels/` (byte loop, ALU chain with rotates,
/// recursion, float loop, bytecode interpreter with a dense switch, sorting), each a
/// [`Program`] over the same module with its own export.
pub const KERNELS: [Program; 6] = [
    kernel("byteloop", 20, 6_084_218_304_711_933_972),
    kernel("alu_rotate", 20_000, 2_877_712_741_070_990_843),
    kernel("recursion", 20, 9_086_798_737_961_824_641),
    kernel("float_loop", 20_000, -8_782_408_910_555_392_780),
    kernel("switch_interp", 5000, 2_995_772_224_068_288_445),
    kernel("sort", 5000, 8_166_872_602_095_538_197),
];

/// A value a WASI stub returns for `results`: [`STUB_ERRNO`] in an `i32` result, zero
/// otherwise.
pub fn stub_result(ty: ValueType) -> u64 {
    match ty {
        ValueType::I32 => STUB_ERRNO as u32 as u64,
        _ => 0,
    }
}

/// Registers, in `rt`, a host module [`WASI_MODULE`] with a stub for every WASI function
/// `compiled` imports. Call once per runtime, before the first [`instantiate`] (a runtime
/// holds one module per name); modules compiled from the same program import the same set.
///
/// # Errors
///
/// If `compiled` imports from another module, or the host module cannot be instantiated
/// (for instance because the runtime already has one of that name).
pub fn register_wasi_stubs(rt: &Runtime, compiled: &CompiledModule) -> Result<Module, Error> {
    let mut builder = rt.new_host_module_builder(WASI_MODULE);
    for def in compiled.imported_functions() {
        let Some((module, name)) = def.import() else {
            continue;
        };
        if module != WASI_MODULE {
            return Err(Error::Link(format!(
                "corpus programs import only from {WASI_MODULE}, not {module}.{name}"
            )));
        }
        let results: Vec<ValueType> = def.result_types().to_vec();
        let is_exit = name == "proc_exit";
        builder
            .new_function_builder()
            .with_stack_func(def.param_types(), &results.clone(), move |caller, stack| {
                if is_exit {
                    let code = stack.first().map_or(1, |&v| v as u32);
                    return Err(caller.exit(code));
                }
                for (slot, &ty) in stack.iter_mut().zip(&results) {
                    *slot = stub_result(ty);
                }
                Ok(())
            })
            .export(name);
    }
    builder.instantiate()
}

/// Instantiates `compiled` (anonymously, so a runtime can hold many instances) and runs its
/// `_initialize`. The runtime must have the stubs of [`register_wasi_stubs`].
///
/// # Errors
///
/// Instantiation errors, and a trap in `_initialize`.
pub fn instantiate(rt: &Runtime, compiled: &CompiledModule) -> Result<Module, Error> {
    rt.instantiate(
        compiled,
        ModuleConfig::new()
            .with_name("")
            .with_start_functions(&["_initialize"]),
    )
}

/// Calls `run(size)` of an instance made by [`instantiate`].
///
/// # Errors
///
/// A missing or mistyped `run` export ([`Error::Link`]), or a trap.
pub fn run(module: &Module, size: i32) -> Result<i64, Error> {
    run_export(module, "run", size)
}

/// Calls the `[i32] -> [i64]` export `export` (for instance a kernel of [`KERNELS`]) of
/// an instance made by [`instantiate`] with `size`.
///
/// # Errors
///
/// A missing or mistyped export ([`Error::Link`]), or a trap.
pub fn run_export(module: &Module, export: &str, size: i32) -> Result<i64, Error> {
    let run = module
        .exported_function(export)
        .ok_or_else(|| Error::Link(format!("corpus program without export `{export}`")))?
        .typed::<i32, i64>()?;
    run.call(size)
}

/// Time to result: compiles `program`, instantiates it and returns the result of its
/// export (`run`) at `size`. The
/// runtime must have the stubs of [`register_wasi_stubs`].
///
/// # Errors
///
/// Any error of compilation, instantiation or the run.
pub fn compile_and_run(rt: &Runtime, program: &Program, size: i32) -> Result<i64, Error> {
    let compiled = rt.compile(program.wasm)?;
    let module = instantiate(rt, &compiled)?;
    let result = run_export(&module, program.export, size);
    module.close()?;
    result
}
