//! Network namespaces themselves: `netns`, `netns_open`, `host()`; and the address
//! arithmetic recipes use to number their hosts (`cidr_host`, `ip_of`).

use super::shared::net;
use crate::engine::call::{reg, Call, PrimitiveDoc, Shared, R};
use crate::engine::net_values::{HostNet, Netns};
use crate::ops::cidr::IpCidr;
use crate::ops::names::NetnsName;
use crate::ops::net::NetOp;
use rhai::{Dynamic, Engine, NativeCallContext};

pub(super) fn register_cidr(engine: &mut Engine, docs: &mut Vec<PrimitiveDoc>) {
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
}

/// `cidr_host("10.0.0.0/24", 2)` is "10.0.0.2/24": the N-th address of a prefix.
fn cidr_host(call: &Call, prefix: &str, n: i64) -> R<String> {
    let net = IpCidr::parse(prefix).map_err(|e| call.bad(e))?;
    u128::try_from(n)
        .ok()
        .and_then(|n| net.nth(n))
        .map(|host| host.to_string())
        .ok_or_else(|| {
            call.bad(format!(
                "{prefix} has no address number {n} (it has {})",
                net.size()
            ))
        })
}

pub(super) fn register(engine: &mut Engine, docs: &mut Vec<PrimitiveDoc>, session: &Shared) {
    reg(docs, "host", &[], "/// The host's network namespace, with the same methods as a netns (a router a recipe can swap for netns(name)).")
        .register_into_engine(engine, |_ctx: NativeCallContext| -> R<HostNet> { Ok(HostNet) });
    let s = session.clone();
    reg(docs, "netns", &["name: String"], "/// Creates a named network namespace (`ip netns add NAME`); undo deletes it, and its links with it.")
        .register_into_engine(engine, move |ctx: NativeCallContext, name: &str| -> R<Netns> {
            let call = Call::new(&ctx, "netns", &[name.into()]);
            let checked = NetnsName::new(name).map_err(|e| call.bad(e))?;
            net(&s, &call, NetOp::NetnsAdd { name: checked })?;
            Ok(Netns { name: name.into() })
        });
    let s = session.clone();
    reg(docs, "netns_open", &["name: String"], "/// An existing named network namespace (made by `ip netns add`), to work in; nsr never deletes it.")
        .register_into_engine(engine, move |ctx: NativeCallContext, name: &str| -> R<Netns> {
            let call = Call::new(&ctx, "netns_open", &[name.into()]);
            let checked = NetnsName::new(name).map_err(|e| call.bad(e))?;
            net(&s, &call, NetOp::NetnsOpen { name: checked })?;
            Ok(Netns { name: name.into() })
        });
}
