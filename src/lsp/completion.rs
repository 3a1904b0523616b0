//! Completion: primitives, the recipe's functions and variables, imported modules and
//! Rhai's functions where code goes; methods by the receiver's type after `.`; a
//! module's functions after `alias::`; a primitive's option keys inside its `#{ }`;
//! namespace kinds inside `kinds: [ ]`; and whole-call snippets (editors/vscode's).

use super::context::{At, Context, Reading};
use super::knowledge::{Primitive, Ty};
use super::outline;
use super::workspace::Workspace;
use crate::editors::{CONTROL_KEYWORDS, OTHER_KEYWORDS};
use crate::engine::modules::fn_docs;
use crate::ops::kinds::ALL_KINDS;
use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionParams, CompletionResponse, CompletionTextEdit,
    Documentation, InsertTextFormat, MarkupContent, MarkupKind, TextEdit,
};
use std::collections::HashSet;

const SNIPPETS: &str = include_str!("../../editors/vscode/snippets/nsr.json");

pub fn complete(ws: &Workspace, p: &CompletionParams) -> Option<CompletionResponse> {
    let doc = ws.doc(&p.text_document_position.text_document.uri)?;
    let offset = doc.offset(p.text_document_position.position);
    let src = doc.text.as_str();
    let reading = Reading::of(src);
    let reader = reading.reader(src);
    let outline = &reading.outline;
    let At { context, word } = reader.at(offset);
    let mut items = match context {
        Context::Nothing => return None,
        Context::Member { receiver } => members(ws, receiver),
        Context::Module { alias } => {
            let path = outline
                .import(&alias)
                .map_or(alias.as_str(), |i| i.path.as_str());
            let source = ws.module_source(doc.path.as_deref(), path)?;
            fn_docs(&source)
                .into_iter()
                .map(|f| {
                    let params: Vec<&str> = f.params.split(',').map(str::trim).collect();
                    let mut item = call_item(&f.name, &params, CompletionItemKind::FUNCTION);
                    item.detail = Some(format!("{alias}::{}({})", f.name, f.params));
                    item.documentation = Some(markdown(f.doc));
                    item
                })
                .collect()
        }
        Context::OptionKey { keys, present } => keys
            .iter()
            .filter(|k| !present.iter().any(|p| p == k.name))
            .map(|k| CompletionItem {
                label: k.name.to_string(),
                kind: Some(CompletionItemKind::FIELD),
                detail: Some(k.value.to_string()),
                insert_text: Some(format!("{}: ", k.name)),
                ..Default::default()
            })
            .collect(),
        Context::Kind { quoted, present } => ALL_KINDS
            .iter()
            .map(|k| k.name())
            .filter(|k| !present.iter().any(|p| p == k))
            .map(|k| CompletionItem {
                label: k.to_string(),
                kind: Some(CompletionItemKind::ENUM_MEMBER),
                detail: Some("namespace kind".into()),
                insert_text: Some(if quoted {
                    k.to_string()
                } else {
                    format!("\"{k}\"")
                }),
                ..Default::default()
            })
            .collect(),
        Context::Code => code_items(ws, outline, offset),
    };
    // Each item replaces the word being typed.
    let range = doc.range(word.0, word.1);
    for item in &mut items {
        let text = item
            .insert_text
            .take()
            .unwrap_or_else(|| item.label.clone());
        item.text_edit = Some(CompletionTextEdit::Edit(TextEdit::new(range, text)));
    }
    Some(CompletionResponse::Array(items))
}

fn markdown(text: String) -> Documentation {
    Documentation::MarkupContent(MarkupContent {
        kind: MarkupKind::Markdown,
        value: text,
    })
}

/// `name(${1:a}, ${2:b})`: a call with its parameters as placeholders.
fn call_item(name: &str, params: &[&str], kind: CompletionItemKind) -> CompletionItem {
    let holes: Vec<String> = params
        .iter()
        .filter(|p| !p.is_empty())
        .enumerate()
        .map(|(i, p)| format!("${{{}:{}}}", i + 1, p.split(':').next().unwrap_or(p).trim()))
        .collect();
    CompletionItem {
        label: name.to_string(),
        kind: Some(kind),
        insert_text: Some(format!("{name}({})$0", holes.join(", "))),
        insert_text_format: Some(InsertTextFormat::SNIPPET),
        ..Default::default()
    }
}

/// One item per primitive name: the first overload's call, every overload's doc.
fn primitive_items<'a>(
    overloads: impl Iterator<Item = &'a Primitive>,
    as_method: bool,
) -> Vec<CompletionItem> {
    let mut items: Vec<CompletionItem> = Vec::new();
    let mut docs: Vec<String> = Vec::new();
    for p in overloads {
        let text = format!("`{}`\n\n{}", p.signature(as_method), p.doc);
        match items.iter().position(|i| i.label == p.name) {
            Some(i) => docs[i].push_str(&format!("\n\n{text}")),
            None => {
                let kind = if as_method {
                    CompletionItemKind::METHOD
                } else {
                    CompletionItemKind::FUNCTION
                };
                let mut item = call_item(p.name, p.call_params(as_method), kind);
                item.detail = Some(p.signature(as_method));
                items.push(item);
                docs.push(text);
            }
        }
    }
    for (item, doc) in items.iter_mut().zip(docs) {
        item.documentation = Some(markdown(doc));
    }
    items
}

fn members(ws: &Workspace, receiver: Option<Ty>) -> Vec<CompletionItem> {
    let k = &ws.knowledge;
    let mut items = primitive_items(
        k.primitives
            .iter()
            .filter(|p| receiver.map_or(p.method, |t| p.takes(t))),
        true,
    );
    match receiver {
        Some(ty) => items.extend(
            ty.properties()
                .iter()
                .map(|(name, what, _)| CompletionItem {
                    label: name.to_string(),
                    kind: Some(CompletionItemKind::PROPERTY),
                    detail: Some(what.to_string()),
                    ..Default::default()
                }),
        ),
        // An array, a string or a map: Rhai's own methods.
        None => items.extend(rhai_items(ws)),
    }
    items
}

fn rhai_items(ws: &Workspace) -> impl Iterator<Item = CompletionItem> + '_ {
    ws.knowledge.rhai.iter().map(|name| CompletionItem {
        label: name.clone(),
        kind: Some(CompletionItemKind::FUNCTION),
        detail: Some("Rhai".into()),
        ..Default::default()
    })
}

fn code_items(ws: &Workspace, outline: &outline::Outline, offset: usize) -> Vec<CompletionItem> {
    let k = &ws.knowledge;
    let mut items = snippet_items();
    items.extend(primitive_items(
        k.primitives.iter().filter(|p| !p.method),
        false,
    ));
    for f in &outline.functions {
        let params: Vec<&str> = f.params.iter().map(String::as_str).collect();
        let mut item = call_item(&f.name, &params, CompletionItemKind::FUNCTION);
        item.detail = Some(format!("fn {}({})", f.name, f.params.join(", ")));
        item.documentation = Some(markdown(f.doc.clone()));
        items.push(item);
    }
    let mut seen = HashSet::new();
    for l in outline.lets.iter().filter(|l| l.name_at.1 <= offset) {
        if seen.insert(l.name.clone()) {
            items.push(CompletionItem {
                label: l.name.clone(),
                kind: Some(if l.constant {
                    CompletionItemKind::CONSTANT
                } else {
                    CompletionItemKind::VARIABLE
                }),
                detail: l.ty.map(|t| t.name().to_string()),
                ..Default::default()
            });
        }
    }
    for i in &outline.imports {
        items.push(CompletionItem {
            label: i.alias.clone(),
            kind: Some(CompletionItemKind::MODULE),
            detail: Some(format!("import \"{}\"", i.path)),
            insert_text: Some(format!("{}::", i.alias)),
            ..Default::default()
        });
    }
    items.extend(
        CONTROL_KEYWORDS
            .iter()
            .chain(OTHER_KEYWORDS)
            .map(|w| CompletionItem {
                label: w.to_string(),
                kind: Some(CompletionItemKind::KEYWORD),
                ..Default::default()
            }),
    );
    items.extend(rhai_items(ws));
    items
}

/// editors/vscode/snippets/nsr.json, as completion snippets.
fn snippet_items() -> Vec<CompletionItem> {
    let parsed: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(SNIPPETS).unwrap_or_default();
    parsed
        .iter()
        .filter_map(|(name, s)| {
            let body = s["body"]
                .as_array()?
                .iter()
                .filter_map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            Some(CompletionItem {
                label: s["prefix"].as_str()?.to_string(),
                kind: Some(CompletionItemKind::SNIPPET),
                detail: Some(name.clone()),
                documentation: s["description"].as_str().map(|d| markdown(d.to_string())),
                insert_text: Some(body),
                insert_text_format: Some(InsertTextFormat::SNIPPET),
                ..Default::default()
            })
        })
        .collect()
}
