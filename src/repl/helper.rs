//! What the REPL's line editor knows about nsr: completion of primitives, standard
//! library functions, variables and methods; a primitive's signature as a hint while
//! typing; syntax colours; and when input is unfinished (an open brace, string or call).

use crate::editors::{CONTROL_KEYWORDS, OTHER_KEYWORDS};
use crate::engine::PrimitiveDoc;
use rhai::{Engine, ParseErrorType};
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

pub const META_COMMANDS: &[(&str, &str)] = &[
    (
        ":help",
        "[NAME]  a primitive's or function's signature and doc; without NAME, everything",
    ),
    (":undo", "undo the last statement that created something"),
    (":rollback", "undo everything the session created"),
    (
        ":state",
        "what the session holds, in creation order, with each undo",
    ),
    (
        ":save",
        "FILE  write the statements that succeeded as a recipe",
    ),
    (":load", "FILE  run a recipe into the session"),
    (
        ":graph",
        "[FILE]  draw the session's network and sandboxes (svg, html, dot, mermaid, json by FILE's ending)",
    ),
    (
        ":plan",
        "STATEMENT  what it would do, as commands, and its undo; nothing is done",
    ),
    (
        ":keep",
        "leave, keeping everything as an environment (nsr enter / nsr down NAME)",
    ),
    (":quit", "undo everything and leave (also Ctrl-D)"),
];

/// Rhai's keywords, as the editors' files list them, and the literals.
fn keywords() -> impl Iterator<Item = &'static str> {
    CONTROL_KEYWORDS
        .iter()
        .chain(OTHER_KEYWORDS)
        .chain(&["true", "false", "this"])
        .copied()
}

/// Value properties a recipe reads with `.`, beside the methods.
const PROPERTIES: &[&str] = &[
    "pid", "kinds", "name", "path", "host", "peer", "stdout", "stderr", "code", "ok", "signal",
    "message", "errno", "hint", "call",
];

pub struct ReplHelper {
    docs: Vec<PrimitiveDoc>,
    stdlib: Vec<String>,
    /// The names of the variables in scope, kept current by the REPL.
    pub variables: Rc<RefCell<Vec<String>>>,
    parser: Engine,
    /// NO_COLOR (https://no-color.org) turns the colours off.
    colour: bool,
}

impl ReplHelper {
    pub fn new(docs: Vec<PrimitiveDoc>, stdlib: Vec<String>) -> ReplHelper {
        ReplHelper {
            docs,
            stdlib,
            variables: Rc::new(RefCell::new(Vec::new())),
            parser: Engine::new_raw(),
            colour: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn candidates(&self, word: &str, after_dot: bool, line: &str) -> Vec<String> {
        let mut out = BTreeSet::new();
        if line.trim_start().starts_with(':') && !line.contains(' ') {
            for (m, _) in META_COMMANDS {
                out.insert(m.to_string());
            }
        } else if after_dot {
            for d in self.docs.iter().filter(|d| d.is_method()) {
                out.insert(d.name.to_string());
            }
            for p in PROPERTIES {
                out.insert(p.to_string());
            }
        } else {
            for d in self.docs.iter().filter(|d| !d.is_method()) {
                out.insert(d.name.to_string());
            }
            for s in &self.stdlib {
                out.insert(s.clone());
            }
            for k in keywords() {
                out.insert(k.to_string());
            }
            for v in self.variables.borrow().iter() {
                out.insert(v.clone());
            }
        }
        out.into_iter().filter(|c| c.starts_with(word)).collect()
    }

    /// `name(a, b)`: the signatures of a primitive, for `:help` and hints.
    pub fn signatures(&self, name: &str) -> Vec<&PrimitiveDoc> {
        self.docs.iter().filter(|d| d.name == name).collect()
    }
}

fn word_start(line: &str, pos: usize) -> usize {
    line[..pos]
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == ':')
        .last()
        .map(|(i, _)| i)
        .unwrap_or(pos)
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = word_start(line, pos);
        let word = &line[start..pos];
        let after_dot = line[..start].ends_with('.');
        let pairs = self
            .candidates(word, after_dot, line)
            .into_iter()
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;

    /// Right after `name(`, the parameters the primitive takes.
    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        if pos != line.len() || !line.ends_with('(') {
            return None;
        }
        let before = &line[..line.len() - 1];
        let name = &before[word_start(before, before.len())..];
        let method = before[..before.len() - name.len()].ends_with('.');
        let sigs: Vec<String> = self
            .signatures(name)
            .into_iter()
            .filter(|d| d.is_method() == method)
            .map(|d| {
                let params = if method { &d.params[1..] } else { d.params };
                params.join(", ")
            })
            .collect();
        if sigs.is_empty() {
            return None;
        }
        Some(format!("{})", sigs.join(")  |  (")))
    }
}

const RESET: &str = "\x1b[0m";

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if !self.colour {
            return Cow::Borrowed(line);
        }
        if line.trim_start().starts_with(':') {
            return Cow::Owned(format!("\x1b[35m{line}{RESET}"));
        }
        let mut out = String::with_capacity(line.len() * 2);
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '/' && chars.get(i + 1) == Some(&'/') {
                let rest: String = chars[i..].iter().collect();
                out.push_str(&format!("\x1b[2m{rest}{RESET}"));
                break;
            } else if c == '"' || c == '`' {
                let mut j = i + 1;
                while j < chars.len() && chars[j] != c {
                    if chars[j] == '\\' {
                        j += 1;
                    }
                    j += 1;
                }
                let s: String = chars[i..(j + 1).min(chars.len())].iter().collect();
                out.push_str(&format!("\x1b[32m{s}{RESET}"));
                i = j + 1;
                continue;
            } else if c.is_ascii_digit() {
                let mut j = i;
                while j < chars.len()
                    && (chars[j].is_ascii_alphanumeric() || chars[j] == '.' || chars[j] == '_')
                {
                    j += 1;
                }
                let s: String = chars[i..j].iter().collect();
                out.push_str(&format!("\x1b[33m{s}{RESET}"));
                i = j;
                continue;
            } else if c.is_alphabetic() || c == '_' {
                let mut j = i;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                let w: String = chars[i..j].iter().collect();
                if keywords().any(|k| k == w) {
                    out.push_str(&format!("\x1b[1;34m{w}{RESET}"));
                } else if self.docs.iter().any(|d| d.name == w) {
                    out.push_str(&format!("\x1b[36m{w}{RESET}"));
                } else {
                    out.push_str(&w);
                }
                i = j;
                continue;
            }
            out.push(c);
            i += 1;
        }
        Cow::Owned(out)
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if !self.colour {
            return Cow::Borrowed(hint);
        }
        Cow::Owned(format!("\x1b[2m{hint}{RESET}"))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.colour
    }
}

impl Validator for ReplHelper {
    /// Unfinished input (an open brace, call or backtick string) continues on the next
    /// line instead of being an error.
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        if input.trim_start().starts_with(':') {
            return Ok(ValidationResult::Valid(None));
        }
        Ok(if incomplete(&self.parser, input) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

/// Whether `input` is a statement cut short rather than a wrong one.
pub fn incomplete(parser: &Engine, input: &str) -> bool {
    match parser.compile(input) {
        Ok(_) => false,
        Err(e) => match e.err_type() {
            ParseErrorType::UnexpectedEOF => true,
            ParseErrorType::MissingToken(..) => at_end(&e, input),
            _ => false,
        },
    }
}

fn at_end(e: &rhai::ParseError, input: &str) -> bool {
    // A missing `}` or `)` reported at (or past) the last character means the input ended early.
    let lines = input.lines().count().max(1);
    let last_len = input.lines().last().map(|s| s.chars().count()).unwrap_or(0);
    match e.position().line() {
        None => true,
        Some(l) => l >= lines && e.position().position().unwrap_or(usize::MAX) >= last_len,
    }
}

impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_blocks_and_calls_are_unfinished() {
        let p = Engine::new_raw();
        assert!(incomplete(&p, "fn f() {"));
        assert!(incomplete(&p, "let x = [1, 2,"));
        assert!(incomplete(&p, "if true { print(1);"));
        assert!(!incomplete(&p, "let x = 1;"));
        assert!(!incomplete(&p, "let = ;"));
    }

    #[test]
    fn completes_names_methods_and_meta_commands() {
        let docs = vec![
            PrimitiveDoc {
                name: "unshare",
                params: &["kinds: Array"],
                doc: "",
            },
            PrimitiveDoc {
                name: "mount",
                params: &["sandbox: Sandbox", "source: String"],
                doc: "",
            },
        ];
        let h = ReplHelper::new(docs, vec!["print".into()]);
        h.variables.borrow_mut().push("box".into());
        assert_eq!(h.candidates("uns", false, "uns"), vec!["unshare"]);
        assert_eq!(h.candidates("mo", true, "box.mo"), vec!["mount"]);
        assert!(h.candidates("mo", false, "mo").is_empty());
        assert_eq!(h.candidates("bo", false, "bo"), vec!["box"]);
        assert_eq!(h.candidates(":un", false, ":un"), vec![":undo"]);
    }

    #[test]
    fn hints_show_the_parameters_after_an_open_paren() {
        let docs = vec![
            PrimitiveDoc {
                name: "unshare",
                params: &["kinds: Array"],
                doc: "",
            },
            PrimitiveDoc {
                name: "unshare",
                params: &["options: Map"],
                doc: "",
            },
            PrimitiveDoc {
                name: "mount",
                params: &["sandbox: Sandbox", "source: String"],
                doc: "",
            },
        ];
        let h = ReplHelper::new(docs, vec![]);
        let history = rustyline::history::DefaultHistory::new();
        let ctx = Context::new(&history);
        assert_eq!(
            h.hint("let b = unshare(", 16, &ctx).as_deref(),
            Some("kinds: Array)  |  (options: Map)")
        );
        assert_eq!(
            h.hint("b.mount(", 8, &ctx).as_deref(),
            Some("source: String)")
        );
        assert_eq!(h.hint("mount(", 6, &ctx), None);
        assert_eq!(h.hint("b.mount", 7, &ctx), None);
    }
}
