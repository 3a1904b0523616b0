//! What a Tab offers for each argument: recipe files and their parameters, environment
//! names, `--limit` names, cache digests, always those of this machine.

use clap_complete::engine::CompletionCandidate;
use std::ffi::OsStr;

/// The recipe already on the command line being completed (`nsr run FILE ...`), whose
/// declared parameters are the candidates after it.
static RECIPE_ON_LINE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// Remembers the recipe on the line being completed (once per completion request).
pub fn remember_recipe(recipe: Option<String>) {
    let _ = RECIPE_ON_LINE.set(recipe);
}

/// Recipe files (`*.nsr`) and directories, for `run`, `plan`, `check`, `repl`; after
/// the recipe, the parameters it declares (`NAME=`).
pub fn recipe_files(current: &OsStr) -> Vec<CompletionCandidate> {
    use clap_complete::engine::{PathCompleter, ValueCompleter};
    if let Some(Some(recipe)) = RECIPE_ON_LINE.get() {
        let source = std::fs::read_to_string(recipe).unwrap_or_default();
        let typed = current.to_string_lossy();
        return nsr::engine::declared_params(&source)
            .into_iter()
            .filter(|d| format!("{}=", d.name).starts_with(typed.as_ref()))
            .map(|d| CompletionCandidate::new(format!("{}=", d.name)).help(Some(d.help.into())))
            .collect();
    }
    // A NAME=VALUE parameter is not a path.
    if current.to_string_lossy().contains('=') {
        return Vec::new();
    }
    PathCompleter::file()
        .filter(|p| p.extension() == Some(OsStr::new("nsr")))
        .complete(current)
}

/// The environments `nsr ls` shows, for `enter` and `down`.
pub fn environment_names() -> Vec<CompletionCandidate> {
    nsr::env::recover::list()
        .into_iter()
        .map(|e| {
            let state = if e.running {
                "running"
            } else if e.kept {
                "kept"
            } else {
                "left over"
            };
            CompletionCandidate::new(e.name).help(Some(format!("{state}, {}", e.recipe).into()))
        })
        .collect()
}

/// `--limit NAME=` for every engine limit.
pub fn limit_names() -> Vec<CompletionCandidate> {
    nsr::engine::limits::LIMIT_NAMES
        .iter()
        .map(|n| CompletionCandidate::new(format!("{n}=")))
        .collect()
}

/// The digests in the root cache, for `cache clear`.
pub fn cache_digests() -> Vec<CompletionCandidate> {
    nsr::rootfs::cache::list()
        .unwrap_or_default()
        .into_iter()
        .map(|e| CompletionCandidate::new(e.digest).help(Some(e.source.into())))
        .collect()
}
