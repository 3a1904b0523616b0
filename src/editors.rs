//! What editors need to know about `.nsr`, taken from the engine itself: the names of
//! the primitives and of the standard library's modules and functions. `nsr doc --json`
//! prints it; the TextMate grammar (VS Code) and the Vim syntax file under editors/ are
//! generated from it, and a test fails when they are stale.

use crate::backend::recording::RecordingBackend;
use crate::engine::build_engine;
use crate::engine::limits::Limits;
use crate::engine::modules::{fn_docs, STDLIB};
use crate::session::Session;
use crate::signals::Signals;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

/// Rhai's keywords as the editors colour them.
pub const CONTROL_KEYWORDS: &[&str] = &[
    "if", "else", "for", "in", "while", "loop", "do", "until", "break", "continue", "return",
    "throw", "try", "catch", "switch",
];
pub const OTHER_KEYWORDS: &[&str] = &["let", "const", "fn", "private", "import", "export", "as"];

#[derive(Debug, Clone, Serialize)]
pub struct PrimitiveMeta {
    pub name: String,
    pub params: Vec<String>,
    pub doc: String,
    /// Called on a value (`box.mount(...)`): the first parameter is the receiver.
    pub method: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FunctionMeta {
    pub name: String,
    pub params: String,
    pub doc: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModuleMeta {
    pub name: String,
    pub functions: Vec<FunctionMeta>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    pub primitives: Vec<PrimitiveMeta>,
    pub modules: Vec<ModuleMeta>,
    pub keywords: Vec<String>,
}

/// The engine's primitives and the standard library, as editors see them.
pub fn metadata() -> Metadata {
    let session = Rc::new(RefCell::new(Session::new(Box::new(
        RecordingBackend::default(),
    ))));
    let (_, docs) = build_engine(session, &Limits::default(), &Signals::none());
    let primitives = docs
        .iter()
        .map(|d| PrimitiveMeta {
            name: d.name.to_string(),
            params: d.params.iter().map(|p| p.to_string()).collect(),
            doc: d.doc.to_string(),
            method: d.is_method(),
        })
        .collect();
    let modules = STDLIB
        .iter()
        .map(|(name, src)| ModuleMeta {
            name: name.to_string(),
            functions: fn_docs(src)
                .into_iter()
                .map(|f| FunctionMeta {
                    name: f.name,
                    params: f.params,
                    doc: f.doc,
                })
                .collect(),
        })
        .collect();
    let keywords = CONTROL_KEYWORDS
        .iter()
        .chain(OTHER_KEYWORDS)
        .map(|k| k.to_string())
        .collect();
    Metadata {
        primitives,
        modules,
        keywords,
    }
}

fn primitive_names(meta: &Metadata) -> Vec<String> {
    let names: BTreeSet<String> = meta.primitives.iter().map(|p| p.name.clone()).collect();
    names.into_iter().collect()
}

fn module_names(meta: &Metadata) -> Vec<String> {
    meta.modules.iter().map(|m| m.name.clone()).collect()
}

const GENERATED: &str =
    "generated from the nsr engine by `cargo run --example regenerate`: do not edit";

/// editors/vscode/syntaxes/nsr.tmLanguage.json
pub fn textmate_grammar(meta: &Metadata) -> String {
    let alt = |names: &[String]| names.join("|");
    let grammar = serde_json::json!({
        "$comment": GENERATED,
        "name": "nsr",
        "scopeName": "source.nsr",
        "fileTypes": ["nsr"],
        "patterns": [
            { "include": "#comments" },
            { "include": "#strings" },
            { "include": "#numbers" },
            { "include": "#modules" },
            { "include": "#functions" },
            { "include": "#keywords" },
            { "include": "#primitives" },
            { "include": "#variables" }
        ],
        "repository": {
            "comments": { "patterns": [
                { "name": "comment.line.documentation.nsr", "match": "///.*$" },
                { "name": "comment.line.documentation.nsr", "match": "//!.*$" },
                { "name": "comment.line.double-slash.nsr", "match": "//.*$" },
                { "name": "comment.block.nsr", "begin": "/\\*", "end": "\\*/" }
            ]},
            "strings": { "patterns": [
                { "name": "string.quoted.double.nsr", "begin": "\"", "end": "\"",
                  "patterns": [{ "name": "constant.character.escape.nsr", "match": "\\\\." }] },
                { "name": "string.template.nsr", "begin": "`", "end": "`",
                  "patterns": [
                      { "name": "constant.character.escape.nsr", "match": "\\\\." },
                      { "name": "meta.embedded.interpolation.nsr", "begin": "\\$\\{", "end": "\\}",
                        "patterns": [{ "include": "$self" }] }
                  ] },
                { "name": "string.quoted.single.nsr", "match": "'(\\\\.|[^'\\\\])'" }
            ]},
            "numbers": { "patterns": [
                { "name": "constant.numeric.hex.nsr", "match": "\\b0x[0-9a-fA-F_]+\\b" },
                { "name": "constant.numeric.nsr", "match": "\\b[0-9][0-9_]*(\\.[0-9_]+)?([eE][+-]?[0-9]+)?\\b" }
            ]},
            "modules": { "patterns": [
                { "match": format!("\\b({})(::)([A-Za-z_][A-Za-z0-9_]*)", alt(&module_names(meta))),
                  "captures": {
                      "1": { "name": "entity.name.namespace.stdlib.nsr" },
                      "2": { "name": "punctuation.separator.namespace.nsr" },
                      "3": { "name": "support.function.stdlib.nsr" }
                  } },
                { "match": "\\b([A-Za-z_][A-Za-z0-9_]*)(::)([A-Za-z_][A-Za-z0-9_]*)",
                  "captures": {
                      "1": { "name": "entity.name.namespace.nsr" },
                      "2": { "name": "punctuation.separator.namespace.nsr" },
                      "3": { "name": "entity.name.function.nsr" }
                  } },
                { "match": "\\b(import)\\s+(\"[^\"]*\")\\s+(as)\\s+([A-Za-z_][A-Za-z0-9_]*)",
                  "captures": {
                      "1": { "name": "keyword.other.import.nsr" },
                      "2": { "name": "string.quoted.double.nsr" },
                      "3": { "name": "keyword.other.as.nsr" },
                      "4": { "name": "entity.name.namespace.nsr" }
                  } }
            ]},
            "keywords": { "patterns": [
                { "name": "keyword.control.nsr", "match": format!("\\b({})\\b", CONTROL_KEYWORDS.join("|")) },
                { "name": "keyword.other.nsr", "match": format!("\\b({})\\b", OTHER_KEYWORDS.join("|")) },
                { "name": "constant.language.boolean.nsr", "match": "\\b(true|false)\\b" },
                { "name": "variable.language.nsr", "match": "\\b(this|args)\\b" }
            ]},
            "functions": { "patterns": [
                { "match": "\\b(fn)\\s+([A-Za-z_][A-Za-z0-9_]*)",
                  "captures": {
                      "1": { "name": "keyword.other.nsr" },
                      "2": { "name": "entity.name.function.nsr" }
                  } }
            ]},
            "primitives": { "patterns": [
                { "name": "support.function.primitive.nsr",
                  "match": format!("\\b({})\\b(?=\\s*\\()", alt(&primitive_names(meta))) }
            ]},
            "variables": { "patterns": [
                { "name": "variable.other.nsr", "match": "\\b[A-Za-z_][A-Za-z0-9_]*\\b" }
            ]}
        }
    });
    let mut text = serde_json::to_string_pretty(&grammar).expect("the grammar is JSON");
    text.push('\n');
    text
}

/// editors/vim/syntax/nsr.vim
pub fn vim_syntax(meta: &Metadata) -> String {
    let wrap = |group: &str, words: &[String]| -> String {
        words
            .chunks(8)
            .map(|c| format!("syn keyword {group} {}\n", c.join(" ")))
            .collect()
    };
    let control: Vec<String> = CONTROL_KEYWORDS.iter().map(|s| s.to_string()).collect();
    let other: Vec<String> = OTHER_KEYWORDS.iter().map(|s| s.to_string()).collect();
    let mut s = String::new();
    s.push_str(&format!(
        "\" Vim syntax file for nsr recipes (.nsr)\n\" {GENERATED}\n"
    ));
    s.push_str("if exists('b:current_syntax')\n  finish\nendif\n\n");
    s.push_str(&wrap("nsrConditional", &control));
    s.push_str(&wrap("nsrKeyword", &other));
    s.push_str("syn keyword nsrBoolean true false\n");
    s.push_str("syn keyword nsrArgs args this\n");
    // Only before `(`: `link` or `run` as a variable name stays a variable.
    s.push_str(&format!(
        "syn match nsrPrimitive \"\\<\\({}\\)\\ze\\s*(\"\n",
        primitive_names(meta).join("\\|")
    ));
    s.push_str(&format!(
        "syn match nsrModule \"\\<\\({}\\)\\ze::\"\n",
        module_names(meta).join("\\|")
    ));
    s.push_str("syn match nsrModuleFunction \"::\\zs\\h\\w*\"\n");
    s.push_str("syn match nsrFunction \"\\<fn\\s\\+\\zs\\h\\w*\"\n");
    s.push_str("syn match nsrNumber \"\\<\\d[0-9_]*\\(\\.\\d\\+\\)\\=\\>\"\n");
    s.push_str("syn match nsrNumber \"\\<0x\\x\\+\\>\"\n");
    s.push_str("syn match nsrEscape \"\\\\.\" contained\n");
    s.push_str("syn region nsrString start=+\"+ skip=+\\\\.+ end=+\"+ contains=nsrEscape\n");
    s.push_str("syn region nsrTemplate start=+`+ skip=+\\\\.+ end=+`+ contains=nsrEscape\n");
    s.push_str("syn match nsrComment \"//.*$\" contains=@Spell\n");
    s.push_str("syn match nsrDocComment \"//[/!].*$\" contains=@Spell\n");
    s.push_str("syn region nsrComment start=\"/\\*\" end=\"\\*/\" contains=@Spell\n\n");
    for (group, link) in [
        ("nsrConditional", "Conditional"),
        ("nsrKeyword", "Keyword"),
        ("nsrBoolean", "Boolean"),
        ("nsrArgs", "Identifier"),
        ("nsrPrimitive", "Function"),
        ("nsrModule", "Include"),
        ("nsrModuleFunction", "Function"),
        ("nsrFunction", "Function"),
        ("nsrNumber", "Number"),
        ("nsrEscape", "SpecialChar"),
        ("nsrString", "String"),
        ("nsrTemplate", "String"),
        ("nsrComment", "Comment"),
        ("nsrDocComment", "SpecialComment"),
    ] {
        s.push_str(&format!("hi def link {group} {link}\n"));
    }
    s.push_str("\nlet b:current_syntax = 'nsr'\n");
    s
}

/// The editor files generated from the engine, each with its path in the repository:
/// what `cargo run --example regenerate` writes and tests/editors.rs checks.
pub fn generated_files() -> Vec<(&'static str, String)> {
    let meta = metadata();
    vec![
        (
            "editors/vscode/syntaxes/nsr.tmLanguage.json",
            textmate_grammar(&meta),
        ),
        ("editors/vim/syntax/nsr.vim", vim_syntax(&meta)),
    ]
}
