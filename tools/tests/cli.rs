//! End-to-end tests of the `kiln` binary: exit statuses, stdout and stderr.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const KILN: &str = env!("CARGO_BIN_EXE_kiln");

/// The example module shipped in the repository.
fn fib_wat() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/fib.wat"))
}

/// Writes `contents` to a fresh file named `*.{ext}` under Cargo's temp dir for tests.
fn temp_file(ext: &str, contents: &[u8]) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kiln-cli-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("t{}-{n}.{ext}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

fn wat_file(text: &str) -> PathBuf {
    temp_file("wat", text.as_bytes())
}

fn kiln(args: &[&str]) -> Output {
    Command::new(KILN).args(args).output().expect("kiln runs")
}

/// `kiln run --invoke NAME FILE ARGS...`
fn run(name: &str, file: &PathBuf, args: &[&str]) -> Output {
    let mut cmd = Command::new(KILN);
    cmd.args(["run", "--invoke", name]).arg(file).args(args);
    cmd.output().expect("kiln runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn assert_status(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

/// Asserts success and returns stdout.
#[track_caller]
fn ok(o: Output) -> String {
    assert_status(&o, 0);
    stdout(&o)
}

/// Asserts a usage error (status 2, nothing on stdout) and returns stderr.
#[track_caller]
fn usage_error(o: Output) -> String {
    assert_status(&o, 2);
    assert_eq!(stdout(&o), "", "usage errors print nothing on stdout");
    stderr(&o)
}

const NUMS: &str = r#"(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "add64") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
  (func (export "id32") (param i32) (result i32) local.get 0)
  (func (export "id64") (param i64) (result i64) local.get 0)
  (func (export "f32") (param f32) (result f32) local.get 0)
  (func (export "f64") (param f64) (result f64) local.get 0)
  (func (export "div") (param f64 f64) (result f64) (f64.div (local.get 0) (local.get 1)))
  (func (export "divf") (param f32 f32) (result f32) (f32.div (local.get 0) (local.get 1)))
  (func (export "none"))
  (func (export "multi") (result i32 i64 f32 f64)
    i32.const -7 i64.const 0x7fffffffffffffff f32.const 0.1 f64.const -2.5)
  (func (export "ext") (param externref) (result externref) local.get 0)
  (func (export "fr") (param funcref) (result funcref) local.get 0)
  (func (export "null") (result funcref) ref.null func)
  (memory (export "mem") 1)
)"#;

#[test]
fn example_fib() {
    assert_eq!(ok(run("fib", &fib_wat(), &["20"])), "6765\n");
    assert_eq!(
        ok(run("fib_iter", &fib_wat(), &["90"])),
        "2880067194370816120\n"
    );
    assert_eq!(ok(run("add", &fib_wat(), &["2", "40"])), "42\n");
}

#[test]
fn results_one_per_line() {
    let f = wat_file(NUMS);
    assert_eq!(ok(run("add", &f, &["2", "3"])), "5\n");
    assert_eq!(ok(run("none", &f, &[])), "");
    assert_eq!(
        ok(run("multi", &f, &[])),
        "-7\n9223372036854775807\n0.1\n-2.5\n"
    );
}

#[test]
fn negative_and_hex_integers() {
    let f = wat_file(NUMS);
    assert_eq!(ok(run("add", &f, &["-5", "3"])), "-2\n");
    assert_eq!(ok(run("add", &f, &["0x10", "0X0f"])), "31\n");
    assert_eq!(ok(run("add", &f, &["-0x10", "+1"])), "-15\n");
    // i32 accepts the unsigned range too and prints results signed.
    assert_eq!(ok(run("id32", &f, &["4294967295"])), "-1\n");
    assert_eq!(ok(run("id32", &f, &["0xffffffff"])), "-1\n");
    assert_eq!(ok(run("id32", &f, &["-2147483648"])), "-2147483648\n");
    assert_eq!(ok(run("id32", &f, &["2147483648"])), "-2147483648\n");
    assert_eq!(
        ok(run("id64", &f, &["-9223372036854775808"])),
        "-9223372036854775808\n"
    );
    assert_eq!(ok(run("id64", &f, &["18446744073709551615"])), "-1\n");
    assert_eq!(
        ok(run("id64", &f, &["0x8000000000000000"])),
        "-9223372036854775808\n"
    );
    assert_eq!(ok(run("add64", &f, &["-1", "-1"])), "-2\n");
}

#[test]
fn float_formatting() {
    let f = wat_file(NUMS);
    assert_eq!(ok(run("f32", &f, &["0.1"])), "0.1\n");
    assert_eq!(ok(run("f32", &f, &["1.5e3"])), "1500\n");
    assert_eq!(ok(run("f32", &f, &["-0"])), "-0\n");
    assert_eq!(ok(run("f32", &f, &["inf"])), "inf\n");
    assert_eq!(ok(run("f32", &f, &["-inf"])), "-inf\n");
    assert_eq!(ok(run("f32", &f, &["nan"])), "nan\n");
    assert_eq!(ok(run("f32", &f, &["-nan"])), "nan\n");
    assert_eq!(ok(run("f64", &f, &["0.1"])), "0.1\n");
    assert_eq!(ok(run("f64", &f, &["-2.5"])), "-2.5\n");
    assert_eq!(ok(run("f64", &f, &["1e-7"])), "0.0000001\n");
    assert_eq!(ok(run("f64", &f, &["inf"])), "inf\n");
    assert_eq!(ok(run("div", &f, &["1", "3"])), "0.3333333333333333\n");
    assert_eq!(ok(run("div", &f, &["0", "0"])), "nan\n");
    assert_eq!(ok(run("div", &f, &["-1", "0"])), "-inf\n");
    assert_eq!(ok(run("divf", &f, &["1", "3"])), "0.33333334\n");
    assert_eq!(ok(run("divf", &f, &["1", "0"])), "inf\n");
}

#[test]
fn references() {
    let f = wat_file(NUMS);
    assert_eq!(ok(run("ext", &f, &["null"])), "null\n");
    assert_eq!(ok(run("ext", &f, &["0"])), "0\n");
    assert_eq!(ok(run("ext", &f, &["42"])), "42\n");
    assert_eq!(ok(run("fr", &f, &["null"])), "null\n");
    assert_eq!(ok(run("null", &f, &[])), "null\n");
    // A funcref is an opaque value of a running instance: only null can be written.
    let err = usage_error(run("fr", &f, &["1"]));
    assert!(err.contains("only `null`"), "{err}");
    let err = usage_error(run("fr", &f, &["1000"]));
    assert!(err.contains("function index out of range"), "{err}");
}

#[test]
fn v128_results() {
    // SIMD is validated but not executable yet: a load error, not a crash.
    let f = wat_file(
        r#"(module (func (export "v") (result v128)
            v128.const i32x4 0x03020100 0x07060504 0x0b0a0908 0x0f0e0d0c))"#,
    );
    let o = run("v", &f, &[]);
    if o.status.code() == Some(0) {
        assert_eq!(stdout(&o), "0x000102030405060708090a0b0c0d0e0f\n");
    } else {
        assert_status(&o, 1);
        assert!(stderr(&o).contains("unsupported"), "{}", stderr(&o));
        assert_eq!(stdout(&o), "");
    }
}

#[test]
fn trap_exits_134_with_backtrace() {
    let f = wat_file(
        r#"(module
            (func $boom (export "boom") (call $deeper))
            (func $deeper unreachable))"#,
    );
    let o = run("boom", &f, &[]);
    assert_status(&o, 134);
    assert_eq!(stdout(&o), "");
    let err = stderr(&o);
    assert!(err.contains("unreachable"), "{err}");
    assert!(err.contains("backtrace"), "{err}");
    assert!(err.contains("boom"), "{err}");
    assert!(err.contains("deeper"), "{err}");
    let (inner, outer) = (err.find("!deeper"), err.find("!boom"));
    assert!(
        inner.is_some() && inner < outer,
        "innermost frame first: {err}"
    );

    let f = wat_file(
        r#"(module (func (export "div") (param i32 i32) (result i32)
            (i32.div_s (local.get 0) (local.get 1))))"#,
    );
    let o = run("div", &f, &["1", "0"]);
    assert_status(&o, 134);
    assert!(
        stderr(&o).contains("integer divide by zero"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn start_function_trap_is_a_trap() {
    let f = wat_file(r#"(module (func $s unreachable) (start $s) (func (export "x")))"#);
    let o = run("x", &f, &[]);
    assert_status(&o, 134);
    assert!(stderr(&o).contains("unreachable"), "{}", stderr(&o));
}

#[test]
fn start_is_not_run_on_bad_arguments() {
    let f =
        wat_file(r#"(module (func $s unreachable) (start $s) (func (export "x") (param i32)))"#);
    usage_error(run("x", &f, &[]));
}

#[test]
fn engines_not_built_are_usage_errors_and_jit_runs() {
    if kiln::EngineKind::Jit.is_available() {
        let o = kiln(&[
            "run",
            "--engine",
            "jit",
            "--invoke",
            "add",
            fib_wat().to_str().unwrap(),
            "1",
            "2",
        ]);
        assert!(o.status.success(), "{o:?}");
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "3");
    }
    for engine in ["jit", "tiered"] {
        let Some(kind) = kiln::EngineKind::from_name(engine) else {
            continue;
        };
        if kind.is_available() {
            continue;
        }
        let o = kiln(&[
            "run",
            "--engine",
            engine,
            "--invoke",
            "add",
            fib_wat().to_str().unwrap(),
            "1",
            "2",
        ]);
        let err = usage_error(o);
        assert!(
            err.contains(&format!("engine `{engine}` is not built yet")),
            "{err}"
        );
    }
    let o = kiln(&[
        "run",
        "--engine=interp",
        "--invoke",
        "add",
        fib_wat().to_str().unwrap(),
        "1",
        "2",
    ]);
    assert_eq!(ok(o), "3\n");
    let err = usage_error(kiln(&[
        "run",
        "--engine",
        "warp",
        "--invoke",
        "add",
        fib_wat().to_str().unwrap(),
    ]));
    assert!(err.contains("warp"), "{err}");
}

#[test]
fn everything_after_file_belongs_to_the_guest() {
    let f = fib_wat();
    // `--engine jit` after FILE is a (bad) guest argument, not Kiln's flag.
    let err = usage_error(run("add", &f, &["--engine", "jit"]));
    assert!(err.contains("`--engine`"), "{err}");
    assert!(!err.contains("not built yet"), "{err}");
    let err = usage_error(run("add", &f, &["1", "--help"]));
    assert!(err.contains("`--help`"), "{err}");
    // `--` before FILE ends Kiln's options.
    let o = Command::new(KILN)
        .args(["run", "--invoke", "add", "--"])
        .arg(&f)
        .args(["-1", "-2"])
        .output()
        .unwrap();
    assert_eq!(ok(o), "-3\n");
}

#[test]
fn usage_errors_exit_2() {
    let f = wat_file(NUMS);
    let err = usage_error(run("add", &f, &["1"]));
    assert!(err.contains("takes 2 arguments, got 1"), "{err}");
    let err = usage_error(run("add", &f, &["1", "2", "3"]));
    assert!(err.contains("got 3"), "{err}");
    let err = usage_error(run("add", &f, &["1", "two"]));
    assert!(err.contains("argument 2 `two` is not a valid i32"), "{err}");
    let err = usage_error(run("id32", &f, &["4294967296"]));
    assert!(err.contains("out of range"), "{err}");
    let err = usage_error(run("id32", &f, &["-2147483649"]));
    assert!(err.contains("out of range"), "{err}");
    let err = usage_error(run("id64", &f, &["18446744073709551616"]));
    assert!(err.contains("out of range"), "{err}");
    usage_error(run("id32", &f, &["1.0"]));
    usage_error(run("id32", &f, &["0x"]));
    usage_error(run("id32", &f, &[""]));
    usage_error(run("f64", &f, &["1.2.3"]));
    usage_error(run("ext", &f, &["-1"]));
    let err = usage_error(run("missing", &f, &[]));
    assert!(err.contains("no exported function `missing`"), "{err}");
    let err = usage_error(run("mem", &f, &[]));
    assert!(err.contains("not a function"), "{err}");
    // Missing --invoke or FILE, unknown subcommand, no subcommand.
    usage_error(kiln(&["run", f.to_str().unwrap()]));
    usage_error(kiln(&["run", "--invoke", "add"]));
    usage_error(kiln(&["frobnicate"]));
    usage_error(kiln(&[]));
}

#[test]
fn load_errors_exit_1() {
    let garbage = temp_file("wasm", b"\x7fELF this is not wasm at all \xff\xfe");
    let o = run("x", &garbage, &[]);
    assert_status(&o, 1);
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).contains("not a WebAssembly module"),
        "{}",
        stderr(&o)
    );

    // A Wasm header followed by junk: the decoder's error.
    let junk = temp_file("wasm", b"\0asm\x01\0\0\0\x01\xff\xff\xff");
    let o = run("x", &junk, &[]);
    assert_status(&o, 1);
    assert!(stderr(&o).contains("compile error"), "{}", stderr(&o));

    // Invalid text.
    let o = run("x", &wat_file("(module (func (export \"x\") i32.add"), &[]);
    assert_status(&o, 1);

    // Valid syntax, invalid module.
    let o = run(
        "x",
        &wat_file(r#"(module (func (export "x") i32.add))"#),
        &[],
    );
    assert_status(&o, 1);
    assert!(stderr(&o).contains("compile error"), "{}", stderr(&o));

    // Missing file.
    let o = run("x", &PathBuf::from("/nonexistent/kiln/test.wasm"), &[]);
    assert_status(&o, 1);

    // Empty file.
    assert_status(&run("x", &temp_file("wasm", b""), &[]), 1);
}

#[test]
fn missing_imports_are_link_errors() {
    let f = wat_file(
        r#"(module
            (import "env" "log" (func (param i32)))
            (import "env" "mem" (memory 1))
            (func (export "x")))"#,
    );
    let o = run("x", &f, &[]);
    assert_status(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("link error"), "{err}");
    assert!(err.contains("env::log"), "{err}");
}

#[test]
fn binary_and_text_detection() {
    let bytes =
        wat::parse_str(r#"(module (func (export "seven") (result i32) i32.const 7))"#).unwrap();
    assert_eq!(ok(run("seven", &temp_file("wasm", &bytes), &[])), "7\n");
    // Binary content under a `.bin` name, text content under a `.wasm` name.
    assert_eq!(ok(run("seven", &temp_file("bin", &bytes), &[])), "7\n");
    let text = br#"(module (func (export "seven") (result i32) i32.const 7))"#;
    assert_eq!(ok(run("seven", &temp_file("wasm", text), &[])), "7\n");
}

#[test]
fn version_and_help() {
    let out = ok(kiln(&["--version"]));
    assert!(out.starts_with("kiln "), "{out}");
    assert!(out.contains(env!("CARGO_PKG_VERSION")), "{out}");
    let out = ok(kiln(&["--help"]));
    assert!(out.contains("run"), "{out}");
    let out = ok(kiln(&["run", "--help"]));
    assert!(out.contains("--invoke"), "{out}");
    assert!(out.contains("--engine"), "{out}");
}

#[test]
fn unknown_flag_before_file_is_a_usage_error() {
    let f = fib_wat();
    // Before FILE an unknown flag is Kiln's mistake, not the file name: clap's error and tip.
    let err = usage_error(kiln(&["run", "--bogus", f.to_str().unwrap()]));
    assert!(err.contains("unexpected argument '--bogus'"), "{err}");
    assert!(!err.contains("cannot read"), "{err}");
    let err = usage_error(kiln(&[
        "run",
        "--invok",
        "add",
        f.to_str().unwrap(),
        "1",
        "2",
    ]));
    assert!(err.contains("similar argument exists: '--invoke'"), "{err}");
    let err = usage_error(kiln(&["run", "-x", f.to_str().unwrap()]));
    assert!(err.contains("unexpected argument '-x'"), "{err}");
    // After FILE, flags and negative numbers are still the guest's.
    assert_eq!(ok(run("add", &f, &["-1", "-2"])), "-3\n");
}

/// `--stats` reports batches, the queue's high-water mark, code bytes and compiler
/// threads; `--tier-workers` sets the threads, and only the tiered engine takes it.
#[test]
fn stats_report_batches_queue_code_bytes_and_compiler_threads() {
    let fib = fib_wat();
    let fib = fib.to_str().unwrap();
    for engine in ["interp", "jit", "tiered"] {
        let o = kiln(&["run", "--engine", engine, "--invoke", "fib", fib, "20"]);
        assert_status(&o, 0);
        assert_eq!(stdout(&o), "6765\n");
        if engine != "tiered" {
            let o = kiln(&["run", "--engine", engine, "--tier-workers", "2", fib]);
            assert_status(&o, 2);
            assert!(stderr(&o).contains("--tier-workers"), "{}", stderr(&o));
        }
    }
    // Synchronous: one function, compiled on the running thread in one batch.
    let sync = [
        "run",
        "--engine",
        "tiered",
        "--tier-threshold",
        "1",
        "--tier-sync",
        "--stats",
        "--invoke",
        "fib",
        fib,
        "20",
    ];
    let o = kiln(&sync);
    assert_status(&o, 0);
    assert_eq!(stdout(&o), "6765\n");
    let err = stderr(&o);
    assert!(err.contains("1 functions compiled in 1 batches"), "{err}");
    assert!(
        err.contains("queue length 0 (max 0), 0 compiler threads"),
        "{err}"
    );
    let code_bytes: u64 = err
        .split(" code bytes")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no code bytes in {err}"));
    assert!(code_bytes > 0, "{err}");
    // In the background, the first hot call starts the threads asked for.
    let o = kiln(&[
        "run",
        "--engine",
        "tiered",
        "--tier-threshold",
        "1",
        "--tier-workers",
        "2",
        "--stats",
        "--invoke",
        "fib",
        fib,
        "20",
    ]);
    assert_status(&o, 0);
    assert_eq!(stdout(&o), "6765\n");
    assert!(
        stderr(&o).contains(", 2 compiler threads"),
        "{}",
        stderr(&o)
    );
}
