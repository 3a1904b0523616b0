//! Links over rtnetlink: veth pairs (the peer made directly in its namespace), bridges,
//! up/down, mtu, a bridge port's controller, moving to another namespace, deleting, listing.

use super::netlink::{NetlinkError, RouteSocket};
use crate::ops::net::LinkInfo;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkExtentMask, LinkFlags, LinkInfo as NlLinkInfo,
    LinkMessage, State,
};
use netlink_packet_route::RouteNetlinkMessage;
use nix::errno::Errno;
use rtnetlink::{LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVxlan};
use std::os::fd::RawFd;

/// The link group nsr gives every link a run creates, in the same message that creates
/// it: `nsr down` deletes a link only if it still carries the tag of the run that made
/// it, and `nsr gc` finds links whose run has ended. (`ip link show group N` lists them.)
pub fn run_tag(pid: u32) -> u32 {
    0x6E00_0000 | (pid & 0x00FF_FFFF)
}

/// The pid of the nsr run that tagged a link with `group`, if nsr tagged it.
pub fn tagged_by(group: u32) -> Option<i32> {
    (group & 0xFF00_0000 == 0x6E00_0000).then_some((group & 0x00FF_FFFF) as i32)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkChange {
    Up,
    Down,
    Mtu(u32),
    /// Attach to a bridge (by index), or detach with None.
    Master(Option<u32>),
}

pub fn get(sock: &mut RouteSocket, name: &str) -> Result<Option<LinkInfo>, NetlinkError> {
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    // Counters are most of what the kernel would fill in; nsr never reads them.
    msg.attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    match sock.request(RouteNetlinkMessage::GetLink(msg)) {
        Ok(answers) => Ok(answers.into_iter().find_map(link_info)),
        Err(e) if e.errno == Errno::ENODEV => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn list(sock: &mut RouteSocket) -> Result<Vec<LinkInfo>, NetlinkError> {
    let mut msg = LinkMessage::default();
    msg.attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    let answers = sock.dump(RouteNetlinkMessage::GetLink(msg))?;
    Ok(answers.into_iter().filter_map(link_info).collect())
}

/// `ip link add NAME group TAG type veth peer name PEER group TAG [netns NS]`; the peer
/// is created in the namespace `peer_ns` when given, which avoids the slow move of
/// `ip link set netns`.
pub fn add_veth(
    sock: &mut RouteSocket,
    name: &str,
    peer: &str,
    peer_ns: Option<RawFd>,
    tag: u32,
) -> Result<(), NetlinkError> {
    let mut peer_msg = LinkMessageBuilder::<LinkUnspec>::new()
        .name(peer.to_string())
        .link_group(tag);
    if let Some(fd) = peer_ns {
        peer_msg = peer_msg.setns_by_fd(fd);
    }
    let msg = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Veth)
        .name(name.to_string())
        .link_group(tag)
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg.build())))
        .build();
    sock.change(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
}

/// `ip link add NAME group TAG type bridge`.
pub fn add_bridge(sock: &mut RouteSocket, name: &str, tag: u32) -> Result<(), NetlinkError> {
    let msg = LinkBridge::new(name).link_group(tag).build();
    sock.change(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
}

/// `ip link add NAME group TAG type vxlan id ID remote R [local L] dstport P [dev D]`,
/// D by its index in the same namespace.
pub fn add_vxlan(
    sock: &mut RouteSocket,
    name: &str,
    spec: &crate::ops::vxlan::VxlanSpec,
    dev: Option<u32>,
    tag: u32,
) -> Result<(), NetlinkError> {
    use std::net::IpAddr;
    let mut b = LinkVxlan::new(name, spec.id).port(spec.port);
    b = match spec.remote {
        IpAddr::V4(a) => b.remote(a),
        IpAddr::V6(a) => b.remote6(a),
    };
    b = match spec.local {
        Some(IpAddr::V4(a)) => b.local(a),
        Some(IpAddr::V6(a)) => b.local6(a),
        None => b,
    };
    if let Some(index) = dev {
        b = b.dev(index);
    }
    let msg = b.link_group(tag).build();
    sock.change(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
}

pub fn set(sock: &mut RouteSocket, index: u32, change: LinkChange) -> Result<(), NetlinkError> {
    let b = LinkUnspec::new_with_index(index);
    let b = match change {
        LinkChange::Up => b.up(),
        LinkChange::Down => b.down(),
        LinkChange::Mtu(m) => b.mtu(m),
        LinkChange::Master(Some(m)) => b.controller(m),
        LinkChange::Master(None) => b.nocontroller(),
    };
    sock.change(RouteNetlinkMessage::SetLink(b.build()), 0)
}

/// `ip link set NAME netns NS`.
pub fn move_to(sock: &mut RouteSocket, index: u32, ns: RawFd) -> Result<(), NetlinkError> {
    let msg = LinkUnspec::new_with_index(index).setns_by_fd(ns).build();
    sock.change(RouteNetlinkMessage::SetLink(msg), 0)
}

/// `ip link del NAME`; a veth takes its peer with it.
pub fn delete(sock: &mut RouteSocket, index: u32) -> Result<(), NetlinkError> {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    sock.change(RouteNetlinkMessage::DelLink(msg), 0)
}

fn link_info(m: RouteNetlinkMessage) -> Option<LinkInfo> {
    let RouteNetlinkMessage::NewLink(m) = m else {
        return None;
    };
    let mut info = LinkInfo {
        index: m.header.index,
        name: String::new(),
        kind: String::new(),
        up: m.header.flags.contains(LinkFlags::Up),
        state: String::new(),
        mtu: 0,
        mac: String::new(),
        master: None,
        group: 0,
        peer: None,
        vxlan: None,
    };
    let mut peer_elsewhere = false;
    for a in m.attributes {
        match a {
            LinkAttribute::IfName(n) => info.name = n,
            LinkAttribute::Mtu(v) => info.mtu = v,
            LinkAttribute::Controller(c) => info.master = Some(c),
            LinkAttribute::Group(g) => info.group = g,
            LinkAttribute::Link(i) => info.peer = Some(i),
            LinkAttribute::LinkNetNsId(_) => peer_elsewhere = true,
            LinkAttribute::OperState(s) => info.state = state_name(s),
            LinkAttribute::Address(a) => {
                info.mac = a
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            }
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    match i {
                        NlLinkInfo::Kind(k) => info.kind = k.to_string(),
                        NlLinkInfo::Data(InfoData::Vxlan(v)) => info.vxlan = Some(vxlan_info(&v)),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if peer_elsewhere {
        info.peer = None;
    }
    if info.kind.is_empty() {
        info.kind = if m.header.flags.contains(LinkFlags::Loopback) {
            "loopback".into()
        } else {
            "device".into()
        };
    }
    Some(info)
}

/// The kernel says a unicast VXLAN's remote as its "group".
fn vxlan_info(attrs: &[netlink_packet_route::link::InfoVxlan]) -> crate::ops::net::VxlanInfo {
    use netlink_packet_route::link::InfoVxlan as V;
    let mut v = crate::ops::net::VxlanInfo {
        id: 0,
        remote: None,
        port: 0,
    };
    for a in attrs {
        match a {
            V::Id(id) => v.id = *id,
            V::Group(g) => v.remote = Some((*g).into()),
            V::Group6(g) => v.remote = Some((*g).into()),
            V::Port(p) => v.port = *p,
            _ => {}
        }
    }
    v
}

fn state_name(s: State) -> String {
    match s {
        State::Up => "up",
        State::Down => "down",
        State::LowerLayerDown => "lowerlayerdown",
        State::Dormant => "dormant",
        State::NotPresent => "notpresent",
        State::Testing => "testing",
        _ => "unknown",
    }
    .into()
}
