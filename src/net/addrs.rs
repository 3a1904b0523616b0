//! Interface addresses over rtnetlink: `ip addr add/del/show`.

use super::cidr::IpCidr;
use super::netlink::{NetlinkError, RouteSocket};
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

#[derive(Debug, Clone, PartialEq)]
pub struct AddrInfo {
    pub index: u32,
    pub cidr: IpCidr,
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

pub fn add(sock: &mut RouteSocket, index: u32, cidr: &IpCidr) -> Result<(), NetlinkError> {
    sock.change(
        RouteNetlinkMessage::NewAddress(message(index, cidr)),
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
        for attr in &m.attributes {
            match attr {
                AddressAttribute::Local(ip) => local = Some(*ip),
                AddressAttribute::Address(ip) => address = Some(*ip),
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
            });
        }
    }
    Ok(out)
}
