//! Where each end of a veth pair is, as the kernel says: a veth's peer index and the
//! id its namespace has for the peer's namespace (IFLA_LINK, IFLA_LINK_NETNSID), and
//! that id of a namespace given by fd (RTM_GETNSID), for `nsr graph --env`.

use super::netlink::{NetlinkError, RouteSocket};
use netlink_packet_route::link::{LinkAttribute, LinkExtentMask, LinkMessage};
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
use netlink_packet_route::RouteNetlinkMessage;
use std::os::fd::{AsRawFd, OwnedFd};

/// A link that names another as its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub index: u32,
    pub peer_index: u32,
    /// None: the peer is in the same namespace.
    pub peer_nsid: Option<i32>,
}

/// Every link of the socket's namespace that has a peer (veths, and others with IFLA_LINK).
pub fn list(sock: &mut RouteSocket) -> Result<Vec<Peer>, NetlinkError> {
    let mut msg = LinkMessage::default();
    msg.attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    let answers = sock.dump(RouteNetlinkMessage::GetLink(msg))?;
    Ok(answers
        .into_iter()
        .filter_map(|m| {
            let RouteNetlinkMessage::NewLink(m) = m else {
                return None;
            };
            let mut peer = None;
            let mut nsid = None;
            for a in &m.attributes {
                match a {
                    LinkAttribute::Link(i) => peer = Some(*i),
                    LinkAttribute::LinkNetNsId(n) => nsid = Some(*n),
                    _ => {}
                }
            }
            Some(Peer {
                index: m.header.index,
                peer_index: peer?,
                peer_nsid: nsid,
            })
        })
        .collect())
}

/// The id the socket's namespace gives the namespace `other` (None: it has none).
pub fn nsid_of(sock: &mut RouteSocket, other: &OwnedFd) -> Result<Option<i32>, NetlinkError> {
    let mut msg = NsidMessage::default();
    msg.attributes
        .push(NsidAttribute::Fd(other.as_raw_fd() as u32));
    let answers = sock.request(RouteNetlinkMessage::GetNsId(msg))?;
    Ok(answers.into_iter().find_map(|m| match m {
        RouteNetlinkMessage::NewNsId(m) => m.attributes.iter().find_map(|a| match a {
            NsidAttribute::Id(id) if *id >= 0 => Some(*id),
            _ => None,
        }),
        _ => None,
    }))
}
