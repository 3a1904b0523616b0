//! The root filesystem half of the kernel backend.

use super::extract::{self, ExtractOptions};
use super::ops::{RootfsOp, RootfsUndo};
use super::remove;
use crate::ops::{OpError, UndoOutcome};
use nix::errno::Errno;
use std::path::{Path, PathBuf};

/// An absolute path for `dir`, which may not exist yet: its parent must.
fn absolute(dir: &str) -> Result<PathBuf, OpError> {
    let p = Path::new(dir);
    let name = p
        .file_name()
        .ok_or_else(|| OpError::new(format!("'{dir}' does not name a directory to create")))?;
    let parent = match p.parent() {
        Some(q) if !q.as_os_str().is_empty() => q.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let parent = parent.canonicalize().map_err(|e| {
        OpError::os(
            Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            format!("the parent of {dir} does not exist"),
        )
        .with_hint("create the parent directory first; nsr creates only the last one")
    })?;
    Ok(parent.join(name))
}

/// Does `op`; returns the result text, the undo and warnings for the user.
pub fn apply(op: &RootfsOp) -> Result<(String, RootfsUndo, Vec<String>), OpError> {
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
            let keep_dir = match std::fs::create_dir(&target) {
                Ok(()) => false,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let empty = std::fs::read_dir(&target)
                        .map(|mut d| d.next().is_none())
                        .unwrap_or(false);
                    if !target.is_dir() || target.is_symlink() || !empty {
                        return Err(OpError::os(
                            Errno::EEXIST,
                            format!("{} exists and is not an empty directory", target.display()),
                        )
                        .with_hint("nsr extracts only into a new or empty directory, so that its undo removes exactly what it extracted"));
                    }
                    true
                }
                Err(e) => {
                    return Err(OpError::os(
                        Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                        format!("cannot create {}", target.display()),
                    ))
                }
            };
            let undo = RootfsUndo::RemoveTree {
                dir: target.display().to_string(),
                keep_dir,
            };
            let result = extract::open_root(&target).and_then(|root| {
                extract::extract(
                    archive_path,
                    &root,
                    ExtractOptions {
                        strict: *strict,
                        progress: *progress,
                    },
                )
            });
            match result {
                Ok(report) => Ok((target.display().to_string(), undo, report.summary())),
                Err(e) => {
                    // Half an extraction is taken back before the error is reported.
                    let _ = undo_apply(&undo);
                    Err(e)
                }
            }
        }
    }
}

pub fn undo_apply(undo: &RootfsUndo) -> Result<UndoOutcome, OpError> {
    match undo {
        RootfsUndo::RemoveTree { dir, keep_dir } => {
            Ok(if remove::remove_tree(Path::new(dir), *keep_dir)? {
                UndoOutcome::Done
            } else {
                UndoOutcome::AlreadyGone
            })
        }
    }
}
