//! `nsr run`: a recipe against the kernel, rolled back at its end; `nsr run FILE --help`.

use super::args::command;
use super::env::kept_note;
use super::exit::{status, usage, EXIT_USAGE};
use super::recipe::{environment_name, lookup, prepare};
use nsr::backend::kernel::KernelBackend;
use nsr::engine::{self, RunEnd, RunOptions};
use nsr::signals::Signals;
use nsr::{output, report};
use std::process::ExitCode;

pub fn run(
    words: Vec<String>,
    limit_words: Vec<String>,
    libs: Vec<String>,
    json: bool,
    name: Option<String>,
    keep: bool,
    verbose: bool,
) -> ExitCode {
    let (mut recipe, limits) = match prepare(&words, &limit_words, &libs) {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    recipe.verbose = verbose;
    // A named or kept environment is made now, so that a name in use is refused before
    // anything runs; a run's own (`RECIPE-PID`) is made before its first action that may
    // create something, so a recipe that creates nothing writes no journal.
    let explicit = keep || name.is_some();
    let env_name = name.unwrap_or_else(|| environment_name(&recipe.path, keep));
    let env = if explicit {
        match nsr::env::store::EnvJournal::create(&env_name, &recipe.path) {
            Ok(env) => Some(env),
            Err(e) => {
                output::err(&report::op_error_line("run", &e));
                return ExitCode::from(EXIT_USAGE);
            }
        }
    } else {
        None
    };
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => return usage(format!("cannot install signal handlers: {e}")),
    };
    let outcome = engine::run(
        &recipe,
        Box::new(KernelBackend::new(signals.clone())),
        &limits,
        &signals,
        RunOptions {
            deferred_env: env
                .is_none()
                .then(|| (env_name.clone(), recipe.path.clone())),
            env,
            keep,
        },
    );
    let failed = outcome.result.is_err();
    let undo_failed = outcome.undone.iter().any(|r| r.failed());
    let code = status(&outcome.result, undo_failed, signals.pending());
    if matches!(outcome.result, Ok(RunEnd::Kept)) {
        kept_note(&env_name);
    }
    if json {
        output::err(&format!(
            "{}\n",
            report::json_report(&recipe.path, &outcome.result, &outcome.undone, code.into())
        ));
    } else {
        if let Err(err) = &outcome.result {
            output::err(&report::render_error(err, &lookup(&recipe)));
        }
        output::err(&report::render_undo(&outcome.undone, failed, verbose));
    }
    ExitCode::from(code)
}

/// `nsr run FILE --help`: the parameters the recipe declares (`//! param ...`).
pub fn run_help(words: &[String]) -> ExitCode {
    let Some(file) = words.first() else {
        let mut cmd = command();
        // Built, so that the subcommand's usage line says `nsr run`, not `run`.
        cmd.build();
        if let Some(run) = cmd.find_subcommand_mut("run") {
            let _ = run.print_long_help();
        }
        return ExitCode::SUCCESS;
    };
    let source = match std::fs::read_to_string(file) {
        Ok(s) => s,
        Err(e) => return usage(format!("cannot read recipe {file}: {e}")),
    };
    let header: Vec<&str> = source
        .lines()
        .take_while(|l| l.starts_with("//"))
        .filter(|l| !l.starts_with("//!"))
        // One space after the slashes goes; the header's own indentation stays.
        .map(|l| {
            l.strip_prefix("// ")
                .unwrap_or_else(|| l.trim_start_matches('/'))
        })
        .collect();
    let mut out = format!("{}\n", header.join("\n"));
    let decls = engine::declared_params(&source);
    if decls.is_empty() {
        out.push_str("\nThis recipe declares no parameters (//! param NAME[=DEFAULT]: WHAT).\n");
    } else {
        out.push_str(&format!(
            "\nparameters of {file} (nsr run {file} NAME=VALUE ...):\n"
        ));
        for d in decls {
            let default = match &d.default {
                Some(v) => format!(" (default: \"{v}\")"),
                None => " (required)".into(),
            };
            out.push_str(&format!("  {:<12} {}{default}\n", d.name, d.help));
        }
    }
    output::out(&out);
    ExitCode::SUCCESS
}
