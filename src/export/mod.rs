//! `nsr export oci`: one sandbox of a recipe's plan as an OCI runtime bundle (a
//! runtime-spec `config.json` and a root filesystem) that runc or crun runs. The recipe
//! runs against the recording backend, as for `nsr plan`; only the bundle is written.
//!
//! - `story.rs`: what the trace did to the sandbox, and what else the recipe did
//! - `error.rs`: ExportError
//! - `root.rs`: where the root comes from, and DIR/rootfs made from it
//! - `spec.rs`, `seccomp.rs`, `resources.rs`: the config, in oci-spec's types

mod error;
mod resources;
mod root;
mod seccomp;
mod spec;
mod story;

use crate::engine::limits::Limits;
use crate::engine::Recipe;
use std::path::{Path, PathBuf};

pub use error::ExportError;
pub use spec::OCI_VERSION;

/// What `nsr export oci` was asked.
pub struct Request {
    pub dir: PathBuf,
    /// 1-based; None: the recipe's only sandbox.
    pub sandbox: Option<usize>,
    /// `--rootfs PATH`: reference this root instead of making DIR/rootfs.
    pub rootfs: Option<String>,
}

/// What was written, and what the user must know about it.
#[derive(Debug)]
pub struct Report {
    pub sandbox: usize,
    pub config: PathBuf,
    /// The root the config names.
    pub root: String,
    /// What the bundle says differently from the recipe.
    pub notes: Vec<String>,
    /// What the recipe does that the bundle cannot say (also in its annotations).
    pub not_exported: Vec<String>,
    /// The extraction's own warnings (entries skipped and why).
    pub extract_warnings: Vec<String>,
}

pub fn oci(recipe: &Recipe, limits: &Limits, req: &Request) -> Result<Report, ExportError> {
    let trace = crate::session::Trace::default();
    let outcome = crate::engine::run_traced(recipe, limits, trace.clone());
    if let Err(e) = outcome.result {
        return Err(ExportError::Recipe(Box::new(e)));
    }
    let trace = trace.borrow();
    let made = story::sandboxes(&trace);
    let number = match (req.sandbox, made) {
        (_, 0) => return Err(ExportError::NoSandbox),
        (Some(n), m) if n == 0 || n > m => {
            return Err(ExportError::NoSuchSandbox { asked: n, made })
        }
        (Some(n), _) => n,
        (None, 1) => 1,
        (None, m) => return Err(ExportError::Several { made: m }),
    };
    let story = story::of_sandbox(&trace, number).expect("a sandbox the trace made");
    let (source, mut notes) = root::source(&story, req.rootfs.as_deref())?;
    let created = prepare_dir(&req.dir)?;
    match write(&story, &source, &req.dir, recipe) {
        Ok(mut report) => {
            notes.append(&mut report.notes);
            report.notes = notes;
            Ok(report)
        }
        Err(e) => {
            // Only what this export made: the directory when it made it, else its contents.
            let _ = crate::rootfs::remove::remove_tree(&absolute_dir(&req.dir), !created);
            Err(e)
        }
    }
}

fn absolute_dir(dir: &Path) -> PathBuf {
    crate::rootfs::target::from_cwd(&dir.display().to_string())
}

/// Makes DIR, or checks that it is empty; true when it was made.
fn prepare_dir(dir: &Path) -> Result<bool, ExportError> {
    let shown = dir.display().to_string();
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(ExportError::BundleDir(shown));
            }
            Ok(false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| ExportError::Write(shown, e))?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            Err(ExportError::BundleDir(shown))
        }
        Err(e) => Err(ExportError::Write(shown, e)),
    }
}

fn write(
    story: &story::Story,
    source: &root::RootSource,
    dir: &Path,
    recipe: &Recipe,
) -> Result<Report, ExportError> {
    let bundle = absolute_dir(dir);
    let mut extract_warnings = Vec::new();
    if !matches!(source, root::RootSource::Directory { .. }) {
        let rootfs = bundle.join("rootfs");
        std::fs::create_dir(&rootfs)
            .map_err(|e| ExportError::Write(rootfs.display().to_string(), e))?;
        extract_warnings = root::make(source, &rootfs)?;
    }
    let built = spec::build(story, source, &bundle);
    let mut not_exported = story.not_exported.clone();
    not_exported.extend(built.not_exported);
    let mut value = serde_json::to_value(&built.spec).expect("a spec serializes");
    finish(&mut value, recipe, &not_exported);
    let text = serde_json::to_string_pretty(&value).expect("JSON serializes") + "\n";
    let config = bundle.join("config.json");
    std::fs::write(&config, text)
        .map_err(|e| ExportError::Write(config.display().to_string(), e))?;
    Ok(Report {
        sandbox: story.number,
        config,
        root: spec::container_root(source, &bundle).display().to_string(),
        notes: built.notes,
        not_exported,
        extract_warnings,
    })
}

/// Annotations naming the recipe and each thing not exported; capability lists in
/// capability order (oci-spec keeps them in a hash set).
fn finish(v: &mut serde_json::Value, recipe: &Recipe, not_exported: &[String]) {
    if let Some(a) = v.get_mut("annotations").and_then(|a| a.as_object_mut()) {
        a.insert("dev.nsr.recipe".into(), recipe.path.clone().into());
        for (i, w) in not_exported.iter().enumerate() {
            a.insert(format!("dev.nsr.not-exported.{}", i + 1), w.clone().into());
        }
    }
    let order = |name: &str| {
        let bare = name.strip_prefix("CAP_").unwrap_or(name);
        crate::confine::caps::number(bare).unwrap_or(u32::MAX)
    };
    if let Some(caps) = v
        .pointer_mut("/process/capabilities")
        .and_then(|c| c.as_object_mut())
    {
        for set in caps.values_mut() {
            if let Some(list) = set.as_array_mut() {
                list.sort_by_key(|c| order(c.as_str().unwrap_or_default()));
            }
        }
    }
}
