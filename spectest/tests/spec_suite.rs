//! Runs the WebAssembly 2.0 spec suite in every engine that exists.

use kiln_spectest::{EngineChoice, Options, Summary, run_file};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

fn suite_dir() -> PathBuf {
    match std::env::var_os("KILN_SPECTEST_DIR") {
        Some(dir) => PathBuf::from(dir).join("wasm-2.0"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/spectest/wasm-2.0"),
    }
}

fn wast_files() -> Vec<PathBuf> {
    let dir = suite_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("spec suite missing at {}: {e}", dir.display()))
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wast"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 148,
        "expected the 148 files of the 2.0 suite"
    );
    files
}

fn run_suite(engine: EngineChoice) -> Summary {
    run_suite_with(Options {
        engine,
        wasm3: false,
        verbose: false,
        tier_threshold: None,
        tier_sync: false,
    })
}

fn run_suite_with(options: Options) -> Summary {
    let engine = options.engine;
    let results: Vec<(PathBuf, Summary)> = wast_files()
        .par_iter()
        .map(|f| (f.clone(), run_file(f, &options)))
        .collect();
    let mut failures = Vec::new();
    let mut total = Summary::default();
    for (path, s) in &results {
        total.add(s);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if s.failed > 0 {
            failures.push(format!("{name}: {} failed: {:?}", s.failed, s.messages));
        }
        // Every engine executes the whole 2.0 suite, SIMD included: nothing may be skipped.
        if s.skipped > 0 {
            failures.push(format!("{name}: {} skipped: {:?}", s.skipped, s.messages));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        total.passed > 54_000,
        "only {} commands passed",
        total.passed
    );
    eprintln!(
        "{engine:?}: {} passed, 0 failed, {} skipped",
        total.passed, total.skipped
    );
    total
}

#[test]
fn wasm2_suite_interp() {
    run_suite(EngineChoice::Interp);
}

/// Threshold 1, synchronous: every function is compiled at its first call and every loop
/// that can be entered gets an OSR entry at its first back-edge.
#[test]
fn wasm2_suite_tiered_threshold_1_sync() {
    if !kiln::EngineKind::Tiered.is_available() {
        eprintln!("tiered engine not available on this platform: skipped");
        return;
    }
    let total = run_suite_with(Options {
        engine: EngineChoice::Tiered,
        wasm3: false,
        verbose: false,
        tier_threshold: Some(1),
        tier_sync: true,
    });
    eprintln!(
        "tiered: {} functions tiered up, {} OSR entries, {} OSR transfers",
        total.tiered_up, total.osr_compiled, total.osr_entries
    );
    assert!(total.tiered_up > 1000, "only {} tier-ups", total.tiered_up);
}

#[test]
fn wasm2_suite_jit() {
    if !kiln::EngineKind::Jit.is_available() {
        eprintln!("jit engine not available on this platform: skipped");
        return;
    }
    run_suite(EngineChoice::Jit);
}
