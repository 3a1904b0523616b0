//! Where a root filesystem goes, as an absolute path the holder and `nsr down` read the
//! same way, whatever their working directory.

use crate::ops::OpError;
use nix::errno::Errno;
use std::path::{Path, PathBuf};

/// An absolute path for `dir`, which may not exist yet: its parent must.
pub(super) fn absolute(dir: &str) -> Result<PathBuf, OpError> {
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

/// `p` made absolute against nsr's working directory (as it is, when that cannot be
/// read): the path as the recipe meant it, for a process (the holder, `nsr down`) that
/// runs elsewhere.
pub fn from_cwd(p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir()
        .map(|d| d.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// An absolute path for `dir`, whose parents need not exist (for `make_dir`).
pub(super) fn absolute_deep(dir: &str) -> Result<PathBuf, OpError> {
    if dir.is_empty() {
        return Err(OpError::new("the directory is not named"));
    }
    let abs = from_cwd(dir);
    if abs
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(OpError::new(format!(
            "'{dir}' has '..' in it: name the directory plainly"
        )));
    }
    Ok(abs)
}
