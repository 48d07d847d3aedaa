//! Per-module WASI state: arguments, environment, clocks, random source and the
//! descriptor table.

use super::{ClockFn, Errno, SharedReader, SharedWriter, SleepFn, WasiConfig};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// 2022-01-01T00:00:00Z in nanoseconds: where the deterministic wall clock starts.
pub(crate) const FAKE_EPOCH_NS: u64 = 1_640_995_200 * 1_000_000_000;
/// How far the deterministic clocks advance per reading.
pub(crate) const FAKE_TICK_NS: u64 = 1_000_000;

/// Rights (`rights` in the spec), as bits.
pub(crate) mod rights {
    pub const FD_DATASYNC: u64 = 1 << 0;
    pub const FD_READ: u64 = 1 << 1;
    pub const FD_SEEK: u64 = 1 << 2;
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub const FD_SYNC: u64 = 1 << 4;
    pub const FD_TELL: u64 = 1 << 5;
    pub const FD_WRITE: u64 = 1 << 6;
    pub const FD_ADVISE: u64 = 1 << 7;
    pub const FD_ALLOCATE: u64 = 1 << 8;
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    pub const PATH_OPEN: u64 = 1 << 13;
    pub const FD_READDIR: u64 = 1 << 14;
    pub const PATH_READLINK: u64 = 1 << 15;
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub const PATH_SYMLINK: u64 = 1 << 24;
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    pub const POLL_FD_READWRITE: u64 = 1 << 27;

    /// Everything a regular file can do.
    pub const FILE: u64 = FD_DATASYNC
        | FD_READ
        | FD_SEEK
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_TELL
        | FD_WRITE
        | FD_ADVISE
        | FD_ALLOCATE
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | POLL_FD_READWRITE;
    /// Everything a directory can do.
    pub const DIR: u64 = FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_DATASYNC
        | PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_OPEN
        | FD_READDIR
        | PATH_READLINK
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_GET
        | PATH_FILESTAT_SET_SIZE
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE;
    /// What a read-only directory (and everything opened through it) loses: every right
    /// that changes the file system.
    pub const MUTATING: u64 = FD_DATASYNC
        | FD_WRITE
        | FD_ALLOCATE
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_SET_SIZE
        | PATH_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE;
    /// Stdio streams: no seek or tell (they are streams whatever they are connected to;
    /// `fd_seek` answers `ESPIPE`). wasi-libc's `isatty` also needs the character-device
    /// filetype, which only a terminal reports.
    pub const STDIO: u64 =
        FD_READ | FD_WRITE | FD_FDSTAT_SET_FLAGS | FD_FILESTAT_GET | POLL_FD_READWRITE;
}

/// A directory entry as `fd_readdir` returns it.
pub(crate) struct DirEntry {
    pub ino: u64,
    pub filetype: u8,
    pub name: Vec<u8>,
}

/// What a stdio stream is connected to, which decides the filetype `fd_fdstat_get` and
/// `fd_filestat_get` report (see `funcs::host_stream_filetype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamKind {
    /// The process's own stdin: its host type is looked up at every query.
    ProcessStdin,
    /// The process's own stdout.
    ProcessStdout,
    /// The process's own stderr.
    ProcessStderr,
    /// A type known when the stream was configured: a host file's, or `unknown` for an
    /// in-memory stream (a stream that is neither a terminal nor seekable, like a pipe).
    Fixed(u8),
}

impl Default for StreamKind {
    fn default() -> StreamKind {
        StreamKind::Fixed(super::funcs::FILETYPE_UNKNOWN)
    }
}

impl StreamKind {
    /// The WASI filetype of the stream now.
    pub fn filetype(self) -> u8 {
        use std::os::fd::AsFd;
        let host = super::funcs::host_stream_filetype;
        match self {
            StreamKind::ProcessStdin => host(std::io::stdin().as_fd()),
            StreamKind::ProcessStdout => host(std::io::stdout().as_fd()),
            StreamKind::ProcessStderr => host(std::io::stderr().as_fd()),
            StreamKind::Fixed(filetype) => filetype,
        }
    }
}

/// What a descriptor refers to.
pub(crate) enum Handle {
    Stdin(SharedReader, StreamKind),
    Writer(SharedWriter, StreamKind),
    File(File),
    Dir {
        fd: OwnedFd,
        /// The listing `fd_readdir` serves cookies from; refreshed at cookie 0.
        listing: Option<Vec<DirEntry>>,
    },
}

/// One open descriptor.
pub(crate) struct FdEntry {
    pub handle: Handle,
    pub rights_base: u64,
    pub rights_inheriting: u64,
    /// `fdflags`: only `append` is remembered for files; the rest are passed to the host.
    pub fdflags: u16,
    /// The guest name of a preopened directory.
    pub preopen: Option<String>,
    /// Opened through a read-only preopen: changes fail with `EPERM`.
    pub read_only: bool,
}

/// The descriptor table.
#[derive(Default)]
pub(crate) struct FdTable {
    pub entries: BTreeMap<u32, FdEntry>,
}

impl FdTable {
    pub fn get(&self, fd: u32) -> Result<&FdEntry, Errno> {
        self.entries.get(&fd).ok_or(Errno::BADF)
    }

    pub fn get_mut(&mut self, fd: u32) -> Result<&mut FdEntry, Errno> {
        self.entries.get_mut(&fd).ok_or(Errno::BADF)
    }

    /// Inserts at the lowest free number (above stdio).
    pub fn insert(&mut self, entry: FdEntry) -> Result<u32, Errno> {
        let mut fd = 3u32;
        for &used in self.entries.keys().filter(|&&k| k >= 3) {
            if used != fd {
                break;
            }
            fd = fd.checked_add(1).ok_or(Errno::MFILE)?;
        }
        self.entries.insert(fd, entry);
        Ok(fd)
    }
}

/// The WASI state of one module instance.
pub(crate) struct WasiCtx {
    pub args: Vec<Vec<u8>>,
    pub env: Vec<Vec<u8>>,
    pub walltime: ClockFn,
    pub walltime_res: u64,
    pub nanotime: ClockFn,
    pub nanotime_res: u64,
    pub nanosleep: SleepFn,
    pub rand: SharedReader,
    fds: Mutex<FdTable>,
}

/// A deterministic pseudo-random stream (SplitMix64).
struct FixedRandom(u64);

impl Read for FixedRandom {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        for chunk in buf.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
        Ok(buf.len())
    }
}

fn fake_clock(start: u64) -> ClockFn {
    let now = AtomicU64::new(start);
    Arc::new(move || now.fetch_add(FAKE_TICK_NS, Ordering::Relaxed))
}

impl WasiCtx {
    /// Builds the state from `config`, opening its preopened directories.
    pub fn new(config: &WasiConfig) -> Result<WasiCtx, String> {
        for a in &config.args {
            if a.contains('\0') {
                return Err(format!("WASI argument {a:?} contains a NUL byte"));
            }
        }
        for (k, v) in &config.env {
            if k.is_empty() || k.contains('=') || k.contains('\0') || v.contains('\0') {
                return Err(format!("invalid WASI environment variable {k:?}={v:?}"));
            }
        }
        let mut table = FdTable::default();
        let stdin = config
            .stdin
            .clone()
            .unwrap_or_else(|| super::shared_reader(std::io::empty()));
        let stdout = config
            .stdout
            .clone()
            .unwrap_or_else(|| super::shared_writer(std::io::sink()));
        let stderr = config
            .stderr
            .clone()
            .unwrap_or_else(|| super::shared_writer(std::io::sink()));
        let stdio = |handle| FdEntry {
            handle,
            rights_base: rights::STDIO,
            rights_inheriting: 0,
            fdflags: 0,
            preopen: None,
            read_only: false,
        };
        let [stdin_kind, stdout_kind, stderr_kind] = config.stdio_kinds;
        table
            .entries
            .insert(0, stdio(Handle::Stdin(stdin, stdin_kind)));
        table
            .entries
            .insert(1, stdio(Handle::Writer(stdout, stdout_kind)));
        table
            .entries
            .insert(2, stdio(Handle::Writer(stderr, stderr_kind)));
        for super::Preopen {
            host,
            guest,
            read_only,
        } in &config.preopens
        {
            let fd = rustix::fs::open(
                host,
                rustix::fs::OFlags::RDONLY
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| format!("cannot preopen directory {}: {e}", host.display()))?;
            let mutating = if *read_only { rights::MUTATING } else { 0 };
            table
                .insert(FdEntry {
                    handle: Handle::Dir { fd, listing: None },
                    rights_base: rights::DIR & !mutating,
                    rights_inheriting: (rights::DIR | rights::FILE) & !mutating,
                    fdflags: 0,
                    preopen: Some(guest.clone()),
                    read_only: *read_only,
                })
                .map_err(|e| e.to_string())?;
        }
        let (walltime, walltime_res) = config
            .walltime
            .clone()
            .unwrap_or_else(|| (fake_clock(FAKE_EPOCH_NS), 1));
        let (nanotime, nanotime_res) = config
            .nanotime
            .clone()
            .unwrap_or_else(|| (fake_clock(0), 1));
        Ok(WasiCtx {
            args: config.args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            env: config
                .env
                .iter()
                .map(|(k, v)| format!("{k}={v}").into_bytes())
                .collect(),
            walltime,
            walltime_res,
            nanotime,
            nanotime_res,
            nanosleep: config.nanosleep.clone().unwrap_or_else(|| Arc::new(|_| {})),
            rand: config
                .rand
                .clone()
                .unwrap_or_else(|| super::shared_reader(FixedRandom(42))),
            fds: Mutex::new(table),
        })
    }

    /// The descriptor table, locked for one host call.
    pub fn fds(&self) -> MutexGuard<'_, FdTable> {
        self.fds.lock().unwrap_or_else(|e| e.into_inner())
    }
}
