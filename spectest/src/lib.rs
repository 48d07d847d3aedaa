//! The `.wast` script runner behind `kiln-spectest` and the spec-suite tests.
//!
//! Each command of a script counts as one test. Commands after a module that failed to load
//! count as failed; commands that need a feature Kiln does not execute yet (see
//! [`SKIP_REASONS`]) count as skipped. `assert_invalid` and `assert_malformed` always run.

use kiln::{
    CoreFeatures, EngineKind, Error, Module, ModuleConfig, Runtime, RuntimeConfig, Trap, TrapCode,
    ValueType as ValType,
};
use std::collections::HashMap;
use std::path::Path;
use wast::core::{NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet};

/// The only reasons a command may be skipped: it must execute a feature not built yet.
/// Matched against the `unsupported: ...` error a module gets at instantiation.
pub const SKIP_REASONS: &[&str] = &["SIMD"];

/// Which engine runs the scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineChoice {
    /// The interpreter.
    Interp,
    /// Compile everything up front.
    Jit,
    /// Interpreter first, hot code compiled.
    Tiered,
}

/// Runner options.
#[derive(Clone, Debug)]
pub struct Options {
    /// Engine to use.
    pub engine: EngineChoice,
    /// Validate with WebAssembly 3.0 features.
    pub wasm3: bool,
    /// Report every failure.
    pub verbose: bool,
    /// Tiered engine: the tier-up threshold (`None`: the engine's default).
    pub tier_threshold: Option<u32>,
    /// Tiered engine: compile hot code synchronously.
    pub tier_sync: bool,
}

/// Counts for one or more scripts.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Commands that passed.
    pub passed: usize,
    /// Commands that failed.
    pub failed: usize,
    /// Commands skipped (feature not built yet).
    pub skipped: usize,
    /// Failure descriptions.
    pub messages: Vec<String>,
    /// Tiered engine: functions compiled to native code.
    pub tiered_up: u64,
    /// Tiered engine: OSR entries compiled.
    pub osr_compiled: u64,
    /// Tiered engine: frames moved into native code at a loop header.
    pub osr_entries: u64,
}

impl Summary {
    /// Adds `other`'s counts (not its messages).
    pub fn add(&mut self, other: &Summary) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.tiered_up += other.tiered_up;
        self.osr_compiled += other.osr_compiled;
        self.osr_entries += other.osr_entries;
    }
}

#[derive(Clone)]
enum Current {
    None,
    Ready(Module),
    Failed,
    Skipped,
}

enum Outcome {
    Pass,
    Fail(String),
    Skip,
}

struct Runner {
    runtime: Runtime,
    /// Names registered from modules that need a feature not built yet: importing from
    /// them is skipped too.
    skipped_names: Vec<String>,
    named: HashMap<String, Current>,
    current: Current,
    summary: Summary,
    file: String,
}

/// Runs one `.wast` file and returns its counts (a file that does not parse counts as one
/// failure, and so does a file whose run panics: one bad file must not stop a whole suite).
pub fn run_file(path: &Path, options: &Options) -> Summary {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_file_unguarded(path, options)
    }));
    run.unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        Summary {
            failed: 1,
            messages: vec![format!("{}: the runner panicked: {why}", path.display())],
            ..Summary::default()
        }
    })
}

fn run_file_unguarded(path: &Path, options: &Options) -> Summary {
    let mut summary = Summary::default();
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            summary.failed = 1;
            summary.messages.push(format!("{}: {e}", path.display()));
            return summary;
        }
    };
    run_script(&path.display().to_string(), &text, options)
}

/// Runs a script given as text.
pub fn run_script(name: &str, text: &str, options: &Options) -> Summary {
    let mut lexer = wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let fail = |msg: String| Summary {
        failed: 1,
        messages: vec![format!("{name}: {msg}")],
        ..Summary::default()
    };
    let buf = match ParseBuffer::new_with_lexer(lexer) {
        Ok(b) => b,
        Err(e) => return fail(e.to_string()),
    };
    let wast: Wast<'_> = match parser::parse(&buf) {
        Ok(w) => w,
        Err(e) => return fail(e.to_string()),
    };
    let features = if options.wasm3 {
        CoreFeatures::V3
    } else {
        CoreFeatures::V2
    };
    let engine = match options.engine {
        EngineChoice::Interp => EngineKind::Interp,
        EngineChoice::Jit => EngineKind::Jit,
        EngineChoice::Tiered => EngineKind::Tiered,
    };
    let mut config = RuntimeConfig::new()
        .with_engine(engine)
        .with_core_features(features)
        .with_tier_sync(options.tier_sync);
    if let Some(t) = options.tier_threshold {
        config = config.with_tier_threshold(t);
    }
    let runtime = match Runtime::with_config(config) {
        Ok(r) => r,
        Err(e) => return fail(e.to_string()),
    };
    let mut runner = Runner {
        skipped_names: Vec::new(),
        named: HashMap::new(),
        current: Current::None,
        summary: Summary::default(),
        file: name.to_string(),
        runtime,
    };
    if let Err(e) = runner.register_spectest() {
        return fail(format!("spectest module: {e}"));
    }
    for directive in wast.directives {
        let (line, col) = directive.span().linecol_in(text);
        let outcome = runner.directive(directive);
        match outcome {
            Outcome::Pass => runner.summary.passed += 1,
            Outcome::Skip => runner.summary.skipped += 1,
            Outcome::Fail(msg) => {
                runner.summary.failed += 1;
                if options.verbose || runner.summary.messages.len() < 10 {
                    runner.summary.messages.push(format!(
                        "{}:{}:{}: {msg}",
                        runner.file,
                        line + 1,
                        col + 1
                    ));
                }
            }
        }
    }
    if let Some(stats) = runner.runtime.tiering_stats() {
        runner.summary.tiered_up = stats.functions_compiled;
        runner.summary.osr_compiled = stats.osr_compiled;
        runner.summary.osr_entries = stats.osr_entries;
    }
    runner.summary
}

fn is_skip(e: &Error) -> bool {
    match e {
        Error::Unsupported(msg) => SKIP_REASONS.iter().any(|r| msg.starts_with(r)),
        _ => false,
    }
}

fn trap_matches(trap: &Trap, expected: &str) -> bool {
    let ours = trap.code().message();
    expected.starts_with(ours) || ours.starts_with(expected)
}

impl Runner {
    /// The `spectest` module scripts import from: print functions (host functions that do
    /// nothing), and a global of each type, a table and a memory (from a small Wasm module
    /// that re-exports the functions).
    fn register_spectest(&mut self) -> Result<(), Error> {
        use ValType::*;
        let prints: &[(&str, &[ValType])] = &[
            ("print", &[]),
            ("print_i32", &[I32]),
            ("print_i64", &[I64]),
            ("print_f32", &[F32]),
            ("print_f64", &[F64]),
            ("print_i32_f32", &[I32, F32]),
            ("print_f64_f64", &[F64, F64]),
        ];
        let mut host = self.runtime.new_host_module_builder("spectest_host");
        for (name, params) in prints {
            host.new_function_builder()
                .with_stack_func(params, &[], |_, _| Ok(()))
                .export(*name);
        }
        host.instantiate()?;
        let wat = r#"(module
            (func (export "print") (import "spectest_host" "print"))
            (func (export "print_i32") (import "spectest_host" "print_i32") (param i32))
            (func (export "print_i64") (import "spectest_host" "print_i64") (param i64))
            (func (export "print_f32") (import "spectest_host" "print_f32") (param f32))
            (func (export "print_f64") (import "spectest_host" "print_f64") (param f64))
            (func (export "print_i32_f32") (import "spectest_host" "print_i32_f32")
                (param i32 f32))
            (func (export "print_f64_f64") (import "spectest_host" "print_f64_f64")
                (param f64 f64))
            (global (export "global_i32") i32 (i32.const 666))
            (global (export "global_i64") i64 (i64.const 666))
            (global (export "global_f32") f32 (f32.const 666.6))
            (global (export "global_f64") f64 (f64.const 666.6))
            (table (export "table") 10 20 funcref)
            (memory (export "memory") 1 2))"#;
        let bytes = wat::parse_str(wat).map_err(|e| Error::Compile(e.to_string()))?;
        let compiled = self.runtime.compile(&bytes)?;
        self.runtime
            .instantiate(&compiled, ModuleConfig::new().with_name("spectest"))?;
        Ok(())
    }

    fn imports_skipped(&self, bytes: &[u8]) -> bool {
        if self.skipped_names.is_empty() {
            return false;
        }
        let Ok(compiled) = self.runtime.compile(bytes) else {
            return false;
        };
        compiled
            .imports()
            .iter()
            .any(|i| self.skipped_names.iter().any(|s| s == i.module()))
    }

    fn instantiate_bytes(&self, bytes: &[u8]) -> Result<Module, Error> {
        if self.imports_skipped(bytes) {
            return Err(Error::Unsupported(format!(
                "{} (imports from a skipped module)",
                SKIP_REASONS[0]
            )));
        }
        let compiled = self.runtime.compile(bytes)?;
        // Script modules are anonymous; `register` gives them names.
        let config = ModuleConfig::new().with_name("").with_start_functions(&[]);
        self.runtime.instantiate(&compiled, config)
    }

    fn module(&mut self, mut wat: QuoteWat<'_>) -> Outcome {
        let name = wat.name().map(|id| id.name().to_string());
        let (state, outcome) = match wat.encode() {
            Err(e) => (
                Current::Failed,
                Outcome::Fail(format!("encoding failed: {e}")),
            ),
            Ok(bytes) => match self.instantiate_bytes(&bytes) {
                Ok(i) => (Current::Ready(i), Outcome::Pass),
                Err(e) if is_skip(&e) => (Current::Skipped, Outcome::Skip),
                Err(e) => (
                    Current::Failed,
                    Outcome::Fail(format!("module failed: {e}")),
                ),
            },
        };
        if let Some(n) = name {
            self.named.insert(n, state.clone());
        }
        self.current = state;
        outcome
    }

    fn target(&self, id: Option<wast::token::Id<'_>>) -> Current {
        match id {
            None => self.current.clone(),
            Some(id) => self
                .named
                .get(id.name())
                .cloned()
                .unwrap_or(Current::Failed),
        }
    }

    fn directive(&mut self, d: WastDirective<'_>) -> Outcome {
        match d {
            WastDirective::Module(wat) => self.module(wat),
            WastDirective::ModuleDefinition(mut wat) => match wat.encode() {
                Ok(bytes) => match self.runtime.compile(&bytes) {
                    Ok(_) => Outcome::Pass,
                    Err(e) if is_skip(&e) => Outcome::Skip,
                    Err(e) => Outcome::Fail(format!("module definition failed: {e}")),
                },
                Err(e) => Outcome::Fail(format!("encoding failed: {e}")),
            },
            WastDirective::ModuleInstance { .. } => {
                Outcome::Fail("unsupported script command: module instance".into())
            }
            WastDirective::Register { name, module, .. } => match self.target(module) {
                Current::Ready(m) => match self.runtime.register(name, &m) {
                    Ok(()) => Outcome::Pass,
                    Err(e) => Outcome::Fail(format!("register failed: {e}")),
                },
                Current::Skipped => {
                    self.skipped_names.push(name.to_string());
                    Outcome::Skip
                }
                _ => Outcome::Fail("register of a module that failed".into()),
            },
            WastDirective::Invoke(invoke) => match self.invoke(&invoke) {
                Ok(Ok(_)) => Outcome::Pass,
                Ok(Err(e)) => Outcome::Fail(format!("invoke {}: {e}", invoke.name)),
                Err(o) => o,
            },
            WastDirective::AssertReturn { exec, results, .. } => match self.execute(exec) {
                Err(o) => o,
                Ok(Err(e)) => Outcome::Fail(format!("expected return, got {e}")),
                Ok(Ok((values, types))) => match compare(&values, &types, &results) {
                    Ok(()) => Outcome::Pass,
                    Err(msg) => Outcome::Fail(msg),
                },
            },
            WastDirective::AssertTrap { exec, message, .. } => match self.execute(exec) {
                Err(o) => o,
                Ok(Ok(_)) => Outcome::Fail(format!("expected trap `{message}`, got a result")),
                Ok(Err(Error::Trap(t))) if trap_matches(&t, message) => Outcome::Pass,
                Ok(Err(e)) => Outcome::Fail(format!("expected trap `{message}`, got {e}")),
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call) {
                Err(o) => o,
                Ok(Ok(_)) => Outcome::Fail("expected exhaustion, got a result".into()),
                Ok(Err(Error::Trap(t))) if t.code() == TrapCode::StackExhausted => Outcome::Pass,
                Ok(Err(e)) => Outcome::Fail(format!("expected `{message}`, got {e}")),
            },
            WastDirective::AssertInvalid {
                module, message, ..
            }
            | WastDirective::AssertMalformed {
                module, message, ..
            } => self.assert_rejected(module, message),
            WastDirective::AssertUnlinkable {
                module, message, ..
            } => {
                let mut quote = QuoteWat::Wat(module);
                match quote.encode() {
                    Err(e) => Outcome::Fail(format!("encoding failed: {e}")),
                    Ok(bytes) => match self.instantiate_bytes(&bytes) {
                        Ok(_) => Outcome::Fail(format!("expected unlinkable `{message}`")),
                        Err(e) if is_skip(&e) => Outcome::Skip,
                        Err(Error::Link(_)) => Outcome::Pass,
                        Err(e) => Outcome::Fail(format!("expected link error, got {e}")),
                    },
                }
            }
            other => Outcome::Fail(format!("unsupported script command at {:?}", other.span())),
        }
    }

    fn assert_rejected(&mut self, mut module: QuoteWat<'_>, message: &str) -> Outcome {
        let bytes = match module.encode() {
            // The text itself is malformed: wast rejected it, which is what is asserted.
            Err(_) => return Outcome::Pass,
            Ok(b) => b,
        };
        match self.runtime.compile(&bytes) {
            Ok(_) => Outcome::Fail(format!("expected rejection `{message}`, module compiled")),
            Err(Error::Compile(_)) => Outcome::Pass,
            Err(e) => Outcome::Fail(format!("expected compile error `{message}`, got {e}")),
        }
    }

    #[allow(clippy::type_complexity)]
    fn execute(
        &mut self,
        exec: WastExecute<'_>,
    ) -> Result<Result<(Vec<u64>, Vec<ValType>), Error>, Outcome> {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(&invoke),
            WastExecute::Get { module, global, .. } => {
                let inst = match self.target(module) {
                    Current::Ready(i) => i,
                    Current::Skipped => return Err(Outcome::Skip),
                    _ => return Err(Outcome::Fail("no module".into())),
                };
                match inst.exported_global(global) {
                    Some(g) => {
                        let ty = g.ty();
                        let vals = if ty == ValType::V128 {
                            kiln::encode_v128(g.get_v128()).to_vec()
                        } else {
                            vec![g.get()]
                        };
                        Ok(Ok((vals, vec![ty])))
                    }
                    None => Err(Outcome::Fail(format!("no global export `{global}`"))),
                }
            }
            WastExecute::Wat(wat) => {
                let mut quote = QuoteWat::Wat(wat);
                match quote.encode() {
                    Err(e) => Err(Outcome::Fail(format!("encoding failed: {e}"))),
                    Ok(bytes) => match self.instantiate_bytes(&bytes) {
                        Ok(_) => Ok(Ok((vec![], vec![]))),
                        Err(e) if is_skip(&e) => Err(Outcome::Skip),
                        Err(e) => Ok(Err(e)),
                    },
                }
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn invoke(
        &mut self,
        invoke: &WastInvoke<'_>,
    ) -> Result<Result<(Vec<u64>, Vec<ValType>), Error>, Outcome> {
        let inst = match self.target(invoke.module) {
            Current::Ready(i) => i,
            Current::Skipped => return Err(Outcome::Skip),
            Current::Failed => return Err(Outcome::Fail("module failed to load".into())),
            Current::None => return Err(Outcome::Fail("no module".into())),
        };
        let Some(func) = inst.exported_function(invoke.name) else {
            return Err(Outcome::Fail(format!(
                "no function export `{}`",
                invoke.name
            )));
        };
        let def = func.definition().clone();
        let param_slots: usize = def.param_types().iter().map(|t| t.slots() as usize).sum();
        let result_slots: usize = def.result_types().iter().map(|t| t.slots() as usize).sum();
        let mut stack = Vec::with_capacity(param_slots.max(result_slots));
        for arg in &invoke.args {
            match arg_slots(arg) {
                Some(slots) => stack.extend(slots),
                None => return Err(Outcome::Fail("unsupported argument".into())),
            }
        }
        if stack.len() != param_slots {
            return Err(Outcome::Fail("argument count mismatch".into()));
        }
        stack.resize(param_slots.max(result_slots), 0);
        match func.call_with_stack(&mut stack) {
            Ok(()) => {
                stack.truncate(result_slots);
                Ok(Ok((stack, def.result_types().to_vec())))
            }
            Err(e) => Ok(Err(e)),
        }
    }
}

/// Externref values from scripts are `N + 1` in Kiln so that `ref.extern 0` is not null.
fn arg_slots(arg: &WastArg<'_>) -> Option<Vec<u64>> {
    let WastArg::Core(core) = arg else {
        return None;
    };
    Some(match core {
        WastArgCore::I32(v) => vec![*v as u32 as u64],
        WastArgCore::I64(v) => vec![*v as u64],
        WastArgCore::F32(f) => vec![f.bits as u64],
        WastArgCore::F64(f) => vec![f.bits],
        WastArgCore::V128(v) => {
            let b = v.to_le_bytes();
            let lo = u64::from_le_bytes(b[..8].try_into().ok()?);
            let hi = u64::from_le_bytes(b[8..].try_into().ok()?);
            vec![lo, hi]
        }
        WastArgCore::RefNull(_) => vec![0],
        WastArgCore::RefExtern(n) => vec![*n as u64 + 1],
        WastArgCore::RefHost(_) => return None,
    })
}

fn f32_matches(bits: u32, p: &NanPattern<wast::token::F32>) -> bool {
    match p {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => bits & 0x7fc0_0000 == 0x7fc0_0000,
        NanPattern::Value(v) => v.bits == bits,
    }
}

fn f64_matches(bits: u64, p: &NanPattern<wast::token::F64>) -> bool {
    match p {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => bits & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        NanPattern::Value(v) => v.bits == bits,
    }
}

fn v128_matches(v: u128, p: &V128Pattern) -> bool {
    let b = v.to_le_bytes();
    match p {
        V128Pattern::I8x16(l) => l.iter().enumerate().all(|(i, x)| b[i] == *x as u8),
        V128Pattern::I16x8(l) => l
            .iter()
            .enumerate()
            .all(|(i, x)| u16::from_le_bytes([b[2 * i], b[2 * i + 1]]) == *x as u16),
        V128Pattern::I32x4(l) => l.iter().enumerate().all(|(i, x)| {
            u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap_or_default()) == *x as u32
        }),
        V128Pattern::I64x2(l) => l.iter().enumerate().all(|(i, x)| {
            u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap_or_default()) == *x as u64
        }),
        V128Pattern::F32x4(l) => l.iter().enumerate().all(|(i, p)| {
            f32_matches(
                u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap_or_default()),
                p,
            )
        }),
        V128Pattern::F64x2(l) => l.iter().enumerate().all(|(i, p)| {
            f64_matches(
                u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap_or_default()),
                p,
            )
        }),
    }
}

fn ret_matches(slots: &[u64], ty: ValType, ret: &WastRetCore<'_>) -> bool {
    let v = slots[0];
    match ret {
        WastRetCore::I32(x) => ty == ValType::I32 && v as u32 == *x as u32,
        WastRetCore::I64(x) => ty == ValType::I64 && v == *x as u64,
        WastRetCore::F32(p) => ty == ValType::F32 && f32_matches(v as u32, p),
        WastRetCore::F64(p) => ty == ValType::F64 && f64_matches(v, p),
        WastRetCore::V128(p) => {
            ty == ValType::V128 && v128_matches(v as u128 | (slots[1] as u128) << 64, p)
        }
        WastRetCore::RefNull(_) => ty.is_ref() && v == 0,
        WastRetCore::RefExtern(None) => ty == ValType::ExternRef && v != 0,
        WastRetCore::RefExtern(Some(n)) => ty == ValType::ExternRef && v == *n as u64 + 1,
        WastRetCore::RefFunc(_) => ty == ValType::FuncRef && v != 0,
        WastRetCore::Either(alts) => alts.iter().any(|a| ret_matches(slots, ty, a)),
        _ => false,
    }
}

fn compare(values: &[u64], types: &[ValType], expected: &[WastRet<'_>]) -> Result<(), String> {
    if types.len() != expected.len() {
        return Err(format!(
            "expected {} results, got {}",
            expected.len(),
            types.len()
        ));
    }
    let mut at = 0;
    for (i, (ty, exp)) in types.iter().zip(expected).enumerate() {
        let n = ty.slots() as usize;
        let slots = &values[at..at + n];
        at += n;
        let WastRet::Core(core) = exp else {
            return Err("component results are not supported".into());
        };
        if !ret_matches(slots, *ty, core) {
            return Err(format!(
                "result {i}: expected {core:?}, got {ty} {:#x?}",
                slots
            ));
        }
    }
    Ok(())
}

/// A list of `.wast` files (relative to a suite directory) that must pass: no failure and
/// no skip. Files of the suite not on the list may fail; the list grows as features land.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MustPassList {
    /// File names relative to the suite directory, with `/` separators, in list order.
    pub files: Vec<String>,
}

/// What a run did to a [`MustPassList`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MustPassReport {
    /// How many files the list names.
    pub listed: usize,
    /// Listed files that failed or skipped a command: (name, failed, skipped).
    pub regressed: Vec<(String, usize, usize)>,
    /// Listed files the run did not include (renamed, deleted, or a wrong suite directory).
    pub missing: Vec<String>,
    /// Files not on the list that passed completely: candidates for the list.
    pub unlisted_passing: Vec<String>,
}

impl MustPassList {
    /// Parses a list: one file name per line; `#` starts a comment; blank lines are ignored.
    pub fn parse(text: &str) -> MustPassList {
        let files = text
            .lines()
            .map(|line| line.split('#').next().unwrap_or("").trim())
            .filter(|name| !name.is_empty())
            .map(|name| name.replace('\\', "/"))
            .collect();
        MustPassList { files }
    }

    /// Checks `results`, given as (file name relative to the suite directory, counts).
    pub fn check(&self, results: &[(String, Summary)]) -> MustPassReport {
        let by_name: HashMap<&str, &Summary> =
            results.iter().map(|(n, s)| (n.as_str(), s)).collect();
        let listed: std::collections::HashSet<&str> =
            self.files.iter().map(String::as_str).collect();
        let mut report = MustPassReport {
            listed: listed.len(),
            ..MustPassReport::default()
        };
        let mut seen = std::collections::HashSet::new();
        for name in &self.files {
            if !seen.insert(name.as_str()) {
                continue;
            }
            match by_name.get(name.as_str()) {
                None => report.missing.push(name.clone()),
                Some(s) if s.failed > 0 || s.skipped > 0 => {
                    report.regressed.push((name.clone(), s.failed, s.skipped))
                }
                Some(_) => {}
            }
        }
        for (name, s) in results {
            if s.failed == 0 && s.skipped == 0 && !listed.contains(name.as_str()) {
                report.unlisted_passing.push(name.clone());
            }
        }
        report
    }
}

impl MustPassReport {
    /// Whether every listed file ran and passed completely.
    pub fn ok(&self) -> bool {
        self.regressed.is_empty() && self.missing.is_empty()
    }

    /// One line for the end of a run's output.
    pub fn summary_line(&self) -> String {
        let mut line = format!("must-pass: {} files on the list, ", self.listed);
        if self.ok() {
            line.push_str("all passed");
        } else {
            let mut bad: Vec<String> = self
                .regressed
                .iter()
                .map(|(n, failed, skipped)| format!("{n} ({failed} failed, {skipped} skipped)"))
                .collect();
            bad.extend(self.missing.iter().map(|n| format!("{n} (not run)")));
            line.push_str(&format!("{} regressed: {}", bad.len(), bad.join(", ")));
        }
        if !self.unlisted_passing.is_empty() {
            line.push_str(&format!(
                "; {} files not on the list pass completely",
                self.unlisted_passing.len()
            ));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(passed: usize, failed: usize, skipped: usize) -> Summary {
        Summary {
            passed,
            failed,
            skipped,
            ..Summary::default()
        }
    }

    #[test]
    fn a_must_pass_list_reads_names_and_ignores_comments_and_blank_lines() {
        let list = MustPassList::parse(
            "# Files that pass in every engine.\n\nblock.wast\n  i32.wast  # integers\n\
             legacy\\try_catch.wast\n#global.wast\n",
        );
        assert_eq!(
            list.files,
            ["block.wast", "i32.wast", "legacy/try_catch.wast"]
        );
    }

    #[test]
    fn a_listed_file_that_fails_skips_or_is_missing_is_a_regression() {
        let list = MustPassList::parse("a.wast\nb.wast\nc.wast\nd.wast\na.wast\n");
        let results = [
            ("a.wast".to_string(), counts(5, 0, 0)),
            ("b.wast".to_string(), counts(4, 1, 0)),
            ("c.wast".to_string(), counts(4, 0, 2)),
            ("e.wast".to_string(), counts(3, 0, 0)),
            ("f.wast".to_string(), counts(3, 7, 0)),
        ];
        let report = list.check(&results);
        assert!(!report.ok());
        assert_eq!(report.listed, 4);
        assert_eq!(
            report.regressed,
            [("b.wast".to_string(), 1, 0), ("c.wast".to_string(), 0, 2)]
        );
        assert_eq!(report.missing, ["d.wast"]);
        assert_eq!(report.unlisted_passing, ["e.wast"]);
        assert_eq!(
            report.summary_line(),
            "must-pass: 4 files on the list, 3 regressed: b.wast (1 failed, 0 skipped), \
             c.wast (0 failed, 2 skipped), d.wast (not run); 1 files not on the list pass \
             completely"
        );
    }

    #[test]
    fn failures_outside_the_list_do_not_fail_the_run() {
        let list = MustPassList::parse("a.wast\n");
        let results = [
            ("a.wast".to_string(), counts(5, 0, 0)),
            ("f.wast".to_string(), counts(3, 7, 1)),
        ];
        let report = list.check(&results);
        assert!(report.ok());
        assert_eq!(
            report.summary_line(),
            "must-pass: 1 files on the list, all passed"
        );
    }
}
