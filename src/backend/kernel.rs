//! The backend that does operations for real, against the running kernel.

use super::Backend;
use crate::cgroup::sandbox::{self as groups, SandboxGroups};
use crate::fs::mounting;
use crate::net::kernel::{NetKernel, SandboxNetns};
use crate::ns::inspect;
use crate::ops::rootfs::RootfsOp;
use crate::ops::run::{RunResult, RunSpec};
use crate::ops::sandbox::SandboxSpec;
use crate::ops::{CutShort, Op, OpError, Output, SandboxId, Undo, UndoOutcome};
use crate::sandbox::client::SandboxHandle;
use crate::sandbox::protocol::{Request, Response};
use crate::sandbox::spawn;
use crate::signals::Signals;
use std::os::fd::AsFd;

pub struct KernelBackend {
    sandboxes: Vec<SandboxHandle>,
    net: NetKernel,
    warnings: Vec<String>,
    signals: Signals,
    cgroups: crate::cgroup::planner::Planner,
    /// Each sandbox's cgroups, by sandbox.
    groups: std::collections::BTreeMap<SandboxId, SandboxGroups>,
}

/// Where each sandbox's network namespace is, for the network half of the backend.
struct SandboxPaths<'a>(&'a [SandboxHandle]);

impl SandboxNetns for SandboxPaths<'_> {
    fn netns_path(&self, id: SandboxId) -> Option<String> {
        self.0.get(id)?.ns_path(crate::ops::kinds::NsKind::Net)
    }

    fn userns_path(&self, id: SandboxId) -> Option<String> {
        self.0.get(id)?.ns_path(crate::ops::kinds::NsKind::User)
    }
}

impl KernelBackend {
    pub fn new(signals: Signals) -> KernelBackend {
        KernelBackend {
            sandboxes: Vec::new(),
            net: NetKernel::default(),
            warnings: Vec::new(),
            signals,
            cgroups: Default::default(),
            groups: Default::default(),
        }
    }

    /// A recipe that asks for Landlock hears what this kernel cannot enforce of it.
    fn warn_of_landlock(&mut self, asked: bool) {
        if let Some(w) = asked.then(crate::confine::landlock::warning).flatten() {
            self.warnings.push(w);
        }
    }

    fn sandbox(&mut self, id: SandboxId) -> Result<&mut SandboxHandle, OpError> {
        self.sandboxes
            .get_mut(id)
            .ok_or_else(|| OpError::new(format!("no sandbox #{id}")))
    }

    fn ask(&mut self, id: SandboxId, req: Request) -> Result<Response, OpError> {
        let signals = self.signals.clone();
        match self.sandbox(id)?.request(&req, &signals)? {
            Response::Failed(w) => Err(w.into()),
            other => Ok(other),
        }
    }

    fn mount(
        &mut self,
        id: SandboxId,
        spec: &crate::ops::mount::MountSpec,
    ) -> Result<(Output, Option<Undo>), OpError> {
        let sb = self.sandbox(id)?;
        let host_ns = !sb.own_mount_ns;
        let mount = match self.ask(id, Request::Mount(spec.clone()))? {
            Response::Mounted { mount } => mount,
            other => return Err(unexpected(other)),
        };
        let undo = Undo::Umount {
            sandbox: id,
            mnt_id: mount.id,
            unique: mount.unique,
            target: spec.target.clone(),
            host_ns,
        };
        Ok((Output::Unit, Some(undo)))
    }

    fn umount(
        &mut self,
        sandbox: SandboxId,
        mount: mounting::MountId,
        host_ns: bool,
    ) -> Result<UndoOutcome, OpError> {
        if host_ns {
            // The mount is in nsr's own mount table: nsr takes it back itself, even when
            // the sandbox is gone, where nsr sees it (the sandbox may be chrooted).
            return Ok(UndoOutcome::done_if(mounting::unmount_own(mount)?));
        }
        if !self.sandbox(sandbox)?.is_alive() {
            return Ok(UndoOutcome::Released);
        }
        // nsr reads where the mount is from the holder's mount table (its own /proc, not
        // the sandbox's), and the holder, in the sandbox's mount namespace, tries there.
        let pid = self.sandbox(sandbox)?.holder_pid;
        let done = mounting::unmount_by_id(
            mount,
            &mut || Ok(inspect::mount_point_of(inspect::mountinfo(pid)?, mount.id)),
            &mut |path| match self.ask(
                sandbox,
                Request::Umount {
                    path: path.to_string(),
                    mount,
                },
            )? {
                Response::Unmounted(attempt) => Ok(attempt),
                other => Err(unexpected(other)),
            },
        )?;
        // Not in the holder's table: gone, or detached with an old root.
        Ok(if done {
            UndoOutcome::Done
        } else {
            UndoOutcome::AlreadyGone
        })
    }
}

impl KernelBackend {
    /// This run's running sandbox whose holder is `pid`.
    fn live_sandbox_of(&self, pid: i32) -> Option<&SandboxHandle> {
        self.sandboxes
            .iter()
            .find(|s| s.is_alive() && s.holder_pid == pid)
    }

    /// A sandbox that joins one of this run's sandboxes joins through the namespace fds
    /// nsr holds (the first child, a fork of nsr, has them too), not /proc/PID/ns of a
    /// holder that is not dumpable.
    fn joins_by_fd(
        &self,
        spec: &crate::ops::sandbox::SandboxSpec,
    ) -> crate::ops::sandbox::SandboxSpec {
        use crate::ops::sandbox::JoinTarget;
        let mut spec = spec.clone();
        for (kind, target) in spec.join.iter_mut() {
            let JoinTarget::Pid(pid) = target else {
                continue;
            };
            let held = self.live_sandbox_of(*pid).and_then(|s| s.ns_path(*kind));
            if let Some(path) = held {
                *target = JoinTarget::Path(path);
            }
        }
        spec
    }

    /// A mount in the host's mount table (the sandbox shares it) is taken back by
    /// `nsr down` if it is newer than what was on top of the target before.
    fn mount_cut_short(&mut self, id: SandboxId, target: &str) -> CutShort {
        let Some(sb) = self.sandboxes.get(id) else {
            return CutShort::Nothing("there is no such sandbox: it fails".into());
        };
        if sb.own_mount_ns {
            return CutShort::Nothing("the mount lives in the sandbox's mount namespace".into());
        }
        // The sandbox may have chrooted: its target as nsr sees it.
        let root = std::fs::read_link(format!("/proc/{}/root", sb.holder_pid))
            .unwrap_or_else(|_| "/".into());
        let path = root.join(target.trim_start_matches('/'));
        let path = path.display().to_string();
        match crate::sys::top_mount_at(&path) {
            Ok((below, _, _)) => CutShort::Undo(Undo::UmountAbove {
                target: path,
                below,
            }),
            Err(_) => CutShort::Nothing(format!("{path} cannot be looked at: the mount fails")),
        }
    }
}

fn unexpected(r: Response) -> OpError {
    OpError::new(format!("the holder answered out of turn: {r:?}"))
}

fn ran(r: Response) -> Result<RunResult, OpError> {
    match r {
        Response::Ran(r) => Ok(r),
        other => Err(unexpected(other)),
    }
}

impl KernelBackend {
    /// A sandbox: its cgroups first (the intent named them), then the holder, which
    /// joins them before it does anything else.
    fn unshare(&mut self, spec: &SandboxSpec) -> Result<(Output, Option<Undo>), OpError> {
        self.warn_of_landlock(spec.confine.landlock.is_some());
        let id = self.sandboxes.len();
        let planned = self.cgroups.groups_for(spec, id)?;
        self.warnings
            .extend(self.cgroups.missing_warning(spec, &planned));
        let made = groups::create(&planned, &spec.limits.clone().unwrap_or_default())?;
        // The program is loaded while the sandbox sets its namespaces up: the
        // verifier's time is then not added to the start.
        let mut attach = || match (&made.devices, &planned.devices) {
            (Some(dir), Some(path)) => {
                crate::cgroup::devices::attach(path, dir, &spec.confine.devices)
            }
            _ => Ok(()),
        };
        let started = spawn::spawn(
            &self.joins_by_fd(spec),
            made.devices.as_ref().map(|dir| dir.as_fd()),
            spawn::Joining {
                unified: made.unified.as_ref().map(|dir| dir.as_fd()),
                tasks: &made.tasks,
            },
            &mut attach,
        );
        let handle = match started {
            Ok(h) => h,
            Err(e) => {
                let _ = groups::remove_all(&planned.removal_order());
                return Err(e);
            }
        };
        let pid = handle.holder_pid;
        let netns = handle.ns_path(crate::ops::kinds::NsKind::Net);
        self.sandboxes.push(handle);
        if let (true, Some(path)) = (spec.creates(crate::ops::kinds::NsKind::Net), netns) {
            self.net.adopt_sandbox(id, &path);
        }
        let cgroups = planned.removal_order();
        self.groups.insert(id, planned);
        Ok((
            Output::Sandbox { id, pid },
            Some(Undo::StopSandbox {
                sandbox: id,
                pid,
                cgroups,
            }),
        ))
    }

    fn groups_of(&self, id: SandboxId) -> Result<&SandboxGroups, OpError> {
        self.groups
            .get(&id)
            .filter(|g| !g.is_empty())
            .ok_or_else(|| {
                OpError::new(format!("sandbox #{id} has no cgroups"))
                    .with_hint("nsr could make none here (nsr doctor says why)")
            })
    }

    /// New limits for a running sandbox; the undo writes back the old values.
    fn set_limits(
        &mut self,
        id: SandboxId,
        limits: &crate::ops::limits::CgroupLimits,
    ) -> Result<(Output, Option<Undo>), OpError> {
        let (files, restore) = groups::changes(self.groups_of(id)?, limits)?;
        for (file, value) in files {
            if let Err(e) = groups::write_limit(&file, &value) {
                let _ = groups::restore(&restore);
                return Err(e);
            }
        }
        Ok((
            Output::Unit,
            Some(Undo::RestoreLimits {
                sandbox: id,
                files: restore,
            }),
        ))
    }

    /// A command whose result says whether the OOM killer or the pids limit ended it.
    fn run(&mut self, id: SandboxId, spec: &RunSpec) -> Result<RunResult, OpError> {
        let counters = |s: &Self| {
            s.groups
                .get(&id)
                .map(groups::run_counters)
                .unwrap_or_default()
        };
        let (oom_before, pids_before) = counters(self);
        let mut r = ran(self.ask(id, Request::Run(spec.clone()))?)?;
        let (oom_after, pids_after) = counters(self);
        r.oom_killed = r.signal == Some(libc::SIGKILL) && oom_after > oom_before;
        r.pids_limit_hit = pids_after > pids_before;
        Ok(r)
    }

    /// A command on the user's terminal (nsr hands it over and takes it back).
    fn exec(
        &mut self,
        sandbox: SandboxId,
        spec: &RunSpec,
    ) -> Result<(Output, Option<Undo>), OpError> {
        self.warn_of_landlock(spec.confine.landlock.is_some());
        self.net.await_addresses()?;
        let take_terminal = nsr_has_the_terminal();
        let signals = self.signals.clone();
        let result = match self.sandbox(sandbox)?.exec(spec, take_terminal, &signals)? {
            Response::Failed(w) => Err(w.into()),
            other => ran(other),
        };
        if take_terminal {
            take_back_terminal();
        }
        let r = result?;
        Ok((
            Output::ExitCode(r.code.unwrap_or_else(|| 128 + r.signal.unwrap_or(0))),
            None,
        ))
    }

    /// A root filesystem operation done by the sandbox, inside its user namespace.
    fn rootfs_in(
        &mut self,
        sandbox: SandboxId,
        op: &RootfsOp,
    ) -> Result<(Output, Option<Undo>), OpError> {
        let op = in_sandbox_paths(op);
        match self.ask(sandbox, Request::Rootfs(op))? {
            Response::Rootfs {
                text,
                undo,
                warnings,
            } => {
                self.warnings.extend(warnings);
                let undo = undo.map(|undo| Undo::RootfsIn { sandbox, undo });
                Ok((Output::Text(text), undo))
            }
            other => Err(unexpected(other)),
        }
    }
}

impl Backend for KernelBackend {
    fn apply(&mut self, op: &Op) -> Result<(Output, Option<Undo>), OpError> {
        match op {
            Op::Unshare(spec) => self.unshare(spec),
            Op::SetHostname { sandbox, name } => {
                if !self.sandbox(*sandbox)?.own_uts_ns {
                    return Err(OpError::new(
                        "hostname without a uts namespace would rename the host",
                    )
                    .with_hint("add \"uts\" to the sandbox's kinds"));
                }
                let old = match self.ask(*sandbox, Request::GetHostname)? {
                    Response::Text(t) => t,
                    other => return Err(unexpected(other)),
                };
                self.ask(*sandbox, Request::SetHostname(name.clone()))?;
                Ok((
                    Output::Unit,
                    Some(Undo::RestoreHostname {
                        sandbox: *sandbox,
                        old,
                    }),
                ))
            }
            Op::GetHostname { sandbox } => match self.ask(*sandbox, Request::GetHostname)? {
                Response::Text(t) => Ok((Output::Text(t), None)),
                other => Err(unexpected(other)),
            },
            Op::Mount { sandbox, spec } => self.mount(*sandbox, spec),
            Op::Chroot { sandbox, path } => {
                let signals = self.signals.clone();
                self.sandbox(*sandbox)?.chroot(path, &signals)?;
                Ok((
                    Output::Unit,
                    Some(Undo::Unchroot {
                        sandbox: *sandbox,
                        path: path.clone(),
                    }),
                ))
            }
            Op::PivotRoot { sandbox, new_root } => {
                if !self.sandbox(*sandbox)?.own_mount_ns {
                    return Err(OpError::new(
                        "pivot_root without a mount namespace would change the host's root",
                    )
                    .with_hint("add \"mount\" to the sandbox's kinds"));
                }
                self.ask(*sandbox, Request::PivotRoot(new_root.clone()))?;
                self.sandbox(*sandbox)?.forget_saved_roots();
                let what =
                    format!("root {new_root} (pivoted; ends with the sandbox's mount namespace)");
                Ok((
                    Output::Unit,
                    Some(Undo::ReleasedWithSandbox {
                        sandbox: *sandbox,
                        what,
                    }),
                ))
            }
            Op::Run { sandbox, spec } => {
                self.warn_of_landlock(spec.confine.landlock.is_some());
                self.net.await_addresses()?;
                Ok((Output::Ran(self.run(*sandbox, spec)?), None))
            }
            Op::Exec { sandbox, spec } => self.exec(*sandbox, spec),
            Op::Namespaces { pid } => {
                let found = match self.live_sandbox_of(*pid) {
                    Some(sb) => sb.namespace_inodes()?,
                    None => inspect::namespaces(*pid)?,
                };
                Ok((Output::Namespaces(found), None))
            }
            Op::MountInfo { sandbox } => {
                let pid = self.sandbox(*sandbox)?.holder_pid;
                Ok((Output::MountInfo(inspect::mountinfo(pid)?), None))
            }
            Op::RootfsIn { sandbox, op } => self.rootfs_in(*sandbox, op),
            Op::SetLimits { sandbox, limits } => self.set_limits(*sandbox, limits),
            Op::Usage { sandbox } => {
                let paths = self.groups_of(*sandbox)?.removal_order();
                Ok((Output::Usage(groups::usage(&paths)), None))
            }
            Op::Rootfs(op) => {
                let (text, undo, warnings) = crate::rootfs::kernel::apply(op)?;
                self.warnings.extend(warnings);
                Ok((Output::Text(text), undo.map(Undo::Rootfs)))
            }
            Op::Net(op) => {
                let (out, undo) = self.net.apply(op, &SandboxPaths(&self.sandboxes))?;
                Ok((
                    out.map(Output::Net).unwrap_or(Output::Unit),
                    undo.map(Undo::Net),
                ))
            }
        }
    }

    fn undo(&mut self, undo: &Undo) -> Result<UndoOutcome, OpError> {
        match undo {
            Undo::StopSandbox {
                sandbox, cgroups, ..
            } => {
                self.net.release_sandbox(*sandbox);
                self.sandbox(*sandbox)?.stop()?;
                groups::remove_all(cgroups)?;
                self.groups.remove(sandbox);
                Ok(UndoOutcome::Done)
            }
            Undo::RemoveCgroups { paths } => Ok(UndoOutcome::done_if(groups::remove_all(paths)?)),
            Undo::RestoreLimits { files, .. } => {
                groups::restore(files)?;
                Ok(UndoOutcome::Done)
            }
            Undo::Umount {
                sandbox,
                mnt_id,
                unique,
                host_ns,
                ..
            } => self.umount(
                *sandbox,
                mounting::MountId {
                    id: *mnt_id,
                    unique: *unique,
                },
                *host_ns,
            ),
            Undo::RestoreHostname { sandbox, old } => {
                if !self.sandbox(*sandbox)?.is_alive() {
                    return Ok(UndoOutcome::Released);
                }
                self.ask(*sandbox, Request::SetHostname(old.clone()))?;
                Ok(UndoOutcome::Done)
            }
            Undo::Unchroot { sandbox, .. } => {
                if !self.sandbox(*sandbox)?.is_alive() {
                    return Ok(UndoOutcome::Released);
                }
                let signals = self.signals.clone();
                match self.sandbox(*sandbox)?.unchroot(&signals)? {
                    false => Ok(UndoOutcome::Released),
                    true => Ok(UndoOutcome::Done),
                }
            }
            Undo::ReleasedWithSandbox { .. } => Ok(UndoOutcome::Released),
            Undo::Net(u) => self.net.undo(u),
            Undo::Rootfs(u) => crate::rootfs::kernel::undo_apply(u),
            Undo::RootfsIn { sandbox, undo } => {
                if !self.sandbox(*sandbox)?.is_alive() {
                    return Err(OpError::new(
                        "the sandbox whose user namespace owns these files has stopped",
                    )
                    .with_hint("remove the tree as root"));
                }
                match self.ask(*sandbox, Request::RootfsUndo(undo.clone()))? {
                    Response::AlreadyGone => Ok(UndoOutcome::AlreadyGone),
                    _ => Ok(UndoOutcome::Done),
                }
            }
            Undo::UmountAbove { target, below } => Ok(UndoOutcome::done_if(
                mounting::unmount_above(target, *below)?,
            )),
            Undo::Settle => Ok(UndoOutcome::Done),
        }
    }

    fn cut_short(&mut self, op: &Op) -> CutShort {
        let inside =
            |what: &str| CutShort::Nothing(format!("{what} lives in the sandbox and ends with it"));
        match op {
            Op::Unshare(spec) => match self.cgroups.groups_for(spec, self.sandboxes.len()) {
                // Its processes die with nsr (parent-death signal); the cgroups stay.
                Ok(g) if !g.is_empty() => CutShort::Undo(Undo::RemoveCgroups {
                    paths: g.removal_order(),
                }),
                Ok(_) => CutShort::Nothing(
                    "a sandbox's processes die with nsr (parent-death signal) unless kept".into(),
                ),
                Err(_) => CutShort::Nothing("its cgroups cannot be made: it fails".into()),
            },
            Op::SetLimits { sandbox, limits } => {
                match self
                    .groups_of(*sandbox)
                    .and_then(|g| groups::changes(g, limits))
                {
                    Ok((_, files)) => CutShort::Undo(Undo::RestoreLimits {
                        sandbox: *sandbox,
                        files,
                    }),
                    Err(_) => CutShort::Nothing("the limits cannot be set: it fails".into()),
                }
            }
            Op::Usage { .. } => CutShort::Nothing("it makes nothing".into()),
            Op::SetHostname { .. } => inside("the hostname"),
            Op::Chroot { .. } => inside("the root"),
            Op::PivotRoot { .. } => inside("the pivoted root"),
            Op::Mount { sandbox, spec } => self.mount_cut_short(*sandbox, &spec.target),
            Op::Net(op) => self.net.cut_short(op, &SandboxPaths(&self.sandboxes)),
            Op::Rootfs(op) => crate::rootfs::kernel::cut_short(op),
            Op::RootfsIn { sandbox, op } => {
                match crate::rootfs::kernel::cut_short(&in_sandbox_paths(op)) {
                    CutShort::Undo(Undo::Rootfs(undo)) => CutShort::Undo(Undo::RootfsIn {
                        sandbox: *sandbox,
                        undo,
                    }),
                    other => other,
                }
            }
            Op::GetHostname { .. }
            | Op::Run { .. }
            | Op::Exec { .. }
            | Op::Namespaces { .. }
            | Op::MountInfo { .. } => CutShort::Nothing("it makes nothing".into()),
        }
    }

    fn begin_rollback(&mut self, whole: bool) {
        self.net.begin_rollback(whole);
    }

    fn settle(&mut self) -> Result<(), OpError> {
        self.net.settle()
    }

    fn keep(&mut self, env_dir: Option<&std::path::Path>) -> Result<(), OpError> {
        let signals = self.signals.clone();
        for sb in self.sandboxes.iter_mut() {
            if !sb.is_alive() {
                continue;
            }
            let listener = match env_dir {
                Some(dir) => Some(crate::sandbox::kept::listen(dir, sb.holder_pid)?),
                None => None,
            };
            sb.detach(listener.as_ref(), &signals)?;
        }
        Ok(())
    }

    fn take_warnings(&mut self) -> Vec<String> {
        let mut w = std::mem::take(&mut self.warnings);
        w.extend(self.net.take_warnings());
        w
    }
}

/// Paths as nsr sees them (relative to its working directory), for the holder, whose
/// working directory may differ; no progress line from the holder.
fn in_sandbox_paths(op: &crate::ops::rootfs::RootfsOp) -> crate::ops::rootfs::RootfsOp {
    use crate::ops::rootfs::RootfsOp;
    let abs = |p: &str| crate::rootfs::target::from_cwd(p).display().to_string();
    match op.clone() {
        RootfsOp::FromTar {
            archive,
            dir,
            strict,
            ..
        } => RootfsOp::FromTar {
            archive: abs(&archive),
            dir: abs(&dir),
            strict,
            progress: false,
        },
        RootfsOp::FromImage {
            image,
            dir,
            tag,
            strict,
            ..
        } => RootfsOp::FromImage {
            image: abs(&image),
            dir: abs(&dir),
            tag,
            strict,
            progress: false,
        },
        other => other,
    }
}

/// Whether fd 0 is a terminal whose foreground is nsr's process group (not `nsr &`).
fn nsr_has_the_terminal() -> bool {
    // SAFETY: plain terminal queries on fd 0.
    unsafe { libc::isatty(0) == 1 && libc::tcgetpgrp(0) == libc::getpgrp() }
}

/// After an attached command, nsr's own process group takes the terminal back.
fn take_back_terminal() {
    // SAFETY: plain terminal ioctls on fd 0; SIGTTOU is ignored around them.
    unsafe {
        if libc::isatty(0) == 1 {
            let old = libc::signal(libc::SIGTTOU, libc::SIG_IGN);
            libc::tcsetpgrp(0, libc::getpgrp());
            libc::signal(libc::SIGTTOU, old);
        }
    }
}

impl Drop for KernelBackend {
    fn drop(&mut self) {
        // Last resort after a bug: no holder outlives nsr (they also have PDEATHSIG).
        for sb in self.sandboxes.iter_mut().rev() {
            if sb.is_alive() {
                sb.kill_now();
            }
        }
    }
}
