//! The engine: configuration shared by modules and instances, and the signature interner.

use crate::types::FuncType;
use std::collections::HashMap;
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
}

impl Default for Config {
    fn default() -> Config {
        Config {
            features: wasmparser::WasmFeatures::WASM2,
            memory_limit_pages: 65536,
            max_call_depth: 20_000,
            max_stack_slots: 4 << 20,
            table_limit_elements: 10_000_000,
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
pub trait NativeBackend: Send + Sync {
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
    /// calls every function (its own module's too) through the indirection slots, so code
    /// published later is reached.
    ///
    /// With `osr_loop: Some(k)` the result is instead an on-stack-replacement entry into
    /// the `k`-th `loop` of the body (counting `loop` operators in body order from 0), see
    /// [`crate::vm::abi`]: native type `(i64) -> ()`, its parameter the address of the
    /// interpreter frame's slots, which hold the function's locals (parameters first, one
    /// slot each, in the runtime's value encoding) as they are at the loop header; the
    /// function runs from the header to its end and writes its results into slots `0..`.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Unsupported`] when the function (or, for OSR, the loop: one entered
    /// with operand values or loop parameters) cannot be compiled this way.
    fn compile_function(
        &self,
        module: &crate::Module,
        index: u32,
        osr_loop: Option<u32>,
    ) -> crate::Result<CompiledFunction> {
        let _ = (module, index, osr_loop);
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
}

impl std::fmt::Debug for CompiledFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CompiledFunction({:#x})", self.entry)
    }
}

struct EngineInner {
    config: Config,
    kind: EngineKind,
    backend: Option<Arc<dyn NativeBackend>>,
    interrupt: Arc<std::sync::atomic::AtomicU32>,
    types: Mutex<HashMap<FuncType, u32>>,
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
        let kind = if backend.is_some() && crate::vm::native::is_supported() {
            kind
        } else {
            EngineKind::Interp
        };
        Engine(Arc::new(EngineInner {
            config,
            kind,
            backend: if kind == EngineKind::Interp {
                None
            } else {
                backend
            },
            interrupt: Arc::new(std::sync::atomic::AtomicU32::new(0)),
            types: Mutex::new(HashMap::new()),
        }))
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

    /// The flag running code polls at loop back-edges and calls; storing a
    /// non-zero value makes every running call of this engine trap with `Interrupted`.
    pub fn interrupt_flag(&self) -> Arc<std::sync::atomic::AtomicU32> {
        self.0.interrupt.clone()
    }

    /// Whether two engines are the same engine.
    pub fn same(&self, other: &Engine) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
