//! `nsr graph`: a recipe's plan, or a live environment, as a picture.

use super::args::{GraphArgs, GraphFormat};
use super::exit::{usage, EXIT_RECIPE_ERROR};
use super::recipe::{lookup, prepare};
use nsr::graph::{self, Format, Graph};
use nsr::{output, report};
use std::io::IsTerminal;
use std::process::ExitCode;

fn format_of(f: GraphFormat) -> Format {
    match f {
        GraphFormat::Svg => Format::Svg,
        GraphFormat::Html => Format::Html,
        GraphFormat::Dot => Format::Dot,
        GraphFormat::Mermaid => Format::Mermaid,
        GraphFormat::Json => Format::Json,
    }
}

/// Where the picture goes and in which format: -o FILE (its ending, unless --format),
/// else an SVG named after `stem` when stdout is a terminal, else dot on stdout.
pub fn destination(
    format: Option<Format>,
    output: Option<&str>,
    stem: &str,
) -> (Format, Option<String>) {
    match (output, format) {
        (Some("-"), f) => (f.unwrap_or(Format::Dot), None),
        (Some(file), f) => (
            f.or_else(|| Format::of_file(file)).unwrap_or(Format::Svg),
            Some(file.to_string()),
        ),
        (None, Some(f)) => (f, None),
        (None, None) if std::io::stdout().is_terminal() => (
            Format::Svg,
            Some(format!("{stem}.{}", Format::Svg.extension())),
        ),
        (None, None) => (Format::Dot, None),
    }
}

/// Writes the picture; says where on stderr when it is a file.
pub fn write(graph: &Graph, format: Format, file: Option<&str>) -> Result<(), String> {
    let text = graph::render(graph, format);
    match file {
        None => {
            output::out(&text);
            Ok(())
        }
        Some(f) => {
            std::fs::write(f, text).map_err(|e| format!("cannot write {f}: {e}"))?;
            output::note(&format!("nsr: wrote {f}\n"));
            Ok(())
        }
    }
}

pub fn graph(r: GraphArgs) -> ExitCode {
    let format = r.format.map(format_of);
    if let Some(name) = &r.env {
        if !r.words.is_empty() {
            return usage("graph: give a recipe or --env NAME, not both");
        }
        let g = match graph::live::of_env(name) {
            Ok(g) => g,
            Err(e) => {
                output::err(&report::op_error_line(&format!("graph --env {name}"), &e));
                return ExitCode::from(EXIT_RECIPE_ERROR);
            }
        };
        let (format, file) = destination(format, r.output.as_deref(), name);
        return match write(&g, format, file.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => usage(format!("graph: {e}")),
        };
    }
    let (recipe, limits) = match prepare(&r.words, &r.limits, &r.libs) {
        Ok(x) => x,
        Err(e) => return usage(e),
    };
    let (g, error) = graph::of_recipe(&recipe, &limits);
    let stem = std::path::Path::new(&recipe.path)
        .file_stem()
        .map_or("graph".into(), |s| s.to_string_lossy().into_owned());
    let (format, file) = destination(format, r.output.as_deref(), &stem);
    if let Err(e) = write(&g, format, file.as_deref()) {
        return usage(format!("graph: {e}"));
    }
    match error {
        Some(e) => {
            output::err(&report::render_error(&e, &lookup(&recipe)));
            output::err(&format!("nsr: {}\n", graph::stopped_at(&e)));
            ExitCode::from(EXIT_RECIPE_ERROR)
        }
        None => ExitCode::SUCCESS,
    }
}
