//! The picture of a live environment (`nsr graph --env NAME`, the REPL's `:graph`):
//! its journal says what the run made and where (namespaces, sandboxes, the links,
//! addresses, routes, sysctls and nft rules of the host and of namespaces that existed
//! before); the kernel says how each of them is now. Of a namespace the run created,
//! everything the kernel shows is drawn (but `lo`); of the host and of a namespace that
//! existed, only what the journal names.

use super::model::{named_ns, nat_kind_of_chain, nat_summary, sandbox_ns, End, Graph, Interface, Namespace, Nat, Route, Sandbox, Veth, HOST};
use super::planned::kinds_in_order;
use crate::env::recover::is_our_holder;
use crate::env::store::{self, Record};
use crate::net::{addrs, links, netns, nft, peers, routes};
use crate::ops::kinds::{NsKind, ALL_KINDS};
use crate::ops::net::{NetUndo, NsRef};
use crate::ops::{OpError, Undo};
use nix::errno::Errno;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// What the journal of an environment says is still there.
#[derive(Default)]
struct Made {
    /// Sandbox id -> (holder pid, its cgroups).
    sandboxes: BTreeMap<usize, (i32, Vec<String>)>,
    netns: Vec<String>,
    /// Per namespace: links it names, routes it added, sysctls it changed, nft rules
    /// (the primitive's words, its table and its (chain, handle)s), pasta.
    touched: HashMap<NsRef, Touched>,
    /// Namespaces in the order the journal first names them.
    order: Vec<NsRef>,
    dir: PathBuf,
}

#[derive(Default)]
struct Touched {
    links: Vec<String>,
    routes: bool,
    sysctls: Vec<String>,
    /// Each NAT primitive's rules: its table and their (chain, handle)s; None for the
    /// first in a namespace, which made the table (its rules: those no other claims).
    rules: Vec<(String, Option<Vec<(String, u64)>>)>,
    usernet: Option<String>,
}

fn read_journal(name: &str) -> Result<(Made, i64), OpError> {
    store::check_name(name)?;
    let dir = store::base_dir().join(name);
    if !dir.is_dir() {
        return Err(
            OpError::os(Errno::ENOENT, format!("there is no environment '{name}'"))
                .with_hint("nsr ls lists them; nsr run --keep RECIPE makes one that stays"),
        );
    }
    let started = store::read_meta(&dir).map(|m| m.started).unwrap_or(0);
    let (records, _) = store::read_records(&dir);
    let mut live: BTreeMap<u64, (String, Undo)> = BTreeMap::new();
    for r in records {
        match r {
            Record::Done { seq, what, undo, .. } => {
                live.insert(seq, (what, undo));
            }
            Record::Undone { seq } => {
                live.remove(&seq);
            }
            _ => {}
        }
    }
    let mut made = Made {
        dir,
        ..Made::default()
    };
    for (what, undo) in live.into_values() {
        match undo {
            Undo::StopSandbox {
                sandbox,
                pid,
                cgroups,
            } => {
                made.at(&NsRef::Sandbox(sandbox));
                made.sandboxes.insert(sandbox, (pid, cgroups));
            }
            Undo::Net(u) => note(&mut made, &what, u),
            _ => {}
        }
    }
    Ok((made, started))
}

impl Made {
    fn at(&mut self, ns: &NsRef) -> &mut Touched {
        if !self.order.contains(ns) {
            self.order.push(ns.clone());
        }
        self.touched.entry(ns.clone()).or_default()
    }
}

fn note(made: &mut Made, what: &str, u: NetUndo) {
    match u {
        NetUndo::DeleteNetns { name } => {
            made.at(&NsRef::Named(name.clone()));
            made.netns.push(name);
        }
        NetUndo::DeleteLink { ns, name, .. }
        | NetUndo::RestoreLink { ns, name, .. }
        | NetUndo::DeleteAddr { ns, dev: name, .. } => made.at(&ns).links.push(name),
        NetUndo::MoveBack { name, to, .. } => made.at(&to).links.push(name),
        NetUndo::DeleteRoute { ns, .. } => made.at(&ns).routes = true,
        NetUndo::RestoreSysctl { ns, key, .. } => made.at(&ns).sysctls.push(key),
        NetUndo::DeleteRules { ns, table, rules } => made.at(&ns).rules.push((table, Some(rules))),
        NetUndo::DeleteTable { ns, table } => made.at(&ns).rules.push((table, None)),
        NetUndo::StopPasta { ns, .. } => {
            let words = what.rsplit_once(" (").map_or(what, |(w, _)| w);
            made.at(&ns).usernet = Some(words.to_string());
        }
    }
}

/// A namespace to draw: its id in the model, an open fd, whether the run made it.
struct Seen {
    id: String,
    fd: OwnedFd,
    created: bool,
    refs: Vec<NsRef>,
}

fn inode(path: &str) -> Option<u64> {
    nix::sys::stat::stat(path).ok().map(|s| s.st_ino)
}

/// The environment `name` as the kernel shows it now.
pub fn of_env(name: &str) -> Result<Graph, OpError> {
    let (made, started) = read_journal(name)?;
    let mut g = Graph {
        title: name.to_string(),
        source: "env".into(),
        ..Graph::default()
    };
    let seen = namespaces(&made, started, &mut g)?;
    for s in &seen {
        g.namespaces.push(namespace(s, &made)?);
    }
    g.veths = veth_pairs(&seen)?;
    Ok(g)
}

/// Finds each namespace the journal names or a sandbox is in, by inode, and the
/// sandboxes with it.
fn namespaces(made: &Made, started: i64, g: &mut Graph) -> Result<Vec<Seen>, OpError> {
    let mut f = Found::default();
    let host = "/proc/self/ns/net";
    f.add(inode(host).unwrap_or(0), HOST.into(), host, false, NsRef::Host)?;
    // Named namespaces that a sandbox joined without the run naming them.
    let others: HashMap<u64, String> = std::fs::read_dir(netns::NETNS_RUN_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            Some((inode(&netns::path_of(&n))?, n))
        })
        .collect();
    // In the order the run made them, as a plan lists them.
    for r in &made.order {
        match r {
            NsRef::Named(n) => {
                let path = netns::path_of(n);
                if let Some(ino) = inode(&path) {
                    f.add(ino, named_ns(n), &path, made.netns.contains(n), r.clone())?;
                }
            }
            NsRef::Sandbox(id) => {
                let Some((pid, cgroups)) = made.sandboxes.get(id) else {
                    continue;
                };
                let number = id + 1;
                let alive = is_our_holder(*pid, started);
                let path = format!("/proc/{pid}/ns/net");
                let ns_id = match inode(&path).filter(|_| alive) {
                    Some(ino) => {
                        let (nid, created) = match others.get(&ino) {
                            Some(n) if !f.by_inode.contains_key(&ino) => (named_ns(n), false),
                            _ => (sandbox_ns(number), true),
                        };
                        let at = f.add(ino, nid, &path, created, r.clone())?;
                        f.seen[at].id.clone()
                    }
                    None => "gone".into(),
                };
                let earlier: Vec<i32> = g.sandboxes.iter().filter_map(|s| s.pid).collect();
                g.sandboxes.push(sandbox(&made.dir, number, *pid, &earlier, alive, cgroups, ns_id));
            }
            NsRef::Host => {}
        }
    }
    Ok(f.seen)
}

/// The namespaces found so far, one per inode.
#[derive(Default)]
struct Found {
    seen: Vec<Seen>,
    by_inode: HashMap<u64, usize>,
}

impl Found {
    fn add(&mut self, ino: u64, id: String, path: &str, created: bool, r: NsRef) -> Result<usize, OpError> {
        if let Some(&i) = self.by_inode.get(&ino) {
            self.seen[i].refs.push(r);
            return Ok(i);
        }
        self.seen.push(Seen {
            id,
            fd: netns::open_ns(path)?,
            created,
            refs: vec![r],
        });
        self.by_inode.insert(ino, self.seen.len() - 1);
        Ok(self.seen.len() - 1)
    }
}

/// What the sandbox of holder `pid` is now. A namespace is its own when it is neither
/// nsr's nor one an earlier sandbox has (then it joined it), nor, for net, a named one.
fn sandbox(dir: &Path, number: usize, pid: i32, earlier: &[i32], alive: bool, cgroups: &[String], netns: String) -> Sandbox {
    let own = |k: NsKind| {
        let f = k.proc_file();
        let of = |p: &str| inode(&format!("/proc/{p}/ns/{f}"));
        let Some(mine) = of(&pid.to_string()) else {
            return false;
        };
        if k == NsKind::Net {
            return netns == sandbox_ns(number);
        }
        of("self") != Some(mine) && earlier.iter().all(|e| of(&e.to_string()) != Some(mine))
    };
    let kinds: Vec<NsKind> = if alive {
        ALL_KINDS.iter().copied().filter(|k| own(*k)).collect()
    } else {
        Vec::new()
    };
    // Only a hostname of its own: a new UTS namespace starts with the host's.
    let host_name = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok());
    let hostname = (alive && kinds.contains(&NsKind::Uts))
        .then(|| hostname_of(pid))
        .flatten()
        .filter(|h| Some(h) != host_name.as_ref());
    let root = std::fs::read_link(format!("/proc/{pid}/root"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|r| alive && r != "/");
    // A kept sandbox's holder says how it confines commands (what `nsr enter` uses).
    let confinement = if !alive {
        "not running (its holder is gone: nsr down cleans up)".to_string()
    } else {
        match crate::sandbox::kept::reach(dir, pid) {
            Ok(held) => held.confine.summary(),
            Err(_) => "confinement known to the running nsr only".to_string(),
        }
    };
    Sandbox {
        number,
        pid: Some(pid),
        kinds: kinds_in_order(&kinds),
        hostname,
        root,
        netns,
        confinement,
        limits: crate::cgroup::sandbox::limits_now(cgroups).map(|l| l.to_string()),
    }
}

/// The hostname in the UTS namespace of `pid`, read on a short thread that joins it.
fn hostname_of(pid: i32) -> Option<String> {
    let fd = netns::open_ns(&format!("/proc/{pid}/ns/uts")).ok()?;
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWUTS).ok()?;
            nix::unistd::gethostname().ok()?.into_string().ok()
        })
        .join()
        .ok()
        .flatten()
    })
}

fn namespace(s: &Seen, made: &Made) -> Result<Namespace, OpError> {
    let touched: Vec<&Touched> = s.refs.iter().filter_map(|r| made.touched.get(r)).collect();
    let mut sock = netns::socket_in(&s.fd)?;
    fn e(what: &'static str) -> impl Fn(crate::net::netlink::NetlinkError) -> OpError {
        move |err| err.into_op(what)
    }
    let all_links = links::list(&mut sock).map_err(e("cannot list links"))?;
    let all_addrs = addrs::list(&mut sock).map_err(e("cannot list addresses"))?;
    let named: BTreeSet<&str> = touched.iter().flat_map(|t| t.links.iter().map(String::as_str)).collect();
    let shown = |l: &crate::ops::net::LinkInfo| l.kind != "loopback" && (s.created || named.contains(l.name.as_str()));
    let name_of: HashMap<u32, &str> = all_links.iter().map(|l| (l.index, l.name.as_str())).collect();
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
            master: l.master.and_then(|m| name_of.get(&m)).map(|m| m.to_string()),
        })
        .collect();
    let mut ns = Namespace {
        id: s.id.clone(),
        label: match s.id.strip_prefix("sandbox:") {
            Some(n) => format!("sandbox {n}"),
            None => s.id.strip_prefix("netns:").unwrap_or(&s.id).to_string(),
        },
        created: s.created,
        interfaces,
        ..Namespace::default()
    };
    if s.created || touched.iter().any(|t| t.routes) {
        for r in routes::list(&mut sock).map_err(e("cannot list routes"))? {
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
    forwarding(s, &touched, &mut ns)?;
    ns.nat = nat(s, &touched);
    ns.usernet = touched.iter().find_map(|t| t.usernet.clone());
    Ok(ns)
}

fn forwarding(s: &Seen, touched: &[&Touched], ns: &mut Namespace) -> Result<(), OpError> {
    for (v6, family) in [(false, "ipv4"), (true, "ipv6")] {
        let key = crate::ops::net::forwarding_key(v6);
        if !s.created && !touched.iter().any(|t| t.sysctls.iter().any(|k| k == key)) {
            continue;
        }
        if netns::sysctl_swap(&s.fd, key, None)?.trim() == "1" {
            ns.forwarding.push(family.into());
        }
    }
    Ok(())
}

/// The rules of nsr's tables that the journal names, as nft lists them now (a rule
/// deleted by hand is not drawn).
fn nat(s: &Seen, touched: &[&Touched]) -> Vec<Nat> {
    let recorded: Vec<&(String, Option<Vec<(String, u64)>>)> =
        touched.iter().flat_map(|t| t.rules.iter()).collect();
    let mut listed: HashMap<&str, Vec<(String, u64, String)>> = HashMap::new();
    for (table, _) in &recorded {
        if !listed.contains_key(table.as_str()) {
            let text = nft::run(&s.fd, None, &["-a", "list", "table", "inet", table], "").unwrap_or_default();
            listed.insert(table, table_rules(&text));
        }
    }
    let claimed: BTreeSet<u64> = recorded
        .iter()
        .flat_map(|(_, r)| r.iter().flatten().map(|(_, h)| *h))
        .collect();
    recorded
        .into_iter()
        .filter_map(|(table, rules)| {
            let in_table = &listed[table.as_str()];
            let mine: Vec<&(String, u64, String)> = in_table
                .iter()
                .filter(|(_, h, _)| match rules {
                    Some(r) => r.iter().any(|(_, rh)| rh == h),
                    None => !claimed.contains(h),
                })
                .collect();
            let kind = nat_kind_of_chain(&mine.first()?.0);
            let texts: Vec<String> = mine.iter().map(|(_, _, t)| t.clone()).collect();
            Some(Nat {
                kind: kind.into(),
                summary: nat_summary(kind, &texts),
                rules: texts,
            })
        })
        .collect()
}

/// (chain, handle, rule) of each rule in `nft -a list table`'s output.
fn table_rules(listing: &str) -> Vec<(String, u64, String)> {
    let mut chain = String::new();
    let mut out = Vec::new();
    for l in listing.lines().map(str::trim) {
        if let Some(rest) = l.strip_prefix("chain ") {
            chain = rest.split_whitespace().next().unwrap_or("").to_string();
            continue;
        }
        let Some((rule, h)) = l.rsplit_once(" # handle ") else {
            continue;
        };
        if rule.ends_with('{') || rule.starts_with("type ") || rule.is_empty() {
            continue;
        }
        if let Ok(h) = h.trim().parse() {
            out.push((chain.clone(), h, normalize(rule)));
        }
    }
    out
}

/// nft's listing of a rule without its counters' values.
fn normalize(rule: &str) -> String {
    let words: Vec<&str> = rule.split_whitespace().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        out.push(words[i]);
        if words[i] == "counter" && words.get(i + 1) == Some(&"packets") {
            i += 5;
        } else {
            i += 1;
        }
    }
    out.join(" ")
}

/// Each veth pair once: a veth's peer by its index in the namespace whose id (as the
/// veth's namespace knows it) the kernel reports.
fn veth_pairs(seen: &[Seen]) -> Result<Vec<Veth>, OpError> {
    let mut names: Vec<HashMap<u32, (String, String)>> = Vec::new();
    let mut socks = Vec::new();
    for s in seen {
        let mut sock = netns::socket_in(&s.fd)?;
        let l = links::list(&mut sock).map_err(|e| e.into_op("cannot list links"))?;
        names.push(l.into_iter().map(|l| (l.index, (l.name, l.kind))).collect());
        socks.push(sock);
    }
    let mut pairs: BTreeSet<(End, End)> = BTreeSet::new();
    let mut out = Vec::new();
    for (a, s) in seen.iter().enumerate() {
        let ps = peers::list(&mut socks[a]).map_err(|e| e.into_op("cannot list veth peers"))?;
        for p in ps {
            let Some((name, kind)) = names[a].get(&p.index) else { continue };
            if kind != "veth" {
                continue;
            }
            let b = match p.peer_nsid {
                None => Some(a),
                Some(id) => (0..seen.len()).find(|&b| {
                    b != a && peers::nsid_of(&mut socks[a], &seen[b].fd).ok().flatten() == Some(id)
                }),
            };
            let Some(b) = b else { continue };
            let Some((peer, _)) = names[b].get(&p.peer_index) else { continue };
            let ea = End { ns: s.id.clone(), name: name.clone() };
            let eb = End { ns: seen[b].id.clone(), name: peer.clone() };
            let key = if ea <= eb { (ea.clone(), eb.clone()) } else { (eb.clone(), ea.clone()) };
            if pairs.insert(key) {
                out.push(Veth { a: ea, b: eb });
            }
        }
    }
    Ok(out)
}
