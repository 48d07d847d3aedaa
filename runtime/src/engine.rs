//! The engine: configuration shared by modules and instances, and the signature interner.

use crate::types::FuncType;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Which tier runs code. The runtime crate itself only has the interpreter; the tiering
/// crate installs native code through the indirection slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// Interpreter only.
    #[default]
    Interp,
    /// Every function compiled to native code before its first call.
    Jit,
    /// Interpreter first; hot functions compiled in the background.
    Tiered,
}

/// Engine settings. Setters consume and return the config, so they chain.
///
/// ```
/// use kiln_runtime::Config;
/// let config = Config::default().with_memory_limit_pages(256).with_max_call_depth(1000);
/// assert_eq!(config.memory_limit_pages, 256);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    /// WebAssembly features accepted by the validator (default: WebAssembly 2.0).
    pub features: wasmparser::WasmFeatures,
    /// Maximum size of any memory in 64 KiB pages (default 65536, the 32-bit maximum).
    pub memory_limit_pages: u64,
    /// Maximum number of nested Wasm calls before a "call stack exhausted" trap.
    pub max_call_depth: usize,
    /// Maximum number of `u64` value slots of one call's interpreter stack.
    pub max_stack_slots: usize,
    /// Maximum number of elements of any table.
    pub table_limit_elements: u64,
    /// Engine `tiered`: hotness (interpreted calls plus loop back-edges) at which a
    /// function is compiled, and back-edges between checks of a running loop for an
    /// on-stack-replacement entry.
    pub tier_threshold: u32,
    /// Engine `tiered`: compile on the thread that finds a function hot, before it goes
    /// on (deterministic tier-ups, for tests), instead of in the background.
    pub tier_sync: bool,
    /// Engine `tiered`: background compiler threads (default [`default_tier_workers`]).
    pub tier_workers: usize,
    /// Maximum size of a module's binary in bytes.
    pub max_module_bytes: u64,
    /// Maximum number of functions of a module, imports included.
    pub max_functions: u64,
    /// Maximum number of declared locals of one function (parameters not counted).
    pub max_locals: u64,
    /// Maximum bytes committed by the engine's memories, tables and code together.
    pub max_committed_bytes: u64,
    /// Fuel metering: every tier charges each segment of straight-line Wasm code its
    /// operator count from the engine's fuel counter before running it (see
    /// [`Engine::fuel_counter`]). Off by default; when off no fuel code is generated.
    pub fuel: bool,
}

/// Default [`Config::tier_threshold`].
pub const DEFAULT_TIER_THRESHOLD: u32 = 1000;

/// Default [`Config::tier_workers`]: one compiler thread per core beyond the one the
/// calling thread runs on (at least one, at most [`MAX_DEFAULT_TIER_WORKERS`]). The
/// interpreter keeps running while code compiles, so a compiler thread per core would take
/// the core the program needs (see RATIONALE.md, "A compile pipeline that scales").
pub fn default_tier_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.saturating_sub(1).clamp(1, MAX_DEFAULT_TIER_WORKERS)
}

/// Upper bound of [`default_tier_workers`]: beyond it, hot code is compiled faster than
/// a program finds it.
pub const MAX_DEFAULT_TIER_WORKERS: usize = 4;

impl Default for Config {
    fn default() -> Config {
        Config {
            features: wasmparser::WasmFeatures::WASM2,
            memory_limit_pages: 65536,
            max_call_depth: 20_000,
            max_stack_slots: 4 << 20,
            table_limit_elements: 10_000_000,
            tier_threshold: DEFAULT_TIER_THRESHOLD,
            tier_sync: false,
            tier_workers: default_tier_workers(),
            max_module_bytes: u64::MAX,
            max_functions: 1_000_000,
            max_locals: 50_000,
            max_committed_bytes: u64::MAX,
            fuel: false,
        }
    }
}

impl Config {
    /// Sets the memory limit in pages.
    pub fn with_memory_limit_pages(mut self, pages: u64) -> Config {
        self.memory_limit_pages = pages.min(65536);
        self
    }

    /// Sets the maximum call depth.
    pub fn with_max_call_depth(mut self, depth: usize) -> Config {
        self.max_call_depth = depth.max(1);
        self
    }

    /// Sets the tier-up threshold (at least 1).
    pub fn with_tier_threshold(mut self, threshold: u32) -> Config {
        self.tier_threshold = threshold.max(1);
        self
    }

    /// Compiles hot functions synchronously (see [`Config::tier_sync`]).
    pub fn with_tier_sync(mut self, sync: bool) -> Config {
        self.tier_sync = sync;
        self
    }

    /// Sets the number of background compiler threads (at least 1).
    pub fn with_tier_workers(mut self, workers: usize) -> Config {
        self.tier_workers = workers.max(1);
        self
    }

    /// Sets the table limit in elements.
    pub fn with_table_limit_elements(mut self, elements: u64) -> Config {
        self.table_limit_elements = elements;
        self
    }

    /// Sets the module size limit in bytes.
    pub fn with_max_module_bytes(mut self, bytes: u64) -> Config {
        self.max_module_bytes = bytes;
        self
    }

    /// Sets the limit of functions per module (imports included).
    pub fn with_max_functions(mut self, functions: u64) -> Config {
        self.max_functions = functions;
        self
    }

    /// Sets the limit of declared locals per function.
    pub fn with_max_locals(mut self, locals: u64) -> Config {
        self.max_locals = locals;
        self
    }

    /// Sets the budget of committed bytes (memories, tables and code together).
    pub fn with_max_committed_bytes(mut self, bytes: u64) -> Config {
        self.max_committed_bytes = bytes;
        self
    }

    /// Sets the accepted WebAssembly features.
    pub fn with_features(mut self, features: wasmparser::WasmFeatures) -> Config {
        self.features = features;
        self
    }
}

/// Entry points a native backend generates once per function type (see `vm::abi`).
#[derive(Clone, Copy, Debug)]
pub struct Trampolines {
    /// `system_v` array trampoline: `fn(code, callee, caller_vmctx, values)`.
    pub array_call: usize,
    /// Native-signature adapter calling the runtime for functions without native code.
    pub adapter: usize,
}

/// The optimizing tier as the runtime sees it (implemented by the tiering crate, which
/// depends on this one).
///
/// # Safety
///
/// The runtime jumps to the addresses a backend returns without checking them. An
/// implementation promises that every [`Trampolines`] entry, every
/// [`NativeCode::entry`](crate::vm::native::NativeCode::entry) of a compiled module and
/// every [`CompiledFunction`] entry (and body and OSR entry) is executable code that stays alive as
/// long as the returned code block, follows the calling convention and VM layout of
/// [`crate::vm::abi`] for the function and signature it was requested for, honours
/// [`NativeBackend::needs_guarded_memory`], and traps only at the sites its code block
/// reports. Implementing it is therefore `unsafe`:
///
/// ```compile_fail
/// use kiln_runtime::{FuncType, Module, NativeBackend, Result, Trampolines};
/// use kiln_runtime::vm::native::NativeCode;
/// struct Forged;
/// // Refused: the trait requires an `unsafe impl`.
/// impl NativeBackend for Forged {
///     fn compile_module(&self, _: &Module) -> Result<std::sync::Arc<dyn NativeCode>> {
///         Err(kiln_runtime::Error::Unsupported("forged".into()))
///     }
///     fn trampolines(&self, _: &FuncType) -> Result<Trampolines> {
///         Ok(Trampolines { array_call: 0xdead_beef, adapter: 0xdead_beef })
///     }
///     fn needs_guarded_memory(&self) -> bool {
///         false
///     }
/// }
/// ```
///
/// The same implementation compiles only as an `unsafe impl`, whose author vouches for
/// the addresses:
///
/// ```
/// use kiln_runtime::{FuncType, Module, NativeBackend, Result, Trampolines};
/// use kiln_runtime::vm::native::NativeCode;
/// struct Unsupported;
/// // SAFETY: returns no code at all.
/// unsafe impl NativeBackend for Unsupported {
///     fn compile_module(&self, _: &Module) -> Result<std::sync::Arc<dyn NativeCode>> {
///         Err(kiln_runtime::Error::Unsupported("no native code".into()))
///     }
///     fn trampolines(&self, _: &FuncType) -> Result<Trampolines> {
///         Err(kiln_runtime::Error::Unsupported("no native code".into()))
///     }
///     fn needs_guarded_memory(&self) -> bool {
///         false
///     }
/// }
/// ```
// Declaring the contract is the only unsafe code here; the implementation is the tiering
// crate's `CraneliftBackend`.
#[allow(unsafe_code)]
pub unsafe trait NativeBackend: Send + Sync {
    /// Compiles every defined function of `module` to native code.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Unsupported`] for features the backend cannot compile yet, or
    /// [`crate::Error::Compile`] when code generation fails.
    fn compile_module(
        &self,
        module: &crate::Module,
    ) -> crate::Result<std::sync::Arc<dyn crate::vm::native::NativeCode>>;

    /// The trampolines of signature `ty` (cached by the backend; they live as long as it).
    ///
    /// # Errors
    ///
    /// When code generation fails.
    fn trampolines(&self, ty: &FuncType) -> crate::Result<Trampolines>;

    /// Whether compiled code relies on guard pages instead of bounds checks (then every
    /// memory it accesses must be [`crate::Memory::is_guarded`]).
    fn needs_guarded_memory(&self) -> bool;

    /// Compiles defined function `index` of `module` on its own, for the tiering policy: it
    /// calls every function (its own module's too) through the indirection slots, or through
    /// the module's body table while the callee's body is published there (see
    /// [`crate::vm::abi`], "Calls between tiered bodies"), so code published later is
    /// reached.
    ///
    /// When the function has loops, the result also has its on-stack-replacement entry
    /// ([`CompiledFunction::osr`]), see [`crate::vm::abi`]: native type
    /// `(i64, i64) -> ()`, its parameters the address of the interpreter frame's slots,
    /// which hold the function's locals (parameters first, one slot each, in the runtime's
    /// value encoding) as they are at a loop header, and the ordinal of that loop
    /// (counting `loop` operators in body order from 0); the function runs from the header
    /// to its end and writes its results into slots `0..`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Unsupported`] when the function cannot be compiled this way.
    fn compile_function(
        &self,
        module: &crate::Module,
        index: u32,
    ) -> crate::Result<CompiledFunction> {
        let _ = (module, index);
        Err(crate::Error::Unsupported(
            "compiling single functions (tiering) in this backend".into(),
        ))
    }
}

/// One function compiled by [`NativeBackend::compile_function`].
#[derive(Clone)]
pub struct CompiledFunction {
    /// The code block (to register with the trap handler and keep alive while callable).
    pub code: Arc<dyn crate::vm::native::NativeCode>,
    /// Address of the entry.
    pub entry: usize,
    /// Address of the function's tiered body, in the same code block, when the backend
    /// compiles one: other tiered bodies of the module call it directly once it is
    /// published (see [`crate::vm::abi`], "Calls between tiered bodies", for its
    /// signature). `None` leaves every call going through the entry.
    pub body: Option<usize>,
    /// Its OSR entry, in the same code block (`None` when no loop can be entered).
    pub osr: Option<OsrEntry>,
}

/// Several functions of one module compiled into one code block (engine `tiered`), to
/// register and publish at once with [`crate::Module::publish_batch`].
#[derive(Clone)]
pub struct CompiledBatch {
    /// The code block of every function of the batch.
    pub code: Arc<dyn crate::vm::native::NativeCode>,
    /// The functions, each with its entries in [`CompiledBatch::code`].
    pub functions: Vec<BatchFunction>,
}

/// One function of a [`CompiledBatch`].
#[derive(Clone, Debug)]
pub struct BatchFunction {
    /// Its index (imports first).
    pub index: u32,
    /// Address of its entry.
    pub entry: usize,
    /// Address of its body, which other tiered bodies of the module call directly (see
    /// [`CompiledFunction::body`]).
    pub body: Option<usize>,
    /// Its OSR entry (`None` when no loop can be entered).
    pub osr: Option<OsrEntry>,
}

impl std::fmt::Debug for CompiledBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CompiledBatch({} functions)", self.functions.len())
    }
}

/// The on-stack-replacement entry of a compiled function (see
/// [`NativeBackend::compile_function`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OsrEntry {
    /// Address of the entry.
    pub entry: usize,
    /// The ordinals of the loops it can enter at, sorted.
    pub loops: Vec<u32>,
}

impl OsrEntry {
    /// Whether a frame at the header of loop `ordinal` can enter.
    pub fn enters(&self, ordinal: u32) -> bool {
        self.loops.binary_search(&ordinal).is_ok()
    }
}

impl std::fmt::Debug for CompiledFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CompiledFunction({:#x})", self.entry)
    }
}

/// The tiering policy's side of engine `tiered` (implemented by the tiering crate): the
/// interpreter reports hot code, the policy compiles it (through the engine's
/// [`NativeBackend`]) and publishes it with [`crate::Module::publish`] (which is `unsafe`:
/// the policy vouches that the code came from that backend).
pub trait TierPolicy: Send + Sync {
    /// Function `index` of `module` crossed the threshold, on calls or in a loop of a
    /// running frame (which then waits for the function's OSR entry). Called once per
    /// function and module (again only after the policy handed the request back with
    /// [`crate::Module::tier_cool`]); must not block unless [`Config::tier_sync`] is set
    /// (then the code should be published when this returns).
    fn function_hot(&self, module: &crate::Module, index: u32);
    /// Like [`TierPolicy::function_hot`], for a function that got hot in a loop of a
    /// running frame, which waits for the function's OSR entry: worth compiling before
    /// functions that only got hot on calls. By default the same as `function_hot`.
    fn loop_hot(&self, module: &crate::Module, index: u32) {
        self.function_hot(module, index);
    }
    /// The policy's counters (the runtime adds its own, see [`Engine::tier_stats`]).
    fn stats(&self) -> TierStats;
}

/// What the tiering of an engine has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TierStats {
    /// Functions the interpreter translated (ran at least once in the interpreter).
    pub functions_interpreted: u64,
    /// Compilation jobs queued: functions requested (on calls or in a loop, whose
    /// compile brings the OSR entry too), requests deferred and made again included.
    pub functions_queued: u64,
    /// Code blocks compiled: each holds one or several functions of one module and is
    /// registered and published at once.
    pub batches_compiled: u64,
    /// Requests the policy deferred (the queue was full) or dropped (the function had
    /// not got hotter since it was queued): the function went back to the interpreter
    /// with its counters reset, and is requested again if it gets hot again.
    pub functions_deferred: u64,
    /// Functions compiled and published.
    pub functions_compiled: u64,
    /// Compilations that failed or were discarded (the function stays interpreted).
    pub compile_failures: u64,
    /// OSR entries compiled.
    pub osr_compiled: u64,
    /// Frames that moved from the interpreter into native code at a loop header.
    pub osr_entries: u64,
    /// Total time spent compiling.
    pub total_compile_time: std::time::Duration,
    /// Longest single compilation (of one batch).
    pub max_compile_time: std::time::Duration,
    /// Jobs waiting in the queue right now.
    pub queue_length: u64,
    /// The most jobs that waited in the queue at once.
    pub max_queue_length: u64,
    /// Bytes of machine code compiled and published (functions, stubs and alignment
    /// padding; cumulative, code freed with its module included).
    pub code_bytes: u64,
    /// Background compiler threads started. The policy starts them with its first job in
    /// the background, so a runtime that never compiles anything starts none.
    pub worker_threads: u64,
    /// Whether the engine has linked its instances' indirection slots to native entry
    /// points, which it does before its first publication (see
    /// [`Engine::links_native_eagerly`]).
    pub native_linked: bool,
}

struct EngineInner {
    config: Config,
    kind: EngineKind,
    backend: Option<Arc<dyn NativeBackend>>,
    policy: Option<Arc<dyn TierPolicy>>,
    /// Runtime-side tiering counters.
    functions_interpreted: std::sync::atomic::AtomicU64,
    osr_entries: std::sync::atomic::AtomicU64,
    /// The array trampoline of `(i64, i64) -> ()`, through which OSR entries are entered.
    osr_trampoline: std::sync::OnceLock<Option<usize>>,
    interrupt: Arc<std::sync::atomic::AtomicU32>,
    accounting: Arc<crate::limits::Accounting>,
    /// Remaining fuel, shared by every instance of the engine (read by code through
    /// `VMContext::fuel`).
    fuel: Arc<std::sync::atomic::AtomicU64>,
    types: Mutex<HashMap<FuncType, u32>>,
    /// Whether the indirection slots of new instances get native entry points now or when
    /// the engine publishes its first native code (see [`Engine::link_native`]).
    native_links: Mutex<NativeLinks>,
}

/// When the indirection slots of an engine's instances are pointed at native entry points
/// (compiled code, or the adapter of the function's type into the runtime).
enum NativeLinks {
    /// Engine `tiered` before its first publication: no native code exists that could
    /// read a slot's native entry, so instances are only listed, to link at publication.
    /// Building the adapters (a Cranelift compilation per function type, host functions
    /// included) was most of the difference between the start-up of `tiered` and `interp`.
    Deferred(Vec<std::sync::Weak<crate::instance::InstanceInner>>),
    /// Instances are linked as they are created (engine `jit`, or `tiered` once it has
    /// published code); no slot is ever linked in engine `interp`.
    Eager,
}

/// Shared settings and the engine-wide signature ids used by `call_indirect`.
///
/// Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Engine(Arc<EngineInner>);

impl Default for Engine {
    fn default() -> Engine {
        Engine::new(Config::default())
    }
}

impl Engine {
    /// Creates an engine with the given configuration.
    pub fn new(config: Config) -> Engine {
        Engine::with_backend(config, EngineKind::Interp, None)
    }

    /// Creates an engine of `kind` whose native code comes from `backend` (required for
    /// [`EngineKind::Jit`] and [`EngineKind::Tiered`]; without one the engine interprets).
    pub fn with_backend(
        config: Config,
        kind: EngineKind,
        backend: Option<Arc<dyn NativeBackend>>,
    ) -> Engine {
        Engine::build(config, kind, backend, None)
    }

    /// Creates engine `tiered`: functions start in the interpreter and `policy` compiles
    /// the hot ones with `backend`. (Without native code on this platform the engine only
    /// interprets.)
    pub fn with_tiering(
        config: Config,
        backend: Arc<dyn NativeBackend>,
        policy: Arc<dyn TierPolicy>,
    ) -> Engine {
        Engine::build(config, EngineKind::Tiered, Some(backend), Some(policy))
    }

    fn build(
        config: Config,
        kind: EngineKind,
        backend: Option<Arc<dyn NativeBackend>>,
        policy: Option<Arc<dyn TierPolicy>>,
    ) -> Engine {
        let native = backend.is_some() && crate::vm::native::is_supported();
        let kind = match kind {
            EngineKind::Tiered if native && policy.is_some() => kind,
            EngineKind::Jit if native => kind,
            _ => EngineKind::Interp,
        };
        let accounting = Arc::new(crate::limits::Accounting::new(config.max_committed_bytes));
        Engine(Arc::new(EngineInner {
            config,
            kind,
            backend: if kind == EngineKind::Interp {
                None
            } else {
                backend
            },
            policy: if kind == EngineKind::Tiered {
                policy
            } else {
                None
            },
            functions_interpreted: Default::default(),
            osr_entries: Default::default(),
            osr_trampoline: std::sync::OnceLock::new(),
            interrupt: Arc::new(std::sync::atomic::AtomicU32::new(0)),
            accounting,
            fuel: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            types: Mutex::new(HashMap::new()),
            native_links: Mutex::new(if kind == EngineKind::Tiered {
                NativeLinks::Deferred(Vec::new())
            } else {
                NativeLinks::Eager
            }),
        }))
    }

    /// The native-linking state (a poisoned lock is taken over: the state is a list of
    /// weak references and a flag, valid at every step).
    fn native_links(&self) -> std::sync::MutexGuard<'_, NativeLinks> {
        self.0
            .native_links
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Points the indirection slots of the new instance `inst` at native entry points:
    /// now, or (engine `tiered` before its first publication) when [`Engine::link_native`]
    /// runs. Engine `interp` has no native code and links nothing.
    ///
    /// Called once per instance, before it is handed out and, for module instances, while
    /// holding the module's live list (so a publication meanwhile reaches it either way).
    pub(crate) fn link_or_defer(
        &self,
        inst: &Arc<crate::instance::InstanceInner>,
    ) -> crate::Result<()> {
        let Some(backend) = self.backend() else {
            return Ok(());
        };
        let mut links = self.native_links();
        match &mut *links {
            NativeLinks::Deferred(pending) => {
                // Drop the entries of dropped instances before the list grows again, so
                // an engine that never compiles keeps a list of about its live instances.
                if pending.len() == pending.capacity() {
                    pending.retain(|w| w.strong_count() > 0);
                }
                pending.push(Arc::downgrade(inst));
                Ok(())
            }
            NativeLinks::Eager => crate::instance::link_slots(backend.as_ref(), inst),
        }
    }

    /// Links the slots of every instance whose linking was deferred, and every later one
    /// as it is created. Runs before the engine's first native code is published (which is
    /// the first code that can read a slot's native entry); concurrent callers wait until
    /// it is done. On an error the instances not yet linked stay listed, so the next
    /// publication tries again.
    pub(crate) fn link_native(&self) -> crate::Result<()> {
        let Some(backend) = self.backend() else {
            return Ok(());
        };
        let mut links = self.native_links();
        if let NativeLinks::Deferred(pending) = &mut *links {
            while let Some(weak) = pending.last() {
                if let Some(inst) = weak.upgrade() {
                    crate::instance::link_slots(backend.as_ref(), &inst)?;
                }
                pending.pop();
            }
            *links = NativeLinks::Eager;
        }
        Ok(())
    }

    /// Whether instances of this engine get their native entry points as they are
    /// created: `false` in engine `tiered` until it publishes its first compiled function
    /// (start-up then compiles no adapter), `true` in engine `jit`. Meaningless for
    /// engine `interp`, which has no native code (`true`).
    ///
    /// ```
    /// let engine = kiln_runtime::Engine::default();
    /// assert!(engine.links_native_eagerly());
    /// ```
    pub fn links_native_eagerly(&self) -> bool {
        matches!(*self.native_links(), NativeLinks::Eager)
    }

    /// The tiering policy (engine `tiered` only).
    pub fn tier_policy(&self) -> Option<&Arc<dyn TierPolicy>> {
        self.0.policy.as_ref()
    }

    /// Tiering statistics (engine `tiered`; `None` for the others).
    ///
    /// ```
    /// let engine = kiln_runtime::Engine::default();
    /// assert!(engine.tier_stats().is_none());
    /// ```
    pub fn tier_stats(&self) -> Option<TierStats> {
        let policy = self.0.policy.as_ref()?;
        let mut stats = policy.stats();
        stats.functions_interpreted = self.0.functions_interpreted.load(Ordering::Relaxed);
        stats.osr_entries = self.0.osr_entries.load(Ordering::Relaxed);
        stats.native_linked = self.links_native_eagerly();
        Some(stats)
    }

    pub(crate) fn count_interpreted(&self) {
        if self.0.policy.is_some() {
            self.0.functions_interpreted.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn count_osr_entry(&self) {
        self.0.osr_entries.fetch_add(1, Ordering::Relaxed);
    }

    /// The array trampoline OSR entries are called through (type `(i64, i64) -> ()`).
    pub(crate) fn osr_trampoline(&self) -> Option<usize> {
        *self.0.osr_trampoline.get_or_init(|| {
            let ty = FuncType::new([crate::ValType::I64, crate::ValType::I64], []);
            self.backend()?.trampolines(&ty).ok().map(|t| t.array_call)
        })
    }

    /// The bytes this engine's memories, tables and module code have committed, by its
    /// own count (see [`crate::limits`]).
    pub fn committed_bytes(&self) -> crate::CommittedBytes {
        self.0.accounting.snapshot()
    }

    /// The counters behind [`Engine::committed_bytes`] (memories and tables created for
    /// this engine charge them).
    pub fn accounting(&self) -> &Arc<crate::limits::Accounting> {
        &self.0.accounting
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// Which tiers run code.
    pub fn kind(&self) -> EngineKind {
        self.0.kind
    }

    /// The native backend, in engines that have one.
    pub fn backend(&self) -> Option<&Arc<dyn NativeBackend>> {
        self.0.backend.as_ref()
    }

    /// The canonical id of a signature: equal signatures get equal ids within one engine.
    pub fn intern_type(&self, ty: &FuncType) -> u32 {
        let mut types = self.0.types.lock().unwrap_or_else(|e| e.into_inner());
        let next = types.len() as u32;
        *types.entry(ty.clone()).or_insert(next)
    }

    /// The flag running code polls at loop back-edges and calls (the default interrupt word
    /// of instances); storing [`INTERRUPT_STOP`](crate::INTERRUPT_STOP) makes every running
    /// call of this engine trap with `Interrupted`.
    pub fn interrupt_flag(&self) -> Arc<std::sync::atomic::AtomicU32> {
        self.0.interrupt.clone()
    }

    /// The engine's remaining fuel (meaningful when [`Config::fuel`] is on). Code reads and
    /// writes it with plain relaxed loads and stores, not read-modify-write: accounting is
    /// exact for calls from one thread at a time.
    pub fn fuel_counter(&self) -> &Arc<std::sync::atomic::AtomicU64> {
        &self.0.fuel
    }

    /// Whether two engines are the same engine.
    pub fn same(&self, other: &Engine) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
