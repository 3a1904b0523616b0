//! The network primitives: netns, veth, bridge, addresses, routes, forwarding and NAT.
//! Each converts its arguments into a `NetOp` and hands it to the session.

use super::call::{reg, Call, PrimitiveDoc, Shared, R};
use super::net_values::{HostNet, Link, Netns, VethPair};
use super::read::string;
use super::values::Sandbox;
use crate::ops::cidr::{parse_ip, IpCidr};
use crate::ops::names::{check_ifname, check_netns_name};
use crate::ops::nat::{NatRule, Proto};
use crate::ops::net::LinkInfo;
use crate::ops::net::{AddrView, LinkSetting, NetOp, NetOutput, NsRef, RouteView};
use crate::ops::route::RouteSpec;
use crate::ops::{Op, Output};
use rhai::{Array, Dynamic, Engine, Map, NativeCallContext, Variant};

/// A value that stands for a network namespace: a named netns or a sandbox.
trait NetTarget: Variant + Clone {
    fn ns_ref(&self) -> NsRef;
}

impl NetTarget for Netns {
    fn ns_ref(&self) -> NsRef {
        NsRef::Named(self.name.clone())
    }
}

impl NetTarget for HostNet {
    fn ns_ref(&self) -> NsRef {
        NsRef::Host
    }
}

impl NetTarget for Sandbox {
    fn ns_ref(&self) -> NsRef {
        NsRef::Sandbox(self.id)
    }
}

fn target_of(d: &Dynamic, what: &str) -> Result<NsRef, String> {
    if let Some(n) = d.clone().try_cast::<Netns>() {
        Ok(n.ns_ref())
    } else if d.is::<HostNet>() {
        Ok(NsRef::Host)
    } else if let Some(s) = d.clone().try_cast::<Sandbox>() {
        Ok(s.ns_ref())
    } else {
        Err(format!(
            "{what} must be a netns, a sandbox or host(), not {}",
            d.type_name()
        ))
    }
}

fn net(session: &Shared, call: &Call, op: NetOp) -> R<Output> {
    call.perform(session, Op::Net(op))
}

fn ifname(call: &Call, name: &str) -> R<()> {
    check_ifname(name).map_err(|e| call.bad(e))
}

fn int_u32(call: &Call, n: i64, what: &str) -> R<u32> {
    u32::try_from(n).map_err(|_| {
        call.bad(format!(
            "{what} must be between 0 and {}, not {n}",
            u32::MAX
        ))
    })
}

fn port(call: &Call, n: i64, what: &str) -> R<u16> {
    u16::try_from(n).ok().filter(|p| *p > 0).ok_or_else(|| {
        call.bad(format!(
            "{what} must be a port number from 1 to 65535, not {n}"
        ))
    })
}

fn veth(
    session: &Shared,
    call: &Call,
    ns: NsRef,
    name: &str,
    peer: &str,
    peer_ns: NsRef,
) -> R<VethPair> {
    ifname(call, name)?;
    ifname(call, peer)?;
    net(
        session,
        call,
        NetOp::Veth {
            name: name.into(),
            ns: ns.clone(),
            peer: peer.into(),
            peer_ns: peer_ns.clone(),
        },
    )?;
    Ok(VethPair {
        host: Link {
            name: name.into(),
            ns,
        },
        peer: Link {
            name: peer.into(),
            ns: peer_ns,
        },
    })
}

fn bridge(session: &Shared, call: &Call, ns: NsRef, name: &str) -> R<Link> {
    ifname(call, name)?;
    net(
        session,
        call,
        NetOp::Bridge {
            name: name.into(),
            ns: ns.clone(),
        },
    )?;
    Ok(Link {
        name: name.into(),
        ns,
    })
}

fn link_set(session: &Shared, call: &Call, ns: NsRef, name: &str, setting: LinkSetting) -> R<()> {
    ifname(call, name)?;
    net(
        session,
        call,
        NetOp::LinkSet {
            ns,
            name: name.into(),
            setting,
        },
    )?;
    Ok(())
}

fn addr(session: &Shared, call: &Call, ns: NsRef, dev: &str, cidr: &str, opts: &Map) -> R<()> {
    ifname(call, dev)?;
    let cidr = IpCidr::parse(cidr).map_err(|e| call.bad(e))?;
    let mut nodad = false;
    for (k, v) in opts {
        match k.as_str() {
            "nodad" => {
                nodad = v.as_bool().map_err(|_| {
                    call.bad(format!("nodad is true or false, not {}", v.type_name()))
                })?
            }
            other => return Err(call.bad(format!("addr: unknown option '{other}' (known: nodad)"))),
        }
    }
    net(
        session,
        call,
        NetOp::AddrAdd {
            ns,
            dev: dev.into(),
            cidr,
            nodad,
        },
    )?;
    Ok(())
}

/// `route(dest, "10.0.0.1")` goes via a gateway, `route(dest, "eth0")` out of a device.
fn route(session: &Shared, call: &Call, ns: NsRef, dest: &str, via_or_dev: &str) -> R<()> {
    let spec = if parse_ip(via_or_dev).is_ok() {
        RouteSpec::parse(dest, Some(via_or_dev), None, None, false)
    } else {
        RouteSpec::parse(dest, None, Some(via_or_dev), None, false)
    }
    .map_err(|e| call.bad(e))?;
    net(session, call, NetOp::RouteAdd { ns, route: spec })?;
    Ok(())
}

fn route_opts(session: &Shared, call: &Call, ns: NsRef, dest: &str, opts: &Map) -> R<()> {
    let mut via = None;
    let mut dev = None;
    let mut metric = None;
    let mut v6 = false;
    for (k, v) in opts {
        match k.as_str() {
            "via" => via = Some(string(v, "via").map_err(|e| call.bad(e))?),
            "dev" => dev = Some(string(v, "dev").map_err(|e| call.bad(e))?),
            "metric" => {
                let n = v
                    .as_int()
                    .map_err(|_| call.bad("metric must be an integer".into()))?;
                metric = Some(int_u32(call, n, "metric")?);
            }
            "v6" => {
                v6 = v
                    .as_bool()
                    .map_err(|_| call.bad("v6 must be true or false".into()))?
            }
            other => {
                return Err(call.bad(format!(
                    "unknown option '{other}' for route (known: via, dev, metric, v6)"
                )))
            }
        }
    }
    let spec = RouteSpec::parse(dest, via.as_deref(), dev.as_deref(), metric, v6)
        .map_err(|e| call.bad(e))?;
    net(session, call, NetOp::RouteAdd { ns, route: spec })?;
    Ok(())
}

fn forwarding(session: &Shared, call: &Call, ns: NsRef, v6: bool, on: bool) -> R<()> {
    net(session, call, NetOp::Forwarding { ns, v6, on })?;
    Ok(())
}

fn nat(session: &Shared, call: &Call, ns: NsRef, rule: NatRule) -> R<()> {
    net(session, call, NetOp::Nat { ns, rule })?;
    Ok(())
}

fn masquerade(session: &Shared, call: &Call, ns: NsRef, source: &str, out: &str) -> R<()> {
    let source = IpCidr::parse(source)
        .or_else(|_| {
            parse_ip(source).map(|a| IpCidr {
                addr: a,
                prefix: if a.is_ipv6() { 128 } else { 32 },
            })
        })
        .map_err(|_| {
            call.bad(format!(
                "'{source}' is not an address or a network in CIDR form (10.0.0.0/24)"
            ))
        })?;
    ifname(call, out)?;
    nat(
        session,
        call,
        ns,
        NatRule::Masquerade {
            source,
            out: out.into(),
        },
    )
}

fn forward(session: &Shared, call: &Call, ns: NsRef, input: &str, out: &str) -> R<()> {
    ifname(call, input)?;
    ifname(call, out)?;
    nat(
        session,
        call,
        ns,
        NatRule::Forward {
            input: input.into(),
            out: out.into(),
        },
    )
}

fn port_forward(session: &Shared, call: &Call, ns: NsRef, opts: &Map) -> R<()> {
    let get = |k: &str| opts.get(k).cloned();
    for k in opts.keys() {
        if !["port", "to", "to_port", "proto", "iface"].contains(&k.as_str()) {
            return Err(call.bad(format!(
                "unknown option '{k}' for port_forward (known: port, to, to_port, proto, iface)"
            )));
        }
    }
    let p = get("port")
        .ok_or_else(|| call.bad("port_forward needs port: the port to listen on".into()))?
        .as_int()
        .map_err(|_| call.bad("port must be an integer".into()))?;
    let port_n = port(call, p, "port")?;
    let to =
        get("to").ok_or_else(|| call.bad("port_forward needs to: the sandbox's address".into()))?;
    let to = string(&to, "to").map_err(|e| call.bad(e))?;
    let to = parse_ip(&to).map_err(|e| call.bad(e))?;
    let to_port = match get("to_port") {
        Some(v) => port(
            call,
            v.as_int()
                .map_err(|_| call.bad("to_port must be an integer".into()))?,
            "to_port",
        )?,
        None => port_n,
    };
    let proto = match get("proto")
        .map(|v| string(&v, "proto"))
        .transpose()
        .map_err(|e| call.bad(e))?
        .as_deref()
    {
        None | Some("tcp") => Proto::Tcp,
        Some("udp") => Proto::Udp,
        Some(other) => {
            return Err(call.bad(format!("proto must be \"tcp\" or \"udp\", not \"{other}\"")))
        }
    };
    let input = match get("iface") {
        Some(v) => {
            let i = string(&v, "iface").map_err(|e| call.bad(e))?;
            ifname(call, &i)?;
            Some(i)
        }
        None => None,
    };
    nat(
        session,
        call,
        ns,
        NatRule::PortForward {
            proto,
            port: port_n,
            to,
            to_port,
            input,
        },
    )
}

fn links_to_array(list: Vec<LinkInfo>) -> Array {
    list.into_iter()
        .map(|l| {
            let mut m = Map::new();
            m.insert("name".into(), l.name.into());
            m.insert("index".into(), Dynamic::from(l.index as i64));
            m.insert("kind".into(), l.kind.into());
            m.insert("up".into(), Dynamic::from(l.up));
            m.insert("state".into(), l.state.into());
            m.insert("mtu".into(), Dynamic::from(l.mtu as i64));
            m.insert("mac".into(), l.mac.into());
            m.insert(
                "master".into(),
                l.master
                    .map(|i| Dynamic::from(i as i64))
                    .unwrap_or(Dynamic::UNIT),
            );
            Dynamic::from(m)
        })
        .collect()
}

fn addrs_to_array(list: Vec<AddrView>) -> Array {
    list.into_iter()
        .map(|a| {
            let mut m = Map::new();
            m.insert("dev".into(), a.dev.into());
            m.insert(
                "family".into(),
                (if a.cidr.is_v6() { "inet6" } else { "inet" }).into(),
            );
            m.insert("addr".into(), a.cidr.to_string().into());
            m.insert("ip".into(), a.cidr.addr.to_string().into());
            m.insert("prefix".into(), Dynamic::from(a.cidr.prefix as i64));
            Dynamic::from(m)
        })
        .collect()
}

fn routes_to_array(list: Vec<RouteView>) -> Array {
    list.into_iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("dest".into(), r.dest.into());
            let opt = |v: Option<String>| v.map(Dynamic::from).unwrap_or(Dynamic::UNIT);
            m.insert("via".into(), opt(r.via.map(|v| v.to_string())));
            m.insert("dev".into(), opt(r.dev));
            m.insert(
                "metric".into(),
                r.metric
                    .map(|v| Dynamic::from(v as i64))
                    .unwrap_or(Dynamic::UNIT),
            );
            m.insert("protocol".into(), r.protocol.into());
            m.insert("scope".into(), r.scope.into());
            Dynamic::from(m)
        })
        .collect()
}

fn inspect(session: &Shared, call: &Call, op: NetOp) -> R<Array> {
    match net(session, call, op)? {
        Output::Net(NetOutput::Links(l)) => Ok(links_to_array(l)),
        Output::Net(NetOutput::Addrs(a)) => Ok(addrs_to_array(a)),
        Output::Net(NetOutput::Routes(r)) => Ok(routes_to_array(r)),
        Output::Unit => Ok(Array::new()),
        other => Err(call.bad(format!("unexpected result {other:?}"))),
    }
}

/// The methods every network namespace value has, registered for `T`. Only the first
/// registration (Netns) adds to the docs: one entry per method, receiver `Netns | Sandbox`.
fn register_ns_methods<T: NetTarget>(
    engine: &mut Engine,
    docs: &mut Vec<PrimitiveDoc>,
    session: &Shared,
) {
    reg(
        docs,
        "link",
        &["ns: Netns | Sandbox | HostNet", "name: String"],
        "/// The link of that name in the namespace, to call up(), addr(), mtu() on.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, t: &mut T, name: &str| -> R<Link> {
            let call = Call::new(&ctx, "link", &[name.into()]);
            ifname(&call, name)?;
            Ok(Link {
                name: name.into(),
                ns: t.ns_ref(),
            })
        },
    );
    let s = session.clone();
    reg(
        docs,
        "addr",
        &[
            "ns: Netns | Sandbox | HostNet",
            "dev: String",
            "cidr: String",
        ],
        "/// `ip addr add CIDR dev DEV` in the namespace (IPv4 or IPv6); undo deletes the address. An IPv6 address is usable by the next command: nsr waits for duplicate address detection before it runs.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, t: &mut T, dev: &str, cidr: &str| -> R<()> {
            let call = Call::new(&ctx, "addr", &[dev.into(), cidr.into()]);
            addr(&s, &call, t.ns_ref(), dev, cidr, &Map::new())
        },
    );
    let s = session.clone();
    reg(
        docs,
        "addr",
        &[
            "ns: Netns | Sandbox | HostNet",
            "dev: String",
            "cidr: String",
            "options: Map",
        ],
        "/// `ip addr add CIDR dev DEV nodad` with #{ nodad: true }: no duplicate address detection, so nothing to wait for.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, t: &mut T, dev: &str, cidr: &str, opts: Map| -> R<()> {
            let call = Call::new(&ctx, "addr", &[dev.into(), cidr.into(), Dynamic::from(opts.clone())]);
            addr(&s, &call, t.ns_ref(), dev, cidr, &opts)
        },
    );
    for (name, setting, doc) in [
        (
            "up",
            LinkSetting::Up,
            "/// `ip link set DEV up` in the namespace (for example \"lo\").",
        ),
        (
            "down",
            LinkSetting::Down,
            "/// `ip link set DEV down` in the namespace.",
        ),
    ] {
        let s = session.clone();
        reg(
            docs,
            name,
            &["ns: Netns | Sandbox | HostNet", "dev: String"],
            doc,
        )
        .register_into_engine(
            engine,
            move |ctx: NativeCallContext, t: &mut T, dev: &str| -> R<()> {
                let call = Call::new(&ctx, name, &[dev.into()]);
                link_set(&s, &call, t.ns_ref(), dev, setting.clone())
            },
        );
    }
    let s = session.clone();
    reg(
        docs,
        "mtu",
        &["ns: Netns | Sandbox | HostNet", "dev: String", "mtu: i64"],
        "/// `ip link set DEV mtu N` in the namespace; undo restores the old MTU.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, t: &mut T, dev: &str, mtu: i64| -> R<()> {
            let call = Call::new(&ctx, "mtu", &[dev.into(), Dynamic::from(mtu)]);
            let mtu = int_u32(&call, mtu, "mtu")?;
            link_set(&s, &call, t.ns_ref(), dev, LinkSetting::Mtu(mtu))
        },
    );
    let s = session.clone();
    reg(docs, "route", &["ns: Netns | Sandbox | HostNet", "dest: String", "via_or_dev: String"], "/// `ip route add DEST via GATEWAY` (an address) or `dev DEVICE` (a name); DEST is \"default\" or a CIDR.")
        .register_into_engine(engine, move |ctx: NativeCallContext, t: &mut T, dest: &str, via: &str| -> R<()> {
            let call = Call::new(&ctx, "route", &[dest.into(), via.into()]);
            route(&s, &call, t.ns_ref(), dest, via)
        });
    let s = session.clone();
    reg(docs, "route", &["ns: Netns | Sandbox | HostNet", "dest: String", "options: Map"], "/// A route with options: #{ via, dev, metric, v6: true (for a default IPv6 route via a device) }.")
        .register_into_engine(engine, move |ctx: NativeCallContext, t: &mut T, dest: &str, opts: Map| -> R<()> {
            let call = Call::new(&ctx, "route", &[dest.into(), Dynamic::from(opts.clone())]);
            route_opts(&s, &call, t.ns_ref(), dest, &opts)
        });
    let s = session.clone();
    reg(
        docs,
        "veth",
        &[
            "ns: Netns | Sandbox | HostNet",
            "name: String",
            "peer: String",
        ],
        "/// A veth pair with both ends in the namespace.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, t: &mut T, name: &str, peer: &str| -> R<VethPair> {
            let call = Call::new(&ctx, "veth", &[name.into(), peer.into()]);
            veth(&s, &call, t.ns_ref(), name, peer, t.ns_ref())
        },
    );
    let s = session.clone();
    reg(
        docs,
        "veth",
        &[
            "ns: Netns | Sandbox | HostNet",
            "name: String",
            "peer: String",
            "peer_ns: Netns | Sandbox | HostNet",
        ],
        "/// A veth pair with NAME in the namespace and PEER created directly in PEER_NS.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext,
              t: &mut T,
              name: &str,
              peer: &str,
              target: Dynamic|
              -> R<VethPair> {
            let call = Call::new(&ctx, "veth", &[name.into(), peer.into(), target.clone()]);
            let peer_ns = target_of(&target, "the peer's namespace").map_err(|e| call.bad(e))?;
            veth(&s, &call, t.ns_ref(), name, peer, peer_ns)
        },
    );
    let s = session.clone();
    reg(
        docs,
        "bridge",
        &["ns: Netns | Sandbox | HostNet", "name: String"],
        "/// A bridge in the namespace.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, t: &mut T, name: &str| -> R<Link> {
            let call = Call::new(&ctx, "bridge", &[name.into()]);
            bridge(&s, &call, t.ns_ref(), name)
        },
    );
    for (name, v6, doc) in [
        ("ip_forward", false, "/// Sets net.ipv4.ip_forward in the namespace; undo restores the previous value."),
        ("ip6_forward", true, "/// Sets net.ipv6.conf.all.forwarding in the namespace; undo restores the previous value."),
    ] {
        let s = session.clone();
        reg(docs, name, &["ns: Netns | Sandbox | HostNet", "on: bool"], doc)
            .register_into_engine(engine, move |ctx: NativeCallContext, t: &mut T, on: bool| -> R<()> {
                let call = Call::new(&ctx, name, &[Dynamic::from(on)]);
                forwarding(&s, &call, t.ns_ref(), v6, on)
            });
    }
    let s = session.clone();
    reg(docs, "masquerade", &["ns: Netns | Sandbox | HostNet", "source: String", "out: String"], "/// Source NAT for SOURCE (a CIDR) leaving by OUT, in nsr's own nftables table of the namespace.")
        .register_into_engine(engine, move |ctx: NativeCallContext, t: &mut T, src: &str, out: &str| -> R<()> {
            let call = Call::new(&ctx, "masquerade", &[src.into(), out.into()]);
            masquerade(&s, &call, t.ns_ref(), src, out)
        });
    let s = session.clone();
    reg(
        docs,
        "forward",
        &["ns: Netns | Sandbox | HostNet", "in: String", "out: String"],
        "/// Accepts forwarding from IN to OUT (one direction), in nsr's own table.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, t: &mut T, i: &str, o: &str| -> R<()> {
            let call = Call::new(&ctx, "forward", &[i.into(), o.into()]);
            forward(&s, &call, t.ns_ref(), i, o)
        },
    );
    let s = session.clone();
    reg(
        docs,
        "port_forward",
        &[
            "ns: Netns | Sandbox | HostNet",
            "port: i64",
            "to: String",
            "to_port: i64",
        ],
        "/// DNAT: TCP connections to PORT in the namespace go to TO:TO_PORT.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, t: &mut T, p: i64, to: &str, tp: i64| -> R<()> {
            let call = Call::new(
                &ctx,
                "port_forward",
                &[Dynamic::from(p), to.into(), Dynamic::from(tp)],
            );
            let mut m = Map::new();
            m.insert("port".into(), Dynamic::from(p));
            m.insert("to".into(), to.into());
            m.insert("to_port".into(), Dynamic::from(tp));
            port_forward(&s, &call, t.ns_ref(), &m)
        },
    );
    let s = session.clone();
    reg(
        docs,
        "port_forward",
        &["ns: Netns | Sandbox | HostNet", "options: Map"],
        "/// DNAT with options: #{ port, to, to_port, proto: \"tcp\" | \"udp\", iface: the interface it arrives on }.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, t: &mut T, opts: Map| -> R<()> {
            let call = Call::new(&ctx, "port_forward", &[Dynamic::from(opts.clone())]);
            port_forward(&s, &call, t.ns_ref(), &opts)
        },
    );
    for (name, doc) in [
        ("links", "/// The namespace's links: [#{ name, index, kind, up, state, mtu, mac, master }]."),
        ("addrs", "/// The namespace's addresses: [#{ dev, family, addr, ip, prefix }]."),
        ("routes", "/// The namespace's main routing table: [#{ dest, via, dev, metric, protocol, scope }]."),
    ] {
        let s = session.clone();
        reg(docs, name, &["ns: Netns | Sandbox | HostNet"], doc)
            .register_into_engine(engine, move |ctx: NativeCallContext, t: &mut T| -> R<Array> {
                let call = Call::new(&ctx, name, &[]);
                inspect(&s, &call, inspect_op(name, t.ns_ref()))
            });
    }
}

fn inspect_op(name: &str, ns: NsRef) -> NetOp {
    match name {
        "links" => NetOp::Links { ns },
        "addrs" => NetOp::Addrs { ns },
        _ => NetOp::Routes { ns },
    }
}

/// `cidr_host("10.0.0.0/24", 2)` is "10.0.0.2/24": the N-th address of a prefix.
fn cidr_host(call: &Call, prefix: &str, n: i64) -> R<String> {
    let net = IpCidr::parse(prefix).map_err(|e| call.bad(e))?.network();
    let bits: u32 = if net.is_v6() { 128 } else { 32 };
    let size: u128 = if bits - net.prefix as u32 >= 128 {
        u128::MAX
    } else {
        1u128 << (bits - net.prefix as u32)
    };
    let n = u128::try_from(n)
        .ok()
        .filter(|n| *n < size)
        .ok_or_else(|| {
            call.bad(format!(
                "{prefix} has no address number {n} (it has {size})"
            ))
        })?;
    let addr = match net.addr {
        std::net::IpAddr::V4(a) => std::net::IpAddr::V4((u32::from(a) + n as u32).into()),
        std::net::IpAddr::V6(a) => std::net::IpAddr::V6((u128::from(a) + n).into()),
    };
    Ok(format!("{addr}/{}", net.prefix))
}

pub fn register(engine: &mut Engine, docs: &mut Vec<PrimitiveDoc>, session: &Shared) {
    reg(docs, "cidr_host", &["prefix: String", "n: i64"], "/// The N-th address of a prefix, in CIDR form: cidr_host(\"10.0.0.0/24\", 2) is \"10.0.0.2/24\".")
        .register_into_engine(engine, |ctx: NativeCallContext, prefix: &str, n: i64| -> R<String> {
            let call = Call::new(&ctx, "cidr_host", &[prefix.into(), Dynamic::from(n)]);
            cidr_host(&call, prefix, n)
        });
    reg(
        docs,
        "ip_of",
        &["cidr: String"],
        "/// The address part of a CIDR: ip_of(\"10.0.0.2/24\") is \"10.0.0.2\".",
    )
    .register_into_engine(engine, |ctx: NativeCallContext, cidr: &str| -> R<String> {
        let call = Call::new(&ctx, "ip_of", &[cidr.into()]);
        Ok(IpCidr::parse(cidr)
            .map_err(|e| call.bad(e))?
            .addr
            .to_string())
    });
    register_ns_methods::<Netns>(engine, docs, session);
    register_ns_methods::<Sandbox>(engine, &mut Vec::new(), session);
    register_ns_methods::<HostNet>(engine, &mut Vec::new(), session);
    reg(docs, "host", &[], "/// The host's network namespace, with the same methods as a netns (a router a recipe can swap for netns(name)).")
        .register_into_engine(engine, |_ctx: NativeCallContext| -> R<HostNet> { Ok(HostNet) });

    let s = session.clone();
    reg(docs, "netns", &["name: String"], "/// Creates a named network namespace (`ip netns add NAME`); undo deletes it, and its links with it.")
        .register_into_engine(engine, move |ctx: NativeCallContext, name: &str| -> R<Netns> {
            let call = Call::new(&ctx, "netns", &[name.into()]);
            check_netns_name(name).map_err(|e| call.bad(e))?;
            net(&s, &call, NetOp::NetnsAdd { name: name.into() })?;
            Ok(Netns { name: name.into() })
        });
    let s = session.clone();
    reg(docs, "netns_open", &["name: String"], "/// An existing named network namespace (made by `ip netns add`), to work in; nsr never deletes it.")
        .register_into_engine(engine, move |ctx: NativeCallContext, name: &str| -> R<Netns> {
            let call = Call::new(&ctx, "netns_open", &[name.into()]);
            check_netns_name(name).map_err(|e| call.bad(e))?;
            net(&s, &call, NetOp::NetnsOpen { name: name.into() })?;
            Ok(Netns { name: name.into() })
        });
    let s = session.clone();
    reg(
        docs,
        "veth",
        &["name: String", "peer: String"],
        "/// `ip link add NAME type veth peer name PEER` on the host; returns #{host, peer} links.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, name: &str, peer: &str| -> R<VethPair> {
            let call = Call::new(&ctx, "veth", &[name.into(), peer.into()]);
            veth(&s, &call, NsRef::Host, name, peer, NsRef::Host)
        },
    );
    let s = session.clone();
    reg(
        docs,
        "veth",
        &[
            "name: String",
            "peer: String",
            "peer_ns: Netns | Sandbox | HostNet",
        ],
        "/// A veth pair whose peer is created directly in PEER_NS (faster than moving it there).",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, name: &str, peer: &str, target: Dynamic| -> R<VethPair> {
            let call = Call::new(&ctx, "veth", &[name.into(), peer.into(), target.clone()]);
            let peer_ns = target_of(&target, "the peer's namespace").map_err(|e| call.bad(e))?;
            veth(&s, &call, NsRef::Host, name, peer, peer_ns)
        },
    );
    let s = session.clone();
    reg(
        docs,
        "bridge",
        &["name: String"],
        "/// `ip link add NAME type bridge` on the host.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, name: &str| -> R<Link> {
            let call = Call::new(&ctx, "bridge", &[name.into()]);
            bridge(&s, &call, NsRef::Host, name)
        },
    );
    reg(
        docs,
        "link",
        &["name: String"],
        "/// The host's link of that name (nsr changes only links the recipe created).",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, name: &str| -> R<Link> {
            let call = Call::new(&ctx, "link", &[name.into()]);
            ifname(&call, name)?;
            Ok(Link {
                name: name.into(),
                ns: NsRef::Host,
            })
        },
    );
    let s = session.clone();
    reg(
        docs,
        "route",
        &["dest: String", "via_or_dev: String"],
        "/// A route in the host's table; undo deletes exactly that route.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, dest: &str, via: &str| -> R<()> {
            let call = Call::new(&ctx, "route", &[dest.into(), via.into()]);
            route(&s, &call, NsRef::Host, dest, via)
        },
    );
    let s = session.clone();
    reg(
        docs,
        "route",
        &["dest: String", "options: Map"],
        "/// A host route with options: #{ via, dev, metric, v6 }.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, dest: &str, opts: Map| -> R<()> {
            let call = Call::new(&ctx, "route", &[dest.into(), Dynamic::from(opts.clone())]);
            route_opts(&s, &call, NsRef::Host, dest, &opts)
        },
    );
    for (name, v6, doc) in [
        (
            "ip_forward",
            false,
            "/// Sets the host's net.ipv4.ip_forward; undo restores the previous value.",
        ),
        (
            "ip6_forward",
            true,
            "/// Sets the host's net.ipv6.conf.all.forwarding; undo restores the previous value.",
        ),
    ] {
        let s = session.clone();
        reg(docs, name, &["on: bool"], doc).register_into_engine(
            engine,
            move |ctx: NativeCallContext, on: bool| -> R<()> {
                let call = Call::new(&ctx, name, &[Dynamic::from(on)]);
                forwarding(&s, &call, NsRef::Host, v6, on)
            },
        );
    }
    let s = session.clone();
    reg(docs, "masquerade", &["source: String", "out: String"], "/// The tutorial's MASQUERADE on the host, in nsr's own nftables table (never the host's chains).")
        .register_into_engine(engine, move |ctx: NativeCallContext, src: &str, out: &str| -> R<()> {
            let call = Call::new(&ctx, "masquerade", &[src.into(), out.into()]);
            masquerade(&s, &call, NsRef::Host, src, out)
        });
    let s = session.clone();
    reg(
        docs,
        "forward",
        &["in: String", "out: String"],
        "/// Accepts forwarding from IN to OUT on the host, in nsr's own table.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, i: &str, o: &str| -> R<()> {
            let call = Call::new(&ctx, "forward", &[i.into(), o.into()]);
            forward(&s, &call, NsRef::Host, i, o)
        },
    );
    let s = session.clone();
    reg(
        docs,
        "port_forward",
        &["port: i64", "to: String", "to_port: i64"],
        "/// DNAT on the host: TCP connections to PORT go to the sandbox's TO:TO_PORT.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, p: i64, to: &str, tp: i64| -> R<()> {
            let call = Call::new(
                &ctx,
                "port_forward",
                &[Dynamic::from(p), to.into(), Dynamic::from(tp)],
            );
            let mut m = Map::new();
            m.insert("port".into(), Dynamic::from(p));
            m.insert("to".into(), to.into());
            m.insert("to_port".into(), Dynamic::from(tp));
            port_forward(&s, &call, NsRef::Host, &m)
        },
    );
    let s = session.clone();
    reg(
        docs,
        "port_forward",
        &["options: Map"],
        "/// DNAT on the host with options: #{ port, to, to_port, proto, iface }.",
    )
    .register_into_engine(engine, move |ctx: NativeCallContext, opts: Map| -> R<()> {
        let call = Call::new(&ctx, "port_forward", &[Dynamic::from(opts.clone())]);
        port_forward(&s, &call, NsRef::Host, &opts)
    });
    for (name, doc) in [
        (
            "links",
            "/// The host's links: [#{ name, index, kind, up, state, mtu, mac, master }].",
        ),
        (
            "addrs",
            "/// The host's addresses: [#{ dev, family, addr, ip, prefix }].",
        ),
        (
            "routes",
            "/// The host's main routing table: [#{ dest, via, dev, metric, protocol, scope }].",
        ),
    ] {
        let s = session.clone();
        reg(docs, name, &[], doc).register_into_engine(
            engine,
            move |ctx: NativeCallContext| -> R<Array> {
                let call = Call::new(&ctx, name, &[]);
                inspect(&s, &call, inspect_op(name, NsRef::Host))
            },
        );
    }

    register_link_methods(engine, docs, session);
}

fn register_link_methods(engine: &mut Engine, docs: &mut Vec<PrimitiveDoc>, session: &Shared) {
    for (name, setting, doc) in [
        (
            "up",
            LinkSetting::Up,
            "/// `ip link set LINK up`; returns the link.",
        ),
        (
            "down",
            LinkSetting::Down,
            "/// `ip link set LINK down`; returns the link.",
        ),
    ] {
        let s = session.clone();
        reg(docs, name, &["link: Link"], doc).register_into_engine(
            engine,
            move |ctx: NativeCallContext, l: &mut Link| -> R<Link> {
                let call = Call::new(&ctx, name, &[]);
                link_set(&s, &call, l.ns.clone(), &l.name, setting.clone())?;
                Ok(l.clone())
            },
        );
    }
    let s = session.clone();
    reg(
        docs,
        "addr",
        &["link: Link", "cidr: String"],
        "/// `ip addr add CIDR dev LINK`; returns the link.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, l: &mut Link, cidr: &str| -> R<Link> {
            let call = Call::new(&ctx, "addr", &[cidr.into()]);
            addr(&s, &call, l.ns.clone(), &l.name, cidr, &Map::new())?;
            Ok(l.clone())
        },
    );
    let s = session.clone();
    reg(
        docs,
        "addr",
        &["link: Link", "cidr: String", "options: Map"],
        "/// `ip addr add CIDR dev LINK` with #{ nodad: true }; returns the link.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, l: &mut Link, cidr: &str, opts: Map| -> R<Link> {
            let call = Call::new(&ctx, "addr", &[cidr.into(), Dynamic::from(opts.clone())]);
            addr(&s, &call, l.ns.clone(), &l.name, cidr, &opts)?;
            Ok(l.clone())
        },
    );
    let s = session.clone();
    reg(
        docs,
        "mtu",
        &["link: Link", "mtu: i64"],
        "/// `ip link set LINK mtu N`; returns the link.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, l: &mut Link, mtu: i64| -> R<Link> {
            let call = Call::new(&ctx, "mtu", &[Dynamic::from(mtu)]);
            let mtu = int_u32(&call, mtu, "mtu")?;
            link_set(&s, &call, l.ns.clone(), &l.name, LinkSetting::Mtu(mtu))?;
            Ok(l.clone())
        },
    );
    let s = session.clone();
    reg(docs, "move_to", &["link: Link", "ns: Netns | Sandbox | HostNet"], "/// `ip link set LINK netns NS`; returns the link where it now is. (veth(a, b, ns) is faster.)")
        .register_into_engine(engine, move |ctx: NativeCallContext, l: &mut Link, target: Dynamic| -> R<Link> {
            let call = Call::new(&ctx, "move_to", std::slice::from_ref(&target));
            let to = target_of(&target, "the namespace to move to").map_err(|e| call.bad(e))?;
            net(&s, &call, NetOp::LinkMove { ns: l.ns.clone(), name: l.name.clone(), to: to.clone() })?;
            // The value follows the link, so that `link.peer.move_to(net); link.peer.up()` reads right.
            l.ns = to.clone();
            Ok(Link { name: l.name.clone(), ns: to })
        });
    let s = session.clone();
    reg(
        docs,
        "attach",
        &["bridge: Link", "link: Link"],
        "/// `ip link set LINK master BRIDGE`: makes LINK a port of the bridge; returns the link.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, br: &mut Link, l: Link| -> R<Link> {
            let call = Call::new(&ctx, "attach", &[Dynamic::from(l.clone())]);
            if l.ns != br.ns {
                return Err(call.bad(format!(
                    "{} and the bridge {} are in different namespaces",
                    l.describe(),
                    br.describe()
                )));
            }
            link_set(
                &s,
                &call,
                l.ns.clone(),
                &l.name,
                LinkSetting::Master(br.name.clone()),
            )?;
            Ok(l)
        },
    );
    let s = session.clone();
    reg(
        docs,
        "detach",
        &["link: Link"],
        "/// `ip link set LINK nomaster`; returns the link.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, l: &mut Link| -> R<Link> {
            let call = Call::new(&ctx, "detach", &[]);
            link_set(&s, &call, l.ns.clone(), &l.name, LinkSetting::NoMaster)?;
            Ok(l.clone())
        },
    );
}
