//! Looking inside a namespace nsr did not enter: a route socket made in a network
//! namespace (it stays bound to it wherever it is used from), its forwarding sysctls,
//! and the hostname of a UTS namespace. Root does it on a short thread that joins them;
//! an ordinary user, whose rootless sandbox's namespaces belong to its user namespace,
//! in a forked child that joins that user namespace first (setns of a user namespace
//! needs a single-threaded process), which hands the socket back over a socket pair.

use crate::net::netlink::RouteSocket;
use crate::ops::OpError;
use crate::sandbox::protocol;
use nix::sched::{setns, CloneFlags};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};
use std::os::fd::{AsFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// What was read inside.
pub struct Inside {
    pub sock: RouteSocket,
    /// Its links, once listed.
    pub links: Vec<crate::ops::net::LinkInfo>,
    /// net.ipv4.ip_forward and net.ipv6.conf.all.forwarding are 1.
    pub forwarding: [bool; 2],
    pub hostname: Option<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Answer {
    forwarding: [bool; 2],
    hostname: Option<String>,
}

/// The namespaces to join: net, and uts and user when given.
pub struct Target<'a> {
    pub net: &'a OwnedFd,
    pub uts: Option<&'a OwnedFd>,
    pub user: Option<&'a OwnedFd>,
}

fn read_inside(t: &Target) -> Result<(RouteSocket, Answer), OpError> {
    // One's own network namespace needs no entering (and an ordinary user could not).
    use crate::net::netns::{identity, identity_of};
    if identity_of(t.net).ok() != identity("/proc/thread-self/ns/net").ok() {
        setns(t.net, CloneFlags::CLONE_NEWNET)
            .map_err(|e| OpError::os(e, "cannot enter the network namespace"))?;
    }
    if let Some(uts) = t.uts {
        setns(uts, CloneFlags::CLONE_NEWUTS)
            .map_err(|e| OpError::os(e, "cannot enter the UTS namespace"))?;
    }
    let sysctl =
        |f: &str| std::fs::read_to_string(format!("/proc/sys/{f}")).is_ok_and(|v| v.trim() == "1");
    let answer = Answer {
        forwarding: [
            sysctl(crate::ops::net::forwarding_key(false)),
            sysctl(crate::ops::net::forwarding_key(true)),
        ],
        hostname: t
            .uts
            .and_then(|_| nix::unistd::gethostname().ok()?.into_string().ok()),
    };
    Ok((RouteSocket::open()?, answer))
}

pub fn look(t: &Target) -> Result<Inside, OpError> {
    let on_thread = std::thread::scope(|s| {
        s.spawn(|| read_inside(t).map(|(sock, a)| (sock.into_raw_fd(), a)))
            .join()
            .unwrap_or_else(|_| Err(OpError::new("a helper thread panicked")))
    });
    let (fd, answer) = match on_thread {
        Ok(x) => x,
        Err(e) if t.user.is_some() && e.errno == Some(nix::errno::Errno::EPERM) => in_child(t)?,
        Err(e) => return Err(e),
    };
    // SAFETY: the fd is the route socket just made and given up.
    let sock = unsafe { RouteSocket::from_raw_fd(fd) };
    Ok(Inside {
        sock,
        links: Vec::new(),
        forwarding: answer.forwarding,
        hostname: answer.hostname,
    })
}

/// The same in a forked child that joins the user namespace first.
fn in_child(t: &Target) -> Result<(i32, Answer), OpError> {
    let (mine, theirs) =
        UnixStream::pair().map_err(|e| OpError::new(format!("cannot make a socket pair: {e}")))?;
    // SAFETY: nsr graph is single-threaded here (the helper thread above was joined);
    // the child only joins namespaces, reads, sends and exits.
    match unsafe { fork() }.map_err(|e| OpError::os(e, "cannot fork"))? {
        ForkResult::Child => {
            drop(mine);
            let sent = t
                .user
                .map_or(Ok(()), |u| setns(u, CloneFlags::CLONE_NEWUSER))
                .map_err(|e| OpError::os(e, "cannot enter the user namespace"))
                .and_then(|()| read_inside(t))
                .map(|(sock, a)| {
                    // SAFETY: the fd is the route socket just made and given up.
                    let fd = unsafe { OwnedFd::from_raw_fd(sock.into_raw_fd()) };
                    protocol::send_with_fds(&theirs, &Some(a), &[fd.as_fd()]).is_ok()
                });
            if !matches!(sent, Ok(true)) {
                let _ = protocol::send_with_fds::<Option<Answer>>(&theirs, &None, &[]);
            }
            // SAFETY: _exit ends the child without running the parent's destructors.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            drop(theirs);
            let got = protocol::recv_with_fds::<Option<Answer>>(&mine);
            let _ = waitpid(child, None);
            match got {
                Ok(Some((Some(a), mut fds))) if fds.len() == 1 => {
                    Ok((fds.remove(0).into_raw_fd(), a))
                }
                _ => Err(OpError::os(
                    nix::errno::Errno::EPERM,
                    "cannot enter the sandbox's namespaces, even from its user namespace",
                )),
            }
        }
    }
}
