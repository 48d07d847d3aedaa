//! Robustness: truncated and corrupted versions of the spec suite's modules must never
//! make `Module::new`, `Instance::new` or a call panic. Errors and traps are fine.
//!
//! Seeds are the modules of the spec suite's `wasm-2.0/*.wast` (`$KILN_SPECTEST_DIR`, else
//! `../shared/spectest` beside the repository; without it the test prints one line and
//! passes) (`module` commands, and
//! the modules of `assert_trap`/`assert_unlinkable`/... commands); the deliberately
//! malformed and invalid modules of `assert_malformed`/`assert_invalid` are fed as they
//! are. Each seed is truncated at ~40 positions and corrupted in a few hundred
//! deterministic ways (xorshift PRNG). Whatever validates is instantiated with dummy
//! imports, and every exported function is called with zeroed arguments under a watchdog
//! that interrupts runaway code.
//!
//! A panic is recorded with its message, location and the offending bytes (written to
//! `$CARGO_TARGET_TMPDIR/robustness/`), and the test fails listing them all.

use kiln_runtime::{
    Config, Engine, Extern, ExternType, Func, Global, Instance, Memory, Module, Table,
};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::{Duration, Instant};

/// The spec suite's WebAssembly 2.0 scripts.
fn spec_dir() -> PathBuf {
    match std::env::var_os("KILN_SPECTEST_DIR") {
        Some(dir) => PathBuf::from(dir).join("wasm-2.0"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/spectest/wasm-2.0"),
    }
}

/// Truncation points per seed (every `len / TRUNCATIONS` bytes).
const TRUNCATIONS: usize = 40;
/// Total number of corrupted variants over all seeds; spread evenly.
const CORRUPTION_BUDGET: usize = 200_000;
/// Corrupted variants per seed, at least.
const MIN_CORRUPTIONS: usize = 20;
/// Corrupted variants per seed, at most.
const MAX_CORRUPTIONS: usize = 300;
/// How long one instantiation or call may run before the watchdog interrupts it.
const CALL_TIMEOUT: Duration = Duration::from_millis(50);
/// Memories and tables are kept small so that bulk operations on them stay fast.
const MEMORY_LIMIT_PAGES: u64 = 1024;
const TABLE_LIMIT_ELEMENTS: u64 = 100_000;

// ---------------------------------------------------------------------------------------
// Seeds

/// A module to feed, and whether to derive mutants from it.
struct Seed {
    origin: String,
    bytes: Vec<u8>,
    mutate: bool,
}

/// The seeds, or `None` (after one line on stderr) when the spec suite is missing.
fn collect_seeds() -> Option<Vec<Seed>> {
    let dir = spec_dir();
    if !dir.is_dir() {
        // Straight to stderr: the test harness would hide a captured `eprintln!`.
        let _ = writeln!(
            std::io::stderr(),
            "robustness test skipped: no spec suite at {} (see README.md, or set \
             KILN_SPECTEST_DIR to the directory holding wasm-2.0/)",
            dir.display()
        );
        return None;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the spec suite at {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .wast files in {}", dir.display());

    // Parsing is the slow part in a debug build: one file per thread.
    let next = AtomicUsize::new(0);
    let per_file: Mutex<Vec<Option<Vec<Seed>>>> = Mutex::new(files.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers() {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let seeds = seeds_of_file(path);
                    per_file.lock().unwrap()[i] = Some(seeds);
                }
            });
        }
    });
    let per_file = per_file.into_inner().unwrap();

    let mut seen = HashSet::new();
    Some(
        per_file
            .into_iter()
            .flatten()
            .flatten()
            .filter(|s| seen.insert(s.bytes.clone()))
            .collect(),
    )
}

fn seeds_of_file(path: &Path) -> Vec<Seed> {
    use wast::{QuoteWat, WastDirective, WastExecute};

    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path).expect("readable .wast");
    let mut lexer = wast::lexer::Lexer::new(&text);
    lexer.allow_confusing_unicode(true);
    let buf =
        wast::parser::ParseBuffer::new_with_lexer(lexer).unwrap_or_else(|e| panic!("{name}: {e}"));
    let wast: wast::Wast = wast::parser::parse(&buf).unwrap_or_else(|e| panic!("{name}: {e}"));

    let mut seeds = Vec::new();
    let mut push = |what: &str, module: &mut QuoteWat<'_>, mutate: bool| {
        let line = {
            let (l, _) = module.span().linecol_in(&text);
            l + 1
        };
        // Quoted text that does not even parse is the text parser's business, not ours.
        if let Ok(bytes) = module.encode() {
            seeds.push(Seed {
                origin: format!("{name}:{line} ({what})"),
                bytes,
                mutate,
            });
        }
    };
    for directive in wast.directives {
        match directive {
            WastDirective::Module(mut m) | WastDirective::ModuleDefinition(mut m) => {
                push("module", &mut m, true)
            }
            WastDirective::AssertMalformed { mut module, .. } => {
                push("assert_malformed", &mut module, false)
            }
            WastDirective::AssertInvalid { mut module, .. } => {
                push("assert_invalid", &mut module, false)
            }
            WastDirective::AssertUnlinkable { module, .. } => {
                push("assert_unlinkable", &mut QuoteWat::Wat(module), true)
            }
            WastDirective::AssertTrap {
                exec: WastExecute::Wat(module),
                ..
            } => push("assert_trap module", &mut QuoteWat::Wat(module), true),
            _ => {}
        }
    }
    seeds
}

fn workers() -> usize {
    std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .clamp(1, 8)
}

// ---------------------------------------------------------------------------------------
// Mutations

/// xorshift64*: small, fast and deterministic.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that tend to matter: LEB128 continuation bits, sign bits, section ids, `end`.
const INTERESTING: &[u8] = &[
    0x00, 0x01, 0x02, 0x0b, 0x40, 0x41, 0x60, 0x6f, 0x70, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f, 0x80, 0xfc,
    0xfd, 0xff,
];

fn corrupt(original: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut bytes = original.to_vec();
    // Mostly leave the 8-byte header alone: breaking it only tests the first check.
    let lo = if bytes.len() > 8 && rng.below(16) != 0 {
        8
    } else {
        0
    };
    let edits = 1 + rng.below(3);
    for _ in 0..edits {
        if bytes.len() <= lo {
            bytes.push(rng.next() as u8);
            continue;
        }
        let at = lo + rng.below(bytes.len() - lo);
        match rng.below(10) {
            0..=3 => bytes[at] ^= 1 << rng.below(8),
            4..=5 => bytes[at] = INTERESTING[rng.below(INTERESTING.len())],
            6 => bytes[at] = rng.next() as u8,
            7 => {
                bytes.remove(at);
            }
            8 => {
                let b = bytes[at];
                bytes.insert(at, b);
            }
            _ => {
                // Nudge a LEB128 byte, often a size or count.
                bytes[at] = bytes[at].wrapping_add(if rng.below(2) == 0 { 1 } else { 0xff });
            }
        }
    }
    bytes
}

// ---------------------------------------------------------------------------------------
// Panic capture

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Guarded sections running on any thread.
static GUARDS_ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// The last panic of a thread that was not itself guarded while some guard was active:
/// a rayon worker of `Module::new`, whose panic rayon re-raises on the calling thread.
static STRAY_PANIC: Mutex<Option<String>> = Mutex::new(None);

fn describe(info: &std::panic::PanicHookInfo<'_>) -> String {
    let location = info
        .location()
        .map_or_else(|| "<unknown>".to_string(), |l| l.to_string());
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "<non-string payload>".to_string());
    format!("{message} at {location}")
}

/// Records panics raised inside [`guarded`] instead of printing them; others print as usual.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.with(Cell::get) {
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(describe(info)));
            } else {
                if GUARDS_ACTIVE.load(Ordering::SeqCst) > 0 {
                    *STRAY_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some(describe(info));
                }
                previous(info);
            }
        }));
    });
}

/// Runs `f`, turning a panic into `Err(message at location)`.
fn guarded<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    CATCHING.with(|c| c.set(true));
    GUARDS_ACTIVE.fetch_add(1, Ordering::SeqCst);
    let r = catch_unwind(AssertUnwindSafe(f));
    GUARDS_ACTIVE.fetch_sub(1, Ordering::SeqCst);
    CATCHING.with(|c| c.set(false));
    r.map_err(|_| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .or_else(|| {
                STRAY_PANIC
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .map(|m| format!("{m} (on another thread)"))
            })
            .unwrap_or_else(|| "panic without message".to_string())
    })
}

// ---------------------------------------------------------------------------------------
// Watchdog

struct WatchState {
    armed: Option<(Instant, Arc<AtomicU32>)>,
    shutdown: bool,
}

/// A thread that sets an engine's interrupt flag when a guarded call overruns.
struct Watchdog {
    shared: Arc<(Mutex<WatchState>, Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
    fired: usize,
}

impl Watchdog {
    fn new() -> Watchdog {
        let shared = Arc::new((
            Mutex::new(WatchState {
                armed: None,
                shutdown: false,
            }),
            Condvar::new(),
        ));
        let s = shared.clone();
        let thread = std::thread::spawn(move || {
            let (lock, cvar) = &*s;
            let mut st = lock.lock().unwrap();
            loop {
                if st.shutdown {
                    return;
                }
                match &st.armed {
                    None => st = cvar.wait(st).unwrap(),
                    Some((deadline, flag)) => {
                        let now = Instant::now();
                        if now >= *deadline {
                            // Under the lock: once `run` has disarmed, nothing is stored.
                            flag.store(1, Ordering::SeqCst);
                            st.armed = None;
                        } else {
                            let wait = *deadline - now;
                            st = cvar.wait_timeout(st, wait).unwrap().0;
                        }
                    }
                }
            }
        });
        Watchdog {
            shared,
            thread: Some(thread),
            fired: 0,
        }
    }

    /// Runs `f`; if it takes longer than [`CALL_TIMEOUT`], `engine`'s code is interrupted.
    fn run<R>(&mut self, engine: &Engine, f: impl FnOnce() -> R) -> R {
        let flag = engine.interrupt_flag();
        let (lock, cvar) = &*self.shared;
        lock.lock().unwrap().armed = Some((Instant::now() + CALL_TIMEOUT, flag.clone()));
        cvar.notify_one();
        let r = f();
        lock.lock().unwrap().armed = None;
        if flag.swap(0, Ordering::SeqCst) != 0 {
            self.fired += 1;
        }
        r
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let (lock, cvar) = &*self.shared;
        lock.lock().unwrap().shutdown = true;
        cvar.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Driving the runtime

#[derive(Default)]
struct Stats {
    inputs: usize,
    compiled: usize,
    instantiated: usize,
    calls: usize,
    traps: usize,
    interrupted: usize,
}

/// A panic and the input that caused it.
struct Finding {
    origin: String,
    phase: String,
    message: String,
    bytes: Vec<u8>,
}

fn new_engine() -> Engine {
    let mut config = Config::default().with_memory_limit_pages(MEMORY_LIMIT_PAGES);
    config.table_limit_elements = TABLE_LIMIT_ELEMENTS;
    Engine::new(config)
}

/// Imports that satisfy the module's declarations: host functions returning zeros, and
/// fresh memories, tables and globals of the declared types.
fn dummy_imports(engine: &Engine, module: &Module) -> Option<Vec<Extern>> {
    module
        .imports()
        .map(|imp| {
            Some(match &imp.ty {
                ExternType::Func(ty) => {
                    Extern::Func(Func::host(engine, ty.clone(), None, |_, stack| {
                        stack.fill(0);
                        Ok(())
                    }))
                }
                ExternType::Memory(ty) => {
                    Extern::Memory(Memory::new(*ty, MEMORY_LIMIT_PAGES).ok()?)
                }
                ExternType::Table(ty) => {
                    Extern::Table(Table::new(*ty, 0, TABLE_LIMIT_ELEMENTS).ok()?)
                }
                ExternType::Global(ty) => Extern::Global(Global::new(*ty, [0, 0])),
            })
        })
        .collect()
}

/// Compiles, instantiates and runs `bytes`; returns the first panic.
fn exercise(
    bytes: &[u8],
    watchdog: &mut Watchdog,
    stats: &mut Stats,
) -> Result<(), (String, String)> {
    stats.inputs += 1;
    let engine = new_engine();
    let module = match guarded(|| Module::new(&engine, bytes)) {
        Err(p) => return Err(("Module::new".into(), p)),
        Ok(Err(_)) => return Ok(()),
        Ok(Ok(m)) => m,
    };
    stats.compiled += 1;
    let Some(imports) = guarded(|| dummy_imports(&engine, &module))
        .map_err(|p| ("creating dummy imports".to_string(), p))?
    else {
        return Ok(());
    };
    let instance = match guarded(|| watchdog.run(&engine, || Instance::new(&module, &imports))) {
        Err(p) => return Err(("Instance::new".into(), p)),
        Ok(Err(_)) => return Ok(()),
        Ok(Ok(i)) => i,
    };
    stats.instantiated += 1;
    // Zero is a valid value of every type (null for references), so every exported
    // function can be called with a zeroed stack, not only those without parameters.
    let exports: Vec<String> = module
        .exports()
        .filter(|(_, ty)| matches!(ty, ExternType::Func(_)))
        .map(|(name, _)| name.to_string())
        .collect();
    for name in exports {
        let Some(Extern::Func(f)) = instance.export(&name) else {
            continue;
        };
        let mut stack = vec![0u64; f.ty().stack_len()];
        stats.calls += 1;
        let flag = engine.interrupt_flag();
        let before = watchdog.fired;
        match guarded(|| watchdog.run(&engine, || f.call(&mut stack))) {
            Err(p) => return Err((format!("calling export {name:?}"), p)),
            Ok(Err(_)) => stats.traps += 1,
            Ok(Ok(())) => {}
        }
        debug_assert_eq!(flag.load(Ordering::SeqCst), 0);
        if watchdog.fired > before {
            stats.interrupted += 1;
        }
    }
    Ok(())
}

fn variants(seed: &Seed, index: usize, corruptions: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![("as is".to_string(), seed.bytes.clone())];
    if !seed.mutate {
        return out;
    }
    let len = seed.bytes.len();
    let step = (len / TRUNCATIONS).max(1);
    for cut in (0..len).step_by(step).chain([len.saturating_sub(1)]) {
        out.push((
            format!("truncated to {cut} bytes"),
            seed.bytes[..cut].to_vec(),
        ));
    }
    let mut rng = Rng::new(index as u64 + 1);
    for k in 0..corruptions {
        out.push((format!("corruption #{k}"), corrupt(&seed.bytes, &mut rng)));
    }
    out
}

#[test]
fn truncated_and_corrupted_spec_modules_never_panic() {
    install_panic_hook();
    let started = Instant::now();
    let Some(seeds) = collect_seeds() else {
        return;
    };
    let parsed = started.elapsed();
    let mutated = seeds.iter().filter(|s| s.mutate).count().max(1);
    let corruptions = (CORRUPTION_BUDGET / mutated).clamp(MIN_CORRUPTIONS, MAX_CORRUPTIONS);

    let next = AtomicUsize::new(0);
    let findings: Mutex<BTreeMap<String, Finding>> = Mutex::new(BTreeMap::new());
    let totals = Mutex::new(Stats::default());
    std::thread::scope(|s| {
        for _ in 0..workers() {
            s.spawn(|| {
                let mut watchdog = Watchdog::new();
                let mut stats = Stats::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(seed) = seeds.get(i) else { break };
                    for (what, bytes) in variants(seed, i, corruptions) {
                        let Err((phase, message)) = exercise(&bytes, &mut watchdog, &mut stats)
                        else {
                            continue;
                        };
                        // One reproducer per panic site; keep the smallest input.
                        let key = message.clone();
                        let mut f = findings.lock().unwrap();
                        let keep = f.get(&key).is_none_or(|old| bytes.len() < old.bytes.len());
                        if keep {
                            f.insert(
                                key,
                                Finding {
                                    origin: format!("{} {what}", seed.origin),
                                    phase,
                                    message,
                                    bytes,
                                },
                            );
                        }
                    }
                }
                let mut t = totals.lock().unwrap();
                t.inputs += stats.inputs;
                t.compiled += stats.compiled;
                t.instantiated += stats.instantiated;
                t.calls += stats.calls;
                t.traps += stats.traps;
                t.interrupted += stats.interrupted;
            });
        }
    });

    let t = totals.into_inner().unwrap();
    eprintln!(
        "robustness: {} seeds ({mutated} mutated, {corruptions} corruptions each), \
         parsed in {parsed:.1?}; {} inputs, {} compiled, {} instantiated, {} calls \
         ({} trapped, {} interrupted) in {:.1?}",
        seeds.len(),
        t.inputs,
        t.compiled,
        t.instantiated,
        t.calls,
        t.traps,
        t.interrupted,
        started.elapsed()
    );

    let findings = findings.into_inner().unwrap();
    if findings.is_empty() {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("robustness");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut report = format!("{} distinct panic(s) in kiln-runtime:\n", findings.len());
    for (n, f) in findings.values().enumerate() {
        let file = dir.join(format!("panic-{n}.wasm"));
        std::fs::write(&file, &f.bytes).expect("write reproducer");
        let hex: String = f.bytes.iter().map(|b| format!("{b:02x}")).collect();
        report.push_str(&format!(
            "\n[{n}] {}\n    during {}\n    input: {} ({} bytes, saved to {})\n    hex: {hex}\n",
            f.message,
            f.phase,
            f.origin,
            f.bytes.len(),
            file.display()
        ));
    }
    panic!("{report}");
}

#[test]
fn guarded_reports_panic_message_and_location() {
    install_panic_hook();
    let line = line!() + 1;
    let r = guarded(|| -> u32 { panic!("boom {}", 42) });
    let message = r.expect_err("the panic is caught");
    assert!(message.starts_with("boom 42 at "), "{message}");
    assert!(
        message.contains(&format!("robustness.rs:{line}:")),
        "{message}"
    );
    assert_eq!(guarded(|| 7), Ok(7));
}
