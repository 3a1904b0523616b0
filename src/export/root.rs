//! Where a bundle's root filesystem comes from: the archive or image the recipe
//! extracts (extracted again, into DIR/rootfs), a directory it names (referenced), or,
//! for a sandbox that keeps the host's root, the host's top-level directories bound
//! into an empty DIR/rootfs (an OCI runtime always pivots into a root of its own).

use super::error::ExportError;
use super::story::Story;
use crate::ops::rootfs::RootfsOp;
use crate::rootfs::target::from_cwd;
use std::path::{Path, PathBuf};

/// What the recording backend answers for `rootfs_cache` (src/backend/recording.rs).
const CACHED_PLACEHOLDER: &str = "<cache>/<sha256 of the archive>";

#[derive(Debug, Clone, PartialEq)]
pub enum RootSource {
    /// Extracted into DIR/rootfs by this operation (its `dir` replaced).
    Extract(RootfsOp),
    /// An existing directory, referenced by its absolute path.
    Directory { path: String, readonly: bool },
    /// The sandbox keeps the host's root.
    Host,
}

/// `p` against nsr's working directory, as the recipe meant it.
fn absolute(p: &str) -> String {
    from_cwd(p).display().to_string()
}

/// A runtime writes into its root (mount points, `/dev/ptmx` replaced by a symlink, its
/// device nodes): the host's own / must never be one.
fn not_the_host_root(path: String) -> Result<String, ExportError> {
    let real = std::fs::canonicalize(&path).unwrap_or_else(|_| PathBuf::from(&path));
    if real == Path::new("/") {
        return Err(ExportError::Root(format!(
            "{path} is the host's root: a runtime writes into a bundle's root (mount points, /dev/ptmx), so it cannot be /; without --rootfs a sandbox that keeps the host's root gets DIR/rootfs with the host's directories bound in"
        )));
    }
    Ok(path)
}

/// The source of the root of `story`; `given` is `--rootfs PATH`.
pub fn source(
    story: &Story,
    given: Option<&str>,
) -> Result<(RootSource, Vec<String>), ExportError> {
    let (source, notes) = source_of(story, given)?;
    match source {
        RootSource::Directory { path, readonly } => Ok((
            RootSource::Directory {
                path: not_the_host_root(path)?,
                readonly,
            },
            notes,
        )),
        other => Ok((other, notes)),
    }
}

fn source_of(story: &Story, given: Option<&str>) -> Result<(RootSource, Vec<String>), ExportError> {
    let mut notes = Vec::new();
    if let Some(p) = given {
        return Ok((
            RootSource::Directory {
                path: absolute(p),
                readonly: false,
            },
            notes,
        ));
    }
    let Some(root) = &story.root else {
        notes.push("the sandbox keeps the host's root: the container's root is DIR/rootfs with the host's top-level directories bound in (rbind) and its top-level symlinks copied".into());
        return Ok((RootSource::Host, notes));
    };
    let path = root.path();
    let made = story.rootfs.iter().rev().find(|op| match op {
        RootfsOp::FromTar { dir, .. }
        | RootfsOp::FromImage { dir, .. }
        | RootfsOp::Overlay { dir, .. } => dir == path,
        _ => false,
    });
    match made {
        Some(op @ (RootfsOp::FromTar { .. } | RootfsOp::FromImage { .. })) => {
            Ok((RootSource::Extract(op.clone()), notes))
        }
        Some(RootfsOp::Overlay { lower, .. }) if lower.len() == 1 && lower[0] == CACHED_PLACEHOLDER => {
            let cached = story.rootfs.iter().rev().find(|op| matches!(op, RootfsOp::Cached { .. }));
            match cached {
                Some(RootfsOp::Cached { archive, strict, progress }) => {
                    notes.push(format!("the root is a copy-on-write overlay over nsr's cache of {archive}: the bundle has the archive extracted into DIR/rootfs instead"));
                    Ok((
                        RootSource::Extract(RootfsOp::FromTar {
                            archive: archive.clone(),
                            dir: String::new(),
                            strict: *strict,
                            progress: *progress,
                        }),
                        notes,
                    ))
                }
                _ => Err(ExportError::Root(format!("the root {path} is an overlay over a cache entry the recipe does not make"))),
            }
        }
        Some(RootfsOp::Overlay { lower, .. }) if lower.len() == 1 => {
            notes.push(format!(
                "the root is an overlay over {}: the bundle references that directory read-only (root.readonly), since a runtime has no overlay root; give --rootfs PATH for a writable copy",
                lower[0]
            ));
            Ok((
                RootSource::Directory {
                    path: absolute(&lower[0]),
                    readonly: true,
                },
                notes,
            ))
        }
        Some(RootfsOp::Overlay { lower, .. }) => Err(ExportError::Root(format!(
            "the root {path} is an overlay of {} directories, which a runtime cannot take as its root",
            lower.len()
        ))),
        _ => Ok((
            RootSource::Directory {
                path: absolute(path),
                readonly: false,
            },
            notes,
        )),
    }
}

/// Fills `rootfs` (a new, empty directory) from `source`.
pub fn make(source: &RootSource, rootfs: &Path) -> Result<Vec<String>, ExportError> {
    match source {
        RootSource::Directory { .. } => Ok(Vec::new()),
        RootSource::Extract(op) => extract(op, rootfs),
        RootSource::Host => host_tree(rootfs).map(|()| Vec::new()),
    }
}

fn extract(op: &RootfsOp, rootfs: &Path) -> Result<Vec<String>, ExportError> {
    let dir = rootfs.display().to_string();
    let op = match op.clone() {
        RootfsOp::FromTar {
            archive, strict, ..
        } => RootfsOp::FromTar {
            archive,
            dir,
            strict,
            progress: false,
        },
        RootfsOp::FromImage {
            image, tag, strict, ..
        } => RootfsOp::FromImage {
            image,
            dir,
            tag,
            strict,
            progress: false,
        },
        other => other,
    };
    crate::rootfs::kernel::apply(&op)
        .map(|(_, _, warnings)| warnings)
        .map_err(|e| ExportError::Extract(op.describe(), e))
}

/// The host's top-level entries a bound-in root needs: directories become mount points
/// (except /proc: a runtime mounts only a proc there), symlinks are copied.
pub fn host_entries() -> Vec<(String, Option<PathBuf>)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/") else {
        return out;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(t) = e.file_type() else { continue };
        if t.is_symlink() {
            if let Ok(target) = std::fs::read_link(e.path()) {
                out.push((name, Some(target)));
            }
        } else if t.is_dir() && name != "proc" && name != "lost+found" {
            out.push((name, None));
        }
    }
    out.sort();
    out
}

fn host_tree(rootfs: &Path) -> Result<(), ExportError> {
    let io = |e: std::io::Error, p: &Path| ExportError::Write(p.display().to_string(), e);
    let proc = rootfs.join("proc");
    std::fs::create_dir(&proc).map_err(|e| io(e, &proc))?;
    for (name, link) in host_entries() {
        let p = rootfs.join(&name);
        match link {
            Some(target) => std::os::unix::fs::symlink(&target, &p).map_err(|e| io(e, &p))?,
            None => std::fs::create_dir(&p).map_err(|e| io(e, &p))?,
        }
    }
    Ok(())
}
