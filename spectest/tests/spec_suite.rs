//! Runs the WebAssembly 2.0 spec suite in every engine that exists.
//!
//! The suite is `$KILN_SPECTEST_DIR/wasm-2.0`, else `../shared/spectest/wasm-2.0` beside
//! the repository (README.md says where it comes from). When it is missing every test
//! here prints one line saying so and passes, so that a fresh clone's `cargo test`
//! works.

use kiln_spectest::{EngineChoice, Options, Summary, run_file};
use rayon::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

fn suite_dir() -> PathBuf {
    match std::env::var_os("KILN_SPECTEST_DIR") {
        Some(dir) => PathBuf::from(dir).join("wasm-2.0"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/spectest/wasm-2.0"),
    }
}

/// The suite's `.wast` files, or `None` (after one line on stderr) when the suite
/// directory does not exist.
fn wast_files() -> Option<Vec<PathBuf>> {
    let dir = suite_dir();
    if !dir.is_dir() {
        // Once for all the tests, and straight to stderr: the test harness would hide a
        // captured `eprintln!`.
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "spec suite skipped: no directory {} (get it as README.md says, or set \
             KILN_SPECTEST_DIR to the directory holding wasm-2.0/)",
                dir.display()
            );
        });
        return None;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the spec suite at {}: {e}", dir.display()))
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "wast"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 148,
        "expected the 148 files of the 2.0 suite"
    );
    Some(files)
}

fn run_suite(engine: EngineChoice) -> Option<Summary> {
    run_suite_with(Options {
        engine,
        wasm3: false,
        verbose: false,
        tier_threshold: None,
        tier_sync: false,
    })
}

fn run_suite_with(options: Options) -> Option<Summary> {
    let engine = options.engine;
    let results: Vec<(PathBuf, Summary)> = wast_files()?
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
    Some(total)
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
    let Some(total) = run_suite_with(Options {
        engine: EngineChoice::Tiered,
        wasm3: false,
        verbose: false,
        tier_threshold: Some(1),
        tier_sync: true,
    }) else {
        return;
    };
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

/// The CLI with `--must-pass`: files on the list decide the exit status, files off it may
/// fail, and names are relative to the folder given (subfolders with `/`).
#[test]
fn must_pass_list_decides_the_exit_status() {
    let dir = std::env::temp_dir().join(format!("kiln-must-pass-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let passing = r#"(module (func (export "f") (result i32) (i32.const 1)))
        (assert_return (invoke "f") (i32.const 1))"#;
    let failing = r#"(module (func (export "f") (result i32) (i32.const 1)))
        (assert_return (invoke "f") (i32.const 2))"#;
    std::fs::write(dir.join("good.wast"), passing).unwrap();
    std::fs::write(dir.join("sub/nested.wast"), passing).unwrap();
    std::fs::write(dir.join("bad.wast"), failing).unwrap();
    let run = |list: &str| {
        let list_path = dir.join("list.txt");
        std::fs::write(&list_path, list).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiln-spectest"))
            .args(["--engine", "interp", "--must-pass"])
            .arg(&list_path)
            .arg(&dir)
            .output()
            .expect("kiln-spectest runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let last = stdout.lines().last().unwrap_or_default().to_string();
        (out.status.success(), last)
    };
    let (ok, last) = run("# passing files\ngood.wast\nsub/nested.wast\n");
    assert!(ok, "{last}");
    assert_eq!(last, "must-pass: 2 files on the list, all passed");
    let (ok, last) = run("good.wast\nbad.wast\n");
    assert!(!ok, "{last}");
    assert_eq!(
        last,
        "must-pass: 2 files on the list, 1 regressed: bad.wast (1 failed, 0 skipped); \
         1 files not on the list pass completely"
    );
    let (ok, last) = run("good.wast\nrenamed.wast\nsub/nested.wast\n");
    assert!(!ok, "{last}");
    assert!(
        last.ends_with("1 regressed: renamed.wast (not run)"),
        "{last}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A fresh clone without the suite: the tests print one line and pass instead of
/// panicking (this runs this test binary again with the suite pointed elsewhere).
#[test]
fn a_missing_suite_is_skipped_with_one_line() {
    let missing = std::env::temp_dir().join("kiln-no-spectest-here");
    assert!(!missing.exists());
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "wasm2_suite_interp",
            "wasm2_suite_jit",
            "--test-threads",
            "1",
        ])
        .env("KILN_SPECTEST_DIR", &missing)
        .output()
        .expect("the test binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("spec suite skipped: no directory").count(),
        1,
        "one line for all tests: {stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 passed"));
}
