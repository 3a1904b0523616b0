//! `nsr down` and `nsr ls`: undo what an environment's journal says is left, from
//! another process than the run that made it (which may have been killed), and list
//! environments. Each undo is idempotent: what is gone already is not an error.

use super::store::{self, Record};
use crate::backend::Backend;
use crate::fs::mounting;
use crate::journal::{JournalEntry, Origin, UndoJournal, UndoReport};
use crate::net::kernel::{NetKernel, SandboxNetns};
use crate::ops::{CutShort, Op, OpError, Output, SandboxId, Undo, UndoOutcome};
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

struct NoSandboxes;

impl SandboxNetns for NoSandboxes {
    fn netns_path(&self, _id: SandboxId) -> Option<String> {
        None
    }
}

/// Undoes journal entries without the run's live handles: sandboxes by pid (checked to
/// be nsr holders started for this environment), everything else by name or mount ID.
struct RecoveryBackend {
    net: NetKernel,
    started: i64,
}

fn boot_time() -> i64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse().ok()))
        })
        .unwrap_or(0)
}

/// Whether `pid` is an nsr holder that started no earlier than `since` (seconds since
/// the epoch): never kill a process that reused the pid.
pub fn is_our_holder(pid: i32, since: i64) -> bool {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim() != "nsr-holder" {
        return false;
    }
    // A killed holder nobody has reaped yet is no sandbox any more.
    let Some(ticks) = crate::ns::inspect::start_ticks(pid) else {
        return false;
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    boot_time() + ticks as i64 / hz >= since - 1
}

fn descendants(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut stack = vec![pid];
    while let Some(p) = stack.pop() {
        for c in crate::ns::inspect::children_of(p) {
            out.push(c);
            stack.push(c);
        }
    }
    out
}

impl Backend for RecoveryBackend {
    fn apply(&mut self, _op: &Op) -> Result<(Output, Option<Undo>), OpError> {
        Err(OpError::new("nsr down only undoes"))
    }

    fn undo(&mut self, undo: &Undo) -> Result<UndoOutcome, OpError> {
        match undo {
            Undo::StopSandbox { pid, cgroups, .. } if !cgroups.is_empty() => {
                // The holder first, then what its commands left running in its groups.
                let holder = self.undo(&Undo::StopSandbox {
                    sandbox: 0,
                    pid: *pid,
                    cgroups: Vec::new(),
                })?;
                let removed = crate::cgroup::sandbox::remove_all(cgroups)?;
                Ok(if removed { UndoOutcome::Done } else { holder })
            }
            Undo::RemoveCgroups { paths } => Ok(UndoOutcome::done_if(
                crate::cgroup::sandbox::remove_all(paths)?,
            )),
            // The values go with the groups, which the sandbox's own undo removes.
            Undo::RestoreLimits { .. } => Ok(UndoOutcome::Released),
            Undo::StopSandbox { pid, .. } => {
                if !is_our_holder(*pid, self.started) {
                    return Ok(UndoOutcome::AlreadyGone);
                }
                for p in descendants(*pid).into_iter().rev() {
                    let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
                }
                let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
                let deadline = Instant::now() + Duration::from_secs(5);
                while Path::new(&format!("/proc/{pid}/comm")).exists()
                    && is_our_holder(*pid, self.started)
                {
                    if Instant::now() > deadline {
                        return Err(OpError::os(
                            Errno::EBUSY,
                            format!("sandbox holder {pid} did not end"),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(UndoOutcome::Done)
            }
            // Found by its ID in the host's mount table, wherever the sandbox's root put
            // it (the journal's target is the path inside that root).
            Undo::Umount {
                mnt_id,
                unique,
                host_ns: true,
                ..
            } => Ok(UndoOutcome::done_if(mounting::unmount_own(
                mounting::MountId {
                    id: *mnt_id,
                    unique: *unique,
                },
            )?)),
            // These lived in a sandbox's own namespaces, which ended with its holder.
            Undo::Umount { .. }
            | Undo::RestoreHostname { .. }
            | Undo::Unchroot { .. }
            | Undo::ReleasedWithSandbox { .. } => Ok(UndoOutcome::Released),
            Undo::Net(u) => self.net.recover_undo(u, &NoSandboxes),
            Undo::Rootfs(u) => crate::rootfs::kernel::undo_apply(u),
            Undo::RootfsIn { undo, .. } => {
                if nix::unistd::geteuid().is_root() {
                    crate::rootfs::kernel::undo_apply(undo)
                } else {
                    Err(OpError::new(
                        "the files belong to the sandbox's user namespace, which has ended",
                    )
                    .with_hint("remove them as root"))
                }
            }
            Undo::UmountAbove { target, below } => Ok(UndoOutcome::done_if(
                mounting::unmount_above(target, *below)?,
            )),
            Undo::Settle => Ok(UndoOutcome::Done),
        }
    }

    fn begin_rollback(&mut self, _whole: bool) {
        self.net.begin_rollback(false);
    }

    fn settle(&mut self) -> Result<(), OpError> {
        self.net.settle()?;
        crate::net::netns::restore_run_dir()
    }
}

/// Whether a half-finished action's resource was made after its intent (so by it), for
/// the undos that cannot tell by themselves (the others check a tag, a mount ID, a
/// value read before the action, or remove only what is empty).
fn made_after(undo: &Undo, at_ns: i64) -> bool {
    use crate::ops::net::NetUndo;
    use crate::ops::rootfs::RootfsUndo;
    let ctime_ns = |p: &str| {
        std::fs::symlink_metadata(p)
            .map(|m| m.ctime() * 1_000_000_000 + m.ctime_nsec())
            .ok()
    };
    match undo {
        Undo::Net(NetUndo::DeleteNetns { name }) => {
            ctime_ns(&crate::net::netns::path_of(name)).is_some_and(|c| c >= at_ns)
        }
        Undo::Rootfs(RootfsUndo::RemoveTree { dir, .. })
        | Undo::RootfsIn {
            undo: RootfsUndo::RemoveTree { dir, .. },
            ..
        } => ctime_ns(dir).is_some_and(|c| c >= at_ns),
        _ => true,
    }
}

/// What `nsr down` did to one environment.
pub struct DownReport {
    pub name: String,
    pub undone: Vec<UndoReport>,
    /// Unreadable journal lines, and half-finished actions nsr could not take back.
    pub problems: Vec<String>,
    pub removed: bool,
}

/// Undoes what environment `name` left, newest first, then removes it.
pub fn down(name: &str) -> Result<DownReport, OpError> {
    let dir = store::existing(name, "nsr ls lists them")?;
    let Some(_lock) = store::try_lock(&dir)? else {
        let pid = store::read_meta(&dir).map(|m| m.pid).unwrap_or(0);
        return Err(OpError::os(
            Errno::EBUSY,
            format!("environment '{name}' is in use (nsr pid {pid})"),
        )
        .with_hint("it undoes what it made when it ends; stop it with Ctrl-C or kill -TERM"));
    };
    let meta = store::read_meta(&dir);
    let started = meta.as_ref().map(|m| m.started).unwrap_or(0);
    let (records, mut problems) = store::read_records(&dir);
    let mut done: BTreeMap<u64, JournalEntry> = BTreeMap::new();
    let mut intents: BTreeMap<u64, (String, CutShort, Origin, i64)> = BTreeMap::new();
    let mut finished: HashSet<u64> = HashSet::new();
    let mut undone: HashSet<u64> = HashSet::new();
    for r in records {
        match r {
            Record::Intent {
                seq,
                what,
                cut_short,
                origin,
                at,
            } => {
                intents.insert(seq, (what, cut_short, origin, at));
            }
            Record::Done {
                seq,
                what,
                origin,
                undo,
            } => {
                finished.insert(seq);
                done.insert(
                    seq,
                    JournalEntry {
                        seq,
                        what,
                        origin,
                        undo,
                    },
                );
            }
            Record::Nothing { seq } => {
                finished.insert(seq);
            }
            Record::Meta(_) | Record::Kept => {}
            Record::Undone { seq } => {
                undone.insert(seq);
            }
        }
    }
    for (seq, (what, cut_short, origin, at)) in intents {
        if finished.contains(&seq) {
            continue;
        }
        match cut_short {
            CutShort::Undo(undo) if made_after(&undo, at) => {
                done.insert(
                    seq,
                    JournalEntry {
                        seq,
                        what: format!("{what} (cut short)"),
                        origin,
                        undo,
                    },
                );
            }
            CutShort::Undo(_) | CutShort::Nothing(_) => {}
            CutShort::Unknown => problems.push(format!(
                "the run was cut short during `{what}`: if it made something, nsr cannot tell; check by hand"
            )),
        }
    }
    let mut journal = UndoJournal::default();
    for (seq, e) in done.into_iter().filter(|(s, _)| !undone.contains(s)) {
        journal.record(seq, e.what, e.origin, e.undo);
    }
    let mut backend = RecoveryBackend {
        net: NetKernel::recovering(meta.as_ref().map(|m| m.pid).unwrap_or(0)),
        started,
    };
    let reports = journal.rollback(&mut backend);
    let failed = reports.iter().any(|r| r.failed());
    if !failed {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        let done: Vec<Record> = reports
            .iter()
            .filter(|r| !r.failed() && r.entry.seq > 0)
            .map(|r| Record::Undone { seq: r.entry.seq })
            .collect();
        store::append(&dir, &done);
    }
    Ok(DownReport {
        name: name.to_string(),
        undone: reports,
        problems,
        removed: !failed,
    })
}

/// One environment, as `nsr ls` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EnvInfo {
    pub name: String,
    pub recipe: String,
    pub pid: i32,
    /// Seconds since it started.
    pub age: i64,
    /// A live nsr holds it; otherwise it was kept, or left by a run that did not end
    /// cleanly.
    pub running: bool,
    pub kept: bool,
    /// Of its sandboxes' holders, those still alive.
    pub alive_sandboxes: Vec<i32>,
    /// Resources its journal says are still there.
    pub resources: usize,
    pub sandboxes: Vec<i32>,
    /// What the cgroups of each live sandbox counted (`box.usage()`), by holder pid.
    pub usage: BTreeMap<i32, BTreeMap<String, i64>>,
}

pub fn list() -> Vec<EnvInfo> {
    let base = store::base_dir();
    let Ok(read) = std::fs::read_dir(&base) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in read.flatten() {
        let dir = e.path();
        if !dir.is_dir() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let meta = store::read_meta(&dir);
        let running = store::try_lock(&dir).ok().flatten().is_none();
        let (records, _) = store::read_records(&dir);
        let mut live: BTreeMap<u64, Undo> = BTreeMap::new();
        for r in records {
            match r {
                Record::Done { seq, undo, .. } => {
                    live.insert(seq, undo);
                }
                Record::Undone { seq } => {
                    live.remove(&seq);
                }
                _ => {}
            }
        }
        let sandboxes = live
            .values()
            .filter_map(|u| match u {
                Undo::StopSandbox { pid, .. } => Some(*pid),
                _ => None,
            })
            .collect();
        let started = meta.as_ref().map(|m| m.started).unwrap_or(0);
        let alive: Vec<(i32, &Vec<String>)> = live
            .values()
            .filter_map(|u| match u {
                Undo::StopSandbox { pid, cgroups, .. } if is_our_holder(*pid, started) => {
                    Some((*pid, cgroups))
                }
                _ => None,
            })
            .collect();
        let usage = alive
            .iter()
            .filter(|(_, cgroups)| !cgroups.is_empty())
            .map(|(pid, cgroups)| (*pid, crate::cgroup::sandbox::usage(cgroups)))
            .collect();
        let alive_sandboxes = alive.iter().map(|(pid, _)| *pid).collect();
        out.push(EnvInfo {
            kept: meta.as_ref().is_some_and(|m| m.kept),
            alive_sandboxes,
            recipe: meta.as_ref().map(|m| m.recipe.clone()).unwrap_or_default(),
            pid: meta.as_ref().map(|m| m.pid).unwrap_or(0),
            age: meta.map(|m| store::now() - m.started).unwrap_or(0),
            running,
            resources: live.len(),
            sandboxes,
            usage,
            name,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}
