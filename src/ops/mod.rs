//! Typed operations: what each primitive asks of the system, what it gives back, the
//! undo it leaves and what to do when nsr is killed while doing it. Data only: the
//! backends (`crate::backend`) do them.

pub mod cidr;
mod error;
pub mod kinds;
pub mod limits;
pub mod mount;
pub mod names;
pub mod nat;
pub mod net;
pub mod pasta;
pub mod rootfs;
pub mod route;
pub mod run;
pub mod sandbox;
mod shell;
pub mod vxlan;

pub use error::OpError;
pub use sandbox::SandboxId;
pub use shell::{sandbox_pid_var, shell_quote};

use limits::CgroupLimits;
use mount::MountSpec;
use net::{NetOp, NetOutput, NetUndo};
use rootfs::{RootfsOp, RootfsUndo};
use run::{MountEntry, RunResult, RunSpec};
use sandbox::SandboxSpec;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Unshare(SandboxSpec),
    SetHostname {
        sandbox: SandboxId,
        name: String,
    },
    GetHostname {
        sandbox: SandboxId,
    },
    Mount {
        sandbox: SandboxId,
        spec: MountSpec,
    },
    Chroot {
        sandbox: SandboxId,
        path: String,
    },
    PivotRoot {
        sandbox: SandboxId,
        new_root: String,
    },
    Run {
        sandbox: SandboxId,
        spec: RunSpec,
    },
    Exec {
        sandbox: SandboxId,
        spec: RunSpec,
    },
    Namespaces {
        pid: i32,
    },
    MountInfo {
        sandbox: SandboxId,
    },
    Net(NetOp),
    Rootfs(RootfsOp),
    /// A root filesystem operation done inside a sandbox (its user namespace).
    RootfsIn {
        sandbox: SandboxId,
        op: RootfsOp,
    },
    /// Change the cgroup limits of a running sandbox.
    SetLimits {
        sandbox: SandboxId,
        limits: CgroupLimits,
    },
    /// What a sandbox's cgroups have counted.
    Usage {
        sandbox: SandboxId,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Unit,
    Sandbox {
        id: SandboxId,
        pid: i32,
    },
    Text(String),
    Ran(RunResult),
    ExitCode(i32),
    Namespaces(BTreeMap<String, u64>),
    MountInfo(Vec<MountEntry>),
    Net(NetOutput),
    /// Counters by name (`memory_current`, `cpu_usec`, ...).
    Usage(BTreeMap<String, i64>),
}

/// How to take back what an operation did. Recorded in the journal before the
/// primitive returns to the recipe.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Undo {
    /// Stop the sandbox's processes; its namespaces go with them.
    StopSandbox {
        sandbox: SandboxId,
        pid: i32,
        /// Its cgroups (`crate::cgroup`), in the order they are removed (a child before
        /// its parent), once the sandbox stopped; what still runs in them is killed.
        #[serde(default)]
        cgroups: Vec<String>,
    },
    /// Remove cgroups of nsr's (a sandbox start cut short), killing what is in them.
    RemoveCgroups {
        paths: Vec<String>,
    },
    /// Write back the values limit files of a sandbox's cgroups had (`box.limits`).
    RestoreLimits {
        sandbox: SandboxId,
        /// (file, value), in the order to write them.
        files: Vec<(String, String)>,
    },
    /// Unmount exactly the mount that was made, found by its mount ID.
    Umount {
        sandbox: SandboxId,
        mnt_id: u64,
        /// The mount's never-reused ID (Linux 6.8+), so that `nsr down` cannot take a
        /// later mount that got the same `mnt_id` for this one.
        #[serde(default)]
        unique: Option<u64>,
        target: String,
        host_ns: bool,
    },
    RestoreHostname {
        sandbox: SandboxId,
        old: String,
    },
    /// Return the sandbox to the root it had before `chroot`.
    Unchroot {
        sandbox: SandboxId,
        path: String,
    },
    /// Nothing to do on its own: the change lives in a namespace that ends with the sandbox.
    ReleasedWithSandbox {
        sandbox: SandboxId,
        what: String,
    },
    Net(NetUndo),
    Rootfs(RootfsUndo),
    RootfsIn {
        sandbox: SandboxId,
        undo: RootfsUndo,
    },
    /// Unmount what is mounted on `target` (as nsr sees it) if it is newer than the mount
    /// that was on top there before (`below`, a unique mount ID when the kernel has
    /// them): takes back a mount on the host cut short before its ID was known.
    UmountAbove {
        target: String,
        below: u64,
    },
    /// Not recorded by any primitive: stands for the wait at the end of a rollback
    /// (links that go with a deleted namespace), so that its failure can be reported.
    Settle,
}

/// What `nsr down` does about an action that may have been cut short (nsr killed
/// while the kernel did it) before its outcome was written. Worked out from the state
/// just before the action, so that it never takes what existed before.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum CutShort {
    /// This undo takes back whatever part of the action happened; it checks that what it
    /// removes is the action's own (a link's group tag, a mount newer than the one
    /// below, a directory that did not exist).
    Undo(Undo),
    /// Nothing to do on its own: it lives inside something made earlier and goes with
    /// it, or it cannot succeed. Why, in words.
    Nothing(String),
    /// nsr cannot tell what it made; `nsr down` says so.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UndoOutcome {
    Done,
    /// The resource was gone already (an undo step is idempotent).
    AlreadyGone,
    /// Nothing to do on its own: the resource goes with the namespace (or link) that
    /// holds it, which a later step of the same rollback removes.
    Released,
}

impl UndoOutcome {
    /// Done when the undo removed something, else the resource was gone already.
    pub fn done_if(removed: bool) -> UndoOutcome {
        if removed {
            UndoOutcome::Done
        } else {
            UndoOutcome::AlreadyGone
        }
    }
}

impl Op {
    /// The journal's words for what the operation created (given what it gave back).
    pub fn made(&self, output: &Output) -> String {
        match (self, output) {
            (Op::Unshare(spec), Output::Sandbox { pid, .. }) => {
                let kinds: Vec<_> = spec.create.iter().map(|k| k.name()).collect();
                format!("sandbox pid {pid} [{}]", kinds.join(" "))
            }
            (Op::SetHostname { name, .. }, _) => format!("hostname {name}"),
            (Op::Mount { spec, .. }, _) => format!("mount {}", spec.describe()),
            (Op::Chroot { path, .. }, _) => format!("chroot {path}"),
            (Op::PivotRoot { new_root, .. }, _) => format!("pivot_root {new_root}"),
            (Op::Net(op), _) => op.describe(),
            (Op::Rootfs(op), _) => op.describe(),
            (Op::RootfsIn { op, .. }, _) => format!("{} (in the sandbox)", op.describe()),
            (op, _) => op.shell(),
        }
    }

    /// Whether the operation may leave something to undo (it is then written to the
    /// environment's journal before it runs).
    pub fn may_create(&self) -> bool {
        !matches!(
            self,
            Op::Run { .. }
                | Op::Exec { .. }
                | Op::Namespaces { .. }
                | Op::MountInfo { .. }
                | Op::GetHostname { .. }
                | Op::Usage { .. }
                | Op::Net(
                    NetOp::Links { .. }
                        | NetOp::Addrs { .. }
                        | NetOp::Routes { .. }
                        | NetOp::NetnsOpen { .. }
                )
        )
    }

    /// The primitive's name, as a recipe calls it.
    pub fn primitive(&self) -> &'static str {
        match self {
            Op::Unshare(_) => "unshare",
            Op::SetHostname { .. } | Op::GetHostname { .. } => "hostname",
            Op::Mount { .. } => "mount",
            Op::Chroot { .. } => "chroot",
            Op::PivotRoot { .. } => "pivot_root",
            Op::Run { .. } => "run",
            Op::Exec { .. } => "exec",
            Op::Namespaces { .. } => "namespaces",
            Op::MountInfo { .. } => "mountinfo",
            Op::Net(op) => op.primitive(),
            Op::Rootfs(op) | Op::RootfsIn { op, .. } => op.primitive(),
            Op::SetLimits { .. } => "limits",
            Op::Usage { .. } => "usage",
        }
    }

    /// The shell command from the tutorial's toolbox that does the same.
    pub fn shell(&self) -> String {
        match self {
            Op::Unshare(spec) => spec.to_string(),
            Op::SetHostname { name, .. } => format!("hostname {}", shell_quote(name)),
            Op::GetHostname { .. } => "hostname".into(),
            Op::Mount { spec, .. } => spec.to_string(),
            Op::Chroot { path, .. } => format!("chroot {}", shell_quote(path)),
            Op::PivotRoot { new_root, .. } => format!(
                "cd {} && pivot_root . . && umount -l .",
                shell_quote(new_root)
            ),
            Op::Run { spec, .. } | Op::Exec { spec, .. } => spec
                .argv
                .iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" "),
            Op::Namespaces { pid } => format!("ls -l /proc/{pid}/ns"),
            Op::MountInfo { .. } => "cat /proc/self/mountinfo".into(),
            Op::Net(op) => op.shell(),
            Op::Rootfs(op) => op.shell(),
            Op::RootfsIn { sandbox, op } => {
                format!(
                    "nsenter -U -m -t {} sh -c {}",
                    sandbox_pid_var(*sandbox),
                    shell_quote(&op.shell())
                )
            }
            Op::SetLimits { limits, .. } => format!("set cgroup limits {limits}"),
            Op::Usage { sandbox } => format!(
                "cat /sys/fs/cgroup/.../nsr-*-{sandbox}/{{memory.current,pids.current,cpu.stat}}"
            ),
        }
    }
}

impl Undo {
    pub fn describe(&self) -> String {
        match self {
            Undo::StopSandbox { pid, .. } => format!("stop sandbox (pid {pid})"),
            Undo::RemoveCgroups { paths } => format!("rmdir {}", paths.join(" ")),
            Undo::RestoreLimits { files, .. } => files
                .iter()
                .map(|(f, v)| format!("echo {} > {f}", shell_quote(v)))
                .collect::<Vec<_>>()
                .join("; "),
            Undo::Umount { target, .. } | Undo::UmountAbove { target, .. } => {
                format!("umount {target}")
            }
            Undo::RestoreHostname { old, .. } => format!("restore hostname {old}"),
            Undo::Unchroot { path, .. } => format!("leave chroot {path}"),
            Undo::ReleasedWithSandbox { what, .. } => what.clone(),
            Undo::Net(u) => u.describe(),
            Undo::Rootfs(u) | Undo::RootfsIn { undo: u, .. } => u.describe(),
            Undo::Settle => "links of deleted namespaces may still exist".into(),
        }
    }

    /// What a person would do by hand when this undo failed: `describe`, with a warning
    /// where following it blindly could damage the host (`rm -rf` of a tree that still
    /// has a mount in it deletes what is mounted there).
    pub fn by_hand(&self) -> String {
        match self {
            Undo::Rootfs(u) | Undo::RootfsIn { undo: u, .. } => match u {
                rootfs::RootfsUndo::RemoveTree { dir, .. } => format!(
                    "{} (first unmount what `findmnt -R {}` lists: rm -rf goes through mounts)",
                    u.describe(),
                    shell::shell_quote(dir)
                ),
                _ => u.describe(),
            },
            _ => self.describe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(shell_quote("/proc"), "/proc");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
