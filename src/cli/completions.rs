//! `nsr completions bash|zsh|fish`: the shell's registration script. The script asks nsr
//! itself for candidates at each Tab (clap_complete's dynamic engine, through the
//! NSR_COMPLETE variable), so recipe files, environment names, cache digests and
//! `--limit` names are always the ones of this machine and this binary.

use clap_complete::env::{Bash, EnvCompleter, Fish, Zsh};

/// The variable through which the registered script calls nsr back.
pub const VAR: &str = "NSR_COMPLETE";

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
        super::candidates::remember_recipe(recipe);
        clap_complete::CompleteEnv::with_factory(super::args::command)
            .var(VAR)
            .complete();
    }
}

/// Prints the script that registers nsr's completion in `shell`.
pub fn print(shell: super::args::Shell) -> std::io::Result<()> {
    let completer: &dyn EnvCompleter = match shell {
        super::args::Shell::Bash => &Bash,
        super::args::Shell::Zsh => &Zsh,
        super::args::Shell::Fish => &Fish,
    };
    // The script calls this very binary back, wherever it is installed.
    let exe = std::env::current_exe()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "nsr".into());
    let mut out = std::io::stdout().lock();
    completer.write_registration(VAR, "nsr", "nsr", &exe, &mut out)
}
