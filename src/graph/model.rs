//! The picture's model: what `nsr graph` draws, the same whether it comes from a plan
//! or from a live environment. `--format json` prints it as it is.

use serde::{Deserialize, Serialize};

/// A recipe's network and sandboxes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// The recipe's path, or the environment's name.
    pub title: String,
    /// "plan" (nothing was done) or "env" (read back from the kernel).
    pub source: String,
    pub namespaces: Vec<Namespace>,
    pub sandboxes: Vec<Sandbox>,
    pub veths: Vec<Veth>,
    /// VXLAN links, each one end of a tunnel (the other end may be on another machine).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tunnels: Vec<Tunnel>,
    /// Where a failing recipe stopped: the picture shows what was planned before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// A network namespace: the host's, a named one (/run/netns), or a sandbox's own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Namespace {
    /// `host`, `netns:NAME` or `sandbox:N` (N counts from 1, as `nsr enter` does).
    pub id: String,
    pub label: String,
    /// The run made it (a named netns it created, a sandbox's own); false for the host
    /// and a netns that existed before (`netns_open`), of which only what the recipe
    /// touches is shown.
    pub created: bool,
    /// Its interfaces (not `lo`), bridges included, in creation order.
    pub interfaces: Vec<Interface>,
    /// Routes the recipe added (not the kernel's own for a prefix on a link).
    pub routes: Vec<Route>,
    /// `ipv4`, `ipv6`: forwarding switched on.
    pub forwarding: Vec<String>,
    pub nat: Vec<Nat>,
    /// pasta or slirp4netns connecting it to the host's network, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usernet: Option<String>,
    /// Why a live picture could not look inside it (a rootless sandbox's namespace,
    /// seen by a user without its user namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    /// `veth`, `bridge`, or what the kernel calls it.
    pub kind: String,
    /// CIDRs, in the order they were added.
    pub addrs: Vec<String>,
    pub up: bool,
    /// The bridge it is a port of (in the same namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// A prefix, or `default`.
    pub dest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
}

/// What one NAT or forwarding primitive put in nsr's nft table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Nat {
    /// The primitive: `masquerade`, `forward`, `port_forward`, `drop_outbound`.
    pub kind: String,
    /// Its nft rules, in nft's words.
    pub rules: Vec<String>,
    /// In a picture: `masquerade 10.0.0.0/24 out wan0`, `port 8080 -> 10.0.0.2:80`.
    pub summary: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sandbox {
    /// 1, 2, ... in the order the recipe made them (`nsr enter ENV N`).
    pub number: usize,
    /// None in a plan (known only when it runs).
    pub pid: Option<i32>,
    /// The namespaces it has of its own.
    pub kinds: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Its root directory, when it chroots or pivots into one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// The namespace its network is: its own (`sandbox:N`), a named one, the host's.
    pub netns: String,
    /// How its commands are confined, in words.
    pub confinement: String,
    /// Its cgroup limits, in words; none asked for when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<String>,
}

/// One end of a veth pair.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct End {
    /// A namespace's id.
    pub ns: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Veth {
    pub a: End,
    pub b: End,
}

/// A VXLAN link: its interface, the segment it carries, the other endpoint's address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tunnel {
    pub end: End,
    pub id: u32,
    pub remote: String,
    pub port: u16,
}

impl Graph {
    /// Tunnels by where they are (a plan makes them in recipe order, the kernel lists
    /// them by namespace): one order for both.
    pub fn sort_tunnels(&mut self) {
        self.tunnels.sort_by(|a, b| a.end.cmp(&b.end));
    }

    pub fn namespace(&self, id: &str) -> Option<&Namespace> {
        self.namespaces.iter().find(|n| n.id == id)
    }

    pub fn interface(&self, end: &End) -> Option<&Interface> {
        self.namespace(&end.ns)?
            .interfaces
            .iter()
            .find(|i| i.name == end.name)
    }

    /// The sandbox whose own network namespace `ns` is.
    pub fn sandbox_owning(&self, ns: &str) -> Option<&Sandbox> {
        self.sandboxes
            .iter()
            .find(|s| s.netns == ns && ns == sandbox_ns(s.number))
    }
}

/// The id of sandbox `number`'s own network namespace.
pub fn sandbox_ns(number: usize) -> String {
    format!("sandbox:{number}")
}

pub fn named_ns(name: &str) -> String {
    format!("netns:{name}")
}

pub const HOST: &str = "host";

/// The words of a NAT rule's picture, from its nft rules (nsr's or as nft lists them).
pub fn nat_summary(kind: &str, rules: &[String]) -> String {
    let first = rules.first().map(String::as_str).unwrap_or("");
    let after = |key: &str| -> Option<String> {
        let words: Vec<&str> = first.split_whitespace().collect();
        let at = words.iter().position(|w| *w == key)?;
        Some(words.get(at + 1)?.trim_matches('"').to_string())
    };
    let or_q = |v: Option<String>| v.unwrap_or_else(|| "?".into());
    match kind {
        "masquerade" => format!(
            "masquerade {} out {}",
            or_q(after("saddr")),
            or_q(after("oifname"))
        ),
        "forward" => format!(
            "forward {} -> {}",
            or_q(after("iifname")),
            or_q(after("oifname"))
        ),
        "port_forward" => {
            let input = after("iifname")
                .map(|i| format!(" on {i}"))
                .unwrap_or_default();
            format!(
                "port {}{input} -> {}",
                or_q(after("dport")),
                or_q(after("to"))
            )
        }
        "drop_outbound" => "no outbound connections".into(),
        other => format!("{other}: {first}"),
    }
}

/// The NAT primitive a rule of nsr's table belongs to, by its chain.
pub fn nat_kind_of_chain(chain: &str) -> &'static str {
    match chain {
        "postrouting" => "masquerade",
        "forward" => "forward",
        "prerouting" | "output" => "port_forward",
        "outbound" => "drop_outbound",
        _ => "nft",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarizes_the_rules_nsr_writes() {
        let s = |k: &str, r: &str| nat_summary(k, &[r.to_string()]);
        assert_eq!(
            s(
                "masquerade",
                "ip saddr 172.16.99.0/24 oifname \"wan0\" masquerade"
            ),
            "masquerade 172.16.99.0/24 out wan0"
        );
        assert_eq!(
            s("forward", "iifname \"a\" oifname \"b\" counter accept"),
            "forward a -> b"
        );
        assert_eq!(
            s("port_forward", "tcp dport 8080 dnat ip to 172.16.99.100:80"),
            "port 8080 -> 172.16.99.100:80"
        );
        assert_eq!(
            s(
                "port_forward",
                "iifname \"eth0\" udp dport 53 dnat ip to 10.0.0.2:53"
            ),
            "port 53 on eth0 -> 10.0.0.2:53"
        );
    }
}
