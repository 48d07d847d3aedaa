//! `kiln run` on WASI programs (the C fixtures of `api/tests/wasi/`, committed as .wasm),
//! plus `kiln compile` and `kiln inspect`. Every test runs under each available engine.

use kiln::EngineKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const KILN: &str = env!("CARGO_BIN_EXE_kiln");

/// `api/tests/wasi/NAME.wasm`; a missing fixture fails the test.
fn fixture(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../api/tests/wasi")
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "missing WASI fixture {}; rebuild with api/tests/wasi/build.sh",
        path.display()
    );
    path
}

/// The names of the engines this build has.
fn engines() -> Vec<&'static str> {
    let all = [EngineKind::Interp, EngineKind::Jit, EngineKind::Tiered];
    let names: Vec<_> = all
        .into_iter()
        .filter(|e| e.is_available())
        .map(|e| e.name())
        .collect();
    assert!(!names.is_empty());
    names
}

fn temp_dir(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("kiln-wasi-cli-tests")
        .join(format!("{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `kiln run --engine ENGINE FLAGS... FILE ARGS...` with `stdin` as standard input.
fn run_with(engine: &str, flags: &[&str], file: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(KILN)
        .args(["run", "--engine", engine])
        .args(flags)
        .arg(file)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kiln runs");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn run(engine: &str, flags: &[&str], file: &Path, args: &[&str]) -> Output {
    run_with(engine, flags, file, args, b"")
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

#[track_caller]
fn ok(o: Output) -> String {
    assert_status(&o, 0);
    stdout(&o)
}

#[test]
fn hello_world() {
    for e in engines() {
        assert_eq!(ok(run(e, &[], &fixture("hello"), &[])), "hello, world\n");
    }
}

#[test]
fn args_after_file_belong_to_the_guest() {
    for e in engines() {
        let file = fixture("args_env");
        let o = run(
            e,
            &["--env", "GREETING=hey", "--env", "X=a=b"],
            &file,
            &["one", "--engine", "jit", "--dir", "/", "-x"],
        );
        let expected = format!(
            "argc=7\nargv[0]={}\nargv[1]=one\nargv[2]=--engine\nargv[3]=jit\nargv[4]=--dir\n\
             argv[5]=/\nargv[6]=-x\nenv GREETING=hey\nenv X=a=b\nGREETING=hey\n",
            file.display()
        );
        assert_eq!(ok(o), expected);
    }
}

#[test]
fn stdin_and_stderr() {
    for e in engines() {
        let o = run_with(e, &[], &fixture("stdin"), &[], b"one\ntwo\nthree\n");
        assert_status(&o, 0);
        assert_eq!(stdout(&o), "bytes=14 lines=3\nONE\nTWO\nTHREE\n");
        assert_eq!(stderr(&o), "done reading\n");
    }
}

#[test]
fn files_in_a_preopened_directory() {
    for e in engines() {
        let dir = temp_dir("files");
        std::fs::write(dir.join("input.txt"), "via the cli\n").unwrap();
        let mount = format!("{}::/sandbox", dir.display());
        let out = ok(run(e, &["--dir", &mount], &fixture("files"), &["/sandbox"]));
        assert!(out.contains("input: via the cli\n"), "{out}");
        assert!(out.ends_with("all ok\n"), "{out}");
        assert_eq!(
            std::fs::read_to_string(dir.join("result.txt")).unwrap(),
            "written by the guest\n"
        );

        // `--dir HOST` alone: the guest sees it under the host's name.
        std::fs::remove_file(dir.join("result.txt")).unwrap();
        let host = dir.to_str().unwrap();
        let out = ok(run(e, &["--dir", host], &fixture("files"), &[host]));
        assert!(out.ends_with("all ok\n"), "{out}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn listing_a_directory() {
    for e in engines() {
        let dir = temp_dir("list");
        std::fs::write(dir.join("file"), "").unwrap();
        std::fs::create_dir(dir.join("dir")).unwrap();
        std::os::unix::fs::symlink("file", dir.join("link")).unwrap();
        let mount = format!("{}::/", dir.display());
        let o = run(e, &["--dir", &mount], &fixture("listdir"), &["/"]);
        assert_eq!(ok(o), "d dir\nf file\nl link\n3 entries\n");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn real_clocks_and_random() {
    for e in engines() {
        let out = ok(run(e, &[], &fixture("clock_random"), &["show"]));
        for line in out.lines().filter(|l| l.starts_with("ok ")) {
            assert!(line.ends_with(": 1"), "{out}");
        }
        // Kiln's CLI uses the real clocks, not the API's deterministic defaults.
        assert!(!out.contains("realtime=1640995200.000000000"), "{out}");
        let again = ok(run(e, &[], &fixture("clock_random"), &["show"]));
        let random = |s: &str| {
            s.lines()
                .find(|l| l.starts_with("random="))
                .unwrap()
                .to_string()
        };
        assert_ne!(random(&out), random(&again), "random bytes from the host");
    }
}

#[test]
fn exit_codes() {
    for e in engines() {
        let file = fixture("exit_code");
        let o = run(e, &[], &file, &["3"]);
        assert_status(&o, 3);
        assert_eq!(stdout(&o), "exiting with 3\n");
        assert_eq!(stderr(&o), "");
        assert_status(&run(e, &[], &file, &["0"]), 0);
        assert_status(&run(e, &[], &file, &["255"]), 255);
        assert_status(&run(e, &[], &file, &["return", "42"]), 42);
        assert_status(&run(e, &[], &file, &[]), 2);
        let o = run(e, &[], &file, &["256"]);
        assert_status(&o, 1);
        assert!(stderr(&o).contains("warning"), "{}", stderr(&o));
        assert!(stderr(&o).contains("256"), "{}", stderr(&o));

        let o = run(e, &[], &file, &["trap"]);
        assert_status(&o, 134);
        assert_eq!(stdout(&o), "about to trap\n");
        let err = stderr(&o);
        assert!(err.contains("unreachable"), "{err}");
        assert!(err.contains("wasm backtrace"), "{err}");
        assert!(err.contains("_start"), "{err}");
    }
}

#[test]
fn escapes_fail_with_enotcapable() {
    for e in engines() {
        let root = temp_dir("escape");
        let sandbox = root.join("sandbox");
        std::fs::create_dir_all(sandbox.join("inside")).unwrap();
        std::fs::write(sandbox.join("inside/file.txt"), "inside").unwrap();
        std::fs::write(root.join("secret.txt"), "TOP SECRET").unwrap();
        std::os::unix::fs::symlink("../secret.txt", sandbox.join("link_out")).unwrap();
        std::os::unix::fs::symlink(root.join("secret.txt"), sandbox.join("abs_link")).unwrap();
        std::os::unix::fs::symlink("..", sandbox.join("up")).unwrap();
        // Mounted as `/`: `/..` and friends must not reach the host's parent either.
        for guest in ["/sandbox", "/"] {
            let mount = format!("{}::{guest}", sandbox.display());
            let out = ok(run(
                e,
                &["--dir", &mount],
                &fixture("escape"),
                &[guest.trim_end_matches('/')],
            ));
            assert!(!out.contains("ESCAPED"), "{out}");
            assert!(!out.contains("TOP SECRET"), "{out}");
            for line in out.lines().filter(|l| l.contains("errno=")) {
                assert!(line.ends_with("errno=76"), "{guest}: {out}");
            }
            assert!(out.ends_with("inside ok=1\n"), "{out}");
        }
        assert!(!root.join("made_by_guest").exists());
        std::fs::remove_dir_all(root).unwrap();
    }
}

#[test]
fn invoke_runs_an_export_of_a_wasi_module() {
    for e in engines() {
        let o = run(e, &["--invoke", "_start"], &fixture("hello"), &[]);
        assert_eq!(ok(o), "hello, world\n");
    }
}

#[test]
fn usage_errors() {
    let hello = fixture("hello");
    for (flags, needle) in [
        (&["--env", "=v"][..], "expected NAME=VALUE or NAME"),
        (&["--dir", "::/x:ro"][..], "HOST::GUEST:ro"),
        (&["--dir", "/nonexistent/kiln/dir"][..], "not a directory"),
        (&["--dir", "::/x"][..], "HOST::GUEST"),
    ] {
        let o = run("interp", flags, &hello, &[]);
        assert_status(&o, 2);
        assert!(stderr(&o).contains(needle), "{flags:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), "");
    }
    for engine in ["jit", "tiered"] {
        if !EngineKind::from_name(engine).unwrap().is_available() {
            let o = run(engine, &[], &hello, &[]);
            assert_status(&o, 2);
            assert!(stderr(&o).contains("not built yet"), "{}", stderr(&o));
        }
    }
}

#[test]
fn stats_go_to_stderr() {
    for e in engines() {
        let o = run(e, &["--stats"], &fixture("hello"), &[]);
        assert_eq!(ok(o.clone()), "hello, world\n");
        assert!(stderr(&o).contains("tiering statistics"), "{}", stderr(&o));
    }
}

#[test]
fn compile_and_inspect() {
    let hello = fixture("hello");
    let o = Command::new(KILN)
        .arg("compile")
        .arg(&hello)
        .output()
        .unwrap();
    let out = ok(o);
    assert!(out.contains("valid"), "{out}");
    assert!(out.contains("functions"), "{out}");

    let o = Command::new(KILN)
        .arg("inspect")
        .arg(&hello)
        .output()
        .unwrap();
    let out = ok(o);
    for needle in [
        "imports (",
        "wasi_snapshot_preview1::fd_write: func (i32, i32, i32, i32) -> (i32)",
        "wasi_snapshot_preview1::proc_exit: func (i32) -> ()",
        "exports (2):",
        "_start: func () -> ()",
        "memory: memory",
        "memories (1):",
        "exported as memory",
        "custom sections (",
        "functions: ",
        "code size: ",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }

    let fib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/fib.wat");
    let out = ok(Command::new(KILN)
        .arg("inspect")
        .arg(&fib)
        .output()
        .unwrap());
    assert!(out.contains("imports (0):"), "{out}");
    assert!(out.contains("fib: func (i64) -> (i64)"), "{out}");

    // Errors: an invalid module exits 1, a missing FILE argument 2.
    let bad = temp_dir("compile").join("bad.wat");
    std::fs::write(&bad, r#"(module (func (export "x") i32.add))"#).unwrap();
    for cmd in ["compile", "inspect"] {
        let o = Command::new(KILN).arg(cmd).arg(&bad).output().unwrap();
        assert_status(&o, 1);
        assert!(stderr(&o).contains("compile error"), "{}", stderr(&o));
        let o = Command::new(KILN).arg(cmd).output().unwrap();
        assert_status(&o, 2);
    }
}

#[test]
fn non_wasi_imports_are_link_errors() {
    let dir = temp_dir("link");
    let f = dir.join("m.wat");
    std::fs::write(
        &f,
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
            (import "env" "log" (func (param i32)))
            (func (export "_start")))"#,
    )
    .unwrap();
    let o = run("interp", &[], &f, &[]);
    assert_status(&o, 1);
    assert!(stderr(&o).contains("env::log"), "{}", stderr(&o));
}

/// The `fuel: N used, M left` line of `--stats`.
fn fuel_line(o: &Output) -> String {
    stderr(o)
        .lines()
        .find(|l| l.starts_with("fuel: "))
        .unwrap_or_else(|| panic!("no fuel line: {}", stderr(o)))
        .to_string()
}

#[test]
fn fuel_flag_bounds_the_guest_identically_in_every_engine() {
    let fib = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/fib.wat"));
    let mut used = Vec::new();
    for e in engines() {
        // Enough fuel: the result, and the same count used in every engine.
        let o = run(
            e,
            &["--fuel", "10000000", "--stats", "--invoke", "fib"],
            &fib,
            &["20"],
        );
        assert_eq!(ok(o.clone()), "6765\n", "{e}");
        used.push((e, fuel_line(&o)));
        // Too little: a trap (exit 134) that says why.
        let o = run(e, &["--fuel", "1000", "--invoke", "fib"], &fib, &["20"]);
        assert_eq!(o.status.code(), Some(134), "{e}: {}", stderr(&o));
        assert!(stderr(&o).contains("fuel"), "{e}: {}", stderr(&o));
        // A WASI command under a budget: runs with enough, traps without.
        let o = run(
            e,
            &["--fuel", "10000000", "--stats"],
            &fixture("hello"),
            &[],
        );
        assert_eq!(ok(o.clone()), "hello, world\n", "{e}");
        used.push((e, fuel_line(&o)));
        let o = run(e, &["--fuel", "10"], &fixture("hello"), &[]);
        assert_eq!(o.status.code(), Some(134), "{e}: {}", stderr(&o));
    }
    let fib_lines: Vec<_> = used.iter().step_by(2).map(|(_, l)| l).collect();
    let hello_lines: Vec<_> = used.iter().skip(1).step_by(2).map(|(_, l)| l).collect();
    assert!(fib_lines.windows(2).all(|w| w[0] == w[1]), "{used:?}");
    assert!(hello_lines.windows(2).all(|w| w[0] == w[1]), "{used:?}");
    assert!(!fib_lines[0].starts_with("fuel: 0 used"), "{used:?}");
}

/// A WASI command that prints the filetype `fd_fdstat_get` reports for fds 0, 1 and 2 as
/// three digits (`E` when the call fails) on stdout.
const STDIO_TYPES: &str = r#"(module
    (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (func $digit (param $fd i32) (result i32)
        (if (call $fdstat (local.get $fd) (i32.const 64)) (then (return (i32.const 69))))
        (i32.add (i32.load8_u (i32.const 64)) (i32.const 48)))
    (func (export "_start")
        (i32.store8 (i32.const 100) (call $digit (i32.const 0)))
        (i32.store8 (i32.const 101) (call $digit (i32.const 1)))
        (i32.store8 (i32.const 102) (call $digit (i32.const 2)))
        (i32.store8 (i32.const 103) (i32.const 10))
        (i32.store (i32.const 0) (i32.const 100))
        (i32.store (i32.const 4) (i32.const 4))
        (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;

/// `kiln run --engine ENGINE FILE` with the given stdio; returns what the guest printed
/// (read from `out` when stdout went to that file).
fn stdio_types(
    engine: &str,
    file: &Path,
    stdin: Stdio,
    out: Stdio,
    out_file: Option<&Path>,
) -> String {
    let o = Command::new(KILN)
        .args(["run", "--engine", engine])
        .arg(file)
        .stdin(stdin)
        .stdout(out)
        .stderr(Stdio::piped())
        .output()
        .expect("kiln runs");
    assert_status(&o, 0);
    match out_file {
        Some(path) => std::fs::read_to_string(path).unwrap(),
        None => stdout(&o),
    }
}

#[test]
fn redirected_stdio_is_not_a_terminal() {
    // WASI filetypes: 0 unknown (a pipe, /dev/null), 4 regular file.
    let dir = temp_dir("stdio-types");
    let module = dir.join("types.wat");
    std::fs::write(&module, STDIO_TYPES).unwrap();
    let input = dir.join("input");
    std::fs::write(&input, b"data").unwrap();
    let file = |p: &Path| Stdio::from(std::fs::File::open(p).unwrap());
    for e in engines() {
        // stdout to a pipe, stdin from a pipe, stderr to a pipe.
        let piped = stdio_types(e, &module, Stdio::piped(), Stdio::piped(), None);
        assert_eq!(piped, "000\n", "{e}");
        // stdout to a file, stdin from a file.
        let out = dir.join(format!("out-{e}"));
        let to_file = Stdio::from(std::fs::File::create(&out).unwrap());
        let redirected = stdio_types(e, &module, file(&input), to_file, Some(&out));
        assert_eq!(redirected, "440\n", "{e}");
        // /dev/null is a character device, but no terminal.
        let null = stdio_types(e, &module, Stdio::null(), Stdio::piped(), None);
        assert_eq!(null, "000\n", "{e}");
        // A terminal (a pseudo-terminal from util-linux `script`) stays a character device.
        if Path::new("/usr/bin/script").exists() {
            let command = format!("'{KILN}' run --engine {e} '{}'", module.display());
            let o = Command::new("/usr/bin/script")
                .args(["-qec", &command, "/dev/null"])
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert_eq!(ok(o), "222\r\n", "{e}");
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A WASI command that tries to read and to change the preopened directory (fd 3) and
/// prints each call's errno (two digits) on stdout: open `existing` for reading, create
/// `new`, open `existing` for writing, truncate it, create directory `dir`, rename
/// `existing` to `moved`, unlink `new`.
const CHANGE_PREOPEN: &str = r#"(module
    (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "path_create_directory" (func $mkdir (param i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "path_unlink_file" (func $unlink (param i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "path_rename" (func $rename (param i32 i32 i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 100) "existing")
    (data (i32.const 120) "new")
    (data (i32.const 140) "dir")
    (data (i32.const 160) "moved")
    (global $out (mut i32) (i32.const 1000))
    (func $emit (param $errno i32)
        (i32.store8 (global.get $out) (i32.add (i32.div_u (local.get $errno) (i32.const 10)) (i32.const 48)))
        (i32.store8 (i32.add (global.get $out) (i32.const 1))
            (i32.add (i32.rem_u (local.get $errno) (i32.const 10)) (i32.const 48)))
        (i32.store8 (i32.add (global.get $out) (i32.const 2)) (i32.const 32))
        (global.set $out (i32.add (global.get $out) (i32.const 3))))
    (func $open_existing (param $oflags i32) (param $rights i64) (result i32)
        (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 8) (local.get $oflags)
            (local.get $rights) (i64.const 0) (i32.const 0) (i32.const 40)))
    (func (export "_start")
        ;; rights: fd_read = 2, fd_write = 64; oflags: creat = 1, trunc = 8
        (call $emit (call $open_existing (i32.const 0) (i64.const 2)))
        (call $emit (call $open (i32.const 3) (i32.const 0) (i32.const 120) (i32.const 3) (i32.const 1)
            (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 40)))
        (call $emit (call $open_existing (i32.const 0) (i64.const 64)))
        (call $emit (call $open_existing (i32.const 8) (i64.const 2)))
        (call $emit (call $mkdir (i32.const 3) (i32.const 140) (i32.const 3)))
        (call $emit (call $rename (i32.const 3) (i32.const 100) (i32.const 8) (i32.const 3) (i32.const 160) (i32.const 5)))
        (call $emit (call $unlink (i32.const 3) (i32.const 120) (i32.const 3)))
        (i32.store8 (i32.sub (global.get $out) (i32.const 1)) (i32.const 10))
        (i32.store (i32.const 0) (i32.const 1000))
        (i32.store (i32.const 4) (i32.sub (global.get $out) (i32.const 1000)))
        (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn read_only_dirs_refuse_changes_with_eperm() {
    let dir = temp_dir("read-only");
    let module = dir.join("change.wat");
    std::fs::write(&module, CHANGE_PREOPEN).unwrap();
    for e in engines() {
        let data = dir.join(format!("data-{e}"));
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("existing"), b"keep me").unwrap();
        let ro = format!("{}::/data:ro", data.display());
        // Reading works; every change fails with EPERM (63) and the tree is untouched.
        let out = ok(run(e, &["--dir", &ro], &module, &[]));
        assert_eq!(out, "00 63 63 63 63 63 63\n", "{e}");
        assert_eq!(names_in(&data), ["existing"], "{e}");
        assert_eq!(std::fs::read(data.join("existing")).unwrap(), b"keep me");
        // The same directory writable: the same calls succeed.
        let rw = format!("{}::/data", data.display());
        let out = ok(run(e, &["--dir", &rw], &module, &[]));
        assert_eq!(out, "00 00 00 00 00 00 00\n", "{e}");
        assert_eq!(names_in(&data), ["dir", "moved"], "{e}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A `.wat` file holding `text`, in a fresh directory.
fn wat(tag: &str, text: &str) -> PathBuf {
    let path = temp_dir(tag).join("module.wat");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn timeout_stops_a_runaway_guest() {
    let spin = wat(
        "timeout",
        r#"(module
            (func (export "_start") (loop br 0))
            (func (export "spin") (param i32) (result i32) (loop br 0) (local.get 0))
            (func (export "quick") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))"#,
    );
    for e in engines() {
        for invoke in [&[][..], &["--invoke", "spin"][..]] {
            let mut flags = vec!["--timeout", "300ms"];
            flags.extend_from_slice(invoke);
            let args: &[&str] = if invoke.is_empty() { &[] } else { &["1"] };
            let started = std::time::Instant::now();
            let o = run(e, &flags, &spin, args);
            assert_status(&o, 134);
            assert!(
                stderr(&o).contains("timeout: the guest ran for longer than 300ms"),
                "{e}: {}",
                stderr(&o)
            );
            assert!(
                stderr(&o).contains("deadline exceeded"),
                "{e}: {}",
                stderr(&o)
            );
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "{e}"
            );
        }
        // A guest that finishes in time is not affected.
        let o = run(e, &["--timeout", "1m", "--invoke", "quick"], &spin, &["41"]);
        assert_eq!(ok(o), "42\n", "{e}");
    }
    let bad = run(engines()[0], &["--timeout", "5"], &spin, &[]);
    assert_status(&bad, 2);
    assert!(stderr(&bad).contains("--timeout"), "{}", stderr(&bad));
}

#[test]
fn max_memory_caps_growth() {
    // Grows by 16 pages (1 MiB) from 1 page and prints the old size, or -1.
    let grow = wat(
        "max-memory",
        r#"(module
            (memory 1)
            (func (export "grow") (result i32) (memory.grow (i32.const 16))))"#,
    );
    let big = wat(
        "max-memory-min",
        r#"(module (memory 32) (func (export "f")))"#,
    );
    for e in engines() {
        let grow_with = |limit: &str| {
            ok(run(
                e,
                &["--max-memory", limit, "--invoke", "grow"],
                &grow,
                &[],
            ))
        };
        assert_eq!(grow_with("1MiB"), "-1\n", "{e}");
        assert_eq!(grow_with("16pages"), "-1\n", "{e}");
        assert_eq!(grow_with("17pages"), "1\n", "{e}");
        assert_eq!(grow_with("64MiB"), "1\n", "{e}");
        // A module whose minimum is above the cap does not start.
        let o = run(e, &["--max-memory", "1MiB", "--invoke", "f"], &big, &[]);
        assert_status(&o, 1);
    }
    let o = run(
        engines()[0],
        &["--max-memory", "1000", "--invoke", "grow"],
        &grow,
        &[],
    );
    assert_status(&o, 2);
    assert!(stderr(&o).contains("64 KiB pages"), "{}", stderr(&o));
}

#[test]
fn env_name_alone_copies_the_host_value() {
    for e in engines() {
        let o = Command::new(KILN)
            .args(["run", "--engine", e])
            .args([
                "--env",
                "KILN_TEST_FROM_HOST",
                "--env",
                "KILN_TEST_UNSET_ON_HOST",
            ])
            .args(["--env", "SET=here"])
            .arg(fixture("args_env"))
            .env("KILN_TEST_FROM_HOST", "host value")
            .env_remove("KILN_TEST_UNSET_ON_HOST")
            .output()
            .unwrap();
        let out = ok(o);
        assert!(out.contains("KILN_TEST_FROM_HOST=host value"), "{e}: {out}");
        assert!(out.contains("SET=here"), "{e}: {out}");
        assert!(!out.contains("KILN_TEST_UNSET_ON_HOST"), "{e}: {out}");
    }
}

#[test]
fn trap_unknown_imports_defines_traps() {
    let f = wat(
        "trap-imports",
        r#"(module
            (import "env" "log" (func $log (param i32)))
            (import "env" "now" (func $now (result i64)))
            (import "other" "f" (func $f (param f64) (result f64 i32)))
            (func (export "no_call") (result i32) (i32.const 7))
            (func (export "call_log") (call $log (i32.const 1))))"#,
    );
    for e in engines() {
        // Without the flag: a link error naming the import and the flag.
        let o = run(e, &["--invoke", "no_call"], &f, &[]);
        assert_status(&o, 1);
        assert!(stderr(&o).contains("env::log"), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("--trap-unknown-imports"),
            "{}",
            stderr(&o)
        );
        // With it: the module links, runs, and traps only when an import is called.
        let flags = ["--trap-unknown-imports", "--invoke"];
        let o = run(e, &[&flags[..], &["no_call"]].concat(), &f, &[]);
        assert_eq!(ok(o), "7\n", "{e}");
        let o = run(e, &[&flags[..], &["call_log"]].concat(), &f, &[]);
        assert_status(&o, 134);
        assert!(
            stderr(&o).contains("called unknown import `env::log`"),
            "{e}: {}",
            stderr(&o)
        );
    }
    // Only functions are defined: a missing memory is still a link error.
    let mem = wat(
        "trap-imports-mem",
        r#"(module (import "env" "mem" (memory 1)) (func (export "f")))"#,
    );
    let o = run(
        engines()[0],
        &["--trap-unknown-imports", "--invoke", "f"],
        &mem,
        &[],
    );
    assert_status(&o, 1);
    assert!(stderr(&o).contains("env::mem"), "{}", stderr(&o));
}

#[test]
fn reactor_initialize_runs_before_invoke() {
    // `_initialize` sets the global that `get` reads, and writes a line through WASI.
    let f = wat(
        "reactor",
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
            (memory (export "memory") 1)
            (data (i32.const 16) "initialized\n")
            (global $g (mut i32) (i32.const 0))
            (func (export "_initialize")
                (global.set $g (i32.add (global.get $g) (i32.const 41)))
                (i32.store (i32.const 0) (i32.const 16))
                (i32.store (i32.const 4) (i32.const 12))
                (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
            (func (export "get") (param i32) (result i32) (i32.add (global.get $g) (local.get 0))))"#,
    );
    for e in engines() {
        let o = run(e, &["--invoke", "get"], &f, &["1"]);
        assert_eq!(ok(o), "initialized\n42\n", "{e}");
    }
}
