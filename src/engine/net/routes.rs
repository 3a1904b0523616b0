//! Routes and forwarding: `ip route add`, net.ipv4.ip_forward and its IPv6 twin.

use super::shared::{net, Registry};
use crate::engine::call::{Call, Shared, R};
use crate::engine::convert;
use crate::ops::cidr::parse_ip;
use crate::ops::net::{NetOp, NsRef};
use crate::ops::route::RouteSpec;
use rhai::Map;

pub(super) fn register_routes(r: &mut Registry) {
    ns_primitive!(r, "route", ["dest: String", "via_or_dev: String"],
    "/// `ip route add DEST via GATEWAY` (an address) or `dev DEVICE` (a name); DEST is \"default\" or a CIDR.",
    host: Some("/// A route in the host's table; undo deletes exactly that route."),
    |call, s, ns, dest: &str, via: &str| -> () {
        // `route(dest, "10.0.0.1")` goes via a gateway, `route(dest, "eth0")` out of a device.
        let spec = if parse_ip(via).is_ok() {
            RouteSpec::parse(dest, Some(via), None, None, false)
        } else {
            RouteSpec::parse(dest, None, Some(via), None, false)
        };
        add(s, call, ns, spec)
    });
    ns_primitive!(r, "route", ["dest: String", "options: Map"],
        "/// A route with options: #{ via, dev, metric, v6: true (for a default IPv6 route via a device) }.",
        host: Some("/// A host route with options: #{ via, dev, metric, v6 }."),
        |call, s, ns, dest: &str, opts: Map| -> () { add(s, call, ns, convert::route_spec(dest, &opts)) });
}

fn add(session: &Shared, call: &Call, ns: NsRef, spec: Result<RouteSpec, String>) -> R<()> {
    let route = spec.map_err(|e| call.bad(e))?;
    net(session, call, NetOp::RouteAdd { ns, route })?;
    Ok(())
}

pub(super) fn register_forwarding(r: &mut Registry) {
    ns_primitive!(r, "ip_forward", ["on: bool"],
        "/// Sets net.ipv4.ip_forward in the namespace; undo restores the previous value.",
        host: Some("/// Sets the host's net.ipv4.ip_forward; undo restores the previous value."),
        |call, s, ns, on: bool| -> () { forwarding(s, call, ns, false, on) });
    ns_primitive!(r, "ip6_forward", ["on: bool"],
        "/// Sets net.ipv6.conf.all.forwarding in the namespace; undo restores the previous value.",
        host: Some("/// Sets the host's net.ipv6.conf.all.forwarding; undo restores the previous value."),
        |call, s, ns, on: bool| -> () { forwarding(s, call, ns, true, on) });
}

fn forwarding(session: &Shared, call: &Call, ns: NsRef, v6: bool, on: bool) -> R<()> {
    net(session, call, NetOp::Forwarding { ns, v6, on })?;
    Ok(())
}
