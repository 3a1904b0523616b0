//! How the REPL prints a value: a sandbox with its namespaces, a link with its state and
//! addresses, a netns with its links; anything else as Rhai writes it.

use crate::engine::net_values::{Link, Netns, VethPair};
use crate::engine::values::Sandbox;
use crate::journal::Origin;
use crate::ops::net::{NetOp, NetOutput, NsRef};
use crate::ops::{Op, Output};
use crate::session::Session;
use rhai::Dynamic;
use std::cell::RefCell;
use std::rc::Rc;

fn ask(session: &Rc<RefCell<Session>>, op: Op) -> Option<Output> {
    session
        .borrow_mut()
        .perform(op, "(the REPL's display)".into(), Origin::default())
        .ok()
        .map(|(output, _warnings)| output)
}

/// `eth0 (up, mtu 1500, 10.0.0.2/24)` for each link of a namespace, or one of them.
fn links(session: &Rc<RefCell<Session>>, ns: &NsRef, only: Option<&str>) -> Vec<String> {
    let Some(Output::Net(NetOutput::Links(links))) =
        ask(session, Op::Net(NetOp::Links { ns: ns.clone() }))
    else {
        return Vec::new();
    };
    let addrs = match ask(session, Op::Net(NetOp::Addrs { ns: ns.clone() })) {
        Some(Output::Net(NetOutput::Addrs(a))) => a,
        _ => Vec::new(),
    };
    links
        .into_iter()
        .filter(|l| only.is_none_or(|o| o == l.name))
        .map(|l| {
            let mut parts = vec![
                if l.up {
                    "up".to_string()
                } else {
                    "down".to_string()
                },
                l.kind.clone(),
                format!("mtu {}", l.mtu),
            ];
            parts.extend(
                addrs
                    .iter()
                    .filter(|a| a.dev == l.name && !a.cidr.addr.to_string().starts_with("fe80"))
                    .map(|a| a.cidr.to_string()),
            );
            format!("{} ({})", l.name, parts.join(", "))
        })
        .collect()
}

fn link(session: &Rc<RefCell<Session>>, l: &Link) -> String {
    match links(session, &l.ns, Some(&l.name)).pop() {
        Some(text) => format!("link {text} in {}", l.ns),
        None => format!("link {} in {} (not there now)", l.name, l.ns),
    }
}

pub fn value(v: &Dynamic, session: &Rc<RefCell<Session>>) -> String {
    if let Some(sb) = v.clone().try_cast::<Sandbox>() {
        let mut s = sb.describe();
        if let Some(Output::Namespaces(ns)) = ask(session, Op::Namespaces { pid: sb.pid as i32 }) {
            let own = std::process::id() as i32;
            let host = match ask(session, Op::Namespaces { pid: own }) {
                Some(Output::Namespaces(h)) => h,
                _ => Default::default(),
            };
            for (kind, ino) in ns {
                let tag = if host.get(&kind) == Some(&ino) {
                    "host's"
                } else {
                    "own"
                };
                s.push_str(&format!("\n  {kind:<7} {ino} ({tag})"));
            }
        }
        return s;
    }
    if let Some(n) = v.clone().try_cast::<Netns>() {
        let ls = links(session, &NsRef::Named(n.name.clone()), None);
        return format!("netns {}: {}", n.name, ls.join(", "));
    }
    if let Some(l) = v.clone().try_cast::<Link>() {
        return link(session, &l);
    }
    if let Some(p) = v.clone().try_cast::<VethPair>() {
        return format!(
            "veth pair\n  {}\n  {}",
            link(session, &p.host),
            link(session, &p.peer)
        );
    }
    if v.is_string() {
        return v.to_string();
    }
    format!("{v:?}")
}
