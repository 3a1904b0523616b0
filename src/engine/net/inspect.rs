//! What a namespace has: its links, addresses and routes, as arrays of maps.

use super::shared::{net, Registry};
use crate::engine::call::{Call, Shared, R};
use crate::ops::net::{AddrView, LinkInfo, NetOp, NetOutput, RouteView};
use crate::ops::Output;
use rhai::{Array, Dynamic, Map};

pub(super) fn register(r: &mut Registry) {
    ns_primitive!(r, "links", [],
        "/// The namespace's links: [#{ name, index, kind, up, state, mtu, mac, master }].",
        host: Some("/// The host's links: [#{ name, index, kind, up, state, mtu, mac, master }]."),
        |call, s, ns| -> Array { inspect(s, call, NetOp::Links { ns }) });
    ns_primitive!(r, "addrs", [],
        "/// The namespace's addresses: [#{ dev, family, addr, ip, prefix }].",
        host: Some("/// The host's addresses: [#{ dev, family, addr, ip, prefix }]."),
        |call, s, ns| -> Array { inspect(s, call, NetOp::Addrs { ns }) });
    ns_primitive!(r, "routes", [],
        "/// The namespace's main routing table: [#{ dest, via, dev, metric, protocol, scope }].",
        host: Some("/// The host's main routing table: [#{ dest, via, dev, metric, protocol, scope }]."),
        |call, s, ns| -> Array { inspect(s, call, NetOp::Routes { ns }) });
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
