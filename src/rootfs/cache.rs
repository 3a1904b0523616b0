//! The extraction cache: an archive extracted once, under the SHA-256 of its bytes, and
//! reused by every later run (as the read-only lower layer of `overlay_root`). Unlike
//! what a recipe creates, a cache entry outlives the run on purpose; `nsr cache ls` lists
//! the entries and `nsr cache clear` removes them.
//!
//! Layout of the cache directory: `<digest>/` the tree, `<digest>.source` the archive it
//! came from, `stat/<key>` the digest of an archive file by its identity (device, inode,
//! size, mtime), so an unchanged file is not read again to be hashed.

use super::extract::{self, ExtractOptions, ExtractReport};
use super::remove;
use crate::ops::{OpError, UndoOutcome};
use nix::errno::Errno;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

fn io(e: std::io::Error, what: String) -> OpError {
    OpError::os(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)), what)
}

/// `NSR_CACHE_DIR`, else /var/cache/nsr/rootfs for root and the XDG cache otherwise.
/// With its symlinks resolved when it exists: its entries are removed through no symlink.
pub fn dir() -> PathBuf {
    let d = configured_dir();
    d.canonicalize().unwrap_or(d)
}

fn configured_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("NSR_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/cache/nsr/rootfs");
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join("nsr/rootfs")
}

/// The name a run extracting `digest` gives its unfinished entry.
fn partial_name(digest: &str, pid: u32) -> String {
    format!(".{digest}.{pid}")
}

/// Removes the unfinished entries of nsr process `pid` (killed while extracting).
pub fn remove_partials(cache: &Path, pid: u32) -> Result<UndoOutcome, OpError> {
    let Ok(entries) = std::fs::read_dir(cache) else {
        return Ok(UndoOutcome::AlreadyGone);
    };
    let mut removed = false;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let digest = name.trim_start_matches('.').split('.').next().unwrap_or("");
        if digest.len() == 64 && name == partial_name(digest, pid) {
            removed |= remove::remove_tree(&e.path(), false)?;
        }
    }
    Ok(UndoOutcome::done_if(removed))
}

/// The SHA-256 of the archive's bytes, remembered by the file's identity.
pub fn digest(archive: &Path, cache: &Path) -> Result<String, OpError> {
    let meta = std::fs::metadata(archive)
        .map_err(|e| io(e, format!("there is no archive at {}", archive.display())))?;
    let key = format!(
        "{:x}-{:x}-{:x}-{:x}.{:x}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec()
    );
    let memo = cache.join("stat").join(&key);
    if let Ok(d) = std::fs::read_to_string(&memo) {
        if d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(d);
        }
    }
    let mut file = std::fs::File::open(archive)
        .map_err(|e| io(e, format!("cannot open {}", archive.display())))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| io(e, format!("cannot read {}", archive.display())))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let d: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let _ = std::fs::create_dir_all(cache.join("stat"));
    let _ = std::fs::write(&memo, &d);
    Ok(d)
}

/// The cached tree of `archive`, extracting it first when no run has yet. Returns the
/// tree's path and the extraction report when this call extracted it.
pub fn get(
    archive: &Path,
    opts: ExtractOptions,
) -> Result<(PathBuf, Option<ExtractReport>), OpError> {
    if !archive.is_file() {
        return Err(OpError::os(
            Errno::ENOENT,
            format!("there is no archive at {}", archive.display()),
        )
        .with_hint("make one with: docker export CONTAINER -o go_root.tar"));
    }
    let cache = dir();
    std::fs::create_dir_all(&cache).map_err(|e| {
        io(
            e,
            format!("cannot create the cache directory {}", cache.display()),
        )
    })?;
    let digest = digest(archive, &cache)?;
    let tree = cache.join(&digest);
    if tree.is_dir() {
        return Ok((tree, None));
    }
    // Extract beside the entry and rename: a concurrent run sees all of it or nothing.
    let partial = cache.join(partial_name(&digest, std::process::id()));
    let _ = remove::remove_tree(&partial, false);
    std::fs::create_dir(&partial)
        .map_err(|e| io(e, format!("cannot create {}", partial.display())))?;
    let result =
        extract::open_root(&partial).and_then(|root| extract::extract(archive, &root, opts));
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = remove::remove_tree(&partial, false);
            return Err(e);
        }
    };
    match std::fs::rename(&partial, &tree) {
        Ok(()) => {
            let source = std::fs::canonicalize(archive).unwrap_or_else(|_| archive.to_path_buf());
            let _ = std::fs::write(
                cache.join(format!("{digest}.source")),
                source.display().to_string(),
            );
            Ok((tree, Some(report)))
        }
        Err(_) if tree.is_dir() => {
            // Another run cached the same archive first: use theirs.
            let _ = remove::remove_tree(&partial, false);
            Ok((tree, None))
        }
        Err(e) => {
            let _ = remove::remove_tree(&partial, false);
            Err(io(
                e,
                format!("cannot move the extraction to {}", tree.display()),
            ))
        }
    }
}

/// One cached tree, as `nsr cache ls` shows it.
#[derive(Debug, Clone)]
pub struct CacheEntry {
    pub digest: String,
    pub path: PathBuf,
    pub source: String,
    pub bytes: u64,
    pub files: u64,
}

pub fn list() -> Result<Vec<CacheEntry>, OpError> {
    let cache = dir();
    let Ok(read) = std::fs::read_dir(&cache) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for e in read.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let (bytes, files) = usage(&e.path());
        out.push(CacheEntry {
            source: std::fs::read_to_string(cache.join(format!("{name}.source")))
                .unwrap_or_default(),
            digest: name,
            path: e.path(),
            bytes,
            files,
        });
    }
    out.sort_by(|a, b| a.digest.cmp(&b.digest));
    Ok(out)
}

fn usage(dir: &Path) -> (u64, u64) {
    let mut bytes = 0;
    let mut files = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in read.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            files += 1;
            if m.is_dir() {
                stack.push(e.path());
            } else {
                bytes += m.len();
            }
        }
    }
    (bytes, files)
}

/// Whether some mount (an overlay over the tree, a bind of it) still uses `tree`.
fn in_use(tree: &Path) -> bool {
    let t = tree.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.contains(&t))
}

/// Removes the entries whose digest starts with one of `which` (all when empty); an
/// entry a mount still uses is kept and named in the error.
pub fn clear(which: &[String]) -> Result<Vec<CacheEntry>, OpError> {
    let cache = dir();
    let entries = list()?;
    // Each digest (or unique prefix, as `nsr cache ls` shows them) names one entry:
    // checked before anything is removed.
    for w in which {
        let matching = entries
            .iter()
            .filter(|e| e.digest.starts_with(w.as_str()))
            .count();
        if matching != 1 {
            return Err(OpError::os(
                if matching == 0 {
                    Errno::ENOENT
                } else {
                    Errno::EINVAL
                },
                format!(
                    "{} {w} in {} (`nsr cache ls` lists them)",
                    if matching == 0 {
                        "no cache entry"
                    } else {
                        "more than one cache entry starts with"
                    },
                    cache.display()
                ),
            ));
        }
    }
    let mut removed = Vec::new();
    for entry in entries {
        if !which.is_empty() && !which.iter().any(|w| entry.digest.starts_with(w.as_str())) {
            continue;
        }
        if in_use(&entry.path) {
            return Err(OpError::os(
                Errno::EBUSY,
                format!(
                    "{} is in use by a mount (an overlay_root of a running recipe?)",
                    entry.path.display()
                ),
            ));
        }
        remove::remove_tree(&entry.path, false)?;
        let _ = std::fs::remove_file(cache.join(format!("{}.source", entry.digest)));
        removed.push(entry);
    }
    if which.is_empty() {
        let _ = std::fs::remove_dir_all(cache.join("stat"));
    } else if let Ok(read) = std::fs::read_dir(cache.join("stat")) {
        for e in read.flatten() {
            let d = std::fs::read_to_string(e.path()).unwrap_or_default();
            if removed.iter().any(|r| r.digest == d) {
                let _ = std::fs::remove_file(e.path());
            }
        }
        // Gone once its last entry is (remove_dir removes only an empty directory).
        let _ = std::fs::remove_dir(cache.join("stat"));
    }
    Ok(removed)
}
