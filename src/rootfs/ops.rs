//! Root filesystems as typed operations and undos, with the commands they stand for.

use crate::ops::shell_quote;

#[derive(Debug, Clone, PartialEq)]
pub enum RootfsOp {
    /// `mkdir DIR && tar xf ARCHIVE -C DIR`
    FromTar {
        archive: String,
        dir: String,
        strict: bool,
        progress: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum RootfsUndo {
    /// Remove what was extracted; the directory too when the run created it.
    RemoveTree { dir: String, keep_dir: bool },
}

impl RootfsOp {
    pub fn primitive(&self) -> &'static str {
        match self {
            RootfsOp::FromTar { .. } => "rootfs_from_tar",
        }
    }

    pub fn shell(&self) -> String {
        match self {
            RootfsOp::FromTar { archive, dir, .. } => format!(
                "mkdir -p {d} && tar xf {} --ignore-command-error -C {d}",
                shell_quote(archive),
                d = shell_quote(dir)
            ),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            RootfsOp::FromTar { archive, dir, .. } => format!("root {dir} from {archive}"),
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
        }
    }
}
