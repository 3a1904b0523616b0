//! How `nsr enter` reaches a kept sandbox: its holder is not dumpable, so not even its
//! own user may open /proc/PID/ns or /proc/PID/root. Instead it listens on a socket in
//! the environment's directory and hands over its namespaces and root to whoever of its
//! user connects (`Holder::hand_over_namespaces`).

use super::protocol::{recv_with_fds, Response};
use crate::ops::kinds::NsKind;
use crate::ops::OpError;
use nix::errno::Errno;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// What a kept holder hands over: its namespaces, its current root, and how the
/// commands it starts are confined (what `nsr enter`'s command gets too).
pub struct Held {
    pub namespaces: Vec<(NsKind, OwnedFd)>,
    pub root: OwnedFd,
    pub confine: crate::confine::Confinement,
    /// Where its confined commands start (its device cgroup), if it has one.
    pub device_cgroup: Option<OwnedFd>,
}

fn socket_name(holder_pid: i32) -> String {
    format!("sandbox-{holder_pid}.sock")
}

/// Runs `f` on the socket's path through an fd of `dir` (/proc/self/fd/N/NAME), which
/// stays short whatever the directory's length: a socket path may have 107 bytes.
fn at_socket<T>(
    dir: &Path,
    holder_pid: i32,
    f: impl FnOnce(&str) -> std::io::Result<T>,
) -> Result<T, OpError> {
    let d = nix::fcntl::open(
        dir,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| OpError::os(e, format!("cannot open {}", dir.display())))?;
    let path = format!(
        "/proc/self/fd/{}/{}",
        d.as_raw_fd(),
        socket_name(holder_pid)
    );
    f(&path).map_err(|e| {
        let errno = Errno::from_raw(e.raw_os_error().unwrap_or(0));
        OpError::os(
            errno,
            format!("{}/{}", dir.display(), socket_name(holder_pid)),
        )
    })
}

/// The socket a kept holder will serve `nsr enter` on, in the environment's directory
/// (which only its user may enter).
pub fn listen(dir: &Path, holder_pid: i32) -> Result<UnixListener, OpError> {
    at_socket(dir, holder_pid, |path| {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::remove_file(path);
        let l = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        Ok(l)
    })
}

/// Asks the kept holder `holder_pid` for its namespaces and root.
pub fn reach(dir: &Path, holder_pid: i32) -> Result<Held, OpError> {
    let conn = at_socket(dir, holder_pid, |p| UnixStream::connect(p)).map_err(|e| {
        let gone = matches!(e.errno, Some(Errno::ECONNREFUSED | Errno::ENOENT));
        let e = OpError {
            message: format!("cannot reach the sandbox's holder at {}", e.message),
            ..e
        };
        if gone {
            e.with_hint("its holder no longer listens: the environment was kept by another nsr version, or its holder is gone (nsr down NAME takes back what it left)")
        } else {
            e
        }
    })?;
    let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let answer = recv_with_fds::<Response>(&conn)
        .map_err(|e| OpError::new(format!("the sandbox's holder did not answer: {e}")))?;
    let Some((
        Response::Namespaces {
            names,
            confine,
            device_cgroup,
        },
        mut fds,
    )) = answer
    else {
        return Err(OpError::new(
            "the sandbox's holder refused to hand over its namespaces",
        ));
    };
    let device_cgroup = if device_cgroup { fds.pop() } else { None };
    // The root comes after the namespaces.
    let root = fds
        .pop()
        .ok_or_else(|| OpError::new("the sandbox's holder sent no root"))?;
    let namespaces = super::protocol::named_namespaces(&names, fds)?;
    Ok(Held {
        namespaces,
        root,
        confine,
        device_cgroup,
    })
}
