//! What an environment's journal says is still there: its sandboxes, the namespaces it
//! made, and per namespace what the run touched (links, routes, sysctls, nft rules,
//! pasta), in the order the run made them.

use crate::env::store::{self, Record};
use crate::ops::net::{NetUndo, NsRef};
use crate::ops::{OpError, Undo};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

#[derive(Default)]
pub struct Made {
    /// Sandbox id -> (holder pid, its cgroups).
    pub sandboxes: BTreeMap<usize, (i32, Vec<String>)>,
    /// Named namespaces the run created.
    pub netns: Vec<String>,
    pub touched: HashMap<NsRef, Touched>,
    /// Namespaces (sandboxes included) in the order the journal first names them.
    pub order: Vec<NsRef>,
    /// The environment's directory (a kept sandbox's holder listens there).
    pub dir: PathBuf,
    /// When its run started (seconds since the epoch): a holder is the run's only if
    /// it is not younger.
    pub started: i64,
}

/// A NAT primitive's rules: its table and their (chain, handle)s; None for the first in
/// a namespace, which made the table (its rules: those no other claims).
pub type NatRecord = (String, Option<Vec<(String, u64)>>);

#[derive(Default)]
pub struct Touched {
    pub links: Vec<String>,
    pub routes: bool,
    pub sysctls: Vec<String>,
    pub rules: Vec<NatRecord>,
    pub usernet: Option<String>,
}

impl Made {
    fn at(&mut self, ns: &NsRef) -> &mut Touched {
        if !self.order.contains(ns) {
            self.order.push(ns.clone());
        }
        self.touched.entry(ns.clone()).or_default()
    }

    pub fn touched_by(&self, refs: &[NsRef]) -> Vec<&Touched> {
        refs.iter().filter_map(|r| self.touched.get(r)).collect()
    }
}

/// Reads environment `name`'s journal: the records done and not undone.
pub fn read(name: &str) -> Result<Made, OpError> {
    let dir = store::existing(
        name,
        "nsr ls lists them; nsr run --keep RECIPE makes one that stays",
    )?;
    let started = store::read_meta(&dir).map(|m| m.started).unwrap_or(0);
    let (records, _) = store::read_records(&dir);
    let mut live: BTreeMap<u64, (String, Undo)> = BTreeMap::new();
    for r in records {
        match r {
            Record::Done {
                seq, what, undo, ..
            } => {
                live.insert(seq, (what, undo));
            }
            Record::Undone { seq } => {
                live.remove(&seq);
            }
            _ => {}
        }
    }
    let mut made = Made {
        dir,
        started,
        ..Made::default()
    };
    for (what, undo) in live.into_values() {
        match undo {
            Undo::StopSandbox {
                sandbox,
                pid,
                cgroups,
            } => {
                made.at(&NsRef::Sandbox(sandbox));
                made.sandboxes.insert(sandbox, (pid, cgroups));
            }
            Undo::Net(u) => note(&mut made, &what, u),
            _ => {}
        }
    }
    Ok(made)
}

fn note(made: &mut Made, what: &str, u: NetUndo) {
    match u {
        NetUndo::DeleteNetns { name } => {
            made.at(&NsRef::Named(name.clone()));
            made.netns.push(name);
        }
        NetUndo::DeleteLink { ns, name, .. }
        | NetUndo::RestoreLink { ns, name, .. }
        | NetUndo::DeleteAddr { ns, dev: name, .. } => made.at(&ns).links.push(name),
        NetUndo::MoveBack { name, to, .. } => made.at(&to).links.push(name),
        NetUndo::DeleteRoute { ns, .. } => made.at(&ns).routes = true,
        NetUndo::RestoreSysctl { ns, key, .. } => made.at(&ns).sysctls.push(key),
        NetUndo::DeleteRules { ns, table, rules } => made.at(&ns).rules.push((table, Some(rules))),
        NetUndo::DeleteTable { ns, table } => made.at(&ns).rules.push((table, None)),
        NetUndo::StopPasta { ns, .. } => {
            let words = what.rsplit_once(" (").map_or(what, |(w, _)| w);
            made.at(&ns).usernet = Some(words.to_string());
        }
    }
}
