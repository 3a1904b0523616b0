//! pasta's options from recipe values: `unshare(#{ net: "pasta", ports: [...], outbound,
//! host_ports })` and `box.pasta(#{ ports, outbound, host_ports })`. A forward is
//! `#{ host: 8080, inside: 80, proto: "tcp" | "udp", bind: "127.0.0.1" }`, or a number
//! for the same port on both sides.

use super::read::{array, boolean, string, type_name};
use crate::ops::pasta::{PastaProto, PastaSpec, PortForward, UserNet};
use rhai::{Dynamic, Map};

type Res<T> = Result<T, String>;

/// The keys `box.pasta` takes, and `unshare` beside `net: "pasta"`.
pub const KEYS: [&str; 3] = ["ports", "outbound", "host_ports"];
const FORWARD_KEYS: [&str; 4] = ["host", "inside", "proto", "bind"];

/// The program a value of `net` asks for (a path or pid joins a namespace instead).
fn asked(opts: &Map) -> Option<UserNet> {
    match opts.get("net")?.clone().into_string().ok()?.as_str() {
        "pasta" => Some(UserNet::Pasta),
        "slirp4netns" => Some(UserNet::Slirp4netns),
        _ => None,
    }
}

/// Whether `net` asks for user-mode networking, a new netns (not one to join).
pub fn wants_pasta(opts: &Map) -> bool {
    asked(opts).is_some()
}

/// `unshare`'s pasta (or slirp4netns), when its options ask for one.
pub fn of_unshare(opts: &Map) -> Res<Option<PastaSpec>> {
    if let Some(via) = asked(opts) {
        let s = spec(opts)?;
        if via == UserNet::Slirp4netns && !s.host_ports.is_empty() {
            return Err("host_ports: slirp4netns opens the host's loopback whole or not at all (nsr keeps it closed); use net: \"pasta\" for single ports".into());
        }
        return Ok(Some(PastaSpec { via, ..s }));
    }
    if let Some(key) = KEYS.iter().find(|k| opts.contains_key(**k)) {
        return Err(format!(
            "{key} is an option of user-mode networking: add net: \"pasta\" (or \"slirp4netns\")"
        ));
    }
    Ok(None)
}

/// The options of `box.pasta`: only `KEYS`.
pub fn of_method(opts: &Map) -> Res<PastaSpec> {
    if let Some(key) = opts.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!(
            "unknown option '{key}' for pasta (known: {})",
            KEYS.join(", ")
        ));
    }
    spec(opts)
}

/// The options of `box.pasta` or those of `unshare` that are pasta's.
fn spec(opts: &Map) -> Res<PastaSpec> {
    let ports = match opts.get("ports") {
        Some(p) => array(p, "ports")?
            .iter()
            .map(forward)
            .collect::<Res<Vec<_>>>()?,
        None => Vec::new(),
    };
    let host_ports = match opts.get("host_ports") {
        Some(p) => array(p, "host_ports")?
            .iter()
            .map(host_port)
            .collect::<Res<Vec<_>>>()?,
        None => Vec::new(),
    };
    let outbound = match opts.get("outbound") {
        Some(v) => boolean(v, "outbound")?,
        None => true,
    };
    let spec = PastaSpec {
        via: UserNet::Pasta,
        ports,
        host_ports,
        outbound,
    };
    if let Some(p) = spec.duplicate() {
        return Err(format!(
            "host port {} ({}) on {} is forwarded twice: pasta can listen on it once",
            p.host,
            p.proto.name(),
            p.bind
        ));
    }
    Ok(spec)
}

fn port(d: &Dynamic, what: &str) -> Res<u16> {
    let n = d
        .as_int()
        .map_err(|_| format!("{what} must be a port number, not {}", type_name(d)))?;
    u16::try_from(n)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("{what} must be a port between 1 and 65535, not {n}"))
}

fn proto(d: Option<&Dynamic>, what: &str) -> Res<PastaProto> {
    match d.map(|p| string(p, what)).transpose()?.as_deref() {
        None | Some("tcp") => Ok(PastaProto::Tcp),
        Some("udp") => Ok(PastaProto::Udp),
        Some(other) => Err(format!("{what} '{other}' is not tcp or udp")),
    }
}

fn forward(d: &Dynamic) -> Res<PortForward> {
    let loopback = "127.0.0.1".parse().expect("an address");
    if d.is_int() {
        let p = port(d, "a forwarded port")?;
        return Ok(PortForward {
            proto: PastaProto::Tcp,
            host: p,
            inside: p,
            bind: loopback,
        });
    }
    let m: Map = d.clone().try_cast().ok_or_else(|| {
        format!(
            "each of ports is #{{ host: 8080, inside: 80 }} or a port number, not {}",
            type_name(d)
        )
    })?;
    if let Some(key) = m.keys().find(|k| !FORWARD_KEYS.contains(&k.as_str())) {
        return Err(format!(
            "unknown key '{key}' in a port forward (known: {})",
            FORWARD_KEYS.join(", ")
        ));
    }
    let host = port(
        m.get("host")
            .ok_or("a port forward needs host: (the port on the host)")?,
        "ports: host",
    )?;
    let inside = match m.get("inside") {
        Some(i) => port(i, "ports: inside")?,
        None => host,
    };
    let bind = match m.get("bind") {
        Some(b) => {
            let text = string(b, "ports: bind")?;
            crate::ops::cidr::parse_ip(&text)
                .map_err(|_| format!("ports: bind '{text}' is not an IP address"))?
        }
        None => loopback,
    };
    Ok(PortForward {
        proto: proto(m.get("proto"), "ports: proto")?,
        host,
        inside,
        bind,
    })
}

fn host_port(d: &Dynamic) -> Res<(PastaProto, u16)> {
    if d.is_int() {
        return Ok((PastaProto::Tcp, port(d, "a host port")?));
    }
    let m: Map = d.clone().try_cast().ok_or_else(|| {
        format!(
            "each of host_ports is a port number or #{{ port, proto }}, not {}",
            type_name(d)
        )
    })?;
    Ok((
        proto(m.get("proto"), "host_ports: proto")?,
        port(
            m.get("port").ok_or("host_ports: an entry needs port:")?,
            "host_ports: port",
        )?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> Map {
        rhai::Engine::new().eval::<Map>(text).unwrap()
    }

    #[test]
    fn a_forward_binds_loopback_unless_told() {
        let s = spec(&map(r#"#{ ports: [#{ host: 8080, inside: 80 }, 9000, #{ host: 53, proto: "udp", bind: "0.0.0.0" }] }"#)).unwrap();
        let words: Vec<String> = s.ports.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            words,
            [
                "127.0.0.1:8080 -> 80 (tcp)",
                "127.0.0.1:9000 -> 9000 (tcp)",
                "0.0.0.0:53 -> 53 (udp)"
            ]
        );
        assert!(s.outbound);
    }

    #[test]
    fn bad_forwards_are_named() {
        for (text, says) in [
            ("#{ port: 80 }", "unknown option 'port' for pasta"),
            ("#{ ports: [#{ host: 0 }] }", "between 1 and 65535"),
            ("#{ ports: [#{ inside: 80 }] }", "needs host:"),
            ("#{ ports: [#{ host: 80, to: 1 }] }", "unknown key 'to'"),
            (
                "#{ ports: [#{ host: 80, proto: \"sctp\" }] }",
                "not tcp or udp",
            ),
            (
                "#{ ports: [8080, #{ host: 8080, inside: 81 }] }",
                "forwarded twice",
            ),
            (
                "#{ ports: [#{ host: 80, bind: \"local\" }] }",
                "not an IP address",
            ),
            ("#{ outbound: 1 }", "outbound"),
        ] {
            let e = of_method(&map(text)).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn pasta_options_without_pasta_say_what_is_missing() {
        let e = of_unshare(&map(r#"#{ kinds: ["net"], ports: [80] }"#)).unwrap_err();
        assert!(e.contains("net: \"pasta\""), "{e}");
        assert!(of_unshare(&map(r#"#{ net: "/run/netns/x" }"#))
            .unwrap()
            .is_none());
    }
}
