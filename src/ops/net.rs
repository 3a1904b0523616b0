//! The network primitives as typed operations and undos, with the `ip`/`nft`/`sysctl`
//! command each one stands for.

use super::cidr::IpCidr;
use super::names::{IfName, NetnsName};
use super::nat::NatRule;
use super::pasta::{PastaProcess, PastaSpec};
use super::route::RouteSpec;
use super::sandbox::SandboxId;
use super::shell::{sandbox_pid_var, shell_quote};
use super::vxlan::VxlanSpec;
use std::fmt;
use std::net::IpAddr;

/// Which network namespace an operation works in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum NsRef {
    /// nsr's own (the host's, unless nsr itself runs in a container).
    Host,
    /// A named namespace in /run/netns.
    Named(String),
    /// The network namespace a sandbox is in.
    Sandbox(SandboxId),
}

impl fmt::Display for NsRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NsRef::Host => write!(f, "the host"),
            NsRef::Named(n) => write!(f, "netns {n}"),
            NsRef::Sandbox(id) => write!(f, "sandbox #{id}"),
        }
    }
}

impl NsRef {
    /// How the tutorial's tools address the namespace: `ip -n NAME`, `nsenter`.
    fn ip(&self) -> String {
        match self {
            NsRef::Host => "ip".into(),
            NsRef::Named(n) => format!("ip -n {}", shell_quote(n)),
            NsRef::Sandbox(id) => format!("nsenter -n -t {} ip", sandbox_pid_var(*id)),
        }
    }

    /// `cmd` run in the namespace: `ip netns exec`, `nsenter -n`.
    pub fn exec(&self, cmd: &str) -> String {
        match self {
            NsRef::Host => cmd.to_string(),
            NsRef::Named(n) => format!("ip netns exec {} {cmd}", shell_quote(n)),
            NsRef::Sandbox(id) => format!("nsenter -n -t {} {cmd}", sandbox_pid_var(*id)),
        }
    }

    /// pasta's `--netns` for the namespace, as the plan writes it (its script runs as
    /// root, who enters any netns without its user namespace).
    fn pasta_netns(&self) -> String {
        match self {
            NsRef::Host => "/proc/self/ns/net".into(),
            NsRef::Named(n) => shell_quote(n),
            NsRef::Sandbox(id) => format!("/proc/{}/ns/net", sandbox_pid_var(*id)),
        }
    }

    fn netns_arg(&self) -> String {
        match self {
            NsRef::Host => "1".into(),
            NsRef::Named(n) => shell_quote(n),
            NsRef::Sandbox(id) => sandbox_pid_var(*id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LinkSetting {
    Up,
    Down,
    Mtu(u32),
    /// Attach to the bridge of that name in the same namespace.
    Master(String),
    NoMaster,
}

impl LinkSetting {
    fn words(&self) -> String {
        match self {
            LinkSetting::Up => "up".into(),
            LinkSetting::Down => "down".into(),
            LinkSetting::Mtu(m) => format!("mtu {m}"),
            LinkSetting::Master(b) => format!("master {}", shell_quote(b)),
            LinkSetting::NoMaster => "nomaster".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum NetOp {
    NetnsAdd {
        name: NetnsName,
    },
    /// An existing named netns: used, never deleted.
    NetnsOpen {
        name: NetnsName,
    },
    Veth {
        name: IfName,
        ns: NsRef,
        peer: IfName,
        peer_ns: NsRef,
    },
    Bridge {
        name: IfName,
        ns: NsRef,
    },
    /// A VXLAN tunnel endpoint, its underlay `spec.dev` (if any) in the same namespace.
    Vxlan {
        name: IfName,
        ns: NsRef,
        spec: VxlanSpec,
    },
    LinkSet {
        ns: NsRef,
        name: IfName,
        setting: LinkSetting,
    },
    LinkMove {
        ns: NsRef,
        name: IfName,
        to: NsRef,
    },
    AddrAdd {
        ns: NsRef,
        dev: IfName,
        cidr: IpCidr,
        /// IFA_F_NODAD: no duplicate address detection (IPv6), usable at once.
        nodad: bool,
    },
    RouteAdd {
        ns: NsRef,
        route: RouteSpec,
    },
    Forwarding {
        ns: NsRef,
        v6: bool,
        on: bool,
    },
    Nat {
        ns: NsRef,
        rule: NatRule,
    },
    /// Connect the namespace to the host's network through a pasta process.
    Pasta {
        ns: NsRef,
        spec: PastaSpec,
    },
    Links {
        ns: NsRef,
    },
    Addrs {
        ns: NsRef,
    },
    Routes {
        ns: NsRef,
    },
}

/// Index of a link this run created, in the backend's records.
pub type LinkId = usize;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum NetUndo {
    DeleteNetns {
        name: String,
    },
    DeleteLink {
        link: LinkId,
        ns: NsRef,
        name: String,
    },
    /// Put back the setting the link had before.
    RestoreLink {
        ns: NsRef,
        name: String,
        old: LinkSetting,
    },
    MoveBack {
        link: LinkId,
        name: String,
        from: NsRef,
        to: NsRef,
    },
    DeleteAddr {
        ns: NsRef,
        dev: String,
        cidr: IpCidr,
    },
    DeleteRoute {
        ns: NsRef,
        route: RouteSpec,
    },
    RestoreSysctl {
        ns: NsRef,
        key: String,
        old: String,
    },
    DeleteTable {
        ns: NsRef,
        table: String,
    },
    /// The rules one primitive added: (chain, handle) each.
    DeleteRules {
        ns: NsRef,
        table: String,
        rules: Vec<(String, u64)>,
    },
    /// Stop exactly the pasta process the run started (its name and start time match).
    StopPasta {
        ns: NsRef,
        process: PastaProcess,
    },
}

/// An address as `addrs()` returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct AddrView {
    pub dev: String,
    pub cidr: IpCidr,
}

/// A route as `routes()` returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteView {
    pub dest: String,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    pub metric: Option<u32>,
    pub protocol: String,
    pub scope: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NetOutput {
    Links(Vec<LinkInfo>),
    Addrs(Vec<AddrView>),
    Routes(Vec<RouteView>),
}

pub fn forwarding_key(v6: bool) -> &'static str {
    if v6 {
        "net/ipv6/conf/all/forwarding"
    } else {
        "net/ipv4/ip_forward"
    }
}

fn route_words(r: &RouteSpec) -> String {
    let mut s = r.dest_text();
    if let Some(v) = r.via {
        s.push_str(&format!(" via {v}"));
    }
    if let Some(d) = &r.dev {
        s.push_str(&format!(" dev {}", shell_quote(d)));
    }
    if let Some(m) = r.metric {
        s.push_str(&format!(" metric {m}"));
    }
    s
}

impl NetOp {
    pub fn primitive(&self) -> &'static str {
        match self {
            NetOp::NetnsAdd { .. } => "netns",
            NetOp::NetnsOpen { .. } => "netns_open",
            NetOp::Veth { .. } => "veth",
            NetOp::Bridge { .. } => "bridge",
            NetOp::Vxlan { .. } => "vxlan",
            NetOp::LinkSet { setting, .. } => match setting {
                LinkSetting::Up => "up",
                LinkSetting::Down => "down",
                LinkSetting::Mtu(_) => "mtu",
                LinkSetting::Master(_) => "attach",
                LinkSetting::NoMaster => "detach",
            },
            NetOp::LinkMove { .. } => "move_to",
            NetOp::AddrAdd { .. } => "addr",
            NetOp::RouteAdd { .. } => "route",
            NetOp::Forwarding { v6: false, .. } => "ip_forward",
            NetOp::Forwarding { v6: true, .. } => "ip6_forward",
            NetOp::Nat { rule, .. } => match rule {
                NatRule::Masquerade { .. } => "masquerade",
                NatRule::Forward { .. } => "forward",
                NatRule::PortForward { .. } => "port_forward",
                NatRule::DropOutbound => "pasta",
            },
            NetOp::Pasta { .. } => "pasta",
            NetOp::Links { .. } => "links",
            NetOp::Addrs { .. } => "addrs",
            NetOp::Routes { .. } => "routes",
        }
    }

    pub fn shell(&self) -> String {
        match self {
            NetOp::NetnsAdd { name } => format!("ip netns add {}", shell_quote(name)),
            NetOp::NetnsOpen { name } => format!("ls /run/netns/{}", shell_quote(name)),
            NetOp::Veth {
                name,
                ns,
                peer,
                peer_ns,
            } => {
                let peer_in = if peer_ns == ns {
                    String::new()
                } else {
                    format!(" netns {}", peer_ns.netns_arg())
                };
                format!(
                    "{} link add {} type veth peer name {}{peer_in}",
                    ns.ip(),
                    shell_quote(name),
                    shell_quote(peer)
                )
            }
            NetOp::Bridge { name, ns } => {
                format!("{} link add {} type bridge", ns.ip(), shell_quote(name))
            }
            NetOp::Vxlan { name, ns, spec } => format!(
                "{} link add {} type vxlan {}",
                ns.ip(),
                shell_quote(name),
                spec.words()
            ),
            NetOp::LinkSet { ns, name, setting } => {
                format!(
                    "{} link set {} {}",
                    ns.ip(),
                    shell_quote(name),
                    setting.words()
                )
            }
            NetOp::LinkMove { ns, name, to } => format!(
                "{} link set {} netns {}",
                ns.ip(),
                shell_quote(name),
                to.netns_arg()
            ),
            NetOp::AddrAdd {
                ns,
                dev,
                cidr,
                nodad,
            } => format!(
                "{} addr add {cidr} dev {}{}",
                ns.ip(),
                shell_quote(dev),
                if *nodad { " nodad" } else { "" }
            ),
            NetOp::RouteAdd { ns, route } => format!(
                "{}{} route add {} proto static",
                ns.ip(),
                if route.v6 { " -6" } else { "" },
                route_words(route)
            ),
            NetOp::Forwarding { ns, v6, on } => ns.exec(&format!(
                "sysctl -w {}={}",
                forwarding_key(*v6).replace('/', "."),
                u8::from(*on)
            )),
            NetOp::Nat { ns, rule } => ns.exec(&rule.iptables()),
            NetOp::Pasta { ns, spec } => spec.command(&ns.pasta_netns(), &pasta_pidfile(ns)),
            NetOp::Links { ns } => format!("{} link show", ns.ip()),
            NetOp::Addrs { ns } => format!("{} addr show", ns.ip()),
            NetOp::Routes { ns } => format!("{} route show", ns.ip()),
        }
    }

    /// The journal's words for what the operation created.
    pub fn describe(&self) -> String {
        match self {
            NetOp::NetnsAdd { name } => format!("netns {name}"),
            NetOp::Veth {
                name,
                ns,
                peer,
                peer_ns,
            } => format!("veth {name} ({ns}) <-> {peer} ({peer_ns})"),
            NetOp::Bridge { name, ns } => format!("bridge {name} ({ns})"),
            NetOp::Vxlan { name, ns, spec } => {
                format!("vxlan {name} id {} to {} ({ns})", spec.id, spec.remote)
            }
            NetOp::LinkSet { ns, name, setting } => {
                format!("link {name} {} ({ns})", setting.words())
            }
            NetOp::LinkMove { ns, name, to } => format!("move {name} from {ns} to {to}"),
            NetOp::AddrAdd { ns, dev, cidr, .. } => format!("address {cidr} on {dev} ({ns})"),
            NetOp::RouteAdd { ns, route } => format!("route {} ({ns})", route_words(route)),
            NetOp::Forwarding { ns, v6, on } => {
                format!("{}={} ({ns})", forwarding_key(*v6), u8::from(*on))
            }
            NetOp::Nat { ns, rule } => format!("nft rule '{}' ({ns})", rule.text()),
            NetOp::Pasta { ns, spec } => format!("{} ({ns})", spec.describe()),
            other => other.shell(),
        }
    }
}

impl NetUndo {
    /// The namespaces the undo works in.
    pub fn namespaces(&self) -> Vec<&NsRef> {
        match self {
            // pasta is a process on the host, stopped by pid wherever its netns went.
            NetUndo::DeleteNetns { .. } | NetUndo::StopPasta { .. } => Vec::new(),
            NetUndo::MoveBack { from, to, .. } => vec![from, to],
            NetUndo::DeleteLink { ns, .. }
            | NetUndo::RestoreLink { ns, .. }
            | NetUndo::DeleteAddr { ns, .. }
            | NetUndo::DeleteRoute { ns, .. }
            | NetUndo::RestoreSysctl { ns, .. }
            | NetUndo::DeleteTable { ns, .. }
            | NetUndo::DeleteRules { ns, .. } => vec![ns],
        }
    }

    pub fn describe(&self) -> String {
        match self {
            NetUndo::DeleteNetns { name } => format!("ip netns del {}", shell_quote(name)),
            NetUndo::DeleteLink { ns, name, .. } => {
                format!("{} link del {}", ns.ip(), shell_quote(name))
            }
            NetUndo::RestoreLink { ns, name, old } => {
                format!("{} link set {} {}", ns.ip(), shell_quote(name), old.words())
            }
            NetUndo::MoveBack { name, from, to, .. } => format!(
                "{} link set {} netns {}",
                to.ip(),
                shell_quote(name),
                from.netns_arg()
            ),
            NetUndo::DeleteAddr { ns, dev, cidr } => {
                format!("{} addr del {cidr} dev {}", ns.ip(), shell_quote(dev))
            }
            NetUndo::DeleteRoute { ns, route } => format!(
                "{}{} route del {}",
                ns.ip(),
                if route.v6 { " -6" } else { "" },
                route_words(route)
            ),
            NetUndo::RestoreSysctl { ns, key, old } => {
                ns.exec(&format!("sysctl -w {}={old}", key.replace('/', ".")))
            }
            NetUndo::DeleteTable { ns, table } => {
                ns.exec(&format!("nft delete table inet {table}"))
            }
            NetUndo::DeleteRules { ns, table, rules } => rules
                .iter()
                .map(|(c, h)| ns.exec(&format!("nft delete rule inet {table} {c} handle {h}")))
                .collect::<Vec<_>>()
                .join(" && "),
            NetUndo::StopPasta { ns, process } if process.pid == 0 => {
                let pidfile = pasta_pidfile(ns);
                format!("kill $(cat {pidfile}) && rm -f {pidfile}")
            }
            NetUndo::StopPasta { process, .. } => {
                format!("kill {} ({})", process.pid, process.name)
            }
        }
    }
}

/// Where the plan's shell script keeps the pid of a namespace's pasta.
fn pasta_pidfile(ns: &NsRef) -> String {
    match ns {
        NsRef::Host => "/tmp/nsr-pasta-host.pid".into(),
        NsRef::Named(n) => shell_quote(&format!("/tmp/nsr-pasta-{n}.pid")),
        NsRef::Sandbox(id) => format!("/tmp/nsr-pasta-{}.pid", sandbox_pid_var(*id)),
    }
}

/// A link as `ip link` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkInfo {
    pub index: u32,
    pub name: String,
    pub kind: String,
    pub up: bool,
    pub state: String,
    pub mtu: u32,
    pub mac: String,
    pub master: Option<u32>,
    /// The link group (`ip link ... group N`): nsr's links carry their run's tag.
    pub group: u32,
    /// A veth's peer, when it is in the same namespace: its index.
    pub peer: Option<u32>,
    /// A VXLAN link's segment, remote endpoint and port.
    pub vxlan: Option<VxlanInfo>,
}

/// What the kernel says of a VXLAN link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VxlanInfo {
    pub id: u32,
    pub remote: Option<IpAddr>,
    pub port: u16,
}
