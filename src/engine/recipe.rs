//! A recipe as nsr gets it: its path, text, arguments and library directories, and the
//! parameters its header declares.

use std::collections::BTreeMap;

/// A recipe to run: its path (as shown in messages), its text and its arguments, and
/// where its imports may come from besides its own directory and the standard library.
#[derive(Default)]
pub struct Recipe {
    pub path: String,
    pub source: String,
    pub args: BTreeMap<String, String>,
    /// `--lib` directories.
    pub libs: Vec<std::path::PathBuf>,
    /// Note when a module on disk shadows a standard library module.
    pub verbose: bool,
}

/// A parameter a recipe declares in its header: `//! param NAME[=DEFAULT]: WHAT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamDecl {
    pub name: String,
    /// None: required.
    pub default: Option<String>,
    pub help: String,
}

/// The parameters a recipe declares, in order.
pub fn declared_params(source: &str) -> Vec<ParamDecl> {
    source
        .lines()
        .filter_map(|l| l.trim().strip_prefix("//! param "))
        .filter_map(|decl| {
            let (head, help) = decl.split_once(':').unwrap_or((decl, ""));
            let (name, default) = match head.split_once('=') {
                Some((n, d)) => (n.trim(), Some(d.trim().to_string())),
                None => (head.trim(), None),
            };
            (!name.is_empty()).then(|| ParamDecl {
                name: name.to_string(),
                default,
                help: help.trim().to_string(),
            })
        })
        .collect()
}

/// Fills declared defaults into `args`, and names every required parameter missing.
pub fn apply_params(
    decls: &[ParamDecl],
    args: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    let mut missing = Vec::new();
    for d in decls {
        if args.contains_key(&d.name) {
            continue;
        }
        match &d.default {
            Some(v) => {
                args.insert(d.name.clone(), v.clone());
            }
            None => missing.push(format!("{} ({})", d.name, d.help)),
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "missing recipe parameter(s): {}; pass NAME=VALUE after the file (--help lists them)",
            missing.join(", ")
        ))
    }
}
