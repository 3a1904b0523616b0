//! Renders errors and rollback reports for people, once, at the edge: the recipe
//! position with its source line, the primitive call, the OS error by name, a hint.

use crate::engine::error::RecipeError;
use crate::journal::{Origin, UndoReport};
use crate::ops::UndoOutcome;
use crate::output::quiet;
use std::fmt::Write;

/// Finds the text of a recipe file by the name its origin carries.
pub trait SourceLookup {
    fn source(&self, file: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> SourceLookup for F {
    fn source(&self, file: &str) -> Option<String> {
        self(file)
    }
}

pub fn render_error(err: &RecipeError, sources: &dyn SourceLookup) -> String {
    let mut out = String::new();
    let (headline, call, hint) = match err {
        RecipeError::Primitive(f) => {
            let mut head = format!("{}: {}", primitive_name(&f.call), f.error.message);
            if let Some(n) = f.error.errno_text() {
                let _ = write!(head, ": {n}");
            }
            (head, Some(f.call.as_str()), f.error.hint.as_deref())
        }
        RecipeError::Syntax { message, .. } => (format!("syntax error: {message}"), None, None),
        RecipeError::Script { message, hint, .. } => (message.clone(), None, hint.as_deref()),
        RecipeError::Interrupted { signal, detail, .. } => {
            let head = match detail {
                Some(d) => format!("interrupted by {signal} ({d})"),
                None => format!("interrupted by {signal}"),
            };
            (head, None, None)
        }
        RecipeError::Unreadable { .. } => (err.to_string(), None, None),
    };
    let _ = writeln!(out, "error: {headline}");
    if let Some(origin) = err.origin().filter(|o| !o.file.is_empty()) {
        out.push_str(&snippet(origin, sources));
    }
    if let Some(call) = call {
        let _ = writeln!(out, "   = call: {call}");
    }
    if let Some(hint) = hint {
        let _ = writeln!(out, "   = hint: {hint}");
    }
    out
}

fn primitive_name(call: &str) -> &str {
    call.split('(').next().unwrap_or(call)
}

/// "  --> file:line:col", the source line, and a caret under the column.
fn snippet(origin: &Origin, sources: &dyn SourceLookup) -> String {
    let mut out = format!("  --> {origin}\n");
    let line = sources.source(&origin.file).and_then(|text| {
        text.lines()
            .nth(origin.line.saturating_sub(1))
            .map(str::to_string)
    });
    if let (Some(line), true) = (line, origin.line > 0) {
        let num = origin.line.to_string();
        let pad = " ".repeat(num.len());
        let caret_pad: String = line
            .chars()
            .take(origin.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{num} | {line}");
        let _ = writeln!(out, "{pad} | {caret_pad}^");
    }
    out
}

/// One line for an error of a command other than a recipe run (`nsr down`, `enter`,
/// `cache`): `nsr: WHAT: MESSAGE: ERRNO (description) (hint)`.
pub fn op_error_line(what: &str, e: &crate::ops::OpError) -> String {
    let mut line = format!("nsr: {what}: {}", e.message);
    if let Some(n) = e.errno_text() {
        line.push_str(&format!(": {n}"));
    }
    if let Some(h) = &e.hint {
        line.push_str(&format!(" ({h})"));
    }
    line.push('\n');
    line
}

/// The rollback list. After a failure or a signal every step is shown; after a normal
/// end only with `verbose`, or when an undo failed; with `-q` only the undos that failed.
pub fn render_undo(reports: &[UndoReport], after_failure: bool, verbose: bool) -> String {
    let failed = reports.iter().filter(|r| r.failed()).count();
    if reports.is_empty() || !(after_failure || verbose || failed > 0) {
        return String::new();
    }
    if quiet() && failed == 0 {
        return String::new();
    }
    let (after_failure, verbose) = if quiet() {
        (false, false)
    } else {
        (after_failure, verbose)
    };
    let mut out = String::new();
    let word = if after_failure {
        "rollback"
    } else {
        "teardown"
    };
    let _ = writeln!(out, "{word}: {} step(s), newest first", reports.len());
    for r in reports {
        if !verbose && !after_failure && !r.failed() {
            continue;
        }
        let mark = match &r.result {
            Err(_) => "  ! ",
            Ok(UndoOutcome::Done) => "  - ",
            Ok(_) => "  ~ ",
        };
        let _ = writeln!(out, "{mark}{r}");
    }
    if failed > 0 {
        let _ = writeln!(out, "{word}: {failed} undo step(s) FAILED; the resources named above are still on this host");
    }
    out
}

/// `nsr run --json`: the run as one JSON object: what was created (in order), how each
/// was undone, the error if any, and the exit status.
pub fn json_report(
    recipe: &str,
    result: &Result<crate::engine::RunEnd, RecipeError>,
    undone: &[UndoReport],
    code: i32,
) -> String {
    use serde_json::{json, Value};
    let origin = |o: &Origin| json!({ "file": o.file, "line": o.line, "column": o.column });
    let created: Vec<Value> = undone
        .iter()
        .rev()
        .filter(|r| !matches!(r.entry.undo, crate::ops::Undo::Settle))
        .map(|r| json!({ "what": r.entry.what, "origin": origin(&r.entry.origin) }))
        .collect();
    let undos: Vec<Value> = undone
        .iter()
        .map(|r| {
            let (outcome, error) = match &r.result {
                Ok(UndoOutcome::Done) => ("done", Value::Null),
                Ok(UndoOutcome::AlreadyGone) => ("already_gone", Value::Null),
                Ok(UndoOutcome::Released) => ("released", Value::Null),
                Err(e) => (
                    "failed",
                    json!({ "message": e.message, "errno": e.errno.map(|n| format!("{n:?}")), "left_behind": r.entry.undo.describe() }),
                ),
            };
            json!({ "what": r.entry.what, "origin": origin(&r.entry.origin), "undo": r.entry.undo.describe(), "outcome": outcome, "error": error })
        })
        .collect();
    let error = match result {
        Ok(_) => Value::Null,
        Err(e) => {
            let (call, errno, hint) = match e {
                RecipeError::Primitive(f) => (
                    Some(f.call.clone()),
                    f.error.errno.map(|n| format!("{n:?}")),
                    f.error.hint.clone(),
                ),
                RecipeError::Script { hint, .. } => (None, None, hint.clone()),
                _ => (None, None, None),
            };
            json!({
                "message": e.to_string(),
                "origin": e.origin().map(origin),
                "call": call,
                "errno": errno,
                "hint": hint,
            })
        }
    };
    json!({
        "recipe": recipe,
        "ok": result.is_ok() && undone.iter().all(|r| !r.failed()),
        "exit_code": code,
        "error": error,
        "created": created,
        "undone": undos,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::OpError;
    use crate::session::PrimitiveFailure;

    #[test]
    fn primitive_error_shows_position_source_call_errno_and_hint() {
        let f = PrimitiveFailure {
            call: r#"mount("proc", "/proc", "proc")"#.into(),
            origin: Origin {
                file: "box.nsr".into(),
                line: 2,
                column: 5,
            },
            error: OpError::os(
                nix::errno::Errno::EPERM,
                "cannot create the proc filesystem",
            )
            .with_hint("add pid"),
        };
        let src = |_: &str| {
            Some(
                "let b = unshare([\"mount\"]);\nb.  mount(\"proc\", \"/proc\", \"proc\");"
                    .to_string(),
            )
        };
        let text = render_error(&RecipeError::Primitive(f), &src);
        assert_eq!(
            text,
            "error: mount: cannot create the proc filesystem: EPERM (Operation not permitted)\n  --> box.nsr:2:5\n  |\n2 | b.  mount(\"proc\", \"/proc\", \"proc\");\n  |     ^\n   = call: mount(\"proc\", \"/proc\", \"proc\")\n   = hint: add pid\n"
        );
    }
}
