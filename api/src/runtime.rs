//! The runtime: compiles modules, instantiates them under names, and owns their namespace.

use crate::config::{BoundsChecks, EngineKind, ModuleConfig, RuntimeConfig};
use crate::definitions::{
    CustomSection, ExportDefinition, FunctionDefinition, ImportDefinition, MemoryDefinition,
    export_definitions, function_export_names, import_definitions, memory_definitions,
    wasm_function_definition,
};
use crate::error::{Error, ExitError, Result};
use crate::host::HostModuleBuilder;
use crate::module::{Module, ModuleInner};
use kiln_runtime::ExternType as EntityType;
use kiln_runtime::TierStats as TieringStats;
use kiln_runtime::{CommittedBytes, LimitError, LimitKind};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

pub(crate) struct RuntimeInner {
    pub config: RuntimeConfig,
    pub engine: kiln_runtime::Engine,
    /// Named modules, kept alive until closed.
    namespace: Mutex<HashMap<String, Arc<ModuleInner>>>,
    /// Every module instantiated, to close them with the runtime.
    modules: Mutex<Vec<Weak<ModuleInner>>>,
    /// Funcref values handed to the host, with the instances that own them.
    funcrefs: Mutex<HashMap<u64, kiln_runtime::Instance>>,
    /// 0 while open; `1 << 32 | code` once closed.
    closed: AtomicU64,
    /// Wasm instances instantiated and not yet closed or dropped.
    live_instances: Arc<AtomicUsize>,
    /// The interrupt words of the Wasm instances instantiated (weak: an instance owns its
    /// word), poked by a module that closes while calls entered through it run.
    interrupt_words: Mutex<Vec<Weak<AtomicU32>>>,
}

/// One of the runtime's live-instance slots, given back when dropped (a module drops it
/// when closed or dropped, whichever comes first).
pub(crate) struct InstanceSlot(Arc<AtomicUsize>);

impl Drop for InstanceSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl RuntimeInner {
    /// Removes `module` from the namespace (when closed).
    /// Removes every name of `module` (its own and aliases) from the namespace.
    pub(crate) fn forget(&self, module: &ModuleInner) {
        let mut ns = self.namespace.lock().unwrap_or_else(|e| e.into_inner());
        ns.retain(|_, m| !std::ptr::eq(Arc::as_ptr(m), module));
    }

    pub(crate) fn is_known_funcref(&self, v: u64) -> bool {
        self.funcrefs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&v)
    }

    pub(crate) fn remember_funcref(&self, v: u64) {
        let mut map = self.funcrefs.lock().unwrap_or_else(|e| e.into_inner());
        if !map.contains_key(&v) {
            let modules = self.modules.lock().unwrap_or_else(|e| e.into_inner());
            // Find the live instance that owns the slot, so the value stays valid.
            for m in modules.iter().filter_map(Weak::upgrade) {
                let Some(instance) = m.instance() else {
                    continue;
                };
                if let Some(f) = (0..)
                    .map_while(|i| instance.func(i))
                    .find(|f| f.to_raw() == v)
                {
                    map.insert(v, f.instance().clone());
                    break;
                }
            }
        }
    }

    /// Adds [`INTERRUPT_POKE`](kiln_runtime::INTERRUPT_POKE) to the interrupt word of every
    /// live Wasm instance and returns the words, for the caller to take the pokes back.
    pub(crate) fn poke_instances(&self) -> Vec<Arc<AtomicU32>> {
        let mut words = self
            .interrupt_words
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        words.retain(|w| w.strong_count() > 0);
        let live: Vec<_> = words.iter().filter_map(Weak::upgrade).collect();
        for w in &live {
            w.fetch_add(kiln_runtime::INTERRUPT_POKE, Ordering::SeqCst);
        }
        live
    }

    fn add_interrupt_word(&self, word: &Arc<AtomicU32>) {
        let mut words = self
            .interrupt_words
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Forget the words of dropped instances now and then, not on every instantiation.
        if words.len() >= 64 && words.len().is_power_of_two() {
            words.retain(|w| w.strong_count() > 0);
        }
        words.push(Arc::downgrade(word));
    }

    /// Stops keeping alive the funcrefs handed out through `instance` (its module closed):
    /// the host's copies are refused from now on.
    pub(crate) fn forget_funcrefs(&self, instance: &kiln_runtime::Instance) {
        self.funcrefs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, owner| !owner.same(instance));
    }

    /// Takes a live-instance slot, or fails with the instance limit.
    fn reserve_instance(&self) -> Result<InstanceSlot> {
        let max = self.config.max_instances();
        self.live_instances
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|n| {
                Error::Limit(LimitError::new(
                    LimitKind::Instances,
                    n as u64 + 1,
                    max as u64,
                ))
            })?;
        Ok(InstanceSlot(self.live_instances.clone()))
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        let s = self.closed.load(Ordering::Acquire);
        if s == 0 {
            Ok(())
        } else {
            Err(Error::Exit(ExitError::new(s as u32)))
        }
    }

    fn resolve(&self, module: &kiln_runtime::Module) -> Result<Vec<kiln_runtime::Extern>> {
        let ns = self.namespace.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for imp in module.imports() {
            let Some(provider) = ns.get(&imp.module) else {
                return Err(Error::Link(format!(
                    "module[{}] not instantiated (needed for import {}::{})",
                    imp.module, imp.module, imp.name
                )));
            };
            let Some(instance) = provider.instance() else {
                return Err(Error::Link(format!(
                    "module[{}] is closed (needed for import {}::{})",
                    imp.module, imp.module, imp.name
                )));
            };
            let Some(ext) = instance.export(&imp.name) else {
                return Err(Error::Link(format!(
                    "\"{}\" is not exported in module \"{}\"",
                    imp.name, imp.module
                )));
            };
            out.push(ext);
        }
        Ok(out)
    }
}

/// A WebAssembly runtime (wazero's `wazero.Runtime`): compiles modules, instantiates them
/// and resolves imports between them by module name. Cheap to clone, `Send + Sync`.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// let runtime = kiln::Runtime::with_config(kiln::RuntimeConfig::interpreter())?;
/// let compiled = runtime.compile(&wat::parse_str(
///     r#"(module (func (export "answer") (result i32) i32.const 42))"#).unwrap())?;
/// let a = runtime.instantiate(&compiled, kiln::ModuleConfig::new())?;
/// let b = runtime.instantiate(&compiled, kiln::ModuleConfig::new())?; // anonymous: again
/// assert_eq!(a.exported_function("answer").unwrap().call(&[])?, vec![42]);
/// assert_eq!(b.exported_function("answer").unwrap().call(&[])?, vec![42]);
/// runtime.close()?;
/// assert!(a.is_closed() && b.is_closed());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<RuntimeInner>,
}

impl Runtime {
    /// A runtime with the default configuration.
    ///
    /// # Errors
    ///
    /// Never with the default engine; see [`Runtime::with_config`].
    pub fn new() -> Result<Runtime> {
        Runtime::with_config(RuntimeConfig::new())
    }

    /// A runtime with `config`.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when the configured engine is not built yet.
    pub fn with_config(config: RuntimeConfig) -> Result<Runtime> {
        if !config.engine().is_available() {
            return Err(Error::Unsupported(format!(
                "engine `{}` is not built yet",
                config.engine().name()
            )));
        }
        let engine = match config.engine() {
            EngineKind::Interp => kiln_runtime::Engine::new(config.engine_config()),
            kind => {
                let options = kiln_tiering::translate::TranslateOptions {
                    bounds_checks: match config.bounds_checks() {
                        BoundsChecks::GuardPages => {
                            kiln_tiering::translate::BoundsChecks::GuardPages
                        }
                        BoundsChecks::Explicit => kiln_tiering::translate::BoundsChecks::Explicit,
                    },
                    interrupt_checks: config.interruption(),
                    direct_calls: kind == EngineKind::Jit,
                };
                let backend = Arc::new(
                    kiln_tiering::CraneliftBackend::new(options).map_err(Error::Unsupported)?,
                );
                let engine_config = config.engine_config();
                if kind == EngineKind::Jit {
                    kiln_runtime::Engine::with_backend(
                        engine_config,
                        kiln_runtime::EngineKind::Jit,
                        Some(backend),
                    )
                } else {
                    let policy =
                        Arc::new(kiln_tiering::Tiering::new(backend.clone(), &engine_config));
                    kiln_runtime::Engine::with_tiering(engine_config, backend, policy)
                }
            }
        };
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                config,
                engine,
                namespace: Mutex::new(HashMap::new()),
                modules: Mutex::new(Vec::new()),
                funcrefs: Mutex::new(HashMap::new()),
                closed: AtomicU64::new(0),
                live_instances: Arc::new(AtomicUsize::new(0)),
                interrupt_words: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Sets the remaining fuel of the runtime (one budget shared by all its modules).
    /// Accounting is exact for calls from one thread at a time: concurrent calls share the
    /// counter without atomic read-modify-write, so they may lose some charges.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] when fuel metering is off ([`RuntimeConfig::with_fuel`]).
    ///
    /// ```
    /// # fn main() -> kiln::Result<()> {
    /// let config = kiln::RuntimeConfig::interpreter().with_fuel(true);
    /// let runtime = kiln::Runtime::with_config(config)?;
    /// let compiled = runtime.compile(&wat::parse_str(
    ///     r#"(module (func (export "f") (result i32) i32.const 1 i32.const 2 i32.add))"#)
    ///     .unwrap())?;
    /// let module = runtime.instantiate(&compiled, kiln::ModuleConfig::new())?;
    /// runtime.set_fuel(10)?;
    /// module.exported_function("f").unwrap().call(&[])?;
    /// // One segment: i32.const, i32.const, i32.add, end.
    /// assert_eq!(runtime.fuel(), Some(6));
    /// runtime.set_fuel(3)?;
    /// assert!(module.exported_function("f").unwrap().call(&[]).is_err());
    /// assert_eq!(runtime.fuel(), Some(3)); // unchanged by the failed charge
    /// runtime.add_fuel(1)?;
    /// assert_eq!(module.exported_function("f").unwrap().call(&[])?, vec![3]);
    /// assert_eq!(runtime.fuel(), Some(0));
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_fuel(&self, fuel: u64) -> Result<()> {
        self.fuel_counter()?.store(fuel, Ordering::Relaxed);
        Ok(())
    }

    /// Adds to the remaining fuel (saturating), e.g. to resume calls after
    /// [`TrapCode::OutOfFuel`](crate::TrapCode::OutOfFuel).
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] when fuel metering is off.
    ///
    /// ```
    /// let runtime = kiln::Runtime::with_config(
    ///     kiln::RuntimeConfig::interpreter().with_fuel(true)).unwrap();
    /// runtime.add_fuel(5).unwrap();
    /// runtime.add_fuel(u64::MAX).unwrap();
    /// assert_eq!(runtime.fuel(), Some(u64::MAX));
    /// ```
    pub fn add_fuel(&self, fuel: u64) -> Result<()> {
        let counter = self.fuel_counter()?;
        let left = counter.load(Ordering::Relaxed);
        counter.store(left.saturating_add(fuel), Ordering::Relaxed);
        Ok(())
    }

    /// The remaining fuel, or `None` when fuel metering is off.
    ///
    /// ```
    /// let runtime = kiln::Runtime::with_config(kiln::RuntimeConfig::interpreter()).unwrap();
    /// assert_eq!(runtime.fuel(), None);
    /// assert!(runtime.set_fuel(1).is_err());
    /// ```
    pub fn fuel(&self) -> Option<u64> {
        self.fuel_counter().ok().map(|c| c.load(Ordering::Relaxed))
    }

    fn fuel_counter(&self) -> Result<&std::sync::atomic::AtomicU64> {
        if !self.inner.config.fuel() {
            return Err(Error::Usage(
                "fuel metering is off (RuntimeConfig::with_fuel)".into(),
            ));
        }
        Ok(self.inner.engine.fuel_counter())
    }

    /// What the tiered engine has done so far (functions interpreted, queued and compiled,
    /// OSR entries, compile times, queue length); `None` for the other engines.
    ///
    /// ```
    /// let runtime = kiln::Runtime::with_config(kiln::RuntimeConfig::interpreter()).unwrap();
    /// assert!(runtime.tiering_stats().is_none());
    /// ```
    pub fn tiering_stats(&self) -> Option<TieringStats> {
        self.inner.engine.tier_stats()
    }

    /// The bytes this runtime has committed, by its own count: linear memories (their
    /// current sizes), tables (8 bytes per element) and the executable memory of compiled
    /// module code. Memories and tables are released when the last module using them is
    /// dropped; code when its compiled module and every instance of it are dropped.
    /// [`RuntimeConfig::with_max_committed_bytes`] limits the total.
    ///
    /// ```
    /// # fn main() -> kiln::Result<()> {
    /// let runtime = kiln::Runtime::with_config(kiln::RuntimeConfig::interpreter())?;
    /// let before = runtime.committed_bytes();
    /// let module = runtime.instantiate_bytes(&wat::parse_str("(module (memory 2))").unwrap())?;
    /// assert_eq!(runtime.committed_bytes().memories, before.memories + 2 * 65536);
    /// drop(module);
    /// assert_eq!(runtime.committed_bytes(), before);
    /// # Ok(())
    /// # }
    /// ```
    pub fn committed_bytes(&self) -> CommittedBytes {
        self.inner.engine.committed_bytes()
    }

    /// Wasm modules instantiated by this runtime and neither closed nor dropped (what
    /// [`RuntimeConfig::with_max_instances`] limits).
    pub fn live_instances(&self) -> usize {
        self.inner.live_instances.load(Ordering::Acquire)
    }

    /// Decodes and validates `wasm` (binary format).
    ///
    /// # Errors
    ///
    /// [`Error::Compile`] for malformed or invalid bytes, [`Error::Unsupported`] for features
    /// not implemented, [`Error::Exit`] when the runtime is closed.
    pub fn compile(&self, wasm: &[u8]) -> Result<CompiledModule> {
        self.inner.check_open()?;
        let module = kiln_runtime::Module::new(&self.inner.engine, wasm)?;
        Ok(CompiledModule::new(module))
    }

    /// Instantiates `compiled`: resolves imports from named modules of this runtime,
    /// allocates memories, tables and globals, applies segments, runs the start function
    /// and then the configured start functions.
    ///
    /// # Errors
    ///
    /// [`Error::Link`] for unresolvable imports, [`Error::Instantiate`] for a taken name or
    /// a limit, [`Error::Trap`] when initialisation traps, [`Error::Exit`] when a start
    /// function exits with a non-zero code (an exit with code 0 succeeds, but the module is
    /// closed).
    pub fn instantiate(&self, compiled: &CompiledModule, config: ModuleConfig) -> Result<Module> {
        self.inner.check_open()?;
        if !compiled.0.module.engine().same(&self.inner.engine) {
            return Err(Error::Usage(
                "the module was compiled by another runtime; compile it with this one".into(),
            ));
        }
        if config.start_timeout().is_some() && !self.inner.config.interruption() {
            return Err(Error::Usage(
                "a start timeout needs interruption enabled in the runtime config".into(),
            ));
        }
        let name = match config.explicit_name() {
            Some(n) => n.to_string(),
            None => compiled.name().to_string(),
        };
        if !name.is_empty()
            && self
                .inner
                .namespace
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(&name)
        {
            return Err(Error::Instantiate(format!(
                "module[{name}] has already been instantiated"
            )));
        }
        let imports = self.inner.resolve(&compiled.0.module)?;
        let wasi = crate::wasi::state_for(&compiled.0.module, config.wasi())?;
        let slot = self.inner.reserve_instance()?;
        let interrupt = Arc::new(AtomicU32::new(0));
        // The start timeout also covers segments and the start section, which run before
        // the module exists: the watchdog sets the interrupt word directly.
        // A timeout too large for `Instant` (e.g. `Duration::MAX`) is no deadline at all.
        let start_deadline = config
            .start_timeout()
            .and_then(|t| Instant::now().checked_add(t));
        let flag_guard = start_deadline.map(|d| crate::watchdog::arm_flag(&interrupt, d));
        let created = kiln_runtime::Instance::new_with_interrupt(
            &compiled.0.module,
            &imports,
            interrupt.clone(),
        );
        // Once the guard is gone the deadline cannot fire any more (see `DeadlineGuard`).
        drop(flag_guard);
        let deadline_exceeded = || Error::Exit(ExitError::new(crate::EXIT_CODE_DEADLINE_EXCEEDED));
        let instance = match created {
            // A deadline that fired after the start section's last interrupt poll leaves the
            // interrupt word set: such an instance would fail its first call as
            // "interrupted" (found by the `run` fuzzer on a loaded machine). Instantiation
            // did not finish in time either way.
            Ok(_) if interrupt.load(Ordering::Acquire) & kiln_runtime::INTERRUPT_STOP != 0 => {
                return Err(deadline_exceeded());
            }
            Ok(i) => i,
            Err(kiln_runtime::Error::Trap(t))
                if t.code() == kiln_runtime::TrapCode::Interrupted =>
            {
                return Err(deadline_exceeded());
            }
            Err(e) => return Err(e.into()),
        };
        if !name.is_empty() {
            instance.set_name(name.clone());
        }
        self.inner.add_interrupt_word(&interrupt);
        let inner = ModuleInner::new(name, instance, &self.inner, Vec::new());
        inner.hold_slot(slot);
        if let Some(wasi) = wasi {
            let _ = inner.wasi.set(wasi);
        }
        self.add_module(&inner)?;
        let module = Module { inner };
        let guard = start_deadline.map(|d| crate::watchdog::arm(&module.inner, d));
        for start in config.start_functions() {
            if let Some(f) = module.exported_function(start) {
                match f.call(&[]) {
                    Ok(_) => {}
                    Err(Error::Exit(e)) => {
                        module.inner.close_with(e.exit_code());
                        if e.exit_code() != 0 {
                            return Err(Error::Exit(e));
                        }
                        break;
                    }
                    Err(e) => {
                        module.inner.close_with(0);
                        return Err(e);
                    }
                }
            }
        }
        // Once the guard is gone the deadline cannot fire any more; if it fired before,
        // the module is closed and instantiation did not finish in time.
        drop(guard);
        if module.inner.exit_code() == Some(crate::EXIT_CODE_DEADLINE_EXCEEDED) {
            return Err(deadline_exceeded());
        }
        Ok(module)
    }

    pub(crate) fn add_module(&self, inner: &Arc<ModuleInner>) -> Result<()> {
        if !inner.name.is_empty() {
            let mut ns = self
                .inner
                .namespace
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if ns.contains_key(&inner.name) {
                return Err(Error::Instantiate(format!(
                    "module[{}] has already been instantiated",
                    inner.name
                )));
            }
            ns.insert(inner.name.clone(), inner.clone());
        }
        let mut all = self.inner.modules.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|m| m.strong_count() > 0);
        all.push(Arc::downgrade(inner));
        Ok(())
    }

    /// Compiles and instantiates `wasm` with the default [`ModuleConfig`].
    ///
    /// # Errors
    ///
    /// As [`Runtime::compile`] and [`Runtime::instantiate`].
    pub fn instantiate_bytes(&self, wasm: &[u8]) -> Result<Module> {
        let compiled = self.compile(wasm)?;
        self.instantiate(&compiled, ModuleConfig::new())
    }

    /// Starts a host module named `module_name` (see [`HostModuleBuilder`]).
    pub fn new_host_module_builder(&self, module_name: impl Into<String>) -> HostModuleBuilder {
        HostModuleBuilder::new(self.clone(), module_name.into())
    }

    /// Makes `module` importable under `name` as well (like the spec scripts' `register`).
    ///
    /// # Errors
    ///
    /// [`Error::Instantiate`] when `name` is taken, [`Error::Exit`] when `module` is closed.
    pub fn register(&self, name: impl Into<String>, module: &Module) -> Result<()> {
        module.inner.check_open()?;
        let name = name.into();
        let mut ns = self
            .inner
            .namespace
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if ns.contains_key(&name) {
            return Err(Error::Instantiate(format!(
                "module[{name}] has already been instantiated"
            )));
        }
        ns.insert(name, module.inner.clone());
        Ok(())
    }

    /// The open module instantiated under `name`.
    pub fn module(&self, name: &str) -> Option<Module> {
        self.inner
            .namespace
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .map(|inner| Module {
                inner: inner.clone(),
            })
    }

    /// Closes the runtime with exit code 0 (see [`Runtime::close_with_exit_code`]).
    ///
    /// # Errors
    ///
    /// Never; the `Result` mirrors [`Module::close`].
    pub fn close(&self) -> Result<()> {
        self.close_with_exit_code(0)
    }

    /// Closes every module this runtime instantiated (stopping running calls), then the
    /// runtime: later compiles and instantiations fail with an exit error.
    ///
    /// # Errors
    ///
    /// Never; the `Result` mirrors [`Module::close`].
    pub fn close_with_exit_code(&self, exit_code: u32) -> Result<()> {
        let _ = self.inner.closed.compare_exchange(
            0,
            1 << 32 | exit_code as u64,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        let modules: Vec<_> = self
            .inner
            .modules
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for m in modules.iter().rev() {
            m.close_with(exit_code);
        }
        Ok(())
    }

    /// Whether the runtime is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire) != 0
    }
}

/// A compiled (decoded and validated) module that can be instantiated many times.
/// Cheap to clone, `Send + Sync`.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// let runtime = kiln::Runtime::with_config(kiln::RuntimeConfig::interpreter())?;
/// let compiled = runtime.compile(&wat::parse_str(r#"(module $m
///     (import "env" "log" (func $log (param i32)))
///     (memory (export "mem") 1)
///     (func (export "run") (param $n i32) local.get $n call $log))"#).unwrap())?;
/// assert_eq!(compiled.name(), "m");
/// assert_eq!(compiled.imported_functions()[0].import(), Some(("env", "log")));
/// assert_eq!(compiled.exported_functions()["run"].param_names(), ["n"]);
/// assert_eq!(compiled.exported_memories()["mem"].min(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct CompiledModule(Arc<CompiledInner>);

struct CompiledInner {
    module: kiln_runtime::Module,
    name: String,
    imported_functions: Vec<FunctionDefinition>,
    exported_functions: BTreeMap<String, FunctionDefinition>,
    imported_memories: Vec<MemoryDefinition>,
    exported_memories: BTreeMap<String, MemoryDefinition>,
    memories: Vec<MemoryDefinition>,
    imports: Vec<ImportDefinition>,
    exports: Vec<ExportDefinition>,
    custom_sections: Vec<CustomSection>,
}

impl CompiledModule {
    fn new(module: kiln_runtime::Module) -> CompiledModule {
        let name = module.name().unwrap_or("").to_string();
        let export_names = function_export_names(&module);
        let imported_functions = (0..module.num_imported_funcs())
            .map(|i| {
                let names = export_names.get(&i).cloned().unwrap_or_default();
                wasm_function_definition(&module, &name, i, names)
            })
            .collect();
        let mut exported_functions = BTreeMap::new();
        for (index, names) in export_names {
            let def = wasm_function_definition(&module, &name, index, names);
            for n in def.export_names() {
                exported_functions.insert(n.clone(), def.clone());
            }
        }
        let memories = memory_definitions(&module, &name);
        let imported_memories = memories
            .iter()
            .filter(|m| m.import().is_some())
            .cloned()
            .collect();
        let mut exported_memories = BTreeMap::new();
        for m in &memories {
            for n in m.export_names() {
                exported_memories.insert(n.clone(), m.clone());
            }
        }
        let custom_sections = module
            .custom_sections()
            .map(|(n, d)| CustomSection {
                name: n.to_string(),
                data: Arc::from(d),
            })
            .collect();
        CompiledModule(Arc::new(CompiledInner {
            imports: import_definitions(&module),
            exports: export_definitions(&module),
            module,
            name,
            imported_functions,
            exported_functions,
            imported_memories,
            exported_memories,
            memories,
            custom_sections,
        }))
    }

    /// The module name from the name section ("" when absent).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Definitions of the imported functions, in import order.
    pub fn imported_functions(&self) -> &[FunctionDefinition] {
        &self.0.imported_functions
    }

    /// Definitions of the exported functions, by export name.
    pub fn exported_functions(&self) -> &BTreeMap<String, FunctionDefinition> {
        &self.0.exported_functions
    }

    /// Definitions of the imported memories.
    pub fn imported_memories(&self) -> &[MemoryDefinition] {
        &self.0.imported_memories
    }

    /// Definitions of the exported memories, by export name.
    pub fn exported_memories(&self) -> &BTreeMap<String, MemoryDefinition> {
        &self.0.exported_memories
    }

    /// The custom sections, in order.
    pub fn custom_sections(&self) -> &[CustomSection] {
        &self.0.custom_sections
    }

    /// Total size of the function bodies in bytes.
    pub fn code_size(&self) -> usize {
        self.0.module.code_size()
    }

    /// Number of functions, imports included.
    pub fn function_count(&self) -> u32 {
        self.0.module.num_funcs()
    }

    /// Definitions of all memories (imported ones first), by index.
    pub fn memories(&self) -> &[MemoryDefinition] {
        &self.0.memories
    }

    /// Every import (functions, tables, memories and globals), in module order.
    pub fn imports(&self) -> &[ImportDefinition] {
        &self.0.imports
    }

    /// Every export (functions, tables, memories and globals), in module order.
    pub fn exports(&self) -> &[ExportDefinition] {
        &self.0.exports
    }

    /// The type of export `name`, if the module has one.
    pub fn export_type(&self, name: &str) -> Option<&EntityType> {
        self.0
            .exports
            .iter()
            .find(|e| e.name() == name)
            .map(|e| e.ty())
    }

    /// Whether the module uses 128-bit SIMD.
    pub fn uses_simd(&self) -> bool {
        self.0.module.uses_simd()
    }

    /// Engine `tiered`: whether function `index` (imports first) has been compiled and its
    /// native code published, so calls of it in every instance now run natively. Always
    /// false in the other engines. A diagnostic and test hook; it never changes what a
    /// call does.
    pub fn is_tiered_up(&self, index: u32) -> bool {
        self.0.module.is_tiered_up(index)
    }

    /// The interpreter's hotness counters of defined function `index` (imports first):
    /// `(calls, loop back-edges)` counted while interpreted, summed over the module's
    /// instances; `None` for an imported or unknown function. Engine `tiered` compiles a
    /// function when their sum reaches [`RuntimeConfig::with_tier_threshold`]. A
    /// diagnostic and test hook.
    pub fn hotness(&self, index: u32) -> Option<(u32, u32)> {
        if index >= self.function_count() {
            return None;
        }
        self.0.module.hotness(index)
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("engine", &self.inner.config.engine())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl std::fmt::Debug for CompiledModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledModule")
            .field("name", &self.name())
            .field("functions", &self.function_count())
            .field("code_size", &self.code_size())
            .finish()
    }
}
