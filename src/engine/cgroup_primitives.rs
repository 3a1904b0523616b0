//! A sandbox's cgroups from a recipe: `box.limits(#{ ... })` and `box.usage()`.

use super::call::{reg, Call, PrimitiveDoc, Shared, R};
use super::cgroup_options::limits_of;
use super::values::Sandbox;
use crate::ops::{Op, Output};
use rhai::{Dynamic, Engine, Map, NativeCallContext};

pub fn register(engine: &mut Engine, docs: &mut Vec<PrimitiveDoc>, session: &Shared) {
    let s = session.clone();
    reg(
        docs,
        "limits",
        &["sandbox: Sandbox", "limits: Map"],
        "/// Changes the running sandbox's cgroup limits (the keys of unshare's limits: memory, memory_swap, pids, cpu, cpu_weight, io); undo writes back the old values.",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, sb: &mut Sandbox, limits: Map| -> R<()> {
            let call = Call::new(&ctx, "limits", &[Dynamic::from(limits.clone())]);
            let limits = limits_of(&Dynamic::from(limits)).map_err(|e| call.bad(e))?;
            call.perform(
                &s,
                Op::SetLimits {
                    sandbox: sb.id,
                    limits,
                },
            )?;
            Ok(())
        },
    );
    let s = session.clone();
    reg(
        docs,
        "usage",
        &["sandbox: Sandbox"],
        "/// What the sandbox's cgroups counted: #{ memory_current, memory_peak, oom_kills, pids_current, pids_limit_hits, cpu_usec, cpu_throttled_usec } (those its groups have).",
    )
    .register_into_engine(
        engine,
        move |ctx: NativeCallContext, sb: &mut Sandbox| -> R<Map> {
            let call = Call::new(&ctx, "usage", &[]);
            match call.perform(&s, Op::Usage { sandbox: sb.id })? {
                Output::Usage(u) => Ok(u
                    .into_iter()
                    .map(|(k, v)| (k.into(), Dynamic::from(v)))
                    .collect()),
                other => Err(call.bad(format!("unexpected result {other:?}"))),
            }
        },
    );
}
