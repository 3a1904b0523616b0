//! Interface addresses over rtnetlink: `ip addr add/del/show`.

use super::netlink::{NetlinkError, RouteSocket};
use crate::ops::cidr::IpCidr;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

#[derive(Debug, Clone, PartialEq)]
pub struct AddrInfo {
    pub index: u32,
    pub cidr: IpCidr,
    /// IFA_F_* (the 32-bit IFA_FLAGS when the kernel sends them).
    pub flags: u32,
}

impl AddrInfo {
    /// Duplicate address detection has not finished: the address cannot be bound yet.
    pub fn tentative(&self) -> bool {
        self.flags & AddressFlags::Tentative.bits() != 0
    }

    /// Another host on the link has the address (`ip addr` shows `dadfailed`).
    pub fn dad_failed(&self) -> bool {
        self.flags & AddressFlags::Dadfailed.bits() != 0
    }
}

fn message(index: u32, cidr: &IpCidr) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = if cidr.is_v6() {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    m.header.prefix_len = cidr.prefix;
    m.header.index = index;
    m.attributes.push(AddressAttribute::Local(cidr.addr));
    m.attributes.push(AddressAttribute::Address(cidr.addr));
    m
}

/// `ip addr add`; with `nodad`, IFA_F_NODAD: an IPv6 address usable at once.
pub fn add(
    sock: &mut RouteSocket,
    index: u32,
    cidr: &IpCidr,
    nodad: bool,
) -> Result<(), NetlinkError> {
    let mut m = message(index, cidr);
    if nodad {
        m.header.flags |= AddressHeaderFlags::Nodad;
        m.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    sock.change(
        RouteNetlinkMessage::NewAddress(m),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}

pub fn delete(sock: &mut RouteSocket, index: u32, cidr: &IpCidr) -> Result<(), NetlinkError> {
    sock.change(RouteNetlinkMessage::DelAddress(message(index, cidr)), 0)
}

pub fn list(sock: &mut RouteSocket) -> Result<Vec<AddrInfo>, NetlinkError> {
    let answers = sock.dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))?;
    let mut out = Vec::new();
    for a in answers {
        let RouteNetlinkMessage::NewAddress(m) = a else {
            continue;
        };
        let mut local = None;
        let mut address = None;
        let mut flags = u32::from(m.header.flags.bits());
        for attr in &m.attributes {
            match attr {
                AddressAttribute::Local(ip) => local = Some(*ip),
                AddressAttribute::Address(ip) => address = Some(*ip),
                AddressAttribute::Flags(f) => flags = f.bits(),
                _ => {}
            }
        }
        // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on
        // point-to-point links and the same otherwise.
        if let Some(addr) = local.or(address) {
            out.push(AddrInfo {
                index: m.header.index,
                cidr: IpCidr {
                    addr,
                    prefix: m.header.prefix_len,
                },
                flags,
            });
        }
    }
    Ok(out)
}
