//! What the network primitives share: the values that stand for a namespace, the
//! `ns_primitive!` registration, and the checks every one of them makes.

use crate::engine::call::{Call, PrimitiveDoc, Shared, R};
use crate::engine::net_values::{HostNet, Netns};
use crate::engine::values::Sandbox;
use crate::ops::names::IfName;
use crate::ops::net::{NetOp, NsRef};
use crate::ops::{Op, Output};
use rhai::{Dynamic, Engine, Map, Variant};

/// Registers one primitive that works in a network namespace, from one body: `$s` is
/// the session, `$ns` the namespace, `$call` the call (for errors and the journal).
macro_rules! ns_primitive {
    ($r:expr, $name:literal, [$($param:literal),*], $doc:literal, host: $host_doc:expr,
     |$call:ident, $s:ident, $ns:ident $(, $arg:ident : $ty:ty)*| -> $ret:ty $body:block) => {{
        use $crate::engine::call::{reg, Call, PrimitiveDoc, Shared, R};
        use $crate::engine::net::shared::{NetTarget, Registry};
        use $crate::ops::net::NsRef;
        fn body($call: &Call, $s: &Shared, $ns: NsRef $(, $arg: $ty)*) -> R<$ret> $body
        fn on<T: NetTarget>(
            engine: &mut rhai::Engine,
            docs: &mut Vec<PrimitiveDoc>,
            session: &Shared,
        ) {
            let s = session.clone();
            reg(docs, $name, &["ns: Netns | Sandbox | HostNet" $(, $param)*], $doc)
                .register_into_engine(
                    engine,
                    move |ctx: rhai::NativeCallContext, t: &mut T $(, $arg: $ty)*| -> R<$ret> {
                        let call = Call::new(&ctx, $name, &[$($crate::engine::net::shared::Arg::arg(&$arg)),*]);
                        body(&call, &s, t.ns_ref() $(, $arg)*)
                    },
                );
        }
        let r: &mut Registry = $r;
        on::<$crate::engine::net_values::Netns>(r.engine, &mut r.methods, r.session);
        on::<$crate::engine::values::Sandbox>(r.engine, &mut Vec::new(), r.session);
        on::<$crate::engine::net_values::HostNet>(r.engine, &mut Vec::new(), r.session);
        let host_doc: Option<&'static str> = $host_doc;
        if let Some(doc) = host_doc {
            let s = r.session.clone();
            reg(&mut r.host, $name, &[$($param),*], doc).register_into_engine(
                r.engine,
                move |ctx: rhai::NativeCallContext $(, $arg: $ty)*| -> R<$ret> {
                    let call = Call::new(&ctx, $name, &[$($crate::engine::net::shared::Arg::arg(&$arg)),*]);
                    body(&call, &s, NsRef::Host $(, $arg)*)
                },
            );
        }
    }};
}

/// Where registrations go: the engine, and the docs of the methods and of the host's
/// functions (listed apart, methods first, as `nsr doc` shows them).
pub(super) struct Registry<'a> {
    pub engine: &'a mut Engine,
    pub session: &'a Shared,
    pub methods: Vec<PrimitiveDoc>,
    pub host: Vec<PrimitiveDoc>,
}

/// A value that stands for a network namespace: a named netns, a sandbox or `host()`.
pub(super) trait NetTarget: Variant + Clone {
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

/// An argument as the call's words show it.
pub(super) trait Arg {
    fn arg(&self) -> Dynamic;
}

impl Arg for &str {
    fn arg(&self) -> Dynamic {
        (*self).into()
    }
}

impl Arg for i64 {
    fn arg(&self) -> Dynamic {
        Dynamic::from(*self)
    }
}

impl Arg for bool {
    fn arg(&self) -> Dynamic {
        Dynamic::from(*self)
    }
}

impl Arg for Map {
    fn arg(&self) -> Dynamic {
        Dynamic::from(self.clone())
    }
}

impl Arg for Dynamic {
    fn arg(&self) -> Dynamic {
        self.clone()
    }
}

pub(super) fn target_of(d: &Dynamic, what: &str) -> Result<NsRef, String> {
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

pub(super) fn net(session: &Shared, call: &Call, op: NetOp) -> R<Output> {
    call.perform(session, Op::Net(op))
}

/// An interface name, checked once here and carried as it is by the operation.
pub(super) fn ifname(call: &Call, name: &str) -> R<IfName> {
    IfName::new(name).map_err(|e| call.bad(e))
}
