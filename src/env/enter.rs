//! `nsr enter NAME [SANDBOX] [-- CMD]`: a command in a kept sandbox's namespaces and
//! root, as `nsenter -t PID -a` followed by chroot does by hand.

use super::recover::is_our_holder;
use super::store::{self, Record};
use crate::ops::kinds::NsKind;
use crate::ops::{OpError, Undo};
use crate::sandbox::kept::{self, Held};
use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// A live sandbox of an environment: its holder and its cgroups.
struct LiveSandbox {
    pid: i32,
    cgroups: Vec<String>,
}

/// The live sandboxes of an environment, in creation order.
fn sandboxes(name: &str) -> Result<Vec<LiveSandbox>, OpError> {
    let dir = store::existing(name, "nsr ls lists them; nsr run --keep makes one to enter")?;
    let started = store::read_meta(&dir).map(|m| m.started).unwrap_or(0);
    let (records, _) = store::read_records(&dir);
    let mut live: BTreeMap<u64, LiveSandbox> = BTreeMap::new();
    for r in records {
        match r {
            Record::Done {
                seq,
                undo: Undo::StopSandbox { pid, cgroups, .. },
                ..
            } => {
                live.insert(seq, LiveSandbox { pid, cgroups });
            }
            Record::Undone { seq } => {
                live.remove(&seq);
            }
            _ => {}
        }
    }
    Ok(live
        .into_values()
        .filter(|s| is_our_holder(s.pid, started))
        .collect())
}

/// Moves this process into the sandbox's cgroups (all but its device group, which
/// the command is cloned into), so that what it starts counts against its limits.
fn join_cgroups(cgroups: &[String]) -> Result<(), OpError> {
    for dir in cgroups.iter().map(std::path::Path::new) {
        if crate::cgroup::is_device_group(dir) || !crate::cgroup::is_ours(dir) {
            continue;
        }
        std::fs::write(dir.join("cgroup.procs"), "0").map_err(|e| {
            OpError::os(
                Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                format!("cannot join the sandbox's cgroup {}", dir.display()),
            )
        })?;
    }
    Ok(())
}

/// Joins the kept holder's namespaces (the user namespace first) and root, which it
/// hands over on its socket; in the caller.
fn join(held: &Held) -> Result<(), OpError> {
    let mut order: Vec<&(NsKind, OwnedFd)> = held.namespaces.iter().collect();
    order.sort_by_key(|(k, _)| *k != NsKind::User);
    // Our own namespaces, read before joining any: once in the sandbox's mount
    // namespace, /proc/self may be a proc of its pid namespace, where we have no pid.
    let ours: Vec<Option<nix::sys::stat::FileStat>> = order
        .iter()
        .map(|(kind, _)| {
            nix::sys::stat::stat(format!("/proc/self/ns/{}", kind.proc_file()).as_str()).ok()
        })
        .collect();
    for ((kind, fd), ours) in order.into_iter().zip(ours) {
        let same = match (nix::sys::stat::fstat(fd), ours) {
            (Ok(a), Some(b)) => a.st_ino == b.st_ino && a.st_dev == b.st_dev,
            _ => false,
        };
        if same {
            continue; // a kind the sandbox shares with nsr (setns into one's own fails)
        }
        setns(fd.as_fd(), CloneFlags::from_bits_retain(kind.clone_flag()))
            .map_err(|e| OpError::os(e, format!("cannot join the sandbox's {kind} namespace")))?;
    }
    nix::unistd::fchdir(&held.root)
        .map_err(|e| OpError::os(e, "cannot enter the sandbox's root"))?;
    nix::unistd::chroot(".").map_err(|e| OpError::os(e, "chroot"))?;
    nix::unistd::chdir("/").map_err(|e| OpError::os(e, "chdir /"))?;
    Ok(())
}

fn status(s: WaitStatus) -> i32 {
    match s {
        WaitStatus::Exited(_, c) => c,
        WaitStatus::Signaled(_, sig, _) => 128 + sig as i32,
        _ => 1,
    }
}

/// Runs `command` (a shell by default) in the chosen sandbox and returns its status.
pub fn enter(name: &str, which: Option<&str>, command: &[String]) -> Result<i32, OpError> {
    let pids = sandboxes(name)?;
    if pids.is_empty() {
        return Err(OpError::os(
            Errno::ESRCH,
            format!("environment '{name}' has no running sandbox: it is no longer running (its holder was killed, or it kept none)"),
        )
        .with_hint(format!("nsr down {name} takes back what it left")));
    }
    let pid = choose(name, which, &pids.iter().map(|s| s.pid).collect::<Vec<_>>())?;
    let cgroups = pids
        .into_iter()
        .find(|s| s.pid == pid)
        .map(|s| s.cgroups)
        .unwrap_or_default();
    let held = kept::reach(&store::base_dir().join(name), pid)?;
    let argv: Vec<CString> = if command.is_empty() {
        vec![CString::new("/bin/sh").unwrap_or_default()]
    } else {
        command
            .iter()
            .map(|a| {
                CString::new(a.as_str()).map_err(|_| OpError::new("a NUL byte in the command"))
            })
            .collect::<Result<_, _>>()?
    };
    // On a terminal, the command gets a pty of nsr's own, never the user's terminal.
    let mut relay = crate::sandbox::pty::PtyRelay::open()?;
    let slave = relay.as_mut().and_then(|r| r.take_slave());
    // SAFETY: nsr is single-threaded here; the children only make system calls and exec.
    match unsafe { fork() }.map_err(|e| OpError::os(e, "fork"))? {
        ForkResult::Child => {
            if let Some(slave) = &slave {
                // SAFETY: dup2 onto this child's own standard descriptors.
                unsafe {
                    for fd in 0..3 {
                        libc::dup2(slave.as_raw_fd(), fd);
                    }
                }
            }
            drop(slave);
            let on_pty = relay.is_some();
            std::mem::forget(relay);
            let code = match join_cgroups(&cgroups).and_then(|()| join(&held)) {
                Ok(()) => command_in(&held, &argv, on_pty),
                Err(e) => {
                    let _ = std::io::Write::write_all(
                        &mut std::io::stderr(),
                        format!(
                            "nsr: enter: {}: {}\n",
                            e.message,
                            e.errno_text().unwrap_or_default()
                        )
                        .as_bytes(),
                    );
                    1
                }
            };
            // SAFETY: leaving the forked child without running nsr's destructors.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            // SAFETY: signal dispositions of nsr's own process.
            unsafe {
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                libc::signal(libc::SIGQUIT, libc::SIG_IGN);
            }
            drop(slave);
            if let Some(relay) = relay.as_mut() {
                relay_until_exit(relay, child.as_raw())?;
            }
            let s =
                waitpid(Pid::from_raw(child.as_raw()), None).map_err(|e| OpError::os(e, "wait"))?;
            Ok(status(s))
        }
    }
}

/// The holder pid of sandbox `which` (its number, 1 first, or its pid; the last one
/// without it) among the environment's.
fn choose(name: &str, which: Option<&str>, pids: &[i32]) -> Result<i32, OpError> {
    match which {
        None => Ok(*pids.last().expect("not empty")),
        Some(w) => {
            let n: usize = w
                .parse()
                .map_err(|_| OpError::new(format!("'{w}' is not a sandbox number or pid")))?;
            if (1..=pids.len()).contains(&n) {
                Ok(pids[n - 1])
            } else if pids.contains(&(n as i32)) {
                Ok(n as i32)
            } else {
                Err(OpError::new(format!(
                    "environment '{name}' has no sandbox {w}: it has sandboxes 1 to {} (pids {:?})",
                    pids.len(),
                    pids
                )))
            }
        }
    }
}

/// In the child that joined the sandbox: the command, confined as the holder confines
/// its own, started as a child (a new pid namespace applies to children); its status.
fn command_in(held: &Held, argv: &[CString], on_pty: bool) -> i32 {
    // Confined as the holder confines its own commands.
    let confine = crate::confine::apply::Prepared::new(&held.confine);
    let ruleset = match confine.ruleset() {
        Ok(r) => r,
        Err(e) => {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("nsr: enter: {}\n", crate::ops::OpError::from(e)).as_bytes(),
            );
            // SAFETY: leaving the forked child without nsr's destructors.
            unsafe { libc::_exit(126) };
        }
    };
    // Into the sandbox's device cgroup, as the holder starts its commands.
    let cgroup = held
        .device_cgroup
        .as_ref()
        .filter(|_| confine.limits_devices());
    let forked = match cgroup {
        Some(cg) => crate::sys::fork_into_cgroup(cg.as_fd()).map(|pid| match pid {
            0 => ForkResult::Child,
            pid => ForkResult::Parent {
                child: nix::unistd::Pid::from_raw(pid),
            },
        }),
        // SAFETY: this child of nsr is single-threaded; its child
        // execs or _exits.
        None => unsafe { fork() },
    };
    match forked {
        // A new pid namespace applies to children: the command is one.
        Ok(ForkResult::Child) => {
            exec_confined(&confine, ruleset.as_ref(), cgroup.is_some(), argv, on_pty)
        }
        Ok(ForkResult::Parent { child }) => {
            // SAFETY: signal dispositions of this process.
            unsafe {
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                libc::signal(libc::SIGQUIT, libc::SIG_IGN);
            }
            waitpid(child, None).map(status).unwrap_or(1)
        }
        Err(_) => 1,
    }
}

/// The command's process: its signals, its session on the pty, the cgroup namespace and
/// confinement of the holder's commands, then exec. Returns only on a failed exec.
fn exec_confined(
    confine: &crate::confine::apply::Prepared,
    ruleset: Option<&crate::confine::landlock::Ruleset>,
    in_cgroup: bool,
    argv: &[CString],
    on_pty: bool,
) -> i32 {
    // SAFETY: plain signal, setsid and ioctl calls on this process
    // and its own fd 0.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        libc::signal(libc::SIGQUIT, libc::SIG_DFL);
        if on_pty {
            // A session of its own, with the pty as its terminal.
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
        }
    }
    // The soft limit on open files nsr was started with, as the holder's commands get.
    crate::sys::restore_open_files_limit();
    // As the holder's commands: a cgroup namespace rooted in the
    // device cgroup.
    // SAFETY: unshare of this process's cgroup namespace, and
    // Prepared::enter in the command's process before its exec.
    let entered = if in_cgroup && unsafe { libc::unshare(libc::CLONE_NEWCGROUP) } != 0 {
        Err((crate::confine::apply::Stage::CgroupNs, Errno::last_raw()))
    } else {
        // SAFETY: this is the command's process, before its exec.
        unsafe { confine.enter(ruleset) }
    };
    if let Err((stage, errno)) = entered {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!("nsr: enter: {}: {}\n", stage.what(), Errno::from_raw(errno)).as_bytes(),
        );
        // SAFETY: leaving the command's process before its exec.
        unsafe { libc::_exit(126) };
    }
    let e = nix::unistd::execvp(&argv[0], argv).unwrap_err();
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("nsr: enter: cannot run {:?}: {e}\n", argv[0]).as_bytes(),
    );
    127
}

/// Relays between the user's terminal and the command's pty until `child` ends.
fn relay_until_exit(relay: &mut crate::sandbox::pty::PtyRelay, child: i32) -> Result<(), OpError> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let done = crate::sys::pidfd_open(child).map_err(|e| OpError::os(e, "pidfd_open"))?;
    loop {
        let mut fds = vec![PollFd::new(done.as_fd(), PollFlags::POLLIN)];
        fds.extend(relay.poll_fds());
        if let Err(e) = poll(&mut fds, PollTimeout::NONE) {
            if e != Errno::EINTR {
                return Err(OpError::os(e, "poll"));
            }
        }
        let ended = fds[0].revents().is_some_and(|r| !r.is_empty());
        let ready: Vec<bool> = fds[1..]
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        relay.pump(&ready);
        if ended {
            relay.drain_output();
            return Ok(());
        }
    }
}
