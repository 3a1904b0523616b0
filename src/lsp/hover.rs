//! Hover (a primitive's signatures, documentation and tutorial command; a module's or
//! the recipe's function with its `///` text; a variable's type) and signature help.

use super::context::Reading;
use super::knowledge::tutorial;
use super::lex::word_at;
use super::workspace::Workspace;
use crate::engine::modules::fn_docs;
use lsp_types::{
    Hover, HoverContents, HoverParams, MarkupContent, MarkupKind, ParameterInformation,
    ParameterLabel, SignatureHelp, SignatureHelpParams, SignatureInformation,
};

pub fn hover(ws: &Workspace, p: &HoverParams) -> Option<Hover> {
    let doc = ws.doc(&p.text_document_position_params.text_document.uri)?;
    let offset = doc.offset(p.text_document_position_params.position);
    let src = doc.text.as_str();
    let reading = Reading::of(src);
    let code = &reading.code;
    let (i, word) = word_at(code, offset)?;
    let text = |j: usize| code.get(j).map_or("", |t| t.text(src));
    let name = word.text(src);
    let outline = &reading.outline;
    let value = if i >= 2 && text(i - 1) == "::" {
        let alias = text(i - 2);
        let path = outline.import(alias).map_or(alias, |m| m.path.as_str());
        let source = ws.module_source(doc.path.as_deref(), path)?;
        let f = fn_docs(&source).into_iter().find(|f| f.name == name)?;
        format!("```nsr\n{alias}::{name}({})\n```\n\n{}", f.params, f.doc)
    } else if let Some(f) = outline.function(name).filter(|_| text(i + 1) == "(") {
        format!(
            "```nsr\nfn {name}({})\n```\n\n{}",
            f.params.join(", "),
            f.doc
        )
    } else if ws.knowledge.is_primitive(name) && text(i + 1) == "(" {
        let as_method = i > 0 && text(i - 1) == ".";
        let mut parts: Vec<String> = ws
            .knowledge
            .overloads(name)
            .filter(|p| p.method == as_method || !as_method)
            .map(|p| format!("```nsr\n{}\n```\n{}", p.signature(as_method), p.doc))
            .collect();
        if parts.is_empty() {
            return None;
        }
        if let Some(cmd) = tutorial(name) {
            parts.push(format!("In the tutorial: `{cmd}`"));
        }
        parts.join("\n\n")
    } else if let Some(ty) = outline.type_of(name, offset + 1) {
        format!("```nsr\nlet {name}: {}\n```", ty.name())
    } else if ws.knowledge.rhai.iter().any(|r| r == name) && text(i + 1) == "(" {
        format!("`{name}`: a function of Rhai's standard library (https://rhai.rs/book/)")
    } else {
        return None;
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value,
        }),
        range: Some(doc.range(word.start, word.end)),
    })
}

pub fn signature(ws: &Workspace, p: &SignatureHelpParams) -> Option<SignatureHelp> {
    let doc = ws.doc(&p.text_document_position_params.text_document.uri)?;
    let offset = doc.offset(p.text_document_position_params.position);
    let src = doc.text.as_str();
    let reading = Reading::of(src);
    let reader = reading.reader(src);
    let outline = &reading.outline;
    let site = reader.call_site(offset)?;
    let mut signatures = Vec::new();
    if let Some(alias) = &site.module {
        let path = outline
            .import(alias)
            .map_or(alias.as_str(), |m| m.path.as_str());
        let source = ws.module_source(doc.path.as_deref(), path)?;
        let f = fn_docs(&source).into_iter().find(|f| f.name == site.name)?;
        let params: Vec<String> = f.params.split(',').map(|s| s.trim().to_string()).collect();
        signatures.push(info(format!("{alias}::{}", site.name), &params, f.doc));
    } else if let Some(f) = outline
        .function(&site.name)
        .filter(|_| site.receiver.is_none())
    {
        signatures.push(info(site.name.clone(), &f.params, f.doc.clone()));
    } else {
        let as_method = site.receiver.is_some();
        let receiver = site.receiver.flatten();
        for p in ws.knowledge.overloads(&site.name) {
            let fits = match (as_method, receiver) {
                (true, Some(ty)) => p.takes(ty),
                (true, None) => p.method,
                (false, _) => true,
            };
            if fits {
                let params: Vec<String> = p
                    .call_params(as_method)
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                signatures.push(info(site.name.clone(), &params, p.doc.to_string()));
            }
        }
    }
    if signatures.is_empty() {
        return None;
    }
    // The first overload with room for the argument the cursor is in.
    let active = signatures
        .iter()
        .position(|s| s.parameters.as_ref().map_or(0, Vec::len) > site.argument)
        .unwrap_or(0);
    Some(SignatureHelp {
        signatures,
        active_signature: Some(active as u32),
        active_parameter: Some(site.argument as u32),
    })
}

fn info(name: String, params: &[String], doc: String) -> SignatureInformation {
    let params: Vec<&String> = params.iter().filter(|p| !p.is_empty()).collect();
    SignatureInformation {
        label: format!(
            "{name}({})",
            params
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        documentation: Some(lsp_types::Documentation::MarkupContent(MarkupContent {
            kind: MarkupKind::Markdown,
            value: doc,
        })),
        parameters: Some(
            params
                .iter()
                .map(|p| ParameterInformation {
                    label: ParameterLabel::Simple(p.to_string()),
                    documentation: None,
                })
                .collect(),
        ),
        active_parameter: None,
    }
}
