//! The network half of the kernel backend. It talks to each namespace through sockets
//! bound in it (`handles.rs`: route and netfilter), knows which namespaces and links
//! this run created, and uses that to undo exactly
//! what the run did: a link, address, route or rule that lives in a namespace the run
//! created is released with that namespace on a whole rollback (the kernel removes a
//! namespace's devices together, much faster than one by one), and never touched when
//! it belongs to someone else.

use super::handles::{Ino, NsHandles};
use super::links::{self, LinkChange};
use super::netlink::{NetlinkError, RouteSocket};
use super::netns;
use super::nfnetlink;
use super::nft;
use super::routes::{self, RouteSpec};
use super::{addrs, dad};
use crate::ops::cidr::IpCidr;
use crate::ops::names::NetnsName;
use crate::ops::nat::NatRule;
use crate::ops::net::LinkInfo;
use crate::ops::net::{
    forwarding_key, AddrView, LinkId, LinkSetting, NetOp, NetOutput, NetUndo, NsRef, RouteView,
};
use crate::ops::pasta::UserNet;
use crate::ops::{CutShort, OpError, SandboxId, UndoOutcome};
use nix::errno::Errno;
use std::collections::{HashMap, HashSet};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Where a sandbox's network namespace is: the backend that runs sandboxes answers.
pub trait SandboxNetns {
    /// A path to the sandbox's network namespace (an fd nsr holds), or None once it
    /// has stopped.
    fn netns_path(&self, id: SandboxId) -> Option<String>;
    /// The same for its user namespace.
    fn userns_path(&self, _id: SandboxId) -> Option<String> {
        None
    }
}

struct LinkRecord {
    /// Each end as (namespace, name): one for a bridge, two for a veth pair.
    ends: Vec<(Ino, String)>,
}

#[derive(Default)]
struct TableRecord {
    name: String,
    chains: HashSet<String>,
}

#[derive(Default)]
pub struct NetKernel {
    refs: HashMap<NsRef, Ino>,
    handles: NsHandles,
    /// Namespaces this run created and that still exist.
    owned: HashSet<Ino>,
    /// Sandboxes with a network namespace of their own, and that namespace.
    sandbox_netns: HashMap<SandboxId, Ino>,
    named: HashMap<String, Ino>,
    links: Vec<LinkRecord>,
    tables: HashMap<Ino, TableRecord>,
    /// Whether this run added a namespace in /run/netns.
    used_run_dir: bool,
    whole_rollback: bool,
    /// Link names that go away with a namespace being deleted, to wait for.
    await_gone: Vec<(Ino, String)>,
    /// IPv6 addresses added whose duplicate address detection may still run.
    dad: Vec<dad::Pending>,
    warned_drop: HashSet<Ino>,
    warnings: Vec<String>,
    /// nsr's own network namespace, once looked up.
    host: Option<Ino>,
    /// The user namespace to enter before a netns, for an ordinary user's sandbox whose
    /// netns is owned by a user namespace of its own.
    owners: HashMap<Ino, OwnedFd>,
    /// The pasta (or slirp4netns) processes started so far.
    pastas: usize,
    /// `nsr down`: the tag of the run whose links these are (only links that carry it
    /// are deleted or moved, since the run's own records are gone).
    recovering: Option<u32>,
}

const HOST_NS: &str = "/proc/self/ns/net";

fn nl(what: impl Into<String>) -> impl FnOnce(NetlinkError) -> OpError {
    let what = what.into();
    move |e| e.into_op(&what)
}

/// What an operation gave back, and how to take it back.
type Applied = (Option<NetOutput>, Option<NetUndo>);

impl NetKernel {
    /// A backend for `nsr down` of the run `pid`: it touches only links tagged by it.
    pub fn recovering(pid: i32) -> NetKernel {
        NetKernel {
            recovering: Some(links::run_tag(pid as u32)),
            ..NetKernel::default()
        }
    }

    /// The group tag of the links this process creates.
    fn tag(&self) -> u32 {
        links::run_tag(std::process::id())
    }

    /// The link `name` in the namespace, if it is the run's own: during `nsr down`, only
    /// a link carrying the run's tag is.
    fn lookup_own(&mut self, ino: Ino, name: &str) -> Result<Option<LinkInfo>, OpError> {
        let found = self.lookup(ino, name)?;
        Ok(match self.recovering {
            Some(tag) => found.filter(|l| l.group == tag),
            None => found,
        })
    }

    /// Before a command runs: the IPv6 addresses added so far are usable (bound,
    /// connected from), or the reason they will not be is an error.
    pub fn await_addresses(&mut self) -> Result<(), OpError> {
        if self.dad.is_empty() {
            return Ok(());
        }
        let mut pending = std::mem::take(&mut self.dad);
        let result = dad::settle(&mut pending, &mut |ino| {
            if !self.handles.alive(ino) {
                return Ok(None);
            }
            let sock = self.socket(ino)?;
            let addrs = addrs::list(sock).map_err(nl("cannot list addresses"))?;
            let links = links::list(sock).map_err(nl("cannot list links"))?;
            Ok(Some((addrs, links)))
        });
        self.dad = pending;
        result
    }

    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// A sandbox with a network namespace of its own: its links go with it.
    pub fn adopt_sandbox(&mut self, id: SandboxId, path: &str) {
        if let Ok(ino) = netns::identity(path) {
            if !self.is_host(ino) {
                self.owned.insert(ino);
                self.sandbox_netns.insert(id, ino);
            }
            self.refs.insert(NsRef::Sandbox(id), ino);
        }
    }

    /// The sandbox is about to stop: nsr lets go of its namespace so the kernel can end it.
    /// (A sandbox that joined a netns leaves it alone: the netns has its own undo.)
    pub fn release_sandbox(&mut self, id: SandboxId) {
        if let Some(ino) = self.sandbox_netns.remove(&id) {
            self.owned.remove(&ino);
            self.forget(ino);
        }
    }

    pub fn begin_rollback(&mut self, whole: bool) {
        self.whole_rollback = whole;
    }

    /// After a rollback: wait until the links that went with deleted namespaces are
    /// really gone (a re-run would otherwise fail with "File exists"), then leave
    /// /run/netns as it was found.
    pub fn settle(&mut self) -> Result<(), OpError> {
        self.whole_rollback = false;
        let waiting = std::mem::take(&mut self.await_gone);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut by_ns: HashMap<Ino, Vec<String>> = HashMap::new();
        for (ino, name) in waiting {
            by_ns.entry(ino).or_default().push(name);
        }
        for (ino, names) in by_ns {
            let Ok(sock) = self.socket(ino) else { continue };
            loop {
                let present: Vec<String> = links::list(sock)
                    .map_err(nl("cannot list links"))?
                    .into_iter()
                    .map(|l| l.name)
                    .filter(|n| names.contains(n))
                    .collect();
                if present.is_empty() {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(OpError::new(format!(
                        "links {} still exist 5 s after their namespace was deleted",
                        present.join(", ")
                    )));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        if self.used_run_dir && self.named.is_empty() {
            self.used_run_dir = false;
            netns::restore_run_dir()?;
        }
        Ok(())
    }

    fn path_of(r: &NsRef, sandboxes: &dyn SandboxNetns) -> Result<String, OpError> {
        match r {
            NsRef::Host => Ok(HOST_NS.into()),
            NsRef::Named(n) => Ok(netns::path_of(n)),
            NsRef::Sandbox(id) => sandboxes
                .netns_path(*id)
                .ok_or_else(|| OpError::os(Errno::ESRCH, format!("sandbox #{id} has stopped"))),
        }
    }

    /// The namespace's identity, opening it on first use.
    fn resolve(&mut self, r: &NsRef, sandboxes: &dyn SandboxNetns) -> Result<Ino, OpError> {
        if let Some(&ino) = self.refs.get(r) {
            if self.handles.alive(ino) {
                self.handles.fd(ino)?;
                return Ok(ino);
            }
        }
        let path = Self::path_of(r, sandboxes)?;
        let fd = netns::open_ns(&path).map_err(|e| match r {
            NsRef::Named(n) if e.errno == Some(Errno::ENOENT) => OpError::os(
                Errno::ENOENT,
                format!("there is no network namespace named '{n}'"),
            )
            .with_hint("ip netns list shows the named namespaces; netns(name) creates one"),
            _ => e,
        })?;
        let ino = netns::identity(&path)?;
        if let NsRef::Sandbox(id) = r {
            if let Some(user) = Self::foreign_userns(*id, sandboxes)? {
                self.owners.insert(ino, user);
            }
        }
        self.refs.insert(r.clone(), ino);
        match r {
            NsRef::Named(_) => self.handles.named(ino, fd, path, None),
            _ => self.handles.pin(ino, fd),
        }
        Ok(ino)
    }

    /// The sandbox's user namespace when an ordinary user's nsr must enter it to act in
    /// the sandbox's netns: root acts in any namespace from its own.
    fn foreign_userns(
        id: SandboxId,
        sandboxes: &dyn SandboxNetns,
    ) -> Result<Option<OwnedFd>, OpError> {
        if nix::unistd::geteuid().is_root() {
            return Ok(None);
        }
        let Some(path) = sandboxes.userns_path(id) else {
            return Ok(None);
        };
        if netns::identity(&path)? == netns::identity("/proc/self/ns/user")? {
            return Ok(None);
        }
        netns::open_ns(&path).map(Some)
    }

    /// `nft ARGS` in the namespace `ino`.
    fn nft(&mut self, ino: Ino, args: &[&str], input: &str) -> Result<String, OpError> {
        let fd = self.handles.fd(ino)?;
        nft::run(fd, self.owners.get(&ino), args, input)
    }

    /// Starts pasta for the namespace; its undo stops exactly that process.
    fn pasta(
        &mut self,
        ns: &NsRef,
        spec: &crate::ops::pasta::PastaSpec,
        sb: &dyn SandboxNetns,
    ) -> Result<Applied, OpError> {
        let ino = self.resolve(ns, sb)?;
        if self.is_host(ino) {
            return Err(OpError::os(
                Errno::EINVAL,
                format!("{ns} is in the host's network namespace: pasta connects a namespace of its own to the host"),
            )
            .with_hint("call it on a netns, or on a sandbox with \"net\" in its kinds"));
        }
        let (via, program, note) = choose(spec.via)?;
        let name = self.next_pasta_name(via);
        self.pastas += 1;
        let (netns, userns) = (
            self.handles.fd(ino)?.as_fd(),
            self.owners.get(&ino).map(|u| u.as_fd()),
        );
        let process = match via {
            UserNet::Pasta => super::pasta::start(&program, spec, &name, netns, userns)?,
            UserNet::Slirp4netns => super::slirp::start(&program, spec, &name, netns, userns)?,
        };
        self.warnings.extend(note);
        Ok((
            None,
            Some(NetUndo::StopPasta {
                ns: ns.clone(),
                process,
            }),
        ))
    }

    fn next_pasta_name(&self, via: UserNet) -> String {
        super::pasta::process_name(via, crate::sys::run_tag(), self.pastas)
    }

    /// The identity a reference had when it was last used, if its namespace is still open.
    fn known(&self, r: &NsRef) -> Option<Ino> {
        self.refs.get(r).copied().filter(|i| self.handles.alive(*i))
    }

    fn socket(&mut self, ino: Ino) -> Result<&mut RouteSocket, OpError> {
        let host = self.is_host(ino);
        self.handles.socket(ino, host)
    }

    /// Closes nsr's handles on a namespace, so that nothing of nsr keeps it alive.
    fn forget(&mut self, ino: Ino) {
        self.handles.forget(ino);
        self.tables.remove(&ino);
        self.owners.remove(&ino);
    }

    fn is_host(&mut self, ino: Ino) -> bool {
        if self.host.is_none() {
            self.host = netns::identity(HOST_NS).ok();
        }
        self.host == Some(ino)
    }

    /// The link of that name in the namespace, if there is one.
    fn lookup(&mut self, ino: Ino, name: &str) -> Result<Option<LinkInfo>, OpError> {
        links::get(self.socket(ino)?, name).map_err(nl(format!("cannot look up link {name}")))
    }

    fn created_link(&self, ino: Ino, name: &str) -> bool {
        self.links
            .iter()
            .any(|l| l.ends.iter().any(|(i, n)| *i == ino && n == name))
    }

    fn link(&mut self, ino: Ino, name: &str, ns: &NsRef) -> Result<LinkInfo, OpError> {
        self.lookup(ino, name)?.ok_or_else(|| {
            OpError::os(
                Errno::ENODEV,
                format!("there is no link named '{name}' in {ns}"),
            )
            .with_hint(format!("links() lists what {ns} has"))
        })
    }

    /// nsr changes only links it created, or any link inside a namespace it created.
    fn may_change(&mut self, ino: Ino, name: &str, ns: &NsRef) -> Result<(), OpError> {
        if self.owned.contains(&ino) || self.created_link(ino, name) {
            return Ok(());
        }
        Err(OpError::os(
            Errno::EPERM,
            format!("link '{name}' in {ns} was not created by this recipe; nsr does not change it"),
        )
        .with_hint("create the link in the recipe (veth, bridge), or work inside a namespace the recipe created"))
    }

    fn refuse_existing(&mut self, ino: Ino, name: &str, ns: &NsRef) -> Result<(), OpError> {
        if self.lookup(ino, name)?.is_some() {
            return Err(OpError::os(
                Errno::EEXIST,
                format!("a link named '{name}' already exists in {ns}"),
            )
            .with_hint(
                "nsr never takes over or deletes a link it did not create: choose another name",
            ));
        }
        Ok(())
    }

    pub fn apply(&mut self, op: &NetOp, sb: &dyn SandboxNetns) -> Result<Applied, OpError> {
        self.handles.trim();
        match op {
            NetOp::NetnsAdd { name } => self.netns_add(name),
            NetOp::NetnsOpen { name } => {
                self.resolve(&NsRef::Named(name.to_string()), sb)?;
                Ok((None, None))
            }
            NetOp::Pasta { ns, spec } => self.pasta(ns, spec, sb),
            NetOp::Veth {
                name,
                ns,
                peer,
                peer_ns,
            } => self.veth(name, ns, peer, peer_ns, sb),
            NetOp::Bridge { name, ns } => {
                let ino = self.resolve(ns, sb)?;
                let tag = self.tag();
                if let Err(e) = links::add_bridge(self.socket(ino)?, name, tag) {
                    if e.errno == Errno::EEXIST {
                        self.refuse_existing(ino, name, ns)?;
                    }
                    return Err(e.into_op(&format!("cannot create bridge {name}")));
                }
                Ok(self.made_link(ino, name, ns))
            }
            NetOp::Vxlan { name, ns, spec } => self.vxlan(name, ns, spec, sb),
            NetOp::LinkSet { ns, name, setting } => self.link_set(ns, name, setting, sb),
            NetOp::LinkMove { ns, name, to } => self.link_move(ns, name, to, sb),
            NetOp::AddrAdd {
                ns,
                dev,
                cidr,
                nodad,
            } => self.addr_add(ns, dev, *cidr, *nodad, sb),
            NetOp::RouteAdd { ns, route } => self.route_add(ns, route, sb),
            NetOp::Forwarding { ns, v6, on } => {
                let ino = self.resolve(ns, sb)?;
                let key = forwarding_key(*v6);
                let value = if *on { "1" } else { "0" };
                let old = netns::sysctl_swap(self.handles.fd(ino)?, key, Some(value))?;
                let undo = (old != value).then(|| NetUndo::RestoreSysctl {
                    ns: ns.clone(),
                    key: key.to_string(),
                    old,
                });
                Ok((None, undo))
            }
            NetOp::Nat { ns, rule } => self.nat(ns, rule, sb),
            NetOp::Links { ns } => {
                let ino = self.resolve(ns, sb)?;
                let list = links::list(self.socket(ino)?).map_err(nl("cannot list links"))?;
                Ok((Some(NetOutput::Links(list)), None))
            }
            NetOp::Addrs { ns } => self.addrs(ns, sb),
            NetOp::Routes { ns } => self.routes(ns, sb),
        }
    }

    /// `ip netns add NAME`: made, opened, and remembered as the run's own.
    /// (A `NetnsName` is checked when it is made: one file in /run/netns.)
    fn netns_add(&mut self, name: &NetnsName) -> Result<Applied, OpError> {
        // /run/netns is made a shared mount once per run (re-sharing it for each
        // namespace walks every netns mount under it); the lock is per addition.
        let needs_root = |e: OpError| {
            match e.errno {
            Some(Errno::EPERM | Errno::EACCES) if e.hint.is_none() => e.with_hint(
                "named network namespaces (/run/netns) need root; without root, give a sandbox a network namespace of its own: unshare(#{ kinds: [\"net\", \"user\"], map_root: true })",
            ),
            _ => e,
        }
        };
        let lock = if self.used_run_dir {
            netns::lock_run_dir()
        } else {
            netns::prepare_run_dir()
        }
        .map_err(needs_root)?;
        self.used_run_dir = true;
        let (fd, sock) = netns::add(name).map_err(needs_root)?;
        drop(lock);
        let ino = netns::identity_of(&fd)?;
        self.handles
            .named(ino, fd, netns::path_of(name.as_ref()), Some(sock));
        self.refs.insert(NsRef::Named(name.to_string()), ino);
        self.owned.insert(ino);
        self.named.insert(name.to_string(), ino);
        Ok((
            None,
            Some(NetUndo::DeleteNetns {
                name: name.to_string(),
            }),
        ))
    }

    /// `ip link add NAME type veth peer name PEER`, the peer made directly in its namespace.
    fn veth(
        &mut self,
        name: &str,
        ns: &NsRef,
        peer: &str,
        peer_ns: &NsRef,
        sb: &dyn SandboxNetns,
    ) -> Result<Applied, OpError> {
        let ino = self.resolve(ns, sb)?;
        let pino = self.resolve(peer_ns, sb)?;
        if ino == pino && name == peer {
            return Err(OpError::new(
                "the two ends of a veth pair need different names",
            ));
        }
        let peer_fd = if pino != ino {
            Some(self.handles.fd(pino)?.as_raw_fd())
        } else {
            None
        };
        let tag = self.tag();
        if let Err(e) = links::add_veth(self.socket(ino)?, name, peer, peer_fd, tag) {
            // Which of the two names is taken, said plainly.
            if e.errno == Errno::EEXIST {
                self.refuse_existing(ino, name, ns)?;
                self.refuse_existing(pino, peer, peer_ns)?;
            }
            return Err(e.into_op(&format!("cannot create veth pair {name}/{peer}")));
        }
        self.links.push(LinkRecord {
            ends: vec![(ino, name.to_string()), (pino, peer.to_string())],
        });
        Ok((
            None,
            Some(NetUndo::DeleteLink {
                link: self.links.len() - 1,
                ns: ns.clone(),
                name: name.to_string(),
            }),
        ))
    }

    /// `ip link set NAME netns TO`, for a link the run made.
    fn link_move(
        &mut self,
        ns: &NsRef,
        name: &str,
        to: &NsRef,
        sb: &dyn SandboxNetns,
    ) -> Result<Applied, OpError> {
        let ino = self.resolve(ns, sb)?;
        let tino = self.resolve(to, sb)?;
        let Some(id) = self
            .links
            .iter()
            .position(|l| l.ends.iter().any(|(i, n)| *i == ino && n == name))
        else {
            return Err(OpError::os(
                Errno::EPERM,
                format!(
                    "link '{name}' in {ns} was not created by this recipe; nsr does not move it"
                ),
            ));
        };
        if ino == tino {
            return Err(OpError::new(format!("link '{name}' is already in {to}")));
        }
        let info = self.link(ino, name, ns)?;
        self.refuse_existing(tino, name, to)?;
        let fd = self.handles.fd(tino)?.as_raw_fd();
        links::move_to(self.socket(ino)?, info.index, fd)
            .map_err(nl(format!("cannot move {name} to {to}")))?;
        for end in self.links[id].ends.iter_mut() {
            if end.0 == ino && end.1 == name {
                end.0 = tino;
            }
        }
        Ok((
            None,
            Some(NetUndo::MoveBack {
                link: id,
                name: name.to_string(),
                from: ns.clone(),
                to: to.clone(),
            }),
        ))
    }

    /// `ip addr add CIDR dev DEV`; an IPv6 address joins the wait for DAD.
    fn addr_add(
        &mut self,
        ns: &NsRef,
        dev: &str,
        cidr: IpCidr,
        nodad: bool,
        sb: &dyn SandboxNetns,
    ) -> Result<Applied, OpError> {
        let ino = self.resolve(ns, sb)?;
        self.may_change(ino, dev, ns)?;
        let index = self.link(ino, dev, ns)?.index;
        addrs::add(self.socket(ino)?, index, &cidr, nodad).map_err(|e| {
            if e.errno == Errno::EEXIST {
                OpError::os(
                    e.errno,
                    format!("{dev} in {ns} already has the address {cidr}"),
                )
            } else {
                e.into_op(&format!("cannot add {cidr} to {dev}"))
            }
        })?;
        if cidr.is_v6() && !nodad {
            self.dad.push(dad::Pending {
                ino,
                ns: ns.clone(),
                dev: dev.to_string(),
                index,
                cidr,
            });
        }
        Ok((
            None,
            Some(NetUndo::DeleteAddr {
                ns: ns.clone(),
                dev: dev.to_string(),
                cidr,
            }),
        ))
    }

    /// `ip route add ...`, after checking its device and gateway.
    fn route_add(
        &mut self,
        ns: &NsRef,
        route: &RouteSpec,
        sb: &dyn SandboxNetns,
    ) -> Result<Applied, OpError> {
        let ino = self.resolve(ns, sb)?;
        let oif = self.route_oif(ino, ns, route)?;
        if let Some(gw) = route.via {
            self.check_gateway(ino, ns, gw, route.dev.is_some())?;
        }
        routes::add(self.socket(ino)?, route, oif).map_err(|e| {
            if e.errno == Errno::EEXIST {
                OpError::os(
                    e.errno,
                    format!("{ns} already has a route to {}", route.dest_text()),
                )
                .with_hint("nsr never replaces a route it did not add; use another metric to add a second one")
            } else {
                e.into_op(&format!("cannot add the route to {}", route.dest_text()))
            }
        })?;
        Ok((
            None,
            Some(NetUndo::DeleteRoute {
                ns: ns.clone(),
                route: route.clone(),
            }),
        ))
    }

    /// `ip addr show`, each address with its device's name.
    fn addrs(&mut self, ns: &NsRef, sb: &dyn SandboxNetns) -> Result<Applied, OpError> {
        let ino = self.resolve(ns, sb)?;
        let names = self.index_names(ino)?;
        let list = addrs::list(self.socket(ino)?).map_err(nl("cannot list addresses"))?;
        let views = list
            .into_iter()
            .map(|a| AddrView {
                dev: names.get(&a.index).cloned().unwrap_or_default(),
                cidr: a.cidr,
            })
            .collect();
        Ok((Some(NetOutput::Addrs(views)), None))
    }

    /// `ip route show`, each route with its device's name.
    fn routes(&mut self, ns: &NsRef, sb: &dyn SandboxNetns) -> Result<Applied, OpError> {
        let ino = self.resolve(ns, sb)?;
        let names = self.index_names(ino)?;
        let list = routes::list(self.socket(ino)?).map_err(nl("cannot list routes"))?;
        let views = list
            .into_iter()
            .map(|r| RouteView {
                dest: r
                    .dest
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "default".into()),
                via: r.via,
                dev: r.oif.and_then(|i| names.get(&i).cloned()),
                metric: r.metric,
                protocol: r.protocol,
                scope: r.scope,
            })
            .collect();
        Ok((Some(NetOutput::Routes(views)), None))
    }

    /// How `nsr down` takes back `op` if nsr is killed while the kernel does it, worked
    /// out from the namespace's state just before (see `CutShort`).
    pub fn cut_short(&mut self, op: &NetOp, sb: &dyn SandboxNetns) -> CutShort {
        use crate::ops::Undo;
        let nothing = |why: String| CutShort::Nothing(why);
        let net = |u: NetUndo| CutShort::Undo(Undo::Net(u));
        // Inside a namespace the run made (or a sandbox's), everything goes with it:
        // only a namespace that outlives the run needs an undo of its own.
        let outside = |me: &mut Self, ns: &NsRef| -> Result<Ino, CutShort> {
            if matches!(ns, NsRef::Sandbox(_)) {
                return Err(nothing(format!(
                    "it lives in {ns}, which ends with the sandbox"
                )));
            }
            match me.resolve(ns, sb) {
                Ok(ino) if me.owned.contains(&ino) => {
                    Err(nothing(format!("it lives in {ns}, which the run made")))
                }
                Ok(ino) => Ok(ino),
                Err(_) => Err(nothing(format!("{ns} cannot be opened: it fails"))),
            }
        };
        match op {
            NetOp::NetnsAdd { name } => net(NetUndo::DeleteNetns {
                name: name.to_string(),
            }),
            NetOp::Veth { name, ns, .. }
            | NetOp::Bridge { name, ns }
            | NetOp::Vxlan { name, ns, .. } => match outside(self, ns) {
                Err(c) => c,
                Ok(_) => net(NetUndo::DeleteLink {
                    link: usize::MAX,
                    ns: ns.clone(),
                    name: name.to_string(),
                }),
            },
            NetOp::LinkMove { ns, name, to } => match outside(self, to) {
                Err(c) => c,
                Ok(_) => net(NetUndo::MoveBack {
                    link: usize::MAX,
                    name: name.to_string(),
                    from: ns.clone(),
                    to: to.clone(),
                }),
            },
            // nsr changes only links it made or links in namespaces it made.
            NetOp::LinkSet { name, ns, .. } | NetOp::AddrAdd { dev: name, ns, .. } => nothing(
                format!("it goes with link {name} in {ns}, which the run made"),
            ),
            NetOp::RouteAdd { ns, route } => match outside(self, ns) {
                Err(c) => c,
                Ok(ino) => match self.route_exists(ino, route) {
                    Ok(true) => nothing("such a route exists already: adding it fails".into()),
                    Ok(false) => net(NetUndo::DeleteRoute {
                        ns: ns.clone(),
                        route: route.clone(),
                    }),
                    Err(_) => CutShort::Unknown,
                },
            },
            NetOp::Forwarding { ns, v6, on } => match outside(self, ns) {
                Err(c) => c,
                Ok(ino) => {
                    let key = forwarding_key(*v6);
                    let Ok(fd) = self.handles.fd(ino) else {
                        return CutShort::Unknown;
                    };
                    match netns::sysctl_swap(fd, key, None) {
                        Ok(old) if old == u8::from(*on).to_string() => {
                            nothing(format!("{key} has that value already"))
                        }
                        Ok(old) => net(NetUndo::RestoreSysctl {
                            ns: ns.clone(),
                            key: key.to_string(),
                            old,
                        }),
                        Err(_) => CutShort::Unknown,
                    }
                }
            },
            // The table is the run's own by its name (`create table` never merges).
            NetOp::Nat { ns, .. } => match outside(self, ns) {
                Err(c) => c,
                Ok(_) => net(NetUndo::DeleteTable {
                    ns: ns.clone(),
                    table: nft::table_name(),
                }),
            },
            // pasta outlives the sandbox (it holds the netns): always stopped, found by
            // the name the start will give it.
            NetOp::Pasta { ns, spec } => match choose(spec.via) {
                Err(_) => nothing("pasta cannot be found: it fails".into()),
                Ok((via, ..)) => net(NetUndo::StopPasta {
                    ns: ns.clone(),
                    process: crate::ops::pasta::PastaProcess {
                        name: self.next_pasta_name(via),
                        pid: 0,
                        start: 0,
                        ports: spec.ports.clone(),
                    },
                }),
            },
            NetOp::NetnsOpen { .. }
            | NetOp::Links { .. }
            | NetOp::Addrs { .. }
            | NetOp::Routes { .. } => nothing("it makes nothing".into()),
        }
    }

    /// Whether the namespace's main table has a route to the same destination with the
    /// same metric (adding `route` would then fail with EEXIST).
    fn route_exists(&mut self, ino: Ino, route: &RouteSpec) -> Result<bool, OpError> {
        let metric = |m: Option<u32>, v6: bool| m.unwrap_or(if v6 { 1024 } else { 0 });
        let list = routes::list(self.socket(ino)?).map_err(nl("cannot list routes"))?;
        Ok(list.iter().any(|r| {
            r.v6 == route.v6
                && r.dest == route.dest
                && metric(r.metric, r.v6) == metric(route.metric, route.v6)
        }))
    }

    fn index_names(&mut self, ino: Ino) -> Result<HashMap<u32, String>, OpError> {
        Ok(links::list(self.socket(ino)?)
            .map_err(nl("cannot list links"))?
            .into_iter()
            .map(|l| (l.index, l.name))
            .collect())
    }

    fn route_oif(
        &mut self,
        ino: Ino,
        ns: &NsRef,
        route: &RouteSpec,
    ) -> Result<Option<u32>, OpError> {
        match &route.dev {
            Some(dev) => Ok(Some(self.link(ino, dev, ns)?.index)),
            None => Ok(None),
        }
    }

    /// A gateway must be reachable: inside a prefix of an address in that namespace.
    fn check_gateway(
        &mut self,
        ino: Ino,
        ns: &NsRef,
        gw: std::net::IpAddr,
        has_dev: bool,
    ) -> Result<(), OpError> {
        if has_dev && gw.is_ipv6() {
            // A link-local IPv6 gateway is reached through the device named.
            if let std::net::IpAddr::V6(v6) = gw {
                if v6.segments()[0] & 0xffc0 == 0xfe80 {
                    return Ok(());
                }
            }
        }
        let list = addrs::list(self.socket(ino)?).map_err(nl("cannot list addresses"))?;
        if list.iter().any(|a| a.cidr.contains(&gw)) {
            return Ok(());
        }
        let have: Vec<String> = list
            .iter()
            .filter(|a| a.cidr.addr.is_ipv6() == gw.is_ipv6() && !a.cidr.addr.is_loopback())
            .map(|a| a.cidr.network().to_string())
            .collect();
        Err(OpError::os(
            Errno::ENETUNREACH,
            format!(
                "gateway {gw} is outside every connected prefix in {ns} ({})",
                if have.is_empty() {
                    "it has no addresses of that family".to_string()
                } else {
                    format!("it has {}", have.join(", "))
                }
            ),
        )
        .with_hint("add an address in the gateway's prefix first (addr), then the route"))
    }

    /// A VXLAN link: its underlay device must exist in the namespace (any link: it is
    /// only named, not changed).
    fn vxlan(
        &mut self,
        name: &str,
        ns: &NsRef,
        spec: &crate::ops::vxlan::VxlanSpec,
        sb: &dyn SandboxNetns,
    ) -> Result<Applied, OpError> {
        let ino = self.resolve(ns, sb)?;
        let dev = match &spec.dev {
            Some(d) => Some(self.link(ino, d, ns)?.index),
            None => None,
        };
        let tag = self.tag();
        if let Err(e) = links::add_vxlan(self.socket(ino)?, name, spec, dev, tag) {
            if e.errno == Errno::EEXIST {
                self.refuse_existing(ino, name, ns)?;
            }
            let op = e.into_op(&format!("cannot create vxlan {name}"));
            return Err(if op.errno == Some(Errno::EEXIST) {
                op.with_hint(format!("another VXLAN link in {ns} has id {} and port {} already: one segment per id and port", spec.id, spec.port))
            } else {
                op
            });
        }
        Ok(self.made_link(ino, name, ns))
    }

    /// A link of one end the run made: recorded as the run's, deleted on undo.
    fn made_link(&mut self, ino: Ino, name: &str, ns: &NsRef) -> Applied {
        self.links.push(LinkRecord {
            ends: vec![(ino, name.to_string())],
        });
        (
            None,
            Some(NetUndo::DeleteLink {
                link: self.links.len() - 1,
                ns: ns.clone(),
                name: name.to_string(),
            }),
        )
    }

    fn link_set(
        &mut self,
        ns: &NsRef,
        name: &str,
        setting: &LinkSetting,
        sb: &dyn SandboxNetns,
    ) -> Result<(Option<NetOutput>, Option<NetUndo>), OpError> {
        let ino = self.resolve(ns, sb)?;
        self.may_change(ino, name, ns)?;
        let info = self.link(ino, name, ns)?;
        let (change, old) = match setting {
            LinkSetting::Up => (LinkChange::Up, (!info.up).then_some(LinkSetting::Down)),
            LinkSetting::Down => (LinkChange::Down, info.up.then_some(LinkSetting::Up)),
            LinkSetting::Mtu(m) => (
                LinkChange::Mtu(*m),
                (info.mtu != *m).then_some(LinkSetting::Mtu(info.mtu)),
            ),
            LinkSetting::Master(bridge) => {
                let br = self.link(ino, bridge, ns)?;
                if br.kind != "bridge" {
                    return Err(OpError::new(format!(
                        "'{bridge}' in {ns} is a {} link, not a bridge",
                        br.kind
                    )));
                }
                let old = match info.master {
                    Some(m) if m == br.index => None,
                    Some(m) => Some(LinkSetting::Master(
                        self.index_names(ino)?.get(&m).cloned().unwrap_or_default(),
                    )),
                    None => Some(LinkSetting::NoMaster),
                };
                (LinkChange::Master(Some(br.index)), old)
            }
            LinkSetting::NoMaster => (
                LinkChange::Master(None),
                match info.master {
                    Some(m) => Some(LinkSetting::Master(
                        self.index_names(ino)?.get(&m).cloned().unwrap_or_default(),
                    )),
                    None => None,
                },
            ),
        };
        links::set(self.socket(ino)?, info.index, change)
            .map_err(nl(format!("cannot set {name} {setting:?}")))?;
        Ok((
            None,
            old.map(|old| NetUndo::RestoreLink {
                ns: ns.clone(),
                name: name.to_string(),
                old,
            }),
        ))
    }

    fn nat(
        &mut self,
        ns: &NsRef,
        rule: &NatRule,
        sb: &dyn SandboxNetns,
    ) -> Result<(Option<NetOutput>, Option<NetUndo>), OpError> {
        let ino = self.resolve(ns, sb)?;
        let create_table = !self.tables.contains_key(&ino);
        let table = if create_table {
            nft::table_name()
        } else {
            self.tables[&ino].name.clone()
        };
        let known: HashSet<String> = self
            .tables
            .get(&ino)
            .map(|t| t.chains.clone())
            .unwrap_or_default();
        let handles = self
            .add_rules(ino, &table, rule, create_table, |c| known.contains(c))
            .map_err(|e| {
                if create_table && e.errno == Some(Errno::EEXIST) {
                    OpError::os(Errno::EEXIST, format!("an nftables table inet {table} already exists in {ns}"))
                        .with_hint("it belongs to another nsr run (or one that was killed): nsr never adds to a table it did not create")
                } else {
                    e
                }
            })?;
        let record = self.tables.entry(ino).or_insert_with(|| TableRecord {
            name: table.clone(),
            chains: HashSet::new(),
        });
        for l in rule.lines() {
            record.chains.insert(l.chain.to_string());
        }
        self.warn_about_foreign_drops(ino, ns, &table);
        let undo = if create_table {
            NetUndo::DeleteTable {
                ns: ns.clone(),
                table,
            }
        } else {
            let rules = handles;
            if rules.len() != rule.lines().len() {
                return Err(OpError::new(format!(
                    "the kernel did not say which handles the rules got ({rules:?})"
                )));
            }
            NetUndo::DeleteRules {
                ns: ns.clone(),
                table,
                rules,
            }
        };
        Ok((None, Some(undo)))
    }

    /// Adds the rule's lines (and the table and chains they need) in one transaction:
    /// the chain and handle each got.
    fn add_rules(
        &mut self,
        ino: Ino,
        table: &str,
        rule: &NatRule,
        create_table: bool,
        has_chain: impl Fn(&str) -> bool,
    ) -> Result<Vec<(String, u64)>, OpError> {
        if self.owners.contains_key(&ino) {
            nft::find_nft()?;
            let script = nft::add_script(table, rule, create_table, has_chain);
            let echo = self.nft(ino, &["--echo", "--handle", "-f", "-"], &script)?;
            return Ok(nft::echoed_rule_handles(&echo));
        }
        let batch = nft::add_batch(table, rule, create_table, has_chain);
        self.netfilter(ino)?.apply(batch).map_err(|e| {
            OpError::os(
                e,
                format!("the kernel refused the nftables rules: {}", rule.text()),
            )
        })
    }

    /// Sends nft commands as text through the nft program (an ordinary user's sandbox),
    /// or as the nfnetlink `batch`: the errno the kernel (or nft) answered.
    fn nft_change(
        &mut self,
        ino: Ino,
        script: &str,
        batch: nfnetlink::Batch,
    ) -> Result<(), OpError> {
        if self.owners.contains_key(&ino) {
            return self.nft(ino, &["-f", "-"], script).map(|_| ());
        }
        self.netfilter(ino)?
            .apply(batch)
            .map(|_| ())
            .map_err(|e| OpError::os(e, format!("the kernel refused: {}", script.trim())))
    }

    fn netfilter(&mut self, ino: Ino) -> Result<&mut nfnetlink::NfSocket, OpError> {
        let host = self.is_host(ino);
        self.handles.netfilter(ino, host)
    }

    /// Other tables' forward chains that drop by default, in nft's words.
    fn foreign_drops(&mut self, ino: Ino, table: &str) -> Option<Vec<String>> {
        if self.owners.contains_key(&ino) {
            let listing = self.nft(ino, &["list", "chains"], "").ok()?;
            return Some(nft::foreign_forward_drops(&listing, table));
        }
        let chains = self.netfilter(ino).ok()?.chains().ok()?;
        Some(nft::foreign_forward_drop_chains(&chains, table))
    }

    fn warn_about_foreign_drops(&mut self, ino: Ino, ns: &NsRef, table: &str) {
        if !self.warned_drop.insert(ino) {
            return;
        }
        let Some(found) = self.foreign_drops(ino, table) else {
            return;
        };
        for chain in found {
            self.warnings.push(format!(
                "{chain} in {ns} drops forwarded packets by default (policy drop), and an accept in nsr's own table cannot override it; nsr does not edit tables it does not own: allow the sandbox's traffic there (for Docker: iptables -I DOCKER-USER -i IN -o OUT -j ACCEPT)"
            ));
        }
    }

    /// An undo from a journal on disk (`nsr down`): the namespaces are opened by name
    /// first; one that belonged to a sandbox has ended with it.
    pub fn recover_undo(
        &mut self,
        undo: &NetUndo,
        sb: &dyn SandboxNetns,
    ) -> Result<UndoOutcome, OpError> {
        for ns in undo.namespaces() {
            if matches!(ns, NsRef::Sandbox(_)) {
                return Ok(UndoOutcome::Released);
            }
            if let NetUndo::DeleteNetns { .. } = undo {
                continue;
            }
            if self.resolve(ns, sb).is_err() {
                return Ok(UndoOutcome::AlreadyGone);
            }
        }
        match self.undo(undo) {
            // After a crash the host end of a pair can vanish a moment after its netns
            // went: an address or a setting of a link that is gone went with the link.
            Err(e)
                if e.errno == Some(Errno::ENODEV)
                    && matches!(
                        undo,
                        NetUndo::DeleteAddr { .. } | NetUndo::RestoreLink { .. }
                    ) =>
            {
                Ok(UndoOutcome::AlreadyGone)
            }
            other => other,
        }
    }

    /// The namespace an undo acts in, or None when the undo is released instead: the
    /// namespace is gone, or, in a whole rollback, it is the run's own (or `goes_later`
    /// says what else of the run takes the thing with it) and its own undo comes later.
    fn undo_in(&self, ns: &NsRef, goes_later: impl Fn(&Self, Ino) -> bool) -> Option<Ino> {
        let ino = self.known(ns)?;
        let released = self.whole_rollback && (self.owned.contains(&ino) || goes_later(self, ino));
        (!released).then_some(ino)
    }

    pub fn undo(&mut self, undo: &NetUndo) -> Result<UndoOutcome, OpError> {
        self.handles.trim();
        let whole = self.whole_rollback;
        match undo {
            NetUndo::DeleteNetns { name } => {
                let made = self.named.remove(name);
                if let Some(ino) = made {
                    self.owned.remove(&ino);
                    self.forget(ino);
                }
                self.refs.remove(&NsRef::Named(name.clone()));
                // Someone deleted the run's namespace and made another of that name: the
                // run's is gone, and the new one is not the run's to delete.
                if made.is_some_and(|ino| netns::names_another(name, ino)) {
                    return Ok(UndoOutcome::AlreadyGone);
                }
                Ok(UndoOutcome::done_if(netns::delete(name)?))
            }
            NetUndo::DeleteLink { link, ns, name } => self.delete_link(*link, ns, name),
            NetUndo::RestoreLink { ns, name, old } => self.restore_link(ns, name, old),
            NetUndo::MoveBack {
                link,
                name,
                from,
                to,
            } => self.move_back(*link, name, from, to),
            NetUndo::DeleteAddr { ns, dev, cidr } => {
                let Some(ino) = self.undo_in(ns, |me, ino| me.created_link(ino, dev)) else {
                    return Ok(UndoOutcome::Released);
                };
                let Some(info) = self.lookup(ino, dev)? else {
                    return Ok(UndoOutcome::AlreadyGone);
                };
                match addrs::delete(self.socket(ino)?, info.index, cidr) {
                    Ok(()) => Ok(UndoOutcome::Done),
                    Err(e) if e.errno == Errno::EADDRNOTAVAIL => Ok(UndoOutcome::AlreadyGone),
                    Err(e) => Err(e.into_op(&format!("cannot delete {cidr} from {dev}"))),
                }
            }
            NetUndo::DeleteRoute { ns, route } => self.delete_route(ns, route),
            NetUndo::RestoreSysctl { ns, key, old } => {
                let Some(ino) = self.undo_in(ns, |_, _| false) else {
                    return Ok(UndoOutcome::Released);
                };
                netns::sysctl_swap(self.handles.fd(ino)?, key, Some(old))?;
                Ok(UndoOutcome::Done)
            }
            NetUndo::DeleteTable { ns, table } => {
                let Some(ino) = self.known(ns) else {
                    return Ok(UndoOutcome::Released);
                };
                self.tables.remove(&ino);
                if whole && self.owned.contains(&ino) {
                    return Ok(UndoOutcome::Released);
                }
                let mut batch = nfnetlink::Batch::new();
                batch.delete_table(table);
                match self.nft_change(ino, &format!("delete table inet {table}\n"), batch) {
                    Ok(()) => Ok(UndoOutcome::Done),
                    Err(e) if e.errno == Some(Errno::ENOENT) => Ok(UndoOutcome::AlreadyGone),
                    Err(e) => Err(e),
                }
            }
            NetUndo::DeleteRules { ns, table, rules } => self.delete_rules(ns, table, rules),
            NetUndo::StopPasta { process, .. } => {
                Ok(UndoOutcome::done_if(super::pasta::stop(process)?))
            }
        }
    }

    /// Deletes a link the run made (found by name when nsr down has no records).
    fn delete_link(
        &mut self,
        link: LinkId,
        ns: &NsRef,
        name: &str,
    ) -> Result<UndoOutcome, OpError> {
        let whole = self.whole_rollback;
        // Without the run's records (nsr down), the link is found by its name.
        let ends = match self.links.get(link) {
            Some(l) => l.ends.clone(),
            None => self
                .known(ns)
                .map(|i| vec![(i, name.to_string())])
                .unwrap_or_default(),
        };
        if whole && ends.iter().any(|(i, _)| self.owned.contains(i)) {
            // A veth dies with either end's namespace; wait for the other end.
            for (i, n) in &ends {
                if !self.owned.contains(i) && self.handles.alive(*i) {
                    self.await_gone.push((*i, n.clone()));
                }
            }
            return Ok(UndoOutcome::Released);
        }
        for (ino, name) in ends {
            if !self.handles.alive(ino) {
                continue;
            }
            if let Some(info) = self.lookup_own(ino, &name)? {
                match links::delete(self.socket(ino)?, info.index) {
                    Ok(()) => return Ok(UndoOutcome::Done),
                    Err(e) if e.errno == Errno::ENODEV => {}
                    Err(e) => return Err(e.into_op(&format!("cannot delete link {name}"))),
                }
            }
        }
        Ok(UndoOutcome::AlreadyGone)
    }

    /// Puts back the setting a link had before.
    fn restore_link(
        &mut self,
        ns: &NsRef,
        name: &str,
        old: &LinkSetting,
    ) -> Result<UndoOutcome, OpError> {
        let Some(ino) = self.undo_in(ns, |me, ino| me.created_link(ino, name)) else {
            return Ok(UndoOutcome::Released);
        };
        let Some(info) = self.lookup(ino, name)? else {
            return Ok(UndoOutcome::AlreadyGone);
        };
        let change = match old {
            LinkSetting::Up => LinkChange::Up,
            LinkSetting::Down => LinkChange::Down,
            LinkSetting::Mtu(m) => LinkChange::Mtu(*m),
            LinkSetting::NoMaster => LinkChange::Master(None),
            LinkSetting::Master(b) => match self.lookup(ino, b)? {
                Some(br) => LinkChange::Master(Some(br.index)),
                None => LinkChange::Master(None),
            },
        };
        links::set(self.socket(ino)?, info.index, change)
            .map_err(nl(format!("cannot restore {name}")))?;
        Ok(UndoOutcome::Done)
    }

    /// Moves a link back to the namespace it came from.
    fn move_back(
        &mut self,
        link: LinkId,
        name: &str,
        from: &NsRef,
        to: &NsRef,
    ) -> Result<UndoOutcome, OpError> {
        let whole = self.whole_rollback;
        let (Some(tino), Some(fino)) = (self.known(to), self.known(from)) else {
            return Ok(UndoOutcome::Released);
        };
        if whole && self.owned.contains(&tino) {
            return Ok(UndoOutcome::Released);
        }
        let Some(info) = self.lookup_own(tino, name)? else {
            return Ok(UndoOutcome::AlreadyGone);
        };
        let fd = self.handles.fd(fino)?.as_raw_fd();
        links::move_to(self.socket(tino)?, info.index, fd)
            .map_err(nl(format!("cannot move {name} back")))?;
        if let Some(rec) = self.links.get_mut(link) {
            for end in rec.ends.iter_mut() {
                if end.0 == tino && end.1 == name {
                    end.0 = fino;
                }
            }
        }
        Ok(UndoOutcome::Done)
    }

    /// Deletes exactly the route the run added.
    fn delete_route(&mut self, ns: &NsRef, route: &RouteSpec) -> Result<UndoOutcome, OpError> {
        let Some(ino) = self.undo_in(ns, |_, _| false) else {
            return Ok(UndoOutcome::Released);
        };
        let oif = match &route.dev {
            Some(dev) => match self.lookup(ino, dev)? {
                Some(l) => Some(l.index),
                None => return Ok(UndoOutcome::AlreadyGone),
            },
            None => None,
        };
        match routes::delete(self.socket(ino)?, route, oif) {
            Ok(()) => Ok(UndoOutcome::Done),
            Err(e) if e.errno == Errno::ESRCH => Ok(UndoOutcome::AlreadyGone),
            Err(e) => Err(e.into_op(&format!("cannot delete the route to {}", route.dest_text()))),
        }
    }

    /// Deletes the run's rules, by handle, from its table.
    fn delete_rules(
        &mut self,
        ns: &NsRef,
        table: &str,
        rules: &[(String, u64)],
    ) -> Result<UndoOutcome, OpError> {
        // The table's own undo comes later and takes the rules with it.
        let Some(ino) = self.undo_in(ns, |me, ino| me.tables.contains_key(&ino)) else {
            return Ok(UndoOutcome::Released);
        };
        let script = |rules: &[(String, u64)]| -> (String, nfnetlink::Batch) {
            let mut batch = nfnetlink::Batch::new();
            let mut text = String::new();
            for (chain, handle) in rules {
                batch.delete_rule(table, chain, *handle);
                text.push_str(&format!(
                    "delete rule inet {table} {chain} handle {handle}\n"
                ));
            }
            (text, batch)
        };
        let (text, batch) = script(rules);
        match self.nft_change(ino, &text, batch) {
            Ok(()) => Ok(UndoOutcome::Done),
            // One of them is gone: the others still go, one by one.
            Err(e) if e.errno == Some(Errno::ENOENT) && rules.len() > 1 => {
                for r in rules {
                    let (text, batch) = script(std::slice::from_ref(r));
                    match self.nft_change(ino, &text, batch) {
                        Err(e) if e.errno != Some(Errno::ENOENT) => return Err(e),
                        _ => {}
                    }
                }
                Ok(UndoOutcome::Done)
            }
            Err(e) if e.errno == Some(Errno::ENOENT) => Ok(UndoOutcome::AlreadyGone),
            Err(e) => Err(e),
        }
    }
}

/// The program that connects a namespace for `via`, and where it is: pasta, or
/// slirp4netns when pasta is missing (with a note for the recipe), or what was asked for.
fn choose(via: UserNet) -> Result<(UserNet, std::path::PathBuf, Option<String>), OpError> {
    if via == UserNet::Slirp4netns {
        let program = super::slirp::find().ok_or_else(super::slirp::missing)?;
        return Ok((UserNet::Slirp4netns, program, None));
    }
    match super::pasta::find() {
        Ok(program) => Ok((UserNet::Pasta, program, None)),
        // NSR_PASTA names a pasta on purpose: no fallback from a wrong path.
        Err(e) if std::env::var_os("NSR_PASTA").is_some() => Err(e),
        Err(e) => match super::slirp::find() {
            Some(program) => Ok((
                UserNet::Slirp4netns,
                program,
                Some("pasta is not installed: slirp4netns connects the sandbox instead (apt-get install passt for pasta)".into()),
            )),
            None => Err(e),
        },
    }
}
