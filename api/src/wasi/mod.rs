//! WASI preview 1 (`wasi_snapshot_preview1`) as a host module, like wazero's
//! `imports/wasi_snapshot_preview1`.
//!
//! Instantiate it once per [`Runtime`] with [`instantiate`]; then every module that
//! imports `wasi_snapshot_preview1` gets its own WASI state (arguments, environment,
//! descriptors, preopened directories, stdio, clocks, random source) from the
//! [`ModuleConfig`](crate::ModuleConfig) it was instantiated with. A command module's `_start` runs during
//! instantiation (it is a default start function); `proc_exit` closes the module and
//! instantiation returns [`Error::Exit`] with the code (an exit with
//! code 0 succeeds, the module stays closed).
//!
//! ```no_run
//! # fn main() -> kiln::Result<()> {
//! let runtime = kiln::Runtime::new()?;
//! kiln::wasi::instantiate(&runtime)?;
//! let wasm = std::fs::read("hello.wasm").unwrap();
//! let compiled = runtime.compile(&wasm)?;
//! let config = kiln::ModuleConfig::new()
//!     .with_args(["hello", "world"])
//!     .with_env("GREETING", "hi")
//!     .with_stdout(std::io::stdout())
//!     .with_preopen_dir("data", "/data");
//! match runtime.instantiate(&compiled, config) {
//!     Ok(_) => println!("exited with 0"),
//!     Err(kiln::Error::Exit(e)) => println!("exited with {}", e.exit_code()),
//!     Err(e) => return Err(e),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Defaults
//!
//! As in wazero, a module gets nothing from the host unless the config says so: no
//! arguments, no environment, no directories, an empty stdin, stdout and stderr
//! discarded. Clocks and randomness are deterministic unless real ones are asked for
//! (`with_sys_walltime`, `with_sys_nanotime`, `with_sys_nanosleep`, `with_rand_source`):
//!
//! * wall clock: starts at 2022-01-01T00:00:00Z and advances 1 ms per reading;
//! * monotonic clock: starts at 0 and advances 1 ms per reading;
//! * sleeping (`poll_oneoff` with a clock) returns at once;
//! * `random_get`: a fixed-seed pseudo-random stream (the same bytes every run).
//!
//! # Sandboxing
//!
//! A guest sees only its preopened directories. Paths are resolved component by
//! component with `openat(O_NOFOLLOW)` (see the `fs` module): `..` cannot climb above a
//! preopen, absolute paths are refused, and symbolic links are followed only while they
//! stay inside. Escapes fail with [`Errno::NOTCAPABLE`]. Under a read-only preopen
//! ([`ModuleConfig::with_readonly_preopen_dir`](crate::ModuleConfig::with_readonly_preopen_dir))
//! every change fails with [`Errno::PERM`].
//!
//! # Not provided
//!
//! `sock_accept`, `sock_recv`, `sock_send` and `sock_shutdown` answer `ENOTSUP`;
//! `proc_raise` answers `ENOSYS`. The process and thread CPU-time clocks report `EINVAL`
//! (`ENOTSUP` is not in their contract and wasi-libc maps either to an error).

mod ctx;
mod errno;
mod fs;
mod funcs;

pub use errno::Errno;

use crate::error::{Error, Result};
use crate::module::Module;
use crate::runtime::Runtime;
use std::fmt;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub(crate) use ctx::{StreamKind, WasiCtx};

/// The import module name.
pub const MODULE_NAME: &str = "wasi_snapshot_preview1";

/// Instantiates the `wasi_snapshot_preview1` host module into `runtime` (wazero's
/// `wasi_snapshot_preview1.MustInstantiate`).
///
/// # Errors
///
/// [`Error::Instantiate`] when a module of that name is already instantiated.
pub fn instantiate(runtime: &Runtime) -> Result<Module> {
    let mut builder = runtime.new_host_module_builder(MODULE_NAME);
    funcs::export_all(&mut builder);
    builder.instantiate()
}

pub(crate) type SharedReader = Arc<Mutex<Box<dyn Read + Send>>>;
pub(crate) type SharedWriter = Arc<Mutex<Box<dyn Write + Send>>>;
pub(crate) type ClockFn = Arc<dyn Fn() -> u64 + Send + Sync>;
pub(crate) type SleepFn = Arc<dyn Fn(u64) + Send + Sync>;

/// A directory given to the guest.
#[derive(Clone, Debug)]
pub(crate) struct Preopen {
    pub host: PathBuf,
    pub guest: String,
    /// Nothing under it may be changed (`EPERM`).
    pub read_only: bool,
}

/// The WASI part of a [`ModuleConfig`]. Streams are shared between clones of a config.
#[derive(Clone, Default)]
pub(crate) struct WasiConfig {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub stdin: Option<SharedReader>,
    pub stdout: Option<SharedWriter>,
    pub stderr: Option<SharedWriter>,
    /// What stdin, stdout and stderr are (for `fd_fdstat_get`), in that order.
    pub stdio_kinds: [StreamKind; 3],
    pub preopens: Vec<Preopen>,
    pub walltime: Option<(ClockFn, u64)>,
    pub nanotime: Option<(ClockFn, u64)>,
    pub nanosleep: Option<SleepFn>,
    pub rand: Option<SharedReader>,
}

impl fmt::Debug for WasiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasiConfig")
            .field("args", &self.args)
            .field("env", &self.env)
            .field("preopens", &self.preopens)
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .field("walltime", &self.walltime.as_ref().map(|w| w.1))
            .field("nanotime", &self.nanotime.as_ref().map(|n| n.1))
            .field("nanosleep", &self.nanosleep.is_some())
            .field("rand", &self.rand.is_some())
            .finish()
    }
}

/// What the stream `stream` given to the config is: the process's own stdin, stdout or
/// stderr (their type is looked up on the host whenever the guest asks, so a redirection
/// is seen), a host file (its type read now), or anything else, an in-memory stream.
pub(crate) fn stream_kind_of(stream: &dyn std::any::Any) -> StreamKind {
    use std::os::fd::AsFd;
    if stream.is::<std::io::Stdin>() {
        StreamKind::ProcessStdin
    } else if stream.is::<std::io::Stdout>() {
        StreamKind::ProcessStdout
    } else if stream.is::<std::io::Stderr>() {
        StreamKind::ProcessStderr
    } else if let Some(file) = stream.downcast_ref::<std::fs::File>() {
        StreamKind::Fixed(funcs::host_stream_filetype(file.as_fd()))
    } else {
        StreamKind::Fixed(funcs::FILETYPE_UNKNOWN)
    }
}

pub(crate) fn shared_reader(r: impl Read + Send + 'static) -> SharedReader {
    Arc::new(Mutex::new(Box::new(r)))
}

pub(crate) fn shared_writer(w: impl Write + Send + 'static) -> SharedWriter {
    Arc::new(Mutex::new(Box::new(w)))
}

/// The hook `Runtime::instantiate` calls: the WASI state of a module that imports
/// `wasi_snapshot_preview1`, built from its config (preopened directories are opened
/// here, so a missing one fails instantiation before any code runs). `None` for modules
/// that do not import WASI.
pub(crate) fn state_for(
    module: &kiln_runtime::Module,
    config: &WasiConfig,
) -> Result<Option<Arc<WasiCtx>>> {
    if !module.imports().any(|i| i.module == MODULE_NAME) {
        return Ok(None);
    }
    WasiCtx::new(config)
        .map(|c| Some(Arc::new(c)))
        .map_err(Error::Instantiate)
}
