//! `nsr completions bash|zsh|fish`: the shell's registration script. The script asks nsr
//! itself for candidates at each Tab (clap_complete's dynamic engine, through the
//! NSR_COMPLETE variable), so recipe files, environment names, cache digests and
//! `--limit` names are always the ones of this machine and this binary.

use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{Bash, EnvCompleter, Fish, Zsh};
use std::ffi::OsStr;

/// The variable through which the registered script calls nsr back.
pub const VAR: &str = "NSR_COMPLETE";

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The recipe already on the command line being completed (`nsr run FILE ...`), whose
/// declared parameters are the candidates after it.
static RECIPE_ON_LINE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// Answers a completion request and exits, when the shell's script asked for one.
pub fn answer_if_asked() {
    if std::env::var_os(VAR).is_some() {
        // The words after `--` are the line; the last one is being completed.
        let words: Vec<String> = std::env::args().skip_while(|a| a != "--").skip(1).collect();
        let before_cursor = &words[..words.len().saturating_sub(1)];
        let recipe = before_cursor
            .iter()
            .skip(2)
            .find(|w| w.ends_with(".nsr"))
            .cloned();
        let _ = RECIPE_ON_LINE.set(recipe);
        clap_complete::CompleteEnv::with_factory(super::command)
            .var(VAR)
            .complete();
    }
}

/// Prints the script that registers nsr's completion in `shell`.
pub fn print(shell: Shell) -> std::io::Result<()> {
    let completer: &dyn EnvCompleter = match shell {
        Shell::Bash => &Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
    };
    // The script calls this very binary back, wherever it is installed.
    let exe = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "nsr".into());
    let mut out = std::io::stdout().lock();
    completer.write_registration(VAR, "nsr", "nsr", &exe, &mut out)
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
