//! Decoding and validation: bytes in, an immutable [`Module`] out.
//!
//! The whole module is validated eagerly (function bodies in parallel with rayon); function
//! bodies are translated for the interpreter lazily, on first call, and the translation is
//! shared by every instance of the module.

use crate::engine::{BatchFunction, CompiledBatch, CompiledFunction, Engine, OsrEntry};
use crate::error::{Error, Result};
use crate::interp::FuncCode;
use crate::types::{ExternType, FuncType, GlobalType, Limits, MemoryType, TableType, ValType};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use wasmparser::{ExternalKind, FuncValidatorAllocations, Parser, Payload, TypeRef, Validator};

/// Below this much function-body code, validation stays on the calling thread.
const PARALLEL_VALIDATION_BYTES: usize = 256 * 1024;

thread_local! {
    /// The function validator's stacks, kept between modules so that validating a small
    /// module allocates nothing for them.
    static VALIDATOR_ALLOCS: RefCell<Option<FuncValidatorAllocations>> =
        const { RefCell::new(None) };
}

/// Runs `f` with this thread's recycled function-validator allocations.
fn with_validator_allocs<R>(f: impl FnOnce(&mut FuncValidatorAllocations) -> R) -> R {
    let mut allocs = VALIDATOR_ALLOCS
        .with(|c| c.borrow_mut().take())
        .unwrap_or_default();
    let r = f(&mut allocs);
    VALIDATOR_ALLOCS.with(|c| *c.borrow_mut() = Some(allocs));
    r
}

/// Wraps the function validator's operator visitor and notes whether any SIMD instruction
/// (all of which are encoded behind the 0xFD prefix) went through it, so that validation
/// runs wasmparser's visitor directly, without building an `Operator` per instruction.
struct SimdSpy<'s, V> {
    inner: V,
    simd: &'s mut bool,
}

macro_rules! delegate_visit {
    ($(@$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*))*) => {
        $(
            #[inline(always)]
            fn $visit(&mut self $($(,$arg: $argty)*)?) -> Self::Output {
                self.inner.$visit($($($arg),*)?)
            }
        )*
    };
}

impl<'a, V: wasmparser::VisitOperator<'a>> wasmparser::VisitOperator<'a> for SimdSpy<'_, V> {
    type Output = V::Output;

    fn simd_visitor(
        &mut self,
    ) -> Option<&mut dyn wasmparser::VisitSimdOperator<'a, Output = Self::Output>> {
        *self.simd = true;
        self.inner.simd_visitor()
    }

    wasmparser::for_each_visit_operator!(delegate_visit);
}

impl<V: wasmparser::FrameStack> wasmparser::FrameStack for SimdSpy<'_, V> {
    fn current_frame(&self) -> Option<wasmparser::FrameKind> {
        self.inner.current_frame()
    }
}

/// Validates one function body; returns whether it uses SIMD.
fn validate_body(
    allocs: &mut FuncValidatorAllocations,
    func: wasmparser::FuncToValidate<wasmparser::ValidatorResources>,
    body: wasmparser::FunctionBody<'_>,
    max_locals: u64,
) -> Result<bool> {
    let mut v = func.into_validator(std::mem::take(allocs));
    let mut reader = body.get_binary_reader();
    // The validator first: a declaration it rejects (more locals than it allows at all) is
    // a malformed module, a compile error, whatever the configured limit.
    v.read_locals(&mut reader).map_err(compile_err)?;
    // A v128 local makes the function use SIMD even if no instruction does.
    let mut simd = false;
    let mut locals = 0u64;
    for local in body.get_locals_reader().map_err(compile_err)? {
        let (count, ty) = local.map_err(compile_err)?;
        simd |= ty == wasmparser::ValType::V128;
        locals += count as u64;
    }
    if locals > max_locals {
        return Err(crate::LimitError::new(crate::LimitKind::Locals, locals, max_locals).into());
    }
    reader.set_features(*v.features());
    while !reader.eof() {
        let mut visitor = SimdSpy {
            inner: v.visitor(reader.original_position()),
            simd: &mut simd,
        };
        reader
            .visit_operator(&mut visitor)
            .map_err(compile_err)?
            .map_err(compile_err)?;
    }
    reader
        .finish_expression(&v.visitor(reader.original_position()))
        .map_err(compile_err)?;
    *allocs = v.into_allocations();
    Ok(simd)
}

/// Names from the `name` custom section, decoded on first use.
///
/// Function and local names are kept as ranges of the module's bytes, sorted by index, not
/// as strings in maps: the API looks some up at every compile, and building maps of a
/// module with thousands of named functions took a tenth of its start-up.
#[derive(Default)]
pub(crate) struct Names {
    pub(crate) module: Option<String>,
    /// `(function, name)`, sorted by function (the last name wins, as in a map).
    funcs: Vec<(u32, Range<usize>)>,
    /// `(function, local, name)`, sorted by function and local.
    locals: Vec<(u32, u32, Range<usize>)>,
}

/// One instruction of a constant expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstOp {
    /// `i32.const`.
    I32(i32),
    /// `i64.const`.
    I64(i64),
    /// `f32.const` (bits).
    F32(u32),
    /// `f64.const` (bits).
    F64(u64),
    /// `v128.const`.
    V128(u128),
    /// `ref.null`.
    RefNull,
    /// `ref.func`.
    RefFunc(u32),
    /// `global.get`.
    GlobalGet(u32),
    /// `i32.add` (extended constant expressions).
    I32Add,
    /// `i32.sub`.
    I32Sub,
    /// `i32.mul`.
    I32Mul,
    /// `i64.add`.
    I64Add,
    /// `i64.sub`.
    I64Sub,
    /// `i64.mul`.
    I64Mul,
}

/// A constant expression (global initialisers, segment offsets and items).
#[derive(Clone, Debug, PartialEq)]
pub struct ConstExpr(pub ConstOps);

/// The instructions of a constant expression. Nearly every expression is a single
/// instruction (a constant, `ref.func`, `global.get`), which is stored inline, so an element
/// segment of thousands of functions costs no allocation per item.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstOps {
    /// One instruction.
    One(ConstOp),
    /// Several instructions (extended constant expressions).
    Many(Box<[ConstOp]>),
}

impl std::ops::Deref for ConstOps {
    type Target = [ConstOp];

    fn deref(&self) -> &[ConstOp] {
        match self {
            ConstOps::One(op) => std::slice::from_ref(op),
            ConstOps::Many(ops) => ops,
        }
    }
}

impl<'a> IntoIterator for &'a ConstOps {
    type Item = &'a ConstOp;
    type IntoIter = std::slice::Iter<'a, ConstOp>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl ConstExpr {
    fn parse(expr: &wasmparser::ConstExpr<'_>) -> Result<ConstExpr> {
        use wasmparser::Operator as O;
        // The first instruction stays out of the vector until a second one shows up.
        let mut first = None;
        let mut ops = Vec::new();
        let mut reader = expr.get_operators_reader();
        while !reader.eof() {
            let op = reader.read().map_err(compile_err)?;
            let op = match op {
                O::I32Const { value } => ConstOp::I32(value),
                O::I64Const { value } => ConstOp::I64(value),
                O::F32Const { value } => ConstOp::F32(value.bits()),
                O::F64Const { value } => ConstOp::F64(value.bits()),
                O::V128Const { value } => ConstOp::V128(u128::from_le_bytes(*value.bytes())),
                O::RefNull { .. } => ConstOp::RefNull,
                O::RefFunc { function_index } => ConstOp::RefFunc(function_index),
                O::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
                O::I32Add => ConstOp::I32Add,
                O::I32Sub => ConstOp::I32Sub,
                O::I32Mul => ConstOp::I32Mul,
                O::I64Add => ConstOp::I64Add,
                O::I64Sub => ConstOp::I64Sub,
                O::I64Mul => ConstOp::I64Mul,
                O::End => break,
                other => {
                    return Err(Error::Unsupported(format!(
                        "constant expression operator {other:?}"
                    )));
                }
            };
            if first.is_none() && ops.is_empty() {
                first = Some(op);
            } else {
                ops.extend(first.take());
                ops.push(op);
            }
        }
        Ok(ConstExpr(match first {
            Some(op) => ConstOps::One(op),
            None => ConstOps::Many(ops.into_boxed_slice()),
        }))
    }
}

/// An import of the module.
#[derive(Clone, Debug)]
pub struct Import {
    /// Module name it imports from.
    pub module: String,
    /// Field name.
    pub name: String,
    /// What it expects.
    pub ty: ExternType,
}

/// The kind and index of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportIndex {
    /// Function index.
    Func(u32),
    /// Table index.
    Table(u32),
    /// Memory index.
    Memory(u32),
    /// Global index.
    Global(u32),
}

/// How an element segment is used.
#[derive(Clone, Debug)]
pub enum ElemMode {
    /// Copied into a table at instantiation.
    Active {
        /// Table index.
        table: u32,
        /// Offset expression.
        offset: ConstExpr,
    },
    /// Used by `table.init`.
    Passive,
    /// Only declares functions for `ref.func`; dropped at instantiation.
    Declared,
}

/// An element segment.
#[derive(Clone, Debug)]
pub struct ElemSegment {
    /// Mode.
    pub mode: ElemMode,
    /// Element type.
    pub ty: ValType,
    /// One constant expression per element.
    pub items: Vec<ConstExpr>,
}

/// How a data segment is used.
#[derive(Clone, Debug)]
pub enum DataMode {
    /// Copied into a memory at instantiation.
    Active {
        /// Memory index.
        memory: u32,
        /// Offset expression.
        offset: ConstExpr,
    },
    /// Used by `memory.init`.
    Passive,
}

/// A data segment.
#[derive(Clone, Debug)]
pub struct DataSegment {
    /// Mode.
    pub mode: DataMode,
    /// The bytes, as a range of the module's bytes.
    pub range: Range<usize>,
}

/// A custom section.
#[derive(Clone, Debug)]
pub struct CustomSection {
    /// Section name.
    pub name: String,
    /// The payload, as a range of the module's bytes.
    pub range: Range<usize>,
}

/// Per-function data of a defined (not imported) function.
pub(crate) struct DefinedFunc {
    /// Byte range of the body (locals and code) within the module bytes (a module is
    /// smaller than 4 GiB: wasmparser reports offsets as `u32`-sized `u64`s).
    pub body: Range<u32>,
    /// Interpreter code, translated on first call.
    pub code: OnceLock<std::result::Result<Arc<FuncCode>, Box<Error>>>,
}

/// Everything known about a validated module.
pub(crate) struct ModuleInner {
    pub bytes: Arc<[u8]>,
    /// Decoded from the `name` custom sections on first use (most modules never need it).
    names: OnceLock<Names>,
    pub types: Vec<Arc<FuncType>>,
    /// Canonical (engine-wide) id of each type, for `call_indirect` checks.
    pub type_ids: Vec<u32>,
    pub imports: Vec<Import>,
    /// Type index of every function, imports first.
    pub funcs: Vec<u32>,
    pub num_imported_funcs: u32,
    pub tables: Vec<TableType>,
    pub num_imported_tables: u32,
    pub memories: Vec<MemoryType>,
    pub num_imported_memories: u32,
    pub globals: Vec<GlobalType>,
    pub num_imported_globals: u32,
    pub global_inits: Vec<ConstExpr>,
    pub exports: Vec<(String, ExportIndex)>,
    pub export_map: HashMap<String, ExportIndex>,
    pub start: Option<u32>,
    pub elems: Vec<ElemSegment>,
    pub datas: Vec<DataSegment>,
    pub defined: Vec<DefinedFunc>,
    pub custom_sections: Vec<CustomSection>,
    /// Set when any function body or type uses 128-bit SIMD.
    pub uses_simd: bool,
    /// Native code of every defined function (engine `jit`), registered for traps.
    pub native: OnceLock<crate::vm::native::Registered>,
    /// Engine `tiered`: what has been compiled and which instances to publish into.
    pub tiering: Option<TierState>,
    pub engine: Engine,
}

/// Where a function stands in engine `tiered`.
pub(crate) mod tier {
    /// Interpreted; not queued.
    pub const COLD: u8 = 0;
    /// Queued or compiling.
    pub const QUEUED: u8 = 1;
    /// Native code published.
    pub const PUBLISHED: u8 = 2;
    /// Could not be compiled; stays interpreted.
    pub const FAILED: u8 = 3;
}

/// Tiering state of one defined function.
#[derive(Default)]
pub(crate) struct FuncTier {
    /// One of the [`tier`] constants.
    pub state: std::sync::atomic::AtomicU8,
    /// Entry of the published code, 0 before.
    pub entry: std::sync::atomic::AtomicUsize,
    /// The OSR entry of the published code (set before `state` becomes `PUBLISHED`).
    pub osr: std::sync::OnceLock<OsrEntry>,
}

/// Tiering state of a module (engine `tiered`).
pub(crate) struct TierState {
    /// Per defined function.
    pub funcs: Box<[FuncTier]>,
    /// Code compiled for this module, registered with the trap handler; freed with it.
    pub code: Mutex<Vec<crate::vm::native::Registered>>,
    /// Instances of this module, to publish code into. Held while an instance links its
    /// slots, so publishing and instantiating never interleave.
    pub live: Mutex<Vec<std::sync::Weak<crate::instance::InstanceInner>>>,
    /// The body of every published defined function, 0 before: the table tiered bodies
    /// call each other through (`VMContext::bodies`, see `vm::abi`, "Calls between tiered
    /// bodies"). Shared by every instance, which point at it.
    pub bodies: Box<[std::sync::atomic::AtomicUsize]>,
    /// What the backend keeps per module (the tiering crate's code region), see
    /// [`Module::tier_backend_state`].
    pub backend_state: OnceLock<Arc<dyn std::any::Any + Send + Sync>>,
}

impl TierState {
    /// Makes the body of defined function `defined` (imports not counted) callable from
    /// other tiered bodies. Its code must already be registered and executable: the
    /// `Release` store publishes that to every caller, which loads the word and calls the
    /// address it read (see `vm::abi`, "Calls between tiered bodies"; modelled in
    /// `tests/loom_publish.rs`).
    fn publish_body(&self, defined: u32, body: usize) {
        if let Some(word) = self.bodies.get(defined as usize) {
            word.store(body, Ordering::Release);
        }
    }
}

/// A module handle that does not keep the module alive (tiering jobs hold these, so a
/// module dropped while its code compiles is simply not published into).
#[derive(Clone)]
pub struct WeakModule(std::sync::Weak<ModuleInner>);

impl WeakModule {
    /// The module, if it is still alive.
    pub fn upgrade(&self) -> Option<Module> {
        self.0.upgrade().map(Module)
    }

    /// Whether both handles are of the same module.
    pub fn same(&self, other: &WeakModule) -> bool {
        std::sync::Weak::ptr_eq(&self.0, &other.0)
    }
}

/// A validated WebAssembly module, ready to be instantiated any number of times.
///
/// Cloning is cheap (a reference count).
///
/// ```
/// use kiln_runtime::{Engine, Module};
/// let engine = Engine::default();
/// let bytes = wat::parse_str("(module (func (export \"f\") (result i32) i32.const 7))").unwrap();
/// let module = Module::new(&engine, &bytes).unwrap();
/// assert_eq!(module.exports().count(), 1);
/// assert!(Module::new(&engine, b"\0asm junk").is_err());
/// ```
#[derive(Clone)]
pub struct Module(pub(crate) Arc<ModuleInner>);

fn compile_err(e: wasmparser::BinaryReaderError) -> Error {
    Error::Compile(format!("{} (at offset {:#x})", e.message(), e.offset()))
}

fn limits(min: u64, max: Option<u64>) -> Limits {
    Limits { min, max }
}

fn table_type(t: &wasmparser::TableType) -> Result<TableType> {
    Ok(TableType {
        element: ValType::from_ref(t.element_type).map_err(Error::Unsupported)?,
        limits: limits(t.initial, t.maximum),
    })
}

fn memory_type(m: &wasmparser::MemoryType) -> Result<MemoryType> {
    if m.page_size_log2.is_some() {
        return Err(Error::Unsupported("custom page sizes".into()));
    }
    Ok(MemoryType {
        limits: limits(m.initial, m.maximum),
        memory64: m.memory64,
        shared: m.shared,
    })
}

fn global_type(g: &wasmparser::GlobalType) -> Result<GlobalType> {
    Ok(GlobalType {
        content: ValType::from_wasm(g.content_type).map_err(Error::Unsupported)?,
        mutable: g.mutable,
    })
}

fn no_tiering() -> Error {
    Error::Unsupported("tiering: the module's engine is not `tiered`".into())
}

/// Reads `payload` into `m` unless an earlier section needed a feature Kiln does not
/// implement; the first such [`Error::Unsupported`] is kept in `unsupported` (and nothing
/// more is read: later sections may refer to what was not read).
fn read_unless_unsupported(
    m: &mut ModuleInner,
    payload: Payload<'_>,
    unsupported: &mut Option<Error>,
) -> Result<()> {
    if unsupported.is_some() {
        return Ok(());
    }
    match m.read_payload(payload) {
        Err(e @ Error::Unsupported(_)) => {
            *unsupported = Some(e);
            Ok(())
        }
        other => other,
    }
}

impl Module {
    /// Decodes and validates `bytes` (WebAssembly binary format).
    ///
    /// # Errors
    ///
    /// [`Error::Compile`] for malformed or invalid modules, [`Error::Unsupported`] for
    /// features Kiln does not implement yet.
    pub fn new(engine: &Engine, bytes: &[u8]) -> Result<Module> {
        let config = engine.config();
        if bytes.len() as u64 > config.max_module_bytes {
            return Err(crate::LimitError::new(
                crate::LimitKind::ModuleBytes,
                bytes.len() as u64,
                config.max_module_bytes,
            )
            .into());
        }
        let (max_functions, max_locals) = (config.max_functions, config.max_locals);
        let too_many_functions = |n: u64| -> Result<()> {
            if n > max_functions {
                return Err(
                    crate::LimitError::new(crate::LimitKind::Functions, n, max_functions).into(),
                );
            }
            Ok(())
        };
        let bytes: Arc<[u8]> = Arc::from(bytes);
        let mut validator = Validator::new_with_features(engine.config().features);
        let mut m = ModuleInner {
            bytes: bytes.clone(),
            names: OnceLock::new(),
            types: Vec::new(),
            type_ids: Vec::new(),
            imports: Vec::new(),
            funcs: Vec::new(),
            num_imported_funcs: 0,
            tables: Vec::new(),
            num_imported_tables: 0,
            memories: Vec::new(),
            num_imported_memories: 0,
            globals: Vec::new(),
            num_imported_globals: 0,
            global_inits: Vec::new(),
            exports: Vec::new(),
            export_map: HashMap::new(),
            start: None,
            elems: Vec::new(),
            datas: Vec::new(),
            defined: Vec::new(),
            custom_sections: Vec::new(),
            uses_simd: false,
            native: OnceLock::new(),
            tiering: None,
            engine: engine.clone(),
        };
        let mut parser = Parser::new(0);
        // The parser has its own feature set (e.g. memory64 changes how limits decode).
        parser.set_features(engine.config().features);
        let mut payloads = parser.parse_all(&bytes);
        // Function bodies validate independently, as the parser reaches them. A small code
        // section is validated on this thread, where waking the pool would cost more than
        // the validation itself; a large one is handed to the rayon pool in chunks while
        // parsing goes on. Either way no list of all bodies is built, and the error
        // reported is that of the first invalid body, after the whole module has parsed.
        let simd = AtomicBool::new(false);
        let mut first_error: Option<(u32, Error)> = None;
        let mut large_code_section = None;
        let mut allocs = VALIDATOR_ALLOCS
            .with(|c| c.borrow_mut().take())
            .unwrap_or_default();
        let mut index = 0u32;
        // The first feature Kiln does not implement stops the reading of sections but not
        // validation: an invalid module is reported as invalid, whatever it uses.
        let mut unsupported: Option<Error> = None;
        for payload in payloads.by_ref() {
            let payload = payload.map_err(compile_err)?;
            // Declared counts are checked before anything is read for them, after the
            // validator's own checks (a count it refuses is a malformed module, a compile
            // error; it reserves nothing beyond its own maximum).
            let valid = validator.payload(&payload).map_err(compile_err)?;
            if let Payload::FunctionSection(r) = &payload {
                too_many_functions(m.funcs.len() as u64 + r.count() as u64)?;
            }
            match valid {
                wasmparser::ValidPayload::Func(func, body) => {
                    if first_error.is_none() {
                        match validate_body(&mut allocs, func, body, max_locals) {
                            Ok(s) => simd.fetch_or(s, Ordering::Relaxed),
                            Err(e) => {
                                first_error = Some((index, e));
                                false
                            }
                        };
                    }
                    index += 1;
                }
                wasmparser::ValidPayload::Ok => {
                    if let Payload::CodeSectionStart { count, size, .. } = payload {
                        m.defined.reserve_exact(count as usize);
                        if size as usize >= PARALLEL_VALIDATION_BYTES {
                            large_code_section = Some(count);
                        }
                    }
                }
                _ => {}
            }
            read_unless_unsupported(&mut m, payload, &mut unsupported)?;
            too_many_functions(m.funcs.len() as u64)?;
            if large_code_section.is_some() {
                break;
            }
        }
        VALIDATOR_ALLOCS.with(|c| *c.borrow_mut() = Some(allocs));
        if let Some(count) = large_code_section {
            let errors: Mutex<Option<(u32, Error)>> = Mutex::new(None);
            let chunk_len = (count as usize / (4 * rayon::current_num_threads())).max(16);
            let (simd, errors_ref) = (&simd, &errors);
            rayon::scope(|scope| -> Result<()> {
                let validate_chunk = |first: u32, chunk: Vec<_>| {
                    move |_: &rayon::Scope<'_>| {
                        with_validator_allocs(|allocs| {
                            for (k, (func, body)) in chunk.into_iter().enumerate() {
                                match validate_body(allocs, func, body, max_locals) {
                                    Ok(s) => {
                                        simd.fetch_or(s, Ordering::Relaxed);
                                    }
                                    Err(e) => {
                                        let at = first + k as u32;
                                        let mut slot =
                                            errors_ref.lock().unwrap_or_else(|e| e.into_inner());
                                        if slot.as_ref().is_none_or(|(i, _)| at < *i) {
                                            *slot = Some((at, e));
                                        }
                                        return;
                                    }
                                }
                            }
                        })
                    }
                };
                let mut chunk = Vec::with_capacity(chunk_len);
                let mut first = 0u32;
                for payload in payloads.by_ref() {
                    let payload = payload.map_err(compile_err)?;
                    if let wasmparser::ValidPayload::Func(func, body) =
                        validator.payload(&payload).map_err(compile_err)?
                    {
                        chunk.push((func, body));
                        if chunk.len() == chunk_len {
                            let full = std::mem::replace(&mut chunk, Vec::with_capacity(chunk_len));
                            scope.spawn(validate_chunk(first, full));
                            first += chunk_len as u32;
                        }
                    }
                    read_unless_unsupported(&mut m, payload, &mut unsupported)?;
                }
                if !chunk.is_empty() {
                    scope.spawn(validate_chunk(first, chunk));
                }
                Ok(())
            })?;
            first_error = errors.into_inner().unwrap_or_else(|e| e.into_inner());
        }
        if let Some((_, e)) = first_error {
            return Err(e);
        }
        if let Some(e) = unsupported {
            return Err(e);
        }
        m.uses_simd |= simd.into_inner();
        m.uses_simd |=
            m.types.iter().any(|t| {
                t.params().contains(&ValType::V128) || t.results().contains(&ValType::V128)
            }) || m.globals.iter().any(|g| g.content == ValType::V128);
        m.type_ids = m.types.iter().map(|t| engine.intern_type(t)).collect();
        if engine.kind() == crate::EngineKind::Tiered {
            m.tiering = Some(TierState {
                funcs: (0..m.defined.len()).map(|_| FuncTier::default()).collect(),
                code: Mutex::new(Vec::new()),
                live: Mutex::new(Vec::new()),
                bodies: (0..m.defined.len()).map(|_| Default::default()).collect(),
                backend_state: OnceLock::new(),
            });
        }
        let module = Module(Arc::new(m));
        if let Some(backend) = engine.backend()
            && engine.kind() == crate::EngineKind::Jit
        {
            let code = backend.compile_module(&module)?;
            let registered = crate::vm::native::register_accounted(code, &module)?;
            let _ = module.0.native.set(registered);
        }
        Ok(module)
    }

    /// A handle that does not keep the module alive.
    pub fn downgrade(&self) -> WeakModule {
        WeakModule(Arc::downgrade(&self.0))
    }

    /// Engine `tiered`: installs `compiled` as the code of defined function `index` in
    /// every instance of this module, now and later, and its OSR entry for the frames
    /// running the function's loops in the interpreter. Each slot gets its code pointer, then
    /// its array trampoline, then loses the interpreter's cached entry (a swap, ordered
    /// with the interpreter's caching swap), so no call site keeps calling the interpreter (see RATIONALE.md; modelled in
    /// `tests/loom_publish.rs`). Before the slots, the function's body (when `compiled` has
    /// one) goes into the module's body table, through which other tiered bodies call it.
    ///
    /// # Errors
    ///
    /// When the module is not tiered, `index` is not a defined function, or the
    /// trampolines of its type cannot be built.
    ///
    /// # Safety
    ///
    /// Every call of the function jumps to `compiled.entry` (and a frame in one of its
    /// loops to the OSR entry) without any check. `compiled` must be what this module's
    /// engine's backend ([`Engine::backend`]) returned from
    /// [`NativeBackend::compile_function`](crate::NativeBackend::compile_function) for
    /// this module and `index`, whose `unsafe impl` vouches for the code; anything else is
    /// undefined behaviour. Safe code cannot publish:
    ///
    /// ```compile_fail
    /// fn install(module: &kiln_runtime::Module, compiled: kiln_runtime::CompiledFunction) {
    ///     // Refused: `publish` is an `unsafe fn`.
    ///     module.publish(0, compiled).unwrap();
    /// }
    /// ```
    ///
    /// A tiering policy calls it in an `unsafe` block, with the backend's own result:
    ///
    /// ```
    /// fn install(module: &kiln_runtime::Module, index: u32) -> kiln_runtime::Result<()> {
    ///     let backend = module.engine().backend().expect("engine with native code");
    ///     let compiled = backend.compile_function(module, index)?;
    ///     // SAFETY: compiled by this module's engine's backend for `index`.
    ///     unsafe { module.publish(index, compiled) }
    /// }
    /// ```
    // The declaration of the contract is the only unsafe code here.
    #[allow(unsafe_code)]
    pub unsafe fn publish(&self, index: u32, compiled: CompiledFunction) -> Result<()> {
        let batch = CompiledBatch {
            code: compiled.code,
            functions: vec![BatchFunction {
                index,
                entry: compiled.entry,
                body: compiled.body,
                osr: compiled.osr,
            }],
        };
        // SAFETY: the caller vouches for `compiled` (this function's contract), which is
        // the batch's only function.
        unsafe { self.publish_batch(batch) }
    }

    /// Engine `tiered`: [`Module::publish`] for every function of `batch` at once: the
    /// code block is registered once and the module's live-instance lock is taken once.
    ///
    /// # Errors
    ///
    /// As [`Module::publish`]; nothing is published when a function of the batch is not
    /// a defined function of this module.
    ///
    /// # Safety
    ///
    /// As [`Module::publish`]: every entry (and OSR entry) of `batch` must be code this
    /// module's engine's backend compiled for this module and that function, in
    /// `batch.code`, whose `unsafe impl` of [`NativeBackend`](crate::NativeBackend)
    /// vouches for it.
    // The declaration of the contract is the only unsafe code here.
    #[allow(unsafe_code)]
    pub unsafe fn publish_batch(&self, batch: CompiledBatch) -> Result<()> {
        let m = &self.0;
        let tiering = m.tiering.as_ref().ok_or_else(no_tiering)?;
        let backend = m.engine.backend().ok_or_else(no_tiering)?;
        let mut functions = Vec::with_capacity(batch.functions.len());
        for f in batch.functions {
            let (_, slot) = self.tier_slot(f.index)?;
            let ty = &m.types[m.funcs[f.index as usize] as usize];
            let tramp = backend.trampolines(ty)?.array_call;
            functions.push((f, slot, tramp));
        }
        // The engine's first native code: every slot it may call through needs its native
        // entry first (deferred until now, see `Engine::link_or_defer`).
        m.engine.link_native()?;
        let registered = crate::vm::native::register_accounted(batch.code, self)?;
        let mut live = tiering.live.lock().unwrap_or_else(|e| e.into_inner());
        tiering
            .code
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(registered);
        live.retain(|w| w.strong_count() > 0);
        let instances: Vec<_> = live.iter().filter_map(|w| w.upgrade()).collect();
        for (f, slot, tramp) in functions {
            self.install(&instances, slot, f, tramp);
        }
        drop(live);
        Ok(())
    }

    /// Installs the published function `f` (whose array trampoline is `tramp`) in its
    /// tier slot and in `instances`, all of this module's live ones; the caller holds the
    /// module's live-instance lock.
    fn install(
        &self,
        instances: &[Arc<crate::instance::InstanceInner>],
        slot: &FuncTier,
        f: BatchFunction,
        tramp: usize,
    ) {
        let m = &self.0;
        let index = f.index;
        slot.entry.store(f.entry, Ordering::SeqCst);
        if let (Some(body), Some(tiering)) = (f.body, m.tiering.as_ref()) {
            tiering.publish_body(index - m.num_imported_funcs, body);
        }
        for inst in instances {
            let r = &inst.func_refs[(index - m.num_imported_funcs) as usize];
            r.native_code.store(f.entry as *mut u8, Ordering::SeqCst);
            r.array_call.store(tramp as *mut u8, Ordering::SeqCst);
            // A swap, like the interpreter's caching in `enter` (see RATIONALE.md).
            r.interp_code.swap(std::ptr::null_mut(), Ordering::AcqRel);
        }
        if let Some(osr) = f.osr {
            let _ = slot.osr.set(osr);
        }
        slot.state.store(tier::PUBLISHED, Ordering::SeqCst);
        // A frame waiting in a loop for the OSR entry checks in at its very next back-edge
        // instead of after the usual interval (up to a thousand more iterations).
        if slot.osr.get().is_some()
            && let Some(code) = self.translated_code(index)
        {
            code.osr_at.store(0, Ordering::Relaxed);
        }
    }

    /// Engine `tiered`: the tiering policy dropped its request for defined function
    /// `index` (queued, not compiled): the function goes back to the interpreter as if it
    /// had never been hot, its counters reset, so it is requested again when it gets hot
    /// again. Does nothing unless the function is queued.
    pub fn tier_cool(&self, index: u32) {
        let Ok((_, slot)) = self.tier_slot(index) else {
            return;
        };
        if slot.state.load(Ordering::Acquire) != tier::QUEUED {
            return;
        }
        // Counters first: once the state is COLD, the next hot call requests it again.
        if let Some(code) = self.translated_code(index) {
            let threshold = self.0.engine.config().tier_threshold;
            code.calls.store(0, Ordering::Relaxed);
            code.backedges.store(0, Ordering::Relaxed);
            code.tier_at.store(threshold, Ordering::Relaxed);
            code.osr_at.store(threshold, Ordering::Relaxed);
        }
        let _ = slot.state.compare_exchange(
            tier::QUEUED,
            tier::COLD,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }

    /// Engine `tiered`: the state the backend keeps for this module, of type `T`, created
    /// with `init` on first use and dropped with the module (the tiering crate keeps the
    /// region its code is appended to here). `None` when the module is not tiered or the
    /// state has another type.
    pub fn tier_backend_state<T: std::any::Any + Send + Sync>(
        &self,
        init: impl FnOnce() -> T,
    ) -> Option<Arc<T>> {
        let tiering = self.0.tiering.as_ref()?;
        let state = tiering
            .backend_state
            .get_or_init(|| Arc::new(init()) as Arc<dyn std::any::Any + Send + Sync>);
        state.clone().downcast::<T>().ok()
    }

    /// Engine `tiered`: records that defined function `index` could not be compiled; it
    /// stays in the interpreter and is not requested again.
    pub fn tier_failed(&self, index: u32) {
        if let Ok((_, slot)) = self.tier_slot(index) {
            slot.state.store(tier::FAILED, Ordering::SeqCst);
        }
    }

    /// Engine `tiered`: whether function `index` has published native code.
    pub fn is_tiered_up(&self, index: u32) -> bool {
        self.tier_slot(index)
            .is_ok_and(|(_, slot)| slot.state.load(Ordering::SeqCst) == tier::PUBLISHED)
    }

    fn tier_slot(&self, index: u32) -> Result<(&TierState, &FuncTier)> {
        let m = &self.0;
        let tiering = m.tiering.as_ref().ok_or_else(no_tiering)?;
        let slot = index
            .checked_sub(m.num_imported_funcs)
            .and_then(|i| tiering.funcs.get(i as usize))
            .ok_or_else(|| Error::Instantiate(format!("no defined function {index}")))?;
        Ok((tiering, slot))
    }

    /// The module's name from the name section, if any.
    pub fn name(&self) -> Option<&str> {
        self.0.names().module.as_deref()
    }

    /// The raw bytes the module was compiled from.
    pub fn bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    /// Imports in declaration order.
    pub fn imports(&self) -> impl Iterator<Item = &Import> {
        self.0.imports.iter()
    }

    /// Exports in declaration order, with their types.
    pub fn exports(&self) -> impl Iterator<Item = (&str, ExternType)> + '_ {
        self.0
            .exports
            .iter()
            .map(|(name, idx)| (name.as_str(), self.0.extern_type(*idx)))
    }

    /// The type of export `name`, if present.
    pub fn export_type(&self, name: &str) -> Option<ExternType> {
        self.0.export_map.get(name).map(|i| self.0.extern_type(*i))
    }

    /// The index of export `name`.
    pub fn export_index(&self, name: &str) -> Option<ExportIndex> {
        self.0.export_map.get(name).copied()
    }

    /// The signature of function `index` (imports first).
    pub fn func_type(&self, index: u32) -> Option<&FuncType> {
        let ty = *self.0.funcs.get(index as usize)?;
        Some(&self.0.types[ty as usize])
    }

    /// Number of functions, imported ones included.
    pub fn num_funcs(&self) -> u32 {
        self.0.funcs.len() as u32
    }

    /// Number of imported functions.
    pub fn num_imported_funcs(&self) -> u32 {
        self.0.num_imported_funcs
    }

    /// Function name from the name section.
    pub fn func_name(&self, index: u32) -> Option<&str> {
        self.0.func_name(index)
    }

    /// Local (and parameter) name from the name section.
    pub fn local_name(&self, func: u32, local: u32) -> Option<&str> {
        self.0.local_name(func, local)
    }

    /// Memory types, imports first.
    pub fn memories(&self) -> &[MemoryType] {
        &self.0.memories
    }

    /// Function types of the type section, by type index.
    pub fn types(&self) -> &[std::sync::Arc<FuncType>] {
        &self.0.types
    }

    /// Type index of function `index` (imports first).
    pub fn func_type_index(&self, index: u32) -> Option<u32> {
        self.0.funcs.get(index as usize).copied()
    }

    /// The body of defined function `index` (imports first) as it appears in the code
    /// section: local declarations, then the operators, ending with `end`. `None` for
    /// imports and out-of-range indices.
    pub fn func_body(&self, index: u32) -> Option<&[u8]> {
        let d = self
            .0
            .defined
            .get(index.checked_sub(self.0.num_imported_funcs)? as usize)?;
        Some(&self.0.bytes[d.body.start as usize..d.body.end as usize])
    }

    /// Byte offset of defined function `index`'s body within the module bytes (for
    /// wasmparser readers that report positions).
    pub fn func_body_offset(&self, index: u32) -> Option<usize> {
        let d = self
            .0
            .defined
            .get(index.checked_sub(self.0.num_imported_funcs)? as usize)?;
        Some(d.body.start as usize)
    }

    /// Table types, imports first.
    pub fn tables(&self) -> &[TableType] {
        &self.0.tables
    }

    /// Number of imported tables.
    pub fn num_imported_tables(&self) -> u32 {
        self.0.num_imported_tables
    }

    /// Global types, imports first.
    pub fn globals(&self) -> &[GlobalType] {
        &self.0.globals
    }

    /// Number of imported globals.
    pub fn num_imported_globals(&self) -> u32 {
        self.0.num_imported_globals
    }

    /// Element segment reference types, by segment index.
    pub fn elem_types(&self) -> impl Iterator<Item = ValType> + '_ {
        self.0.elems.iter().map(|e| e.ty)
    }

    /// Number of data segments.
    pub fn num_datas(&self) -> u32 {
        self.0.datas.len() as u32
    }

    /// Number of imported memories.
    pub fn num_imported_memories(&self) -> u32 {
        self.0.num_imported_memories
    }

    /// Custom sections in order, with their payloads.
    pub fn custom_sections(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0
            .custom_sections
            .iter()
            .map(|c| (c.name.as_str(), &self.0.bytes[c.range.clone()]))
    }

    /// Total size in bytes of all function bodies.
    pub fn code_size(&self) -> usize {
        self.0.defined.iter().map(|d| d.body.len()).sum()
    }

    /// Whether the module uses 128-bit SIMD (not executable yet).
    pub fn uses_simd(&self) -> bool {
        self.0.uses_simd
    }

    /// The engine this module was compiled for.
    pub fn engine(&self) -> &Engine {
        &self.0.engine
    }

    /// The interpreter code of defined function `index` (translated now if needed), one
    /// instruction per line: a debugging aid.
    ///
    /// # Errors
    ///
    /// When `index` is not a defined function or translation fails.
    pub fn disassemble(&self, index: u32) -> Result<String> {
        let d = index
            .checked_sub(self.0.num_imported_funcs)
            .and_then(|i| self.0.defined.get(i as usize))
            .ok_or_else(|| Error::Usage(format!("no defined function {index}")))?;
        let code = d
            .code
            .get_or_init(|| crate::interp::translate(&self.0, index).map(Arc::new))
            .as_ref()
            .map_err(|e| Error::Usage(e.to_string()))?;
        let mut out = format!(
            "func {index}: {} slots ({} params, {} locals)\n",
            code.frame_slots, code.param_slots, code.local_slots
        );
        for (i, op) in code.ops.iter().enumerate() {
            let mut op = *op;
            match op.target_mut() {
                Some(t) => {
                    let abs = i as i64 + *t as i32 as i64;
                    out.push_str(&format!("{i:5}: {op:?} -> {abs}\n"));
                }
                None => out.push_str(&format!("{i:5}: {op:?}\n")),
            }
        }
        Ok(out)
    }

    /// Call and back-edge counters of defined function `index` (imports first), as
    /// counted by the interpreter.
    pub fn hotness(&self, index: u32) -> Option<(u32, u32)> {
        index.checked_sub(self.0.num_imported_funcs)?;
        Some(self.translated_code(index).map_or((0, 0), |c| c.hotness()))
    }

    /// The interpreter code of defined function `index` (imports first), if it has been
    /// translated.
    fn translated_code(&self, index: u32) -> Option<&FuncCode> {
        let d = self
            .0
            .defined
            .get(index.checked_sub(self.0.num_imported_funcs)? as usize)?;
        match d.code.get() {
            Some(Ok(code)) => Some(code),
            _ => None,
        }
    }
}

impl ModuleInner {
    pub(crate) fn extern_type(&self, idx: ExportIndex) -> ExternType {
        match idx {
            ExportIndex::Func(i) => {
                ExternType::Func((*self.types[self.funcs[i as usize] as usize]).clone())
            }
            ExportIndex::Table(i) => ExternType::Table(self.tables[i as usize]),
            ExportIndex::Memory(i) => ExternType::Memory(self.memories[i as usize]),
            ExportIndex::Global(i) => ExternType::Global(self.globals[i as usize]),
        }
    }

    pub(crate) fn func_type(&self, func: u32) -> &Arc<FuncType> {
        &self.types[self.funcs[func as usize] as usize]
    }

    fn read_payload(&mut self, payload: Payload<'_>) -> Result<()> {
        match payload {
            Payload::TypeSection(reader) => {
                for rec in reader {
                    let rec = rec.map_err(compile_err)?;
                    for sub in rec.into_types() {
                        match &sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => {
                                let params = f
                                    .params()
                                    .iter()
                                    .map(|t| ValType::from_wasm(*t))
                                    .collect::<std::result::Result<Vec<_>, _>>()
                                    .map_err(Error::Unsupported)?;
                                let results = f
                                    .results()
                                    .iter()
                                    .map(|t| ValType::from_wasm(*t))
                                    .collect::<std::result::Result<Vec<_>, _>>()
                                    .map_err(Error::Unsupported)?;
                                self.types.push(Arc::new(FuncType::new(params, results)));
                            }
                            _ => return Err(Error::Unsupported("GC types".into())),
                        }
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for imp in reader.into_imports() {
                    let imp = imp.map_err(compile_err)?;
                    let ty = match imp.ty {
                        TypeRef::Func(t) => {
                            self.funcs.push(t);
                            self.num_imported_funcs += 1;
                            ExternType::Func((*self.types[t as usize]).clone())
                        }
                        TypeRef::Table(t) => {
                            let t = table_type(&t)?;
                            self.tables.push(t);
                            self.num_imported_tables += 1;
                            ExternType::Table(t)
                        }
                        TypeRef::Memory(m) => {
                            let m = memory_type(&m)?;
                            self.memories.push(m);
                            self.num_imported_memories += 1;
                            ExternType::Memory(m)
                        }
                        TypeRef::Global(g) => {
                            let g = global_type(&g)?;
                            self.globals.push(g);
                            self.num_imported_globals += 1;
                            ExternType::Global(g)
                        }
                        _ => return Err(Error::Unsupported("import of this kind".into())),
                    };
                    self.imports.push(Import {
                        module: imp.module.to_string(),
                        name: imp.name.to_string(),
                        ty,
                    });
                }
            }
            Payload::FunctionSection(reader) => {
                self.funcs.reserve_exact(reader.count() as usize);
                for f in reader {
                    self.funcs.push(f.map_err(compile_err)?);
                }
            }
            Payload::TableSection(reader) => {
                for t in reader {
                    let t = t.map_err(compile_err)?;
                    if !matches!(t.init, wasmparser::TableInit::RefNull) {
                        return Err(Error::Unsupported("table initialiser expressions".into()));
                    }
                    self.tables.push(table_type(&t.ty)?);
                }
            }
            Payload::MemorySection(reader) => {
                for mem in reader {
                    self.memories.push(memory_type(&mem.map_err(compile_err)?)?);
                }
            }
            Payload::GlobalSection(reader) => {
                for g in reader {
                    let g = g.map_err(compile_err)?;
                    self.globals.push(global_type(&g.ty)?);
                    self.global_inits.push(ConstExpr::parse(&g.init_expr)?);
                }
            }
            Payload::ExportSection(reader) => {
                for e in reader {
                    let e = e.map_err(compile_err)?;
                    let idx = match e.kind {
                        ExternalKind::Func => ExportIndex::Func(e.index),
                        ExternalKind::Table => ExportIndex::Table(e.index),
                        ExternalKind::Memory => ExportIndex::Memory(e.index),
                        ExternalKind::Global => ExportIndex::Global(e.index),
                        _ => return Err(Error::Unsupported("export of this kind".into())),
                    };
                    self.exports.push((e.name.to_string(), idx));
                    self.export_map.insert(e.name.to_string(), idx);
                }
            }
            Payload::StartSection { func, .. } => self.start = Some(func),
            Payload::ElementSection(reader) => {
                for e in reader {
                    let e = e.map_err(compile_err)?;
                    let (ty, items) = match e.items {
                        wasmparser::ElementItems::Functions(r) => {
                            let mut items = Vec::new();
                            for f in r {
                                items.push(ConstExpr(ConstOps::One(ConstOp::RefFunc(
                                    f.map_err(compile_err)?,
                                ))));
                            }
                            (ValType::FuncRef, items)
                        }
                        wasmparser::ElementItems::Expressions(ty, r) => {
                            let mut items = Vec::new();
                            for expr in r {
                                items.push(ConstExpr::parse(&expr.map_err(compile_err)?)?);
                            }
                            (ValType::from_ref(ty).map_err(Error::Unsupported)?, items)
                        }
                    };
                    let mode = match e.kind {
                        wasmparser::ElementKind::Active {
                            table_index,
                            offset_expr,
                        } => ElemMode::Active {
                            table: table_index.unwrap_or(0),
                            offset: ConstExpr::parse(&offset_expr)?,
                        },
                        wasmparser::ElementKind::Passive => ElemMode::Passive,
                        wasmparser::ElementKind::Declared => ElemMode::Declared,
                    };
                    self.elems.push(ElemSegment { mode, ty, items });
                }
            }
            Payload::DataSection(reader) => {
                for d in reader {
                    let d = d.map_err(compile_err)?;
                    let end = d.range.end as usize;
                    let start = end - d.data.len();
                    let mode = match d.kind {
                        wasmparser::DataKind::Active {
                            memory_index,
                            offset_expr,
                        } => DataMode::Active {
                            memory: memory_index,
                            offset: ConstExpr::parse(&offset_expr)?,
                        },
                        wasmparser::DataKind::Passive => DataMode::Passive,
                    };
                    self.datas.push(DataSegment {
                        mode,
                        range: start..end,
                    });
                }
            }
            Payload::CodeSectionEntry(body) => {
                let range = body.range();
                self.defined.push(DefinedFunc {
                    body: range.start as u32..range.end as u32,
                    code: OnceLock::new(),
                });
            }
            Payload::CustomSection(reader) => {
                let start = reader.data_offset() as usize;
                self.custom_sections.push(CustomSection {
                    name: reader.name().to_string(),
                    range: start..start + reader.data().len(),
                });
            }
            _ => {}
        }
        Ok(())
    }

    /// The names of the `name` custom section(s), decoded on first use.
    pub(crate) fn names(&self) -> &Names {
        self.names.get_or_init(|| {
            let mut names = Names::default();
            for c in self.custom_sections.iter().filter(|c| c.name == "name") {
                // A malformed name section is not an error (the spec says it is ignored).
                let _ = names.read(&self.bytes[c.range.clone()], c.range.start);
            }
            names.sort();
            names
        })
    }

    /// Function name from the name section.
    pub(crate) fn func_name(&self, index: u32) -> Option<&str> {
        let names = self.names();
        let at = names.funcs.binary_search_by_key(&index, |f| f.0).ok()?;
        self.name_at(&names.funcs[at].1)
    }

    /// Local (and parameter) name from the name section.
    pub(crate) fn local_name(&self, func: u32, local: u32) -> Option<&str> {
        let names = self.names();
        let at = names
            .locals
            .binary_search_by_key(&(func, local), |l| (l.0, l.1))
            .ok()?;
        self.name_at(&names.locals[at].2)
    }

    /// The name at `range` of the module's bytes (UTF-8, checked when it was decoded).
    fn name_at(&self, range: &Range<usize>) -> Option<&str> {
        std::str::from_utf8(self.bytes.get(range.clone())?).ok()
    }
}

impl Names {
    fn read(&mut self, data: &[u8], offset: usize) -> wasmparser::Result<()> {
        // Where `name`, a slice of `data`, lies in the module's bytes.
        let range_of = |name: &str| {
            let start = offset + (name.as_ptr() as usize - data.as_ptr() as usize);
            start..start + name.len()
        };
        let reader =
            wasmparser::NameSectionReader::new(wasmparser::BinaryReader::new(data, offset as u64));
        for name in reader {
            match name? {
                wasmparser::Name::Module { name, .. } => self.module = Some(name.to_string()),
                wasmparser::Name::Function(map) => {
                    for n in map {
                        let n = n?;
                        self.funcs.push((n.index, range_of(n.name)));
                    }
                }
                wasmparser::Name::Local(map) => {
                    for f in map {
                        let f = f?;
                        // A function's names count only when all of them decode.
                        let mut locals = Vec::new();
                        for n in f.names {
                            let n = n?;
                            locals.push((f.index, n.index, range_of(n.name)));
                        }
                        self.locals.extend(locals);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Sorts the names for lookup (each name map is sorted, but a module may have several
    /// `name` sections); of equal keys the last decoded wins, as it did when names were
    /// inserted into maps.
    fn sort(&mut self) {
        // Stable sorts keep equal keys in decoding order; then keep the last of each run.
        self.funcs.sort_by_key(|f| f.0);
        self.funcs = dedup_keep_last(std::mem::take(&mut self.funcs), |f| f.0);
        self.locals.sort_by_key(|l| (l.0, l.1));
        self.locals = dedup_keep_last(std::mem::take(&mut self.locals), |l| (l.0, l.1));
    }
}

/// The last element of each run of equal keys of the sorted `items`.
fn dedup_keep_last<T, K: PartialEq>(items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        match out.last_mut() {
            Some(last) if key(last) == key(&item) => *last = item,
            _ => out.push(item),
        }
    }
    out
}
