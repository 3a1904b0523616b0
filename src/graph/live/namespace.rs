//! One namespace of a live environment: its links (all of a namespace the run made,
//! but `lo`; of the host and of one that existed, those the journal names), addresses
//! (not link-local), the routes the recipe added, forwarding, NAT, pasta.

use super::inside::Inside;
use super::journal::Made;
use super::seen::Seen;
use crate::graph::model::{End, Interface, Namespace, Route, Tunnel};
use crate::net::{addrs, links, routes};
use crate::ops::OpError;
use std::collections::{BTreeSet, HashMap};

/// Namespace `s` as the kernel shows it, through `inside`'s socket (which keeps the
/// links it listed, for the veth pairs), and the VXLAN links among what it shows.
pub fn namespace(
    s: &Seen,
    inside: &mut Inside,
    made: &Made,
) -> Result<(Namespace, Vec<Tunnel>), OpError> {
    let touched = made.touched_by(&s.refs);
    let sock = &mut inside.sock;
    fn e(what: &'static str) -> impl Fn(crate::net::netlink::NetlinkError) -> OpError {
        move |err| err.into_op(what)
    }
    let all_links = links::list(sock).map_err(e("cannot list links"))?;
    let all_addrs = addrs::list(sock).map_err(e("cannot list addresses"))?;
    let named: BTreeSet<&str> = touched
        .iter()
        .flat_map(|t| t.links.iter().map(String::as_str))
        .collect();
    let shown = |l: &crate::ops::net::LinkInfo| {
        l.kind != "loopback" && (s.created || named.contains(l.name.as_str()))
    };
    let name_of: HashMap<u32, &str> = all_links
        .iter()
        .map(|l| (l.index, l.name.as_str()))
        .collect();
    let tunnels = all_links
        .iter()
        .filter(|l| shown(l))
        .filter_map(|l| {
            let v = l.vxlan?;
            Some(Tunnel {
                end: End {
                    ns: s.id.clone(),
                    name: l.name.clone(),
                },
                id: v.id,
                remote: v.remote.map(|r| r.to_string()).unwrap_or_default(),
                port: v.port,
            })
        })
        .collect();
    let interfaces = all_links
        .iter()
        .filter(|l| shown(l))
        .map(|l| Interface {
            name: l.name.clone(),
            kind: l.kind.clone(),
            addrs: all_addrs
                .iter()
                .filter(|a| a.index == l.index && !a.cidr.to_string().starts_with("fe80:"))
                .map(|a| a.cidr.to_string())
                .collect(),
            up: l.up,
            master: l
                .master
                .and_then(|m| name_of.get(&m))
                .map(|m| m.to_string()),
        })
        .collect();
    let mut ns = Namespace {
        id: s.id.clone(),
        label: label_of(&s.id),
        created: s.created,
        interfaces,
        ..Namespace::default()
    };
    if s.created || touched.iter().any(|t| t.routes) {
        for r in routes::list(sock).map_err(e("cannot list routes"))? {
            // The kernel's own (a prefix on a link, local, multicast) are not the recipe's.
            if matches!(r.protocol.as_str(), "kernel" | "unspec") || r.scope == "host" {
                continue;
            }
            // The kernel names the device of a route via a gateway too; the picture
            // names it only for a route without one.
            ns.routes.push(Route {
                dest: r.dest.map_or("default".into(), |d| d.to_string()),
                via: r.via.map(|v| v.to_string()),
                dev: r
                    .oif
                    .filter(|_| r.via.is_none())
                    .and_then(|i| name_of.get(&i))
                    .map(|n| n.to_string()),
            });
        }
    }
    for (k, family) in ["ipv4", "ipv6"].into_iter().enumerate() {
        let key = crate::ops::net::forwarding_key(k == 1);
        let asked = s.created || touched.iter().any(|t| t.sysctls.iter().any(|x| x == key));
        if asked && inside.forwarding[k] {
            ns.forwarding.push(family.into());
        }
    }
    ns.nat = super::nat::rules(s, &touched);
    ns.usernet = touched.iter().find_map(|t| t.usernet.clone());
    inside.links = all_links;
    Ok((ns, tunnels))
}

pub fn label_of(id: &str) -> String {
    match id.strip_prefix("sandbox:") {
        Some(n) => format!("sandbox {n}"),
        None => id.strip_prefix("netns:").unwrap_or(id).to_string(),
    }
}
