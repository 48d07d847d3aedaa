//! WASI preview 1 through the API: C programs built for wasm32-wasi (sources and the
//! build script in `tests/wasi/`) run in every available engine with in-memory stdio.
//! A missing fixture fails the test; it is never skipped.

use kiln::{EngineKind, Error, Module, ModuleConfig, Runtime, RuntimeConfig, TrapCode};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const ENGINES: [EngineKind; 3] = [EngineKind::Interp, EngineKind::Jit, EngineKind::Tiered];

/// Runs `f` with a WASI-ready runtime of each engine this build has.
fn each_engine(mut f: impl FnMut(&Runtime)) {
    let mut ran = 0;
    for engine in ENGINES {
        if !engine.is_available() {
            eprintln!("skipping engine `{}`: not built yet", engine.name());
            continue;
        }
        let runtime = Runtime::with_config(RuntimeConfig::new().with_engine(engine)).unwrap();
        kiln::wasi::instantiate(&runtime).unwrap();
        f(&runtime);
        ran += 1;
    }
    assert!(ran > 0, "no engine is available");
}

/// The bytes of `tests/wasi/NAME.wasm`.
fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/wasi")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "missing WASI fixture {}: {e}; rebuild with api/tests/wasi/build.sh",
            path.display()
        )
    })
}

/// An in-memory stdout/stderr.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

struct Run {
    result: kiln::Result<Module>,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn ok(&self) -> &str {
        if let Err(e) = &self.result {
            panic!(
                "expected success, got {e}\nstdout:\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            );
        }
        &self.stdout
    }

    #[track_caller]
    fn exit_code(&self) -> u32 {
        match &self.result {
            Err(Error::Exit(e)) => e.exit_code(),
            Ok(m) if m.is_closed() => m.exit_code().unwrap(),
            Ok(_) => panic!("module still open: it returned from _start"),
            Err(e) => panic!("expected an exit, got {e}"),
        }
    }
}

/// Runs fixture `name` (its `_start`) with `config` plus captured stdout and stderr.
fn run(runtime: &Runtime, name: &str, config: ModuleConfig) -> Run {
    let (out, err) = (Capture::default(), Capture::default());
    let compiled = runtime.compile(&fixture(name)).unwrap();
    let result = runtime.instantiate(
        &compiled,
        config.with_stdout(out.clone()).with_stderr(err.clone()),
    );
    Run {
        result,
        stdout: out.text(),
        stderr: err.text(),
    }
}

/// A fresh empty directory under Cargo's temp dir.
fn temp_dir(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("kiln-wasi-tests")
        .join(format!("{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn hello_world() {
    each_engine(|rt| {
        let r = run(rt, "hello", ModuleConfig::new());
        assert_eq!(r.ok(), "hello, world\n");
        // `_start` returned: the module stays open.
        assert!(!r.result.as_ref().unwrap().is_closed());
    });
}

#[test]
fn stdout_is_discarded_by_default() {
    each_engine(|rt| {
        let compiled = rt.compile(&fixture("hello")).unwrap();
        rt.instantiate(&compiled, ModuleConfig::new()).unwrap();
    });
}

#[test]
fn args_and_env() {
    each_engine(|rt| {
        let config = ModuleConfig::new()
            .with_args(["args_env", "one", "two words", "--flag", ""])
            .with_env("GREETING", "hi there")
            .with_env("EMPTY", "");
        let r = run(rt, "args_env", config);
        assert_eq!(
            r.ok(),
            "argc=5\nargv[0]=args_env\nargv[1]=one\nargv[2]=two words\nargv[3]=--flag\n\
             argv[4]=\nenv GREETING=hi there\nenv EMPTY=\nGREETING=hi there\n"
        );
        // Nothing by default.
        let r = run(rt, "args_env", ModuleConfig::new());
        assert_eq!(r.ok(), "argc=0\nGREETING=(unset)\n");
    });
}

#[test]
fn invalid_env_fails_instantiation() {
    each_engine(|rt| {
        let compiled = rt.compile(&fixture("args_env")).unwrap();
        let err = rt
            .instantiate(&compiled, ModuleConfig::new().with_env("A=B", "c"))
            .unwrap_err();
        assert!(matches!(err, Error::Instantiate(_)), "{err}");
    });
}

#[test]
fn stdin_is_read_to_the_end() {
    each_engine(|rt| {
        let input = std::io::Cursor::new(b"hello\nwasi world\n".to_vec());
        let r = run(rt, "stdin", ModuleConfig::new().with_stdin(input));
        assert_eq!(r.ok(), "bytes=17 lines=2\nHELLO\nWASI WORLD\n");
        assert_eq!(r.stderr, "done reading\n");
        let r = run(rt, "stdin", ModuleConfig::new());
        assert_eq!(r.ok(), "bytes=0 lines=0\n");
    });
}

#[test]
fn files_in_a_preopened_directory() {
    each_engine(|rt| {
        let dir = temp_dir("files");
        std::fs::write(dir.join("input.txt"), "from the host\n").unwrap();
        let config = ModuleConfig::new()
            .with_args(["files", "/sandbox"])
            .with_preopen_dir(&dir, "/sandbox");
        let r = run(rt, "files", config);
        let out = r.ok();
        assert!(out.contains("input: from the host\n"), "{out}");
        assert!(out.ends_with("ok create result.txt\nall ok\n"), "{out}");
        assert!(!out.contains("fail:"), "{out}");
        assert_eq!(
            std::fs::read_to_string(dir.join("result.txt")).unwrap(),
            "written by the guest\n"
        );
        let mut left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["input.txt", "result.txt"]);
        std::fs::remove_dir_all(dir).unwrap();
    });
}

#[test]
fn preopen_named_root_and_relative_paths() {
    each_engine(|rt| {
        let dir = temp_dir("root");
        std::fs::write(dir.join("input.txt"), "rooted\n").unwrap();
        // With the directory mounted as `/`, the program's `/` paths land in it.
        let config = ModuleConfig::new()
            .with_args(["files", ""])
            .with_preopen_dir(&dir, "/");
        let r = run(rt, "files", config);
        assert!(r.ok().ends_with("all ok\n"), "{}", r.stdout);
        assert!(dir.join("result.txt").exists());
        std::fs::remove_dir_all(dir).unwrap();
    });
}

#[test]
fn listing_a_directory() {
    each_engine(|rt| {
        let dir = temp_dir("list");
        std::fs::write(dir.join("a.txt"), "a").unwrap();
        std::fs::create_dir(dir.join("b")).unwrap();
        std::os::unix::fs::symlink("a.txt", dir.join("c")).unwrap();
        let config = ModuleConfig::new()
            .with_args(["listdir", "/d"])
            .with_preopen_dir(&dir, "/d");
        let r = run(rt, "listdir", config);
        assert_eq!(r.ok(), "f a.txt\nd b\nl c\n3 entries\n");

        // Enough entries to need several fd_readdir calls (cookies).
        let big = dir.join("b");
        for i in 0..300 {
            std::fs::write(big.join(format!("file-with-a-longish-name-{i:03}")), "").unwrap();
        }
        let config = ModuleConfig::new()
            .with_args(["listdir", "/d/b"])
            .with_preopen_dir(&dir, "/d");
        let r = run(rt, "listdir", config);
        let out = r.ok();
        assert!(out.ends_with("300 entries\n"), "{out}");
        assert!(out.starts_with("f file-with-a-longish-name-000\n"), "{out}");

        // A missing directory.
        let config = ModuleConfig::new()
            .with_args(["listdir", "/d/missing"])
            .with_preopen_dir(&dir, "/d");
        let r = run(rt, "listdir", config);
        assert_eq!(r.exit_code(), 1);
        assert!(r.stdout.contains("errno=44"), "{}", r.stdout);
        std::fs::remove_dir_all(dir).unwrap();
    });
}

#[test]
fn clocks_and_random_are_deterministic_by_default() {
    each_engine(|rt| {
        let config = || ModuleConfig::new().with_args(["clock_random", "show"]);
        let first = run(rt, "clock_random", config());
        let second = run(rt, "clock_random", config());
        let out = first.ok();
        assert_eq!(out, second.ok(), "deterministic defaults");
        for line in out.lines().filter(|l| l.starts_with("ok ")) {
            assert!(line.ends_with(": 1"), "{out}");
        }
        // Wall clock at 2022-01-01, 1 ms per reading of the monotonic clock.
        assert!(out.contains("realtime=1640995200.000000000\n"), "{out}");
        assert!(out.contains("monotonic delta=1000000\n"), "{out}");
    });
}

#[test]
fn clocks_and_random_from_the_config() {
    each_engine(|rt| {
        let config = ModuleConfig::new()
            .with_args(["clock_random", "show"])
            .with_sys_walltime()
            .with_sys_nanotime()
            .with_sys_nanosleep()
            .with_rand_source(std::io::Cursor::new((0u8..64).collect::<Vec<u8>>()));
        let r = run(rt, "clock_random", config);
        let out = r.ok();
        for line in out.lines().filter(|l| l.starts_with("ok ")) {
            assert!(line.ends_with(": 1"), "{out}");
        }
        assert!(
            out.contains("random=000102030405060708090a0b0c0d0e0f\n"),
            "{out}"
        );
        let delta: u64 = out
            .lines()
            .find_map(|l| l.strip_prefix("monotonic delta="))
            .unwrap()
            .parse()
            .unwrap();
        assert!(delta >= 2_000_000, "slept 2 ms for real: {delta}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let real: u64 = out
            .lines()
            .find_map(|l| l.strip_prefix("realtime="))
            .and_then(|t| t.split('.').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!(real.abs_diff(now) < 60, "{real} vs {now}");

        // Custom clock hooks.
        let config = ModuleConfig::new()
            .with_args(["clock_random", "show"])
            .with_walltime(|| 2_000_000_000_123_456_789, 1)
            .with_nanotime(
                {
                    let t = std::sync::atomic::AtomicU64::new(0);
                    move || t.fetch_add(5, Ordering::Relaxed)
                },
                1,
            );
        let r = run(rt, "clock_random", config);
        assert!(
            r.ok().contains("realtime=2000000000.123456789\n"),
            "{}",
            r.stdout
        );
        assert!(r.ok().contains("monotonic delta=5\n"), "{}", r.stdout);
    });
}

#[test]
fn exit_codes() {
    each_engine(|rt| {
        let exit = |args: &[&str]| {
            let mut all = vec!["exit_code"];
            all.extend_from_slice(args);
            run(rt, "exit_code", ModuleConfig::new().with_args(all))
        };
        let r = exit(&["3"]);
        assert_eq!(r.exit_code(), 3);
        assert_eq!(r.stdout, "exiting with 3\n");
        assert_eq!(exit(&["return", "7"]).exit_code(), 7);
        assert_eq!(exit(&["255"]).exit_code(), 255);
        assert_eq!(exit(&["256"]).exit_code(), 256);
        // exit(0) closes the module with code 0, and instantiation succeeds.
        let r = exit(&["0"]);
        assert_eq!(r.ok(), "exiting with 0\n");
        assert_eq!(r.exit_code(), 0);
        // A trap is a trap, not an exit.
        let r = exit(&["trap"]);
        assert_eq!(r.stdout, "about to trap\n");
        match &r.result {
            Err(Error::Trap(t)) => assert_eq!(t.code(), TrapCode::Unreachable),
            Err(e) => panic!("expected a trap, got {e}"),
            Ok(_) => panic!("expected a trap"),
        }
    });
}

#[test]
fn escapes_fail_with_enotcapable() {
    each_engine(|rt| {
        let root = temp_dir("escape");
        let sandbox = root.join("sandbox");
        std::fs::create_dir_all(sandbox.join("inside")).unwrap();
        std::fs::write(sandbox.join("inside/file.txt"), "inside").unwrap();
        std::fs::write(root.join("secret.txt"), "TOP SECRET").unwrap();
        std::os::unix::fs::symlink("../secret.txt", sandbox.join("link_out")).unwrap();
        std::os::unix::fs::symlink(root.join("secret.txt"), sandbox.join("abs_link")).unwrap();
        std::os::unix::fs::symlink("..", sandbox.join("up")).unwrap();
        let config = ModuleConfig::new()
            .with_args(["escape", "/sandbox"])
            .with_preopen_dir(&sandbox, "/sandbox");
        let r = run(rt, "escape", config);
        let out = r.ok();
        assert!(!out.contains("ESCAPED"), "{out}");
        for name in [
            "dotdot",
            "dotdot_deep",
            "symlink_relative",
            "symlink_absolute",
            "symlink_dir",
            "raw_absolute",
            "raw_dotdot",
            "raw_symlink",
            "stat_symlink",
            "mkdir_outside",
            "create_through_symlink",
            "own_symlink",
        ] {
            assert!(
                out.lines().any(|l| l == format!("{name} errno=76")),
                "{name} should fail with ENOTCAPABLE (76):\n{out}"
            );
        }
        assert!(out.ends_with("inside ok=1\n"), "{out}");
        assert!(!root.join("made_by_guest").exists());
        assert!(!root.join("created_by_guest").exists());
        std::fs::remove_dir_all(root).unwrap();
    });
}

#[test]
fn missing_preopen_fails_instantiation() {
    each_engine(|rt| {
        let compiled = rt.compile(&fixture("hello")).unwrap();
        let config = ModuleConfig::new().with_preopen_dir("/nonexistent/kiln/dir", "/x");
        let err = rt.instantiate(&compiled, config).unwrap_err();
        assert!(matches!(err, Error::Instantiate(_)), "{err}");
        assert!(err.to_string().contains("/nonexistent/kiln/dir"), "{err}");
    });
}

#[test]
fn wasi_needs_the_host_module() {
    let rt = Runtime::with_config(RuntimeConfig::interpreter()).unwrap();
    let compiled = rt.compile(&fixture("hello")).unwrap();
    let err = rt.instantiate(&compiled, ModuleConfig::new()).unwrap_err();
    assert!(matches!(err, Error::Link(_)), "{err}");
    assert!(err.to_string().contains("wasi_snapshot_preview1"), "{err}");
}

#[test]
fn raw_calls_from_wat() {
    each_engine(|rt| {
        let wasm = wat::parse_str(
            r#"(module
            (import "wasi_snapshot_preview1" "sock_accept" (func $accept (param i32 i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
            (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "clock_time_get" (func $time (param i32 i64 i32) (result i32)))
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (data (i32.const 16) "hi\n")
            (func (export "accept") (result i32) (call $accept (i32.const 3) (i32.const 0) (i32.const 0)))
            (func (export "close_bad") (result i32) (call $close (i32.const 99)))
            (func (export "bad_iovec") (result i32)
                (i32.store (i32.const 0) (i32.const 65535))
                (i32.store (i32.const 4) (i32.const 16))
                (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
            (func (export "write") (result i32)
                (i32.store (i32.const 0) (i32.const 16))
                (i32.store (i32.const 4) (i32.const 3))
                (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
            (func (export "bad_clock") (result i32) (call $time (i32.const 9) (i64.const 0) (i32.const 0)))
            (func (export "exit") (call $exit (i32.const 42)) unreachable))"#,
        )
        .unwrap();
        let out = Capture::default();
        let compiled = rt.compile(&wasm).unwrap();
        let m = rt
            .instantiate(&compiled, ModuleConfig::new().with_stdout(out.clone()))
            .unwrap();
        let call = |name: &str| m.exported_function(name).unwrap().call(&[]);
        assert_eq!(call("accept").unwrap(), [58], "ENOTSUP");
        assert_eq!(call("close_bad").unwrap(), [8], "EBADF");
        assert_eq!(call("bad_iovec").unwrap(), [21], "EFAULT");
        assert_eq!(call("write").unwrap(), [0]);
        assert_eq!(m.memory().unwrap().read_u32_le(8), Some(3));
        assert_eq!(out.text(), "hi\n");
        assert_eq!(call("bad_clock").unwrap(), [28], "EINVAL");
        let err = call("exit").unwrap_err();
        assert_eq!(err.as_exit().unwrap().exit_code(), 42);
        assert!(m.is_closed());
        assert_eq!(m.exit_code(), Some(42));
    });
}

/// Exports `fdstat_type(fd)` and `filestat_type(fd)`: the filetype `fd_fdstat_get` and
/// `fd_filestat_get` report for `fd`, or -1 when the call fails.
const FILETYPES: &str = r#"(module
    (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_filestat_get" (func $filestat (param i32 i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "fdstat_type") (param $fd i32) (result i32)
        (if (call $fdstat (local.get $fd) (i32.const 0)) (then (return (i32.const -1))))
        (i32.load8_u (i32.const 0)))
    (func (export "filestat_type") (param $fd i32) (result i32)
        (if (call $filestat (local.get $fd) (i32.const 64)) (then (return (i32.const -1))))
        (i32.load8_u (i32.const 80))))"#;

const FILETYPE_UNKNOWN: u64 = 0;
const FILETYPE_REGULAR_FILE: u64 = 4;

/// The filetypes reported for fds 0, 1 and 2, by `fd_fdstat_get` then `fd_filestat_get`.
fn stdio_filetypes(rt: &Runtime, config: ModuleConfig) -> Vec<(u64, u64)> {
    let compiled = rt.compile(&wat::parse_str(FILETYPES).unwrap()).unwrap();
    let m = rt.instantiate(&compiled, config).unwrap();
    let ty = |name: &str, fd: u64| m.exported_function(name).unwrap().call(&[fd]).unwrap()[0];
    (0..3)
        .map(|fd| (ty("fdstat_type", fd), ty("filestat_type", fd)))
        .collect()
}

#[test]
fn in_memory_stdio_is_not_a_terminal() {
    each_engine(|rt| {
        let unknown = (FILETYPE_UNKNOWN, FILETYPE_UNKNOWN);
        // Nothing configured (empty stdin, discarded output), then in-memory streams:
        // streams that are neither terminals nor seekable, like pipes.
        assert_eq!(stdio_filetypes(rt, ModuleConfig::new()), [unknown; 3]);
        let config = ModuleConfig::new()
            .with_stdin(std::io::Cursor::new(b"in".to_vec()))
            .with_stdout(Vec::new())
            .with_stderr(Capture::default());
        assert_eq!(stdio_filetypes(rt, config), [unknown; 3]);
    });
}

#[test]
fn host_files_as_stdio_report_their_type() {
    each_engine(|rt| {
        let dir = temp_dir("stdio-files");
        let input = dir.join("input");
        std::fs::write(&input, b"data").unwrap();
        let file = (FILETYPE_REGULAR_FILE, FILETYPE_REGULAR_FILE);
        let unknown = (FILETYPE_UNKNOWN, FILETYPE_UNKNOWN);
        let config = ModuleConfig::new()
            .with_stdin(std::fs::File::open(&input).unwrap())
            .with_stdout(std::fs::File::create(dir.join("output")).unwrap())
            // A character device that is not a terminal is no terminal to the guest.
            .with_stderr(std::fs::File::create("/dev/null").unwrap());
        assert_eq!(stdio_filetypes(rt, config), [file, file, unknown]);
        std::fs::remove_dir_all(dir).unwrap();
    });
}

#[test]
fn read_only_preopens_refuse_changes() {
    // `mkdir(name)` and `create(name)` on the preopen (fd 3) return the errno.
    let wasm = wat::parse_str(
        r#"(module
        (import "wasi_snapshot_preview1" "path_create_directory" (func $mkdir (param i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "path_filestat_get" (func $stat (param i32 i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (data (i32.const 16) "d")
        (data (i32.const 17) "f")
        (data (i32.const 18) "existing")
        (func (export "mkdir") (result i32) (call $mkdir (i32.const 3) (i32.const 16) (i32.const 1)))
        (func (export "create") (result i32)
            (call $open (i32.const 3) (i32.const 0) (i32.const 17) (i32.const 1) (i32.const 1)
                (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 0)))
        (func (export "stat") (result i32)
            (call $stat (i32.const 3) (i32.const 0) (i32.const 18) (i32.const 8) (i32.const 100))))"#,
    )
    .unwrap();
    each_engine(|rt| {
        let dir = temp_dir("read-only-preopen");
        std::fs::write(dir.join("existing"), b"x").unwrap();
        let compiled = rt.compile(&wasm).unwrap();
        let errnos = |config: ModuleConfig| {
            let m = rt.instantiate(&compiled, config).unwrap();
            let call = |name: &str| m.exported_function(name).unwrap().call(&[]).unwrap()[0];
            [call("stat"), call("mkdir"), call("create")]
        };
        let ro = ModuleConfig::new().with_readonly_preopen_dir(&dir, "/");
        assert_eq!(errnos(ro), [0, 63, 63], "EPERM");
        assert!(!dir.join("d").exists() && !dir.join("f").exists());
        let rw = ModuleConfig::new().with_preopen_dir(&dir, "/");
        assert_eq!(errnos(rw), [0, 0, 0]);
        assert!(dir.join("d").is_dir() && dir.join("f").is_file());
        std::fs::remove_dir_all(dir).unwrap();
    });
}
