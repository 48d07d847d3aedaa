//! Bodies of Kiln's fuzz targets, shared by the libFuzzer binaries in `fuzz_targets/` and by
//! the fixed-seed test `api/tests/fuzz_targets.rs` (which includes this file by path), so
//! `cargo test` runs exactly the code the fuzzer runs.
//!
//! - [`validate`]: arbitrary bytes through Kiln's decoder and validator. Kiln must answer
//!   with a typed error or a module, and must never accept what wasmparser (with every
//!   feature on) rejects.
//! - [`run`]: a wasm-smith module (WebAssembly 2.0 with SIMD, unbounded loops) compiled and
//!   instantiated in every Kiln engine; every export called in lockstep with a wall-clock
//!   deadline (Kiln's interruption) bounding each call; results, trap kinds, memories and
//!   globals compared between the engines until a deadline or stack exhaustion ends the
//!   comparison.
//! - [`differential`]: a wasm-smith module whose loops and calls are bounded by
//!   wasm-smith's fuel global, run in every Kiln engine and in wasmi (the reference, with its
//!   own fuel metering as a second bound); results, trap kinds, memories and globals must
//!   agree. NaN results: wasm-smith canonicalises NaNs produced by float operators, and a
//!   scalar NaN result matches any NaN (the spec leaves payloads of non-canonical
//!   operations nondeterministic); v128 values compare bitwise.

#[path = "smith.rs"]
mod smith;

use arbitrary::Unstructured;
use kiln::{EngineKind, Error, ModuleConfig, Runtime, RuntimeConfig, TrapCode, ValueType};
use smith::{Prng, export_global, smith_config};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Fuel given to a module at instantiation and before every call (wasm-smith's
/// `ensure_termination`: each function entry and loop iteration costs 1).
const FUEL: u32 = 2_000;
/// Name under which the fuel global is exported (wasm-smith adds it without an export).
const FUEL_EXPORT: &str = "__kiln_fuel";
/// Memory limit of every runtime (and of wasmi's store), so growth stays cheap.
const MEMORY_LIMIT_PAGES: u32 = 16;
/// Kiln's table limit (`table_limit_elements`), mirrored in wasmi's store limits.
const TABLE_LIMIT_ELEMENTS: usize = 10_000_000;
/// Fuel of wasmi's own metering per call: a backstop far above what wasm-smith's fuel
/// allows, so running out of it means the bound failed.
const WASMI_FUEL: u64 = 50_000_000;
/// Times every exported function is called.
const ROUNDS: u32 = 2;

// ---------------------------------------------------------------------------------------
// Target: decode and validate
// ---------------------------------------------------------------------------------------

/// What Kiln said about a byte string.
#[derive(Debug, PartialEq, Eq)]
pub enum Validation {
    /// Kiln compiled it.
    Accepted,
    /// Kiln rejected it with a compile error.
    Rejected,
    /// Kiln refused a feature it does not implement.
    Unsupported,
}

/// Decodes and validates `data` with Kiln (interpreter runtime). Panics (a fuzz finding)
/// when Kiln answers with an error of the wrong kind or accepts a module that wasmparser
/// rejects with every proposal enabled.
pub fn validate(data: &[u8]) -> Validation {
    let result = VALIDATOR.with(|rt| rt.compile(data).map(|_| ()));
    match result {
        Ok(()) => {
            let mut validator =
                wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all());
            if let Err(e) = validator.validate_all(data) {
                panic!("Kiln accepted a module that wasmparser rejects: {e}");
            }
            Validation::Accepted
        }
        Err(Error::Compile(_)) => Validation::Rejected,
        Err(Error::Unsupported(_)) => Validation::Unsupported,
        Err(e) => panic!("compiling gave an error of the wrong kind: {e:?}"),
    }
}

thread_local! {
    static VALIDATOR: Runtime =
        Runtime::with_config(RuntimeConfig::interpreter()).expect("interpreter runtime");
    static ENGINES: Vec<(String, Runtime)> = kiln_engines();
}

/// Every Kiln engine this build has: the interpreter, the JIT, and the tiered engine
/// tiering up synchronously after two calls (so later calls of a module run native code).
fn kiln_engines() -> Vec<(String, Runtime)> {
    let base = || RuntimeConfig::new().with_memory_limit_pages(MEMORY_LIMIT_PAGES);
    let mut out = vec![(
        "interp".to_string(),
        Runtime::with_config(base().with_engine(EngineKind::Interp)).expect("interpreter"),
    )];
    if EngineKind::Jit.is_available() {
        let rt = Runtime::with_config(base().with_engine(EngineKind::Jit)).expect("jit");
        out.push(("jit".to_string(), rt));
    }
    if EngineKind::Tiered.is_available() {
        let config = base()
            .with_engine(EngineKind::Tiered)
            .with_tier_threshold(2)
            .with_tier_sync(true);
        out.push((
            "tiered".to_string(),
            Runtime::with_config(config).expect("tiered"),
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------
// Targets: run and differential
// ---------------------------------------------------------------------------------------

/// Counters of one or more modules; `mismatches` must stay empty.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Inputs seen.
    pub inputs: u64,
    /// Modules wasm-smith generated from them.
    pub generated: u64,
    /// Modules that instantiated in every engine.
    pub instantiated: u64,
    /// Exported functions called (in every engine).
    pub calls: u64,
    /// Calls that returned normally everywhere.
    pub returned: u64,
    /// Calls that trapped everywhere with the same kind.
    pub trapped: u64,
    /// Modules whose comparison ended early: stack exhausted, deadline or fuel backstop.
    pub stopped: u64,
    /// Exported states (memories and globals) compared.
    pub states_compared: u64,
    /// Every disagreement, described.
    pub mismatches: Vec<String>,
}

impl Report {
    /// Adds the counters of `other`.
    pub fn add(&mut self, other: Report) {
        self.inputs += other.inputs;
        self.generated += other.generated;
        self.instantiated += other.instantiated;
        self.calls += other.calls;
        self.returned += other.returned;
        self.trapped += other.trapped;
        self.stopped += other.stopped;
        self.states_compared += other.states_compared;
        self.mismatches.extend(other.mismatches);
    }

    fn assert_ok(&self) {
        assert!(
            self.mismatches.is_empty(),
            "engines disagree: {:#?}",
            self.mismatches
        );
    }
}

/// Runs a wasm-smith module made from `data` in every Kiln engine, calls bounded by a
/// deadline; panics on any disagreement.
pub fn run(data: &[u8]) {
    run_report(data, Duration::from_millis(100)).assert_ok();
}

/// [`run`] without the panic, with the deadline of each call given.
pub fn run_report(data: &[u8], deadline: Duration) -> Report {
    harness(data, Mode::Run { deadline })
}

/// Runs a wasm-smith module made from `data` in every Kiln engine and in wasmi; panics on
/// any disagreement.
pub fn differential(data: &[u8]) {
    differential_report(data).assert_ok();
}

/// [`differential`] without the panic.
pub fn differential_report(data: &[u8]) -> Report {
    harness(data, Mode::Wasmi)
}

#[derive(Clone, Copy)]
enum Mode {
    /// Kiln engines only, unbounded code, each call under a deadline.
    Run { deadline: Duration },
    /// Kiln engines and wasmi, code bounded by wasm-smith's fuel.
    Wasmi,
}

/// Generates a module from `data` (first byte: whether wasm-smith avoids traps); with
/// `fuel`, bounded by wasm-smith's fuel global, exported as `FUEL_EXPORT`.
fn generate(data: &[u8], fuel: bool) -> Option<Vec<u8>> {
    let (&first, rest) = data.split_first()?;
    let mut u = Unstructured::new(rest);
    let mut module = wasm_smith::Module::new(smith_config(first & 1 == 1, 1, 0), &mut u).ok()?;
    if !fuel {
        return Some(module.to_bytes());
    }
    let index = module.ensure_termination(FUEL).ok()?;
    Some(export_global(&module.to_bytes(), FUEL_EXPORT, index))
}

/// The wasm-smith module (WebAssembly 2.0 with SIMD, no fuel bound) that [`run`] makes of
/// `data`, or `None` when wasm-smith gives up.
pub fn smith_module(data: &[u8]) -> Option<Vec<u8>> {
    generate(data, false)
}

/// Exports of a module by name, sorted (a fixed call order).
fn exports(wasm: &[u8]) -> BTreeMap<String, wasmparser::ExternalKind> {
    let mut out = BTreeMap::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let Ok(wasmparser::Payload::ExportSection(reader)) = payload {
            for export in reader.into_iter().flatten() {
                out.insert(export.name.to_string(), export.kind);
            }
        }
    }
    out
}

/// Random bytes of `len` from `seed`: the input of the fixed-seed tests.
pub fn seed_input(seed: u64, len: usize) -> Vec<u8> {
    Prng::new(seed).bytes(len)
}

/// An argument, engine-neutral.
#[derive(Clone, Copy, Debug)]
enum Arg {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    NullFunc,
    /// Externref: 0 is null; wasmi comparisons pass only null.
    Extern(usize),
}

fn arguments(params: &[ValueType], rng: &mut Prng, host_refs: bool) -> Vec<Arg> {
    const I32S: [i32; 8] = [0, 1, -1, 2, i32::MIN, i32::MAX, 0x7fff, 65536];
    const I64S: [i64; 7] = [0, 1, -1, 2, i64::MIN, i64::MAX, 1 << 32];
    const F32S: [f32; 8] = [0.0, -0.0, 1.0, -1.5, f32::INFINITY, f32::NAN, 1e-40, 3.0e9];
    const F64S: [f64; 8] = [
        0.0,
        -0.0,
        1.0,
        -1.5,
        f64::NEG_INFINITY,
        f64::NAN,
        5e-324,
        1e19,
    ];
    params
        .iter()
        .map(|ty| {
            let pick = rng.below(3) == 0;
            let r = rng.next();
            match ty {
                ValueType::I32 if pick => Arg::I32(I32S[(r % 8) as usize]),
                ValueType::I32 => Arg::I32(if r & 1 == 0 {
                    (r >> 60) as i32
                } else {
                    (r >> 32) as i32
                }),
                ValueType::I64 if pick => Arg::I64(I64S[(r % 7) as usize]),
                ValueType::I64 => Arg::I64((r >> (r % 64)) as i64),
                ValueType::F32 if pick => Arg::F32(F32S[(r % 8) as usize].to_bits()),
                ValueType::F32 => Arg::F32(((r as i32) as f32 / 256.0).to_bits()),
                ValueType::F64 if pick => Arg::F64(F64S[(r % 8) as usize].to_bits()),
                ValueType::F64 => Arg::F64(((r as i64) as f64 / 65536.0).to_bits()),
                ValueType::V128 => Arg::V128(u128::from(r) | u128::from(rng.next()) << 64),
                ValueType::FuncRef => Arg::NullFunc,
                ValueType::ExternRef if host_refs && !pick => Arg::Extern((r % 1000) as usize + 1),
                ValueType::ExternRef => Arg::Extern(0),
            }
        })
        .collect()
}

/// An engine-neutral value as compared.
#[derive(Clone, Copy, Debug)]
enum Value {
    I32(u32),
    I64(u64),
    F32(u32),
    F64(u64),
    V128(u128),
    /// References: only null-ness is comparable across runtimes.
    Ref {
        null: bool,
    },
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (*self, *other) {
            (Value::I32(a), Value::I32(b)) => a == b,
            (Value::I64(a), Value::I64(b)) => a == b,
            (Value::F32(a), Value::F32(b)) => {
                a == b || (f32::from_bits(a).is_nan() && f32::from_bits(b).is_nan())
            }
            (Value::F64(a), Value::F64(b)) => {
                a == b || (f64::from_bits(a).is_nan() && f64::from_bits(b).is_nan())
            }
            (Value::V128(a), Value::V128(b)) => a == b,
            (Value::Ref { null: a }, Value::Ref { null: b }) => a == b,
            _ => false,
        }
    }
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Values(Vec<Value>),
    Trap(TrapCode),
    Error(String),
    /// Stack exhausted, deadline passed or fuel backstop hit: legitimately engine-specific,
    /// ends the comparison of this module.
    Stop(&'static str),
}

/// Trap kinds as both runtimes can name them: wasmi reports a `call_indirect` index past the
/// table's end as a table access out of bounds, which Kiln calls an undefined element.
fn comparable(code: TrapCode) -> TrapCode {
    match code {
        TrapCode::UndefinedElement => TrapCode::TableOutOfBounds,
        c => c,
    }
}

fn kiln_outcome(e: &Error) -> Outcome {
    match e {
        Error::Trap(t) if t.code() == TrapCode::StackExhausted => Outcome::Stop("stack exhausted"),
        Error::Trap(t) => Outcome::Trap(comparable(t.code())),
        Error::Exit(x) if x.is_deadline_exceeded() => Outcome::Stop("deadline"),
        e => Outcome::Error(format!("kiln: {e}")),
    }
}

fn wasmi_outcome(e: &wasmi::Error) -> Outcome {
    use wasmi::TrapCode as W;
    match e.as_trap_code() {
        Some(W::UnreachableCodeReached) => Outcome::Trap(TrapCode::Unreachable),
        Some(W::MemoryOutOfBounds) => Outcome::Trap(TrapCode::MemoryOutOfBounds),
        Some(W::TableOutOfBounds) => Outcome::Trap(TrapCode::TableOutOfBounds),
        Some(W::IndirectCallToNull) => Outcome::Trap(TrapCode::UninitializedElement),
        Some(W::IntegerDivisionByZero) => Outcome::Trap(TrapCode::IntegerDivideByZero),
        Some(W::IntegerOverflow) => Outcome::Trap(TrapCode::IntegerOverflow),
        Some(W::BadConversionToInteger) => Outcome::Trap(TrapCode::InvalidConversionToInteger),
        Some(W::BadSignature) => Outcome::Trap(TrapCode::IndirectCallTypeMismatch),
        Some(W::StackOverflow) => Outcome::Stop("stack exhausted"),
        Some(W::OutOfFuel) => Outcome::Stop("wasmi fuel"),
        _ => Outcome::Error(format!("wasmi: {e}")),
    }
}

/// Exported memories and globals.
#[derive(Debug, PartialEq)]
struct State {
    memories: Vec<(String, Vec<u8>)>,
    globals: Vec<(String, Value)>,
}

fn kiln_value(ty: ValueType, bits: u64) -> Value {
    match ty {
        ValueType::I32 => Value::I32(bits as u32),
        ValueType::I64 => Value::I64(bits),
        ValueType::F32 => Value::F32(bits as u32),
        ValueType::F64 => Value::F64(bits),
        ValueType::V128 => unreachable!("v128 takes two slots"),
        ValueType::FuncRef | ValueType::ExternRef => Value::Ref { null: bits == 0 },
    }
}

fn wasmi_value(v: &wasmi::Val) -> Value {
    match v {
        wasmi::Val::I32(x) => Value::I32(*x as u32),
        wasmi::Val::I64(x) => Value::I64(*x as u64),
        wasmi::Val::F32(x) => Value::F32(x.to_bits()),
        wasmi::Val::F64(x) => Value::F64(x.to_bits()),
        wasmi::Val::V128(x) => Value::V128(x.as_u128()),
        wasmi::Val::FuncRef(r) => Value::Ref { null: r.is_null() },
        wasmi::Val::ExternRef(r) => Value::Ref { null: r.is_null() },
    }
}

/// One instance in one runtime.
enum Instance {
    Kiln(kiln::Module),
    Wasmi(Box<(wasmi::Store<wasmi::StoreLimits>, wasmi::Instance)>),
}

impl Instance {
    fn call(&mut self, name: &str, sig: &Signature, args: &[Arg], mode: Mode) -> Outcome {
        match self {
            Instance::Kiln(module) => {
                let Some(f) = module.exported_function(name) else {
                    return Outcome::Error("kiln: export missing".into());
                };
                let mut slots = Vec::with_capacity(args.len() * 2);
                for arg in args {
                    match *arg {
                        Arg::I32(v) => slots.push(kiln::encode_i32(v)),
                        Arg::I64(v) => slots.push(kiln::encode_i64(v)),
                        Arg::F32(v) => slots.push(u64::from(v)),
                        Arg::F64(v) => slots.push(v),
                        Arg::V128(v) => slots.extend(kiln::encode_v128(v)),
                        Arg::NullFunc => slots.push(0),
                        Arg::Extern(v) => slots.push(kiln::encode_externref(v)),
                    }
                }
                let result = match mode {
                    Mode::Run { deadline } => {
                        f.call_with_deadline(&slots, Instant::now() + deadline)
                    }
                    Mode::Wasmi => f.call(&slots),
                };
                match result {
                    Ok(out) => {
                        let mut out = out.into_iter();
                        let mut next = || out.next().unwrap_or(0);
                        Outcome::Values(
                            sig.results
                                .iter()
                                .map(|&ty| match ty {
                                    ValueType::V128 => {
                                        let low = next();
                                        Value::V128(kiln::decode_v128([low, next()]))
                                    }
                                    ty => kiln_value(ty, next()),
                                })
                                .collect(),
                        )
                    }
                    Err(e) => kiln_outcome(&e),
                }
            }
            Instance::Wasmi(b) => {
                let (store, instance) = &mut **b;
                let Some(f) = instance.get_func(&*store, name) else {
                    return Outcome::Error("wasmi: export missing".into());
                };
                let inputs: Vec<wasmi::Val> = args
                    .iter()
                    .map(|arg| match *arg {
                        Arg::I32(v) => wasmi::Val::I32(v),
                        Arg::I64(v) => wasmi::Val::I64(v),
                        Arg::F32(v) => wasmi::Val::F32(wasmi::F32::from_bits(v)),
                        Arg::F64(v) => wasmi::Val::F64(wasmi::F64::from_bits(v)),
                        Arg::V128(v) => wasmi::Val::V128(wasmi::V128::from(v)),
                        Arg::NullFunc => wasmi::Val::FuncRef(wasmi::Nullable::Null),
                        Arg::Extern(_) => wasmi::Val::ExternRef(wasmi::Nullable::Null),
                    })
                    .collect();
                let ty = f.ty(&*store);
                let mut outputs: Vec<wasmi::Val> = ty
                    .results()
                    .iter()
                    .map(|&t| wasmi::Val::default_for_ty(t))
                    .collect();
                if store.set_fuel(WASMI_FUEL).is_err() {
                    return Outcome::Error("wasmi: fuel metering off".into());
                }
                match f.call(&mut *store, &inputs, &mut outputs) {
                    Ok(()) => Outcome::Values(outputs.iter().map(wasmi_value).collect()),
                    Err(e) => wasmi_outcome(&e),
                }
            }
        }
    }

    /// Refills wasm-smith's fuel global.
    fn refuel(&mut self) -> bool {
        match self {
            Instance::Kiln(module) => module
                .exported_global(FUEL_EXPORT)
                .and_then(|g| g.as_mutable().map(|m| m.set(u64::from(FUEL))))
                .unwrap_or(false),
            Instance::Wasmi(b) => {
                let (store, instance) = &mut **b;
                instance
                    .get_global(&*store, FUEL_EXPORT)
                    .is_some_and(|g| g.set(&mut *store, wasmi::Val::I32(FUEL as i32)).is_ok())
            }
        }
    }

    fn state(&self, exports: &BTreeMap<String, wasmparser::ExternalKind>) -> State {
        let mut memories = Vec::new();
        let mut globals = Vec::new();
        for (name, kind) in exports {
            match (kind, self) {
                (wasmparser::ExternalKind::Memory, Instance::Kiln(m)) => {
                    let bytes = m.exported_memory(name).map(|mem| {
                        let len = u32::try_from(mem.size()).unwrap_or(u32::MAX);
                        mem.read(0, len).map(|b| b.to_vec()).unwrap_or_default()
                    });
                    memories.push((name.clone(), bytes.unwrap_or_default()));
                }
                (wasmparser::ExternalKind::Memory, Instance::Wasmi(b)) => {
                    let (store, instance) = &**b;
                    let bytes = instance
                        .get_memory(store, name)
                        .map(|mem| mem.data(store).to_vec());
                    memories.push((name.clone(), bytes.unwrap_or_default()));
                }
                (wasmparser::ExternalKind::Global, Instance::Kiln(m)) => {
                    if let Some(g) = m.exported_global(name) {
                        let v = match g.ty() {
                            ValueType::V128 => Value::V128(g.get_v128()),
                            ty => kiln_value(ty, g.get()),
                        };
                        globals.push((name.clone(), v));
                    }
                }
                (wasmparser::ExternalKind::Global, Instance::Wasmi(b)) => {
                    let (store, instance) = &**b;
                    if let Some(g) = instance.get_global(store, name) {
                        globals.push((name.clone(), wasmi_value(&g.get(store))));
                    }
                }
                _ => {}
            }
        }
        State { memories, globals }
    }
}

/// Parameter and result types of an export.
struct Signature {
    params: Vec<ValueType>,
    results: Vec<ValueType>,
}

fn instantiate_wasmi(wasm: &[u8]) -> Result<Instance, Outcome> {
    let mut config = wasmi::Config::default();
    config.consume_fuel(true);
    config.wasm_simd(true);
    config.wasm_relaxed_simd(false);
    config.wasm_tail_call(false);
    config.wasm_extended_const(false);
    config.wasm_multi_memory(false);
    config.wasm_memory64(false);
    config.wasm_custom_page_sizes(false);
    config.wasm_wide_arithmetic(false);
    let engine = wasmi::Engine::new(&config);
    let wasm = select_conditions_through_locals(wasm);
    let module =
        wasmi::Module::new(&engine, &wasm).map_err(|e| Outcome::Error(format!("wasmi: {e}")))?;
    let limits = wasmi::StoreLimitsBuilder::new()
        .memory_size(MEMORY_LIMIT_PAGES as usize * 65536)
        .table_elements(TABLE_LIMIT_ELEMENTS)
        .build();
    let mut store = wasmi::Store::new(&engine, limits);
    store.limiter(|limits| limits);
    store
        .set_fuel(WASMI_FUEL)
        .map_err(|e| Outcome::Error(format!("wasmi: {e}")))?;
    let linker = wasmi::Linker::<wasmi::StoreLimits>::new(&engine);
    let instance = linker
        .instantiate_and_start(&mut store, &module)
        .map_err(|e| wasmi_outcome(&e))?;
    Ok(Instance::Wasmi(Box::new((store, instance))))
}

/// `wasm` with the condition of every `select` stored to a fresh local and loaded again
/// (`local.set $c; local.get $c; select`): the same meaning, but the comparison that computes
/// the condition can no longer be fused into the `select`.
///
/// Only the module given to wasmi is rewritten. wasmi 2.0.0 fuses `i32.eqz` (`i32.eq` /
/// `i32.ne` with 0) into a following `select` by swapping the operands and dropping the
/// comparison; when the comparison read its operand from a stack slot (`I32Eq_Rsi`) the
/// fused `select` still reads its condition from the accumulator register, which no longer
/// holds it, and picks an operand by a stale value (`select(y, z, i32.eqz x)` with `x = 0`
/// gave `z`). A module the rewrite cannot parse is returned unchanged.
pub fn select_conditions_through_locals(wasm: &[u8]) -> Vec<u8> {
    use wasm_encoder::reencode::{Error as ReencodeError, Reencode, RoundtripReencoder};

    /// Parameter counts of the defined functions, in code-section order.
    fn defined_param_counts(wasm: &[u8]) -> Option<Vec<u32>> {
        let mut type_params = Vec::new();
        let mut counts = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(wasm) {
            match payload.ok()? {
                wasmparser::Payload::TypeSection(reader) => {
                    for group in reader {
                        for sub in group.ok()?.into_types() {
                            let params = match &sub.composite_type.inner {
                                wasmparser::CompositeInnerType::Func(f) => f.params().len(),
                                _ => 0,
                            };
                            type_params.push(u32::try_from(params).ok()?);
                        }
                    }
                }
                wasmparser::Payload::FunctionSection(reader) => {
                    for ty in reader {
                        counts.push(*type_params.get(ty.ok()? as usize)?);
                    }
                }
                _ => {}
            }
        }
        Some(counts)
    }

    struct Rewrite {
        params: Vec<u32>,
        next: usize,
    }
    impl Reencode for Rewrite {
        type Error = std::convert::Infallible;

        fn parse_function_body(
            &mut self,
            code: &mut wasm_encoder::CodeSection,
            func: wasmparser::FunctionBody<'_>,
        ) -> Result<(), ReencodeError<Self::Error>> {
            let mut locals = Vec::new();
            let mut index = self.params.get(self.next).copied().unwrap_or(0);
            self.next += 1;
            for pair in func.get_locals_reader()? {
                let (count, ty) = pair?;
                index += count;
                locals.push((count, RoundtripReencoder.val_type(ty)?));
            }
            locals.push((1, wasm_encoder::ValType::I32));
            let mut f = wasm_encoder::Function::new(locals);
            let mut reader = func.get_operators_reader()?;
            while !reader.eof() {
                let op = reader.read()?;
                if matches!(
                    op,
                    wasmparser::Operator::Select | wasmparser::Operator::TypedSelect { .. }
                ) {
                    f.instruction(&wasm_encoder::Instruction::LocalSet(index));
                    f.instruction(&wasm_encoder::Instruction::LocalGet(index));
                }
                f.instruction(&RoundtripReencoder.instruction(op)?);
            }
            code.function(&f);
            Ok(())
        }
    }

    let Some(params) = defined_param_counts(wasm) else {
        return wasm.to_vec();
    };
    let mut module = wasm_encoder::Module::new();
    let parsed = Rewrite { params, next: 0 }.parse_core_module(
        &mut module,
        wasmparser::Parser::new(0),
        wasm,
    );
    match parsed {
        Ok(()) => module.finish(),
        Err(_) => wasm.to_vec(),
    }
}

fn harness(data: &[u8], mode: Mode) -> Report {
    let mut report = Report {
        inputs: 1,
        ..Report::default()
    };
    let Some(wasm) = generate(data, matches!(mode, Mode::Wasmi)) else {
        return report;
    };
    report.generated = 1;
    ENGINES.with(|engines| compare(&wasm, data, engines, mode, &mut report));
    if !report.mismatches.is_empty() {
        // Keep the module for reproduction (`wasm-tools print` shows it).
        let path = std::env::temp_dir().join(format!("kiln-fuzz-{}.wasm", hash(&wasm)));
        if std::fs::write(&path, &wasm).is_ok() {
            let last = report.mismatches.last_mut().expect("a mismatch");
            let _ = write!(last, " (module: {})", path.display());
        }
    }
    report
}

fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn compare(
    wasm: &[u8],
    data: &[u8],
    engines: &[(String, Runtime)],
    mode: Mode,
    report: &mut Report,
) {
    let exports = exports(wasm);
    let mut names: Vec<String> = engines.iter().map(|(n, _)| n.clone()).collect();
    let mut instances = Vec::new();
    let mut failures = Vec::new();
    for (name, rt) in engines {
        let compiled = match rt.compile(wasm) {
            Ok(c) => c,
            Err(e) => {
                // The generator is configured for modules every engine accepts.
                report
                    .mismatches
                    .push(format!("{name} refused a generated module: {e}"));
                return;
            }
        };
        let mut config = ModuleConfig::new().with_name("").with_start_functions(&[]);
        if let Mode::Run { deadline } = mode {
            config = config.with_start_timeout(deadline);
        }
        match rt.instantiate(&compiled, config) {
            Ok(m) => instances.push(Instance::Kiln(m)),
            Err(e) => failures.push((name.clone(), kiln_outcome(&e))),
        }
    }
    if matches!(mode, Mode::Wasmi) {
        names.push("wasmi".to_string());
        match instantiate_wasmi(wasm) {
            Ok(i) => instances.push(i),
            Err(Outcome::Error(e))
                if e.contains("wasmi: failed to validate") || e.contains("unsupported") =>
            {
                report
                    .mismatches
                    .push(format!("wasmi refused a generated module: {e}"));
                return;
            }
            Err(o) => failures.push(("wasmi".to_string(), o)),
        }
    }
    if failures.iter().any(|(_, o)| matches!(o, Outcome::Stop(_))) {
        report.stopped += 1;
        return;
    }
    if !failures.is_empty() {
        // Instantiation errors are named differently by each runtime: only whether it
        // failed must agree (and Kiln's engines must agree on the trap kind).
        if !instances.is_empty() {
            report.mismatches.push(format!(
                "instantiation failed only in some engines: {failures:?}"
            ));
        }
        let kiln: Vec<&Outcome> = failures
            .iter()
            .filter(|(n, _)| n != "wasmi")
            .map(|(_, o)| o)
            .collect();
        if kiln.windows(2).any(|w| w[0] != w[1]) {
            report.mismatches.push(format!(
                "Kiln engines fail instantiation differently: {failures:?}"
            ));
        }
        return;
    }
    report.instantiated = 1;
    let reference = &names[0];
    let compare_states = |instances: &[Instance], when: &str, report: &mut Report| -> bool {
        report.states_compared += 1;
        let first = instances[0].state(&exports);
        for (name, instance) in names.iter().zip(instances).skip(1) {
            let other = instance.state(&exports);
            if other != first {
                report.mismatches.push(format!(
                    "state {when}: {reference} vs {name}: {}",
                    state_difference(&first, &other)
                ));
                return false;
            }
        }
        true
    };
    if !compare_states(&instances, "after instantiation", report) {
        return;
    }
    let Instance::Kiln(reference_module) = &instances[0] else {
        unreachable!("the interpreter comes first");
    };
    let functions: Vec<(String, Signature)> = exports
        .iter()
        .filter(|(_, k)| matches!(k, wasmparser::ExternalKind::Func))
        .filter_map(|(n, _)| {
            let f = reference_module.exported_function(n)?;
            let d = f.definition();
            Some((
                n.clone(),
                Signature {
                    params: d.param_types().to_vec(),
                    results: d.result_types().to_vec(),
                },
            ))
        })
        .collect();
    let mut rng = Prng(hash(data));
    for round in 0..ROUNDS {
        for (name, sig) in &functions {
            let args = arguments(&sig.params, &mut rng, matches!(mode, Mode::Run { .. }));
            let mut outcomes = Vec::new();
            for instance in &mut instances {
                if matches!(mode, Mode::Wasmi) && !instance.refuel() {
                    report
                        .mismatches
                        .push("fuel global not refillable".to_string());
                    return;
                }
                outcomes.push(instance.call(name, sig, &args, mode));
            }
            report.calls += 1;
            if outcomes.iter().any(|o| matches!(o, Outcome::Stop(_))) {
                report.stopped += 1;
                return;
            }
            for (engine, o) in names.iter().zip(&outcomes).skip(1) {
                if *o != outcomes[0] {
                    report.mismatches.push(format!(
                        "call {name:?} with {args:x?} (round {round}): {reference} {:?}, {engine} {o:?}",
                        outcomes[0]
                    ));
                    return;
                }
            }
            match &outcomes[0] {
                Outcome::Values(_) => report.returned += 1,
                Outcome::Trap(_) => report.trapped += 1,
                _ => {}
            }
            let when = format!("after call {name:?} (round {round})");
            if !compare_states(&instances, &when, report) {
                return;
            }
        }
    }
}

fn state_difference(a: &State, b: &State) -> String {
    let mut out = String::new();
    for ((name, x), (_, y)) in a.memories.iter().zip(&b.memories) {
        if x.len() != y.len() {
            let _ = write!(out, "memory `{name}`: {} vs {} bytes; ", x.len(), y.len());
        } else if let Some(i) = x.iter().zip(y).position(|(p, q)| p != q) {
            let _ = write!(out, "memory `{name}`: byte {i} is {} vs {}; ", x[i], y[i]);
        }
    }
    for ((name, x), (_, y)) in a.globals.iter().zip(&b.globals) {
        if x != y {
            let _ = write!(out, "global `{name}`: {x:?} vs {y:?}; ");
        }
    }
    if a.memories.len() != b.memories.len() || a.globals.len() != b.globals.len() {
        out.push_str("different exports read; ");
    }
    out
}
