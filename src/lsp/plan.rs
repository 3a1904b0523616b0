//! "Show the plan": a code action and the command `nsr.showPlan`, which runs the buffer
//! (saved or not) through `nsr plan`'s recording backend and answers with the plan's
//! text for the editor to open. Nothing is done to the system.

use super::workspace::Workspace;
use crate::engine::{apply_params, declared_params, limits::Limits, Recipe};
use lsp_server::ErrorCode;
use lsp_types::ExecuteCommandParams;
use lsp_types::{CodeActionOrCommand, CodeActionParams, CodeActionResponse, Command};
use serde_json::Value;
use std::collections::BTreeMap;

pub const SHOW_PLAN: &str = "nsr.showPlan";

pub fn actions(p: &CodeActionParams) -> Option<CodeActionResponse> {
    Some(vec![CodeActionOrCommand::Command(Command {
        title: "nsr: show the plan".into(),
        command: SHOW_PLAN.into(),
        arguments: Some(vec![Value::String(
            p.text_document.uri.as_str().to_string(),
        )]),
    })])
}

/// `nsr.showPlan` with arguments `[URI]` or `[URI, { NAME: VALUE }]` (recipe
/// parameters; a required one not given is shown as `<NAME>`).
pub fn execute(ws: &Workspace, p: &ExecuteCommandParams) -> Result<Value, (ErrorCode, String)> {
    if p.command != SHOW_PLAN {
        return Err((
            ErrorCode::InvalidParams,
            format!("unknown command {} (nsr lsp has {SHOW_PLAN})", p.command),
        ));
    }
    let uri = p.arguments.first().and_then(Value::as_str).ok_or((
        ErrorCode::InvalidParams,
        format!("{SHOW_PLAN} [URI]: no URI"),
    ))?;
    let doc = ws
        .docs
        .get(uri)
        .ok_or((ErrorCode::InvalidParams, format!("{uri} is not open")))?;
    let mut args: BTreeMap<String, String> = p
        .arguments
        .get(1)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_string)))
        .collect();
    let decls = declared_params(&doc.text);
    let mut placeholders = Vec::new();
    if apply_params(&decls, &mut args).is_err() {
        for d in &decls {
            if !args.contains_key(&d.name) {
                placeholders.push(d.name.clone());
                args.insert(d.name.clone(), format!("<{}>", d.name));
            }
        }
    }
    let recipe = Recipe {
        path: doc.name(),
        source: doc.text.clone(),
        args,
        libs: ws.libs.clone(),
        verbose: false,
    };
    let plan = crate::plan::plan(&recipe, &Limits::default());
    let sources = |file: &str| {
        if file == recipe.path {
            Some(recipe.source.clone())
        } else {
            std::fs::read_to_string(file)
                .ok()
                .or_else(|| crate::engine::modules::stdlib_source(file).map(str::to_string))
        }
    };
    let error = plan
        .error
        .as_ref()
        .map(|e| crate::report::render_error(e, &sources));
    let mut text = String::new();
    if !placeholders.is_empty() {
        text.push_str(&format!(
            "(parameters not given, shown as <NAME>: {})\n",
            placeholders.join(", ")
        ));
    }
    text.push_str(&plan.text(error.as_deref()));
    Ok(Value::String(text))
}
