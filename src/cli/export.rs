//! `nsr export oci`: a sandbox of a recipe's plan as an OCI runtime bundle.

use super::args::ExportOciArgs;
use super::exit::{usage, EXIT_RECIPE_ERROR};
use super::recipe::{lookup, prepare};
use nsr::export::{self, ExportError, Request};
use nsr::{output, report};
use std::process::ExitCode;

pub fn oci(a: ExportOciArgs) -> ExitCode {
    let mut words = vec![a.recipe.clone()];
    words.extend(a.params.iter().cloned());
    let (recipe, limits) = match prepare(&words, &a.limits, &a.libs) {
        Ok(x) => x,
        Err(e) => return usage(e),
    };
    let req = Request {
        dir: a.dir.clone().into(),
        sandbox: a.sandbox,
        rootfs: a.rootfs.clone(),
    };
    let r = match export::oci(&recipe, &limits, &req) {
        Ok(r) => r,
        Err(ExportError::Recipe(e)) => {
            output::err(&report::render_error(&e, &lookup(&recipe)));
            return ExitCode::from(EXIT_RECIPE_ERROR);
        }
        Err(e) => {
            output::err(&format!("nsr: export oci: {e}\n"));
            return ExitCode::from(EXIT_RECIPE_ERROR);
        }
    };
    for w in &r.extract_warnings {
        output::err(&format!("nsr: warning: {w}\n"));
    }
    if !r.not_exported.is_empty() {
        let mut text = format!(
            "nsr: warning: the bundle does not carry {} thing{} the recipe does (also in config.json's annotations, dev.nsr.not-exported.N):\n",
            r.not_exported.len(),
            if r.not_exported.len() == 1 { "" } else { "s" }
        );
        for w in &r.not_exported {
            text.push_str(&format!("  - {w}\n"));
        }
        output::err(&text);
    }
    for n in &r.notes {
        output::note(&format!("nsr: note: {n}\n"));
    }
    output::note(&format!(
        "nsr: wrote {} (sandbox {}, runtime-spec {}), root {}\nnsr: run it with: runc run -b {} NAME\n",
        r.config.display(),
        r.sandbox,
        export::OCI_VERSION,
        r.root,
        a.dir
    ));
    ExitCode::SUCCESS
}
