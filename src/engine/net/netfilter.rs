//! NAT and forwarding rules, in nsr's own nftables table of the namespace: masquerade,
//! forward, port_forward.

use super::shared::{ifname, net, Registry};
use crate::engine::call::{Call, Shared, R};
use crate::engine::convert;
use crate::ops::cidr::{parse_ip, IpCidr};
use crate::ops::nat::NatRule;
use crate::ops::net::{NetOp, NsRef};
use rhai::{Dynamic, Map};

pub(super) fn register(r: &mut Registry) {
    ns_primitive!(r, "masquerade", ["source: String", "out: String"],
        "/// Source NAT for SOURCE (a CIDR) leaving by OUT, in nsr's own nftables table of the namespace.",
        host: Some("/// The tutorial's MASQUERADE on the host, in nsr's own nftables table (never the host's chains)."),
        |call, s, ns, src: &str, out: &str| -> () { masquerade(s, call, ns, src, out) });
    ns_primitive!(r, "forward", ["in: String", "out: String"],
    "/// Accepts forwarding from IN to OUT (one direction), in nsr's own table.",
    host: Some("/// Accepts forwarding from IN to OUT on the host, in nsr's own table."),
    |call, s, ns, i: &str, o: &str| -> () {
        ifname(call, i)?;
        ifname(call, o)?;
        nat(s, call, ns, NatRule::Forward { input: i.into(), out: o.into() })
    });
    ns_primitive!(r, "port_forward", ["port: i64", "to: String", "to_port: i64"],
    "/// DNAT: TCP connections to PORT in the namespace go to TO:TO_PORT.",
    host: Some("/// DNAT on the host: TCP connections to PORT go to the sandbox's TO:TO_PORT."),
    |call, s, ns, p: i64, to: &str, tp: i64| -> () {
        let mut m = Map::new();
        m.insert("port".into(), Dynamic::from(p));
        m.insert("to".into(), to.into());
        m.insert("to_port".into(), Dynamic::from(tp));
        port_forward(s, call, ns, &m)
    });
    ns_primitive!(r, "port_forward", ["options: Map"],
        "/// DNAT with options: #{ port, to, to_port, proto: \"tcp\" | \"udp\", iface: the interface it arrives on }.",
        host: Some("/// DNAT on the host with options: #{ port, to, to_port, proto, iface }."),
        |call, s, ns, opts: Map| -> () { port_forward(s, call, ns, &opts) });
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

fn port_forward(session: &Shared, call: &Call, ns: NsRef, opts: &Map) -> R<()> {
    let rule = convert::port_forward_rule(opts).map_err(|e| call.bad(e))?;
    nat(session, call, ns, rule)
}
