//! Routes over rtnetlink in the main table: `ip route add/del/show`.

use super::netlink::{NetlinkError, RouteSocket};
use crate::ops::cidr::IpCidr;
pub use crate::ops::route::RouteSpec;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
    RouteVia,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::net::IpAddr;

/// A route as `ip route` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteInfo {
    pub dest: Option<IpCidr>,
    pub via: Option<IpAddr>,
    pub oif: Option<u32>,
    pub metric: Option<u32>,
    pub protocol: String,
    pub scope: String,
    pub v6: bool,
}

fn message(spec: &RouteSpec, oif: Option<u32>) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = if spec.v6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    m.header.table = RouteHeader::RT_TABLE_MAIN;
    m.header.protocol = RouteProtocol::Static;
    m.header.kind = RouteType::Unicast;
    m.header.scope = if spec.via.is_none() && oif.is_some() {
        RouteScope::Link
    } else {
        RouteScope::Universe
    };
    if let Some(d) = &spec.dest {
        m.header.destination_prefix_length = d.prefix;
        m.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(d.addr)));
    }
    if let Some(gw) = spec.via {
        if gw.is_ipv6() == spec.v6 {
            m.attributes
                .push(RouteAttribute::Gateway(RouteAddress::from(gw)));
        } else {
            m.attributes.push(RouteAttribute::Via(RouteVia::from(gw)));
        }
    }
    if let Some(i) = oif {
        m.attributes.push(RouteAttribute::Oif(i));
    }
    if let Some(p) = spec.metric {
        m.attributes.push(RouteAttribute::Priority(p));
    }
    m
}

pub fn add(sock: &mut RouteSocket, spec: &RouteSpec, oif: Option<u32>) -> Result<(), NetlinkError> {
    sock.change(
        RouteNetlinkMessage::NewRoute(message(spec, oif)),
        NLM_F_CREATE | NLM_F_EXCL,
    )
}

pub fn delete(
    sock: &mut RouteSocket,
    spec: &RouteSpec,
    oif: Option<u32>,
) -> Result<(), NetlinkError> {
    let mut m = message(spec, oif);
    // Match on destination, gateway and device only, as `ip route del` does.
    m.header.protocol = RouteProtocol::Unspec;
    m.header.scope = RouteScope::NoWhere;
    sock.change(RouteNetlinkMessage::DelRoute(m), 0)
}

/// The main table's routes, IPv4 then IPv6.
pub fn list(sock: &mut RouteSocket) -> Result<Vec<RouteInfo>, NetlinkError> {
    let mut out = Vec::new();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut q = RouteMessage::default();
        q.header.address_family = family;
        for a in sock.dump(RouteNetlinkMessage::GetRoute(q))? {
            let RouteNetlinkMessage::NewRoute(m) = a else {
                continue;
            };
            let table = m
                .attributes
                .iter()
                .find_map(|a| match a {
                    RouteAttribute::Table(t) => Some(*t),
                    _ => None,
                })
                .unwrap_or(m.header.table as u32);
            if table != RouteHeader::RT_TABLE_MAIN as u32 || m.header.kind != RouteType::Unicast {
                continue;
            }
            let mut r = RouteInfo {
                dest: None,
                via: None,
                oif: None,
                metric: None,
                protocol: format!("{:?}", m.header.protocol).to_lowercase(),
                scope: format!("{:?}", m.header.scope).to_lowercase(),
                v6: family == AddressFamily::Inet6,
            };
            for attr in &m.attributes {
                match attr {
                    RouteAttribute::Destination(d) => {
                        if let Some(addr) = ip_of(d) {
                            r.dest = Some(IpCidr {
                                addr,
                                prefix: m.header.destination_prefix_length,
                            });
                        }
                    }
                    RouteAttribute::Gateway(g) => r.via = ip_of(g),
                    RouteAttribute::Oif(i) => r.oif = Some(*i),
                    RouteAttribute::Priority(p) => r.metric = Some(*p),
                    _ => {}
                }
            }
            out.push(r);
        }
    }
    Ok(out)
}

fn ip_of(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v) => Some(IpAddr::V4(*v)),
        RouteAddress::Inet6(v) => Some(IpAddr::V6(*v)),
        _ => None,
    }
}
