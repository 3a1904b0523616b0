//! The picture of a live environment (`nsr graph --env NAME`, the REPL's `:graph`): its
//! journal says what the run made and where (`journal.rs`); the kernel says how each
//! namespace (`namespace.rs`, `nat.rs`), sandbox (`sandboxes.rs`) and veth pair
//! (`veths.rs`) is now, looked into from outside (`inside.rs`).

mod inside;
mod journal;
mod namespace;
mod nat;
mod sandboxes;
mod seen;
mod veths;

use crate::env::recover::is_our_holder;
use crate::graph::model::{named_ns, sandbox_ns, Graph, Namespace, HOST};
use crate::net::netns;
use crate::ops::kinds::NsKind;
use crate::ops::net::NsRef;
use crate::ops::OpError;
use inside::{look, Inside, Target};
use journal::Made;
use sandboxes::Namespaces;
use seen::Seen;
use std::collections::HashMap;
use std::os::fd::OwnedFd;

fn inode(path: &str) -> Option<u64> {
    netns::identity(path).ok()
}

/// The environment `name` as the kernel shows it now.
pub fn of_env(name: &str) -> Result<Graph, OpError> {
    let made = journal::read(name)?;
    let mut g = Graph {
        title: name.to_string(),
        source: "env".into(),
        ..Graph::default()
    };
    let seen = namespaces(&made, &mut g)?;
    let mut inside: Vec<Option<Inside>> = Vec::new();
    for s in &seen {
        let looked = look(&Target {
            net: &s.fd,
            uts: None,
            user: s.user.as_ref(),
        });
        // One nsr cannot look into is drawn with why, rather than failing the picture.
        let drawn = looked.and_then(|mut i| {
            let n = namespace::namespace(s, &mut i, &made)?;
            Ok((n, i))
        });
        match drawn {
            Ok(((n, tunnels), i)) => {
                g.namespaces.push(n);
                g.tunnels.extend(tunnels);
                inside.push(Some(i));
            }
            Err(e) => {
                g.namespaces.push(unreadable(s, &e));
                inside.push(None);
            }
        }
    }
    g.veths = veths::pairs(&seen, &mut inside)?;
    g.sort_tunnels();
    Ok(g)
}

fn unreadable(s: &Seen, e: &OpError) -> Namespace {
    Namespace {
        id: s.id.clone(),
        label: namespace::label_of(&s.id),
        created: s.created,
        unreadable: Some(format!(
            "cannot look inside: {}{}",
            e.message,
            e.errno_text().map(|n| format!(": {n}")).unwrap_or_default()
        )),
        ..Namespace::default()
    }
}

/// The namespaces found so far, one per inode.
#[derive(Default)]
struct Found {
    seen: Vec<Seen>,
    by_inode: HashMap<u64, usize>,
}

impl Found {
    fn add(
        &mut self,
        ino: u64,
        id: String,
        fd: OwnedFd,
        user: Option<OwnedFd>,
        created: bool,
        r: NsRef,
    ) -> usize {
        if let Some(&i) = self.by_inode.get(&ino) {
            self.seen[i].refs.push(r);
            return i;
        }
        self.seen.push(Seen {
            id,
            fd,
            user,
            created,
            refs: vec![r],
        });
        self.by_inode.insert(ino, self.seen.len() - 1);
        self.seen.len() - 1
    }
}

/// Finds each namespace the journal names or a sandbox is in (by inode: a sandbox that
/// joined a named one is in it), in the order the run made them, and the sandboxes.
fn namespaces(made: &Made, g: &mut Graph) -> Result<Vec<Seen>, OpError> {
    let mut f = Found::default();
    let host = "/proc/self/ns/net";
    f.add(
        inode(host).unwrap_or(0),
        HOST.into(),
        netns::open_ns(host)?,
        None,
        false,
        NsRef::Host,
    );
    // Named namespaces a sandbox joined without the run naming them.
    let others: HashMap<u64, String> = std::fs::read_dir(netns::NETNS_RUN_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            Some((inode(&netns::path_of(&n))?, n))
        })
        .collect();
    let mine = sandboxes::own_inodes();
    let mut known: Vec<Namespaces> = Vec::new();
    for r in &made.order {
        match r {
            NsRef::Named(n) => {
                let path = netns::path_of(n);
                if let (Some(ino), Ok(fd)) = (inode(&path), netns::open_ns(&path)) {
                    f.add(
                        ino,
                        named_ns(n),
                        fd,
                        None,
                        made.netns.contains(n),
                        r.clone(),
                    );
                }
            }
            NsRef::Sandbox(id) => {
                let Some((pid, cgroups)) = made.sandboxes.get(id) else {
                    continue;
                };
                let number = id + 1;
                let alive = is_our_holder(*pid, made.started);
                let ns = if alive {
                    sandboxes::namespaces_of(&made.dir, *pid)
                } else {
                    Namespaces::default()
                };
                let netns_id = match (ns.inodes.get(&NsKind::Net), ns.fds.get(&NsKind::Net)) {
                    (Some(&ino), Some(fd)) => {
                        let (nid, created) = match others.get(&ino) {
                            Some(n) if !f.by_inode.contains_key(&ino) => (named_ns(n), false),
                            _ => (sandbox_ns(number), true),
                        };
                        // Its own user namespace owns what it made: the way in for an
                        // ordinary user.
                        let user = ns
                            .inodes
                            .get(&NsKind::User)
                            .filter(|u| mine.get(&NsKind::User) != Some(u))
                            .and_then(|_| ns.fds.get(&NsKind::User)?.try_clone().ok());
                        let fd = fd.try_clone().map_err(|e| {
                            OpError::new(format!("cannot duplicate a namespace fd: {e}"))
                        })?;
                        let at = f.add(ino, nid, fd, user, created, r.clone());
                        f.seen[at].id.clone()
                    }
                    _ => "gone".into(),
                };
                let earlier: Vec<&Namespaces> = known.iter().collect();
                let facts = sandboxes::Facts {
                    number,
                    pid: *pid,
                    alive,
                    cgroups,
                    netns: netns_id,
                };
                g.sandboxes
                    .push(sandboxes::sandbox(facts, &ns, &mine, &earlier));
                known.push(ns);
            }
            NsRef::Host => {}
        }
    }
    Ok(f.seen)
}
