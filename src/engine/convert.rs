//! Turning recipe values into typed specs, with errors that name the offending key.

use super::confine_options;
use super::option_keys;
use super::read::{array, boolean, string, type_name};
use crate::ns::idmap;
use crate::ops::cidr::parse_ip;
use crate::ops::kinds::{known_kinds_list, NsKind};
use crate::ops::mount::{MountFlagChoices, MountSpec};
use crate::ops::names::check_ifname;
use crate::ops::nat::{NatRule, Proto};
use crate::ops::route::RouteSpec;
use crate::ops::run::RunSpec;
use crate::ops::sandbox::{IdRange, JoinTarget, Propagation, SandboxSpec};
use rhai::{Array, Dynamic, Map};
use std::collections::BTreeMap;

type Res<T> = Result<T, String>;

fn u32_of(d: &Dynamic, what: &str) -> Res<u32> {
    let n = d
        .as_int()
        .map_err(|_| format!("{what} must be an integer, not {}", type_name(d)))?;
    u32::try_from(n).map_err(|_| format!("{what} must be between 0 and {}, not {n}", u32::MAX))
}

fn check_keys(map: &Map, known: &[&str], primitive: &str) -> Res<()> {
    for key in map.keys() {
        if !known.contains(&key.as_str()) {
            return Err(format!(
                "unknown option '{key}' for {primitive} (known: {})",
                known.join(", ")
            ));
        }
    }
    Ok(())
}

pub fn kinds(list: &Array) -> Res<Vec<NsKind>> {
    list.iter()
        .map(|d| {
            let s = string(d, "a namespace kind")?;
            NsKind::parse(&s).ok_or_else(|| {
                format!(
                    "unknown namespace kind '{s}' (known: {})",
                    known_kinds_list()
                )
            })
        })
        .collect()
}

fn join_target(d: &Dynamic, kind: NsKind) -> Res<JoinTarget> {
    if let Ok(pid) = d.as_int() {
        let pid = i32::try_from(pid)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{kind}: pid {pid} is not a process id"))?;
        return Ok(JoinTarget::Pid(pid));
    }
    if let Some(sb) = d.clone().try_cast::<super::values::Sandbox>() {
        return Ok(JoinTarget::Pid(sb.pid as i32));
    }
    if let Some(net) = d.clone().try_cast::<super::net_values::Netns>() {
        if kind != NsKind::Net {
            return Err(format!(
                "{kind}: {} is a network namespace; give it as net:",
                net.describe()
            ));
        }
        return Ok(JoinTarget::Path(crate::net::netns::path_of(&net.name)));
    }
    let path = string(d, &format!("the {kind} namespace to join"))
        .map_err(|e| format!("{e} (a path such as /run/netns/NAME, or a pid)"))?;
    if path.is_empty() {
        return Err(format!("the {kind} namespace path is empty"));
    }
    Ok(JoinTarget::Path(path))
}

fn id_map(d: &Dynamic, what: &str) -> Res<Vec<IdRange>> {
    array(d, what)?
        .iter()
        .map(|line| {
            let parts = array(line, &format!("each line of {what}"))
                .map_err(|e| format!("{e}: write [inside, outside, count]"))?;
            if parts.len() != 3 {
                return Err(format!(
                    "each line of {what} is [inside, outside, count], not {} numbers",
                    parts.len()
                ));
            }
            Ok(IdRange {
                inside: u32_of(&parts[0], "inside id")?,
                outside: u32_of(&parts[1], "outside id")?,
                count: u32_of(&parts[2], "count")?,
            })
        })
        .collect()
}

/// `unshare(["mount", "pid"])` or `unshare(#{ kinds: [...], net: "/run/netns/x", map_root: true })`.
pub fn sandbox_spec(opts: &Map) -> Res<SandboxSpec> {
    check_keys(opts, &option_keys::names("unshare"), "unshare")?;
    let mut create = match opts.get("kinds") {
        Some(k) => kinds(&array(k, "kinds")?)?,
        None => Vec::new(),
    };
    // net: "pasta" is a new network namespace that pasta connects, not one to join.
    let pasta = super::pasta_options::wants_pasta(opts);
    if pasta && !create.contains(&NsKind::Net) {
        create.push(NsKind::Net);
    }
    let mut join = BTreeMap::new();
    for (key, value) in opts {
        if pasta && key == "net" {
            continue;
        }
        if let Some(kind) = NsKind::parse(key) {
            join.insert(kind, join_target(value, kind)?);
        }
    }
    if let Some(j) = opts.get("join") {
        let m = j
            .clone()
            .try_cast::<Map>()
            .ok_or("join must be a map of kind to path or pid")?;
        for (key, value) in &m {
            let kind = NsKind::parse(key).ok_or_else(|| {
                format!(
                    "join: unknown namespace kind '{key}' (known: {})",
                    known_kinds_list()
                )
            })?;
            if join.insert(kind, join_target(value, kind)?).is_some() {
                return Err(format!("the {kind} namespace to join is given twice"));
            }
        }
    }
    let map_root = match opts.get("map_root") {
        Some(v) => boolean(v, "map_root")?,
        None => false,
    };
    let mut uid_map = opts
        .get("uid_map")
        .map(|d| id_map(d, "uid_map"))
        .transpose()?
        .unwrap_or_default();
    let mut gid_map = opts
        .get("gid_map")
        .map(|d| id_map(d, "gid_map"))
        .transpose()?
        .unwrap_or_default();
    if map_root {
        if !uid_map.is_empty() || !gid_map.is_empty() {
            return Err("map_root and explicit uid_map/gid_map exclude each other".into());
        }
        (uid_map, gid_map) = idmap::root_maps();
    }
    let propagation = match opts.get("propagation") {
        None => Propagation::Private,
        Some(p) => match string(p, "propagation")?.as_str() {
            "private" => Propagation::Private,
            "slave" => Propagation::Slave,
            "unchanged" => Propagation::Unchanged,
            other => {
                return Err(format!(
                    "propagation '{other}' is not one of private, slave, unchanged"
                ))
            }
        },
    };
    if create.is_empty() && join.is_empty() {
        return Err(format!(
            "no namespace kinds given: list some of {}",
            known_kinds_list()
        ));
    }
    let mut time_offsets = crate::ops::sandbox::TimeOffsets::default();
    for (key, slot) in [
        ("monotonic", &mut time_offsets.monotonic),
        ("boottime", &mut time_offsets.boottime),
    ] {
        if let Some(v) = opts.get(key) {
            *slot = v.as_int().map_err(|_| {
                format!("{key} is a whole number of seconds, not {}", v.type_name())
            })?;
        }
    }
    let spec = SandboxSpec {
        create,
        join,
        uid_map,
        gid_map,
        propagation,
        time_offsets,
        // Without options a sandbox is confined; `privileged: true` turns it off.
        confine: confine_options::confine_options(opts)?
            .apply_to(&crate::confine::Confinement::confined()),
        limits: opts
            .get("limits")
            .map(super::cgroup_options::limits_of)
            .transpose()?,
    };
    spec.validate()?;
    Ok(spec)
}

pub fn mount_spec(source: &str, target: &str, fstype: &str, opts: &Map) -> Res<MountSpec> {
    check_keys(opts, &option_keys::names("mount"), "mount")?;
    let flag = |k: &str| opts.get(k).map(|v| boolean(v, k)).transpose();
    let flags = MountFlagChoices {
        readonly: flag("readonly")?,
        nosuid: flag("nosuid")?,
        nodev: flag("nodev")?,
        noexec: flag("noexec")?,
    };
    let fstype = match (fstype, flag("recursive")?) {
        ("bind", Some(true)) => "rbind",
        (t, Some(_)) if t != "bind" && t != "rbind" => {
            return Err("recursive applies to bind mounts only".into())
        }
        (t, _) => t,
    };
    let data = opts
        .get("data")
        .map(|d| string(d, "data"))
        .transpose()?
        .unwrap_or_default();
    let overlay = if fstype == "overlay" {
        let lower = match opts.get("lower") {
            Some(l) => array(l, "lower")?
                .iter()
                .map(|d| string(d, "each lower directory"))
                .collect::<Res<Vec<_>>>()?,
            None => Vec::new(),
        };
        let upper = opts.get("upper").map(|d| string(d, "upper")).transpose()?;
        let work = opts.get("work").map(|d| string(d, "work")).transpose()?;
        Some((lower, upper, work))
    } else {
        if ["lower", "upper", "work"]
            .iter()
            .any(|k| opts.contains_key(*k))
        {
            return Err("lower, upper and work apply to overlay mounts only".into());
        }
        None
    };
    MountSpec::new(source, target, fstype, flags, &data, overlay)
}

/// A command: an array of words, or a string run by /bin/sh -c.
pub fn command(d: &Dynamic) -> Res<Vec<String>> {
    if let Ok(s) = d.clone().into_string() {
        if s.trim().is_empty() {
            return Err("the command is empty".into());
        }
        return Ok(vec!["/bin/sh".into(), "-c".into(), s]);
    }
    let words = array(d, "the command")
        .map_err(|e| format!("{e} (give [\"prog\", \"arg\", ...] or a shell string)"))?;
    if words.is_empty() {
        return Err("the command is empty".into());
    }
    words
        .iter()
        .map(|w| string(w, "each command word"))
        .collect()
}

/// Returns the spec and whether a failing exit status should throw (`check: true`).
pub fn run_spec(cmd: &Dynamic, opts: &Map) -> Res<(RunSpec, bool)> {
    check_keys(opts, &option_keys::names("run"), "run")?;
    let mut env = Vec::new();
    if let Some(e) = opts.get("env") {
        let m = e
            .clone()
            .try_cast::<Map>()
            .ok_or("env must be a map of NAME: value")?;
        for (k, v) in &m {
            if k.is_empty() || k.contains('=') {
                return Err(format!("'{k}' is not an environment variable name"));
            }
            let v = if v.is_string() {
                string(v, "env value")?
            } else {
                v.to_string()
            };
            env.push((k.to_string(), v));
        }
    }
    let spec = RunSpec {
        argv: command(cmd)?,
        env,
        cwd: opts.get("cwd").map(|d| string(d, "cwd")).transpose()?,
        stdin: opts.get("stdin").map(|d| string(d, "stdin")).transpose()?,
        confine: confine_options::command_confine_options(opts)?,
    };
    let check = opts
        .get("check")
        .map(|d| boolean(d, "check"))
        .transpose()?
        .unwrap_or(false);
    Ok((spec, check))
}

/// An integer option that must fit in a u32 (an MTU, a route metric).
pub fn u32_in(n: i64, what: &str) -> Res<u32> {
    u32::try_from(n).map_err(|_| format!("{what} must be between 0 and {}, not {n}", u32::MAX))
}

fn port(n: i64, what: &str) -> Res<u16> {
    u16::try_from(n)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("{what} must be a port number from 1 to 65535, not {n}"))
}

/// `addr`'s options: #{ nodad }.
pub fn addr_nodad(opts: &Map) -> Res<bool> {
    let mut nodad = false;
    for (k, v) in opts {
        match k.as_str() {
            "nodad" => {
                nodad = v
                    .as_bool()
                    .map_err(|_| format!("nodad is true or false, not {}", v.type_name()))?
            }
            other => return Err(format!("addr: unknown option '{other}' (known: nodad)")),
        }
    }
    Ok(nodad)
}

/// `route(dest, #{ via, dev, metric, v6 })`.
pub fn route_spec(dest: &str, opts: &Map) -> Res<RouteSpec> {
    let (mut via, mut dev, mut metric, mut v6) = (None, None, None, false);
    for (k, v) in opts {
        match k.as_str() {
            "via" => via = Some(string(v, "via")?),
            "dev" => dev = Some(string(v, "dev")?),
            "metric" => {
                let n = v
                    .as_int()
                    .map_err(|_| "metric must be an integer".to_string())?;
                metric = Some(u32_in(n, "metric")?);
            }
            "v6" => {
                v6 = v
                    .as_bool()
                    .map_err(|_| "v6 must be true or false".to_string())?
            }
            other => {
                return Err(format!(
                    "unknown option '{other}' for route (known: via, dev, metric, v6)"
                ))
            }
        }
    }
    RouteSpec::parse(dest, via.as_deref(), dev.as_deref(), metric, v6)
}

/// `port_forward(#{ port, to, to_port, proto, iface })`.
pub fn port_forward_rule(opts: &Map) -> Res<NatRule> {
    let get = |k: &str| opts.get(k).cloned();
    for k in opts.keys() {
        if !["port", "to", "to_port", "proto", "iface"].contains(&k.as_str()) {
            return Err(format!(
                "unknown option '{k}' for port_forward (known: port, to, to_port, proto, iface)"
            ));
        }
    }
    let p = get("port")
        .ok_or("port_forward needs port: the port to listen on")?
        .as_int()
        .map_err(|_| "port must be an integer".to_string())?;
    let port_n = port(p, "port")?;
    let to = get("to").ok_or("port_forward needs to: the sandbox's address")?;
    let to = parse_ip(&string(&to, "to")?)?;
    let to_port = match get("to_port") {
        Some(v) => port(
            v.as_int()
                .map_err(|_| "to_port must be an integer".to_string())?,
            "to_port",
        )?,
        None => port_n,
    };
    let proto = match get("proto")
        .map(|v| string(&v, "proto"))
        .transpose()?
        .as_deref()
    {
        None | Some("tcp") => Proto::Tcp,
        Some("udp") => Proto::Udp,
        Some(other) => return Err(format!("proto must be \"tcp\" or \"udp\", not \"{other}\"")),
    };
    let input = match get("iface") {
        Some(v) => {
            let i = string(&v, "iface")?;
            check_ifname(&i)?;
            Some(i)
        }
        None => None,
    };
    Ok(NatRule::PortForward {
        proto,
        port: port_n,
        to,
        to_port,
        input,
    })
}

/// `vxlan(name, #{ id, remote, local, dev, port, ns })`; `ns` (where the link goes,
/// for the plain function) is left to the caller, which knows namespace values.
pub fn vxlan_spec(opts: &Map) -> Res<crate::ops::vxlan::VxlanSpec> {
    let known = option_keys::names("vxlan");
    for k in opts.keys() {
        if !known.contains(&k.as_str()) {
            return Err(format!(
                "unknown option '{k}' for vxlan (known: {})",
                known.join(", ")
            ));
        }
    }
    let int = |k: &str| -> Res<Option<i64>> {
        opts.get(k)
            .map(|v| v.as_int().map_err(|_| format!("{k} must be an integer")))
            .transpose()
    };
    let text = |k: &str| opts.get(k).map(|v| string(v, k)).transpose();
    let id =
        int("id")?.ok_or("vxlan needs id: the segment's number (VNI), the same at both ends")?;
    let remote =
        text("remote")?.ok_or("vxlan needs remote: the other endpoint's underlay address")?;
    let dev = match text("dev")? {
        Some(d) => Some(crate::ops::names::IfName::new(&d)?),
        None => None,
    };
    crate::ops::vxlan::VxlanSpec::new(id, &remote, text("local")?.as_deref(), dev, int("port")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(src: &str) -> Map {
        rhai::Engine::new().eval::<Map>(src).unwrap()
    }

    #[test]
    fn unshare_options() {
        let s = sandbox_spec(&map(
            r#"#{ kinds: ["mount", "pid", "user"], net: "/run/netns/x", map_root: true }"#,
        ))
        .unwrap();
        assert_eq!(s.create, vec![NsKind::Mount, NsKind::Pid, NsKind::User]);
        assert_eq!(
            s.join[&NsKind::Net],
            JoinTarget::Path("/run/netns/x".into())
        );
        assert_eq!(s.uid_map.len(), 1);
        assert_eq!(s.uid_map[0].inside, 0);
    }

    #[test]
    fn unshare_errors_name_the_problem() {
        let err = |src: &str| sandbox_spec(&map(src)).unwrap_err();
        assert!(err(r#"#{ kinds: ["mount", "pdi"] }"#).contains("unknown namespace kind 'pdi'"));
        assert!(err(r#"#{ kinds: ["mount"], maproot: true }"#).contains("unknown option 'maproot'"));
        assert!(err(r#"#{ kinds: ["user"], uid_map: [[0, 1000]] }"#)
            .contains("[inside, outside, count]"));
        assert!(err(r#"#{ kinds: ["user"], uid_map: [[0, -1, 1]] }"#).contains("between 0"));
        assert!(err(r#"#{ kinds: [] }"#).contains("no namespace kinds"));
        assert!(err(r#"#{ kinds: ["net"], net: 5 }"#).contains("both created and joined"));
        assert!(err(r#"#{ kinds: "mount" }"#).contains("must be an array"));
    }

    #[test]
    fn mount_options() {
        let m = mount_spec(
            "/usr",
            "/usr",
            "bind",
            &map("#{ readonly: true, recursive: true }"),
        )
        .unwrap();
        assert_eq!(m.fstype(), "rbind");
        assert!(m.readonly);
        assert!(mount_spec("proc", "/proc", "proc", &map("#{ lower: [] }"))
            .unwrap_err()
            .contains("overlay"));
        assert!(
            mount_spec("proc", "/proc", "proc", &map("#{ readonly: 1 }"))
                .unwrap_err()
                .contains("true or false")
        );
    }

    #[test]
    fn commands() {
        assert_eq!(
            command(&Dynamic::from("echo hi")).unwrap(),
            vec!["/bin/sh", "-c", "echo hi"]
        );
        assert!(command(&Dynamic::from(rhai::Array::new())).is_err());
        let (spec, check) = run_spec(
            &Dynamic::from("true"),
            &map(r#"#{ env: #{ A: "1", N: 2 }, check: true }"#),
        )
        .unwrap();
        assert_eq!(
            spec.env,
            vec![
                ("A".to_string(), "1".to_string()),
                ("N".to_string(), "2".to_string())
            ]
        );
        assert!(check);
    }
}
