//! The root filesystem half of the kernel backend.

use super::extract::{self, ExtractOptions};
use super::remove;
use super::target::{absolute, absolute_deep};
use crate::ops::rootfs::{RootfsOp, RootfsUndo};
use crate::ops::{OpError, UndoOutcome};
use nix::errno::Errno;
use std::path::{Path, PathBuf};

/// Makes `target` a new directory, or accepts it empty; true when it was there.
fn new_or_empty_dir(target: &Path) -> Result<bool, OpError> {
    match std::fs::create_dir(target) {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let empty = std::fs::read_dir(target)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if !target.is_dir() || target.is_symlink() || !empty {
                return Err(OpError::os(
                    Errno::EEXIST,
                    format!("{} exists and is not an empty directory", target.display()),
                )
                .with_hint("nsr fills only a new or empty directory, so that its undo removes exactly what it made"));
            }
            Ok(true)
        }
        Err(e) => {
            let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
            let err = OpError::os(errno, format!("cannot create {}", target.display()));
            match (errno, mapped_root()) {
                (Errno::EACCES, Some(host_uid)) => {
                    let parent = target.parent().unwrap_or(Path::new("/")).display();
                    Err(err.with_hint(format!("the sandbox's root is host uid {host_uid}, which may not write to {parent}: make {parent} writable by it (chown {host_uid} {parent}), or map the parent's owner too (uid_map: [[0, OWNER, 1], [1, {host_uid}, 65535]])")))
                }
                _ => Err(err),
            }
        }
    }
}

/// The host uid of root in this process's user namespace, when it is not the host's
/// own root (the holder of a sandbox with `uid_map: [[0, 100000, 65536]]`).
fn mapped_root() -> Option<u32> {
    let map = std::fs::read_to_string("/proc/self/uid_map").ok()?;
    map.lines().find_map(|l| {
        let f: Vec<u32> = l
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        (f.len() == 3 && f[0] == 0 && !(f[1] == 0 && f[2] == u32::MAX)).then_some(f[1])
    })
}

fn overlay(lower: &[String], dir: &str) -> Result<(String, RootfsUndo), OpError> {
    let mut lowers = Vec::new();
    for l in lower {
        let p = Path::new(l).canonicalize().map_err(|e| {
            OpError::os(
                Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                format!("the lower directory {l} does not exist"),
            )
        })?;
        if !p.is_dir() {
            return Err(OpError::os(
                Errno::ENOTDIR,
                format!("the lower {l} is not a directory"),
            ));
        }
        lowers.push(p.display().to_string());
    }
    let target = absolute(dir)?;
    let state = PathBuf::from(crate::ops::rootfs::overlay_state_dir(
        &target.display().to_string(),
    ));
    std::fs::create_dir(&state).map_err(|e| {
        let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
        let err = OpError::os(errno, format!("cannot create {}", state.display()));
        if errno == Errno::EEXIST {
            err.with_hint("it holds the upper layer of another overlay_root (or of a run that was killed): remove it when nothing uses it")
        } else {
            err
        }
    })?;
    let made = (|| -> Result<(bool, u64), OpError> {
        for d in ["upper", "work"] {
            std::fs::create_dir(state.join(d)).map_err(|e| {
                OpError::os(
                    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                    format!("cannot create {}", state.join(d).display()),
                )
            })?;
        }
        let keep_dir = new_or_empty_dir(&target)?;
        let spec = crate::ops::mount::MountSpec::new(
            "overlay",
            &target.display().to_string(),
            "overlay",
            Default::default(),
            "",
            Some((
                lowers.clone(),
                Some(state.join("upper").display().to_string()),
                Some(state.join("work").display().to_string()),
            )),
        )
        .map_err(OpError::new)?;
        match crate::fs::mounting::mount(&spec, false) {
            Ok(mount) => Ok((keep_dir, mount.id)),
            Err(e) => {
                if !keep_dir {
                    let _ = std::fs::remove_dir(&target);
                }
                Err(e)
            }
        }
    })();
    match made {
        Ok((keep_dir, mnt_id)) => Ok((
            target.display().to_string(),
            RootfsUndo::Overlay {
                dir: target.display().to_string(),
                mnt_id,
                state: state.display().to_string(),
                keep_dir,
            },
        )),
        Err(e) => {
            let _ = remove::remove_tree(&state, false);
            Err(e)
        }
    }
}

/// Fills the new (or empty) directory `target` with `fill`; a failure takes back what
/// was half done before it is reported.
fn extract_into(
    target: &Path,
    fill: impl FnOnce(&std::os::fd::OwnedFd) -> Result<super::extract::ExtractReport, OpError>,
) -> Result<(String, Option<RootfsUndo>, Vec<String>), OpError> {
    let keep_dir = new_or_empty_dir(target)?;
    let undo = RootfsUndo::RemoveTree {
        dir: target.display().to_string(),
        keep_dir,
    };
    match extract::open_root(target).and_then(|root| fill(&root)) {
        Ok(report) => Ok((target.display().to_string(), Some(undo), report.summary())),
        Err(e) => {
            let _ = undo_apply(&undo);
            Err(e)
        }
    }
}

/// Does `op`; returns the result text, the undo (none for the cache, which is meant to
/// outlive the run) and warnings for the user.
pub fn apply(op: &RootfsOp) -> Result<(String, Option<RootfsUndo>, Vec<String>), OpError> {
    match op {
        RootfsOp::FromTar {
            archive,
            dir,
            strict,
            progress,
        } => {
            let target = absolute(dir)?;
            let archive_path = Path::new(archive);
            if !archive_path.is_file() {
                return Err(OpError::os(
                    Errno::ENOENT,
                    format!("there is no archive at {archive}"),
                )
                .with_hint("make one with: docker export CONTAINER -o go_root.tar"));
            }
            let opts = ExtractOptions {
                strict: *strict,
                progress: *progress,
            };
            extract_into(&target, |root| extract::extract(archive_path, root, opts))
        }
        RootfsOp::FromImage {
            image,
            dir,
            tag,
            strict,
            progress,
        } => {
            let target = absolute(dir)?;
            let image_path = Path::new(image);
            if !image_path.exists() {
                return Err(
                    OpError::os(Errno::ENOENT, format!("there is no image at {image}"))
                        .with_hint("make one with: docker save IMAGE -o image.tar"),
                );
            }
            let opts = ExtractOptions {
                strict: *strict,
                progress: *progress,
            };
            extract_into(&target, |root| {
                super::image::extract(image_path, root, opts, tag.as_deref())
            })
        }
        RootfsOp::MakeDir { path } => {
            let target = absolute_deep(path)?;
            let mut created = Vec::new();
            let mut missing = Vec::new();
            let mut p = target.as_path();
            while !p.exists() {
                missing.push(p.to_path_buf());
                match p.parent() {
                    Some(q) => p = q,
                    None => break,
                }
            }
            for d in missing.iter().rev() {
                if let Err(e) = std::fs::create_dir(d) {
                    let err = OpError::os(
                        Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                        format!("cannot create {}", d.display()),
                    );
                    for c in created.iter().rev() {
                        let _ = std::fs::remove_dir(c);
                    }
                    return Err(err);
                }
                created.push(d.display().to_string());
            }
            if !target.is_dir() {
                return Err(OpError::os(
                    Errno::ENOTDIR,
                    format!("{} exists and is not a directory", target.display()),
                ));
            }
            created.reverse();
            let undo = (!created.is_empty()).then_some(RootfsUndo::RemoveDirs { dirs: created });
            Ok((target.display().to_string(), undo, Vec::new()))
        }
        RootfsOp::Overlay { lower, dir } => {
            let (text, undo) = overlay(lower, dir)?;
            Ok((text, Some(undo), Vec::new()))
        }
        RootfsOp::Cached {
            archive,
            strict,
            progress,
        } => {
            let (tree, report) = super::cache::get(
                Path::new(archive),
                ExtractOptions {
                    strict: *strict,
                    progress: *progress,
                },
            )?;
            let warnings = report.map(|r| r.summary()).unwrap_or_default();
            Ok((tree.display().to_string(), None, warnings))
        }
    }
}

pub use super::cut_short::cut_short;

pub fn undo_apply(undo: &RootfsUndo) -> Result<UndoOutcome, OpError> {
    match undo {
        RootfsUndo::RemoveTree { dir, keep_dir } => Ok(UndoOutcome::done_if(remove::remove_tree(
            Path::new(dir),
            *keep_dir,
        )?)),
        RootfsUndo::RemoveDirs { dirs } => {
            let mut done = false;
            for d in dirs {
                match remove::remove_empty_dir(Path::new(d)) {
                    Ok(()) => done = true,
                    Err(Errno::ENOENT) => {}
                    Err(e) => {
                        return Err(OpError::os(
                            e,
                            format!(
                                "cannot remove {d} (nsr removes only the empty directories it made, through no symlink)"
                            ),
                        ))
                    }
                }
            }
            Ok(UndoOutcome::done_if(done))
        }
        RootfsUndo::RemoveCachePartials { cache, pid } => {
            super::cache::remove_partials(Path::new(cache), *pid)
        }
        RootfsUndo::Overlay {
            dir,
            mnt_id,
            state,
            keep_dir,
        } => {
            let mnt_id = match mnt_id {
                0 => super::cut_short::overlay_mount_of(dir, state)?,
                id => *id,
            };
            let unmounted = mnt_id != 0
                && crate::fs::mounting::unmount_own(crate::fs::mounting::MountId {
                    id: mnt_id,
                    unique: None,
                })?;
            let removed = remove::remove_tree(Path::new(state), false)?;
            if !keep_dir {
                match remove::remove_empty_dir(Path::new(dir)) {
                    Ok(()) | Err(Errno::ENOENT) => {}
                    Err(e) => {
                        return Err(OpError::os(
                            e,
                            format!("cannot remove {dir} (nsr removes only the empty mount point it made, through no symlink)"),
                        ))
                    }
                }
            }
            Ok(UndoOutcome::done_if(unmounted || removed))
        }
    }
}
