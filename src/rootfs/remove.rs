//! Removing an extracted tree as its undo: without following symlinks, and without
//! entering a mount point (a bind mount left inside a root is someone else's data).

use crate::ops::OpError;
use nix::errno::Errno;
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, StatxFlags};
use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn rerr(e: rustix::io::Errno) -> Errno {
    Errno::from_raw(e.raw_os_error())
}

fn mount_id(fd: &OwnedFd) -> Result<u64, Errno> {
    rfs::statx(fd, "", AtFlags::EMPTY_PATH, StatxFlags::MNT_ID)
        .map(|s| s.stx_mnt_id)
        .map_err(rerr)
}

/// rmdir `path` without following a symlink anywhere on the way: its parent is opened
/// through none (a directory of an untrusted root swapped for a symlink fails with ELOOP
/// instead of sending the rmdir to an empty directory elsewhere), then the name removed
/// from that fd.
pub fn remove_empty_dir(path: &Path) -> Result<(), Errno> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().ok_or(Errno::EINVAL)?;
    let dirfd = rfs::openat2(
        rfs::CWD,
        if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        },
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        rfs::ResolveFlags::NO_SYMLINKS | rfs::ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(rerr)?;
    rfs::unlinkat(&dirfd, name, AtFlags::REMOVEDIR).map_err(rerr)
}

/// Empties `dir` and, unless `keep_dir`, removes it. Returns false when it was gone.
/// `dir` is opened through no symlink at all (nsr records it with its parents
/// resolved): a directory on its path that a process of the sandbox swapped for a
/// symlink fails the open, instead of sending the removal to a tree outside the root.
pub fn remove_tree(dir: &Path, keep_dir: bool) -> Result<bool, OpError> {
    let fd = match rfs::openat2(
        rfs::CWD,
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        rfs::ResolveFlags::NO_SYMLINKS | rfs::ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(false),
        Err(e) => {
            return Err(OpError::os(
                rerr(e),
                format!(
                    "cannot open {} (nsr removes a tree only through no symlink)",
                    dir.display()
                ),
            ))
        }
    };
    let mnt =
        mount_id(&fd).map_err(|e| OpError::os(e, format!("cannot inspect {}", dir.display())))?;
    empty(&fd, mnt, dir)?;
    if !keep_dir {
        remove_empty_dir(dir)
            .map_err(|e| OpError::os(e, format!("cannot remove {}", dir.display())))?;
    }
    Ok(true)
}

/// The names in a directory, without `.` and `..`.
pub fn names(dir: &OwnedFd) -> Result<Vec<OsString>, OpError> {
    let reader =
        rfs::Dir::read_from(dir).map_err(|e| OpError::os(rerr(e), "cannot read a directory"))?;
    Ok(reader
        .filter_map(|e| e.ok())
        .map(|e| OsString::from(std::ffi::OsStr::from_bytes(e.file_name().to_bytes())))
        .filter(|n| n != "." && n != "..")
        .collect())
}

/// Removes `name` in `dir` (a whole tree if it is a directory), not crossing mounts.
pub fn remove_at(dir: &OwnedFd, name: &std::ffi::OsStr, shown: &Path) -> Result<(), OpError> {
    let mnt = mount_id(dir).map_err(|e| OpError::os(e, "cannot inspect a directory"))?;
    remove_entry(dir, mnt, shown, name)
}

fn empty(dir: &OwnedFd, mnt: u64, shown: &Path) -> Result<(), OpError> {
    // A read-only directory from the archive must become writable to be emptied.
    let _ = rfs::fchmod(dir, Mode::from_raw_mode(0o700));
    let names = names(dir).map_err(|e| OpError {
        message: format!("cannot read {}", shown.display()),
        ..e
    })?;
    // Like rm -rf, go on past what cannot be removed (a mount point, above all), so
    // that only it and its parents are left; report the first failure.
    let mut first = None;
    for name in names {
        if let Err(e) = remove_entry(dir, mnt, shown, &name) {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

/// Removes one entry of `dir` on mount `mnt` (a whole directory tree), not crossing
/// into another mount; one already gone is no error.
fn remove_entry(
    dir: &OwnedFd,
    mnt: u64,
    shown: &Path,
    name: &std::ffi::OsStr,
) -> Result<(), OpError> {
    let fail =
        |e: Errno, what: &str| OpError::os(e, format!("{what} {}", shown.join(name).display()));
    let st = match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(fail(rerr(e), "cannot inspect")),
    };
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        let sub = rfs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| fail(rerr(e), "cannot open"))?;
        if mount_id(&sub).map_err(|e| fail(e, "cannot inspect"))? != mnt {
            return Err(
                fail(Errno::EBUSY, "a mount point is in the way at").with_hint(
                    "something is still mounted inside the tree: unmount it, then remove the tree",
                ),
            );
        }
        empty(&sub, mnt, &shown.join(name))?;
        rfs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(|e| fail(rerr(e), "cannot remove"))
    } else {
        rfs::unlinkat(dir, name, AtFlags::empty()).map_err(|e| fail(rerr(e), "cannot remove"))
    }
}
