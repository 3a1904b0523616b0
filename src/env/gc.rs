//! `nsr gc`: what carries nsr's marks on the host but belongs to no environment's
//! journal: holder processes, `nsr_<pid>` nftables tables, links in nsr's link groups,
//! overlay roots with nsr's upper directories, cgroups, pasta processes. Listed; removed with `--apply`.

use super::recover::list;
use super::store::{self, Record};
use crate::ops::{OpError, Undo};
use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Orphan {
    Holder(i32),
    Table(String),
    Link(String),
    /// Its mount point and its mount ID (what `--apply` takes back, and nothing else).
    Overlay(String, u64),
    /// A cgroup of a sandbox (`nsr-<pid>-...`), in any hierarchy.
    Cgroup(std::path::PathBuf),
    /// A pasta process named `pasta [nsr-<pid>-...]`: (pid, start time, name).
    Pasta(i32, u64, String),
}

impl std::fmt::Display for Orphan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Orphan::Holder(p) => write!(f, "sandbox holder process {p}"),
            Orphan::Table(t) => write!(f, "nftables table inet {t} (host)"),
            Orphan::Link(l) => write!(f, "link {l} (host)"),
            Orphan::Overlay(m, _) => write!(f, "overlay root mounted on {m}"),
            Orphan::Cgroup(p) => write!(f, "cgroup {}", p.display()),
            Orphan::Pasta(pid, _, name) => write!(f, "pasta process {pid} ({name})"),
        }
    }
}

/// Whether a pid is a running nsr process (its resources are still its own).
fn nsr_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim() == "nsr")
        .unwrap_or(false)
}

/// What the journals of environments hold.
#[derive(Default)]
struct Known {
    pids: HashSet<i32>,
    tables: HashSet<String>,
    links: HashSet<String>,
    overlays: HashSet<String>,
    cgroups: HashSet<String>,
    /// pasta/slirp4netns names, started or (nsr killed meanwhile) about to be.
    pastas: HashSet<String>,
}

fn known() -> Known {
    use crate::ops::net::NetUndo;
    use crate::ops::CutShort;
    let mut k = Known::default();
    for e in list() {
        let (records, _) = store::read_records(&store::base_dir().join(&e.name));
        for r in records {
            let undo = match r {
                Record::Done { undo, .. } => undo,
                // Only a process has a name before it exists.
                Record::Intent {
                    cut_short: CutShort::Undo(Undo::Net(NetUndo::StopPasta { process, .. })),
                    ..
                } => {
                    k.pastas.insert(process.name);
                    continue;
                }
                _ => continue,
            };
            match undo {
                Undo::StopSandbox { pid, cgroups, .. } => {
                    k.pids.insert(pid);
                    k.cgroups.extend(cgroups);
                }
                Undo::Net(NetUndo::DeleteTable { table, .. }) => {
                    k.tables.insert(table);
                }
                Undo::Net(NetUndo::DeleteLink { name, .. }) => {
                    k.links.insert(name);
                }
                Undo::Net(NetUndo::StopPasta { process, .. }) => {
                    k.pastas.insert(process.name);
                }
                Undo::Rootfs(crate::ops::rootfs::RootfsUndo::Overlay { dir, .. }) => {
                    k.overlays.insert(dir);
                }
                _ => {}
            }
        }
    }
    k
}

/// pasta processes of runs that ended without a journal that names them.
fn orphan_pastas(known: &HashSet<String>) -> Vec<Orphan> {
    crate::net::pasta::all_of_nsr()
        .into_iter()
        .filter(|(_, _, name, maker)| !known.contains(name) && !nsr_alive(*maker))
        .map(|(pid, start, name, _)| Orphan::Pasta(pid, start, name))
        .collect()
}

pub fn find() -> Result<Vec<Orphan>, OpError> {
    let Known {
        pids,
        tables,
        links,
        overlays,
        cgroups,
        pastas,
    } = known();
    let mut out = orphan_pastas(&pastas);
    for e in std::fs::read_dir("/proc")
        .map_err(|_| OpError::new("cannot read /proc"))?
        .flatten()
    {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if comm.trim() != "nsr-holder" || pids.contains(&pid) {
            continue;
        }
        // A holder whose nsr still runs is that run's own; a zombie is only waiting to
        // be reaped.
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(") ")
            .map(|(_, r)| r.split_whitespace().collect())
            .unwrap_or_default();
        let zombie = fields.first() == Some(&"Z");
        let ppid: i32 = fields.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
        if !zombie && !nsr_alive(ppid) {
            out.push(Orphan::Holder(pid));
        }
    }
    if let Ok(nft) = crate::net::nft::find_nft() {
        if let Ok(o) = std::process::Command::new(nft)
            .args(["list", "tables"])
            .output()
        {
            for line in String::from_utf8_lossy(&o.stdout).lines() {
                if let Some(t) = line.strip_prefix("table inet nsr_") {
                    let name = format!("nsr_{t}");
                    let pid: i32 = t.parse().unwrap_or(0);
                    if !tables.contains(&name) && !nsr_alive(pid) {
                        out.push(Orphan::Table(name));
                    }
                }
            }
        }
    }
    let mut sock = crate::net::netlink::RouteSocket::open()?;
    // Both ends of a veth pair carry the tag; deleting one deletes the other.
    let all = crate::net::links::list(&mut sock).map_err(|e| e.into_op("cannot list links"))?;
    let journaled: HashSet<u32> = all
        .iter()
        .filter(|l| links.contains(&l.name))
        .map(|l| l.index)
        .collect();
    let mut listed = HashSet::new();
    for link in all {
        if let Some(pid) = crate::net::links::tagged_by(link.group) {
            let peer_seen = link
                .peer
                .is_some_and(|p| listed.contains(&p) || journaled.contains(&p));
            if !links.contains(&link.name) && !nsr_alive(pid) && !peer_seen {
                listed.insert(link.index);
                out.push(Orphan::Link(link.name));
            }
        }
    }
    for m in crate::ns::inspect::mountinfo(std::process::id() as i32)? {
        if m.fstype == "overlay"
            && m.super_options.contains(".nsr-overlay/upper")
            && !overlays.contains(&m.mount_point)
        {
            out.push(Orphan::Overlay(m.mount_point, m.id));
        }
    }
    for parent in crate::cgroup::own_cgroups() {
        for path in crate::cgroup::ours_under(&parent) {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let maker = name.as_deref().and_then(crate::cgroup::maker_pid);
            let journaled = cgroups.contains(path.to_string_lossy().as_ref());
            if !journaled && !maker.is_some_and(nsr_alive) {
                out.push(Orphan::Cgroup(path));
            }
        }
    }
    Ok(out)
}

pub fn remove(o: &Orphan) -> Result<(), OpError> {
    match o {
        Orphan::Holder(pid) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            Ok(())
        }
        Orphan::Table(t) => {
            let nft = crate::net::nft::find_nft()?;
            let ok = std::process::Command::new(nft)
                .args(["delete", "table", "inet", t])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                Ok(())
            } else {
                Err(OpError::new(format!("nft could not delete table inet {t}")))
            }
        }
        Orphan::Link(name) => {
            let mut sock = crate::net::netlink::RouteSocket::open()?;
            if let Some(info) = crate::net::links::get(&mut sock, name)
                .map_err(|e| e.into_op("cannot look up link"))?
            {
                crate::net::links::delete(&mut sock, info.index)
                    .map_err(|e| e.into_op(&format!("cannot delete {name}")))?;
            }
            Ok(())
        }
        // By its ID, through no symlink: never another mount that took its path.
        Orphan::Overlay(_, id) => crate::fs::mounting::unmount_own(crate::fs::mounting::MountId {
            id: *id,
            unique: None,
        })
        .map(|_| ()),
        Orphan::Cgroup(path) => crate::cgroup::remove(path, true).map(|_| ()),
        Orphan::Pasta(pid, start, name) => {
            crate::net::pasta::stop(&crate::ops::pasta::PastaProcess {
                name: name.clone(),
                pid: *pid,
                start: *start,
                ports: Vec::new(),
            })
            .map(|_| ())
        }
    }
}
