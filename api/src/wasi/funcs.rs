//! The `wasi_snapshot_preview1` functions, written against the public host API
//! ([`HostModuleBuilder::new_function_builder`], `with_stack_func`, [`Caller::memory`],
//! [`Caller::exit`]).
//!
//! Each function reads its parameters from the stack, does its work on the calling
//! module's [`WasiCtx`] and writes an `errno` result (0 for success). Guest memory that
//! is out of range yields `EFAULT`; only `proc_exit` unwinds the call.

use super::ctx::{DirEntry, FdEntry, FdTable, Handle, WasiCtx, rights};
use super::fs::{Resolved, lstat_at, resolve};
use super::{Errno, WasiConfig};
use crate::host::{Caller, HostModuleBuilder};
use crate::memory::Memory;
use crate::values::ValueType;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

type R<T = ()> = std::result::Result<T, Errno>;

const I32: ValueType = ValueType::I32;
const I64: ValueType = ValueType::I64;

// filetype
pub(super) const FILETYPE_UNKNOWN: u8 = 0;
const FILETYPE_BLOCK_DEVICE: u8 = 1;
const FILETYPE_CHARACTER_DEVICE: u8 = 2;
const FILETYPE_DIRECTORY: u8 = 3;
const FILETYPE_REGULAR_FILE: u8 = 4;
const FILETYPE_SOCKET_STREAM: u8 = 6;
const FILETYPE_SYMBOLIC_LINK: u8 = 7;

// oflags
const O_CREAT: u32 = 1;
const O_DIRECTORY: u32 = 2;
const O_EXCL: u32 = 4;
const O_TRUNC: u32 = 8;

// fdflags
const FDFLAG_APPEND: u16 = 1;
const FDFLAG_DSYNC: u16 = 2;
const FDFLAG_NONBLOCK: u16 = 4;
const FDFLAG_RSYNC: u16 = 8;
const FDFLAG_SYNC: u16 = 16;

/// Rights that make `path_open` open a file for writing.
const WRITE_RIGHTS: u64 =
    rights::FD_WRITE | rights::FD_ALLOCATE | rights::FD_FILESTAT_SET_SIZE | rights::FD_DATASYNC;

// lookupflags
const LOOKUP_SYMLINK_FOLLOW: u32 = 1;

// fstflags
const FST_ATIM: u32 = 1;
const FST_ATIM_NOW: u32 = 2;
const FST_MTIM: u32 = 4;
const FST_MTIM_NOW: u32 = 8;

// clockid
const CLOCK_REALTIME: u32 = 0;
const CLOCK_MONOTONIC: u32 = 1;

// eventtype
const EVENT_CLOCK: u8 = 0;
const EVENT_FD_READ: u8 = 1;
const EVENT_FD_WRITE: u8 = 2;
const SUBCLOCK_ABSTIME: u16 = 1;

/// What one host call works with.
struct Cx {
    wasi: Arc<WasiCtx>,
    memory: Option<Memory>,
}

impl Cx {
    fn new(caller: &Caller<'_>) -> Cx {
        let default = || Arc::new(WasiCtx::new(&WasiConfig::default()).expect("defaults"));
        let wasi = match caller.module() {
            // A module instantiated without WASI state (it cannot happen through
            // `Runtime::instantiate`, which attaches it) gets the defaults.
            Some(m) => m.inner.wasi.get_or_init(default).clone(),
            // Calls from a module's start section run before the module exists.
            None => default(),
        };
        Cx {
            wasi,
            memory: caller.memory(),
        }
    }

    fn mem(&self) -> R<&Memory> {
        self.memory.as_ref().ok_or(Errno::FAULT)
    }

    fn read_u32(&self, ptr: u32) -> R<u32> {
        self.mem()?.read_u32_le(ptr).ok_or(Errno::FAULT)
    }

    fn write_u32(&self, ptr: u32, v: u32) -> R {
        self.mem()?
            .write_u32_le(ptr, v)
            .then_some(())
            .ok_or(Errno::FAULT)
    }

    fn write_u64(&self, ptr: u32, v: u64) -> R {
        self.mem()?
            .write_u64_le(ptr, v)
            .then_some(())
            .ok_or(Errno::FAULT)
    }

    fn read_bytes(&self, ptr: u32, len: u32) -> R<Vec<u8>> {
        Ok(self.mem()?.read(ptr, len).ok_or(Errno::FAULT)?.to_vec())
    }

    fn write_bytes(&self, ptr: u32, bytes: &[u8]) -> R {
        self.mem()?
            .write(ptr, bytes)
            .then_some(())
            .ok_or(Errno::FAULT)
    }

    /// Checks that `len` bytes at `ptr` are in range (before a host call fills them).
    fn check_range(&self, ptr: u32, len: u32) -> R {
        self.mem()?.read(ptr, len).map(|_| ()).ok_or(Errno::FAULT)
    }

    fn read_path(&self, ptr: u32, len: u32) -> R<String> {
        String::from_utf8(self.read_bytes(ptr, len)?).map_err(|_| Errno::ILSEQ)
    }

    /// The `(buf, len)` pairs of an iovec array.
    fn iovecs(&self, iovs: u32, count: u32) -> R<Vec<(u32, u32)>> {
        (0..count)
            .map(|i| {
                let at = iovs
                    .checked_add(i.checked_mul(8).ok_or(Errno::FAULT)?)
                    .ok_or(Errno::FAULT)?;
                let buf = self.read_u32(at)?;
                let len = self.read_u32(at.checked_add(4).ok_or(Errno::FAULT)?)?;
                self.check_range(buf, len)?;
                Ok((buf, len))
            })
            .collect()
    }
}

type WasiFn = fn(&Cx, &[u64]) -> R;

fn export(b: &mut HostModuleBuilder, name: &'static str, params: &[ValueType], f: WasiFn) {
    b.new_function_builder()
        .with_stack_func(params, &[I32], move |caller, stack| {
            let cx = Cx::new(caller);
            let errno = match f(&cx, stack) {
                Ok(()) => 0,
                Err(e) => e.raw(),
            };
            stack[0] = errno as u64;
            Ok(())
        })
        .with_name(name)
        .export(name);
}

/// Exports every function of `wasi_snapshot_preview1` into `b`.
pub(super) fn export_all(b: &mut HostModuleBuilder) {
    export(b, "args_get", &[I32, I32], args_get);
    export(b, "args_sizes_get", &[I32, I32], args_sizes_get);
    export(b, "environ_get", &[I32, I32], environ_get);
    export(b, "environ_sizes_get", &[I32, I32], environ_sizes_get);
    export(b, "clock_res_get", &[I32, I32], clock_res_get);
    export(b, "clock_time_get", &[I32, I64, I32], clock_time_get);
    export(b, "fd_advise", &[I32, I64, I64, I32], fd_advise);
    export(b, "fd_allocate", &[I32, I64, I64], fd_allocate);
    export(b, "fd_close", &[I32], fd_close);
    export(b, "fd_datasync", &[I32], fd_datasync);
    export(b, "fd_fdstat_get", &[I32, I32], fd_fdstat_get);
    export(b, "fd_fdstat_set_flags", &[I32, I32], fd_fdstat_set_flags);
    export(
        b,
        "fd_fdstat_set_rights",
        &[I32, I64, I64],
        fd_fdstat_set_rights,
    );
    export(b, "fd_filestat_get", &[I32, I32], fd_filestat_get);
    export(b, "fd_filestat_set_size", &[I32, I64], fd_filestat_set_size);
    export(
        b,
        "fd_filestat_set_times",
        &[I32, I64, I64, I32],
        fd_filestat_set_times,
    );
    export(b, "fd_pread", &[I32, I32, I32, I64, I32], fd_pread);
    export(b, "fd_prestat_get", &[I32, I32], fd_prestat_get);
    export(
        b,
        "fd_prestat_dir_name",
        &[I32, I32, I32],
        fd_prestat_dir_name,
    );
    export(b, "fd_pwrite", &[I32, I32, I32, I64, I32], fd_pwrite);
    export(b, "fd_read", &[I32, I32, I32, I32], fd_read);
    export(b, "fd_readdir", &[I32, I32, I32, I64, I32], fd_readdir);
    export(b, "fd_renumber", &[I32, I32], fd_renumber);
    export(b, "fd_seek", &[I32, I64, I32, I32], fd_seek);
    export(b, "fd_sync", &[I32], fd_sync);
    export(b, "fd_tell", &[I32, I32], fd_tell);
    export(b, "fd_write", &[I32, I32, I32, I32], fd_write);
    export(
        b,
        "path_create_directory",
        &[I32, I32, I32],
        path_create_directory,
    );
    export(
        b,
        "path_filestat_get",
        &[I32, I32, I32, I32, I32],
        path_filestat_get,
    );
    export(
        b,
        "path_filestat_set_times",
        &[I32, I32, I32, I32, I64, I64, I32],
        path_filestat_set_times,
    );
    export(
        b,
        "path_link",
        &[I32, I32, I32, I32, I32, I32, I32],
        path_link,
    );
    export(
        b,
        "path_open",
        &[I32, I32, I32, I32, I32, I64, I64, I32, I32],
        path_open,
    );
    export(
        b,
        "path_readlink",
        &[I32, I32, I32, I32, I32, I32],
        path_readlink,
    );
    export(
        b,
        "path_remove_directory",
        &[I32, I32, I32],
        path_remove_directory,
    );
    export(
        b,
        "path_rename",
        &[I32, I32, I32, I32, I32, I32],
        path_rename,
    );
    export(b, "path_symlink", &[I32, I32, I32, I32, I32], path_symlink);
    export(b, "path_unlink_file", &[I32, I32, I32], path_unlink_file);
    export(b, "poll_oneoff", &[I32, I32, I32, I32], poll_oneoff);
    b.new_function_builder()
        .with_stack_func(&[I32], &[], |caller, stack| {
            Err(caller.exit(stack[0] as u32))
        })
        .with_name("proc_exit")
        .export("proc_exit");
    export(b, "proc_raise", &[I32], |_, _| Err(Errno::NOSYS));
    export(b, "sched_yield", &[], |_, _| {
        std::thread::yield_now();
        Ok(())
    });
    export(b, "random_get", &[I32, I32], random_get);
    export(b, "sock_accept", &[I32, I32, I32], not_supported);
    export(
        b,
        "sock_recv",
        &[I32, I32, I32, I32, I32, I32],
        not_supported,
    );
    export(b, "sock_send", &[I32, I32, I32, I32, I32], not_supported);
    export(b, "sock_shutdown", &[I32, I32], not_supported);
}

fn not_supported(_: &Cx, _: &[u64]) -> R {
    Err(Errno::NOTSUP)
}

fn a32(stack: &[u64], i: usize) -> u32 {
    stack[i] as u32
}

// ---------------------------------------------------------------------------------------
// args, environ, clocks, random

/// Writes `items` as NUL-terminated strings at `buf` and their addresses at `ptrs`.
fn write_strings(cx: &Cx, items: &[Vec<u8>], ptrs: u32, buf: u32) -> R {
    let mut at = buf;
    for (i, item) in items.iter().enumerate() {
        cx.write_u32(ptrs.wrapping_add(4 * i as u32), at)?;
        let mut bytes = item.clone();
        bytes.push(0);
        cx.write_bytes(at, &bytes)?;
        at = at.wrapping_add(bytes.len() as u32);
    }
    Ok(())
}

fn write_sizes(cx: &Cx, items: &[Vec<u8>], count_ptr: u32, size_ptr: u32) -> R {
    let size: usize = items.iter().map(|i| i.len() + 1).sum();
    cx.write_u32(count_ptr, items.len() as u32)?;
    cx.write_u32(size_ptr, size as u32)
}

fn args_get(cx: &Cx, s: &[u64]) -> R {
    write_strings(cx, &cx.wasi.args, a32(s, 0), a32(s, 1))
}

fn args_sizes_get(cx: &Cx, s: &[u64]) -> R {
    write_sizes(cx, &cx.wasi.args, a32(s, 0), a32(s, 1))
}

fn environ_get(cx: &Cx, s: &[u64]) -> R {
    write_strings(cx, &cx.wasi.env, a32(s, 0), a32(s, 1))
}

fn environ_sizes_get(cx: &Cx, s: &[u64]) -> R {
    write_sizes(cx, &cx.wasi.env, a32(s, 0), a32(s, 1))
}

fn clock_res_get(cx: &Cx, s: &[u64]) -> R {
    let res = match a32(s, 0) {
        CLOCK_REALTIME => cx.wasi.walltime_res,
        CLOCK_MONOTONIC => cx.wasi.nanotime_res,
        _ => return Err(Errno::INVAL),
    };
    cx.write_u64(a32(s, 1), res)
}

fn now(wasi: &WasiCtx, clock: u32) -> R<u64> {
    match clock {
        CLOCK_REALTIME => Ok((wasi.walltime)()),
        CLOCK_MONOTONIC => Ok((wasi.nanotime)()),
        _ => Err(Errno::INVAL),
    }
}

fn clock_time_get(cx: &Cx, s: &[u64]) -> R {
    let t = now(&cx.wasi, a32(s, 0))?;
    cx.write_u64(a32(s, 2), t)
}

fn random_get(cx: &Cx, s: &[u64]) -> R {
    let (buf, len) = (a32(s, 0), a32(s, 1));
    cx.check_range(buf, len)?;
    let mut bytes = vec![0u8; len as usize];
    cx.wasi
        .rand
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .read_exact(&mut bytes)
        .map_err(|_| Errno::IO)?;
    cx.write_bytes(buf, &bytes)
}

// ---------------------------------------------------------------------------------------
// descriptors

fn file_of(entry: &FdEntry) -> R<&std::fs::File> {
    match &entry.handle {
        Handle::File(f) => Ok(f),
        Handle::Dir { .. } => Err(Errno::ISDIR),
        _ => Err(Errno::BADF),
    }
}

/// `entry` itself, or `EPERM` when it was opened through a read-only preopen (what
/// wasmtime answers for changes under a read-only directory).
fn writable(entry: &FdEntry) -> R<&FdEntry> {
    if entry.read_only {
        Err(Errno::PERM)
    } else {
        Ok(entry)
    }
}

fn dir_of(entry: &FdEntry) -> R<BorrowedFd<'_>> {
    match &entry.handle {
        Handle::Dir { fd, .. } => Ok(fd.as_fd()),
        _ => Err(Errno::NOTDIR),
    }
}

fn filetype_of(ft: FileType) -> u8 {
    match ft {
        FileType::RegularFile => FILETYPE_REGULAR_FILE,
        FileType::Directory => FILETYPE_DIRECTORY,
        FileType::Symlink => FILETYPE_SYMBOLIC_LINK,
        FileType::CharacterDevice => FILETYPE_CHARACTER_DEVICE,
        FileType::BlockDevice => FILETYPE_BLOCK_DEVICE,
        FileType::Socket => FILETYPE_SOCKET_STREAM,
        _ => FILETYPE_UNKNOWN,
    }
}

/// The filetype of a host descriptor used as a stdio stream: a regular file, block
/// device or socket reports its own type; a character device reports
/// `character_device` only when it is a terminal (wasi-libc's `isatty` goes by that
/// type, and so decides line buffering and colours); a pipe, `/dev/null` or a descriptor
/// that cannot be examined reports `unknown`, as wasmtime does for every stdio stream
/// that is not a terminal (WASI has no pipe filetype).
pub(super) fn host_stream_filetype(fd: BorrowedFd<'_>) -> u8 {
    use std::io::IsTerminal;
    let Ok(st) = rustix::fs::fstat(fd) else {
        return FILETYPE_UNKNOWN;
    };
    match mode_type(&st) {
        FileType::CharacterDevice if fd.is_terminal() => FILETYPE_CHARACTER_DEVICE,
        FileType::CharacterDevice | FileType::Fifo => FILETYPE_UNKNOWN,
        other => filetype_of(other),
    }
}

fn mode_type(st: &rustix::fs::Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode as rustix::fs::RawMode)
}

fn to_u64<T: TryInto<u64>>(v: T) -> u64 {
    v.try_into().unwrap_or(0)
}

fn to_i64<T: TryInto<i64>>(v: T) -> i64 {
    v.try_into().unwrap_or(0)
}

fn timestamp(secs: i64, nsecs: i64) -> u64 {
    (secs.saturating_mul(1_000_000_000).saturating_add(nsecs)).max(0) as u64
}

/// The 64-byte `filestat` of a host `stat`.
fn filestat_bytes(st: &rustix::fs::Stat) -> [u8; 64] {
    let mut out = [0u8; 64];
    let ft = filetype_of(mode_type(st));
    out[0..8].copy_from_slice(&to_u64(st.st_dev).to_le_bytes());
    out[8..16].copy_from_slice(&to_u64(st.st_ino).to_le_bytes());
    out[16] = ft;
    out[24..32].copy_from_slice(&to_u64(st.st_nlink).to_le_bytes());
    out[32..40].copy_from_slice(&to_u64(st.st_size).to_le_bytes());
    let atim = timestamp(to_i64(st.st_atime), to_i64(st.st_atime_nsec));
    let mtim = timestamp(to_i64(st.st_mtime), to_i64(st.st_mtime_nsec));
    let ctim = timestamp(to_i64(st.st_ctime), to_i64(st.st_ctime_nsec));
    out[40..48].copy_from_slice(&atim.to_le_bytes());
    out[48..56].copy_from_slice(&mtim.to_le_bytes());
    out[56..64].copy_from_slice(&ctim.to_le_bytes());
    out
}

fn stat_entry(entry: &FdEntry) -> R<[u8; 64]> {
    match &entry.handle {
        Handle::File(f) => Ok(filestat_bytes(&rustix::fs::fstat(f)?)),
        Handle::Dir { fd, .. } => Ok(filestat_bytes(&rustix::fs::fstat(fd)?)),
        Handle::Stdin(_, kind) | Handle::Writer(_, kind) => {
            let mut out = [0u8; 64];
            out[16] = kind.filetype();
            Ok(out)
        }
    }
}

fn fd_advise(cx: &Cx, s: &[u64]) -> R {
    let fds = cx.wasi.fds();
    let file = file_of(fds.get(a32(s, 0))?)?;
    let (offset, len, advice) = (s[1], s[2], a32(s, 3));
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::fs::Advice;
        let advice = match advice {
            0 => Advice::Normal,
            1 => Advice::Sequential,
            2 => Advice::Random,
            3 => Advice::WillNeed,
            4 => Advice::DontNeed,
            5 => Advice::NoReuse,
            _ => return Err(Errno::INVAL),
        };
        rustix::fs::fadvise(file, offset, std::num::NonZeroU64::new(len), advice)?;
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (file, offset, len);
        if advice > 5 {
            return Err(Errno::INVAL);
        }
    }
    Ok(())
}

fn fd_allocate(cx: &Cx, s: &[u64]) -> R {
    let fds = cx.wasi.fds();
    let file = file_of(writable(fds.get(a32(s, 0))?)?)?;
    let end = s[1].checked_add(s[2]).ok_or(Errno::FBIG)?;
    if end > i64::MAX as u64 {
        return Err(Errno::FBIG);
    }
    let size = file.metadata()?.len();
    if end > size {
        file.set_len(end)?;
    }
    Ok(())
}

fn fd_close(cx: &Cx, s: &[u64]) -> R {
    let entry = cx.wasi.fds().entries.remove(&a32(s, 0));
    entry.map(|_| ()).ok_or(Errno::BADF)
}

fn sync(cx: &Cx, fd: u32, data_only: bool) -> R {
    let fds = cx.wasi.fds();
    match &fds.get(fd)?.handle {
        Handle::File(f) if data_only => Ok(f.sync_data()?),
        Handle::File(f) => Ok(f.sync_all()?),
        Handle::Dir { fd, .. } => Ok(rustix::fs::fsync(fd)?),
        Handle::Writer(w, _) => Ok(w.lock().unwrap_or_else(|e| e.into_inner()).flush()?),
        Handle::Stdin(..) => Err(Errno::INVAL),
    }
}

fn fd_datasync(cx: &Cx, s: &[u64]) -> R {
    sync(cx, a32(s, 0), true)
}

fn fd_sync(cx: &Cx, s: &[u64]) -> R {
    sync(cx, a32(s, 0), false)
}

fn fd_fdstat_get(cx: &Cx, s: &[u64]) -> R {
    let fds = cx.wasi.fds();
    let entry = fds.get(a32(s, 0))?;
    let filetype = match &entry.handle {
        Handle::Stdin(_, kind) | Handle::Writer(_, kind) => kind.filetype(),
        Handle::Dir { .. } => FILETYPE_DIRECTORY,
        Handle::File(f) => {
            let st = rustix::fs::fstat(f)?;
            filetype_of(mode_type(&st))
        }
    };
    let mut out = [0u8; 24];
    out[0] = filetype;
    out[2..4].copy_from_slice(&entry.fdflags.to_le_bytes());
    out[8..16].copy_from_slice(&entry.rights_base.to_le_bytes());
    out[16..24].copy_from_slice(&entry.rights_inheriting.to_le_bytes());
    cx.write_bytes(a32(s, 1), &out)
}

fn fd_fdstat_set_flags(cx: &Cx, s: &[u64]) -> R {
    let flags = a32(s, 1) as u16;
    let mut fds = cx.wasi.fds();
    let entry = fds.get_mut(a32(s, 0))?;
    if let Handle::File(f) = &entry.handle {
        let mut host = rustix::fs::fcntl_getfl(f)?;
        host.set(OFlags::APPEND, flags & FDFLAG_APPEND != 0);
        host.set(OFlags::NONBLOCK, flags & FDFLAG_NONBLOCK != 0);
        rustix::fs::fcntl_setfl(f, host)?;
    }
    entry.fdflags = flags;
    Ok(())
}

fn fd_fdstat_set_rights(cx: &Cx, s: &[u64]) -> R {
    let (base, inheriting) = (s[1], s[2]);
    let mut fds = cx.wasi.fds();
    let entry = fds.get_mut(a32(s, 0))?;
    if base & !entry.rights_base != 0 || inheriting & !entry.rights_inheriting != 0 {
        return Err(Errno::NOTCAPABLE);
    }
    entry.rights_base = base;
    entry.rights_inheriting = inheriting;
    Ok(())
}

fn fd_filestat_get(cx: &Cx, s: &[u64]) -> R {
    let bytes = stat_entry(cx.wasi.fds().get(a32(s, 0))?)?;
    cx.write_bytes(a32(s, 1), &bytes)
}

fn fd_filestat_set_size(cx: &Cx, s: &[u64]) -> R {
    let fds = cx.wasi.fds();
    let file = file_of(writable(fds.get(a32(s, 0))?)?)?;
    if s[1] > i64::MAX as u64 {
        return Err(Errno::FBIG);
    }
    Ok(file.set_len(s[1])?)
}

/// The host timestamps for `*_set_times`.
fn timestamps(atim: u64, mtim: u64, flags: u32) -> R<rustix::fs::Timestamps> {
    if (flags & FST_ATIM != 0 && flags & FST_ATIM_NOW != 0)
        || (flags & FST_MTIM != 0 && flags & FST_MTIM_NOW != 0)
        || flags & !0xf != 0
    {
        return Err(Errno::INVAL);
    }
    let spec = |t: u64, set: u32, now: u32| {
        let mut ts = rustix::fs::Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        };
        if flags & now != 0 {
            ts.tv_nsec = rustix::fs::UTIME_NOW;
        } else if flags & set != 0 {
            ts.tv_sec = (t / 1_000_000_000) as i64;
            ts.tv_nsec = (t % 1_000_000_000) as _;
        }
        ts
    };
    Ok(rustix::fs::Timestamps {
        last_access: spec(atim, FST_ATIM, FST_ATIM_NOW),
        last_modification: spec(mtim, FST_MTIM, FST_MTIM_NOW),
    })
}

fn fd_filestat_set_times(cx: &Cx, s: &[u64]) -> R {
    let ts = timestamps(s[1], s[2], a32(s, 3))?;
    let fds = cx.wasi.fds();
    match &writable(fds.get(a32(s, 0))?)?.handle {
        Handle::File(f) => Ok(rustix::fs::futimens(f, &ts)?),
        Handle::Dir { fd, .. } => Ok(rustix::fs::futimens(fd, &ts)?),
        _ => Err(Errno::BADF),
    }
}

/// Reads into the iovecs with `read(buf)` (one call per iovec) until a short read.
fn read_iovecs(
    cx: &Cx,
    iovs: &[(u32, u32)],
    mut read: impl FnMut(&mut [u8], u64) -> std::io::Result<usize>,
    stop_after_data: bool,
) -> R<u32> {
    let mut total: u64 = 0;
    for &(buf, len) in iovs {
        if len == 0 {
            continue;
        }
        let mut bytes = vec![0u8; len as usize];
        let n = read(&mut bytes, total)?;
        cx.write_bytes(buf, &bytes[..n])?;
        total += n as u64;
        if n < len as usize || (stop_after_data && n > 0) {
            break;
        }
    }
    Ok(total.min(u32::MAX as u64) as u32)
}

fn fd_read(cx: &Cx, s: &[u64]) -> R {
    let iovs = cx.iovecs(a32(s, 1), a32(s, 2))?;
    let mut fds = cx.wasi.fds();
    let n = match &mut fds.get_mut(a32(s, 0))?.handle {
        Handle::File(f) => read_iovecs(cx, &iovs, |b, _| f.read(b), false)?,
        Handle::Stdin(r, _) => {
            let mut r = r.lock().unwrap_or_else(|e| e.into_inner());
            // One read that returns data is enough: do not block for more.
            read_iovecs(cx, &iovs, |b, _| r.read(b), true)?
        }
        Handle::Dir { .. } => return Err(Errno::ISDIR),
        Handle::Writer(..) => return Err(Errno::BADF),
    };
    cx.write_u32(a32(s, 3), n)
}

fn fd_pread(cx: &Cx, s: &[u64]) -> R {
    let iovs = cx.iovecs(a32(s, 1), a32(s, 2))?;
    let offset = s[3];
    let fds = cx.wasi.fds();
    let n = match &fds.get(a32(s, 0))?.handle {
        Handle::File(f) => read_iovecs(cx, &iovs, |b, done| f.read_at(b, offset + done), false)?,
        Handle::Dir { .. } => return Err(Errno::ISDIR),
        Handle::Stdin(..) | Handle::Writer(..) => return Err(Errno::SPIPE),
    };
    cx.write_u32(a32(s, 4), n)
}

/// The bytes of all iovecs, concatenated.
fn gather(cx: &Cx, iovs: &[(u32, u32)]) -> R<Vec<u8>> {
    let mut data = Vec::new();
    for &(buf, len) in iovs {
        data.extend(cx.read_bytes(buf, len)?);
    }
    Ok(data)
}

fn fd_write(cx: &Cx, s: &[u64]) -> R {
    let iovs = cx.iovecs(a32(s, 1), a32(s, 2))?;
    let data = gather(cx, &iovs)?;
    let mut fds = cx.wasi.fds();
    match &mut fds.get_mut(a32(s, 0))?.handle {
        Handle::File(f) => f.write_all(&data)?,
        Handle::Writer(w, _) => {
            let mut w = w.lock().unwrap_or_else(|e| e.into_inner());
            w.write_all(&data)?;
            w.flush()?;
        }
        Handle::Dir { .. } => return Err(Errno::ISDIR),
        Handle::Stdin(..) => return Err(Errno::BADF),
    }
    drop(fds);
    cx.write_u32(a32(s, 3), data.len() as u32)
}

fn fd_pwrite(cx: &Cx, s: &[u64]) -> R {
    let iovs = cx.iovecs(a32(s, 1), a32(s, 2))?;
    let data = gather(cx, &iovs)?;
    let fds = cx.wasi.fds();
    match &fds.get(a32(s, 0))?.handle {
        Handle::File(f) => f.write_all_at(&data, s[3])?,
        Handle::Dir { .. } => return Err(Errno::ISDIR),
        Handle::Stdin(..) | Handle::Writer(..) => return Err(Errno::SPIPE),
    }
    drop(fds);
    cx.write_u32(a32(s, 4), data.len() as u32)
}

fn fd_prestat_get(cx: &Cx, s: &[u64]) -> R {
    let fds = cx.wasi.fds();
    let name = fds.get(a32(s, 0))?.preopen.as_ref().ok_or(Errno::BADF)?;
    let mut out = [0u8; 8];
    out[4..8].copy_from_slice(&(name.len() as u32).to_le_bytes());
    cx.write_bytes(a32(s, 1), &out)
}

fn fd_prestat_dir_name(cx: &Cx, s: &[u64]) -> R {
    let fds = cx.wasi.fds();
    let name = fds.get(a32(s, 0))?.preopen.as_ref().ok_or(Errno::BADF)?;
    if (a32(s, 2) as usize) < name.len() {
        return Err(Errno::NAMETOOLONG);
    }
    cx.write_bytes(a32(s, 1), name.as_bytes())
}

fn list_dir(fd: BorrowedFd<'_>) -> R<Vec<DirEntry>> {
    let mut dir = rustix::fs::Dir::read_from(fd)?;
    let mut out = Vec::new();
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes().to_vec();
        let mut filetype = filetype_of(entry.file_type());
        if entry.file_type() == FileType::Unknown
            && let Ok(st) = lstat_at(fd, &String::from_utf8_lossy(&name))
        {
            filetype = filetype_of(mode_type(&st));
        }
        out.push(DirEntry {
            ino: entry.ino(),
            filetype,
            name,
        });
    }
    Ok(out)
}

fn fd_readdir(cx: &Cx, s: &[u64]) -> R {
    let (buf, buf_len, cookie) = (a32(s, 1), a32(s, 2), s[3]);
    cx.check_range(buf, buf_len)?;
    let mut fds = cx.wasi.fds();
    let Handle::Dir { fd, listing } = &mut fds.get_mut(a32(s, 0))?.handle else {
        return Err(Errno::NOTDIR);
    };
    if cookie == 0 || listing.is_none() {
        *listing = Some(list_dir(fd.as_fd())?);
    }
    let entries = listing.as_ref().expect("listing was just filled");
    let mut out = Vec::new();
    for (i, e) in entries
        .iter()
        .enumerate()
        .skip(cookie.min(usize::MAX as u64) as usize)
    {
        if out.len() >= buf_len as usize {
            break;
        }
        out.extend_from_slice(&(i as u64 + 1).to_le_bytes());
        out.extend_from_slice(&e.ino.to_le_bytes());
        out.extend_from_slice(&(e.name.len() as u32).to_le_bytes());
        out.extend_from_slice(&[e.filetype, 0, 0, 0]);
        out.extend_from_slice(&e.name);
    }
    drop(fds);
    out.truncate(buf_len as usize);
    cx.write_bytes(buf, &out)?;
    cx.write_u32(a32(s, 4), out.len() as u32)
}

fn fd_renumber(cx: &Cx, s: &[u64]) -> R {
    let (from, to) = (a32(s, 0), a32(s, 1));
    let mut fds = cx.wasi.fds();
    fds.get(from)?;
    fds.get(to)?;
    if from != to {
        let entry = fds.entries.remove(&from).expect("checked above");
        fds.entries.insert(to, entry);
    }
    Ok(())
}

fn fd_seek(cx: &Cx, s: &[u64]) -> R {
    let offset = s[1] as i64;
    let pos = match a32(s, 2) {
        0 => SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::INVAL)?),
        1 => SeekFrom::Current(offset),
        2 => SeekFrom::End(offset),
        _ => return Err(Errno::INVAL),
    };
    let mut fds = cx.wasi.fds();
    let new = match &mut fds.get_mut(a32(s, 0))?.handle {
        Handle::File(f) => f.seek(pos)?,
        Handle::Dir { .. } => return Err(Errno::BADF),
        Handle::Stdin(..) | Handle::Writer(..) => return Err(Errno::SPIPE),
    };
    drop(fds);
    cx.write_u64(a32(s, 3), new)
}

fn fd_tell(cx: &Cx, s: &[u64]) -> R {
    let mut fds = cx.wasi.fds();
    let pos = match &mut fds.get_mut(a32(s, 0))?.handle {
        Handle::File(f) => f.stream_position()?,
        Handle::Dir { .. } => return Err(Errno::BADF),
        Handle::Stdin(..) | Handle::Writer(..) => return Err(Errno::SPIPE),
    };
    drop(fds);
    cx.write_u64(a32(s, 1), pos)
}

// ---------------------------------------------------------------------------------------
// paths

/// Resolves the guest path at `(ptr, len)` relative to directory descriptor `fd`.
fn resolve_at(cx: &Cx, fds: &FdTable, fd: u32, ptr: u32, len: u32, follow: bool) -> R<Resolved> {
    let dir = dir_of(fds.get(fd)?)?;
    let path = cx.read_path(ptr, len)?;
    resolve(dir, &path, follow)
}

/// [`resolve_at`] for an operation that changes the tree: `EPERM` under a read-only
/// preopen, before the path is even looked at.
fn resolve_to_change(
    cx: &Cx,
    fds: &FdTable,
    fd: u32,
    ptr: u32,
    len: u32,
    follow: bool,
) -> R<Resolved> {
    writable(fds.get(fd)?)?;
    resolve_at(cx, fds, fd, ptr, len, follow)
}

fn path_create_directory(cx: &Cx, s: &[u64]) -> R {
    let r = resolve_to_change(cx, &cx.wasi.fds(), a32(s, 0), a32(s, 1), a32(s, 2), false)?;
    Ok(rustix::fs::mkdirat(
        &r.dir,
        r.name.as_str(),
        Mode::from_raw_mode(0o777),
    )?)
}

fn path_filestat_get(cx: &Cx, s: &[u64]) -> R {
    let follow = a32(s, 1) & LOOKUP_SYMLINK_FOLLOW != 0;
    let r = resolve_at(cx, &cx.wasi.fds(), a32(s, 0), a32(s, 2), a32(s, 3), follow)?;
    let st = lstat_at(r.dir.as_fd(), &r.name)?;
    cx.write_bytes(a32(s, 4), &filestat_bytes(&st))
}

fn path_filestat_set_times(cx: &Cx, s: &[u64]) -> R {
    let follow = a32(s, 1) & LOOKUP_SYMLINK_FOLLOW != 0;
    let ts = timestamps(s[4], s[5], a32(s, 6))?;
    let r = resolve_to_change(cx, &cx.wasi.fds(), a32(s, 0), a32(s, 2), a32(s, 3), follow)?;
    Ok(rustix::fs::utimensat(
        &r.dir,
        r.name.as_str(),
        &ts,
        AtFlags::SYMLINK_NOFOLLOW,
    )?)
}

fn path_link(cx: &Cx, s: &[u64]) -> R {
    let follow = a32(s, 1) & LOOKUP_SYMLINK_FOLLOW != 0;
    let fds = cx.wasi.fds();
    let old = resolve_to_change(cx, &fds, a32(s, 0), a32(s, 2), a32(s, 3), follow)?;
    let new = resolve_to_change(cx, &fds, a32(s, 4), a32(s, 5), a32(s, 6), false)?;
    Ok(rustix::fs::linkat(
        &old.dir,
        old.name.as_str(),
        &new.dir,
        new.name.as_str(),
        AtFlags::empty(),
    )?)
}

fn path_open(cx: &Cx, s: &[u64]) -> R {
    let (dirfd, lookup, path, path_len) = (a32(s, 0), a32(s, 1), a32(s, 2), a32(s, 3));
    let (oflags, base, inheriting, fdflags) = (a32(s, 4), s[5], s[6], a32(s, 7) as u16);
    let mut fds = cx.wasi.fds();
    let parent = fds.get(dirfd)?;
    let read_only = parent.read_only;
    // Under a read-only preopen, asking to write or create is refused outright (as
    // wasmtime does) rather than narrowed into a read-only open that fails later.
    let wants_change = base & WRITE_RIGHTS != 0
        || fdflags & FDFLAG_APPEND != 0
        || oflags & (O_CREAT | O_TRUNC) != 0;
    if read_only && wants_change {
        return Err(Errno::PERM);
    }
    // Rights of the new descriptor can only narrow what the directory hands down.
    let (base, inheriting) = (
        base & parent.rights_inheriting,
        inheriting & parent.rights_inheriting,
    );
    let r = resolve_at(
        cx,
        &fds,
        dirfd,
        path,
        path_len,
        lookup & LOOKUP_SYMLINK_FOLLOW != 0,
    )?;

    let read = base & (rights::FD_READ | rights::FD_READDIR) != 0;
    let write = base & WRITE_RIGHTS != 0 || fdflags & FDFLAG_APPEND != 0 || oflags & O_TRUNC != 0;
    let mut flags = OFlags::CLOEXEC | OFlags::NOFOLLOW;
    if oflags & O_DIRECTORY != 0 {
        flags |= OFlags::DIRECTORY | OFlags::RDONLY;
        if write || oflags & (O_CREAT | O_TRUNC) != 0 {
            return Err(Errno::INVAL);
        }
    } else {
        flags |= match (read, write) {
            (_, false) => OFlags::RDONLY,
            (false, true) => OFlags::WRONLY,
            (true, true) => OFlags::RDWR,
        };
    }
    if oflags & O_CREAT != 0 {
        flags |= OFlags::CREATE;
    }
    if oflags & O_EXCL != 0 {
        flags |= OFlags::EXCL;
    }
    if oflags & O_TRUNC != 0 {
        flags |= OFlags::TRUNC;
    }
    if fdflags & FDFLAG_APPEND != 0 {
        flags |= OFlags::APPEND;
    }
    if fdflags & FDFLAG_NONBLOCK != 0 {
        flags |= OFlags::NONBLOCK;
    }
    if fdflags & FDFLAG_DSYNC != 0 {
        flags |= OFlags::DSYNC;
    }
    if fdflags & (FDFLAG_SYNC | FDFLAG_RSYNC) != 0 {
        flags |= OFlags::SYNC;
    }
    let opened: OwnedFd =
        match rustix::fs::openat(&r.dir, r.name.as_str(), flags, Mode::from_raw_mode(0o666)) {
            Ok(fd) => fd,
            // `O_NOFOLLOW` on a symlink: the guest asked not to follow it.
            Err(e) if e == rustix::io::Errno::LOOP && lookup & LOOKUP_SYMLINK_FOLLOW == 0 => {
                return Err(Errno::LOOP);
            }
            Err(e) => return Err(e.into()),
        };
    let st = rustix::fs::fstat(&opened)?;
    let is_dir = mode_type(&st) == FileType::Directory;
    let entry = if is_dir {
        FdEntry {
            handle: Handle::Dir {
                fd: opened,
                listing: None,
            },
            rights_base: base & rights::DIR,
            rights_inheriting: inheriting,
            fdflags,
            preopen: None,
            read_only,
        }
    } else {
        FdEntry {
            handle: Handle::File(std::fs::File::from(opened)),
            rights_base: base & rights::FILE,
            rights_inheriting: inheriting,
            fdflags,
            preopen: None,
            read_only,
        }
    };
    let new_fd = fds.insert(entry)?;
    drop(fds);
    cx.write_u32(a32(s, 8), new_fd)
}

fn path_readlink(cx: &Cx, s: &[u64]) -> R {
    let (buf, buf_len) = (a32(s, 3), a32(s, 4));
    let r = resolve_at(cx, &cx.wasi.fds(), a32(s, 0), a32(s, 1), a32(s, 2), false)?;
    let target = rustix::fs::readlinkat(&r.dir, r.name.as_str(), Vec::new())?;
    let bytes = target.as_bytes();
    let n = bytes.len().min(buf_len as usize);
    cx.write_bytes(buf, &bytes[..n])?;
    cx.write_u32(a32(s, 5), n as u32)
}

fn path_remove_directory(cx: &Cx, s: &[u64]) -> R {
    let r = resolve_to_change(cx, &cx.wasi.fds(), a32(s, 0), a32(s, 1), a32(s, 2), false)?;
    Ok(rustix::fs::unlinkat(
        &r.dir,
        r.name.as_str(),
        AtFlags::REMOVEDIR,
    )?)
}

fn path_rename(cx: &Cx, s: &[u64]) -> R {
    let fds = cx.wasi.fds();
    let old = resolve_to_change(cx, &fds, a32(s, 0), a32(s, 1), a32(s, 2), false)?;
    let new = resolve_to_change(cx, &fds, a32(s, 3), a32(s, 4), a32(s, 5), false)?;
    Ok(rustix::fs::renameat(
        &old.dir,
        old.name.as_str(),
        &new.dir,
        new.name.as_str(),
    )?)
}

fn path_symlink(cx: &Cx, s: &[u64]) -> R {
    let target = cx.read_path(a32(s, 0), a32(s, 1))?;
    if target.contains('\0') {
        return Err(Errno::ILSEQ);
    }
    let r = resolve_to_change(cx, &cx.wasi.fds(), a32(s, 2), a32(s, 3), a32(s, 4), false)?;
    Ok(rustix::fs::symlinkat(
        target.as_str(),
        &r.dir,
        r.name.as_str(),
    )?)
}

fn path_unlink_file(cx: &Cx, s: &[u64]) -> R {
    let r = resolve_to_change(cx, &cx.wasi.fds(), a32(s, 0), a32(s, 1), a32(s, 2), false)?;
    Ok(rustix::fs::unlinkat(
        &r.dir,
        r.name.as_str(),
        AtFlags::empty(),
    )?)
}

// ---------------------------------------------------------------------------------------
// poll_oneoff

struct Event {
    userdata: u64,
    error: Errno,
    kind: u8,
    nbytes: u64,
}

impl Event {
    fn bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out[0..8].copy_from_slice(&self.userdata.to_le_bytes());
        out[8..10].copy_from_slice(&self.error.raw().to_le_bytes());
        out[10] = self.kind;
        out[16..24].copy_from_slice(&self.nbytes.to_le_bytes());
        out
    }
}

/// Waits for clocks (by sleeping through the configured sleep hook) and descriptors
/// (which are always ready: files, stdio streams and directories never block here; a
/// read from a stdin that has no data yet then blocks in `fd_read`).
fn poll_oneoff(cx: &Cx, s: &[u64]) -> R {
    let (input, output, count, nevents) = (a32(s, 0), a32(s, 1), a32(s, 2), a32(s, 3));
    if count == 0 {
        return Err(Errno::INVAL);
    }
    let subs = cx.read_bytes(input, count.checked_mul(48).ok_or(Errno::FAULT)?)?;
    cx.check_range(output, count.checked_mul(32).ok_or(Errno::FAULT)?)?;
    let mut ready = Vec::new();
    // (userdata, relative timeout in ns) of each valid clock subscription.
    let mut clocks: Vec<(u64, u64)> = Vec::new();
    for sub in subs.chunks_exact(48) {
        let u64_at = |o: usize| u64::from_le_bytes(sub[o..o + 8].try_into().expect("8 bytes"));
        let u32_at = |o: usize| u32::from_le_bytes(sub[o..o + 4].try_into().expect("4 bytes"));
        let userdata = u64_at(0);
        let kind = sub[8];
        let event = |error, nbytes| Event {
            userdata,
            error,
            kind,
            nbytes,
        };
        match kind {
            EVENT_CLOCK => {
                let (id, timeout) = (u32_at(16), u64_at(24));
                let flags = u16::from_le_bytes([sub[40], sub[41]]);
                match now(&cx.wasi, id) {
                    Err(e) => ready.push(event(e, 0)),
                    Ok(t) => {
                        let rel = if flags & SUBCLOCK_ABSTIME != 0 {
                            timeout.saturating_sub(t)
                        } else {
                            timeout
                        };
                        clocks.push((userdata, rel));
                    }
                }
            }
            EVENT_FD_READ | EVENT_FD_WRITE => {
                let fds = cx.wasi.fds();
                match fds.get(u32_at(16)) {
                    Err(e) => ready.push(event(e, 0)),
                    Ok(entry) => {
                        let nbytes = match (&entry.handle, kind) {
                            (Handle::File(f), EVENT_FD_READ) => {
                                let mut f = f;
                                let size = f.metadata().map(|m| m.len()).unwrap_or(0);
                                let pos = f.stream_position().unwrap_or(size);
                                size.saturating_sub(pos)
                            }
                            _ => 0,
                        };
                        ready.push(event(Errno::SUCCESS, nbytes));
                    }
                }
            }
            _ => ready.push(event(Errno::INVAL, 0)),
        }
    }
    if ready.is_empty() {
        let min = clocks.iter().map(|c| c.1).min().unwrap_or(0);
        if min > 0 {
            (cx.wasi.nanosleep)(min);
        }
        for &(userdata, timeout) in &clocks {
            if timeout <= min {
                ready.push(Event {
                    userdata,
                    error: Errno::SUCCESS,
                    kind: EVENT_CLOCK,
                    nbytes: 0,
                });
            }
        }
    } else {
        // Clocks that have already expired fire along with the ready descriptors.
        for &(userdata, timeout) in &clocks {
            if timeout == 0 {
                ready.push(Event {
                    userdata,
                    error: Errno::SUCCESS,
                    kind: EVENT_CLOCK,
                    nbytes: 0,
                });
            }
        }
    }
    let mut out = Vec::with_capacity(ready.len() * 32);
    for e in &ready {
        out.extend_from_slice(&e.bytes());
    }
    cx.write_bytes(output, &out)?;
    cx.write_u32(nevents, ready.len() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_numbers_reuse_the_lowest_free_slot() {
        let mut t = FdTable::default();
        let entry = || FdEntry {
            handle: Handle::Stdin(
                super::super::shared_reader(std::io::empty()),
                super::super::StreamKind::default(),
            ),
            rights_base: 0,
            rights_inheriting: 0,
            fdflags: 0,
            preopen: None,
            read_only: false,
        };
        assert_eq!(t.insert(entry()), Ok(3));
        assert_eq!(t.insert(entry()), Ok(4));
        assert_eq!(t.insert(entry()), Ok(5));
        t.entries.remove(&4);
        assert_eq!(t.insert(entry()), Ok(4));
        assert_eq!(t.insert(entry()), Ok(6));
    }

    #[test]
    fn set_times_flags_are_checked() {
        assert_eq!(
            timestamps(0, 0, FST_ATIM | FST_ATIM_NOW).unwrap_err(),
            Errno::INVAL
        );
        let ts = timestamps(1_500_000_000, 0, FST_ATIM | FST_MTIM_NOW).unwrap();
        assert_eq!(ts.last_access.tv_sec, 1);
        assert_eq!(ts.last_access.tv_nsec, 500_000_000);
        assert_eq!(ts.last_modification.tv_nsec, rustix::fs::UTIME_NOW);
    }
}
