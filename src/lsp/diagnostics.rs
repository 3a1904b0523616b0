//! Diagnostics: what `nsr check` finds (syntax errors, unknown functions and arities,
//! bad option maps and literal values, unresolved imports, undeclared parameters), each
//! on the exact token it is about.

use super::document::Document;
use super::lex::{self, Token};
use super::outline::matching;
use crate::engine::error::RecipeError;
use crate::engine::{Checker, Recipe};
use lsp_types::{Diagnostic, DiagnosticSeverity, Range};
use std::path::PathBuf;

pub fn diagnose(checker: &mut Checker, doc: &Document, libs: &[PathBuf]) -> Vec<Diagnostic> {
    let recipe = Recipe {
        path: doc.name(),
        source: doc.text.clone(),
        libs: libs.to_vec(),
        ..Default::default()
    };
    let report = checker.check(&recipe);
    let code = lex::code(&lex::tokens(&doc.text));
    let mut out = Vec::new();
    for e in &report.errors {
        let (line, column) = e.origin().map_or((1, 1), |o| (o.line, o.column));
        out.push(Diagnostic {
            range: token_range(doc, &code, line, column),
            severity: Some(DiagnosticSeverity::ERROR),
            source: Some("nsr".into()),
            message: message(e),
            ..Default::default()
        });
    }
    for (origin, text) in &report.warnings {
        out.push(Diagnostic {
            range: token_range(doc, &code, origin.line, origin.column),
            severity: Some(DiagnosticSeverity::WARNING),
            source: Some("nsr".into()),
            message: text.clone(),
            ..Default::default()
        });
    }
    out
}

/// The message as the CLI gives it, with its hint on a line of its own.
fn message(e: &RecipeError) -> String {
    match e {
        RecipeError::Script {
            message,
            hint: Some(hint),
            ..
        } => format!("{message}\nhint: {hint}"),
        other => other.to_string(),
    }
}

/// The token that starts at Rhai's position: a word, a string, a number, or a bracket
/// with everything up to its match (an option map); at the end of the text, nothing.
fn token_range(doc: &Document, code: &[Token], line: usize, column: usize) -> Range {
    let line = line.max(1);
    let offset = doc.offset_of_rhai(line, column.max(1));
    let found = code.iter().position(|t| t.start == offset).or_else(|| {
        code.iter()
            .position(|t| t.start <= offset && offset < t.end)
    });
    match found {
        Some(i) => {
            let t = code[i];
            let end = match t.text(&doc.text) {
                "(" | "[" | "{" | "#{" => code[matching(code, &doc.text, i)].end,
                _ => t.end,
            };
            doc.range(t.start, end)
        }
        None => {
            let end = doc.text[offset..]
                .chars()
                .next()
                .filter(|c| *c != '\n')
                .map_or(offset, |c| offset + c.len_utf8());
            doc.range(offset, end)
        }
    }
}
