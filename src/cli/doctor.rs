//! `nsr doctor`: what this machine can do, with fixes.

use super::exit::EXIT_RECIPE_ERROR;
use nsr::output;
use std::process::ExitCode;

/// `nsr doctor [--json]`: 1 when a check says something is missing.
pub fn doctor(json: bool) -> ExitCode {
    let checks = nsr::doctor::run();
    if json {
        output::out(&format!("{}\n", nsr::doctor::json(&checks)));
    } else {
        output::out(&nsr::doctor::render(&checks));
    }
    if checks
        .iter()
        .any(|c| c.status == nsr::doctor::Status::Missing)
    {
        ExitCode::from(EXIT_RECIPE_ERROR)
    } else {
        ExitCode::SUCCESS
    }
}
