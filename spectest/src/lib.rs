//! The `.wast` script runner behind `kiln-spectest` and the spec-suite tests.
//!
//! Each command of a script counts as one test. Commands after a module that failed to load
//! count as failed; commands that need a feature Kiln does not execute yet (see
//! [`SKIP_REASONS`]) count as skipped. `assert_invalid` and `assert_malformed` always run.

use kiln_runtime::{
    Engine, Error, Extern, ExternType, Func, FuncType, Global, GlobalType, Instance, Limits,
    Memory, MemoryType, Module, Table, TableType, Trap, TrapCode, ValType,
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
}

#[derive(Clone)]
enum Current {
    None,
    Ready(Instance),
    Failed,
    Skipped,
}

enum Registered {
    Instance(Instance),
    /// A module that needs a feature not built yet; importing from it is skipped too.
    Skipped,
    Host(HashMap<String, Extern>),
}

enum Outcome {
    Pass,
    Fail(String),
    Skip,
}

struct Runner {
    engine: Engine,
    registry: HashMap<String, Registered>,
    named: HashMap<String, Current>,
    current: Current,
    summary: Summary,
    file: String,
}

/// Runs one `.wast` file and returns its counts (a file that does not parse counts as one
/// failure).
pub fn run_file(path: &Path, options: &Options) -> Summary {
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
    let mut features = if options.wasm3 {
        wasmparser::WasmFeatures::WASM3
    } else {
        wasmparser::WasmFeatures::WASM2
    };
    features.remove(wasmparser::WasmFeatures::THREADS);
    let engine = Engine::new(kiln_runtime::Config::default().with_features(features));
    let mut runner = Runner {
        registry: HashMap::new(),
        named: HashMap::new(),
        current: Current::None,
        summary: Summary::default(),
        file: name.to_string(),
        engine,
    };
    runner.register_spectest();
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
    fn register_spectest(&mut self) {
        let mut m: HashMap<String, Extern> = HashMap::new();
        let print = |name: &str, params: Vec<ValType>| {
            Extern::Func(Func::host(
                &self.engine,
                FuncType::new(params, []),
                Some(name.to_string()),
                |_, _| Ok(()),
            ))
        };
        use ValType::*;
        m.insert("print".into(), print("print", vec![]));
        m.insert("print_i32".into(), print("print_i32", vec![I32]));
        m.insert("print_i64".into(), print("print_i64", vec![I64]));
        m.insert("print_f32".into(), print("print_f32", vec![F32]));
        m.insert("print_f64".into(), print("print_f64", vec![F64]));
        m.insert(
            "print_i32_f32".into(),
            print("print_i32_f32", vec![I32, F32]),
        );
        m.insert(
            "print_f64_f64".into(),
            print("print_f64_f64", vec![F64, F64]),
        );
        let global = |content, v: u64| {
            Extern::Global(Global::new(
                GlobalType {
                    content,
                    mutable: false,
                },
                [v, 0],
            ))
        };
        m.insert("global_i32".into(), global(I32, 666));
        m.insert("global_i64".into(), global(I64, 666));
        m.insert("global_f32".into(), global(F32, 666.6f32.to_bits() as u64));
        m.insert("global_f64".into(), global(F64, 666.6f64.to_bits()));
        let table = TableType {
            element: FuncRef,
            limits: Limits {
                min: 10,
                max: Some(20),
            },
        };
        if let Ok(t) = Table::new(table, 0, u32::MAX as u64) {
            m.insert("table".into(), Extern::Table(t));
        }
        let memory = MemoryType {
            limits: Limits {
                min: 1,
                max: Some(2),
            },
            memory64: false,
            shared: false,
        };
        if let Ok(mem) = Memory::new(memory, 65536) {
            m.insert("memory".into(), Extern::Memory(mem));
        }
        self.registry.insert("spectest".into(), Registered::Host(m));
    }

    fn resolve_imports(&self, module: &Module) -> Result<Vec<Extern>, Error> {
        let mut out = Vec::new();
        for imp in module.imports() {
            let found = match self.registry.get(&imp.module) {
                Some(Registered::Instance(i)) => i.export(&imp.name),
                Some(Registered::Host(m)) => m.get(&imp.name).cloned(),
                Some(Registered::Skipped) => {
                    return Err(Error::Unsupported(format!(
                        "{} (imports from skipped module `{}`)",
                        SKIP_REASONS[0], imp.module
                    )));
                }
                None => None,
            };
            match found {
                Some(e) => out.push(e),
                None => {
                    return Err(Error::Link(format!(
                        "unknown import {}::{}",
                        imp.module, imp.name
                    )));
                }
            }
        }
        Ok(out)
    }

    fn instantiate_bytes(&self, bytes: &[u8]) -> Result<Instance, Error> {
        let module = Module::new(&self.engine, bytes)?;
        let imports = self.resolve_imports(&module)?;
        Instance::new(&module, &imports)
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
                Ok(bytes) => match Module::new(&self.engine, &bytes) {
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
                Current::Ready(i) => {
                    self.registry
                        .insert(name.to_string(), Registered::Instance(i));
                    Outcome::Pass
                }
                Current::Skipped => {
                    self.registry.insert(name.to_string(), Registered::Skipped);
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
        match Module::new(&self.engine, &bytes) {
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
                match inst.export(global) {
                    Some(Extern::Global(g)) => {
                        let v = g.get();
                        let ty = g.ty().content;
                        let vals = if ty == ValType::V128 {
                            v.to_vec()
                        } else {
                            vec![v[0]]
                        };
                        Ok(Ok((vals, vec![ty])))
                    }
                    _ => Err(Outcome::Fail(format!("no global export `{global}`"))),
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
        let func = match inst.export(invoke.name) {
            Some(Extern::Func(f)) => f,
            _ => {
                return Err(Outcome::Fail(format!(
                    "no function export `{}`",
                    invoke.name
                )));
            }
        };
        let ty = func.ty().clone();
        let mut stack = Vec::with_capacity(ty.stack_len());
        for arg in &invoke.args {
            match arg_slots(arg) {
                Some(slots) => stack.extend(slots),
                None => return Err(Outcome::Fail("unsupported argument".into())),
            }
        }
        if stack.len() != ty.param_slots() as usize {
            return Err(Outcome::Fail("argument count mismatch".into()));
        }
        stack.resize(ty.stack_len(), 0);
        match func.call(&mut stack) {
            Ok(()) => {
                stack.truncate(ty.result_slots() as usize);
                Ok(Ok((stack, ty.results().to_vec())))
            }
            Err(t) => Ok(Err(Error::Trap(t))),
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

/// Convenience for tests: the type of an export, as the API reports it.
pub fn export_type(module: &Module, name: &str) -> Option<ExternType> {
    module.export_type(name)
}
