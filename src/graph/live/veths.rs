//! The veth pairs of a live environment: a veth's peer by its index, in the namespace
//! whose id (as the veth's own namespace knows it) the kernel reports.

use super::inside::Inside;
use super::seen::Seen;
use crate::graph::model::{End, Veth};
use crate::net::{links, peers};
use crate::ops::OpError;
use std::collections::{BTreeSet, HashMap};

/// Each veth pair once: a veth's peer by its index in the namespace whose id (as the
/// veth's namespace knows it) the kernel reports.
/// `inside[i]` looks into `seen[i]`; a namespace nsr could not look into (None) has no
/// ends to draw (its box says why).
pub fn pairs(seen: &[Seen], inside: &mut [Option<Inside>]) -> Result<Vec<Veth>, OpError> {
    let mut names: Vec<HashMap<u32, (String, String)>> = Vec::new();
    for i in inside.iter_mut() {
        let l = match i {
            Some(i) => links::list(&mut i.sock).map_err(|e| e.into_op("cannot list links"))?,
            None => Vec::new(),
        };
        names.push(l.into_iter().map(|l| (l.index, (l.name, l.kind))).collect());
    }
    let mut socks: Vec<Option<&mut crate::net::netlink::RouteSocket>> = inside
        .iter_mut()
        .map(|i| i.as_mut().map(|i| &mut i.sock))
        .collect();
    let mut pairs: BTreeSet<(End, End)> = BTreeSet::new();
    let mut out = Vec::new();
    for (a, s) in seen.iter().enumerate() {
        let Some(sock) = socks[a].as_deref_mut() else {
            continue;
        };
        let ps = peers::list(sock).map_err(|e| e.into_op("cannot list veth peers"))?;
        for p in ps {
            let Some((name, kind)) = names[a].get(&p.index) else {
                continue;
            };
            if kind != "veth" {
                continue;
            }
            let b = match p.peer_nsid {
                None => Some(a),
                Some(id) => (0..seen.len()).find(|&b| {
                    b != a
                        && socks[a]
                            .as_deref_mut()
                            .and_then(|sock| peers::nsid_of(sock, &seen[b].fd).ok().flatten())
                            == Some(id)
                }),
            };
            let Some(b) = b else { continue };
            let Some((peer, _)) = names[b].get(&p.peer_index) else {
                continue;
            };
            let ea = End {
                ns: s.id.clone(),
                name: name.clone(),
            };
            let eb = End {
                ns: seen[b].id.clone(),
                name: peer.clone(),
            };
            let key = if ea <= eb {
                (ea.clone(), eb.clone())
            } else {
                (eb.clone(), ea.clone())
            };
            if pairs.insert(key) {
                out.push(Veth { a: ea, b: eb });
            }
        }
    }
    Ok(out)
}
