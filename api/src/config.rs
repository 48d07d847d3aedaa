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

    /// Whether this build can run the engine: the interpreter everywhere, `jit` and
    /// `tiered` on Linux x86-64. An engine that is not available is refused with
    /// [`Error::Unsupported`](crate::Error::Unsupported) rather than silently replaced.
    ///
    /// ```
    /// use kiln::EngineKind;
    /// assert!(EngineKind::Interp.is_available());
    /// ```
    pub fn is_available(self) -> bool {
        match self {
            EngineKind::Interp => true,
            EngineKind::Jit | EngineKind::Tiered => kiln_runtime::vm::native::is_supported(),
        }
    }
}

/// How native code keeps memory accesses in bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BoundsChecks {
    /// Guard pages: each memory reserves 8 GiB of address space and out-of-bounds accesses
    /// fault into the trap handler (the default; no check on the fast path).
    #[default]
    GuardPages,
    /// An explicit comparison against the memory's length before every access.
    Explicit,
}

/// The WebAssembly feature set accepted by the validator.
pub use kiln_runtime::engine::Config as EngineConfig;

/// WebAssembly proposals accepted at compile time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreFeatures {
    /// WebAssembly 2.0: sign extension, non-trapping float-to-int, multi-value, bulk memory,
    /// reference types, SIMD; plus `i32`/`i64` `add`, `sub` and `mul` in constant
    /// expressions (extended constant expressions, part of 3.0). `global.get` in a constant
    /// expression still names an imported global only, as 2.0 requires.
    V2,
    /// WebAssembly 3.0 (validated; of its new proposals, relaxed SIMD, with one fixed result
    /// per instruction, and tail calls execute in every engine; the others are not all
    /// supported yet).
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
    bounds_checks: BoundsChecks,
    tier_threshold: u32,
    tier_sync: bool,
    tier_workers: usize,
    table_limit_elements: u64,
    max_module_bytes: u64,
    max_functions: u64,
    max_locals: u64,
    max_instances: usize,
    max_committed_bytes: u64,
    fuel: bool,
}

impl Default for RuntimeConfig {
    fn default() -> RuntimeConfig {
        RuntimeConfig {
            engine: EngineKind::default(),
            features: CoreFeatures::V2,
            memory_limit_pages: 65536,
            interruption: true,
            max_call_depth: 20_000,
            bounds_checks: BoundsChecks::default(),
            tier_threshold: kiln_runtime::engine::DEFAULT_TIER_THRESHOLD,
            tier_sync: false,
            tier_workers: kiln_runtime::engine::default_tier_workers(),
            table_limit_elements: 10_000_000,
            max_module_bytes: u64::MAX,
            max_functions: 1_000_000,
            max_locals: 50_000,
            max_instances: usize::MAX,
            max_committed_bytes: u64::MAX,
            fuel: false,
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

    /// Fuel metering (off by default, and free when off): a deterministic instruction
    /// budget shared by all modules of the runtime, set with
    /// [`Runtime::set_fuel`](crate::Runtime::set_fuel). Every Wasm operator costs 1; a call
    /// that would run past the budget traps with
    /// [`TrapCode::OutOfFuel`](crate::TrapCode::OutOfFuel). Every engine charges the same
    /// amounts, so a guest stops at the same point whichever tier runs it.
    ///
    /// ```
    /// let config = kiln::RuntimeConfig::interpreter().with_fuel(true);
    /// assert!(config.fuel());
    /// ```
    pub fn with_fuel(mut self, enabled: bool) -> RuntimeConfig {
        self.fuel = enabled;
        self
    }

    /// Whether fuel metering is on.
    pub fn fuel(&self) -> bool {
        self.fuel
    }

    /// Maximum depth of nested Wasm calls before "call stack exhausted".
    pub fn with_max_call_depth(mut self, depth: usize) -> RuntimeConfig {
        self.max_call_depth = depth.max(1);
        self
    }

    /// How native code checks memory bounds (ignored by the interpreter, which always
    /// compares).
    pub fn with_bounds_checks(mut self, checks: BoundsChecks) -> RuntimeConfig {
        self.bounds_checks = checks;
        self
    }

    /// Engine `tiered`: the hotness (interpreted calls plus loop back-edges) at which a
    /// function is compiled to native code, and the back-edges between a running loop's
    /// checks for an on-stack-replacement entry (at least 1; default 1000).
    ///
    /// ```
    /// let config = kiln::RuntimeConfig::new().with_tier_threshold(1).with_tier_sync(true);
    /// assert_eq!(config.tier_threshold(), 1);
    /// ```
    pub fn with_tier_threshold(mut self, threshold: u32) -> RuntimeConfig {
        self.tier_threshold = threshold.max(1);
        self
    }

    /// Engine `tiered`: compile hot code on the thread that finds it hot, before that
    /// thread goes on, instead of in the background. Tier-ups then happen at
    /// deterministic points (for tests).
    pub fn with_tier_sync(mut self, sync: bool) -> RuntimeConfig {
        self.tier_sync = sync;
        self
    }

    /// Engine `tiered`: background compiler threads (at least 1; by default one per core
    /// beyond the first, at least 1 and at most 4: the program keeps running in the
    /// interpreter on one core while hot code compiles).
    pub fn with_tier_workers(mut self, workers: usize) -> RuntimeConfig {
        self.tier_workers = workers.max(1);
        self
    }

    /// Caps every table at `elements` elements (default 10 000 000). A declared maximum
    /// above it is clamped (`table.grow` past it returns -1); a declared minimum above it
    /// fails instantiation with [`LimitKind::TableElements`](crate::LimitKind).
    ///
    /// ```
    /// let config = kiln::RuntimeConfig::new().with_table_limit_elements(1000);
    /// assert_eq!(config.table_limit_elements(), 1000);
    /// ```
    pub fn with_table_limit_elements(mut self, elements: u64) -> RuntimeConfig {
        self.table_limit_elements = elements;
        self
    }

    /// Refuses to compile binaries larger than `bytes` (default: no limit), with
    /// [`LimitKind::ModuleBytes`](crate::LimitKind).
    ///
    /// ```
    /// let config = kiln::RuntimeConfig::new().with_max_module_bytes(1 << 20);
    /// assert_eq!(config.max_module_bytes(), 1 << 20);
    /// ```
    pub fn with_max_module_bytes(mut self, bytes: u64) -> RuntimeConfig {
        self.max_module_bytes = bytes;
        self
    }

    /// Refuses modules with more than `functions` functions, imports included (default
    /// 1 000 000), with [`LimitKind::Functions`](crate::LimitKind). Checked against the
    /// declared count before anything is read for it. Above 1 000 000, the validator's own
    /// maximum, the module is malformed and fails with [`Error::Compile`](crate::Error)
    /// whatever this limit.
    ///
    /// ```
    /// let config = kiln::RuntimeConfig::new().with_max_functions(10_000);
    /// assert_eq!(config.max_functions(), 10_000);
    /// ```
    pub fn with_max_functions(mut self, functions: u64) -> RuntimeConfig {
        self.max_functions = functions;
        self
    }

    /// Refuses functions declaring more than `locals` locals, parameters not counted
    /// (default 50 000), with [`LimitKind::Locals`](crate::LimitKind). Above 50 000, the
    /// validator's own maximum, the module is malformed and fails with
    /// [`Error::Compile`](crate::Error) whatever this limit.
    ///
    /// ```
    /// let config = kiln::RuntimeConfig::new().with_max_locals(1000);
    /// assert_eq!(config.max_locals(), 1000);
    /// ```
    pub fn with_max_locals(mut self, locals: u64) -> RuntimeConfig {
        self.max_locals = locals;
        self
    }

    /// At most `instances` Wasm modules of this runtime may be instantiated and not yet
    /// closed or dropped at once (default: no limit); one more fails with
    /// [`LimitKind::Instances`](crate::LimitKind). Host modules do not count.
    ///
    /// ```
    /// let config = kiln::RuntimeConfig::new().with_max_instances(100);
    /// assert_eq!(config.max_instances(), 100);
    /// ```
    pub fn with_max_instances(mut self, instances: usize) -> RuntimeConfig {
        self.max_instances = instances;
        self
    }

    /// A budget for the bytes the runtime commits: memories, tables and compiled code
    /// together, by the runtime's own count (see
    /// [`Runtime::committed_bytes`](crate::Runtime::committed_bytes); default: no limit).
    /// Instantiation over it fails with [`LimitKind::CommittedBytes`](crate::LimitKind);
    /// `memory.grow` and `table.grow` over it return -1; engine `jit` refuses to compile
    /// a module whose code does not fit, and engine `tiered` keeps such code interpreted.
    ///
    /// ```
    /// let config = kiln::RuntimeConfig::new().with_max_committed_bytes(64 << 20);
    /// assert_eq!(config.max_committed_bytes(), 64 << 20);
    /// ```
    pub fn with_max_committed_bytes(mut self, bytes: u64) -> RuntimeConfig {
        self.max_committed_bytes = bytes;
        self
    }

    /// The table limit in elements.
    pub fn table_limit_elements(&self) -> u64 {
        self.table_limit_elements
    }

    /// The module size limit in bytes.
    pub fn max_module_bytes(&self) -> u64 {
        self.max_module_bytes
    }

    /// The limit of functions per module.
    pub fn max_functions(&self) -> u64 {
        self.max_functions
    }

    /// The limit of declared locals per function.
    pub fn max_locals(&self) -> u64 {
        self.max_locals
    }

    /// The limit of live instances.
    pub fn max_instances(&self) -> usize {
        self.max_instances
    }

    /// The budget of committed bytes.
    pub fn max_committed_bytes(&self) -> u64 {
        self.max_committed_bytes
    }

    /// Maximum depth of nested Wasm calls.
    pub fn max_call_depth(&self) -> usize {
        self.max_call_depth
    }

    /// The tier-up threshold.
    pub fn tier_threshold(&self) -> u32 {
        self.tier_threshold
    }

    /// Whether tier-ups are synchronous.
    pub fn tier_sync(&self) -> bool {
        self.tier_sync
    }

    /// Background compiler threads.
    pub fn tier_workers(&self) -> usize {
        self.tier_workers
    }

    /// The bounds-check strategy of native code.
    pub fn bounds_checks(&self) -> BoundsChecks {
        self.bounds_checks
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
            // Toolchains emit extended constant expressions for address arithmetic
            // (LLVM's `-mextended-const`), and no 2.0 module changes meaning with them.
            CoreFeatures::V2 => {
                wasmparser::WasmFeatures::WASM2 | wasmparser::WasmFeatures::EXTENDED_CONST
            }
            CoreFeatures::V3 => wasmparser::WasmFeatures::WASM3,
        };
        features.remove(wasmparser::WasmFeatures::THREADS);
        EngineConfig {
            fuel: self.fuel,
            ..EngineConfig::default()
        }
        .with_features(features)
        .with_memory_limit_pages(self.memory_limit_pages as u64)
        .with_max_call_depth(self.max_call_depth)
        .with_tier_threshold(self.tier_threshold)
        .with_tier_sync(self.tier_sync)
        .with_tier_workers(self.tier_workers)
        .with_table_limit_elements(self.table_limit_elements)
        .with_max_module_bytes(self.max_module_bytes)
        .with_max_functions(self.max_functions)
        .with_max_locals(self.max_locals)
        .with_max_committed_bytes(self.max_committed_bytes)
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
    wasi: crate::wasi::WasiConfig,
}

impl Default for ModuleConfig {
    fn default() -> ModuleConfig {
        ModuleConfig {
            name: None,
            start_functions: vec!["_start".to_string()],
            deadline: None,
            wasi: crate::wasi::WasiConfig::default(),
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
    /// A timeout too far in the future to represent (such as `Duration::MAX`) means none.
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

    pub(crate) fn wasi(&self) -> &crate::wasi::WasiConfig {
        &self.wasi
    }
}

/// WASI settings (see [`crate::wasi`]); they apply to modules that import
/// `wasi_snapshot_preview1`. By default a module gets no arguments, no environment, no
/// directories, an empty stdin, discarded stdout and stderr, deterministic clocks and a
/// deterministic random stream.
///
/// ```
/// let config = kiln::ModuleConfig::new()
///     .with_args(["prog", "--verbose"])
///     .with_env("HOME", "/home/guest")
///     .with_stdin(std::io::Cursor::new(b"input".to_vec()))
///     .with_stdout(Vec::new())
///     .with_sys_walltime()
///     .with_sys_nanotime()
///     .with_sys_nanosleep();
/// # let _ = config;
/// ```
impl ModuleConfig {
    /// The WASI arguments, `argv[0]` (the program name) first. Replaces earlier ones.
    pub fn with_args<I, S>(mut self, args: I) -> ModuleConfig
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.wasi.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Adds the environment variable `key=value` (in order; a key may not contain `=`,
    /// and neither may contain NUL, or instantiation fails).
    pub fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> ModuleConfig {
        self.wasi.env.push((key.into(), value.into()));
        self
    }

    /// The guest's stdin (default: empty).
    ///
    /// The filetype the guest sees for it (`fd_fdstat_get`) follows what the stream is:
    /// for [`std::io::stdin()`] that of the host's descriptor 0, looked up when the guest
    /// asks (a terminal is a `character_device`, a redirected file a `regular_file`, a
    /// pipe `unknown`); for a [`std::fs::File`] that of the file; for anything else (a
    /// `Cursor`, any `Read`) `unknown`, a stream that is neither a terminal nor seekable.
    pub fn with_stdin(mut self, stdin: impl std::io::Read + Send + 'static) -> ModuleConfig {
        self.wasi.stdio_kinds[0] = crate::wasi::stream_kind_of(&stdin);
        self.wasi.stdin = Some(crate::wasi::shared_reader(stdin));
        self
    }

    /// The guest's stdout (default: discarded). Flushed after every write. Its filetype
    /// follows the stream as for [`with_stdin`](Self::with_stdin): the host's descriptor 1
    /// for [`std::io::stdout()`] (a guest's C library buffers by line only when that is a
    /// terminal), a file's own type, `unknown` for a `Vec<u8>` or any other `Write`.
    pub fn with_stdout(mut self, stdout: impl std::io::Write + Send + 'static) -> ModuleConfig {
        self.wasi.stdio_kinds[1] = crate::wasi::stream_kind_of(&stdout);
        self.wasi.stdout = Some(crate::wasi::shared_writer(stdout));
        self
    }

    /// The guest's stderr (default: discarded). Flushed after every write. Its filetype
    /// follows the stream as for [`with_stdout`](Self::with_stdout) (the host's descriptor
    /// 2 for [`std::io::stderr()`]).
    pub fn with_stderr(mut self, stderr: impl std::io::Write + Send + 'static) -> ModuleConfig {
        self.wasi.stdio_kinds[2] = crate::wasi::stream_kind_of(&stderr);
        self.wasi.stderr = Some(crate::wasi::shared_writer(stderr));
        self
    }

    /// Gives the guest the host directory `host` under the name `guest` (such as `/`,
    /// `/data` or `.`). The directory is opened at instantiation (which fails if it
    /// cannot be); the guest cannot reach anything outside it.
    pub fn with_preopen_dir(
        self,
        host: impl Into<std::path::PathBuf>,
        guest: impl Into<String>,
    ) -> ModuleConfig {
        self.preopen(host.into(), guest.into(), false)
    }

    /// [`with_preopen_dir`](Self::with_preopen_dir), read-only: the guest can open, read,
    /// list and stat what is inside, but every change (creating, truncating or writing
    /// files, creating or removing directories, unlinking, renaming, linking, setting
    /// times or sizes) fails with `EPERM`, as in wasmtime's read-only preopens. The
    /// restriction covers every descriptor opened through this directory; the same host
    /// directory given again writable (or a writable parent of it) stays writable.
    pub fn with_readonly_preopen_dir(
        self,
        host: impl Into<std::path::PathBuf>,
        guest: impl Into<String>,
    ) -> ModuleConfig {
        self.preopen(host.into(), guest.into(), true)
    }

    fn preopen(mut self, host: std::path::PathBuf, guest: String, read_only: bool) -> ModuleConfig {
        self.wasi.preopens.push(crate::wasi::Preopen {
            host,
            guest,
            read_only,
        });
        self
    }

    /// The wall clock: `clock()` returns nanoseconds since the Unix epoch; `resolution`
    /// is what `clock_res_get` reports, in nanoseconds.
    pub fn with_walltime(
        mut self,
        clock: impl Fn() -> u64 + Send + Sync + 'static,
        resolution: u64,
    ) -> ModuleConfig {
        self.wasi.walltime = Some((std::sync::Arc::new(clock), resolution.max(1)));
        self
    }

    /// The host's real wall clock (microsecond resolution reported).
    pub fn with_sys_walltime(self) -> ModuleConfig {
        self.with_walltime(
            || {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos().min(u64::MAX as u128) as u64)
            },
            1_000,
        )
    }

    /// The monotonic clock: `clock()` returns nanoseconds from an arbitrary start;
    /// `resolution` is what `clock_res_get` reports, in nanoseconds.
    pub fn with_nanotime(
        mut self,
        clock: impl Fn() -> u64 + Send + Sync + 'static,
        resolution: u64,
    ) -> ModuleConfig {
        self.wasi.nanotime = Some((std::sync::Arc::new(clock), resolution.max(1)));
        self
    }

    /// The host's real monotonic clock (nanoseconds since the config was made).
    pub fn with_sys_nanotime(self) -> ModuleConfig {
        let start = std::time::Instant::now();
        self.with_nanotime(
            move || start.elapsed().as_nanos().min(u64::MAX as u128) as u64,
            1,
        )
    }

    /// How `poll_oneoff` waits for a clock: `sleep(ns)` (default: it returns at once).
    pub fn with_nanosleep(mut self, sleep: impl Fn(u64) + Send + Sync + 'static) -> ModuleConfig {
        self.wasi.nanosleep = Some(std::sync::Arc::new(sleep));
        self
    }

    /// Real sleeping for `poll_oneoff`.
    pub fn with_sys_nanosleep(self) -> ModuleConfig {
        self.with_nanosleep(|ns| std::thread::sleep(Duration::from_nanos(ns)))
    }

    /// Where `random_get` reads its bytes (default: a fixed-seed pseudo-random stream).
    /// For real randomness pass e.g. `std::fs::File::open("/dev/urandom")?`.
    pub fn with_rand_source(mut self, source: impl std::io::Read + Send + 'static) -> ModuleConfig {
        self.wasi.rand = Some(crate::wasi::shared_reader(source));
        self
    }
}
