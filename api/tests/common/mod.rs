//! Helpers shared by the API test files: the engine loop, runtime constructors, WAT
//! parsing and assertions on errors.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use kiln::{EngineKind, Error, Module, Runtime, RuntimeConfig, TrapCode};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Every engine Kiln knows about, built or not.
pub const ENGINES: [EngineKind; 3] = [EngineKind::Interp, EngineKind::Jit, EngineKind::Tiered];

/// How long a call that should be stopped (interrupt, close, deadline) may take to return.
pub const STOP_BOUND: Duration = Duration::from_secs(2);

/// Runs `f` once per engine this build has, skipping (with a note) the others, so later
/// tiers inherit every test automatically.
pub fn each_engine(mut f: impl FnMut(EngineKind)) {
    let mut ran = 0;
    for engine in ENGINES {
        if !engine.is_available() {
            eprintln!("skipping engine `{}`: not built yet", engine.name());
            continue;
        }
        eprintln!("engine `{}`", engine.name());
        f(engine);
        ran += 1;
    }
    assert!(ran > 0, "no engine is available");
}

/// The configuration of `engine` with everything else default.
pub fn config(engine: EngineKind) -> RuntimeConfig {
    RuntimeConfig::new().with_engine(engine)
}

/// Engine configurations to compare, named: every engine, the interpreter first (the
/// reference), and `tiered` compiling each function on its first call, synchronously (so
/// from the second call on, calls run between compiled functions).
pub fn configs_with_eager_tiering() -> Vec<(String, RuntimeConfig)> {
    let mut out = Vec::new();
    each_engine(|engine| {
        out.push((engine.name().to_string(), config(engine)));
        if engine == EngineKind::Tiered {
            out.push((
                "tiered (threshold 1, sync)".to_string(),
                config(engine).with_tier_threshold(1).with_tier_sync(true),
            ));
        }
    });
    out
}

/// A runtime of `engine`.
pub fn runtime(engine: EngineKind) -> Runtime {
    Runtime::with_config(config(engine)).expect("engine is available")
}

/// Parses WAT text (panics on a typo in the test).
pub fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("test WAT parses")
}

/// Instantiates WAT text in `rt` with the default module config.
pub fn instantiate(rt: &Runtime, text: &str) -> Module {
    rt.instantiate_bytes(&wat(text)).expect("instantiate")
}

/// Appends a custom section `name` with `data` to a binary module.
pub fn append_custom_section(wasm: &mut Vec<u8>, name: &str, data: &[u8]) {
    let mut payload = Vec::new();
    leb128_u32(&mut payload, name.len() as u32);
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(data);
    wasm.push(0); // custom section id
    leb128_u32(wasm, payload.len() as u32);
    wasm.extend_from_slice(&payload);
}

pub fn leb128_u32(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Asserts that `err` is an exit error with `code`.
#[track_caller]
pub fn assert_exit(err: &Error, code: u32) {
    match err {
        Error::Exit(e) => assert_eq!(e.exit_code(), code, "exit code of {err}"),
        other => panic!("expected an exit error with code {code}, got {other:?}"),
    }
}

/// Asserts that `err` is a trap of kind `code` and returns the trap.
#[track_caller]
pub fn assert_trap(err: &Error, code: TrapCode) -> &kiln::Trap {
    match err {
        Error::Trap(t) => {
            assert_eq!(t.code(), code, "trap kind of {t}");
            t
        }
        other => panic!("expected a `{code}` trap, got {other:?}"),
    }
}

/// Asserts that `err` is a usage error.
#[track_caller]
pub fn assert_usage(err: &Error) {
    assert!(
        matches!(err, Error::Usage(_)),
        "expected a usage error, got {err:?}"
    );
}

/// Runs `f` on a new thread and waits at most `bound` for it to finish. Returns its
/// result and how long it took, or panics (leaving the thread behind) when it overran: a
/// call that should have been stopped never hangs the test.
#[track_caller]
pub fn run_bounded<T: Send + 'static>(
    bound: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> (T, Duration) {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(bound) {
        Ok(v) => (v, start.elapsed()),
        Err(_) => panic!("the call did not return within {bound:?}"),
    }
}

/// A module with an exported infinite loop `spin` and a fast `answer`.
pub const SPIN: &str = r#"(module
    (func (export "spin") (loop br 0))
    (func (export "spin_i32") (param i32) (result i32) (loop br 0) local.get 0)
    (func (export "answer") (result i32) i32.const 42))"#;

/// The error of compiling `wasm` (`CompiledModule` has no `Debug`, so no `unwrap_err`).
#[track_caller]
pub fn compile_err(rt: &Runtime, wasm: &[u8]) -> Error {
    match rt.compile(wasm) {
        Ok(_) => panic!("expected compiling to fail"),
        Err(e) => e,
    }
}
