//! NAT and forwarding rules as data: the nft rules each is made of (in nsr's own
//! table, see `net::nft`) and the iptables command the tutorial writes for it.

use super::cidr::IpCidr;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatRule {
    /// `iptables -t nat -A POSTROUTING -s SOURCE -o OUT -j MASQUERADE`
    Masquerade { source: IpCidr, out: String },
    /// `iptables -A FORWARD -i IN -o OUT -j ACCEPT`
    Forward { input: String, out: String },
    /// `iptables -t nat -A PREROUTING [-i IN] -p tcp --dport PORT -j DNAT --to TO:TO_PORT`
    PortForward {
        proto: Proto,
        port: u16,
        to: IpAddr,
        to_port: u16,
        input: Option<String>,
    },
    /// Drop every new packet the namespace sends but on loopback: a sandbox behind pasta
    /// that serves its forwarded ports and cannot connect anywhere.
    /// `iptables -A OUTPUT ! -o lo -m conntrack ! --ctstate ESTABLISHED,RELATED -j DROP`
    DropOutbound,
}

/// One nft rule: the chain of nsr's table it goes in, how that chain hooks in, the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLine {
    pub chain: &'static str,
    pub base: BaseChain,
    pub text: String,
}

/// A base chain of nsr's table: where it hooks into the kernel's packet path, as
/// numbers for nfnetlink and as nft writes it (`spec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaseChain {
    pub name: &'static str,
    /// The chain type: "nat" or "filter".
    pub kind: &'static str,
    /// The netfilter hook (NF_INET_PRE_ROUTING 0, FORWARD 2, LOCAL_OUT 3, POST_ROUTING 4).
    pub hooknum: u32,
    pub priority: i32,
    pub spec: &'static str,
}

const POSTROUTING: BaseChain = BaseChain {
    name: "postrouting",
    kind: "nat",
    hooknum: 4,
    priority: 100,
    spec: "type nat hook postrouting priority srcnat; policy accept;",
};
const FORWARD: BaseChain = BaseChain {
    name: "forward",
    kind: "filter",
    hooknum: 2,
    priority: 0,
    spec: "type filter hook forward priority filter; policy accept;",
};
const PREROUTING: BaseChain = BaseChain {
    name: "prerouting",
    kind: "nat",
    hooknum: 0,
    priority: -100,
    spec: "type nat hook prerouting priority dstnat; policy accept;",
};
const OUTBOUND: BaseChain = BaseChain {
    name: "outbound",
    kind: "filter",
    hooknum: 3,
    priority: 0,
    spec: "type filter hook output priority filter; policy accept;",
};
const OUTPUT: BaseChain = BaseChain {
    name: "output",
    kind: "nat",
    hooknum: 3,
    priority: -100,
    spec: "type nat hook output priority -100; policy accept;",
};

fn line(base: BaseChain, text: String) -> RuleLine {
    RuleLine {
        chain: base.name,
        base,
        text,
    }
}

impl NatRule {
    /// The nft rules that make it. A port forward without `iface` also catches
    /// connections the namespace makes to its own addresses, as `docker run -p` does.
    pub fn lines(&self) -> Vec<RuleLine> {
        match self {
            NatRule::Masquerade { source, out } => vec![line(
                POSTROUTING,
                format!(
                    "{} saddr {} oifname {} masquerade",
                    family_word(source.is_v6()),
                    source.network(),
                    quoted(out)
                ),
            )],
            NatRule::Forward { input, out } => vec![line(
                FORWARD,
                format!(
                    "iifname {} oifname {} counter accept",
                    quoted(input),
                    quoted(out)
                ),
            )],
            NatRule::PortForward {
                proto,
                port,
                to,
                to_port,
                input,
            } => {
                let target = if to.is_ipv6() {
                    format!("[{to}]:{to_port}")
                } else {
                    format!("{to}:{to_port}")
                };
                let dnat = format!(
                    "{} dport {port} dnat {} to {target}",
                    proto.name(),
                    family_word(to.is_ipv6())
                );
                match input {
                    Some(i) => vec![line(PREROUTING, format!("iifname {} {dnat}", quoted(i)))],
                    None => vec![
                        line(PREROUTING, dnat.clone()),
                        line(OUTPUT, format!("fib daddr type local {dnat}")),
                    ],
                }
            }
            NatRule::DropOutbound => vec![line(
                OUTBOUND,
                "oifname != \"lo\" ct state != { established, related } counter drop".into(),
            )],
        }
    }

    /// The rules in nft's words, on one line.
    pub fn text(&self) -> String {
        self.lines()
            .iter()
            .map(|l| l.text.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The same rule as the tutorial writes it with iptables.
    pub fn iptables(&self) -> String {
        match self {
            NatRule::Masquerade { source, out } => format!(
                "{} -t nat -A POSTROUTING -s {} -o {out} -j MASQUERADE",
                iptables_cmd(source.is_v6()),
                source.network()
            ),
            NatRule::Forward { input, out } => {
                format!("iptables -A FORWARD -i {input} -o {out} -j ACCEPT")
            }
            NatRule::PortForward {
                proto,
                port,
                to,
                to_port,
                input,
            } => format!(
                "{} -t nat -A PREROUTING{} -p {} --dport {port} -j DNAT --to-destination {}",
                iptables_cmd(to.is_ipv6()),
                input
                    .as_ref()
                    .map(|i| format!(" -i {i}"))
                    .unwrap_or_default(),
                proto.name(),
                if to.is_ipv6() {
                    format!("[{to}]:{to_port}")
                } else {
                    format!("{to}:{to_port}")
                }
            ),
            NatRule::DropOutbound => "iptables -A OUTPUT ! -o lo -m conntrack ! --ctstate ESTABLISHED,RELATED -j DROP && ip6tables -A OUTPUT ! -o lo -m conntrack ! --ctstate ESTABLISHED,RELATED -j DROP".into(),
        }
    }
}

fn iptables_cmd(v6: bool) -> &'static str {
    if v6 {
        "ip6tables"
    } else {
        "iptables"
    }
}

fn family_word(v6: bool) -> &'static str {
    if v6 {
        "ip6"
    } else {
        "ip"
    }
}

/// Interface names are checked (no quotes possible); nft wants them quoted.
fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}
