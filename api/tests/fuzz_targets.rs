//! The fuzz targets of `tools/fuzz` (built with libFuzzer outside the workspace) run here as
//! ordinary tests over fixed seeds: the same code (`tools/fuzz/src/lib.rs`, included by
//! path), so `cargo test` checks what the fuzzer checks.
//!
//! - `validate_*`: Kiln's decoder and validator on generated modules, their truncations and
//!   bit flips, and random bytes.
//! - `differential_wasmi_fixed_seeds`: 500 wasm-smith modules (WebAssembly 2.0 with SIMD,
//!   bounded by wasm-smith's fuel) in every Kiln engine (interp, jit, tiered) and in wasmi;
//!   results, trap kinds, memories and globals must agree. 10 000 more behind `--ignored`.
//! - `run_fixed_seeds`: wasm-smith modules with unbounded loops in every Kiln engine, each
//!   call bounded by a deadline (Kiln's interruption).
//!
//! Long fuzz runs: see `tools/fuzz/README.md`.

#[path = "../../tools/fuzz/src/lib.rs"]
mod fuzz;

use fuzz::{Report, Validation};
use std::time::{Duration, Instant};

/// Bytes of random input per generated module (more bytes, larger modules).
const INPUT_BYTES: usize = 8_000;

fn batch(name: &str, seeds: std::ops::Range<u64>, one: impl Fn(&[u8]) -> Report) -> Report {
    let start = Instant::now();
    let mut report = Report::default();
    for seed in seeds.clone() {
        report.add(one(&fuzz::seed_input(seed, INPUT_BYTES)));
    }
    eprintln!(
        "{name}: seeds {}..{}: {:?} in {:.1}s",
        seeds.start,
        seeds.end,
        Report {
            mismatches: Vec::new(),
            ..report.clone()
        },
        start.elapsed().as_secs_f64()
    );
    for m in report.mismatches.iter().take(20) {
        eprintln!("MISMATCH {m}");
    }
    assert!(
        report.mismatches.is_empty(),
        "{} mismatches, first: {}",
        report.mismatches.len(),
        report.mismatches[0]
    );
    // The batch must have exercised something, or agreement means nothing.
    assert!(
        report.generated * 10 >= report.inputs * 9,
        "wasm-smith gave up too often: {report:?}"
    );
    assert!(
        report.instantiated * 2 > report.generated,
        "too few instantiations: {report:?}"
    );
    assert!(report.calls > report.inputs, "too few calls: {report:?}");
    assert!(
        report.returned * 4 > report.calls,
        "too few normal returns: {report:?}"
    );
    report
}

/// 500 modules in every Kiln engine and wasmi (the acceptance batch run by `cargo test`).
#[test]
fn differential_wasmi_fixed_seeds() {
    let report = batch("differential", 0..500, fuzz::differential_report);
    assert!(report.trapped > 0, "no traps compared: {report:?}");
}

/// 10 000 more modules (about 35 s in a release build, minutes in debug):
/// `cargo test -p kiln --test fuzz_targets -- --ignored --nocapture differential_wasmi_many`.
#[test]
#[ignore = "large batch; run explicitly"]
fn differential_wasmi_many_seeds() {
    batch(
        "differential",
        1_000_000..1_010_000,
        fuzz::differential_report,
    );
}

/// Unbounded modules, every call under a 20 ms deadline, in every Kiln engine.
#[test]
fn run_fixed_seeds() {
    let report = batch("run", 0..150, |d| {
        fuzz::run_report(d, Duration::from_millis(20))
    });
    // Some module must have looped until its deadline, or the bound was not exercised.
    assert!(
        report.stopped > 0,
        "no call ran into its deadline: {report:?}"
    );
}

/// `cargo test -p kiln --test fuzz_targets -- --ignored --nocapture run_many`.
#[test]
#[ignore = "large batch; run explicitly"]
fn run_many_seeds() {
    batch("run", 1_000_000..1_001_000, |d| {
        fuzz::run_report(d, Duration::from_millis(20))
    });
}

/// The panicking entry points the fuzzer calls, on a few seeds.
#[test]
fn fuzzer_entry_points() {
    for seed in 0..5 {
        let input = fuzz::seed_input(seed, INPUT_BYTES);
        fuzz::differential(&input);
        fuzz::run(&input);
        fuzz::validate(&input);
    }
}

/// Generated modules validate; their truncations and bit flips, and random bytes, give
/// typed answers (the target panics on anything else), and Kiln never accepts what
/// wasmparser rejects.
#[test]
fn validate_fixed_inputs() {
    let (mut accepted, mut rejected) = (0u32, 0u32);
    for seed in 0..60u64 {
        let input = fuzz::seed_input(seed, INPUT_BYTES);
        let Some(wasm) = fuzz::smith_module(&input) else {
            continue;
        };
        assert_eq!(fuzz::validate(&wasm), Validation::Accepted, "seed {seed}");
        accepted += 1;
        for cut in [1, wasm.len() / 3, wasm.len() / 2, wasm.len() - 1] {
            if fuzz::validate(&wasm[..cut]) == Validation::Rejected {
                rejected += 1;
            }
        }
        let mut flipped = wasm.clone();
        for i in (8..flipped.len()).step_by(7) {
            flipped[i] ^= input[i % input.len()] | 1;
            fuzz::validate(&flipped);
        }
        assert_eq!(
            fuzz::validate(&input[..512]),
            Validation::Rejected,
            "seed {seed}: random bytes"
        );
    }
    assert!(accepted >= 50, "only {accepted} generated modules");
    assert!(
        rejected >= accepted * 3,
        "truncated modules accepted: {rejected} rejections"
    );
}

/// Found by the `differential` fuzz run (its seed corpus file `seed-15`, i.e.
/// `seed_input(15, 4096)`): the libFuzzer binary died of a SIGSEGV. Not in Kiln (its JIT trap
/// before it was handled): wasmi's tail-call dispatch, built with sanitizer coverage, lost its
/// sibling calls and overflowed the native stack in a long loop; the fuzz crate now builds
/// wasmi with `portable-dispatch`. The module must agree everywhere.
#[test]
fn regression_differential_seed_15_4096() {
    let report = fuzz::differential_report(&fuzz::seed_input(15, 4096));
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    assert_eq!(report.generated, 1);
}

/// `select(y, z, i32.eqz x)` with `x = 0` from a parameter and `y` from a global, so that
/// wasmi 2.0.0 fuses the `i32.eqz` (operand in a stack slot) into the `select`.
const FUSED_SELECT_WAT: &str = r#"
(module
  (global $one (mut i32) (i32.const 1))
  (func $pick (param $z i32) (param $x i32) (result i32)
    global.get $one
    local.get $z
    local.get $x
    i32.eqz
    select)
  (func (export "f") (result i32) (call $pick (i32.const 5) (i32.const 0))))
"#;

fn wasmi_call_f(wasm: &[u8]) -> i32 {
    let engine = wasmi::Engine::default();
    let module = wasmi::Module::new(&engine, wasm).expect("valid module");
    let mut store = wasmi::Store::new(&engine, ());
    let instance = wasmi::Linker::<()>::new(&engine)
        .instantiate_and_start(&mut store, &module)
        .expect("instantiate");
    let mut out = [wasmi::Val::I32(0)];
    instance
        .get_func(&store, "f")
        .expect("export f")
        .call(&mut store, &[], &mut out)
        .expect("call");
    out[0].i32().expect("i32 result")
}

/// The differential fuzzer's first disagreements were wasmi's, not Kiln's: wasmi 2.0.0
/// returns the false operand of a `select` whose condition is a fused `i32.eqz` of a slot
/// operand (in the fuzzer's modules it fed a divisor, so wasmi trapped on a division by zero
/// Kiln never saw). Kiln gives the spec's answer in every engine; the harness hands wasmi a
/// rewritten module (`select_conditions_through_locals`) that it runs correctly. When this
/// test fails on the raw module, wasmi fixed the bug and the rewrite can go.
#[test]
fn wasmi_fused_select_bug_is_worked_around() {
    let wasm = wat::parse_str(FUSED_SELECT_WAT).expect("wat");
    for engine in [
        kiln::EngineKind::Interp,
        kiln::EngineKind::Jit,
        kiln::EngineKind::Tiered,
    ] {
        if !engine.is_available() {
            continue;
        }
        let runtime =
            kiln::Runtime::with_config(kiln::RuntimeConfig::new().with_engine(engine)).unwrap();
        let compiled = runtime.compile(&wasm).unwrap();
        let module = runtime
            .instantiate(&compiled, kiln::ModuleConfig::new())
            .unwrap();
        let f = module.exported_function("f").unwrap();
        assert_eq!(f.call(&[]).unwrap(), vec![1], "{engine:?}");
    }
    assert_eq!(
        wasmi_call_f(&wasm),
        5,
        "wasmi's fused select picks the false operand"
    );
    let rewritten = fuzz::select_conditions_through_locals(&wasm);
    assert_ne!(rewritten, wasm);
    assert_eq!(wasmi_call_f(&rewritten), 1);
}
