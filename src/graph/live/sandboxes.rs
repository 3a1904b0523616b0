//! A sandbox of a live environment as the kernel shows it: its namespaces (from its
//! kept holder, which also says how it confines commands, or from /proc), which of them
//! are its own, its hostname, root and cgroup limits.

use super::inside::{look, Target};
use crate::graph::model::{sandbox_ns, Sandbox};
use crate::graph::planned::kinds_in_order;
use crate::ops::kinds::{NsKind, ALL_KINDS};
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::Path;

/// A sandbox's namespaces, by kind, with their inodes.
#[derive(Default)]
pub struct Namespaces {
    pub fds: HashMap<NsKind, OwnedFd>,
    pub inodes: HashMap<NsKind, u64>,
    /// How its commands are confined, when its kept holder said.
    pub confinement: Option<String>,
}

/// Asks the kept holder for its namespaces; opens /proc/PID/ns/* otherwise (a holder is
/// not dumpable: for an ordinary user only its holder can hand them over).
pub fn namespaces_of(dir: &Path, pid: i32) -> Namespaces {
    let (fds, confinement): (HashMap<NsKind, OwnedFd>, Option<String>) =
        match crate::sandbox::kept::reach(dir, pid) {
            Ok(held) => (
                held.namespaces.into_iter().collect(),
                Some(held.confine.summary()),
            ),
            Err(_) => (
                ALL_KINDS
                    .iter()
                    .filter_map(|k| {
                        Some((
                            *k,
                            crate::net::netns::open_ns(&format!(
                                "/proc/{pid}/ns/{}",
                                k.proc_file()
                            ))
                            .ok()?,
                        ))
                    })
                    .collect(),
                None,
            ),
        };
    let inodes = fds
        .iter()
        .filter_map(|(k, fd)| Some((*k, crate::net::netns::identity_of(fd).ok()?)))
        .collect();
    Namespaces {
        fds,
        inodes,
        confinement,
    }
}

/// nsr's own namespace of each kind, by inode.
pub fn own_inodes() -> HashMap<NsKind, u64> {
    ALL_KINDS
        .iter()
        .filter_map(|k| {
            let path = format!("/proc/self/ns/{}", k.proc_file());
            Some((*k, crate::net::netns::identity(&path).ok()?))
        })
        .collect()
}

pub struct Facts<'a> {
    pub number: usize,
    pub pid: i32,
    pub alive: bool,
    pub cgroups: &'a [String],
    /// The id of the namespace its network is.
    pub netns: String,
}

/// What sandbox `f.number` is now. A namespace is its own when it is neither nsr's nor
/// one an earlier sandbox has (then it joined it); its network, when it is not a named
/// namespace or another's.
pub fn sandbox(
    f: Facts,
    ns: &Namespaces,
    mine: &HashMap<NsKind, u64>,
    earlier: &[&Namespaces],
) -> Sandbox {
    let own = |k: NsKind| {
        let Some(i) = ns.inodes.get(&k) else {
            return false;
        };
        if k == NsKind::Net {
            return f.netns == sandbox_ns(f.number);
        }
        mine.get(&k) != Some(i) && earlier.iter().all(|e| e.inodes.get(&k) != Some(i))
    };
    let kinds: Vec<NsKind> = if f.alive {
        ALL_KINDS.iter().copied().filter(|k| own(*k)).collect()
    } else {
        Vec::new()
    };
    Sandbox {
        number: f.number,
        pid: Some(f.pid),
        hostname: hostname(&kinds, ns),
        kinds: kinds_in_order(&kinds),
        root: std::fs::read_link(format!("/proc/{}/root", f.pid))
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|r| f.alive && r != "/"),
        netns: f.netns,
        confinement: match (&ns.confinement, f.alive) {
            (_, false) => "not running (its holder is gone: nsr down cleans up)".into(),
            (Some(c), true) => c.clone(),
            (None, true) => "confinement known to the running nsr only".into(),
        },
        limits: crate::cgroup::sandbox::limits_now(f.cgroups).map(|l| l.to_string()),
    }
}

/// The hostname of its own UTS namespace, when it differs from the host's (a new UTS
/// namespace starts with the host's).
fn hostname(kinds: &[NsKind], ns: &Namespaces) -> Option<String> {
    if !kinds.contains(&NsKind::Uts) {
        return None;
    }
    let net = ns.fds.get(&NsKind::Net)?;
    let user = kinds
        .contains(&NsKind::User)
        .then(|| ns.fds.get(&NsKind::User))
        .flatten();
    let inside = look(&Target {
        net,
        uts: ns.fds.get(&NsKind::Uts),
        user,
    })
    .ok()?;
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok());
    inside.hostname.filter(|h| Some(h) != host.as_ref())
}
