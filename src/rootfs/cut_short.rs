//! How `nsr down` takes back a root filesystem operation that nsr was killed in the
//! middle of, worked out from the filesystem just before it started: only what did
//! not exist then is removed.

use super::target::{absolute, absolute_deep};
use crate::ops::rootfs::{RootfsOp, RootfsUndo};
use crate::ops::{CutShort, OpError, Undo};
use std::path::Path;

fn undo(u: RootfsUndo) -> CutShort {
    CutShort::Undo(Undo::Rootfs(u))
}

fn fails(why: String) -> CutShort {
    CutShort::Nothing(format!("{why}: it fails"))
}

pub fn cut_short(op: &RootfsOp) -> CutShort {
    match op {
        RootfsOp::FromTar { dir, .. } | RootfsOp::FromImage { dir, .. } => {
            let Ok(target) = absolute(dir) else {
                return fails(format!("{dir} has no parent"));
            };
            let empty = match std::fs::read_dir(&target) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                Ok(mut entries) if !target.is_symlink() => entries.next().is_none(),
                _ => {
                    return fails(format!(
                        "{} is not a new or empty directory",
                        target.display()
                    ))
                }
            };
            if !empty && target.exists() {
                return fails(format!(
                    "{} is not a new or empty directory",
                    target.display()
                ));
            }
            undo(RootfsUndo::RemoveTree {
                dir: target.display().to_string(),
                keep_dir: empty,
            })
        }
        RootfsOp::MakeDir { path } => {
            let Ok(target) = absolute_deep(path) else {
                return fails(format!("{path} is not a plain path"));
            };
            let missing: Vec<String> = target
                .ancestors()
                .take_while(|p| std::fs::symlink_metadata(p).is_err())
                .map(|p| p.display().to_string())
                .collect();
            if missing.is_empty() {
                CutShort::Nothing(format!("{} exists already", target.display()))
            } else {
                undo(RootfsUndo::RemoveDirs { dirs: missing })
            }
        }
        RootfsOp::Overlay { dir, .. } => {
            let Ok(target) = absolute(dir) else {
                return fails(format!("{dir} has no parent"));
            };
            let state = std::path::PathBuf::from(crate::ops::rootfs::overlay_state_dir(
                &target.display().to_string(),
            ));
            if std::fs::symlink_metadata(&state).is_ok() {
                return fails(format!("{} exists", state.display()));
            }
            undo(RootfsUndo::Overlay {
                dir: target.display().to_string(),
                mnt_id: 0,
                state: state.display().to_string(),
                keep_dir: std::fs::symlink_metadata(&target).is_ok(),
            })
        }
        RootfsOp::Cached { .. } => undo(RootfsUndo::RemoveCachePartials {
            cache: super::cache::dir().display().to_string(),
            pid: std::process::id(),
        }),
    }
}

/// The mount ID of the overlay on `dir` whose upper directory is in `state` (0: none):
/// the overlay an `overlay_root` cut short made.
pub fn overlay_mount_of(dir: &str, state: &str) -> Result<u64, OpError> {
    let upper = format!("upperdir={}", Path::new(state).join("upper").display());
    Ok(crate::ns::inspect::mountinfo(std::process::id() as i32)?
        .into_iter()
        .rev()
        .find(|m| {
            m.mount_point == dir
                && m.fstype == "overlay"
                && m.super_options.split(',').any(|o| o == upper)
        })
        .map(|m| m.id)
        .unwrap_or(0))
}
