//! Links: a link by name, veth pairs, bridges, addresses, up/down, MTU, and the methods
//! of a link value (`up`, `addr`, `mtu`, `move_to`, `attach`, `detach`).

use super::shared::{ifname, net, target_of, Arg, Registry};
use crate::engine::call::{reg, Call, PrimitiveDoc, Shared, R};
use crate::engine::convert;
use crate::engine::net_values::{Link, VethPair};
use crate::ops::cidr::IpCidr;
use crate::ops::net::{LinkSetting, NetOp, NsRef};
use rhai::{Dynamic, Engine, Map, NativeCallContext};

/// The primitives of a namespace that make or change its links.
pub(super) fn register_ns(r: &mut Registry) {
    ns_primitive!(r, "link", ["name: String"],
    "/// The link of that name in the namespace, to call up(), addr(), mtu() on.",
    host: Some("/// The host's link of that name (nsr changes only links the recipe created)."),
    |call, _s, ns, name: &str| -> Link {
        ifname(call, name)?;
        Ok(Link { name: name.into(), ns })
    });
    ns_primitive!(r, "addr", ["dev: String", "cidr: String"],
        "/// `ip addr add CIDR dev DEV` in the namespace (IPv4 or IPv6); undo deletes the address. An IPv6 address is usable by the next command: nsr waits for duplicate address detection before it runs.",
        host: None,
        |call, s, ns, dev: &str, cidr: &str| -> () { addr(s, call, ns, dev, cidr, &Map::new()) });
    ns_primitive!(r, "addr", ["dev: String", "cidr: String", "options: Map"],
        "/// `ip addr add CIDR dev DEV nodad` with #{ nodad: true }: no duplicate address detection, so nothing to wait for.",
        host: None,
        |call, s, ns, dev: &str, cidr: &str, opts: Map| -> () { addr(s, call, ns, dev, cidr, &opts) });
    ns_primitive!(r, "up", ["dev: String"],
        "/// `ip link set DEV up` in the namespace (for example \"lo\").",
        host: None,
        |call, s, ns, dev: &str| -> () { link_set(s, call, ns, dev, LinkSetting::Up) });
    ns_primitive!(r, "down", ["dev: String"],
        "/// `ip link set DEV down` in the namespace.",
        host: None,
        |call, s, ns, dev: &str| -> () { link_set(s, call, ns, dev, LinkSetting::Down) });
    ns_primitive!(r, "mtu", ["dev: String", "mtu: i64"],
    "/// `ip link set DEV mtu N` in the namespace; undo restores the old MTU.",
    host: None,
    |call, s, ns, dev: &str, mtu: i64| -> () {
        let mtu = convert::u32_in(mtu, "mtu").map_err(|e| call.bad(e))?;
        link_set(s, call, ns, dev, LinkSetting::Mtu(mtu))
    });
}

/// The primitives of a namespace that make links: veth pairs and bridges. (Registered
/// after routes, where `nsr doc` lists them.)
pub(super) fn register_ns_makers(r: &mut Registry) {
    ns_primitive!(r, "veth", ["name: String", "peer: String"],
        "/// A veth pair with both ends in the namespace.",
        host: Some("/// `ip link add NAME type veth peer name PEER` on the host; returns #{host, peer} links."),
        |call, s, ns, name: &str, peer: &str| -> VethPair { veth(s, call, ns.clone(), name, peer, ns) });
    ns_primitive!(r, "veth", ["name: String", "peer: String", "peer_ns: Netns | Sandbox | HostNet"],
    "/// A veth pair with NAME in the namespace and PEER created directly in PEER_NS.",
    host: Some("/// A veth pair whose peer is created directly in PEER_NS (faster than moving it there)."),
    |call, s, ns, name: &str, peer: &str, target: Dynamic| -> VethPair {
        let peer_ns = target_of(&target, "the peer's namespace").map_err(|e| call.bad(e))?;
        veth(s, call, ns, name, peer, peer_ns)
    });
    ns_primitive!(r, "vxlan", ["name: String", "options: Map"],
    "/// A VXLAN link in the namespace: #{ id, remote, local, dev, port } (`ip link add NAME type vxlan id ID remote R dstport 4789 dev D`); attach it to a bridge to join that segment to the other end's.",
    host: Some("/// A VXLAN link on the host (or in `ns:`): #{ id, remote, local, dev, port, ns }, one end of a tunnel to another machine's bridge segment."),
    |call, s, ns, name: &str, opts: Map| -> Link { vxlan(s, call, ns, name, opts) });
    ns_primitive!(r, "bridge", ["name: String"],
    "/// A bridge in the namespace.",
    host: Some("/// `ip link add NAME type bridge` on the host."),
    |call, s, ns, name: &str| -> Link {
        let checked = ifname(call, name)?;
        net(s, call, NetOp::Bridge { name: checked, ns: ns.clone() })?;
        Ok(Link { name: name.into(), ns })
    });
}

fn vxlan(session: &Shared, call: &Call, ns: NsRef, name: &str, mut opts: Map) -> R<Link> {
    let checked = ifname(call, name)?;
    let ns = match opts.remove("ns") {
        None => ns,
        Some(_) if ns != NsRef::Host => {
            return Err(
                call.bad("ns: is for the plain vxlan(); NS.vxlan(...) already says where".into())
            )
        }
        Some(target) => target_of(&target, "ns").map_err(|e| call.bad(e))?,
    };
    let spec = convert::vxlan_spec(&opts).map_err(|e| call.bad(e))?;
    net(
        session,
        call,
        NetOp::Vxlan {
            name: checked,
            ns: ns.clone(),
            spec,
        },
    )?;
    Ok(Link {
        name: name.into(),
        ns,
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
    let (checked, checked_peer) = (ifname(call, name)?, ifname(call, peer)?);
    net(
        session,
        call,
        NetOp::Veth {
            name: checked,
            ns: ns.clone(),
            peer: checked_peer,
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

fn link_set(session: &Shared, call: &Call, ns: NsRef, name: &str, setting: LinkSetting) -> R<()> {
    let name = ifname(call, name)?;
    net(session, call, NetOp::LinkSet { ns, name, setting })?;
    Ok(())
}

fn addr(session: &Shared, call: &Call, ns: NsRef, dev: &str, cidr: &str, opts: &Map) -> R<()> {
    let dev = ifname(call, dev)?;
    let cidr = IpCidr::parse(cidr).map_err(|e| call.bad(e))?;
    let nodad = convert::addr_nodad(opts).map_err(|e| call.bad(e))?;
    net(
        session,
        call,
        NetOp::AddrAdd {
            ns,
            dev,
            cidr,
            nodad,
        },
    )?;
    Ok(())
}

/// The methods of a link value: each returns the link, to chain calls on.
pub(super) fn register_link_methods(
    engine: &mut Engine,
    docs: &mut Vec<PrimitiveDoc>,
    session: &Shared,
) {
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
            let call = Call::new(&ctx, "addr", &[cidr.into(), opts.arg()]);
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
            let mtu = convert::u32_in(mtu, "mtu").map_err(|e| call.bad(e))?;
            link_set(&s, &call, l.ns.clone(), &l.name, LinkSetting::Mtu(mtu))?;
            Ok(l.clone())
        },
    );
    register_ports(engine, docs, session);
}

/// A link's moves: to another namespace, into a bridge, out of it.
fn register_ports(engine: &mut Engine, docs: &mut Vec<PrimitiveDoc>, session: &Shared) {
    let s = session.clone();
    reg(docs, "move_to", &["link: Link", "ns: Netns | Sandbox | HostNet"], "/// `ip link set LINK netns NS`; returns the link where it now is. (veth(a, b, ns) is faster.)")
        .register_into_engine(engine, move |ctx: NativeCallContext, l: &mut Link, target: Dynamic| -> R<Link> {
            let call = Call::new(&ctx, "move_to", std::slice::from_ref(&target));
            let to = target_of(&target, "the namespace to move to").map_err(|e| call.bad(e))?;
            let name = ifname(&call, &l.name)?;
            net(&s, &call, NetOp::LinkMove { ns: l.ns.clone(), name, to: to.clone() })?;
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
