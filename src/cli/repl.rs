//! `nsr repl`: statements one at a time against the kernel, with undo.

use super::env::kept_note;
use super::exit::{status, usage, EXIT_USAGE};
use super::recipe::parse_limits;
use nsr::backend::kernel::KernelBackend;
use nsr::engine::RunEnd;
use nsr::repl::ReplEnd;
use nsr::signals::Signals;
use nsr::{output, report};
use std::process::ExitCode;

pub fn repl(file: Option<String>, limit_words: Vec<String>, verbose: bool) -> ExitCode {
    let limits = match parse_limits(&limit_words) {
        Ok(l) => l,
        Err(e) => return usage(e),
    };
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => return usage(format!("cannot install signal handlers: {e}")),
    };
    let mut session = nsr::repl::Repl::new(
        Box::new(KernelBackend::new(signals.clone())),
        &limits,
        signals,
        verbose,
    );
    match nsr::env::store::EnvJournal::create(&format!("repl-{}", std::process::id()), "nsr repl") {
        Ok(env) => session.set_env(env),
        Err(e) => {
            output::err(&report::op_error_line("repl", &e));
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let (end, undone) = session.run(file);
    output::err(&report::render_undo(&undone, !undone.is_empty(), verbose));
    let undo_failed = undone.iter().any(|r| r.failed());
    let as_run = match end {
        ReplEnd::Quit => RunEnd::Finished,
        ReplEnd::Kept(name) => {
            kept_note(&name);
            RunEnd::Kept
        }
        ReplEnd::Exit(code) => RunEnd::Exit(code),
    };
    ExitCode::from(status(&Ok(as_run), undo_failed, None))
}
