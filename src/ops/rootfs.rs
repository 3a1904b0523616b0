//! Root filesystems as typed operations and undos, with the commands they stand for.

use super::shell::shell_quote;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RootfsOp {
    /// `mkdir DIR && tar xf ARCHIVE -C DIR`
    FromTar {
        archive: String,
        dir: String,
        strict: bool,
        progress: bool,
    },
    /// `mount -t overlay overlay -o lowerdir=L,upperdir=U,workdir=W DIR`, with the
    /// upper and work directories made by nsr beside DIR.
    Overlay { lower: Vec<String>, dir: String },
    /// A `docker save` archive or OCI layout, its layers applied in order.
    FromImage {
        image: String,
        dir: String,
        tag: Option<String>,
        strict: bool,
        progress: bool,
    },
    /// `mkdir -p PATH`: the directories it had to create are its undo.
    MakeDir { path: String },
    /// The archive extracted once into nsr's cache (kept across runs, not undone).
    Cached {
        archive: String,
        strict: bool,
        progress: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RootfsUndo {
    /// Remove what was extracted; the directory too when the run created it.
    RemoveTree { dir: String, keep_dir: bool },
    /// `rmdir` the directories `make_dir` created, deepest first, if still empty.
    RemoveDirs { dirs: Vec<String> },
    /// Remove the half-extracted cache entries (`.DIGEST.PID`) of nsr process `pid`.
    RemoveCachePartials { cache: String, pid: u32 },
    /// Unmount the overlay (found by mount ID; 0: the overlay on `dir` whose upper
    /// directory is in `state`), remove its upper and work directories, and the mount
    /// point when the run created it.
    Overlay {
        dir: String,
        mnt_id: u64,
        state: String,
        keep_dir: bool,
    },
}

/// Where `overlay_root(_, dir)` keeps its upper and work directories: beside DIR.
pub fn overlay_state_dir(dir: &str) -> String {
    let p = std::path::Path::new(dir);
    let name = p.file_name().unwrap_or_default().to_string_lossy();
    p.with_file_name(format!(".{name}.nsr-overlay"))
        .display()
        .to_string()
}

impl RootfsOp {
    pub fn primitive(&self) -> &'static str {
        match self {
            RootfsOp::FromTar { .. } => "rootfs_from_tar",
            RootfsOp::Overlay { .. } => "overlay_root",
            RootfsOp::Cached { .. } => "rootfs_cache",
            RootfsOp::FromImage { .. } => "rootfs_from_image",
            RootfsOp::MakeDir { .. } => "make_dir",
        }
    }

    pub fn shell(&self) -> String {
        match self {
            RootfsOp::FromTar { archive, dir, .. } => format!(
                "mkdir -p {d} && tar xf {} --ignore-command-error -C {d}",
                shell_quote(archive),
                d = shell_quote(dir)
            ),
            RootfsOp::Overlay { lower, dir } => {
                let state = overlay_state_dir(dir);
                format!(
                    "mkdir -p {d} {s}/upper {s}/work && mount -t overlay overlay -o lowerdir={},upperdir={s}/upper,workdir={s}/work {d}",
                    lower.iter().map(|l| shell_quote(l)).collect::<Vec<_>>().join(":"),
                    d = shell_quote(dir),
                    s = shell_quote(&state)
                )
            }
            RootfsOp::MakeDir { path } => format!("mkdir -p {}", shell_quote(path)),
            RootfsOp::FromImage { image, dir, .. } => format!(
                "mkdir -p {d} && for layer in $(jq -r '.[0].Layers[]' manifest.json); do tar xf {}/$layer -C {d}; done  # and whiteouts",
                shell_quote(image),
                d = shell_quote(dir)
            ),
            RootfsOp::Cached { archive, .. } => format!(
                "d=/var/cache/nsr/rootfs/$(sha256sum < {a} | cut -d' ' -f1); [ -d $d ] || {{ mkdir -p $d && tar xf {a} -C $d; }}",
                a = shell_quote(archive)
            ),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            RootfsOp::FromTar { archive, dir, .. } => format!("root {dir} from {archive}"),
            RootfsOp::Overlay { lower, dir } => {
                format!("overlay root {dir} over {}", lower.join(":"))
            }
            RootfsOp::Cached { archive, .. } => format!("cached root of {archive}"),
            RootfsOp::FromImage { image, dir, .. } => format!("root {dir} from image {image}"),
            RootfsOp::MakeDir { path } => format!("directory {path}"),
        }
    }
}

impl RootfsUndo {
    pub fn describe(&self) -> String {
        match self {
            RootfsUndo::RemoveTree {
                dir,
                keep_dir: false,
            } => format!("rm -rf {}", shell_quote(dir)),
            RootfsUndo::RemoveTree {
                dir,
                keep_dir: true,
            } => {
                format!("find {} -mindepth 1 -delete", shell_quote(dir))
            }
            RootfsUndo::RemoveDirs { dirs } => format!(
                "rmdir {}",
                dirs.iter()
                    .map(|d| shell_quote(d))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            RootfsUndo::RemoveCachePartials { cache, pid } => {
                format!("rm -rf {}/.*.{pid}", shell_quote(cache))
            }
            RootfsUndo::Overlay {
                dir,
                state,
                keep_dir,
                ..
            } => format!(
                "umount {d} && rm -rf {}{}",
                shell_quote(state),
                if *keep_dir {
                    String::new()
                } else {
                    format!(" && rmdir {}", shell_quote(dir))
                },
                d = shell_quote(dir)
            ),
        }
    }
}
