//! The veth pairs of a live environment: a veth's peer by its index, in the namespace
//! whose id (as the veth's own namespace knows it) the kernel reports.

use super::inside::Inside;
use super::seen::Seen;
use crate::graph::model::{End, Veth};
use crate::net::peers;
use crate::ops::OpError;
use std::collections::{HashMap, HashSet};

/// Each veth pair once: a veth's peer by its index in the namespace whose id (as the
/// veth's namespace knows it) the kernel reports.
/// `inside[i]` looks into `seen[i]` (its links listed); a namespace nsr could not look into (None) has no
/// ends to draw (its box says why).
pub fn pairs(seen: &[Seen], inside: &mut [Option<Inside>]) -> Result<Vec<Veth>, OpError> {
    let names: Vec<HashMap<u32, (String, String)>> = inside
        .iter()
        .map(|i| {
            i.iter()
                .flat_map(|i| &i.links)
                .map(|l| (l.index, (l.name.clone(), l.kind.clone())))
                .collect()
        })
        .collect();
    let mut socks: Vec<Option<&mut crate::net::netlink::RouteSocket>> = inside
        .iter_mut()
        .map(|i| i.as_mut().map(|i| &mut i.sock))
        .collect();
    // Each pair is found from its first end; the second end is then skipped, and the id
    // each namespace gives another is asked once (a switch with N ports: N requests).
    let mut paired: HashSet<(usize, u32)> = HashSet::new();
    let mut ids: HashMap<(usize, usize), Option<i32>> = HashMap::new();
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
            if kind != "veth" || paired.contains(&(a, p.index)) {
                continue;
            }
            let b = match p.peer_nsid {
                None => Some(a),
                Some(id) => (0..seen.len()).find(|&b| {
                    b != a
                        && *ids.entry((a, b)).or_insert_with(|| {
                            socks[a]
                                .as_deref_mut()
                                .and_then(|sock| peers::nsid_of(sock, &seen[b].fd).ok().flatten())
                        }) == Some(id)
                }),
            };
            let Some(b) = b else { continue };
            let Some((peer, _)) = names[b].get(&p.peer_index) else {
                continue;
            };
            paired.insert((a, p.index));
            paired.insert((b, p.peer_index));
            out.push(Veth {
                a: End {
                    ns: s.id.clone(),
                    name: name.clone(),
                },
                b: End {
                    ns: seen[b].id.clone(),
                    name: peer.clone(),
                },
            });
        }
    }
    Ok(out)
}
