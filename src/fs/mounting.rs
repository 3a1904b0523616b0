//! Makes a mount inside the calling process's root, with the new mount API so that the
//! target is an fd resolved inside the root (a symlink in an untrusted root cannot send
//! the mount onto the host) and no /proc is needed. Runs in the sandbox holder, or in
//! nsr itself for a sandbox that shares the host's mount namespace.

use super::mount_spec::{MountSource, MountSpec};
use crate::ops::OpError;
use crate::sys::{from_rustix, mount_id_of, mount_setattr};
use nix::errno::Errno;
use rustix::fs::{openat2, Mode, OFlags, ResolveFlags, CWD};
use rustix::mount::{
    fsconfig_create, fsconfig_set_flag, fsconfig_set_string, fsmount, fsopen, move_mount,
    open_tree, FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, OpenTreeFlags,
};
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};

/// Mounts `spec` and returns the new mount's ID.
pub fn mount(spec: &MountSpec) -> Result<u64, OpError> {
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
    mount_id_of(mnt.as_fd(), "")
        .map_err(|e| OpError::os(e, format!("cannot read the mount ID of {}", spec.target)))
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

/// Unmounts the mount `mnt_id` at `path`, as the calling process sees it, only if the
/// path still carries that very mount: an undo never unmounts something it did not make.
pub fn unmount_if_ours(path: &str, mnt_id: u64) -> Result<bool, OpError> {
    match mount_id_of(CWD, path) {
        Ok(id) if id == mnt_id => {}
        Ok(_) | Err(Errno::ENOENT) => return Ok(false),
        Err(e) => return Err(OpError::os(e, format!("cannot inspect {path}"))),
    }
    detach(path)?;
    Ok(true)
}

/// `umount -l PATH`, never following a final symlink.
fn detach(path: &str) -> Result<(), OpError> {
    nix::mount::umount2(
        path,
        nix::mount::MntFlags::MNT_DETACH | nix::mount::MntFlags::UMOUNT_NOFOLLOW,
    )
    .map_err(|e| OpError::os(e, format!("umount {path}")))
}

/// Takes back a mount cut short before its ID was written: unmounts what is mounted on
/// `path` only if `path` is a mount's root and that mount is not the one that was on top
/// there before (`below`); with unique mount IDs, only if it is newer.
pub fn unmount_above(path: &str, below: u64) -> Result<bool, OpError> {
    match crate::sys::top_mount_at(path) {
        Ok((id, unique, root)) if root && id != below && (!unique || id > below) => {}
        Ok(_) | Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => return Ok(false),
        Err(e) => return Err(OpError::os(e, format!("cannot inspect {path}"))),
    }
    detach(path)?;
    Ok(true)
}
