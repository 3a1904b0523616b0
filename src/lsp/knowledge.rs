//! What the server knows about the language before it reads a line: the primitives and
//! their documentation (from the engine, as `nsr doc` prints them), the types of value
//! they return, the tutorial command each stands for, Rhai's own functions, and the
//! standard library's modules.

use crate::engine::check::stdlib_names;
use crate::engine::PrimitiveDoc;

/// The types of nsr's values a recipe holds, as Rhai's `type_of` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Sandbox,
    Netns,
    HostNet,
    Link,
    VethPair,
}

impl Ty {
    pub fn name(self) -> &'static str {
        match self {
            Ty::Sandbox => "Sandbox",
            Ty::Netns => "Netns",
            Ty::HostNet => "HostNet",
            Ty::Link => "Link",
            Ty::VethPair => "VethPair",
        }
    }

    /// The type `name(...)` returns, called on `receiver` (None: as a function).
    pub fn returned_by(name: &str, receiver: Option<Ty>) -> Option<Ty> {
        Some(match (name, receiver) {
            ("unshare", None) => Ty::Sandbox,
            ("netns" | "netns_open", None) => Ty::Netns,
            ("host", None) => Ty::HostNet,
            ("link" | "bridge" | "vxlan", _) => Ty::Link,
            ("veth", Some(Ty::Link)) => return None,
            ("veth", _) => Ty::VethPair,
            ("up" | "down" | "addr" | "mtu" | "move_to" | "attach" | "detach", Some(Ty::Link)) => {
                Ty::Link
            }
            _ => return None,
        })
    }

    /// The properties a value of this type has (`box.pid`), with their types.
    pub fn properties(self) -> &'static [(&'static str, &'static str, Option<Ty>)] {
        match self {
            Ty::Sandbox => &[
                ("pid", "the holder's process id", None),
                ("kinds", "the namespace kinds it made", None),
            ],
            Ty::Netns => &[
                ("name", "its name", None),
                ("path", "/run/netns/NAME", None),
            ],
            Ty::Link => &[("name", "the interface name", None)],
            Ty::VethPair => &[
                ("host", "the end made first", Some(Ty::Link)),
                ("peer", "the peer end", Some(Ty::Link)),
            ],
            Ty::HostNet => &[],
        }
    }
}

/// The tutorial's command a primitive stands for (shown on hover).
pub fn tutorial(name: &str) -> Option<&'static str> {
    Some(match name {
        "unshare" => "unshare --mount --uts --ipc --net --pid --fork --mount-proc sh",
        "hostname" => "hostname NAME",
        "mount" => "mount -t FSTYPE SOURCE TARGET",
        "chroot" => "chroot PATH",
        "pivot_root" => "pivot_root NEW_ROOT PUT_OLD && umount -l PUT_OLD",
        "run" | "exec" => "nsenter --target PID --all COMMAND",
        "namespaces" => "ls -l /proc/PID/ns",
        "mountinfo" => "cat /proc/PID/mountinfo",
        "netns" => "ip netns add NAME",
        "netns_open" => "ip netns exec NAME ...",
        "host" => "(the host's network namespace: ip commands without netns exec)",
        "link" => "ip link show NAME",
        "veth" => "ip link add NAME type veth peer name PEER",
        "bridge" => "ip link add NAME type bridge",
        "vxlan" => "ip link add NAME type vxlan id ID remote ADDR dstport 4789 dev DEV",
        "addr" => "ip addr add CIDR dev DEV",
        "up" => "ip link set DEV up",
        "down" => "ip link set DEV down",
        "mtu" => "ip link set DEV mtu N",
        "move_to" => "ip link set DEV netns NS",
        "attach" => "ip link set DEV master BRIDGE",
        "detach" => "ip link set DEV nomaster",
        "route" => "ip route add DEST via GATEWAY",
        "links" => "ip link show",
        "addrs" => "ip addr show",
        "routes" => "ip route show",
        "ip_forward" => "sysctl -w net.ipv4.ip_forward=1",
        "ip6_forward" => "sysctl -w net.ipv6.conf.all.forwarding=1",
        "masquerade" => "iptables -t nat -A POSTROUTING -s SOURCE -o OUT -j MASQUERADE",
        "forward" => "iptables -A FORWARD -i IN -o OUT -j ACCEPT",
        "port_forward" => {
            "iptables -t nat -A PREROUTING -p tcp --dport PORT -j DNAT --to-destination TO:TO_PORT"
        }
        "pasta" => "pasta --config-net -t PORT --netns /proc/PID/ns/net",
        "cidr_host" | "ip_of" => "(address arithmetic you would do by hand)",
        "make_dir" => "mkdir -p PATH",
        "rootfs_from_tar" => "mkdir DIR && tar -xf ARCHIVE -C DIR",
        "rootfs_from_image" => "docker save IMAGE | tar -x, then each layer's tar -x in order",
        "rootfs_cache" => "tar -xf ARCHIVE -C ~/.cache/... (once, by its SHA-256)",
        "overlay_root" => "mount -t overlay overlay -o lowerdir=LOWER,upperdir=U,workdir=W DIR",
        "limits" => "echo 256M > /sys/fs/cgroup/memory/GROUP/memory.limit_in_bytes",
        "usage" => "cat /sys/fs/cgroup/memory/GROUP/memory.usage_in_bytes",
        _ => return None,
    })
}

/// One overload of a primitive.
pub struct Primitive {
    pub name: &'static str,
    /// Parameters as `name: Type`; a method's first is its receiver.
    pub params: &'static [&'static str],
    pub doc: &'static str,
    pub method: bool,
}

impl Primitive {
    /// The parameters a call writes: a method's without its receiver.
    pub fn call_params(&self, as_method: bool) -> &'static [&'static str] {
        if as_method && self.method {
            &self.params[1..]
        } else {
            self.params
        }
    }

    /// `mount(source: String, target: String, fstype: String)` as the call reads.
    pub fn signature(&self, as_method: bool) -> String {
        let receiver = match (as_method, self.method) {
            (true, true) => format!("{}.", receiver_name(self.params[0])),
            _ => String::new(),
        };
        format!(
            "{receiver}{}({})",
            self.name,
            self.call_params(as_method).join(", ")
        )
    }

    /// Can it be called on a value of type `ty`?
    pub fn takes(&self, ty: Ty) -> bool {
        self.method
            && self.params[0]
                .split(':')
                .nth(1)
                .is_some_and(|t| t.split('|').any(|t| t.trim() == ty.name()))
    }
}

fn receiver_name(param: &str) -> &str {
    param.split(':').next().unwrap_or(param).trim()
}

pub struct Knowledge {
    pub primitives: Vec<Primitive>,
    /// Rhai's standard library functions (`len`, `push`, `contains`).
    pub rhai: Vec<String>,
}

impl Knowledge {
    pub fn new(docs: &[PrimitiveDoc]) -> Knowledge {
        Knowledge {
            primitives: docs
                .iter()
                .map(|d| Primitive {
                    name: d.name,
                    params: d.params,
                    doc: d.doc,
                    method: d.is_method(),
                })
                .collect(),
            rhai: stdlib_names(),
        }
    }

    pub fn overloads<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Primitive> + 'a {
        self.primitives.iter().filter(move |p| p.name == name)
    }

    pub fn is_primitive(&self, name: &str) -> bool {
        self.overloads(name).next().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::recording::RecordingBackend;
    use crate::engine::{limits::Limits, run, Recipe, RunOptions};
    use crate::signals::Signals;

    fn knowledge() -> Knowledge {
        Knowledge::new(crate::engine::Checker::new().primitives())
    }

    #[test]
    fn every_primitive_has_a_tutorial_command() {
        for p in knowledge().primitives {
            assert!(
                tutorial(p.name).is_some(),
                "no tutorial command for {}",
                p.name
            );
        }
    }

    /// The return types the outline infers are the ones the engine gives.
    #[test]
    fn return_types_are_the_engines() {
        let cases = [
            (
                "unshare([\"net\"])",
                "Sandbox",
                Ty::returned_by("unshare", None),
            ),
            ("netns(\"a\")", "Netns", Ty::returned_by("netns", None)),
            ("host()", "HostNet", Ty::returned_by("host", None)),
            (
                "host().link(\"lo\")",
                "Link",
                Ty::returned_by("link", Some(Ty::HostNet)),
            ),
            ("bridge(\"br0\")", "Link", Ty::returned_by("bridge", None)),
            (
                "veth(\"a\", \"b\")",
                "VethPair",
                Ty::returned_by("veth", None),
            ),
            (
                "veth(\"a\", \"b\").host.up()",
                "Link",
                Ty::returned_by("up", Some(Ty::Link)),
            ),
            (
                "link(\"lo\").mtu(1400)",
                "Link",
                Ty::returned_by("mtu", Some(Ty::Link)),
            ),
        ];
        for (expr, name, ty) in cases {
            assert_eq!(ty.map(Ty::name), Some(name), "{expr}");
            let recipe = Recipe {
                path: "t.nsr".into(),
                source: format!(
                    "let t = type_of({expr}); if t != \"{name}\" {{ throw `{expr} is ${{t}}`; }}"
                ),
                ..Default::default()
            };
            let outcome = run(
                &recipe,
                Box::new(RecordingBackend::default()),
                &Limits::default(),
                &Signals::none(),
                RunOptions::default(),
            );
            assert!(outcome.result.is_ok(), "{expr}: {:?}", outcome.result.err());
        }
    }

    #[test]
    fn methods_by_receiver() {
        let k = knowledge();
        let on = |ty: Ty| -> Vec<&str> {
            k.primitives
                .iter()
                .filter(|p| p.takes(ty))
                .map(|p| p.name)
                .collect()
        };
        assert!(on(Ty::Sandbox).contains(&"mount"));
        assert!(on(Ty::Sandbox).contains(&"addr"));
        assert!(on(Ty::Netns).contains(&"veth"));
        assert!(!on(Ty::Netns).contains(&"mount"));
        assert!(on(Ty::Link).contains(&"attach"));
        assert!(on(Ty::HostNet).contains(&"masquerade"));
        let mount = k.overloads("mount").next().unwrap();
        assert_eq!(
            mount.signature(true),
            "sandbox.mount(source: String, target: String, fstype: String)"
        );
    }
}
