//! A synchronous rtnetlink socket. rtnetlink's builders make the messages; this sends
//! them and reads the answer on the calling thread, so nsr needs no async runtime and
//! stays single-threaded. A socket stays bound to the network namespace it was created
//! in, which is how nsr talks to a namespace without entering it.

use crate::ops::OpError;
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::errno::Errno;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};

pub struct RouteSocket {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

/// A request the kernel refused: the errno and, when the kernel gave one, its own words
/// ("Nexthop has invalid gateway").
#[derive(Debug, Clone)]
pub struct NetlinkError {
    pub errno: Errno,
    pub kernel_says: Option<String>,
}

impl NetlinkError {
    pub fn into_op(self, what: &str) -> OpError {
        let mut msg = what.to_string();
        if let Some(k) = &self.kernel_says {
            msg.push_str(&format!(" (the kernel says: {k})"));
        }
        OpError::os(self.errno, msg)
    }
}

impl RouteSocket {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<RouteSocket, OpError> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(|e| io_err(e, "netlink socket"))?;
        socket
            .bind_auto()
            .map_err(|e| io_err(e, "bind netlink socket"))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(|e| io_err(e, "connect netlink socket"))?;
        // Extended acks carry the kernel's own error text; capped acks keep them short.
        let _ = socket.set_ext_ack(true);
        let _ = socket.set_cap_ack(true);
        Ok(RouteSocket {
            socket,
            seq: 0,
            buf: vec![0; 1 << 16],
        })
    }

    pub fn into_raw_fd(self) -> RawFd {
        self.socket.into_raw_fd()
    }

    /// # Safety
    /// `fd` must be a NETLINK_ROUTE socket made by `open` (bound and connected).
    pub unsafe fn from_raw_fd(fd: RawFd) -> RouteSocket {
        RouteSocket {
            // SAFETY: the caller hands over a socket fd of its own (this fn's contract).
            socket: unsafe { Socket::from_raw_fd(fd) },
            seq: 0,
            buf: vec![0; 1 << 16],
        }
    }

    /// Sends a change (`flags` such as NLM_F_CREATE | NLM_F_EXCL) and waits for its ack.
    pub fn change(&mut self, msg: RouteNetlinkMessage, flags: u16) -> Result<(), NetlinkError> {
        self.exchange(msg, NLM_F_REQUEST | NLM_F_ACK | flags)
            .map(|_| ())
    }

    /// Sends a request that answers with messages (a get by name) and collects them.
    pub fn request(
        &mut self,
        msg: RouteNetlinkMessage,
    ) -> Result<Vec<RouteNetlinkMessage>, NetlinkError> {
        self.exchange(msg, NLM_F_REQUEST | NLM_F_ACK)
    }

    /// Sends a dump request and collects every answer.
    pub fn dump(
        &mut self,
        msg: RouteNetlinkMessage,
    ) -> Result<Vec<RouteNetlinkMessage>, NetlinkError> {
        self.exchange(msg, NLM_F_REQUEST | NLM_F_DUMP)
    }

    fn exchange(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, NetlinkError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut out = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket.send(&out, 0).map_err(|e| NetlinkError {
            errno: errno_of(&e),
            kernel_says: None,
        })?;

        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut answers = Vec::new();
        loop {
            let n = self
                .socket
                .recv(&mut &mut self.buf[..], 0)
                .map_err(|e| NetlinkError {
                    errno: errno_of(&e),
                    kernel_says: None,
                })?;
            let mut offset = 0;
            while offset < n {
                let bytes = &self.buf[offset..n];
                let reply =
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes).map_err(|e| {
                        NetlinkError {
                            errno: Errno::EBADMSG,
                            kernel_says: Some(format!("unreadable netlink answer: {e}")),
                        }
                    })?;
                let len = reply.header.length as usize;
                if len == 0 {
                    break;
                }
                offset += (len + 3) & !3;
                if reply.header.sequence_number != seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Done(_) => return Ok(answers),
                    NetlinkPayload::Error(e) => {
                        if e.code.is_none() {
                            if !dump {
                                return Ok(answers);
                            }
                            continue;
                        }
                        let code = -e.raw_code();
                        return Err(NetlinkError {
                            errno: Errno::from_raw(code),
                            kernel_says: ext_ack_message(&e.header),
                        });
                    }
                    NetlinkPayload::InnerMessage(m) => answers.push(m),
                    _ => {}
                }
            }
        }
    }
}

impl AsRawFd for RouteSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

/// The NLMSGERR_ATTR_MSG attribute after the (capped) original header in an error ack.
fn ext_ack_message(payload: &[u8]) -> Option<String> {
    const NLMSG_HDRLEN: usize = 16;
    const NLMSGERR_ATTR_MSG: u16 = 1;
    let mut rest = payload.get(NLMSG_HDRLEN..)?;
    while rest.len() >= 4 {
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & 0x3fff;
        if len < 4 || len > rest.len() {
            return None;
        }
        if kind == NLMSGERR_ATTR_MSG {
            let text = &rest[4..len];
            let text = text.split(|b| *b == 0).next().unwrap_or(text);
            return Some(String::from_utf8_lossy(text).into_owned()).filter(|s| !s.is_empty());
        }
        rest = &rest[((len + 3) & !3).min(rest.len())..];
    }
    None
}

fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

fn io_err(e: std::io::Error, what: &str) -> OpError {
    OpError::os(errno_of(&e), what.to_string())
}
