//! The model as boxes and lines, shared by every format: a node per namespace, per
//! bridge and per sandbox that does not own its namespace; an edge per veth pair
//! (labelled at each end), per bridge (in its namespace) and per sandbox (in the
//! namespace it joined).

use super::model::{Graph, Interface, Namespace, Sandbox, HOST};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Host,
    Netns,
    /// A sandbox with its own network namespace: one node for both.
    Sandbox,
    Bridge,
    /// A sandbox in a namespace it joined (or the host's).
    Guest,
    /// The other end of a tunnel, on a machine the picture does not show.
    Remote,
}

impl NodeKind {
    pub const ALL: [NodeKind; 6] = [
        NodeKind::Host,
        NodeKind::Netns,
        NodeKind::Sandbox,
        NodeKind::Bridge,
        NodeKind::Guest,
        NodeKind::Remote,
    ];

    /// Its colour in every format.
    pub fn fill(self) -> &'static str {
        match self {
            NodeKind::Host => "#e8e8e8",
            NodeKind::Netns => "#dbeafe",
            NodeKind::Sandbox => "#dcfce7",
            NodeKind::Bridge => "#fef3c7",
            NodeKind::Guest => "#ecfccb",
            NodeKind::Remote => "#f3e8ff",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            NodeKind::Host => "host",
            NodeKind::Netns => "netns",
            NodeKind::Sandbox => "sandbox",
            NodeKind::Bridge => "bridge",
            NodeKind::Guest => "guest",
            NodeKind::Remote => "remote",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    /// `n0`, `n1`, ...: safe in every format.
    pub id: String,
    pub kind: NodeKind,
    pub title: String,
    /// What it shows under the title: routes, forwarding, NAT, a sandbox's details.
    pub lines: Vec<String>,
    /// More than the picture shows (every interface, up or down): the HTML page's panel.
    pub details: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    Veth,
    /// A bridge in its namespace.
    Contains,
    /// A sandbox in the namespace it joined.
    RunsIn,
    /// A VXLAN tunnel between its two ends' bridges (or namespaces).
    Tunnel,
}

#[derive(Debug, Clone)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    /// At the `from` end and at the `to` end: interface name and addresses.
    pub tail: Vec<String>,
    pub head: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Drawing {
    pub title: String,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// A line under the picture (where a failing recipe stopped).
    pub footer: Option<String>,
}

fn end_words(i: Option<&Interface>, name: &str) -> Vec<String> {
    let mut w = vec![name.to_string()];
    if let Some(i) = i {
        w.extend(i.addrs.iter().cloned());
    }
    w
}

fn sandbox_lines(s: &Sandbox) -> Vec<String> {
    let mut l = Vec::new();
    if let Some(p) = s.pid {
        l.push(format!("pid {p}"));
    }
    l.push(format!("kinds: {}", s.kinds.join(" ")));
    if let Some(h) = &s.hostname {
        l.push(format!("hostname {h}"));
    }
    if let Some(r) = &s.root {
        l.push(format!("root {r}"));
    }
    l.push(s.confinement.clone());
    if let Some(lim) = &s.limits {
        l.push(format!("limits {lim}"));
    }
    l
}

/// Routes, forwarding, NAT, user networking, and interfaces no veth edge shows.
fn namespace_lines(g: &Graph, n: &Namespace) -> Vec<String> {
    let mut l = Vec::new();
    for i in &n.interfaces {
        let on_edge = i.kind == "bridge"
            || g.tunnels
                .iter()
                .any(|t| t.end.ns == n.id && t.end.name == i.name)
            || g.veths.iter().any(|v| {
                [&v.a, &v.b]
                    .iter()
                    .any(|e| e.ns == n.id && e.name == i.name)
            });
        if !on_edge {
            let mut w = vec![format!("{} ({})", i.name, i.kind)];
            w.extend(i.addrs.iter().cloned());
            l.push(w.join(" "));
        }
    }
    for r in &n.routes {
        let mut w = vec![format!("route {}", r.dest)];
        if let Some(v) = &r.via {
            w.push(format!("via {v}"));
        }
        if let Some(d) = &r.dev {
            w.push(format!("dev {d}"));
        }
        l.push(w.join(" "));
    }
    for f in &n.forwarding {
        l.push(format!("{f} forwarding on"));
    }
    for nat in &n.nat {
        l.push(nat.summary.clone());
    }
    if let Some(u) = &n.usernet {
        l.push(u.clone());
    }
    if let Some(u) = &n.unreadable {
        l.push(u.clone());
    }
    l
}

fn interface_line(i: &Interface) -> String {
    let mut w = vec![
        format!("{} {}", i.name, i.kind),
        (if i.up { "up" } else { "down" }).to_string(),
    ];
    w.extend(i.addrs.iter().cloned());
    if let Some(m) = &i.master {
        w.push(format!("port of {m}"));
    }
    w.join(" ")
}

pub fn draw(g: &Graph) -> Drawing {
    let mut d = Drawing {
        title: format!("{} ({})", g.title, g.source),
        footer: g.stopped.clone(),
        ..Drawing::default()
    };
    let push = |d: &mut Drawing, kind, title: String, lines: Vec<String>| {
        let id = format!("n{}", d.nodes.len());
        d.nodes.push(Node {
            id,
            kind,
            title,
            details: lines.clone(),
            lines,
        });
        d.nodes.len() - 1
    };
    // Namespaces first, by id; then their bridges; then guests.
    let mut ns_node = std::collections::HashMap::new();
    for n in &g.namespaces {
        let mut lines = Vec::new();
        let (kind, title) = if n.id == HOST {
            (NodeKind::Host, "host".to_string())
        } else if let Some(s) = g.sandbox_owning(&n.id) {
            lines = sandbox_lines(s);
            (NodeKind::Sandbox, format!("sandbox {}", s.number))
        } else {
            let existing = if n.created { "" } else { " (existing)" };
            (NodeKind::Netns, format!("netns {}{existing}", n.label))
        };
        lines.extend(namespace_lines(g, n));
        let at = push(&mut d, kind, title, lines);
        d.nodes[at]
            .details
            .extend(n.interfaces.iter().map(interface_line));
        ns_node.insert(n.id.clone(), at);
    }
    let mut bridge_node = std::collections::HashMap::new();
    for n in &g.namespaces {
        for i in n.interfaces.iter().filter(|i| i.kind == "bridge") {
            let at = push(
                &mut d,
                NodeKind::Bridge,
                format!("bridge {}", i.name),
                i.addrs.clone(),
            );
            bridge_node.insert((n.id.clone(), i.name.clone()), at);
            d.edges.push(Edge {
                from: ns_node[&n.id],
                to: at,
                kind: EdgeKind::Contains,
                tail: Vec::new(),
                head: Vec::new(),
            });
        }
    }
    for s in &g.sandboxes {
        if g.sandbox_owning(&s.netns)
            .is_some_and(|o| o.number == s.number)
        {
            continue;
        }
        let at = push(
            &mut d,
            NodeKind::Guest,
            format!("sandbox {}", s.number),
            sandbox_lines(s),
        );
        if let Some(&to) = ns_node.get(&s.netns) {
            d.edges.push(Edge {
                from: at,
                to,
                kind: EdgeKind::RunsIn,
                tail: Vec::new(),
                head: Vec::new(),
            });
        }
    }
    let node_of = |e: &super::model::End| {
        let master = g.interface(e).and_then(|i| i.master.clone());
        master
            .and_then(|b| bridge_node.get(&(e.ns.clone(), b)).copied())
            .or_else(|| ns_node.get(&e.ns).copied())
    };
    for v in &g.veths {
        if let (Some(from), Some(to)) = (node_of(&v.a), node_of(&v.b)) {
            d.edges.push(Edge {
                from,
                to,
                kind: EdgeKind::Veth,
                tail: end_words(g.interface(&v.a), &v.a.name),
                head: end_words(g.interface(&v.b), &v.b.name),
            });
        }
    }
    tunnels(g, &mut d, &node_of);
    d
}

/// The words at a tunnel's end: its interface, the segment, the underlay port.
fn tunnel_words(t: &super::model::Tunnel) -> Vec<String> {
    vec![
        t.end.name.clone(),
        format!("vxlan id {} port {}", t.id, t.port),
    ]
}

/// An edge per tunnel: to the tunnel in the picture whose namespace has the remote
/// address (the same id), else to a node for the remote machine.
fn tunnels(g: &Graph, d: &mut Drawing, node_of: &dyn Fn(&super::model::End) -> Option<usize>) {
    let has_addr = |ns: &str, ip: &str| {
        g.namespace(ns).is_some_and(|n| {
            n.interfaces
                .iter()
                .any(|i| i.addrs.iter().any(|a| a.split('/').next() == Some(ip)))
        })
    };
    let mut drawn = vec![false; g.tunnels.len()];
    for (i, t) in g.tunnels.iter().enumerate() {
        if drawn[i] {
            continue;
        }
        drawn[i] = true;
        let Some(from) = node_of(&t.end) else {
            continue;
        };
        let peer = (0..g.tunnels.len()).find(|&j| {
            !drawn[j] && g.tunnels[j].id == t.id && has_addr(&g.tunnels[j].end.ns, &t.remote)
        });
        let (to, head) = match peer {
            Some(j) => {
                drawn[j] = true;
                match node_of(&g.tunnels[j].end) {
                    Some(n) => (n, tunnel_words(&g.tunnels[j])),
                    None => continue,
                }
            }
            None => {
                let id = format!("n{}", d.nodes.len());
                let lines = vec!["another machine".to_string()];
                d.nodes.push(Node {
                    id,
                    kind: NodeKind::Remote,
                    title: format!("remote {}", t.remote),
                    details: lines.clone(),
                    lines,
                });
                (d.nodes.len() - 1, Vec::new())
            }
        };
        d.edges.push(Edge {
            from,
            to,
            kind: EdgeKind::Tunnel,
            tail: tunnel_words(t),
            head,
        });
    }
}
