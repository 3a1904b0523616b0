//! Document symbols: the recipe's functions and its top-level `let`s and `const`s.

use super::outline;
use super::workspace::Workspace;
use lsp_types::{DocumentSymbol, DocumentSymbolParams, DocumentSymbolResponse, Range, SymbolKind};

pub fn symbols(ws: &Workspace, p: &DocumentSymbolParams) -> Option<DocumentSymbolResponse> {
    let doc = ws.doc(&p.text_document.uri)?;
    let o = outline::outline(&doc.text);
    let mut out: Vec<(usize, DocumentSymbol)> = Vec::new();
    for f in &o.functions {
        out.push((
            f.whole.0,
            symbol_kind(
                f.name.clone(),
                Some(format!("fn({})", f.params.join(", "))),
                SymbolKind::FUNCTION,
                doc.range(f.whole.0, f.whole.1),
                doc.range(f.name_at.0, f.name_at.1),
            ),
        ));
    }
    for l in o.lets.iter().filter(|l| l.top_level) {
        let kind = if l.constant {
            SymbolKind::CONSTANT
        } else {
            SymbolKind::VARIABLE
        };
        out.push((
            l.whole.0,
            symbol_kind(
                l.name.clone(),
                l.ty.map(|t| t.name().to_string()),
                kind,
                doc.range(l.whole.0, l.whole.1),
                doc.range(l.name_at.0, l.name_at.1),
            ),
        ));
    }
    out.sort_by_key(|(at, _)| *at);
    Some(DocumentSymbolResponse::Nested(
        out.into_iter().map(|(_, s)| s).collect(),
    ))
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
