//! `pasta`: user-mode networking for a sandbox or netns (`box.pasta(#{ ports })`, and
//! `unshare(#{ net: "pasta", ... })`). With `outbound: false` the namespace first gets
//! a rule that drops what it sends but on loopback, so that the moment pasta connects
//! it, only forwarded connections pass.

use super::shared::{net, Registry};
use crate::engine::call::{Call, Shared, R};
use crate::engine::pasta_options;
use crate::ops::nat::NatRule;
use crate::ops::net::{NetOp, NsRef};
use crate::ops::pasta::PastaSpec;
use rhai::Map;

pub(super) fn register(r: &mut Registry) {
    ns_primitive!(r, "pasta", ["options: Map"],
    "/// Connects the namespace to the host's network through pasta (package passt; slirp4netns when pasta is missing): #{ ports: [#{ host: 8080, inside: 80, proto: \"tcp\", bind: \"127.0.0.1\" } or 8080], host_ports: [5432] (host loopback ports reachable at the namespace's 127.0.0.1), outbound: false (drop every new outgoing connection) }. Stopped on rollback.",
    host: None,
    |call, s, ns, opts: Map| -> () {
        let spec = pasta_options::of_method(&opts).map_err(|e| call.bad(e))?;
        attach(s, call, ns, spec)
    });
}

/// The guard (when outbound connections are refused), then pasta.
pub(crate) fn attach(session: &Shared, call: &Call, ns: NsRef, spec: PastaSpec) -> R<()> {
    if !spec.outbound {
        net(
            session,
            call,
            NetOp::Nat {
                ns: ns.clone(),
                rule: NatRule::DropOutbound,
            },
        )?;
    }
    net(session, call, NetOp::Pasta { ns, spec })?;
    Ok(())
}
