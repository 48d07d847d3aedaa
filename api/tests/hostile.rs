//! The hostile-module corpus (`api/tests/hostile/manifest.txt`): every case, in every
//! engine, gives its expected outcome; none commits more bytes than the limits allow by
//! the runtime's own count (sampled while the case runs); a 10-second watchdog never fires;
//! and after each case the same runtime still instantiates and runs a module.

mod common;

use common::{ENGINES, append_custom_section, leb128_u32, wat};
use kiln::{CommittedBytes, EngineKind, Error, LimitKind, ModuleConfig, Runtime, RuntimeConfig};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

const MEMORY_LIMIT_PAGES: u32 = 1024;
const TABLE_LIMIT: u64 = 100_000;
const MODULE_BYTES: u64 = 4 << 20;
const MAX_FUNCTIONS: u64 = 40_000;
const MAX_LOCALS: u64 = 20_000;
const MAX_INSTANCES: usize = 16;
const BUDGET: u64 = 160 << 20;
const WATCHDOG: Duration = Duration::from_secs(10);

fn hostile_config(engine: EngineKind) -> RuntimeConfig {
    RuntimeConfig::new()
        .with_engine(engine)
        .with_memory_limit_pages(MEMORY_LIMIT_PAGES)
        .with_table_limit_elements(TABLE_LIMIT)
        .with_max_module_bytes(MODULE_BYTES)
        .with_max_functions(MAX_FUNCTIONS)
        .with_max_locals(MAX_LOCALS)
        .with_max_instances(MAX_INSTANCES)
        .with_max_committed_bytes(BUDGET)
        .with_max_call_depth(20_000)
        // Tier-ups happen during the cases, not only in the interpreter.
        .with_tier_threshold(10)
}

struct Case {
    name: String,
    source: String,
    action: String,
    expected: String,
}

fn manifest() -> Vec<Case> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hostile/manifest.txt");
    let text = std::fs::read_to_string(dir).expect("manifest");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('|').map(str::trim).collect();
            assert_eq!(f.len(), 4, "manifest line {l:?}");
            Case {
                name: f[0].into(),
                source: f[1].into(),
                action: f[2].into(),
                expected: f[3].into(),
            }
        })
        .collect()
}

const HEADER: &[u8] = b"\0asm\x01\0\0\0";

fn section(out: &mut Vec<u8>, id: u8, payload: &[u8]) {
    out.push(id);
    leb128_u32(out, payload.len() as u32);
    out.extend_from_slice(payload);
}

/// A module of one `() -> ()` type and one function with `locals` (count, type) entries.
fn one_function(locals: &[(u32, u8)]) -> Vec<u8> {
    let mut m = HEADER.to_vec();
    section(&mut m, 1, &[1, 0x60, 0, 0]);
    section(&mut m, 3, &[1, 0]);
    section(&mut m, 7, &[1, 3, b'r', b'u', b'n', 0, 0]);
    let mut body = Vec::new();
    leb128_u32(&mut body, locals.len() as u32);
    for &(n, ty) in locals {
        leb128_u32(&mut body, n);
        body.push(ty);
    }
    body.push(0x0b);
    let mut code = vec![1];
    leb128_u32(&mut code, body.len() as u32);
    code.extend_from_slice(&body);
    section(&mut m, 10, &code);
    m
}

fn generate(kind: &str, n: u64) -> Vec<u8> {
    match kind {
        "count" => {
            let mut m = HEADER.to_vec();
            let mut payload = Vec::new();
            leb128_u32(&mut payload, u32::MAX);
            section(&mut m, n as u8, &payload);
            m
        }
        "locals" => one_function(&[(n as u32, 0x7f)]),
        "locals_huge" => one_function(&[(u32::MAX, 0x7f)]),
        "funcs" => {
            let mut m = HEADER.to_vec();
            section(&mut m, 1, &[1, 0x60, 1, 0x7f, 0]);
            let mut funcs = Vec::new();
            leb128_u32(&mut funcs, n as u32);
            funcs.extend(std::iter::repeat_n(0u8, n as usize));
            section(&mut m, 3, &funcs);
            section(&mut m, 7, &[1, 2, b'f', b'0', 0, 0]);
            let mut code = Vec::new();
            leb128_u32(&mut code, n as u32);
            for _ in 0..n {
                code.extend_from_slice(&[2, 0, 0x0b]);
            }
            section(&mut m, 10, &code);
            m
        }
        "nested" => {
            let n = n as usize;
            wat(&format!(
                "(module (func (export \"run\") (param i32) (result i32) {} i32.const 7 {}))",
                "(block (result i32) ".repeat(n),
                ")".repeat(n)
            ))
        }
        "br_table" => wat(&format!(
            "(module (func (export \"run\") (param i32) (result i32)
               (block $default (block $hit
                 (br_table {} $default (local.get 0)))
                 (return (i32.const 1)))
               (i32.const 2)))",
            "$hit ".repeat(n as usize)
        )),
        "exp_calls" => {
            let mut text = String::from("(module (func (export \"run\") (param i32) call $f0)");
            for i in 0..n {
                text += &format!("(func $f{i} call $f{} call $f{})", i + 1, i + 1);
            }
            text += &format!("(func $f{n}))");
            wat(&text)
        }
        "large" => {
            // `(module)` is 8 bytes; the custom section adds its id, a 4-byte size (for
            // payloads between 2 MiB and 256 MiB), the name's length and "pad": 9 more.
            let mut m = wat("(module)");
            append_custom_section(&mut m, "pad", &vec![0u8; n as usize - 17]);
            assert_eq!(m.len() as u64, n, "generator size arithmetic");
            m
        }
        other => panic!("unknown generator {other}"),
    }
}

fn load(source: &str) -> Vec<u8> {
    if let Some(file) = source.strip_prefix("file:") {
        let path = format!("{}/tests/hostile/{file}", env!("CARGO_MANIFEST_DIR"));
        wat::parse_file(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    } else if let Some(g) = source.strip_prefix("gen:") {
        let (kind, n) = g.split_once(':').expect("gen:<kind>:<n>");
        generate(kind, n.parse().expect("count"))
    } else {
        panic!("unknown source {source}")
    }
}

fn limit_name(kind: LimitKind) -> &'static str {
    kind.name()
}

/// The outcome as the manifest spells it.
fn outcome(result: Result<Option<u64>, Error>) -> String {
    match result {
        Ok(None) => "ok".into(),
        Ok(Some(v)) => format!("ok:{v}"),
        Err(Error::Compile(_)) => "compile".into(),
        Err(Error::Limit(l)) => format!("limit:{}", limit_name(l.kind)),
        Err(Error::Trap(t)) => format!("trap:{}", t.code()),
        Err(Error::Exit(e)) if e.is_deadline_exceeded() => "exit:deadline".into(),
        Err(e) => format!("other:{e}"),
    }
}

fn note_peak(rt: &Runtime, peak: &Mutex<CommittedBytes>) {
    let c = rt.committed_bytes();
    let mut p = peak.lock().unwrap();
    p.memories = p.memories.max(c.memories);
    p.tables = p.tables.max(c.tables);
    p.code = p.code.max(c.code);
    p.total = p.total.max(c.total);
}

/// Runs one case; the modules it made are dropped before it returns (their committed
/// bytes are noted in `peak` first).
fn run_case(
    rt: &Runtime,
    wasm: &[u8],
    action: &str,
    peak: &Mutex<CommittedBytes>,
) -> Result<Option<u64>, Error> {
    let compiled = rt.compile(wasm)?;
    let (verb, rest) = action.split_once(':').unwrap_or((action, ""));
    match verb {
        "compile" => Ok(None),
        "instantiate" => {
            let m = rt.instantiate(&compiled, ModuleConfig::new());
            note_peak(rt, peak);
            m.map(|_| None)
        }
        "start_timeout" => {
            let ms: u64 = rest.parse().expect("ms");
            let config = ModuleConfig::new().with_start_timeout(Duration::from_millis(ms));
            rt.instantiate(&compiled, config).map(|_| None)
        }
        "call" | "deadline" => {
            let (export, arg) = rest.split_once(':').expect("<export>:<arg>");
            let arg: u64 = arg.parse().expect("arg");
            let m = rt.instantiate(&compiled, ModuleConfig::new())?;
            let f = m.exported_function(export).expect("export");
            let params: Vec<u64> = (0..f.definition().param_types().len())
                .map(|_| arg)
                .collect();
            let results = if verb == "call" {
                f.call(&params)
            } else {
                f.call_with_deadline(&params, Instant::now() + Duration::from_millis(arg))
            };
            note_peak(rt, peak);
            Ok(results?.first().copied())
        }
        "instantiate_many" => {
            let k: usize = rest.parse().expect("count");
            let mut kept = Vec::new();
            for i in 0..=k {
                match rt.instantiate(&compiled, ModuleConfig::new()) {
                    Ok(m) => kept.push(m),
                    Err(e) => {
                        note_peak(rt, peak);
                        assert_eq!(i, k, "failed after {i} instances, expected {k}: {e}");
                        // Closing one frees its slot (and its memory, once dropped).
                        kept.pop().expect("one instance").close()?;
                        rt.instantiate(&compiled, ModuleConfig::new())?;
                        return Err(e);
                    }
                }
            }
            Ok(Some(kept.len() as u64))
        }
        other => panic!("unknown action {other}"),
    }
}

#[test]
fn hostile_corpus() {
    let cases = manifest();
    assert!(cases.len() >= 30, "the corpus has {} cases", cases.len());
    let mut checked = 0;
    for engine in ENGINES {
        if !engine.is_available() {
            eprintln!("skipping engine `{}`: not built", engine.name());
            continue;
        }
        let rt = Runtime::with_config(hostile_config(engine)).unwrap();
        // A well-behaved module that must keep working beside every hostile one.
        let sane = rt
            .instantiate_bytes(&wat(r#"(module (memory 1)
                (func (export "add") (param i32 i32) (result i32)
                  (i32.add (local.get 0) (local.get 1))))"#))
            .unwrap();
        let add = sane.exported_function("add").unwrap();
        for i in 0..50 {
            assert_eq!(add.call(&[i, 1]).unwrap(), [i + 1]);
        }
        // Engine tiered: let the sane module's tier-up finish, so its code is the baseline.
        let deadline = Instant::now() + Duration::from_secs(10);
        while rt
            .tiering_stats()
            .is_some_and(|s| s.functions_compiled + s.compile_failures == 0)
        {
            assert!(Instant::now() < deadline, "the sane module never tiered up");
            std::thread::sleep(Duration::from_millis(5));
        }
        let baseline = rt.committed_bytes();
        assert_eq!(baseline.memories, 65536);
        for case in &cases {
            // Deadlines in this case are measured from here, after generating the bytes.
            let wasm = load(&case.source);
            let started = Instant::now();
            let done = Arc::new(AtomicBool::new(false));
            let peak = Arc::new(Mutex::new(CommittedBytes::default()));
            // Samples the runtime's own count while the case runs.
            let sampler = {
                let (rt, done, peak) = (rt.clone(), done.clone(), peak.clone());
                std::thread::spawn(move || {
                    while !done.load(Ordering::Acquire) {
                        note_peak(&rt, &peak);
                        std::thread::sleep(Duration::from_micros(200));
                    }
                })
            };
            let (tx, rx) = mpsc::channel();
            let worker = {
                let (rt, action, peak) = (rt.clone(), case.action.clone(), peak.clone());
                std::thread::spawn(move || {
                    let _ = tx.send(outcome(run_case(&rt, &wasm, &action, &peak)));
                })
            };
            let got = match rx.recv_timeout(WATCHDOG) {
                Ok(got) => got,
                Err(_) => panic!(
                    "engine {}: case {}: the 10 s watchdog fired",
                    engine.name(),
                    case.name
                ),
            };
            worker.join().unwrap();
            done.store(true, Ordering::Release);
            sampler.join().unwrap();
            let elapsed = started.elapsed();
            note_peak(&rt, &peak);
            let final_peak = *peak.lock().unwrap();
            eprintln!(
                "engine {:6} {:20} {:28} {:>8.1?} peak {:?}",
                engine.name(),
                case.name,
                got,
                elapsed,
                final_peak
            );
            assert_eq!(
                got,
                case.expected,
                "engine {}: case {}",
                engine.name(),
                case.name
            );
            assert!(
                final_peak.total <= BUDGET,
                "engine {}: case {} committed {} bytes",
                engine.name(),
                case.name,
                final_peak.total
            );
            if !case.action.starts_with("instantiate_many") {
                // One hostile instance plus the sane module's single page.
                let page = 65536;
                assert!(
                    final_peak.memories <= (MEMORY_LIMIT_PAGES as u64 + 1) * page,
                    "engine {}: case {}: {} memory bytes",
                    engine.name(),
                    case.name,
                    final_peak.memories
                );
                assert!(final_peak.tables <= TABLE_LIMIT * 8, "case {}", case.name);
            }
            // Everything of the case is gone: only the sane module's page is committed
            // (code of dropped modules is freed; a tiering job may still hold one briefly).
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let c = rt.committed_bytes();
                if c == baseline {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "engine {}: case {}: still committed after dropping: {c:?}, baseline {baseline:?}",
                    engine.name(),
                    case.name
                );
                std::thread::sleep(Duration::from_millis(10));
            }
            assert_eq!(add.call(&[2, 3]).unwrap(), [5], "after case {}", case.name);
            assert_eq!(rt.live_instances(), 1, "after case {}", case.name);
            checked += 1;
        }
    }
    assert!(checked >= 30);
}

#[test]
fn committed_bytes_follow_memories_tables_and_code() {
    for engine in ENGINES.into_iter().filter(|e| e.is_available()) {
        let rt = Runtime::with_config(RuntimeConfig::new().with_engine(engine)).unwrap();
        assert_eq!(rt.committed_bytes(), CommittedBytes::default());
        let compiled = rt
            .compile(&wat(r#"(module (memory 3) (table 10 funcref)
                (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#))
            .unwrap();
        let m = rt.instantiate(&compiled, ModuleConfig::new()).unwrap();
        let c = rt.committed_bytes();
        assert_eq!((c.memories, c.tables), (3 * 65536, 80), "engine {engine:?}");
        assert_eq!(c.total, c.memories + c.tables + c.code);
        if engine == EngineKind::Jit {
            assert!(c.code > 0, "jit code is counted");
        }
        m.exported_function("grow").unwrap().call(&[2]).unwrap();
        assert_eq!(rt.committed_bytes().memories, 5 * 65536);
        // Closing keeps the memory while the module is held; dropping releases it.
        m.close().unwrap();
        assert_eq!(rt.live_instances(), 0);
        drop(m);
        drop(compiled);
        let c = rt.committed_bytes();
        assert_eq!(c, CommittedBytes::default(), "engine {engine:?}");
    }
}

#[test]
fn budget_refuses_jit_code_and_keeps_tiered_code_interpreted() {
    let wasm = wat(r#"(module (func (export "f") (param i32) (result i32)
        (local.get 0) (i32.const 1) (i32.add)))"#);
    if EngineKind::Jit.is_available() {
        let rt = Runtime::with_config(
            RuntimeConfig::new()
                .with_engine(EngineKind::Jit)
                .with_max_committed_bytes(16),
        )
        .unwrap();
        let err = rt.compile(&wasm).unwrap_err();
        assert_eq!(
            err.as_limit().map(|l| l.kind),
            Some(LimitKind::CommittedBytes)
        );
        assert_eq!(rt.committed_bytes().total, 0);
    }
    if EngineKind::Tiered.is_available() {
        let rt = Runtime::with_config(
            RuntimeConfig::new()
                .with_engine(EngineKind::Tiered)
                .with_tier_threshold(1)
                .with_tier_sync(true)
                .with_max_committed_bytes(16),
        )
        .unwrap();
        let m = rt.instantiate_bytes(&wasm).unwrap();
        let f = m.exported_function("f").unwrap();
        for i in 0..10 {
            assert_eq!(f.call(&[i]).unwrap(), [i + 1]);
        }
        let stats = rt.tiering_stats().unwrap();
        assert_eq!(stats.functions_compiled, 0, "{stats:?}");
        assert!(stats.compile_failures >= 1, "{stats:?}");
        assert_eq!(rt.committed_bytes().code, 0);
    }
}
