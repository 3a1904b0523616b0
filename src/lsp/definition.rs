//! Go to definition: a function of an imported module (in its file), a function of the
//! recipe itself, a variable's `let`.

use super::context::Reading;
use super::document::uri_of;
use super::lex::word_at;
use super::outline;
use super::workspace::Workspace;
use lsp_types::{GotoDefinitionParams, GotoDefinitionResponse, Location, Range};

pub fn definition(ws: &Workspace, p: &GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
    let doc = ws.doc(&p.text_document_position_params.text_document.uri)?;
    let offset = doc.offset(p.text_document_position_params.position);
    let src = doc.text.as_str();
    let reading = Reading::of(src);
    let (code, here) = (&reading.code, &reading.outline);
    // On an import's path: the module's file.
    if let Some(m) = here
        .imports
        .iter()
        .find(|m| m.path_at.0 < offset && offset < m.path_at.1)
    {
        let (file, _) = ws.module_file(doc.path.as_deref(), &m.path)?;
        let start = lsp_types::Position::new(0, 0);
        return Some(GotoDefinitionResponse::Scalar(Location::new(
            uri_of(&file?)?,
            Range::new(start, start),
        )));
    }
    let (i, word) = word_at(code, offset)?;
    let name = word.text(src);
    let text = |j: usize| code.get(j).map_or("", |t| t.text(src));
    if i >= 2 && text(i - 1) == "::" {
        let alias = text(i - 2);
        let path = here.import(alias).map_or(alias, |m| m.path.as_str());
        // The standard library is compiled into nsr: it has no file to open.
        let (file, source) = ws.module_file(doc.path.as_deref(), path)?;
        let file = file?;
        let there = outline::outline(&source);
        let f = there.function(name)?;
        let target = super::document::Document::new(uri_of(&file)?, source.clone(), 0);
        return Some(GotoDefinitionResponse::Scalar(Location::new(
            target.uri.clone(),
            target.range(f.name_at.0, f.name_at.1),
        )));
    }
    let at: Range = if let Some(f) = here.function(name).filter(|_| text(i + 1) == "(") {
        doc.range(f.name_at.0, f.name_at.1)
    } else {
        let l = here
            .lets
            .iter()
            .rfind(|l| l.name == name && l.name_at.0 <= word.start)?;
        doc.range(l.name_at.0, l.name_at.1)
    };
    Some(GotoDefinitionResponse::Scalar(Location::new(
        doc.uri.clone(),
        at,
    )))
}
