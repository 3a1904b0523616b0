//! What every feature reads: the open documents, what the engine knows, and where
//! imports are found. The server owns it and changes it; features only read it.

use super::document::Document;
use super::knowledge::Knowledge;
use crate::engine::modules::{locate, search_dirs, stdlib_source, Located};
use std::collections::HashMap;
use std::path::PathBuf;

pub struct Workspace {
    /// By URI.
    pub docs: HashMap<String, Document>,
    pub knowledge: Knowledge,
    /// `--lib` directories (and the client's `libs` initialization option).
    pub libs: Vec<PathBuf>,
}

impl Workspace {
    pub fn doc(&self, uri: &lsp_types::Uri) -> Option<&Document> {
        self.docs.get(uri.as_str())
    }

    /// The module `import "PATH"` in the document at `importer` gets, as `nsr run` finds
    /// it: its file (None for the standard library) and its text.
    pub fn module_file(
        &self,
        importer: Option<&str>,
        path: &str,
    ) -> Option<(Option<PathBuf>, String)> {
        // An unsaved buffer imports as a recipe in the working directory would.
        match locate(importer, path, &search_dirs(&self.libs)).ok()? {
            Located::File(f) => {
                let text = std::fs::read_to_string(&f).ok()?;
                Some((Some(f.canonicalize().unwrap_or(f)), text))
            }
            Located::Stdlib(name) => Some((None, stdlib_source(name)?.to_string())),
        }
    }

    pub fn module_source(&self, importer: Option<&str>, path: &str) -> Option<String> {
        self.module_file(importer, path).map(|(_, text)| text)
    }
}
