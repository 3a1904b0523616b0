//! `nsr check`: every problem the engine finds without running the recipe.

use super::exit::{usage, EXIT_RECIPE_ERROR};
use super::recipe::lookup;
use nsr::engine::{self, Recipe};
use nsr::{output, report};
use std::process::ExitCode;

pub fn check(file: &str) -> ExitCode {
    // The recipe as written: its parameters are not needed to check it.
    let recipe = match std::fs::read_to_string(file) {
        Ok(source) => Recipe {
            path: file.to_string(),
            source,
            ..Default::default()
        },
        Err(e) => return usage(format!("cannot read recipe {file}: {e}")),
    };
    let found = engine::check_recipe(&recipe);
    for e in &found.errors {
        output::err(&report::render_error(e, &lookup(&recipe)));
    }
    for (origin, text) in &found.warnings {
        output::note(&output::render_warning(origin, text));
    }
    let errors = found.errors;
    if errors.is_empty() && !found.warnings.is_empty() {
        output::note(&format!(
            "{}: ok, {} warning(s)\n",
            recipe.path,
            found.warnings.len()
        ));
        ExitCode::SUCCESS
    } else if errors.is_empty() {
        output::note(&format!("{}: ok\n", recipe.path));
        ExitCode::SUCCESS
    } else {
        output::err(&format!("{}: {} problem(s)\n", recipe.path, errors.len()));
        ExitCode::from(EXIT_RECIPE_ERROR)
    }
}
