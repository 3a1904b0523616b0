//! `nsr graph`: the picture of a recipe's network and sandboxes. One model
//! (`model.rs`) comes from a plan (`planned.rs`: the recipe against the recording
//! backend, nothing done) or from a live environment (`live.rs`: its journal says what
//! the run made, the kernel says how it is now); `drawing.rs` turns it into boxes and
//! lines, which each format writes: dot, mermaid, svg (laid out by nsr, `layout.rs`),
//! html (the svg with a details panel) and json (the model itself).

pub mod dot;
pub mod drawing;
pub mod html;
pub mod layout;
pub mod live;
pub mod mermaid;
pub mod model;
pub mod planned;
pub mod svg;

use crate::engine::error::RecipeError;
use crate::engine::limits::Limits;
use crate::engine::Recipe;
pub use model::Graph;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Dot,
    Mermaid,
    Svg,
    Html,
    Json,
}

impl Format {
    /// The format a file's name asks for by its ending.
    pub fn of_file(path: &str) -> Option<Format> {
        let ext = std::path::Path::new(path).extension()?.to_str()?;
        Some(match ext {
            "svg" => Format::Svg,
            "html" | "htm" => Format::Html,
            "dot" | "gv" => Format::Dot,
            "mmd" | "mermaid" => Format::Mermaid,
            "json" => Format::Json,
            _ => return None,
        })
    }

    /// The file name's ending for a picture in this format.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Dot => "dot",
            Format::Mermaid => "mmd",
            Format::Svg => "svg",
            Format::Html => "html",
            Format::Json => "json",
        }
    }
}

/// The picture of a recipe's plan, and the error it stopped at (drawn up to there).
pub fn of_recipe(recipe: &Recipe, limits: &Limits) -> (Graph, Option<RecipeError>) {
    let trace = crate::session::Trace::default();
    let outcome = crate::engine::run_traced(recipe, limits, trace.clone());
    let mut graph = planned::from_trace(&recipe.path, &trace.borrow());
    let error = outcome.result.err();
    if let Some(e) = &error {
        graph.stopped = Some(stopped_at(e));
    }
    (graph, error)
}

/// "the recipe stops at FILE:LINE:COL: MESSAGE"
pub fn stopped_at(e: &RecipeError) -> String {
    let first = e.to_string().lines().next().unwrap_or_default().to_string();
    match e.origin().filter(|o| !o.file.is_empty()) {
        Some(o) => format!("the recipe stops at {o}: {first} (drawn up to there)"),
        None => format!("the recipe stops: {first} (drawn up to there)"),
    }
}

pub fn render(graph: &Graph, format: Format) -> String {
    if format == Format::Json {
        return format!(
            "{}\n",
            serde_json::to_string_pretty(graph).unwrap_or_else(|_| "null".into())
        );
    }
    let d = drawing::draw(graph);
    match format {
        Format::Dot => dot::render(&d),
        Format::Mermaid => mermaid::render(&d),
        Format::Svg => svg::render(&d),
        Format::Html => html::render(graph, &d, &svg::render(&d)),
        Format::Json => unreachable!("returned above"),
    }
}
