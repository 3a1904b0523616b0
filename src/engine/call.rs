//! What every primitive shares: one call's words and place in the recipe (for its
//! errors and its journal entry), how arguments read back, and the registration that
//! also records the primitive's documentation.

use super::values::{failure_to_rhai, Sandbox};
use crate::journal::Origin;
use crate::ops::{Op, OpError, Output};
use crate::session::{PrimitiveFailure, Session};
use rhai::{Dynamic, EvalAltResult, FuncRegistration, NativeCallContext, Position};
use std::cell::RefCell;
use std::rc::Rc;

pub(super) type Shared = Rc<RefCell<Session>>;
pub(super) type R<T> = Result<T, Box<EvalAltResult>>;

/// One call of a primitive: its words as the recipe wrote them and where.
pub(super) struct Call {
    text: String,
    origin: Origin,
    pos: Position,
}

impl Call {
    pub(super) fn new(ctx: &NativeCallContext, name: &str, args: &[Dynamic]) -> Call {
        let pos = ctx.call_position();
        let shown: Vec<String> = args.iter().map(show).collect();
        Call {
            text: format!("{name}({})", shown.join(", ")),
            origin: Origin {
                file: ctx.call_source().unwrap_or("<recipe>").to_string(),
                line: pos.line().unwrap_or(0),
                column: pos.position().unwrap_or(0),
            },
            pos,
        }
    }

    pub(super) fn fail(&self, error: OpError) -> Box<EvalAltResult> {
        failure_to_rhai(
            PrimitiveFailure {
                call: self.text.clone(),
                origin: self.origin.clone(),
                error,
            },
            self.pos,
        )
    }

    /// A recipe mistake found before anything touched the system.
    pub(super) fn bad(&self, message: String) -> Box<EvalAltResult> {
        self.fail(OpError::new(message))
    }

    /// Has the session do `op`; its warnings are shown here, located at this call.
    pub(super) fn perform(&self, session: &Shared, op: Op) -> R<Output> {
        let (output, warnings) = session
            .borrow_mut()
            .perform(op, self.text.clone(), self.origin.clone())
            .map_err(|f| failure_to_rhai(f, self.pos))?;
        for warning in warnings {
            crate::output::note(&crate::output::render_warning(&self.origin, &warning));
        }
        Ok(output)
    }
}

/// How an argument reads back in an error message: strings quoted, maps and arrays short.
pub(super) fn show(d: &Dynamic) -> String {
    if d.is_string() {
        format!("{:?}", d.clone().into_string().unwrap_or_default())
    } else if let Some(sb) = d.clone().try_cast::<Sandbox>() {
        sb.describe()
    } else if let Some(n) = d.clone().try_cast::<super::net_values::Netns>() {
        n.describe()
    } else if let Some(l) = d.clone().try_cast::<super::net_values::Link>() {
        l.describe()
    } else if let Some(m) = d.read_lock::<rhai::Map>() {
        // Values of nsr's own types inside read as themselves, not as type names.
        let items: Vec<String> = m.iter().map(|(k, v)| format!("{k}: {}", show(v))).collect();
        format!("#{{ {} }}", items.join(", "))
    } else if let Some(a) = d.read_lock::<rhai::Array>() {
        format!("[{}]", a.iter().map(show).collect::<Vec<_>>().join(", "))
    } else {
        let s = d.to_string();
        if s.len() > 120 {
            format!(
                "{}...",
                &s[..s.char_indices().nth(117).map(|(i, _)| i).unwrap_or(s.len())]
            )
        } else {
            s
        }
    }
}

/// A primitive as `nsr check` (and later `nsr doc`) knows it. Methods list their
/// receiver as the first parameter.
#[derive(Debug, Clone)]
pub struct PrimitiveDoc {
    pub name: &'static str,
    pub params: &'static [&'static str],
    pub doc: &'static str,
}

impl PrimitiveDoc {
    /// Called on a value (`box.mount(...)`): its receiver is a sandbox, netns or link.
    pub fn is_method(&self) -> bool {
        self.params.first().is_some_and(|p| {
            let ty = p.split(':').nth(1).unwrap_or("");
            ["Sandbox", "Netns", "Link"].iter().any(|t| ty.contains(t))
        })
    }
}

pub(super) fn reg(
    docs: &mut Vec<PrimitiveDoc>,
    name: &'static str,
    params: &'static [&'static str],
    doc: &'static str,
) -> FuncRegistration {
    docs.push(PrimitiveDoc {
        name,
        params,
        doc: doc.trim_start_matches("/// "),
    });
    // Volatile: the optimizer must never call a primitive at compile time (`nsr check`).
    FuncRegistration::new(name)
        .with_volatility(true)
        .with_purity(true)
}
