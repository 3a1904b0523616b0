//! Messages between nsr and a sandbox's holder process, framed as a 4-byte length and JSON.

use crate::ops::mount::MountSpec;
use crate::ops::run::{RunResult, RunSpec};
use crate::ops::OpError;
use nix::errno::Errno;
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// Largest frame either side accepts; command output beyond the run limit is cut before this.
pub const MAX_FRAME: usize = 64 << 20;
/// Most fds one message carries: a holder's eight namespaces and its root.
const MAX_FDS: usize = 12;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    SetHostname(String),
    GetHostname,
    Mount(MountSpec),
    /// Unmount exactly this mount if it is at this path (`try_unmount_at`).
    Umount {
        path: String,
        mount: crate::fs::mounting::MountId,
    },
    Chroot(String),
    /// Followed by the two fds `Response::Chrooted` handed over (send_fds).
    Unchroot,
    PivotRoot(String),
    Run(RunSpec),
    /// `take_terminal`: nsr is in the terminal's foreground, so the command may take it.
    Exec {
        spec: RunSpec,
        take_terminal: bool,
        /// Followed by one fd (send_fds): the pty slave the command runs on.
        #[serde(default)]
        pty: bool,
    },
    /// A root filesystem operation done by the holder, inside the sandbox's user
    /// namespace (so owners map through its id maps), and its undo.
    Rootfs(crate::ops::rootfs::RootfsOp),
    RootfsUndo(crate::ops::rootfs::RootfsUndo),
    /// The environment is kept: outlive nsr, serve no more requests. Followed by one fd
    /// (send_fds) when `listener`: a listening socket in the environment's directory,
    /// on which the kept holder hands its namespaces and root to `nsr enter`.
    Detach {
        listener: bool,
    },
    Shutdown,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Response {
    Rootfs {
        text: String,
        undo: Option<crate::ops::rootfs::RootfsUndo>,
        warnings: Vec<String>,
    },
    Done,
    Text(String),
    Mounted {
        mount: crate::fs::mounting::MountId,
    },
    Unmounted(crate::fs::mounting::UnmountAttempt),
    Ran(RunResult),
    /// Followed by two fds (send_fds): the root and working directory from before the
    /// chroot. nsr keeps them, so that nothing outside the new root stays in the
    /// holder, where the sandbox's processes could reach it through /proc/1/fd.
    Chrooted,
    /// A kept holder's answer to `nsr enter`, with one fd per namespace named here, then
    /// one of its root, then one of its device cgroup when it has one, attached
    /// (send_with_fds); and how its commands are confined.
    Namespaces {
        names: Vec<String>,
        confine: crate::confine::Confinement,
        #[serde(default)]
        device_cgroup: bool,
    },
    AlreadyGone,
    Failed(WireError),
}

/// Startup messages, sent before the holder serves requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Startup {
    /// The first child is in its new user namespace: write its id maps.
    NeedMaps,
    /// The holder's pid, as nsr sees it, when it is a second child (pid or time namespace).
    HolderPid(i32),
    /// The holder serves requests. One fd per namespace it names is attached
    /// (send_with_fds): nsr holds those rather than open /proc/PID/ns of a holder that
    /// is not dumpable (an ordinary user's nsr could not).
    Ready {
        namespaces: Vec<String>,
    },
    Failed(WireError),
}

/// nsr's answer to `NeedMaps`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Go {
    Proceed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireError {
    pub errno: Option<i32>,
    pub message: String,
    pub hint: Option<String>,
}

impl From<WireError> for OpError {
    fn from(w: WireError) -> OpError {
        OpError {
            errno: w.errno.map(Errno::from_raw),
            message: w.message,
            hint: w.hint,
        }
    }
}

impl From<OpError> for WireError {
    fn from(e: OpError) -> WireError {
        WireError {
            errno: e.errno.map(|e| e as i32),
            message: e.message,
            hint: e.hint,
        }
    }
}

pub fn send<T: Serialize>(w: &mut impl Write, msg: &T) -> io::Result<()> {
    let body = serde_json::to_vec(msg).map_err(io::Error::other)?;
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&body);
    w.write_all(&frame)
}

/// Reads one frame; `Ok(None)` on a clean end of stream.
pub fn recv<T: for<'de> Deserialize<'de>>(r: &mut impl Read) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    read_body(len, r).map(Some)
}

/// The frame's body after its length `len` (little-endian), decoded.
fn read_body<T: for<'de> Deserialize<'de>>(len: [u8; 4], r: &mut impl Read) -> io::Result<T> {
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    serde_json::from_slice(&body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Sends `fds` over the socket with one byte (SCM_RIGHTS), after a frame that announces
/// them. The receiver's frame reads stop short of this byte, so the fds are not lost.
pub fn send_fds(sock: &UnixStream, fds: &[BorrowedFd]) -> io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let byte = [0u8];
    let iov = [std::io::IoSlice::new(&byte)];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&raw)],
        MsgFlags::empty(),
        None,
    )
    .map(|_| ())
    .map_err(io::Error::from)
}

/// Receives exactly `n` fds sent with `send_fds` (close-on-exec).
pub fn recv_fds(sock: &UnixStream, n: usize) -> io::Result<Vec<OwnedFd>> {
    use nix::sys::socket::{recvmsg, MsgFlags};
    let mut byte = [0u8];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(io::Error::from)?;
    let mut fds = Vec::new();
    take_fds(&msg, &mut fds)?;
    if msg.bytes != 1 || fds.len() != n {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("expected {n} file descriptor(s), got {}", fds.len()),
        ));
    }
    Ok(fds)
}

/// Sends one frame with `fds` attached to it, in one sendmsg: no other writer on the
/// socket (the first child sends the holder's pid on the same one) can come between.
pub fn send_with_fds<T: Serialize>(
    sock: &UnixStream,
    msg: &T,
    fds: &[BorrowedFd],
) -> io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let body = serde_json::to_vec(msg).map_err(io::Error::other)?;
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&body);
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let cmsg = [ControlMessage::ScmRights(&raw)];
    let iov = [std::io::IoSlice::new(&frame)];
    let cmsgs: &[ControlMessage] = if raw.is_empty() { &[] } else { &cmsg };
    let sent = sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None)
        .map_err(io::Error::from)?;
    // The fds went with the first bytes; the rest, if the kernel took only part, follows.
    let mut w: &UnixStream = sock;
    w.write_all(&frame[sent..])
}

/// The fds a received message carries (SCM_RIGHTS), owned from now on.
fn take_fds(msg: &nix::sys::socket::RecvMsg<'_, '_, ()>, fds: &mut Vec<OwnedFd>) -> io::Result<()> {
    use nix::sys::socket::ControlMessageOwned;
    for c in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            // SAFETY: the kernel just installed these fds in this process for us.
            fds.extend(
                raw.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    Ok(())
}

/// Pairs the namespace kinds a holder named with the fds it sent, in order.
pub fn named_namespaces(
    names: &[String],
    fds: Vec<OwnedFd>,
) -> Result<Vec<(crate::ops::kinds::NsKind, OwnedFd)>, OpError> {
    if names.len() != fds.len() {
        return Err(OpError::new(format!(
            "the holder named {} namespaces and sent {} fds",
            names.len(),
            fds.len()
        )));
    }
    names
        .iter()
        .zip(fds)
        .map(|(n, fd)| {
            crate::ops::kinds::NsKind::parse(n)
                .map(|k| (k, fd))
                .ok_or_else(|| OpError::new(format!("the holder sent an unknown namespace '{n}'")))
        })
        .collect()
}

/// Reads one frame and the fds attached to it (send_with_fds; none for a plain `send`).
/// Every frame that may carry fds must be read with this: a plain read drops them.
pub fn recv_with_fds<T: for<'de> Deserialize<'de>>(
    sock: &UnixStream,
) -> io::Result<Option<(T, Vec<OwnedFd>)>> {
    use nix::sys::socket::{recvmsg, MsgFlags};
    let mut len = [0u8; 4];
    let mut fds = Vec::new();
    let mut got = 0;
    while got < len.len() {
        let mut iov = [std::io::IoSliceMut::new(&mut len[got..])];
        let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
        let msg = match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(Errno::EINTR) => continue,
            other => other.map_err(io::Error::from)?,
        };
        if msg.bytes == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        got += msg.bytes;
        take_fds(&msg, &mut fds)?;
    }
    let mut r: &UnixStream = sock;
    let msg = read_body(len, &mut r)?;
    Ok(Some((msg, fds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_eof_is_none() {
        let mut buf = Vec::new();
        send(&mut buf, &Request::Chroot("/x".into())).unwrap();
        let mut r = &buf[..];
        let got: Option<Request> = recv(&mut r).unwrap();
        assert!(matches!(got, Some(Request::Chroot(p)) if p == "/x"));
        let again: Option<Request> = recv(&mut r).unwrap();
        assert!(again.is_none());
    }

    #[test]
    fn oversized_frame_is_refused() {
        let buf = (u32::MAX).to_le_bytes();
        let mut r = &buf[..];
        assert!(recv::<Request>(&mut r).is_err());
    }

    #[test]
    fn fds_travel_with_their_frame_and_a_plain_frame_after_them_is_read_alone() {
        use std::os::fd::AsFd;
        let (a, b) = UnixStream::pair().unwrap();
        let file = std::fs::File::open("/").unwrap();
        send_with_fds(&a, &Request::GetHostname, &[file.as_fd()]).unwrap();
        let mut w = &a;
        send(&mut w, &Request::Shutdown).unwrap();
        let (first, fds) = recv_with_fds::<Request>(&b).unwrap().unwrap();
        assert!(matches!(first, Request::GetHostname));
        assert_eq!(fds.len(), 1);
        let (second, none) = recv_with_fds::<Request>(&b).unwrap().unwrap();
        assert!(matches!(second, Request::Shutdown));
        assert!(none.is_empty());
        drop(a);
        assert!(recv_with_fds::<Request>(&b).unwrap().is_none());
    }
}
