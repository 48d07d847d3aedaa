//! Instantiated modules.

use crate::definitions::{
    FunctionDefinition, FunctionDefinitionInner, MemoryDefinition, function_export_names,
    memory_definitions, wasm_function_definition,
};
use crate::error::{Error, ExitError, Result};
use crate::function::Function;
use crate::global::Global;
use crate::memory::Memory;
use crate::runtime::RuntimeInner;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};

const OPEN: u64 = 0;
const CLOSED: u64 = 1 << 32;

/// What a closed Wasm module still tells about its exports once its instance is released.
struct ClosedExports {
    functions: BTreeMap<String, FunctionDefinition>,
    memories: BTreeMap<String, MemoryDefinition>,
    /// Globals stay readable after a close (an exit code is often reported through one);
    /// a global owns only its value.
    globals: BTreeMap<String, kiln_runtime::Global>,
}

pub(crate) struct ModuleInner {
    pub name: String,
    /// The instance; `None` once a Wasm module is closed, so that its memories, tables and
    /// code go away even while the host still holds handles (host modules keep theirs:
    /// they own nothing big).
    instance: RwLock<Option<kiln_runtime::Instance>>,
    /// Set when a Wasm module is closed, before its instance is released.
    closed_exports: OnceLock<ClosedExports>,
    pub runtime: Weak<RuntimeInner>,
    /// 0 while open; `CLOSED | exit code` once closed.
    state: AtomicU64,
    interruption: bool,
    /// Definitions of host functions (index order), for host modules.
    pub host_definitions: Vec<FunctionDefinition>,
    /// Hook for the WASI host module: this module's WASI state, attached by
    /// `Runtime::instantiate` from the module's config when it imports WASI (the WASI
    /// functions create default state for a module that has none).
    pub wasi: std::sync::OnceLock<Arc<crate::wasi::WasiCtx>>,
    /// The runtime's live-instance slot this module holds until closed (or dropped).
    slot: std::sync::Mutex<Option<crate::runtime::InstanceSlot>>,
    /// The instance's interrupt word: closing sets `INTERRUPT_STOP` in it.
    interrupt: Arc<AtomicU32>,
    /// Calls from the host that entered through this module and have not returned.
    active_calls: AtomicUsize,
    /// The words that closing this module poked while calls were active (so that they stop
    /// in any instance's code), unpoked when the last of those calls returns.
    pokes: Mutex<Vec<Arc<AtomicU32>>>,
}

/// A call from the host that entered through a module, counted until it returns.
pub(crate) struct ActiveCall<'a>(&'a ModuleInner);

impl Drop for ActiveCall<'_> {
    fn drop(&mut self) {
        // `SeqCst` as in `begin_call`: either this sees the module closed, or the close
        // sees no call left (and takes its pokes back itself).
        if self.0.active_calls.fetch_sub(1, Ordering::SeqCst) == 1
            && self.0.state.load(Ordering::SeqCst) != OPEN
        {
            self.0.unpoke_if_idle();
        }
    }
}

impl ModuleInner {
    pub(crate) fn new(
        name: String,
        instance: kiln_runtime::Instance,
        runtime: &Arc<RuntimeInner>,
        host_definitions: Vec<FunctionDefinition>,
    ) -> Arc<ModuleInner> {
        let interrupt = instance.interrupt_flag().clone();
        let inner = Arc::new(ModuleInner {
            name,
            instance: RwLock::new(Some(instance.clone())),
            closed_exports: OnceLock::new(),
            runtime: Arc::downgrade(runtime),
            state: AtomicU64::new(OPEN),
            interruption: runtime.config.interruption(),
            host_definitions,
            wasi: std::sync::OnceLock::new(),
            slot: std::sync::Mutex::new(None),
            interrupt,
            active_calls: AtomicUsize::new(0),
            pokes: Mutex::new(Vec::new()),
        });
        // Host functions find the calling module through this back reference.
        let weak: Weak<ModuleInner> = Arc::downgrade(&inner);
        instance.set_embedder_data(Box::new(weak));
        inner
    }

    /// The instance, unless the module is a closed Wasm module.
    pub(crate) fn instance(&self) -> Option<kiln_runtime::Instance> {
        self.instance
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Releases a closed Wasm module's instance, keeping what the host may still ask
    /// about its exports. Running calls hold the instance themselves, and every instance,
    /// table or global that can still reach its code keeps it alive, so only memory
    /// nothing can use any more is freed.
    fn release_instance(&self, runtime: Option<&Arc<RuntimeInner>>) {
        let Some(instance) = self.instance() else {
            return;
        };
        let Some(module) = instance.module() else {
            return; // a host module
        };
        let mut functions = BTreeMap::new();
        for (index, names) in function_export_names(module) {
            let def = wasm_function_definition(module, &self.name, index, names);
            for n in def.export_names() {
                functions.insert(n.clone(), def.clone());
            }
        }
        let mut memories = BTreeMap::new();
        for def in memory_definitions(module, &self.name) {
            for n in def.export_names() {
                memories.insert(n.clone(), def.clone());
            }
        }
        let globals = module
            .exports()
            .filter_map(|(name, _)| match instance.export(name)? {
                kiln_runtime::Extern::Global(g) => Some((name.to_string(), g)),
                _ => None,
            })
            .collect();
        let _ = self.closed_exports.set(ClosedExports {
            functions,
            memories,
            globals,
        });
        if let Some(rt) = runtime {
            rt.forget_funcrefs(&instance);
        }
        let released = self
            .instance
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        // Dropped outside the lock (unmapping may take a while).
        drop(released);
    }

    /// Keeps `slot` until the module is closed.
    pub(crate) fn hold_slot(&self, slot: crate::runtime::InstanceSlot) {
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(slot);
    }

    /// The exit error when closed.
    #[inline]
    pub(crate) fn check_open(&self) -> Result<()> {
        let s = self.state.load(Ordering::Acquire);
        if s == OPEN {
            Ok(())
        } else {
            Err(Error::Exit(ExitError::new(s as u32)))
        }
    }

    /// Counts a call from the host entering through this module until the guard drops; the
    /// exit error when closed.
    #[inline]
    pub(crate) fn begin_call(&self) -> Result<ActiveCall<'_>> {
        // `SeqCst` on both sides (here and in `close_with`): either this call sees the
        // module closed, or the close sees the call counted and pokes for it.
        self.active_calls.fetch_add(1, Ordering::SeqCst);
        let call = ActiveCall(self);
        let s = self.state.load(Ordering::SeqCst);
        if s == OPEN {
            Ok(call)
        } else {
            Err(Error::Exit(ExitError::new(s as u32)))
        }
    }

    /// Takes back the pokes of the close once no call that entered here is running.
    fn unpoke_if_idle(&self) {
        let mut pokes = self.pokes.lock().unwrap_or_else(|e| e.into_inner());
        if self.active_calls.load(Ordering::SeqCst) == 0 {
            for word in pokes.drain(..) {
                word.fetch_sub(kiln_runtime::INTERRUPT_POKE, Ordering::Release);
            }
        }
    }

    pub(crate) fn exit_code(&self) -> Option<u32> {
        let s = self.state.load(Ordering::Acquire);
        (s != OPEN).then_some(s as u32)
    }

    /// Closes with `code`; returns false if it was already closed. Running calls stop at
    /// their next loop back-edge or call when interruption is enabled.
    pub(crate) fn close_with(&self, code: u32) -> bool {
        if self
            .state
            .compare_exchange(
                OPEN,
                CLOSED | code as u64,
                Ordering::SeqCst,
                Ordering::Acquire,
            )
            .is_err()
        {
            return false;
        }
        let runtime = self.runtime.upgrade();
        if self.interruption {
            self.interrupt
                .fetch_or(kiln_runtime::INTERRUPT_STOP, Ordering::SeqCst);
            // A call that entered here may be running code of any instance (imports,
            // tables), which polls only its own word: poke them all so that they look at
            // the word of the instance the call entered through. Taken back once the calls
            // are gone, so other calls stop paying for the slow path.
            if self.active_calls.load(Ordering::SeqCst) > 0
                && let Some(rt) = &runtime
            {
                let poked = rt.poke_instances();
                self.pokes
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(poked);
                self.unpoke_if_idle();
            }
        }
        if let Some(rt) = &runtime {
            rt.forget(self);
        }
        drop(self.slot.lock().unwrap_or_else(|e| e.into_inner()).take());
        self.release_instance(runtime.as_ref());
        true
    }

    /// The definition of function `index` of `instance` (this module's).
    fn function_definition(
        &self,
        instance: &kiln_runtime::Instance,
        index: u32,
    ) -> Option<FunctionDefinition> {
        if let Some(d) = self.host_definitions.get(index as usize) {
            return Some(d.clone());
        }
        let module = instance.module()?;
        let names = function_export_names(module)
            .remove(&index)
            .unwrap_or_default();
        Some(wasm_function_definition(module, &self.name, index, names))
    }

    pub(crate) fn from_caller(caller: &kiln_runtime::Caller<'_>) -> Option<Arc<ModuleInner>> {
        let inst = caller.instance()?;
        inst.embedder_data()?
            .downcast_ref::<Weak<ModuleInner>>()?
            .upgrade()
    }
}

/// An instantiated module (wazero's `api.Module`). Cloning is cheap and shares it; a
/// module can move to another thread, and calls on different modules run in parallel.
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// let runtime = kiln::Runtime::with_config(kiln::RuntimeConfig::interpreter())?;
/// let wasm = wat::parse_str(r#"(module $calc
///     (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#)
///     .unwrap();
/// let module = runtime.instantiate_bytes(&wasm)?;
/// assert_eq!(module.name(), "calc");
/// let add = module.exported_function("add").unwrap();
/// assert_eq!(add.call(&[2, 3])?, vec![5]);
/// module.close_with_exit_code(7)?;
/// assert!(module.is_closed());
/// assert_eq!(add.call(&[2, 3]).unwrap_err().as_exit().unwrap().exit_code(), 7);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

impl Module {
    /// The instance name ("" for an anonymous module).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The module's first memory (defined or imported), if it has one (`None` once the
    /// module is closed; a [`Memory`] taken before keeps working).
    pub fn memory(&self) -> Option<Memory> {
        let instance = self.inner.instance()?;
        let memory = instance.memory(0)?.clone();
        let module = instance.module()?;
        let definition = memory_definitions(module, &self.inner.name).remove(0);
        Some(Memory { memory, definition })
    }

    /// The exported function `name` (of a closed module too: calling it then fails with
    /// the module's exit error).
    pub fn exported_function(&self, name: &str) -> Option<Function> {
        let Some(instance) = self.inner.instance() else {
            let closed = self.inner.closed_exports.get()?;
            let definition = closed.functions.get(name)?.clone();
            return Some(Function::new(
                self.inner.clone(),
                kiln_runtime::WeakFunc::dangling(),
                definition,
            ));
        };
        let kiln_runtime::Extern::Func(func) = instance.export(name)? else {
            return None;
        };
        let definition = self.inner.function_definition(&instance, func.index())?;
        Some(Function::new(
            self.inner.clone(),
            func.downgrade(),
            definition,
        ))
    }

    /// Definitions of all exported functions, by export name.
    pub fn exported_function_definitions(&self) -> BTreeMap<String, FunctionDefinition> {
        let mut out = BTreeMap::new();
        let Some(instance) = self.inner.instance() else {
            return self
                .inner
                .closed_exports
                .get()
                .map(|c| c.functions.clone())
                .unwrap_or_default();
        };
        match instance.module() {
            Some(module) => {
                let names = function_export_names(module);
                for (index, export_names) in names {
                    let def =
                        wasm_function_definition(module, &self.inner.name, index, export_names);
                    for n in def.export_names() {
                        out.insert(n.clone(), def.clone());
                    }
                }
            }
            None => {
                for (name, index) in instance.host_export_names() {
                    if let Some(def) = self.inner.function_definition(&instance, index) {
                        out.insert(name.to_string(), def);
                    }
                }
            }
        }
        out
    }

    /// The exported memory `name` (`None` once the module is closed).
    pub fn exported_memory(&self, name: &str) -> Option<Memory> {
        let instance = self.inner.instance()?;
        let kiln_runtime::Extern::Memory(memory) = instance.export(name)? else {
            return None;
        };
        let module = instance.module()?;
        let Some(kiln_runtime::ExportIndex::Memory(i)) = module.export_index(name) else {
            return None;
        };
        let definition = memory_definitions(module, &self.inner.name).remove(i as usize);
        Some(Memory { memory, definition })
    }

    /// Definitions of all exported memories, by export name.
    pub fn exported_memory_definitions(&self) -> BTreeMap<String, MemoryDefinition> {
        let mut out = BTreeMap::new();
        let Some(instance) = self.inner.instance() else {
            return self
                .inner
                .closed_exports
                .get()
                .map(|c| c.memories.clone())
                .unwrap_or_default();
        };
        if let Some(module) = instance.module() {
            for def in memory_definitions(module, &self.inner.name) {
                for n in def.export_names() {
                    out.insert(n.clone(), def.clone());
                }
            }
        }
        out
    }

    /// The exported global `name` (still readable once the module is closed).
    pub fn exported_global(&self, name: &str) -> Option<Global> {
        let global = match self.inner.instance() {
            Some(instance) => match instance.export(name)? {
                kiln_runtime::Extern::Global(global) => global,
                _ => return None,
            },
            None => self.inner.closed_exports.get()?.globals.get(name)?.clone(),
        };
        Some(Global {
            global,
            runtime: self.inner.runtime.clone(),
        })
    }

    /// Closes the module with exit code 0 (see [`Module::close_with_exit_code`]).
    pub fn close(&self) -> Result<()> {
        self.close_with_exit_code(0)
    }

    /// Closes the module: later calls fail with an [`ExitError`] carrying `exit_code`, a
    /// running call stops (when interruption is enabled) and the name is freed. Calls that
    /// entered through this module stop wherever their code runs (say, in an imported
    /// function); calls that entered through another, open module and run this module's
    /// code stop with [`EXIT_CODE_INTERRUPTED`](crate::EXIT_CODE_INTERRUPTED). Closing
    /// twice is harmless. The module's memories, tables and code are released now, even
    /// while the host holds its [`Function`]s or funcrefs (they then fail cleanly), unless
    /// something that can still reach them holds them: a running call, an open module that
    /// imports from this one or stores its funcrefs, or the host's [`Memory`] handles.
    pub fn close_with_exit_code(&self, exit_code: u32) -> Result<()> {
        self.inner.close_with(exit_code);
        Ok(())
    }

    /// Whether the module is closed.
    pub fn is_closed(&self) -> bool {
        self.inner.exit_code().is_some()
    }

    /// The exit code the module was closed with, if closed.
    pub fn exit_code(&self) -> Option<u32> {
        self.inner.exit_code()
    }

    /// A handle that closes this module from any thread, stopping a running call
    /// (even an infinite loop) within milliseconds.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle {
            module: Arc::downgrade(&self.inner),
        }
    }
}

impl fmt::Display for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Module[{}]", self.inner.name)
    }
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Module[{}]", self.inner.name)?;
        if let Some(code) = self.exit_code() {
            write!(f, " (closed, exit code {code})")?;
        }
        Ok(())
    }
}

/// Stops calls of a module from another thread (wazero's close-on-context-done).
///
/// ```
/// # fn main() -> kiln::Result<()> {
/// let runtime = kiln::Runtime::with_config(kiln::RuntimeConfig::interpreter())?;
/// let wasm = wat::parse_str(r#"(module (func (export "spin") (loop br 0)))"#).unwrap();
/// let module = runtime.instantiate_bytes(&wasm)?;
/// let handle = module.interrupt_handle();
/// std::thread::spawn(move || {
///     std::thread::sleep(std::time::Duration::from_millis(20));
///     handle.interrupt();
/// });
/// let err = module.exported_function("spin").unwrap().call(&[]).unwrap_err();
/// assert!(err.as_exit().unwrap().is_interrupted());
/// assert!(module.is_closed());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct InterruptHandle {
    module: Weak<ModuleInner>,
}

impl InterruptHandle {
    /// Closes the module with [`EXIT_CODE_INTERRUPTED`](crate::EXIT_CODE_INTERRUPTED);
    /// returns false if it was already closed (or dropped).
    pub fn interrupt(&self) -> bool {
        self.module
            .upgrade()
            .is_some_and(|m| m.close_with(crate::EXIT_CODE_INTERRUPTED))
    }
}

pub(crate) fn host_definition(
    module_name: &str,
    index: u32,
    name: &str,
    export_names: Vec<String>,
    ty: &kiln_runtime::FuncType,
    param_names: Vec<String>,
    result_names: Vec<String>,
) -> FunctionDefinition {
    let pad = |mut v: Vec<String>, n: usize| {
        v.resize(n, String::new());
        v
    };
    FunctionDefinition(Arc::new(FunctionDefinitionInner {
        module_name: module_name.to_string(),
        index,
        import: None,
        export_names,
        name: name.to_string(),
        debug_name: format!("{module_name}.{name}"),
        param_types: ty.params().to_vec(),
        param_names: pad(param_names, ty.params().len()),
        result_types: ty.results().to_vec(),
        result_names: pad(result_names, ty.results().len()),
        is_host: true,
    }))
}
