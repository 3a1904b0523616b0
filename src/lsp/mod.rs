//! `nsr lsp`: a language server for recipes over stdio. It reads and checks; it runs no
//! recipe's code except through `nsr plan`'s recording backend, and touches nothing.
//!
//! `transport` frames JSON-RPC (forgiving: a malformed message gets an error, not the
//! end of the session); `server` keeps the open documents and answers; `lex`, `outline`
//! and `context` read a recipe as it is being typed; `knowledge` is what the engine says
//! about its primitives; one file per feature: `diagnostics`, `completion`, `hover`
//! (and signature help), `definition`, `symbols`, `plan`.

mod completion;
mod context;
mod definition;
mod diagnostics;
mod document;
mod hover;
mod knowledge;
mod lex;
mod outline;
mod plan;
mod server;
mod symbols;
mod transport;

pub use server::serve;

use crate::engine::modules::{locate, search_dirs, stdlib_source, Located};
use lex::{Kind, Token};
use lsp_types::{
    CodeActionProviderCapability, CompletionOptions, DocumentSymbol, ExecuteCommandOptions,
    HoverProviderCapability, OneOf, Range, ServerCapabilities, ServerInfo, SignatureHelpOptions,
    SymbolKind, TextDocumentSyncCapability, TextDocumentSyncKind,
};
use std::path::PathBuf;

/// What the server answers `initialize` with.
fn capabilities() -> serde_json::Value {
    let caps = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(
            TextDocumentSyncKind::INCREMENTAL,
        )),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some([".", ":", "\"", "{", ",", "["].map(String::from).to_vec()),
            ..Default::default()
        }),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        signature_help_provider: Some(SignatureHelpOptions {
            trigger_characters: Some(vec!["(".into(), ",".into()]),
            ..Default::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: vec![plan::SHOW_PLAN.into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    serde_json::json!({
        "capabilities": caps,
        "serverInfo": ServerInfo { name: "nsr".into(), version: Some(env!("CARGO_PKG_VERSION").into()) },
    })
}

/// The module `import "PATH"` in the document at `importer` gets, as `nsr run` finds
/// it: its file (None for the standard library) and its text.
fn module_file(
    importer: Option<&str>,
    path: &str,
    libs: &[PathBuf],
) -> Option<(Option<PathBuf>, String)> {
    // An unsaved buffer imports as a recipe in the working directory would.
    match locate(importer, path, &search_dirs(libs)).ok()? {
        Located::File(f) => {
            let text = std::fs::read_to_string(&f).ok()?;
            Some((Some(f.canonicalize().unwrap_or(f)), text))
        }
        Located::Stdlib(name) => Some((None, stdlib_source(name)?.to_string())),
    }
}

fn module_source(importer: Option<&str>, path: &str, libs: &[PathBuf]) -> Option<String> {
    module_file(importer, path, libs).map(|(_, text)| text)
}

/// The identifier token under (or just before) the cursor, with its index.
fn word_at(code: &[Token], offset: usize) -> Option<(usize, Token)> {
    code.iter()
        .enumerate()
        .find(|(_, t)| t.kind == Kind::Ident && t.start <= offset && offset <= t.end)
        .map(|(i, t)| (i, *t))
}

#[allow(deprecated)] // DocumentSymbol's `deprecated` field must still be written.
fn symbol_kind(
    name: String,
    detail: Option<String>,
    kind: SymbolKind,
    range: Range,
    selection_range: Range,
) -> DocumentSymbol {
    DocumentSymbol {
        name,
        detail,
        kind,
        tags: None,
        deprecated: None,
        range,
        selection_range,
        children: None,
    }
}
