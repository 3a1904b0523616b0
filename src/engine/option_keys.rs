//! The keys each primitive's option map takes, with the kind of value each wants: what
//! the converters accept (unshare, run, exec and mount check their maps against it), what
//! the language server completes inside `#{ }` and what `nsr check` names when a key is
//! wrong. A test holds it to the converters that keep lists of their own (route,
//! port_forward, addr) and to the confinement, pasta, limit and rlimit lists.

use super::{cgroup_options, confine_options, pasta_options};

/// One key of an option map and the value it wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionKey {
    pub name: &'static str,
    pub value: &'static str,
}

const fn k(name: &'static str, value: &'static str) -> OptionKey {
    OptionKey { name, value }
}

const JOIN: &str = "a namespace to join: \"/proc/PID/ns/KIND\", a path, a pid or a sandbox";

const SANDBOX: &[OptionKey] = &[
    k(
        "kinds",
        "[\"mount\", \"uts\", \"ipc\", \"net\", \"pid\", \"user\", \"cgroup\", \"time\"]",
    ),
    k(
        "limits",
        "#{ memory, memory_swap, pids, cpu, cpu_weight, io }: its cgroups",
    ),
    k(
        "monotonic",
        "seconds the time namespace's monotonic clock is offset",
    ),
    k(
        "boottime",
        "seconds the time namespace's boot clock is offset",
    ),
    k("map_root", "true: you are root inside its user namespace"),
    k("uid_map", "[[inside, outside, count], ...]"),
    k("gid_map", "[[inside, outside, count], ...]"),
    k("propagation", "\"private\" | \"slave\" | \"unchanged\""),
    k(
        "join",
        "#{ KIND: path | pid | sandbox }: namespaces to join",
    ),
    k("mount", JOIN),
    k("uts", JOIN),
    k("ipc", JOIN),
    k(
        "net",
        "\"pasta\" | \"slirp4netns\" | a netns | \"/run/netns/NAME\" | pid",
    ),
    k("pid", JOIN),
    k("user", JOIN),
    k("cgroup", JOIN),
    k("time", JOIN),
];

const CONFINE: &[OptionKey] = &[
    k("privileged", "true: no confinement at all"),
    k(
        "caps",
        "[\"NET_ADMIN\", ...] | \"all\": the capabilities kept",
    ),
    k(
        "seccomp",
        "\"default\" | \"none\" | #{ allow, deny, default }",
    ),
    k("no_new_privs", "bool"),
    k("rlimits", "#{ nofile, nproc, as, ... }: resource limits"),
    k("run_as", "\"UID:GID\" | #{ uid, gid, groups }"),
    k("landlock", "#{ read, write, exec }: paths"),
    k("devices", "\"all\" | [\"c 10:200\", ...]"),
];

const PASTA: &[OptionKey] = &[
    k(
        "ports",
        "[#{ host: 8080, inside: 80, proto, bind } | 8080]: forwards from the host",
    ),
    k("outbound", "false: drop every new outgoing connection"),
    k("host_ports", "[5432]: host loopback ports reachable inside"),
];

const MOUNT: &[OptionKey] = &[
    k("readonly", "bool"),
    k("nosuid", "bool"),
    k("nodev", "bool"),
    k("noexec", "bool"),
    k("data", "\"size=64m\": filesystem options"),
    k("lower", "overlay lower directories: a path or [paths]"),
    k("upper", "overlay upper directory"),
    k("work", "overlay work directory"),
    k("recursive", "bool: a recursive bind"),
];

const RUN: &[OptionKey] = &[
    k("env", "#{ NAME: value }"),
    k("cwd", "the working directory inside"),
    k("stdin", "text given on standard input"),
    k("check", "true: throw when the command fails"),
];

const ROUTE: &[OptionKey] = &[
    k("via", "the gateway's address"),
    k("dev", "the interface"),
    k("metric", "an integer"),
    k("v6", "true: an IPv6 default route"),
];

const PORT_FORWARD: &[OptionKey] = &[
    k("port", "the port connections arrive on"),
    k("to", "the sandbox's address"),
    k("to_port", "the port there (default: port)"),
    k("proto", "\"tcp\" | \"udp\""),
    k("iface", "the interface they arrive on"),
];

const VXLAN: &[OptionKey] = &[
    k(
        "id",
        "the segment's number (VNI, 0 to 16777215), the same at both ends",
    ),
    k("remote", "the other endpoint's underlay address"),
    k("local", "this endpoint's underlay address"),
    k("dev", "the underlay link the packets leave by"),
    k("port", "UDP port (default 4789)"),
    k(
        "ns",
        "where the link goes (a netns or sandbox; the plain vxlan() only)",
    ),
];

const ADDR: &[OptionKey] = &[k("nodad", "true: no duplicate address detection")];

const EXTRACT: &[OptionKey] = &[
    k("strict", "true: unsafe names and device nodes are errors"),
    k("progress", "false: no progress line"),
];

const IMAGE: &[OptionKey] = &[
    k("tag", "\"name:tag\" when the archive holds several images"),
    k("strict", "true: unsafe names and device nodes are errors"),
    k("progress", "false: no progress line"),
];

const LIMITS: &[OptionKey] = &[
    k("memory", "\"256M\": memory.max"),
    k("memory_swap", "\"0\": swap allowed"),
    k("pids", "an integer: processes at most"),
    k("cpu", "0.5: cores"),
    k("cpu_weight", "1 to 10000"),
    k(
        "io",
        "#{ \"/dev/vda\": #{ read_bps, write_bps, read_iops, write_iops } }",
    ),
];

const RLIMIT_VALUE: &str = "a number, \"unlimited\" or [soft, hard]";

const RLIMITS: &[OptionKey] = &[
    k("nofile", RLIMIT_VALUE),
    k("nproc", RLIMIT_VALUE),
    k("as", RLIMIT_VALUE),
    k("core", RLIMIT_VALUE),
    k("fsize", RLIMIT_VALUE),
    k("stack", RLIMIT_VALUE),
    k("cpu", RLIMIT_VALUE),
    k("memlock", RLIMIT_VALUE),
];

const SECCOMP: &[OptionKey] = &[
    k("allow", "[syscall names] allowed beside the default"),
    k("deny", "[syscall names] refused beside the default"),
    k(
        "default",
        "\"default\" | \"none\": the filter to start from",
    ),
];

const RUN_AS: &[OptionKey] = &[
    k("uid", "an integer"),
    k("gid", "an integer"),
    k("groups", "[gids]"),
];

const LANDLOCK: &[OptionKey] = &[
    k("read", "[paths] readable"),
    k("write", "[paths] writable"),
    k("exec", "[paths] executable"),
];

const IO: &[OptionKey] = &[
    k("read_bps", "\"20M\": bytes per second"),
    k("write_bps", "\"10M\": bytes per second"),
    k("read_iops", "an integer"),
    k("write_iops", "an integer"),
];

/// The keys of the option map given to primitive `name`, or None when it takes none.
pub fn of_primitive(name: &str) -> Option<Vec<OptionKey>> {
    let parts: &[&[OptionKey]] = match name {
        "unshare" => &[SANDBOX, CONFINE, PASTA],
        "run" | "exec" => &[RUN, CONFINE],
        "mount" => &[MOUNT],
        "route" => &[ROUTE],
        "port_forward" => &[PORT_FORWARD],
        "vxlan" => &[VXLAN],
        "addr" => &[ADDR],
        "pasta" => &[PASTA],
        "limits" => &[LIMITS],
        "rootfs_from_tar" | "rootfs_cache" => &[EXTRACT],
        "rootfs_from_image" => &[IMAGE],
        _ => return None,
    };
    Some(parts.iter().flat_map(|p| p.iter().copied()).collect())
}

/// The key names of `of_primitive(name)`, in order: what the converters accept.
pub fn names(primitive: &str) -> Vec<&'static str> {
    of_primitive(primitive)
        .unwrap_or_default()
        .iter()
        .map(|k| k.name)
        .collect()
}

/// The keys of a map given as the value of `key` in an option map (`limits: #{ }`).
pub fn of_nested(key: &str) -> Option<&'static [OptionKey]> {
    Some(match key {
        "limits" => LIMITS,
        "rlimits" => RLIMITS,
        "seccomp" => SECCOMP,
        "run_as" => RUN_AS,
        "landlock" => LANDLOCK,
        _ => return None,
    })
}

/// The keys of one device's map under `limits: #{ io: #{ DEVICE: #{ } } }`.
pub fn io_keys() -> &'static [OptionKey] {
    IO
}

/// The names the converters check against, in the engine's own lists.
pub fn engine_lists() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("confine", confine_options::KEYS.to_vec()),
        ("pasta", pasta_options::KEYS.to_vec()),
        ("limits", cgroup_options::KEYS.to_vec()),
        (
            "rlimits",
            crate::confine::RLIMITS.iter().map(|(n, _)| *n).collect(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhai::{Dynamic, Map};

    fn names(keys: &[OptionKey]) -> Vec<&'static str> {
        keys.iter().map(|k| k.name).collect()
    }

    /// The "(known: a, b)" list of the error for an unknown key.
    fn known_in(error: String) -> Vec<String> {
        let list = error
            .rsplit_once("(known: ")
            .map(|(_, l)| l.trim_end_matches(')').to_string())
            .unwrap_or_else(|| panic!("no known list in {error:?}"));
        list.split(", ").map(str::to_string).collect()
    }

    fn bogus() -> Map {
        let mut m = Map::new();
        m.insert("zzz_not_a_key".into(), Dynamic::TRUE);
        m
    }

    #[test]
    fn the_catalog_names_what_the_converters_accept() {
        use super::super::convert;
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        let of = |name: &str| {
            let mut v: Vec<String> = names(&of_primitive(name).unwrap())
                .iter()
                .map(|s| s.to_string())
                .collect();
            v.sort();
            v
        };
        let m = bogus();
        let unshare = convert::sandbox_spec(&m).unwrap_err();
        assert_eq!(sorted(known_in(unshare)), of("unshare"));
        let run = convert::run_spec(&Dynamic::from("true"), &m).unwrap_err();
        assert_eq!(sorted(known_in(run)), of("run"));
        let mount = convert::mount_spec("a", "/b", "tmpfs", &m).unwrap_err();
        assert_eq!(sorted(known_in(mount)), of("mount"));
        let route = convert::route_spec("default", &m).unwrap_err();
        assert_eq!(sorted(known_in(route)), of("route"));
        let pf = convert::port_forward_rule(&m).unwrap_err();
        assert_eq!(sorted(known_in(pf)), of("port_forward"));
        let vxlan = convert::vxlan_spec(&m).unwrap_err();
        assert_eq!(sorted(known_in(vxlan)), of("vxlan"));
        let addr = convert::addr_nodad(&m).unwrap_err();
        assert_eq!(sorted(known_in(addr)), of("addr"));
        for (list, engine) in engine_lists() {
            let catalog = match list {
                "confine" => names(CONFINE),
                "pasta" => names(PASTA),
                "limits" => names(LIMITS),
                _ => names(RLIMITS),
            };
            assert_eq!(catalog, engine, "{list}");
        }
    }
}
