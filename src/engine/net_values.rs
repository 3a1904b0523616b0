//! The network values recipes hold: a named netns, a link, a veth pair.

use crate::ops::net::NsRef;
use rhai::Engine;

/// A named network namespace (`/run/netns/NAME`).
#[derive(Debug, Clone)]
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn describe(&self) -> String {
        format!("netns({})", self.name)
    }
}

/// A network interface in a namespace, by name.
#[derive(Debug, Clone)]
pub struct Link {
    pub name: String,
    pub ns: NsRef,
}

impl Link {
    pub fn describe(&self) -> String {
        format!("link({} in {})", self.name, self.ns)
    }
}

/// The host's network namespace (nsr's own), as a value with the same methods as a
/// netns: a recipe can take either as its router.
#[derive(Debug, Clone, Copy)]
pub struct HostNet;

/// Both ends of a veth pair: `host` where it was made, `peer` where its peer went.
#[derive(Debug, Clone)]
pub struct VethPair {
    pub host: Link,
    pub peer: Link,
}

pub fn register_types(engine: &mut Engine) {
    engine
        .register_type_with_name::<Netns>("Netns")
        .register_get("name", |n: &mut Netns| n.name.clone())
        .register_get("path", |n: &mut Netns| crate::net::netns::path_of(&n.name))
        .register_fn("to_string", |n: &mut Netns| n.describe())
        .register_fn("to_debug", |n: &mut Netns| n.describe());
    engine
        .register_type_with_name::<HostNet>("HostNet")
        .register_fn("to_string", |_: &mut HostNet| "host".to_string())
        .register_fn("to_debug", |_: &mut HostNet| "host".to_string());
    engine
        .register_type_with_name::<Link>("Link")
        .register_get("name", |l: &mut Link| l.name.clone())
        .register_fn("to_string", |l: &mut Link| l.describe())
        .register_fn("to_debug", |l: &mut Link| l.describe());
    engine
        .register_type_with_name::<VethPair>("VethPair")
        .register_get("host", |v: &mut VethPair| v.host.clone())
        .register_get("peer", |v: &mut VethPair| v.peer.clone())
        .register_fn("to_string", |v: &mut VethPair| {
            format!("veth({} <-> {})", v.host.describe(), v.peer.describe())
        })
        .register_fn("to_debug", |v: &mut VethPair| {
            format!("veth({} <-> {})", v.host.describe(), v.peer.describe())
        });
}
