//! What can go wrong in an export, one sentence each (rendered once, by the command
//! line).

use crate::engine::error::RecipeError;
use crate::ops::OpError;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Recipe(Box<RecipeError>),
    #[error("the recipe makes no sandbox: nothing to export")]
    NoSandbox,
    #[error("the recipe makes {made} sandboxes: choose one with --sandbox N (1 to {made})")]
    Several { made: usize },
    #[error("--sandbox {asked}: the recipe makes {}", if *made == 1 { "1 sandbox (--sandbox 1)".to_string() } else { format!("{made} sandboxes (--sandbox 1 to {made})") })]
    NoSuchSandbox { asked: usize, made: usize },
    #[error("{0} exists and is not an empty directory: a bundle goes into a new or empty one")]
    BundleDir(String),
    #[error("cannot write {0}: {1}")]
    Write(String, std::io::Error),
    #[error("cannot extract the root ({0}): {1}")]
    Extract(String, OpError),
    #[error("{0}")]
    Root(String),
}
