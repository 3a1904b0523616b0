//! Changing a sandbox's root: chroot (undoable, per process) and pivot_root (bound to
//! the sandbox's mount namespace). Runs in the holder.

use crate::ops::OpError;
use crate::sys::from_rustix;
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir};
use rustix::mount::{move_mount, open_tree, MoveMountFlags, OpenTreeFlags};
use std::os::fd::OwnedFd;

/// Where a process was before a chroot: its root and working directory (O_PATH). Only
/// nsr keeps these (fds in the holder would be a way out of the root for the sandbox).
pub struct SavedRoot {
    pub root: OwnedFd,
    pub cwd: OwnedFd,
}

fn open_dir(path: &str) -> Result<OwnedFd, Errno> {
    open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

fn root_error(e: Errno, what: String, path: &str) -> OpError {
    let err = OpError::os(e, what);
    match e {
        Errno::ENOENT => err.with_hint(format!("{path} does not exist (relative paths start at nsr's working directory, or at the sandbox's current root)")),
        Errno::ENOTDIR => err.with_hint(format!("{path} is not a directory")),
        Errno::EPERM => err.with_hint("changing the root needs root, or a user namespace with \"map_root: true\""),
        _ => err,
    }
}

/// chroot(2) into `path` and chdir to its /, returning where the process was.
pub fn chroot_to(path: &str) -> Result<SavedRoot, OpError> {
    let old_root = open_dir("/").map_err(|e| OpError::os(e, "cannot open the current root"))?;
    let old_cwd = open_dir(".").map_err(|e| OpError::os(e, "cannot open the working directory"))?;
    chroot(path).map_err(|e| root_error(e, format!("chroot {path}"), path))?;
    if let Err(e) = chdir("/") {
        // Take the chroot back: the operation either happens whole or not at all.
        let _ = fchdir(&old_root)
            .and_then(|_| chroot("."))
            .and_then(|_| fchdir(&old_cwd));
        return Err(OpError::os(e, "chdir / in the new root"));
    }
    Ok(SavedRoot {
        root: old_root,
        cwd: old_cwd,
    })
}

/// Back to where the process was before a chroot.
pub fn unchroot(saved: &SavedRoot) -> Result<(), OpError> {
    fchdir(&saved.root)
        .and_then(|_| chroot("."))
        .and_then(|_| fchdir(&saved.cwd))
        .map_err(|e| OpError::os(e, "cannot return to the previous root"))
}

/// pivot_root(2) to `new_root` and detach the old root, as container runtimes do.
pub fn pivot_root(new_root: &str) -> Result<(), OpError> {
    let fail =
        |e: Errno, what: &str| root_error(e, format!("pivot_root {new_root}: {what}"), new_root);
    // pivot_root needs the new root to be a mount point: bind it onto itself.
    let tree = open_tree(
        rustix::fs::CWD,
        new_root,
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_RECURSIVE,
    )
    .map_err(|e| fail(from_rustix(e), "cannot clone it as a mount"))?;
    move_mount(
        &tree,
        "",
        rustix::fs::CWD,
        new_root,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| fail(from_rustix(e), "cannot bind it onto itself"))?;
    chdir(new_root).map_err(|e| fail(e, "chdir"))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| {
            let err = fail(e, "pivot_root(2)");
            if e == Errno::EINVAL {
                err.with_hint("the current root must be a mount point: use pivot_root instead of chroot, not after it")
            } else {
                err
            }
        })?;
    nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH)
        .map_err(|e| fail(e, "cannot detach the old root"))?;
    chdir("/").map_err(|e| fail(e, "chdir /"))?;
    Ok(())
}
