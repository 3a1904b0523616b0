//! User-mode networking for a namespace through pasta (Debian package `passt`): what a
//! recipe asks for (port forwards from the host's loopback, host ports the sandbox may
//! reach, whether it may connect outward) and the pasta command line that says it.
//! Data only: `net::pasta` starts and stops the process.

use super::nat::Proto;
use super::shell::shell_quote;
use std::fmt;
use std::net::IpAddr;

/// One forward: connections to `bind:host` on the host land on `inside` in the namespace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortForward {
    pub proto: PastaProto,
    pub host: u16,
    pub inside: u16,
    /// The host address pasta listens on: 127.0.0.1 unless the recipe says otherwise,
    /// so that a forward never opens a port to the network by accident.
    pub bind: IpAddr,
}

/// `Proto`, serializable (the journal keeps the forwards for `nsr ls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PastaProto {
    Tcp,
    Udp,
}

impl From<Proto> for PastaProto {
    fn from(p: Proto) -> PastaProto {
        match p {
            Proto::Tcp => PastaProto::Tcp,
            Proto::Udp => PastaProto::Udp,
        }
    }
}

impl PastaProto {
    pub fn name(self) -> &'static str {
        match self {
            PastaProto::Tcp => "tcp",
            PastaProto::Udp => "udp",
        }
    }
}

impl fmt::Display for PortForward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bind = match self.bind {
            IpAddr::V6(a) => format!("[{a}]"),
            IpAddr::V4(a) => a.to_string(),
        };
        write!(
            f,
            "{bind}:{} -> {} ({})",
            self.host,
            self.inside,
            self.proto.name()
        )
    }
}

/// Which user-mode network program connects the namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UserNet {
    /// pasta, or slirp4netns when pasta is missing and slirp4netns is there.
    Pasta,
    Slirp4netns,
}

impl UserNet {
    pub fn program(self) -> &'static str {
        match self {
            UserNet::Pasta => "pasta",
            UserNet::Slirp4netns => "slirp4netns",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastaSpec {
    pub via: UserNet,
    pub ports: Vec<PortForward>,
    /// Ports of the host's loopback that the namespace reaches at its own 127.0.0.1
    /// (pasta's `-T`/`-U`); none unless asked.
    pub host_ports: Vec<(PastaProto, u16)>,
    /// Whether the namespace may open connections outward. When false nsr puts a rule
    /// in the namespace (before pasta starts) that drops every new outgoing packet
    /// but on loopback, so only forwarded connections (and their replies) pass.
    pub outbound: bool,
}

impl PastaSpec {
    /// Two forwards of the same host address, port and protocol: pasta could bind only
    /// one of them.
    pub fn duplicate(&self) -> Option<&PortForward> {
        self.ports.iter().enumerate().find_map(|(i, p)| {
            self.ports[..i]
                .iter()
                .any(|q| q.proto == p.proto && q.host == p.host && q.bind == p.bind)
                .then_some(p)
        })
    }

    /// pasta's options, without the namespace and pid-file ones: `--config-net` sets up
    /// the interface, addresses, routes; `--no-map-gw` keeps the gateway's address from
    /// reaching the host's own services (only `host_ports` do, at the namespace's
    /// loopback); nothing is forwarded but what the recipe lists (`none`, not pasta's
    /// default `auto`, which would follow whatever binds a port).
    pub fn options(&self) -> Vec<String> {
        let mut args: Vec<String> = vec!["--config-net".into(), "--no-map-gw".into()];
        for (flag, proto) in [("-t", PastaProto::Tcp), ("-u", PastaProto::Udp)] {
            let specs: Vec<String> = self
                .ports
                .iter()
                .filter(|p| p.proto == proto)
                .map(|p| format!("{}/{}:{}", p.bind, p.host, p.inside))
                .collect();
            if specs.is_empty() {
                args.extend([flag.to_string(), "none".into()]);
            }
            for s in specs {
                args.extend([flag.to_string(), s]);
            }
        }
        for (flag, proto) in [("-T", PastaProto::Tcp), ("-U", PastaProto::Udp)] {
            let ports: Vec<String> = self
                .host_ports
                .iter()
                .filter(|(p, _)| *p == proto)
                .map(|(_, n)| n.to_string())
                .collect();
            let spec = if ports.is_empty() {
                "none".to_string()
            } else {
                ports.join(",")
            };
            args.extend([flag.to_string(), spec]);
        }
        args
    }

    /// The whole command line as the plan's script (run as root) types it: `netns` is
    /// a path or a name in /run/netns. pasta keeps uid 0 (`--runas 0:0`) rather than its
    /// default of dropping to nobody, who could not enter a namespace root owns (nsr
    /// passes the same as root).
    pub fn command(&self, netns: &str, pidfile: &str) -> String {
        if self.via == UserNet::Slirp4netns {
            return self.slirp_command(netns, pidfile);
        }
        let mut words = vec!["pasta".to_string()];
        words.extend(self.options().iter().map(|a| shell_quote(a)));
        words.extend(["--runas", "0:0", "--netns", netns, "-P", pidfile].map(String::from));
        words.join(" ")
    }

    /// slirp4netns's options (`start` in net/slirp.rs passes the same), as a script:
    /// started in the background, its pid kept, each forward added over its API socket.
    fn slirp_command(&self, netns: &str, pidfile: &str) -> String {
        let api = pidfile.replace(".pid", ".sock");
        let mut s = format!(
            "slirp4netns {} --enable-sandbox --api-socket {api} --netns-type=path {netns} tap0 & echo $! > {pidfile}",
            SLIRP_OPTIONS.join(" ")
        );
        for p in &self.ports {
            let request = format!(
                "{{\"execute\": \"add_hostfwd\", \"arguments\": {{\"proto\": \"{}\", \"host_addr\": \"{}\", \"host_port\": {}, \"guest_port\": {}}}}}",
                p.proto.name(),
                p.bind,
                p.host,
                p.inside
            );
            s.push_str(&format!(
                " && echo {} | socat - UNIX-CONNECT:{api}",
                shell_quote(&request)
            ));
        }
        s
    }

    /// The forwards in words, for the journal and `nsr ls`.
    pub fn describe(&self) -> String {
        let ports: Vec<String> = self.ports.iter().map(|p| p.to_string()).collect();
        let tool = self.via.program();
        let mut s = if ports.is_empty() {
            format!("{tool} (no port forwards)")
        } else {
            format!("{tool} {}", ports.join(", "))
        };
        if !self.outbound {
            s.push_str(", no outbound");
        }
        s
    }
}

/// slirp4netns's options besides the readiness fd, the API socket and the namespace:
/// the interface configured, the largest MTU, no way to the host's loopback (pasta's
/// `host_ports` has no counterpart: it would open every port). As root it also gets
/// `--enable-sandbox` (its own mount namespace, capabilities dropped): started by an
/// ordinary user against a user namespace it joins, slirp4netns 1.2 fails with it
/// ("setegid(0)").
pub const SLIRP_OPTIONS: [&str; 3] = ["--configure", "--mtu=65520", "--disable-host-loopback"];

/// The pasta process a run started, as the journal knows it. `name` is its argv[0]
/// (`pasta [nsr-PID-TAG-N]`, unique to the run and the start), so that `nsr down` can
/// find it even when nsr was killed before it learnt the pid (`pid` 0); `start` is its
/// start time in clock ticks since boot, so that a pid the kernel gave to another
/// process since is never signalled.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PastaProcess {
    pub name: String,
    pub pid: i32,
    pub start: u64,
    pub ports: Vec<PortForward>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fwd(host: u16, inside: u16) -> PortForward {
        PortForward {
            proto: PastaProto::Tcp,
            host,
            inside,
            bind: "127.0.0.1".parse().unwrap(),
        }
    }

    #[test]
    fn forwards_only_what_is_listed_and_only_on_loopback() {
        let spec = PastaSpec {
            via: UserNet::Pasta,
            ports: vec![fwd(8080, 80)],
            host_ports: vec![(PastaProto::Tcp, 5432)],
            outbound: false,
        };
        let args = spec.options().join(" ");
        assert_eq!(
            args,
            "--config-net --no-map-gw -t 127.0.0.1/8080:80 -u none -T 5432 -U none"
        );
    }

    #[test]
    fn the_same_host_port_twice_is_found() {
        let mut spec = PastaSpec {
            via: UserNet::Pasta,
            ports: vec![fwd(8080, 80), fwd(8081, 80)],
            host_ports: vec![],
            outbound: true,
        };
        assert_eq!(spec.duplicate(), None);
        spec.ports.push(fwd(8080, 81));
        assert_eq!(spec.duplicate(), Some(&fwd(8080, 81)));
    }
}
