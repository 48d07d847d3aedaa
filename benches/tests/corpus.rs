//! Every corpus program (`benches/corpus/`) computes, in every engine, the checksum its
//! native build prints (recorded in `kiln_benches::corpus` and the programs' READMEs), and
//! so does every C kernel of `benches/corpus/kernels/`.

#[path = "../../api/tests/common/mod.rs"]
mod common;

use kiln::{EngineKind, Runtime, RuntimeConfig};
use kiln_benches::corpus::{self, Program};

/// Compiles, instantiates and runs `program` at its test size in `rt`.
fn check(rt: &Runtime, what: &str, program: &Program) {
    let compiled = rt.compile(program.wasm).expect("corpus program compiles");
    corpus::register_wasi_stubs(rt, &compiled).expect("WASI stubs");
    let module = corpus::instantiate(rt, &compiled).expect("instantiate and _initialize");
    let got = corpus::run_export(&module, program.export, program.test_size).expect("run");
    assert_eq!(
        got, program.test_checksum,
        "{}: {}({}) in {what} differs from the native build",
        program.name, program.export, program.test_size
    );
}

/// Each program in each engine (tiered at its default threshold), plus tiered with
/// threshold 1 compiling synchronously, so the compiled code runs from the first call.
fn check_everywhere(program: &Program) {
    common::each_engine(|engine| {
        check(&common::runtime(engine), engine.name(), program);
        if engine == EngineKind::Tiered {
            let rt = Runtime::with_config(
                RuntimeConfig::new()
                    .with_engine(engine)
                    .with_tier_threshold(1)
                    .with_tier_sync(true),
            )
            .expect("tiered runtime");
            check(&rt, "tiered (threshold 1, sync)", program);
        }
    });
}

#[test]
fn lua_matches_native_build() {
    check_everywhere(&corpus::LUA);
}

#[test]
fn sqlite_matches_native_build() {
    check_everywhere(&corpus::SQLITE);
}

#[test]
fn zstd_matches_native_build() {
    check_everywhere(&corpus::ZSTD);
}

#[test]
fn manyfuncs_matches_native_build() {
    check_everywhere(&corpus::MANYFUNCS);
}

#[test]
fn kernels_match_native_build() {
    for kernel in &corpus::KERNELS {
        check_everywhere(kernel);
    }
}
