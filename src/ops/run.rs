//! A command to run in a sandbox and what it gave back; a line of mountinfo.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSpec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<String>,
    pub stdin: Option<String>,
    /// This command's confinement options, over the sandbox's.
    #[serde(default)]
    pub confine: crate::confine::ConfineOptions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResult {
    /// Exit status, or None when a signal ended the command.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The kernel's OOM killer ended it (the sandbox's memory limit).
    #[serde(default)]
    pub oom_killed: bool,
    /// A fork of the sandbox's failed at its pids limit while it ran.
    #[serde(default)]
    pub pids_limit_hit: bool,
}

/// One line of /proc/PID/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountEntry {
    pub id: u64,
    pub parent: u64,
    pub mount_point: String,
    pub fstype: String,
    pub source: String,
    pub options: String,
    /// The filesystem's own options (an overlay's lowerdir/upperdir/workdir).
    #[serde(default)]
    pub super_options: String,
}
