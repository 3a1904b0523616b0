//! How a command ends: its exit status, and the message of a usage error.

use nsr::engine::error::RecipeError;
use nsr::engine::RunEnd;
use nsr::output;
use std::process::ExitCode;

pub const EXIT_RECIPE_ERROR: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

/// The exit status of a recipe run or a REPL session: 128+N after signal N, 1 for a
/// recipe error or a failed undo, the recipe's own `exit(N)`, else 0.
pub fn status(result: &Result<RunEnd, RecipeError>, undo_failed: bool, signal: Option<i32>) -> u8 {
    match result {
        Err(RecipeError::Interrupted { .. }) => 128u8.saturating_add(signal.unwrap_or(2) as u8),
        Err(_) => EXIT_RECIPE_ERROR,
        Ok(_) if undo_failed => EXIT_RECIPE_ERROR,
        Ok(RunEnd::Exit(code)) => (*code).clamp(0, 255) as u8,
        Ok(RunEnd::Finished | RunEnd::Kept) => 0,
    }
}

pub fn usage(msg: impl std::fmt::Display) -> ExitCode {
    output::err(&format!("nsr: {msg}\n"));
    ExitCode::from(EXIT_USAGE)
}

/// The end of a command that only writes to stdout (a closed pipe is not an error).
pub fn written(result: std::io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            output::err(&format!("nsr: cannot write: {e}\n"));
            ExitCode::from(EXIT_RECIPE_ERROR)
        }
    }
}
