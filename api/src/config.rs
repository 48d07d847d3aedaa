//! Runtime and module configuration. Configs are plain values: every `with_*` consumes and
//! returns the config, so they chain, and none of them can fail.

use std::time::Duration;

/// Which engine runs code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    /// The interpreter only: fastest start-up, runs everywhere.
    Interp,
    /// Every function compiled to native code before its first call.
    Jit,
    /// Interpreter first, hot functions compiled in the background (the intended default).
    Tiered,
}

impl Default for EngineKind {
    /// The tiered engine where this build has it, else the interpreter.
    fn default() -> EngineKind {
        if EngineKind::Tiered.is_available() {
            EngineKind::Tiered
        } else {
            EngineKind::Interp
        }
    }
}

impl EngineKind {
    /// `interp`, `jit` or `tiered`.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Interp => "interp",
            EngineKind::Jit => "jit",
            EngineKind::Tiered => "tiered",
        }
    }

    /// Parses `interp`, `jit` or `tiered`.
    pub fn from_name(name: &str) -> Option<EngineKind> {
        match name {
            "interp" => Some(EngineKind::Interp),
            "jit" => Some(EngineKind::Jit),
            "tiered" => Some(EngineKind::Tiered),
            _ => None,
        }
    }

    /// Whether this build can run the engine. Only the interpreter exists so far; the
    /// others are refused with [`Error::Unsupported`](crate::Error::Unsupported) rather than
    /// silently replaced.
    pub fn is_available(self) -> bool {
        matches!(self, EngineKind::Interp)
    }
}

/// The WebAssembly feature set accepted by the validator.
pub use kiln_runtime::engine::Config as EngineConfig;

/// WebAssembly proposals accepted at compile time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreFeatures {
    /// WebAssembly 2.0: sign extension, non-trapping float-to-int, multi-value, bulk memory,
    /// reference types, SIMD.
    V2,
    /// WebAssembly 3.0 (validated; executing its new proposals is not supported yet).
    V3,
}

/// Settings of a [`Runtime`](crate::Runtime).
///
/// ```
/// use kiln::{EngineKind, RuntimeConfig};
/// let config = RuntimeConfig::new()
///     .with_engine(EngineKind::Interp)
///     .with_memory_limit_pages(16)
///     .with_interruption(true);
/// assert_eq!(config.engine(), EngineKind::Interp);
/// assert_eq!(config.memory_limit_pages(), 16);
/// ```
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    engine: EngineKind,
    features: CoreFeatures,
    memory_limit_pages: u32,
    interruption: bool,
    max_call_depth: usize,
}

impl Default for RuntimeConfig {
    fn default() -> RuntimeConfig {
        RuntimeConfig {
            engine: EngineKind::default(),
            features: CoreFeatures::V2,
            memory_limit_pages: 65536,
            interruption: true,
            max_call_depth: 20_000,
        }
    }
}

impl RuntimeConfig {
    /// The default configuration: the tiered engine where built (else the interpreter),
    /// WebAssembly 2.0, 65536-page memory limit, interruption enabled.
    pub fn new() -> RuntimeConfig {
        RuntimeConfig::default()
    }

    /// A configuration for the interpreter engine.
    pub fn interpreter() -> RuntimeConfig {
        RuntimeConfig::default().with_engine(EngineKind::Interp)
    }

    /// Selects the engine.
    pub fn with_engine(mut self, engine: EngineKind) -> RuntimeConfig {
        self.engine = engine;
        self
    }

    /// Selects the accepted WebAssembly features.
    pub fn with_core_features(mut self, features: CoreFeatures) -> RuntimeConfig {
        self.features = features;
        self
    }

    /// Caps every memory at `pages` 64 KiB pages (at most 65536). A declared maximum above
    /// it is clamped; a declared minimum above it fails instantiation.
    pub fn with_memory_limit_pages(mut self, pages: u32) -> RuntimeConfig {
        self.memory_limit_pages = pages.min(65536);
        self
    }

    /// Whether running calls can be stopped by [`Module::close`](crate::Module::close),
    /// interrupt handles and call deadlines (on by default). When off, closing a module
    /// only stops new calls.
    pub fn with_interruption(mut self, enabled: bool) -> RuntimeConfig {
        self.interruption = enabled;
        self
    }

    /// Maximum depth of nested Wasm calls before "call stack exhausted".
    pub fn with_max_call_depth(mut self, depth: usize) -> RuntimeConfig {
        self.max_call_depth = depth.max(1);
        self
    }

    /// The engine.
    pub fn engine(&self) -> EngineKind {
        self.engine
    }

    /// The feature set.
    pub fn core_features(&self) -> CoreFeatures {
        self.features
    }

    /// The memory limit in pages.
    pub fn memory_limit_pages(&self) -> u32 {
        self.memory_limit_pages
    }

    /// Whether interruption is enabled.
    pub fn interruption(&self) -> bool {
        self.interruption
    }

    pub(crate) fn engine_config(&self) -> EngineConfig {
        let mut features = match self.features {
            CoreFeatures::V2 => wasmparser::WasmFeatures::WASM2,
            CoreFeatures::V3 => wasmparser::WasmFeatures::WASM3,
        };
        features.remove(wasmparser::WasmFeatures::THREADS);
        EngineConfig::default()
            .with_features(features)
            .with_memory_limit_pages(self.memory_limit_pages as u64)
            .with_max_call_depth(self.max_call_depth)
    }
}

/// Settings of one instantiation.
///
/// ```
/// let config = kiln::ModuleConfig::new().with_name("guest").with_start_functions(&[]);
/// assert_eq!(config.name(), "guest");
/// assert!(config.start_functions().is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct ModuleConfig {
    name: Option<String>,
    start_functions: Vec<String>,
    deadline: Option<Duration>,
}

impl Default for ModuleConfig {
    fn default() -> ModuleConfig {
        ModuleConfig {
            name: None,
            start_functions: vec!["_start".to_string()],
            deadline: None,
        }
    }
}

impl ModuleConfig {
    /// Defaults: the module's own name (from its name section, else anonymous) and `_start`
    /// as the start function (run if exported).
    pub fn new() -> ModuleConfig {
        ModuleConfig::default()
    }

    /// Names the instance; other modules import from it by this name. An empty name makes
    /// it anonymous: it can be instantiated many times but not imported from.
    pub fn with_name(mut self, name: impl Into<String>) -> ModuleConfig {
        self.name = Some(name.into());
        self
    }

    /// Exported functions called after instantiation, in order; missing ones are skipped.
    /// An empty list runs none.
    pub fn with_start_functions(mut self, names: &[&str]) -> ModuleConfig {
        self.start_functions = names.iter().map(|s| s.to_string()).collect();
        self
    }

    /// A deadline for instantiation (segments, the start function and start functions).
    pub fn with_start_timeout(mut self, timeout: Duration) -> ModuleConfig {
        self.deadline = Some(timeout);
        self
    }

    /// The configured name ("" when none was set).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    pub(crate) fn explicit_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The start functions.
    pub fn start_functions(&self) -> &[String] {
        &self.start_functions
    }

    pub(crate) fn start_timeout(&self) -> Option<Duration> {
        self.deadline
    }
}
