//! What runc hides and makes read-only in a container's /proc and /sys, done in a
//! confined sandbox's own mount namespace: on the /proc and /sys it inherits, and on
//! each proc or sysfs the recipe mounts. Without it, a confined root could still write
//! the host's sysctls (`kernel.core_pattern` runs a program on the host) or
//! `/proc/sysrq-trigger`, or read `/proc/kcore`.

use crate::ops::OpError;
use crate::sys::{from_rustix, mount_setattr};
use rustix::fs::{openat, Mode, OFlags};
use rustix::mount::{
    fsconfig_create, fsmount, fsopen, move_mount, open_tree, FsMountFlags, FsOpenFlags,
    MountAttrFlags, MoveMountFlags, OpenTreeFlags,
};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::ops::mount::{PROC_MASKED, PROC_READ_ONLY, SYS_MASKED};

fn os(e: rustix::io::Errno, what: String) -> OpError {
    OpError::os(from_rustix(e), what)
}

/// A read-only tmpfs, attached nowhere, with an empty file `empty` and an empty
/// directory `dir` in it: what masked paths are covered with.
fn empty_tmpfs() -> Result<OwnedFd, OpError> {
    let fs =
        fsopen("tmpfs", FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| os(e, "fsopen tmpfs".into()))?;
    rustix::mount::fsconfig_set_string(&fs, "size", "4k")
        .map_err(|e| os(e, "tmpfs size".into()))?;
    fsconfig_create(&fs).map_err(|e| os(e, "tmpfs create".into()))?;
    let mnt = fsmount(
        &fs,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_NOSUID
            | MountAttrFlags::MOUNT_ATTR_NODEV
            | MountAttrFlags::MOUNT_ATTR_NOEXEC,
    )
    .map_err(|e| os(e, "fsmount tmpfs".into()))?;
    drop(
        openat(
            &mnt,
            "empty",
            OFlags::CREATE | OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| os(e, "cannot create the empty file of a mask".into()))?,
    );
    rustix::fs::mkdirat(&mnt, "dir", Mode::from_raw_mode(0o555))
        .map_err(|e| os(e, "cannot create the empty directory of a mask".into()))?;
    mount_setattr(
        mnt.as_fd(),
        false,
        MountAttrFlags::MOUNT_ATTR_RDONLY.bits() as u64,
        0,
    )
    .map_err(|e| OpError::os(e, "cannot make a mask read-only"))?;
    Ok(mnt)
}

/// Covers `dir/name` with the empty file or the empty tmpfs (as it is a file or a
/// directory); nothing when it does not exist.
fn mask(dir: BorrowedFd<'_>, name: &str, empty: &OwnedFd) -> Result<(), OpError> {
    let Ok(st) = rustix::fs::statat(dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) else {
        return Ok(());
    };
    let is_dir = rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory;
    let cover = open_tree(
        empty,
        if is_dir { "dir" } else { "empty" },
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )
    .map_err(|e| os(e, format!("cannot clone a mask for {name}")))?;
    move_mount(
        &cover,
        "",
        dir,
        name,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| os(e, format!("cannot mask {name}")))
}

/// Binds `dir/name` onto itself read-only (its mounts below too).
fn read_only(dir: BorrowedFd<'_>, name: &str) -> Result<(), OpError> {
    let tree = match open_tree(
        dir,
        name,
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_RECURSIVE,
    ) {
        Ok(t) => t,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(os(e, format!("cannot bind {name} read-only"))),
    };
    mount_setattr(
        tree.as_fd(),
        true,
        MountAttrFlags::MOUNT_ATTR_RDONLY.bits() as u64,
        0,
    )
    .map_err(|e| OpError::os(e, format!("cannot make {name} read-only")))?;
    move_mount(
        &tree,
        "",
        dir,
        name,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| os(e, format!("cannot bind {name} read-only")))
}

/// The masks on the proc mounted at `proc` (an fd of its root directory).
pub fn harden_proc(proc: BorrowedFd<'_>) -> Result<(), OpError> {
    harden_proc_with(proc, &empty_tmpfs()?)
}

fn harden_proc_with(proc: BorrowedFd<'_>, empty: &OwnedFd) -> Result<(), OpError> {
    for name in PROC_MASKED {
        mask(proc, name, empty)?;
    }
    for name in PROC_READ_ONLY {
        read_only(proc, name)?;
    }
    Ok(())
}

/// A sysfs mounted at `sys` becomes read-only (its own mounts too), firmware masked.
pub fn harden_sys(sys: BorrowedFd<'_>) -> Result<(), OpError> {
    harden_sys_with(sys, &empty_tmpfs()?)
}

fn harden_sys_with(sys: BorrowedFd<'_>, empty: &OwnedFd) -> Result<(), OpError> {
    for name in SYS_MASKED {
        mask(sys, name, empty)?;
    }
    mount_setattr(
        sys,
        true,
        MountAttrFlags::MOUNT_ATTR_RDONLY.bits() as u64,
        0,
    )
    .map_err(|e| OpError::os(e, "cannot make /sys read-only"))
}

/// The /proc and /sys a new mount namespace inherited (mount IDs), until hardened.
#[derive(Default)]
pub struct Inherited {
    proc: Option<u64>,
    sys: Option<u64>,
}

fn mount_root_of(path: &str, magic: i64) -> Option<(OwnedFd, u64)> {
    let fd = rustix::fs::open(
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let is = rustix::fs::fstatfs(&fd).is_ok_and(|s| s.f_type == magic);
    let (id, _, root) = crate::sys::mount_of_fd(fd.as_fd()).ok()?;
    (is && root).then_some((fd, id))
}

impl Inherited {
    pub fn find() -> Inherited {
        Inherited {
            proc: mount_root_of("/proc", libc::PROC_SUPER_MAGIC).map(|(_, id)| id),
            sys: mount_root_of("/sys", libc::SYSFS_MAGIC).map(|(_, id)| id),
        }
    }

    /// Hardens each that is still where it was (the holder has not chrooted away from
    /// it, and no other mount covers it); then forgets both.
    pub fn harden_if_reachable(&mut self) -> Result<(), OpError> {
        if self.proc.is_none() && self.sys.is_none() {
            return Ok(());
        }
        let (proc, sys) = (self.proc.take(), self.sys.take());
        let proc = proc.and_then(|id| {
            mount_root_of("/proc", libc::PROC_SUPER_MAGIC).filter(|(_, now)| *now == id)
        });
        let sys = sys
            .and_then(|id| mount_root_of("/sys", libc::SYSFS_MAGIC).filter(|(_, now)| *now == id));
        if proc.is_none() && sys.is_none() {
            return Ok(());
        }
        let empty = empty_tmpfs()?;
        if let Some((fd, _)) = proc {
            harden_proc_with(fd.as_fd(), &empty)?;
        }
        if let Some((fd, _)) = sys {
            harden_sys_with(fd.as_fd(), &empty)?;
        }
        Ok(())
    }
}

/// A bind of procfs or sysfs content into a confined sandbox: its root gets the masks
/// of that filesystem; a part of it is read-only entirely.
pub fn harden_bind(mnt: BorrowedFd<'_>) -> Result<(), OpError> {
    let Ok(st) = rustix::fs::fstatfs(mnt) else {
        return Ok(());
    };
    let magic = st.f_type;
    if magic != libc::PROC_SUPER_MAGIC && magic != libc::SYSFS_MAGIC {
        return Ok(());
    }
    let is_fs_root = rustix::fs::fstat(mnt).is_ok_and(|s| s.st_ino == 1);
    match (magic == libc::PROC_SUPER_MAGIC, is_fs_root) {
        (true, true) => harden_proc(mnt),
        (false, true) => harden_sys(mnt),
        _ => mount_setattr(
            mnt,
            true,
            MountAttrFlags::MOUNT_ATTR_RDONLY.bits() as u64,
            0,
        )
        .map_err(|e| OpError::os(e, "cannot make a bind of proc or sys read-only")),
    }
}
