//! The command line: `args` parses the raw words (clap), one file per subcommand turns
//! them into a checked recipe or request and runs it, `exit` decides the status. Results
//! become messages here, at the edge, and nowhere else.

mod args;
mod cache;
mod candidates;
mod check;
mod completions;
mod doc;
mod doctor;
mod env;
mod exit;
mod export;
mod graph;
mod lsp;
mod man;
mod plan;
mod recipe;
mod repl;
mod run;

use clap::Parser;
use nsr::output;
use std::process::ExitCode;

pub fn main() -> ExitCode {
    // A Tab in a shell with `nsr completions` loaded calls nsr back for candidates.
    completions::answer_if_asked();
    // Not dumpable: a sandbox without a pid namespace sees nsr's process, whose root,
    // working directory and fds (namespaces, sockets) are the host's.
    nsr::sys::set_dumpable(false);
    nsr::sys::raise_open_files_limit();
    let cli = match args::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::EXIT_USAGE } else { 0 });
        }
    };
    output::set_quiet(cli.quiet);
    match cli.command {
        args::Command::Run {
            words,
            limits,
            libs,
            json,
            name,
            keep,
            help,
        } => {
            if help {
                return run::run_help(&words);
            }
            run::run(
                words,
                limits,
                libs,
                json,
                name,
                keep,
                cli.verbose > 0 && !cli.quiet,
            )
        }
        args::Command::Enter {
            name,
            sandbox,
            command,
        } => env::enter(&name, sandbox.as_deref(), command),
        args::Command::Ls { json } => env::ls(json),
        args::Command::Gc { apply } => env::gc(apply),
        args::Command::Down { names, all } => env::down(names, all, cli.verbose > 0 && !cli.quiet),
        args::Command::Doc { json: true, .. } => {
            let meta = nsr::editors::metadata();
            output::out(&format!(
                "{}\n",
                serde_json::to_string_pretty(&meta).unwrap_or_default()
            ));
            ExitCode::SUCCESS
        }
        args::Command::Doc { name, libs, .. } => doc::doc(name.as_deref(), &libs),
        args::Command::Check { file } => check::check(&file),
        args::Command::Lsp { libs, .. } => lsp::lsp(libs),
        args::Command::Plan {
            words,
            format,
            limits,
            libs,
        } => plan::plan(words, format, limits, libs),
        args::Command::Graph(words) => graph::graph(words),
        args::Command::Export {
            kind: args::ExportKind::Oci(a),
        } => export::oci(a),
        args::Command::Cache { action } => cache::cache(action),
        args::Command::Doctor { json } => doctor::doctor(json),
        args::Command::Completions { shell } => exit::written(completions::print(shell)),
        args::Command::Man => exit::written(man::print()),
        args::Command::Repl { file, limits } => {
            repl::repl(file, limits, cli.verbose > 0 && !cli.quiet)
        }
    }
}
