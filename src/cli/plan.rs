//! `nsr plan`: the recipe against the recording backend, as text, shell or JSON.

use super::args::PlanFormat;
use super::exit::{usage, EXIT_RECIPE_ERROR};
use super::recipe::{lookup, prepare};
use nsr::{output, report};
use std::process::ExitCode;

pub fn plan(
    words: Vec<String>,
    format: PlanFormat,
    limit_words: Vec<String>,
    libs: Vec<String>,
) -> ExitCode {
    let (recipe, limits) = match prepare(&words, &limit_words, &libs) {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    let plan = nsr::plan::plan(&recipe, &limits);
    let error = plan
        .error
        .as_ref()
        .map(|e| report::render_error(e, &lookup(&recipe)));
    output::out(&match format {
        PlanFormat::Text => plan.text(error.as_deref()),
        PlanFormat::Shell => plan.shell(),
        PlanFormat::Json => format!("{:#}\n", plan.json(error.as_deref())),
    });
    if let (Some(e), PlanFormat::Shell) = (&error, format) {
        output::err(e);
    }
    if plan.error.is_some() {
        ExitCode::from(EXIT_RECIPE_ERROR)
    } else {
        ExitCode::SUCCESS
    }
}
