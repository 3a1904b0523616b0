//! The mount namespace a confined sandbox's commands run in when the sandbox has none
//! the holder may harden in place: it shares the host's (no "mount" kind), joined
//! another one, or keeps the host's propagation (`propagation: "unchanged"`), where a
//! mask would reach the host. A copy of the holder's mount namespace, made a slave so
//! that nothing done in it goes back, with runc's masks on its /proc and /sys: a
//! confined root can then write no host sysctl (`kernel.core_pattern` runs a program as
//! the host's root) and no cgroup.procs, whatever the sandbox shares.
//!
//! Made once by a short-lived child of the holder and kept as fds (the namespace, the
//! root and working directory in it); made again after any request that may change
//! what the holder sees (a mount, a chroot), since with private propagation a later
//! mount would not reach the copy.

use super::protocol::{recv, recv_fds, send, send_fds, Response};
use crate::ops::OpError;
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

pub struct CommandNs {
    ns: OwnedFd,
    root: OwnedFd,
    cwd: OwnedFd,
}

/// PIDFD_GET_MNT_NAMESPACE (Linux 6.11): a process's mount namespace from its pidfd,
/// whether or not /proc is in its root.
const PIDFD_GET_MNT_NAMESPACE: libc::c_ulong = 0xff03;

impl CommandNs {
    /// Makes the copy, from a child of the calling (single-threaded) holder.
    pub fn make() -> Result<CommandNs, OpError> {
        let (mut ours, theirs) =
            UnixStream::pair().map_err(|e| OpError::new(format!("socketpair: {e}")))?;
        // SAFETY: the holder is single-threaded; the child only makes system calls,
        // sends what it made and exits.
        match unsafe { fork() }.map_err(|e| OpError::os(e, "fork"))? {
            ForkResult::Child => {
                drop(ours);
                let mut theirs = theirs;
                let code = match make_here() {
                    Ok(fds) => {
                        let sent = send(&mut theirs, &Response::Done).and_then(|_| {
                            send_fds(&theirs, &fds.iter().map(|f| f.as_fd()).collect::<Vec<_>>())
                        });
                        i32::from(sent.is_err())
                    }
                    Err(e) => {
                        let _ = send(&mut theirs, &Response::Failed(e.into()));
                        1
                    }
                };
                // SAFETY: ends this child without running the holder's destructors.
                unsafe { libc::_exit(code) }
            }
            ForkResult::Parent { child } => {
                drop(theirs);
                let answer = recv::<Response>(&mut ours);
                let fds = match answer {
                    Ok(Some(Response::Done)) => recv_fds(&ours, 3)
                        .map_err(|e| OpError::new(format!("no mount namespace came: {e}"))),
                    Ok(Some(Response::Failed(w))) => Err(w.into()),
                    _ => Err(OpError::new("the commands' mount namespace was not made")),
                };
                let _ = waitpid(child, None);
                let mut fds = fds?;
                let cwd = fds.pop().expect("three fds");
                let root = fds.pop().expect("three fds");
                let ns = fds.pop().expect("three fds");
                Ok(CommandNs { ns, root, cwd })
            }
        }
    }

    /// The raw fds for the command's process: namespace, root, working directory.
    pub fn raw(&self) -> [RawFd; 3] {
        [
            self.ns.as_raw_fd(),
            self.root.as_raw_fd(),
            self.cwd.as_raw_fd(),
        ]
    }

    /// The namespace and the root, for `nsr enter` in place of the holder's own.
    pub fn ns_and_root(&self) -> (std::os::fd::BorrowedFd<'_>, std::os::fd::BorrowedFd<'_>) {
        (self.ns.as_fd(), self.root.as_fd())
    }

    /// Enters it: the mount namespace, then the root and working directory the holder
    /// had, in the copy.
    ///
    /// # Safety
    /// Raw system calls only, for the command's process between clone and exec.
    pub unsafe fn enter(fds: [RawFd; 3]) -> bool {
        let [ns, root, cwd] = fds;
        // SAFETY: raw calls on fds the holder keeps open, in the command's process.
        unsafe {
            libc::setns(ns, libc::CLONE_NEWNS) == 0
                && libc::fchdir(root) == 0
                && libc::chroot(c".".as_ptr()) == 0
                && libc::fchdir(cwd) == 0
        }
    }
}

/// In the child: a slave copy of its mount namespace, hardened; its fds.
fn make_here() -> Result<[OwnedFd; 3], OpError> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| OpError::os(e, "unshare a mount namespace for the commands"))?;
    // The masks are mounted on /proc and /sys: as slaves, those send nothing back to
    // the host's, however it shares them. (Not "/" as a whole: in a chroot it is no
    // mount's root, and the copy's other mounts gain nothing.)
    for path in ["/proc", "/sys"] {
        match nix::mount::mount(
            None::<&str>,
            path,
            None::<&str>,
            nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_SLAVE,
            None::<&str>,
        ) {
            // Not a mount here (a root without it): nothing to mask there either.
            Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(OpError::os(e, format!("make {path} a slave"))),
        }
    }
    crate::fs::masks::Inherited::find().harden_if_reachable()?;
    let open = |path: &str, what: &str| {
        nix::fcntl::open(
            path,
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| OpError::os(e, format!("cannot open {what}")))
    };
    let ns =
        own_mount_ns().or_else(|_| open("/proc/self/ns/mnt", "the commands' mount namespace"))?;
    Ok([
        ns,
        open("/", "the root")?,
        open(".", "the working directory")?,
    ])
}

fn own_mount_ns() -> Result<OwnedFd, OpError> {
    let pidfd = crate::sys::pidfd_open(std::process::id() as i32)
        .map_err(|e| OpError::os(e, "pidfd_open"))?;
    // SAFETY: an ioctl on our own pidfd that returns a new fd or -1.
    let fd = unsafe { libc::ioctl(pidfd.as_raw_fd(), PIDFD_GET_MNT_NAMESPACE as _, 0) };
    if fd < 0 {
        return Err(OpError::os(
            nix::errno::Errno::last(),
            "PIDFD_GET_MNT_NAMESPACE",
        ));
    }
    // SAFETY: a new fd of ours.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
