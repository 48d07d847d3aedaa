//! WASI error numbers and their mapping from host errors.

use std::fmt;

/// A WASI preview 1 `errno` value (`0` is success).
///
/// ```
/// assert_eq!(kiln::wasi::Errno::NOENT.raw(), 44);
/// assert_eq!(kiln::wasi::Errno::NOTCAPABLE.name(), "ENOTCAPABLE");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(u16);

macro_rules! errnos {
    ($($name:ident = $v:literal, $text:literal;)*) => {
        impl Errno {
            $(
                #[doc = concat!("`E", stringify!($name), "`: ", $text, ".")]
                pub const $name: Errno = Errno($v);
            )*

            /// The symbolic name, such as `ENOENT` (`ESUCCESS` for 0).
            pub fn name(self) -> &'static str {
                match self.0 {
                    $($v => concat!("E", stringify!($name)),)*
                    _ => "E?",
                }
            }
        }
    };
}

errnos! {
    SUCCESS = 0, "no error";
    TOOBIG = 1, "argument list too long";
    ACCES = 2, "permission denied";
    ADDRINUSE = 3, "address in use";
    ADDRNOTAVAIL = 4, "address not available";
    AFNOSUPPORT = 5, "address family not supported";
    AGAIN = 6, "resource unavailable, try again";
    ALREADY = 7, "connection already in progress";
    BADF = 8, "bad file descriptor";
    BADMSG = 9, "bad message";
    BUSY = 10, "device or resource busy";
    CANCELED = 11, "operation canceled";
    CHILD = 12, "no child processes";
    CONNABORTED = 13, "connection aborted";
    CONNREFUSED = 14, "connection refused";
    CONNRESET = 15, "connection reset";
    DEADLK = 16, "resource deadlock would occur";
    DESTADDRREQ = 17, "destination address required";
    DOM = 18, "mathematics argument out of domain";
    DQUOT = 19, "reserved";
    EXIST = 20, "file exists";
    FAULT = 21, "bad address";
    FBIG = 22, "file too large";
    HOSTUNREACH = 23, "host is unreachable";
    IDRM = 24, "identifier removed";
    ILSEQ = 25, "illegal byte sequence";
    INPROGRESS = 26, "operation in progress";
    INTR = 27, "interrupted function";
    INVAL = 28, "invalid argument";
    IO = 29, "I/O error";
    ISCONN = 30, "socket is connected";
    ISDIR = 31, "is a directory";
    LOOP = 32, "too many levels of symbolic links";
    MFILE = 33, "file descriptor value too large";
    MLINK = 34, "too many links";
    MSGSIZE = 35, "message too large";
    MULTIHOP = 36, "reserved";
    NAMETOOLONG = 37, "filename too long";
    NETDOWN = 38, "network is down";
    NETRESET = 39, "connection aborted by network";
    NETUNREACH = 40, "network unreachable";
    NFILE = 41, "too many files open in system";
    NOBUFS = 42, "no buffer space available";
    NODEV = 43, "no such device";
    NOENT = 44, "no such file or directory";
    NOEXEC = 45, "executable file format error";
    NOLCK = 46, "no locks available";
    NOLINK = 47, "reserved";
    NOMEM = 48, "not enough space";
    NOMSG = 49, "no message of the desired type";
    NOPROTOOPT = 50, "protocol not available";
    NOSPC = 51, "no space left on device";
    NOSYS = 52, "function not supported";
    NOTCONN = 53, "the socket is not connected";
    NOTDIR = 54, "not a directory or a symbolic link to a directory";
    NOTEMPTY = 55, "directory not empty";
    NOTRECOVERABLE = 56, "state not recoverable";
    NOTSOCK = 57, "not a socket";
    NOTSUP = 58, "not supported";
    NOTTY = 59, "inappropriate I/O control operation";
    NXIO = 60, "no such device or address";
    OVERFLOW = 61, "value too large to be stored in data type";
    OWNERDEAD = 62, "previous owner died";
    PERM = 63, "operation not permitted";
    PIPE = 64, "broken pipe";
    PROTO = 65, "protocol error";
    PROTONOSUPPORT = 66, "protocol not supported";
    PROTOTYPE = 67, "protocol wrong type for socket";
    RANGE = 68, "result too large";
    ROFS = 69, "read-only file system";
    SPIPE = 70, "invalid seek";
    SRCH = 71, "no such process";
    STALE = 72, "reserved";
    TIMEDOUT = 73, "connection timed out";
    TXTBSY = 74, "text file busy";
    XDEV = 75, "cross-device link";
    NOTCAPABLE = 76, "capabilities insufficient (e.g. a path escaping its preopen)";
}

impl Errno {
    /// The number the guest sees.
    pub fn raw(self) -> u16 {
        self.0
    }

    /// Maps a host error number. Unknown numbers become `EIO`.
    pub(crate) fn from_host(e: rustix::io::Errno) -> Errno {
        use rustix::io::Errno as H;
        const TABLE: &[(H, Errno)] = &[
            (H::TOOBIG, Errno::TOOBIG),
            (H::ACCESS, Errno::ACCES),
            (H::ADDRINUSE, Errno::ADDRINUSE),
            (H::ADDRNOTAVAIL, Errno::ADDRNOTAVAIL),
            (H::AFNOSUPPORT, Errno::AFNOSUPPORT),
            (H::AGAIN, Errno::AGAIN),
            (H::ALREADY, Errno::ALREADY),
            (H::BADF, Errno::BADF),
            (H::BADMSG, Errno::BADMSG),
            (H::BUSY, Errno::BUSY),
            (H::CANCELED, Errno::CANCELED),
            (H::CHILD, Errno::CHILD),
            (H::CONNABORTED, Errno::CONNABORTED),
            (H::CONNREFUSED, Errno::CONNREFUSED),
            (H::CONNRESET, Errno::CONNRESET),
            (H::DEADLK, Errno::DEADLK),
            (H::DESTADDRREQ, Errno::DESTADDRREQ),
            (H::DOM, Errno::DOM),
            (H::DQUOT, Errno::DQUOT),
            (H::EXIST, Errno::EXIST),
            (H::FAULT, Errno::FAULT),
            (H::FBIG, Errno::FBIG),
            (H::HOSTUNREACH, Errno::HOSTUNREACH),
            (H::IDRM, Errno::IDRM),
            (H::ILSEQ, Errno::ILSEQ),
            (H::INPROGRESS, Errno::INPROGRESS),
            (H::INTR, Errno::INTR),
            (H::INVAL, Errno::INVAL),
            (H::IO, Errno::IO),
            (H::ISCONN, Errno::ISCONN),
            (H::ISDIR, Errno::ISDIR),
            (H::LOOP, Errno::LOOP),
            (H::MFILE, Errno::MFILE),
            (H::MLINK, Errno::MLINK),
            (H::MSGSIZE, Errno::MSGSIZE),
            (H::MULTIHOP, Errno::MULTIHOP),
            (H::NAMETOOLONG, Errno::NAMETOOLONG),
            (H::NETDOWN, Errno::NETDOWN),
            (H::NETRESET, Errno::NETRESET),
            (H::NETUNREACH, Errno::NETUNREACH),
            (H::NFILE, Errno::NFILE),
            (H::NOBUFS, Errno::NOBUFS),
            (H::NODEV, Errno::NODEV),
            (H::NOENT, Errno::NOENT),
            (H::NOEXEC, Errno::NOEXEC),
            (H::NOLCK, Errno::NOLCK),
            (H::NOLINK, Errno::NOLINK),
            (H::NOMEM, Errno::NOMEM),
            (H::NOMSG, Errno::NOMSG),
            (H::NOPROTOOPT, Errno::NOPROTOOPT),
            (H::NOSPC, Errno::NOSPC),
            (H::NOSYS, Errno::NOSYS),
            (H::NOTCONN, Errno::NOTCONN),
            (H::NOTDIR, Errno::NOTDIR),
            (H::NOTEMPTY, Errno::NOTEMPTY),
            (H::NOTRECOVERABLE, Errno::NOTRECOVERABLE),
            (H::NOTSOCK, Errno::NOTSOCK),
            (H::NOTSUP, Errno::NOTSUP),
            (H::OPNOTSUPP, Errno::NOTSUP),
            (H::NOTTY, Errno::NOTTY),
            (H::NXIO, Errno::NXIO),
            (H::OVERFLOW, Errno::OVERFLOW),
            (H::OWNERDEAD, Errno::OWNERDEAD),
            (H::PERM, Errno::PERM),
            (H::PIPE, Errno::PIPE),
            (H::PROTO, Errno::PROTO),
            (H::PROTONOSUPPORT, Errno::PROTONOSUPPORT),
            (H::PROTOTYPE, Errno::PROTOTYPE),
            (H::RANGE, Errno::RANGE),
            (H::ROFS, Errno::ROFS),
            (H::SPIPE, Errno::SPIPE),
            (H::SRCH, Errno::SRCH),
            (H::STALE, Errno::STALE),
            (H::TIMEDOUT, Errno::TIMEDOUT),
            (H::TXTBSY, Errno::TXTBSY),
            (H::XDEV, Errno::XDEV),
        ];
        TABLE
            .iter()
            .find(|(h, _)| *h == e)
            .map_or(Errno::IO, |&(_, w)| w)
    }

    /// Maps a `std::io::Error` (by OS error number, else by kind).
    pub(crate) fn from_io(e: &std::io::Error) -> Errno {
        use std::io::ErrorKind as K;
        if e.raw_os_error().is_some() {
            return Errno::from_host(
                rustix::io::Errno::from_io_error(e).unwrap_or(rustix::io::Errno::IO),
            );
        }
        match e.kind() {
            K::NotFound => Errno::NOENT,
            K::PermissionDenied => Errno::ACCES,
            K::AlreadyExists => Errno::EXIST,
            K::WouldBlock => Errno::AGAIN,
            K::InvalidInput => Errno::INVAL,
            K::InvalidData => Errno::ILSEQ,
            K::BrokenPipe => Errno::PIPE,
            K::Interrupted => Errno::INTR,
            K::Unsupported => Errno::NOTSUP,
            K::OutOfMemory => Errno::NOMEM,
            K::UnexpectedEof => Errno::IO,
            _ => Errno::IO,
        }
    }
}

impl From<rustix::io::Errno> for Errno {
    fn from(e: rustix::io::Errno) -> Errno {
        Errno::from_host(e)
    }
}

impl From<std::io::Error> for Errno {
    fn from(e: std::io::Error) -> Errno {
        Errno::from_io(&e)
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
