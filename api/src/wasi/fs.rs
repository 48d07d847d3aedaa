//! Sandboxed path resolution: every guest path is walked one component at a time from a
//! directory descriptor with `openat(O_NOFOLLOW)`, so nothing the guest names can reach
//! outside the directory it starts from.
//!
//! * Absolute paths are refused (`ENOTCAPABLE`); wasi-libc turns `/x` into a path
//!   relative to the matching preopen before it gets here.
//! * `..` pops the stack of directories opened so far; above the starting directory it
//!   is refused (`ENOTCAPABLE`). The host's `..` is never opened.
//! * Symbolic links are read with `readlinkat` and their target spliced into the
//!   remaining path, so they obey the same rules: a relative target that stays inside
//!   works, an absolute one or one that climbs out is refused. At most [`MAX_SYMLINKS`]
//!   are expanded (`ELOOP`).
//! * Whatever a race does to the tree between our checks, every open uses `O_NOFOLLOW`
//!   relative to a directory we already hold, so a swapped-in symlink fails with `ELOOP`
//!   instead of escaping.

use super::Errno;
use rustix::fs::{AtFlags, Mode, OFlags};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// How many symbolic links one resolution may expand.
pub(crate) const MAX_SYMLINKS: usize = 40;

/// Flags for opening a directory during the walk.
fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Opens `name` in `dir` as a directory without following a final symlink.
pub(crate) fn open_dir_at(dir: BorrowedFd<'_>, name: &str) -> Result<OwnedFd, Errno> {
    Ok(rustix::fs::openat(dir, name, dir_flags(), Mode::empty())?)
}

/// The directory that contains the final component, and that component's name (`.` when
/// the path names the directory itself).
pub(crate) struct Resolved {
    pub dir: OwnedFd,
    pub name: String,
}

/// Resolves `path` relative to `base` inside the sandbox rooted at `base`. With
/// `follow_last`, a final symlink is followed as well (still inside the sandbox).
pub(crate) fn resolve(
    base: BorrowedFd<'_>,
    path: &str,
    follow_last: bool,
) -> Result<Resolved, Errno> {
    if path.is_empty() {
        return Err(Errno::NOENT);
    }
    if path.contains('\0') {
        return Err(Errno::ILSEQ);
    }
    if path.starts_with('/') {
        return Err(Errno::NOTCAPABLE);
    }
    // A trailing slash requires a directory, which means following a final symlink.
    let follow_last = follow_last || path.ends_with('/');
    // Components still to walk, last one first (so `pop` gives the next).
    let mut pending: Vec<String> = Vec::new();
    push_components(&mut pending, path);
    if pending.is_empty() {
        pending.push(".".into());
    }
    let mut stack: Vec<OwnedFd> = vec![open_dir_at(base, ".")?];
    let mut links = 0;
    while let Some(comp) = pending.pop() {
        let last = pending.is_empty();
        match comp.as_str() {
            "." => {
                if last {
                    return finish(stack, ".".into());
                }
                continue;
            }
            ".." => {
                if stack.len() == 1 {
                    return Err(Errno::NOTCAPABLE);
                }
                stack.pop();
                if last {
                    return finish(stack, ".".into());
                }
                continue;
            }
            _ => {}
        }
        let top = stack.last().expect("the stack keeps its root").as_fd();
        if last && !follow_last {
            return finish(stack, comp);
        }
        match rustix::fs::readlinkat(top, comp.as_str(), Vec::new()) {
            Ok(target) => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::LOOP);
                }
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    return Err(Errno::NOTCAPABLE);
                }
                if target.is_empty() {
                    return Err(Errno::NOENT);
                }
                push_components(&mut pending, &target);
                if pending.is_empty() {
                    // A link to "/" or "." style names: the current directory.
                    pending.push(".".into());
                }
                continue;
            }
            // Not a symlink (EINVAL), or it does not exist yet: fine for the last
            // component (the operation decides), an error for a directory on the way.
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOENT => {
                if last {
                    return finish(stack, comp);
                }
                if e == rustix::io::Errno::NOENT {
                    return Err(Errno::NOENT);
                }
            }
            Err(e) => return Err(e.into()),
        }
        let next = open_dir_at(top, &comp)?;
        stack.push(next);
    }
    unreachable!("the loop returns at the last component")
}

fn finish(mut stack: Vec<OwnedFd>, name: String) -> Result<Resolved, Errno> {
    let dir = stack.pop().expect("the stack keeps its root");
    Ok(Resolved { dir, name })
}

/// Pushes the non-empty components of `path` so that the first one is popped first.
fn push_components(pending: &mut Vec<String>, path: &str) {
    pending.extend(
        path.split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(str::to_string),
    );
}

/// `statat` without following a final symlink.
pub(crate) fn lstat_at(dir: BorrowedFd<'_>, name: &str) -> Result<rustix::fs::Stat, Errno> {
    Ok(rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (std::path::PathBuf, OwnedFd) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("kiln-wasi-fs-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("sandbox/sub/deeper")).unwrap();
        std::fs::write(root.join("secret"), b"secret").unwrap();
        std::fs::write(root.join("sandbox/sub/file"), b"file").unwrap();
        symlink("../secret", root.join("sandbox/up")).unwrap();
        symlink("/etc/passwd", root.join("sandbox/abs")).unwrap();
        symlink("sub/file", root.join("sandbox/inside")).unwrap();
        symlink("sub", root.join("sandbox/subdir")).unwrap();
        symlink("loop", root.join("sandbox/loop")).unwrap();
        let fd = rustix::fs::open(root.join("sandbox"), dir_flags(), Mode::empty()).unwrap();
        (root, fd)
    }

    fn name_of(base: &OwnedFd, path: &str, follow: bool) -> Result<String, Errno> {
        resolve(base.as_fd(), path, follow).map(|r| r.name)
    }

    #[test]
    fn stays_inside() {
        let (root, fd) = tree();
        assert_eq!(name_of(&fd, "sub/file", true).unwrap(), "file");
        assert_eq!(name_of(&fd, "sub/deeper/../file", true).unwrap(), "file");
        assert_eq!(name_of(&fd, "./sub/./file", false).unwrap(), "file");
        assert_eq!(name_of(&fd, "inside", true).unwrap(), "file");
        assert_eq!(name_of(&fd, "inside", false).unwrap(), "inside");
        assert_eq!(name_of(&fd, "subdir/file", false).unwrap(), "file");
        assert_eq!(name_of(&fd, "sub/..", false).unwrap(), ".");
        assert_eq!(name_of(&fd, ".", false).unwrap(), ".");
        assert_eq!(name_of(&fd, "new-file", true).unwrap(), "new-file");
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn escapes_are_refused() {
        let (root, fd) = tree();
        assert_eq!(name_of(&fd, "..", false), Err(Errno::NOTCAPABLE));
        assert_eq!(name_of(&fd, "../secret", false), Err(Errno::NOTCAPABLE));
        assert_eq!(
            name_of(&fd, "sub/../../secret", false),
            Err(Errno::NOTCAPABLE)
        );
        assert_eq!(name_of(&fd, "/etc/passwd", false), Err(Errno::NOTCAPABLE));
        assert_eq!(name_of(&fd, "up", true), Err(Errno::NOTCAPABLE));
        assert_eq!(name_of(&fd, "abs", true), Err(Errno::NOTCAPABLE));
        assert_eq!(name_of(&fd, "abs/x", false), Err(Errno::NOTCAPABLE));
        assert_eq!(name_of(&fd, "loop", true), Err(Errno::LOOP));
        assert_eq!(name_of(&fd, "missing/x", false), Err(Errno::NOENT));
        assert_eq!(name_of(&fd, "sub/file/x", false), Err(Errno::NOTDIR));
        // Without following, the link itself is named (and opening it uses O_NOFOLLOW).
        assert_eq!(name_of(&fd, "up", false).unwrap(), "up");
        std::fs::remove_dir_all(root).unwrap();
    }
}
