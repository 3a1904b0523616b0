//! `nsr plan`: what a recipe will do, worked out by running it against the recording
//! backend (which touches nothing), shown as the tutorial's own commands, with the undo
//! list in the order rollback would run it.
//!
//! Values a recipe reads back from the kernel are placeholders, and control flow that
//! depends on them follows these defaults (also in README "Plan"):
//! - a sandbox's pid is -1 for the first sandbox, -2 for the second, ...
//!   (`$SANDBOX0_PID`, `$SANDBOX1_PID` in the script);
//! - `run` succeeds with exit status 0 and empty output; `exec` returns 0;
//! - `hostname()` is `<hostname>`; `links()` lists the links the recipe made there (what
//!   existed before is not known); `namespaces()`, `mountinfo()`, `addrs()` and
//!   `routes()` are empty;
//! - `rootfs_cache` answers `<cache>/<sha256 of the archive>`.
//!
//! Each step that reads such a value back says so in the plan.

pub mod shell;

use crate::engine::error::RecipeError;
use crate::engine::limits::Limits;
use crate::engine::Recipe;
use crate::journal::{Origin, UndoReport};
use crate::ops::Op;
use crate::session::TraceItem;
use serde_json::{json, Value};
use shell::{Commands, ShellWriter};
use std::collections::HashMap;

/// One operation of the plan.
#[derive(Debug, Clone)]
pub struct PlanStep {
    pub seq: u64,
    pub origin: Origin,
    pub call: String,
    pub primitive: &'static str,
    pub commands: Commands,
    /// What the step reads back from the kernel (a placeholder in the plan).
    pub reads_back: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub enum PlanItem {
    Step(PlanStep),
    Print(String),
}

/// One undo, in the order rollback runs them.
#[derive(Debug, Clone)]
pub struct PlanUndo {
    pub seq: u64,
    pub origin: Origin,
    /// What the step made.
    pub what: String,
    /// How nsr takes it back, in words.
    pub undo: String,
    pub commands: Vec<String>,
}

pub struct Plan {
    pub recipe: String,
    pub items: Vec<PlanItem>,
    pub undos: Vec<PlanUndo>,
    pub error: Option<RecipeError>,
}

/// What an operation reads back from the kernel, if anything.
pub fn reads_back(op: &Op) -> Option<&'static str> {
    use crate::ops::net::NetOp;
    use crate::ops::rootfs::RootfsOp;
    match op {
        Op::Unshare(_) => Some("the sandbox's pid"),
        Op::Run { .. } => Some("the command's exit status and output"),
        Op::Exec { .. } => Some("the command's exit status"),
        Op::GetHostname { .. } => Some("the hostname"),
        Op::Namespaces { .. } => Some("the namespace identities"),
        Op::MountInfo { .. } => Some("the mount table"),
        Op::Net(NetOp::Links { .. }) => Some("the links"),
        Op::Net(NetOp::Addrs { .. }) => Some("the addresses"),
        Op::Net(NetOp::Routes { .. }) => Some("the routes"),
        Op::Rootfs(RootfsOp::Cached { .. }) => Some("the cache entry's path"),
        _ => None,
    }
}

/// Runs `recipe` against the recording backend and returns its plan.
pub fn plan(recipe: &Recipe, limits: &Limits) -> Plan {
    let trace = crate::session::Trace::default();
    let outcome = crate::engine::run_traced(recipe, limits, trace.clone());
    let items = trace.borrow().clone();
    build(
        recipe.path.clone(),
        items,
        &outcome.undone,
        outcome.result.err(),
    )
}

/// The plan from what a traced session saw and the undos its rollback ran.
pub fn build(
    recipe: String,
    trace: Vec<TraceItem>,
    undone: &[UndoReport],
    error: Option<RecipeError>,
) -> Plan {
    let mut writer = ShellWriter::default();
    let mut undo_of: HashMap<u64, Vec<String>> = HashMap::new();
    let mut items = Vec::new();
    for t in trace {
        match t {
            TraceItem::Op {
                seq,
                origin,
                call,
                op,
                undo,
            } => {
                let commands = writer.step(&op, undo.as_ref());
                undo_of.insert(seq, commands.undo.clone());
                items.push(PlanItem::Step(PlanStep {
                    seq,
                    origin,
                    call,
                    primitive: op.primitive(),
                    reads_back: reads_back(&op),
                    commands,
                }));
            }
            TraceItem::Print(s) => items.push(PlanItem::Print(s)),
        }
    }
    let undos = undone
        .iter()
        .filter(|r| !matches!(r.entry.undo, crate::ops::Undo::Settle))
        .map(|r| PlanUndo {
            seq: r.entry.seq,
            origin: r.entry.origin.clone(),
            what: r.entry.what.clone(),
            undo: r.entry.undo.describe(),
            commands: undo_of.get(&r.entry.seq).cloned().unwrap_or_default(),
        })
        .collect();
    Plan {
        recipe,
        items,
        undos,
        error,
    }
}

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| format!("{by}{l}\n"))
        .collect::<String>()
}

impl Plan {
    /// For a person: each step with the recipe line and its commands, what is a
    /// placeholder, then the rollback.
    pub fn text(&self, error_text: Option<&str>) -> String {
        let mut s = format!(
            "plan of {} (nothing was done; values read back from the kernel are placeholders)\n\n",
            self.recipe
        );
        for item in &self.items {
            match item {
                PlanItem::Step(st) => {
                    s.push_str(&format!("{:>3}  {}  {}\n", st.seq, st.origin, st.call));
                    for c in st.commands.all() {
                        s.push_str(&indent(c, "       $ "));
                    }
                    if let Some(r) = st.reads_back {
                        s.push_str(&format!(
                            "       reads back {r}: a placeholder in this plan\n"
                        ));
                    }
                }
                PlanItem::Print(p) => s.push_str(&indent(p, "     | ")),
            }
        }
        if let Some(e) = error_text {
            s.push_str(&format!("\nthe recipe fails here:\n{}", indent(e, "  ")));
        }
        s.push_str(&format!(
            "\nrollback, newest first ({} undo(s), as nsr runs them when the recipe ends or fails):\n",
            self.undos.len()
        ));
        for u in &self.undos {
            s.push_str(&format!("{:>3}  {}  {}\n", u.seq, u.origin, u.what));
            for c in &u.commands {
                s.push_str(&indent(c, "       $ "));
            }
            if u.commands.is_empty() {
                s.push_str(&format!("       (nothing to run by hand: {})\n", u.undo));
            }
        }
        s
    }

    /// A script that does the same by hand, its teardown as a trap.
    pub fn shell(&self) -> String {
        let mut s = format!(
            "#!/bin/sh\n# {} as the commands nsr stands for (`nsr plan --format shell`).\n# Run as root. On exit or on any error, the trap undoes what was done, newest first.\nset -eu\n",
            self.recipe
        );
        s.push_str(&shell::prelude());
        for item in &self.items {
            match item {
                PlanItem::Step(st) => {
                    s.push_str(&format!("\n# {}  {}\n", st.origin, st.call));
                    if let Some(r) = st.reads_back {
                        s.push_str(&format!("# (reads back {r})\n"));
                    }
                    for c in &st.commands.run {
                        s.push_str(c);
                        s.push('\n');
                    }
                    if !st.commands.undo.is_empty() {
                        s.push_str(&format!(
                            "undo_push {}\n",
                            crate::ops::shell_quote(&st.commands.undo.join("\n"))
                        ));
                    }
                    for c in &st.commands.then {
                        s.push_str(c);
                        s.push('\n');
                    }
                }
                PlanItem::Print(p) => {
                    s.push_str(&format!("echo {}\n", crate::ops::shell_quote(p)));
                }
            }
        }
        if self.error.is_some() {
            s.push_str("\n# the recipe fails here\nexit 1\n");
        }
        s
    }

    pub fn json(&self, error_text: Option<&str>) -> Value {
        let origin = |o: &Origin| json!({ "file": o.file, "line": o.line, "column": o.column });
        let items: Vec<Value> = self
            .items
            .iter()
            .map(|i| match i {
                PlanItem::Step(st) => json!({
                    "kind": "op",
                    "seq": st.seq,
                    "origin": origin(&st.origin),
                    "primitive": st.primitive,
                    "call": st.call,
                    "commands": st.commands.all().collect::<Vec<_>>(),
                    "undo_commands": st.commands.undo,
                    "reads_back": st.reads_back,
                }),
                PlanItem::Print(p) => json!({ "kind": "print", "text": p }),
            })
            .collect();
        let undos: Vec<Value> = self
            .undos
            .iter()
            .map(|u| {
                json!({
                    "seq": u.seq,
                    "origin": origin(&u.origin),
                    "what": u.what,
                    "undo": u.undo,
                    "commands": u.commands,
                })
            })
            .collect();
        json!({
            "recipe": self.recipe,
            "ok": self.error.is_none(),
            "error": error_text,
            "steps": items,
            "rollback": undos,
        })
    }
}
