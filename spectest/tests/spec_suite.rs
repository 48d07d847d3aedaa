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

fn run_suite(engine: EngineChoice) {
    let options = Options {
        engine,
        wasm3: false,
        verbose: false,
    };
    let results: Vec<(PathBuf, Summary)> = wast_files()
        .par_iter()
        .map(|f| (f.clone(), run_file(f, &options)))
        .collect();
    let mut failures = Vec::new();
    let (mut passed, mut skipped) = (0, 0);
    for (path, s) in &results {
        passed += s.passed;
        skipped += s.skipped;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if s.failed > 0 {
            failures.push(format!("{name}: {} failed: {:?}", s.failed, s.messages));
        }
        // Only SIMD may be skipped until it is executable.
        if s.skipped > 0 && !name.starts_with("simd_") {
            failures.push(format!("{name}: {} skipped outside SIMD files", s.skipped));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(passed > 29_000, "only {passed} commands passed");
    eprintln!("{engine:?}: {passed} passed, 0 failed, {skipped} skipped");
}

#[test]
fn wasm2_suite_interp() {
    run_suite(EngineChoice::Interp);
}

#[test]
fn wasm2_suite_jit() {
    if !kiln::EngineKind::Jit.is_available() {
        eprintln!("jit engine not available on this platform: skipped");
        return;
    }
    run_suite(EngineChoice::Jit);
}
