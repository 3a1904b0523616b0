//! The picture of a plan: the operations a traced run against the recording backend
//! asked for, replayed onto the model in order (a link moved ends up where it went, a
//! bridge port knows its bridge).

use super::model::{
    named_ns, nat_summary, sandbox_ns, End, Graph, Interface, Namespace, Nat, Route, Sandbox,
    Tunnel, Veth, HOST,
};
use crate::ops::kinds::{NsKind, ALL_KINDS};
use crate::ops::nat::NatRule;
use crate::ops::net::{LinkSetting, NetOp, NsRef};
use crate::ops::sandbox::{JoinTarget, SandboxSpec};
use crate::ops::Op;
use crate::session::TraceItem;

/// Builds the model from the operations of a trace, in order.
pub fn from_trace(title: &str, trace: &[TraceItem]) -> Graph {
    let mut g = Graph {
        title: title.to_string(),
        source: "plan".into(),
        namespaces: vec![host()],
        ..Graph::default()
    };
    for item in trace {
        if let TraceItem::Op { op, .. } = item {
            apply(&mut g, op);
        }
    }
    g.sort_tunnels();
    g
}

pub fn host() -> Namespace {
    Namespace {
        id: HOST.into(),
        label: "host".into(),
        ..Namespace::default()
    }
}

/// The namespace of `id`, made (as existing before the run) when first named.
fn ns_mut<'g>(g: &'g mut Graph, id: &str) -> &'g mut Namespace {
    if let Some(i) = g.namespaces.iter().position(|n| n.id == id) {
        return &mut g.namespaces[i];
    }
    let label = id.strip_prefix("netns:").unwrap_or(id).to_string();
    g.namespaces.push(Namespace {
        id: id.to_string(),
        label,
        ..Namespace::default()
    });
    g.namespaces.last_mut().expect("just pushed")
}

fn iface_mut<'g>(g: &'g mut Graph, ns: &str, name: &str) -> &'g mut Interface {
    let n = ns_mut(g, ns);
    if let Some(i) = n.interfaces.iter().position(|i| i.name == name) {
        return &mut n.interfaces[i];
    }
    // A link the recipe did not make (the host's own): shown because it touches it.
    n.interfaces.push(Interface {
        name: name.to_string(),
        kind: "device".into(),
        ..Interface::default()
    });
    n.interfaces.last_mut().expect("just pushed")
}

fn ns_id(g: &Graph, ns: &NsRef) -> String {
    match ns {
        NsRef::Host => HOST.into(),
        NsRef::Named(n) => named_ns(n),
        NsRef::Sandbox(id) => g
            .sandboxes
            .get(*id)
            .map(|s| s.netns.clone())
            .unwrap_or_else(|| sandbox_ns(id + 1)),
    }
}

/// A joined network namespace: a named one by its file, another sandbox's by the pid
/// placeholder (-1 for the first sandbox), anything else as a namespace of its own.
fn joined_ns(g: &Graph, target: &JoinTarget) -> String {
    match target {
        JoinTarget::Path(p) => {
            let name = p
                .strip_prefix("/run/netns/")
                .or_else(|| p.strip_prefix("/var/run/netns/"));
            match (name, p.strip_prefix("/proc/")) {
                (Some(n), _) => named_ns(n),
                (None, Some(rest)) => rest
                    .split('/')
                    .next()
                    .and_then(|pid| pid.parse::<i32>().ok())
                    .map(|pid| pid_ns(g, pid))
                    .unwrap_or_else(|| p.clone()),
                _ => p.clone(),
            }
        }
        JoinTarget::Pid(pid) => pid_ns(g, *pid),
    }
}

fn pid_ns(g: &Graph, pid: i32) -> String {
    let placeholder = usize::try_from(-i64::from(pid)).ok();
    g.sandboxes
        .iter()
        .find(|s| s.pid == Some(pid) || Some(s.number) == placeholder)
        .map(|s| s.netns.clone())
        .unwrap_or_else(|| format!("pid:{pid}"))
}

pub fn kinds_in_order(kinds: &[NsKind]) -> Vec<String> {
    ALL_KINDS
        .iter()
        .filter(|k| kinds.contains(k))
        .map(|k| k.name().to_string())
        .collect()
}

fn sandbox(g: &mut Graph, spec: &SandboxSpec) {
    let number = g.sandboxes.len() + 1;
    let netns = if spec.create.contains(&NsKind::Net) {
        let id = sandbox_ns(number);
        g.namespaces.push(Namespace {
            id: id.clone(),
            label: format!("sandbox {number}"),
            created: true,
            ..Namespace::default()
        });
        id
    } else if let Some(t) = spec.join.get(&NsKind::Net) {
        let id = joined_ns(g, t);
        ns_mut(g, &id);
        id
    } else {
        HOST.into()
    };
    g.sandboxes.push(Sandbox {
        number,
        pid: None,
        kinds: kinds_in_order(&spec.create),
        netns,
        confinement: spec.confine.summary(),
        limits: spec.limits.as_ref().map(|l| l.to_string()),
        ..Sandbox::default()
    });
}

fn apply(g: &mut Graph, op: &Op) {
    match op {
        Op::Unshare(spec) => sandbox(g, spec),
        Op::SetHostname { sandbox, name } => {
            if let Some(s) = g.sandboxes.get_mut(*sandbox) {
                s.hostname = Some(name.clone());
            }
        }
        Op::Chroot { sandbox, path }
        | Op::PivotRoot {
            sandbox,
            new_root: path,
        } => {
            if let Some(s) = g.sandboxes.get_mut(*sandbox) {
                s.root = Some(path.clone());
            }
        }
        Op::SetLimits { sandbox, limits } => {
            if let Some(s) = g.sandboxes.get_mut(*sandbox) {
                s.limits = Some(limits.to_string());
            }
        }
        Op::Net(net) => apply_net(g, net),
        _ => {}
    }
}

fn apply_net(g: &mut Graph, op: &NetOp) {
    // Every namespace has its loopback: not drawn (the live picture leaves it out too).
    if let NetOp::LinkSet { name, .. } | NetOp::AddrAdd { dev: name, .. } = op {
        if name.as_str() == "lo" {
            return;
        }
    }
    match op {
        NetOp::NetnsAdd { name } => ns_mut(g, &named_ns(name)).created = true,
        NetOp::NetnsOpen { name } => {
            ns_mut(g, &named_ns(name));
        }
        NetOp::Veth {
            name,
            ns,
            peer,
            peer_ns,
        } => {
            let (a, b) = (ns_id(g, ns), ns_id(g, peer_ns));
            for (n, i) in [(&a, name), (&b, peer)] {
                iface_mut(g, n, i).kind = "veth".into();
            }
            g.veths.push(Veth {
                a: End {
                    ns: a,
                    name: name.to_string(),
                },
                b: End {
                    ns: b,
                    name: peer.to_string(),
                },
            });
        }
        NetOp::Bridge { name, ns } => {
            let id = ns_id(g, ns);
            iface_mut(g, &id, name).kind = "bridge".into();
        }
        NetOp::Vxlan { name, ns, spec } => {
            let id = ns_id(g, ns);
            iface_mut(g, &id, name).kind = "vxlan".into();
            g.tunnels.push(Tunnel {
                end: End {
                    ns: id,
                    name: name.to_string(),
                },
                id: spec.id,
                remote: spec.remote.to_string(),
                port: spec.port,
            });
        }
        NetOp::LinkSet { ns, name, setting } => {
            let id = ns_id(g, ns);
            let i = iface_mut(g, &id, name);
            match setting {
                LinkSetting::Up => i.up = true,
                LinkSetting::Down => i.up = false,
                LinkSetting::Master(b) => i.master = Some(b.clone()),
                LinkSetting::NoMaster => i.master = None,
                LinkSetting::Mtu(_) => {}
            }
        }
        NetOp::LinkMove { ns, name, to } => move_link(g, &ns_id(g, ns), name, &ns_id(g, to)),
        NetOp::AddrAdd { ns, dev, cidr, .. } => {
            let id = ns_id(g, ns);
            iface_mut(g, &id, dev).addrs.push(cidr.to_string());
        }
        NetOp::RouteAdd { ns, route } => {
            let id = ns_id(g, ns);
            ns_mut(g, &id).routes.push(Route {
                dest: route.dest_text(),
                via: route.via.map(|v| v.to_string()),
                dev: route.dev.clone(),
            });
        }
        NetOp::Forwarding { ns, v6, on } => {
            let id = ns_id(g, ns);
            let family = if *v6 { "ipv6" } else { "ipv4" }.to_string();
            let f = &mut ns_mut(g, &id).forwarding;
            f.retain(|x| *x != family);
            if *on {
                f.push(family);
            }
        }
        NetOp::Nat { ns, rule } => {
            let id = ns_id(g, ns);
            let nat = nat_of(rule);
            ns_mut(g, &id).nat.push(nat);
        }
        NetOp::Pasta { ns, spec } => {
            let id = ns_id(g, ns);
            ns_mut(g, &id).usernet = Some(spec.describe());
        }
        NetOp::Links { .. } | NetOp::Addrs { .. } | NetOp::Routes { .. } => {}
    }
}

fn move_link(g: &mut Graph, from: &str, name: &str, to: &str) {
    let moved = {
        let n = ns_mut(g, from);
        let at = n.interfaces.iter().position(|i| i.name == name);
        at.map(|at| n.interfaces.remove(at))
    };
    let mut moved = moved.unwrap_or(Interface {
        name: name.to_string(),
        kind: "device".into(),
        ..Interface::default()
    });
    // The kernel takes a link's addresses, state and bridge port away when it moves.
    moved.addrs.clear();
    moved.up = false;
    moved.master = None;
    ns_mut(g, to).interfaces.push(moved);
    let ends = g.veths.iter_mut().flat_map(|v| [&mut v.a, &mut v.b]);
    for end in ends.chain(g.tunnels.iter_mut().map(|t| &mut t.end)) {
        if end.ns == from && end.name == name {
            end.ns = to.to_string();
        }
    }
}

pub fn nat_of(rule: &NatRule) -> Nat {
    let kind = match rule {
        NatRule::Masquerade { .. } => "masquerade",
        NatRule::Forward { .. } => "forward",
        NatRule::PortForward { .. } => "port_forward",
        NatRule::DropOutbound => "drop_outbound",
    };
    let rules: Vec<String> = rule.lines().into_iter().map(|l| l.text).collect();
    Nat {
        kind: kind.into(),
        summary: nat_summary(kind, &rules),
        rules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::names::{IfName, NetnsName};
    use crate::ops::sandbox::Propagation;

    fn traced(ops: Vec<Op>) -> Vec<TraceItem> {
        ops.into_iter()
            .enumerate()
            .map(|(i, op)| TraceItem::Op {
                seq: i as u64 + 1,
                origin: Default::default(),
                call: String::new(),
                op: Box::new(op),
                undo: None,
            })
            .collect()
    }

    fn ifname(n: &str) -> IfName {
        IfName::new(n).unwrap()
    }

    fn sandbox(create: &[NsKind], join_net: Option<JoinTarget>) -> Op {
        Op::Unshare(SandboxSpec {
            create: create.to_vec(),
            join: join_net.map(|t| (NsKind::Net, t)).into_iter().collect(),
            uid_map: vec![],
            gid_map: vec![],
            propagation: Propagation::Private,
            time_offsets: Default::default(),
            confine: Default::default(),
            limits: None,
        })
    }

    #[test]
    fn a_moved_link_ends_where_it_went_and_a_port_knows_its_bridge() {
        let sw = NsRef::Named("sw".into());
        let g = from_trace(
            "t",
            &traced(vec![
                Op::Net(NetOp::NetnsAdd {
                    name: NetnsName::new("sw").unwrap(),
                }),
                sandbox(&[NsKind::Net, NsKind::Uts], None),
                Op::Net(NetOp::Bridge {
                    name: ifname("br0"),
                    ns: sw.clone(),
                }),
                // Made on the host, then its end moved into the switch and attached.
                Op::Net(NetOp::Veth {
                    name: ifname("p0"),
                    ns: NsRef::Host,
                    peer: ifname("e0"),
                    peer_ns: NsRef::Sandbox(0),
                }),
                Op::Net(NetOp::AddrAdd {
                    ns: NsRef::Host,
                    dev: ifname("p0"),
                    cidr: crate::ops::cidr::IpCidr::parse("10.1.0.9/24").unwrap(),
                    nodad: false,
                }),
                Op::Net(NetOp::LinkMove {
                    ns: NsRef::Host,
                    name: ifname("p0"),
                    to: sw.clone(),
                }),
                Op::Net(NetOp::LinkSet {
                    ns: sw.clone(),
                    name: ifname("p0"),
                    setting: LinkSetting::Master("br0".into()),
                }),
                Op::Net(NetOp::LinkSet {
                    ns: NsRef::Sandbox(0),
                    name: ifname("lo"),
                    setting: LinkSetting::Up,
                }),
                // The second sandbox joins the first one's network by its pid.
                sandbox(&[NsKind::Mount], Some(JoinTarget::Pid(-1))),
            ]),
        );
        assert!(g.namespace(HOST).unwrap().interfaces.is_empty(), "{g:?}");
        let sw = g.namespace("netns:sw").unwrap();
        let port = sw.interfaces.iter().find(|i| i.name == "p0").unwrap();
        assert_eq!(port.master.as_deref(), Some("br0"));
        assert!(port.addrs.is_empty(), "a move takes the addresses away");
        assert_eq!(
            g.veths[0].a,
            End {
                ns: "netns:sw".into(),
                name: "p0".into()
            }
        );
        assert_eq!(
            g.veths[0].b,
            End {
                ns: "sandbox:1".into(),
                name: "e0".into()
            }
        );
        let own = g.namespace("sandbox:1").unwrap();
        assert!(
            own.interfaces.iter().all(|i| i.name != "lo"),
            "lo is not drawn"
        );
        assert_eq!(g.sandboxes[1].netns, "sandbox:1");
        assert_eq!(g.sandboxes[0].kinds, ["uts", "net"]);
        // Drawn: the veth goes from the bridge (its port's end) to the sandbox.
        let d = crate::graph::drawing::draw(&g);
        let title = |i: usize| d.nodes[i].title.clone();
        let veth = d
            .edges
            .iter()
            .find(|e| e.kind == crate::graph::drawing::EdgeKind::Veth)
            .unwrap();
        assert_eq!(
            (title(veth.from), title(veth.to)),
            ("bridge br0".to_string(), "sandbox 1".to_string())
        );
        assert_eq!(veth.tail, ["p0"]);
    }

    fn vxlan(name: &str, ns: &NsRef, id: u32, remote: &str) -> Op {
        let spec = crate::ops::vxlan::VxlanSpec::new(id.into(), remote, None, None, None).unwrap();
        Op::Net(NetOp::Vxlan {
            name: ifname(name),
            ns: ns.clone(),
            spec,
        })
    }

    #[test]
    fn a_tunnel_joins_the_ends_in_the_picture_and_points_elsewhere_to_a_remote_machine() {
        let (a, b) = (NsRef::Named("a".into()), NsRef::Named("b".into()));
        let mut ops: Vec<Op> = ["a", "b"]
            .iter()
            .map(|n| {
                Op::Net(NetOp::NetnsAdd {
                    name: NetnsName::new(n).unwrap(),
                })
            })
            .collect();
        ops.push(Op::Net(NetOp::Veth {
            name: ifname("u1"),
            ns: a.clone(),
            peer: ifname("u2"),
            peer_ns: b.clone(),
        }));
        for (ns, dev, cidr) in [(&a, "u1", "10.99.0.1/24"), (&b, "u2", "10.99.0.2/24")] {
            ops.push(Op::Net(NetOp::AddrAdd {
                ns: ns.clone(),
                dev: ifname(dev),
                cidr: crate::ops::cidr::IpCidr::parse(cidr).unwrap(),
                nodad: false,
            }));
        }
        ops.push(vxlan("vx0", &a, 42, "10.99.0.2"));
        ops.push(vxlan("vx0", &b, 42, "10.99.0.1"));
        ops.push(vxlan("vx1", &a, 7, "192.0.2.9"));
        let g = from_trace("t", &traced(ops));
        assert_eq!(g.tunnels.len(), 3);
        let d = crate::graph::drawing::draw(&g);
        let title = |i: usize| d.nodes[i].title.clone();
        let tunnels: Vec<_> = d
            .edges
            .iter()
            .filter(|e| e.kind == crate::graph::drawing::EdgeKind::Tunnel)
            .map(|e| (title(e.from), title(e.to), e.tail.join(" ")))
            .collect();
        assert_eq!(
            tunnels,
            [
                (
                    "netns a".to_string(),
                    "netns b".to_string(),
                    "vx0 vxlan id 42 port 4789".to_string()
                ),
                (
                    "netns a".to_string(),
                    "remote 192.0.2.9".to_string(),
                    "vx1 vxlan id 7 port 4789".to_string()
                ),
            ]
        );
    }
}
