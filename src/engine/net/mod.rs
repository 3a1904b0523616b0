//! The network primitives: netns, veth, bridge, addresses, routes, forwarding and NAT.
//! Each converts its arguments into a `NetOp` and hands it to the session. A primitive
//! that works in a namespace is written once (`ns_primitive!`) and registered as a
//! method of every value that stands for one (a netns, a sandbox, `host()`) and, where
//! the host has it, as a plain function on the host's namespace: `veth(a, b)` is
//! `host().veth(a, b)`.

use super::call::{PrimitiveDoc, Shared};
use rhai::Engine;
use shared::Registry;

#[macro_use]
mod shared;
mod inspect;
mod links;
mod namespaces;
mod netfilter;
pub(super) mod pasta;
mod routes;

/// The order in which `nsr doc` lists the host's functions.
const HOST_ORDER: &[&str] = &[
    "veth",
    "bridge",
    "link",
    "route",
    "ip_forward",
    "ip6_forward",
    "masquerade",
    "forward",
    "port_forward",
    "links",
    "addrs",
    "routes",
];

pub fn register(engine: &mut Engine, docs: &mut Vec<PrimitiveDoc>, session: &Shared) {
    namespaces::register_cidr(engine, docs);
    let mut r = Registry {
        engine,
        session,
        methods: Vec::new(),
        host: Vec::new(),
    };
    // In the order `nsr doc` lists them.
    links::register_ns(&mut r);
    routes::register_routes(&mut r);
    links::register_ns_makers(&mut r);
    routes::register_forwarding(&mut r);
    netfilter::register(&mut r);
    pasta::register(&mut r);
    inspect::register(&mut r);
    let Registry {
        engine,
        methods,
        mut host,
        ..
    } = r;
    docs.extend(methods);
    namespaces::register(engine, docs, session);
    host.sort_by_key(|d| HOST_ORDER.iter().position(|n| *n == d.name));
    docs.extend(host);
    links::register_link_methods(engine, docs, session);
}
