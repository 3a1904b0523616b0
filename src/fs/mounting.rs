//! Makes a mount inside the calling process's root, with the new mount API so that the
//! target is an fd resolved inside the root (a symlink in an untrusted root cannot send
//! the mount onto the host) and no /proc is needed. Runs in the sandbox holder, or in
//! nsr itself for a sandbox that shares the host's mount namespace.

use crate::ops::mount::{MountSource, MountSpec};
use crate::ops::OpError;
use crate::sys::{from_rustix, mount_setattr};
use nix::errno::Errno;
use rustix::fs::{openat2, Mode, OFlags, ResolveFlags, CWD};
use rustix::mount::{
    fsconfig_create, fsconfig_set_flag, fsconfig_set_string, fsmount, fsopen, move_mount,
    open_tree, FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, OpenTreeFlags,
};
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};

/// A mount as nsr made it: its ID in the mount table (reused once it is gone) and its
/// never-reused ID where the kernel has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MountId {
    pub id: u64,
    pub unique: Option<u64>,
}

/// Mounts `spec` and returns the new mount's IDs. With `harden`, a proc or sysfs gets
/// the masks of a confined sandbox (`masks.rs`) before anything can open it.
pub fn mount(spec: &MountSpec, harden: bool) -> Result<MountId, OpError> {
    let target = resolve_target(&spec.target)?;
    let attrs = attr_flags(spec);
    let mnt = match &spec.source {
        MountSource::Filesystem { fstype, source } => {
            let fs = open_fs(fstype)?;
            if !source.is_empty() {
                config(&fs, fstype, "source", Some(source))?;
            }
            for (k, v) in &spec.data {
                config(&fs, fstype, k, v.as_deref())?;
            }
            create(&fs, fstype)?;
            fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs).map_err(|e| {
                let err = with_log(os(e, format!("fsmount {fstype}")), &fs);
                match (from_rustix(e), fstype.as_str()) {
                    (Errno::EPERM, "proc" | "sysfs") => err.with_hint(format!(
                        "in a user namespace the kernel allows a new {fstype} only while a full one is visible: mount it before pivot_root, and in a pid (proc) or net (sysfs) namespace of the sandbox's own"
                    )),
                    _ => err,
                }
            })?
        }
        MountSource::Overlay { lower, upper, work } => {
            let fs = open_fs("overlay")?;
            for l in lower {
                config(&fs, "overlay", "lowerdir+", Some(l))?;
            }
            if let (Some(u), Some(w)) = (upper, work) {
                config(&fs, "overlay", "upperdir", Some(u))?;
                config(&fs, "overlay", "workdir", Some(w))?;
            }
            create(&fs, "overlay")?;
            fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs)
                .map_err(|e| os(e, "fsmount overlay".to_string()))?
        }
        MountSource::Bind { source, recursive } => {
            let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
            if *recursive {
                flags |= OpenTreeFlags::AT_RECURSIVE;
            }
            let tree = open_tree(CWD, source.as_str(), flags).map_err(|e| {
                let err = os(e, format!("cannot open bind source {source}"));
                match from_rustix(e) {
                    Errno::ENOENT => err.with_hint("the source path does not exist in the sandbox's current root"),
                    Errno::EINVAL => err.with_hint("the source is not a mount that can be cloned (for example an unbindable mount)"),
                    _ => err,
                }
            })?;
            if !attrs.is_empty() {
                mount_setattr(tree.as_fd(), *recursive, attrs.bits() as u64, 0)
                    .map_err(|e| OpError::os(e, format!("cannot set flags on bind of {source}")))?;
            }
            tree
        }
    };
    move_mount(
        &mnt,
        "",
        &target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )
    .map_err(|e| os(e, format!("cannot attach the mount at {}", spec.target)))?;
    if harden {
        match &spec.source {
            MountSource::Filesystem { fstype, .. } => match fstype.as_str() {
                "proc" => super::masks::harden_proc(mnt.as_fd())?,
                "sysfs" => super::masks::harden_sys(mnt.as_fd())?,
                _ => {}
            },
            MountSource::Bind { .. } => super::masks::harden_bind(mnt.as_fd())?,
            MountSource::Overlay { .. } => {}
        }
    }
    let (id, unique, _) = crate::sys::mount_of_fd(mnt.as_fd())
        .map_err(|e| OpError::os(e, format!("cannot read the mount ID of {}", spec.target)))?;
    Ok(MountId { id, unique })
}

/// Opens the mount target inside the root; refuses a final symlink (runc CVE-2019-19921).
fn resolve_target(target: &str) -> Result<OwnedFd, OpError> {
    let root = rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| os(e, "cannot open the sandbox root".into()))?;
    let rel = target.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    let fd = openat2(
        &root,
        rel,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| {
        let err = os(e, format!("mount target {target} cannot be opened"));
        match from_rustix(e) {
            Errno::ENOENT => err.with_hint(format!(
                "create {target} in the sandbox's root first (a mount target must exist)"
            )),
            Errno::ENOTDIR => err.with_hint("a component of the path is not a directory"),
            _ => err,
        }
    })?;
    let st = rustix::fs::fstat(&fd).map_err(|e| os(e, format!("cannot stat {target}")))?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Symlink {
        let dest = rustix::fs::readlinkat(&fd, "", Vec::new())
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Err(OpError::os(
            Errno::ELOOP,
            format!("mount target {target} is a symlink (to {dest})"),
        )
        .with_hint(
            "nsr does not mount through a symlink in the root: replace it with a directory",
        ));
    }
    Ok(fd)
}

fn attr_flags(spec: &MountSpec) -> MountAttrFlags {
    let mut a = MountAttrFlags::empty();
    if spec.readonly {
        a |= MountAttrFlags::MOUNT_ATTR_RDONLY;
    }
    if spec.nosuid {
        a |= MountAttrFlags::MOUNT_ATTR_NOSUID;
    }
    if spec.nodev {
        a |= MountAttrFlags::MOUNT_ATTR_NODEV;
    }
    if spec.noexec {
        a |= MountAttrFlags::MOUNT_ATTR_NOEXEC;
    }
    a
}

fn open_fs(fstype: &str) -> Result<OwnedFd, OpError> {
    fsopen(fstype, FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| {
        let err = os(e, format!("cannot open a {fstype} filesystem"));
        match from_rustix(e) {
            Errno::ENODEV => err.with_hint(format!(
                "the kernel does not know the filesystem type '{fstype}'"
            )),
            Errno::EPERM => err.with_hint(
                "mounting needs root, or a mount namespace owned by the sandbox's user namespace",
            ),
            _ => err,
        }
    })
}

fn config(fs: &OwnedFd, fstype: &str, key: &str, value: Option<&str>) -> Result<(), OpError> {
    let r = match value {
        Some(v) => fsconfig_set_string(fs, key, v),
        None => fsconfig_set_flag(fs, key),
    };
    r.map_err(|e| {
        let shown = value
            .map(|v| format!("{key}={v}"))
            .unwrap_or_else(|| key.to_string());
        with_log(os(e, format!("{fstype} rejected option {shown}")), fs)
    })
}

fn create(fs: &OwnedFd, fstype: &str) -> Result<(), OpError> {
    fsconfig_create(fs).map_err(|e| {
        let err = with_log(os(e, format!("cannot create the {fstype} filesystem")), fs);
        match (from_rustix(e), fstype) {
            (Errno::EPERM, "proc") => err.with_hint("a new proc needs a pid namespace owned by the sandbox's user namespace: add \"pid\" to the kinds"),
            (Errno::EPERM, "sysfs") => err.with_hint("a new sysfs needs a net namespace owned by the sandbox's user namespace: add \"net\" to the kinds"),
            (Errno::EPERM, _) => err.with_hint("not permitted here: run as root, or mount inside a user namespace that owns the mount namespace"),
            _ => err,
        }
    })
}

/// Appends what the kernel wrote to the filesystem context's message log.
fn with_log(mut err: OpError, fs: &OwnedFd) -> OpError {
    let Ok(dup) = fs.try_clone() else { return err };
    let mut file = std::fs::File::from(dup);
    let mut buf = [0u8; 512];
    let mut lines = Vec::new();
    // Each read returns one message; it fails with ENODATA once the log is empty.
    while let Ok(n) = file.read(&mut buf) {
        if n == 0 {
            break;
        }
        let msg = String::from_utf8_lossy(&buf[..n]).trim().to_string();
        lines.push(msg.trim_start_matches(['e', 'w', 'i']).trim().to_string());
    }
    if !lines.is_empty() {
        err.message = format!("{}: {}", err.message, lines.join("; "));
    }
    err
}

fn os(e: rustix::io::Errno, message: String) -> OpError {
    OpError::os(from_rustix(e), message)
}

/// How often an unmount looks its mount up again when the path to it changed under it
/// (a process in an untrusted root renaming directories) before it gives up.
const UNMOUNT_ATTEMPTS: usize = 2000;

/// What one try to unmount a mount at a path found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UnmountAttempt {
    Done,
    /// Its ID now names another mount: someone else unmounted ours.
    Gone,
    /// Not there: the path changed (or another mount covers it); look it up again.
    Moved,
}

/// Unmounts the mount at `path` only if the fd of `path`, opened without following any
/// symlink (a directory of an untrusted root swapped for one fails the open instead of
/// sending it elsewhere), is that very mount's root; then through the fd itself.
pub fn try_unmount_at(path: &str, mount: MountId) -> Result<UnmountAttempt, OpError> {
    let fd = match open_no_symlinks(path) {
        Ok(fd) => fd,
        Err(Errno::ELOOP | Errno::ENOENT | Errno::ENOTDIR | Errno::EXDEV | Errno::EAGAIN) => {
            return Ok(UnmountAttempt::Moved)
        }
        Err(e) => return Err(OpError::os(e, format!("cannot open {path}"))),
    };
    match crate::sys::mount_of_fd(fd.as_fd()) {
        Ok((id, unique, true)) if id == mount.id => {
            if mount.unique.is_some() && unique != mount.unique {
                return Ok(UnmountAttempt::Gone);
            }
            detach_fd(&fd, path)?;
            Ok(UnmountAttempt::Done)
        }
        Ok(_) => Ok(UnmountAttempt::Moved),
        Err(e) => Err(OpError::os(e, format!("cannot inspect {path}"))),
    }
}

/// Unmounts exactly `mount` and nothing else: `point` reads where the mount table says
/// it is now (None: it is not in the table), `attempt` tries it there. False when it is
/// gone; an error when it is there but could not be reached (covered by another mount,
/// or its path kept changing), so an undo never calls a mount still mounted "gone".
pub fn unmount_by_id(
    mount: MountId,
    point: &mut dyn FnMut() -> Result<Option<String>, OpError>,
    attempt: &mut dyn FnMut(&str) -> Result<UnmountAttempt, OpError>,
) -> Result<bool, OpError> {
    let mut last = String::new();
    for n in 0..UNMOUNT_ATTEMPTS {
        let Some(path) = point()? else {
            return Ok(false);
        };
        match attempt(&path)? {
            UnmountAttempt::Done => return Ok(true),
            UnmountAttempt::Gone => return Ok(false),
            UnmountAttempt::Moved => {}
        }
        last = path;
        if n % 64 == 63 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    Err(OpError::os(
        Errno::EBUSY,
        format!(
            "mount {} at {last} could not be reached: another mount covers it, or the path to it kept changing",
            mount.id
        ),
    ))
}

/// `unmount_by_id` in the calling process's own mount namespace (nsr's: the host's).
pub fn unmount_own(mount: MountId) -> Result<bool, OpError> {
    unmount_by_id(
        mount,
        &mut || {
            let mounts = crate::ns::inspect::own_mountinfo()?;
            Ok(crate::ns::inspect::mount_point_of(mounts, mount.id))
        },
        &mut |path| try_unmount_at(path, mount),
    )
}

/// O_PATH of `path` from /, through no symlink at all.
fn open_no_symlinks(path: &str) -> Result<OwnedFd, Errno> {
    openat2(
        CWD,
        path,
        OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(from_rustix)
}

/// `umount -l` of the mount whose root `fd` is: from the fd as working directory, so
/// that no path (and no /proc of an untrusted root) is resolved again; the working
/// directory is restored after.
fn detach_fd(fd: &OwnedFd, shown: &str) -> Result<(), OpError> {
    let back = nix::fcntl::open(
        ".",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| OpError::os(e, "cannot open the working directory"))?;
    let result = match nix::unistd::fchdir(fd) {
        Ok(()) => nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH)
            .map_err(|e| OpError::os(e, format!("umount {shown}"))),
        // A file bind-mounted on a file: from its directory, by its name.
        Err(Errno::ENOTDIR) => detach_file(fd, shown),
        Err(e) => Err(OpError::os(e, format!("cannot enter {shown}"))),
    };
    let _ = nix::unistd::fchdir(&back);
    result
}

/// `umount -l` of a mount on a file: its directory, opened through no symlink, becomes
/// the working directory; the name there must still be that mount's root (same mount
/// ID) just before the unmount, which follows no symlink either.
fn detach_file(fd: &OwnedFd, shown: &str) -> Result<(), OpError> {
    let (dir, name) = shown
        .rsplit_once('/')
        .map(|(d, n)| (if d.is_empty() { "/" } else { d }, n))
        .ok_or_else(|| OpError::new(format!("umount {shown}: not an absolute path")))?;
    let parent = open_no_symlinks(dir).map_err(|e| OpError::os(e, format!("cannot open {dir}")))?;
    nix::unistd::fchdir(&parent).map_err(|e| OpError::os(e, format!("cannot enter {dir}")))?;
    let here = openat2(
        CWD,
        name,
        OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::NO_SYMLINKS | ResolveFlags::BENEATH,
    )
    .map_err(|e| OpError::os(from_rustix(e), format!("cannot open {shown}")))?;
    let ours = crate::sys::mount_of_fd(fd.as_fd()).map(|(id, _, _)| id);
    let found = crate::sys::mount_of_fd(here.as_fd()).map(|(id, _, root)| (id, root));
    match (ours, found) {
        (Ok(a), Ok((b, true))) if a == b => nix::mount::umount2(
            name,
            nix::mount::MntFlags::MNT_DETACH | nix::mount::MntFlags::UMOUNT_NOFOLLOW,
        )
        .map_err(|e| OpError::os(e, format!("umount {shown}"))),
        _ => Err(OpError::os(
            Errno::EBUSY,
            format!("umount {shown}: another mount took its place"),
        )),
    }
}

/// Takes back a mount cut short before its ID was written: unmounts what is mounted on
/// `path` only if `path` is a mount's root and that mount is not the one that was on top
/// there before (`below`, as `top_mount_at` read it); with unique mount IDs, only if it
/// is newer. The path is opened through no symlink and the mount taken back by its fd.
pub fn unmount_above(path: &str, below: u64) -> Result<bool, OpError> {
    let fd = match open_no_symlinks(path) {
        Ok(fd) => fd,
        Err(Errno::ENOENT | Errno::ENOTDIR) => return Ok(false),
        Err(e) => {
            return Err(
                OpError::os(e, format!("cannot open {path} without following a symlink"))
                    .with_hint(
                        "a directory on the way was replaced: the mount stays; umount it by hand",
                    ),
            )
        }
    };
    let (id, unique, root) = crate::sys::mount_of_fd(fd.as_fd())
        .map_err(|e| OpError::os(e, format!("cannot inspect {path}")))?;
    let newer = match unique {
        Some(u) => u != below && u > below,
        None => id != below,
    };
    if !(root && newer) {
        return Ok(false);
    }
    detach_fd(&fd, path)?;
    Ok(true)
}
