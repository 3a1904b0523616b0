//! `import "net" as net;`: where modules come from, in order: the importing recipe's
//! directory, each `--lib` directory, each directory of `NSR_PATH`, then the standard
//! library compiled into nsr (so `nsr` works from any directory with nothing beside it).
//! A module runs once per run (its resources join the run's journal); an import cycle is
//! an error naming the chain.

use rhai::{Engine, EvalAltResult, Module, ModuleResolver, Position, Scope, Shared, AST};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The standard library, written in nsr (stdlib/).
pub const STDLIB: &[(&str, &str)] = &[
    ("net", include_str!("../../stdlib/net.nsr")),
    ("fs", include_str!("../../stdlib/fs.nsr")),
    ("box", include_str!("../../stdlib/box.nsr")),
];

/// How the standard library's modules are named in errors and reports.
pub fn stdlib_path(name: &str) -> String {
    format!("<stdlib>/{name}.nsr")
}

/// The text of a standard library module, by its name or its `<stdlib>/NAME.nsr` path.
pub fn stdlib_source(name_or_path: &str) -> Option<&'static str> {
    let name = name_or_path
        .strip_prefix("<stdlib>/")
        .and_then(|n| n.strip_suffix(".nsr"))
        .unwrap_or(name_or_path);
    STDLIB.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

pub struct NsrResolver {
    /// `--lib` directories, then `NSR_PATH`'s.
    dirs: Vec<PathBuf>,
    verbose: bool,
    loading: RefCell<Vec<String>>,
    loaded: RefCell<HashMap<String, Shared<Module>>>,
}

/// Where an import's module was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    File(PathBuf),
    Stdlib(&'static str),
}

/// `--lib` directories, then `NSR_PATH`'s: where imports are looked for after the
/// importing file's own directory.
pub fn search_dirs(libs: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = libs.to_vec();
    if let Some(p) = std::env::var_os("NSR_PATH") {
        dirs.extend(std::env::split_paths(&p).filter(|d| !d.as_os_str().is_empty()));
    }
    dirs
}

/// The places `path` is looked for when `importer` (a file, or None) imports it, in order.
pub fn candidates(importer: Option<&str>, path: &str, dirs: &[PathBuf]) -> Vec<PathBuf> {
    let file = if path.ends_with(".nsr") {
        path.to_string()
    } else {
        format!("{path}.nsr")
    };
    if Path::new(&file).is_absolute() {
        return vec![PathBuf::from(file)];
    }
    let mut out = Vec::new();
    let importer_dir = importer
        .filter(|s| !s.starts_with('<'))
        .and_then(|s| Path::new(s).parent().map(Path::to_path_buf))
        .map(|d| {
            if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d
            }
        })
        .unwrap_or_else(|| PathBuf::from("."));
    out.push(importer_dir.join(&file));
    for d in dirs {
        out.push(d.join(&file));
    }
    out
}

/// The module `importer` gets for `import "PATH"`, or the places searched in vain.
pub fn locate(
    importer: Option<&str>,
    path: &str,
    dirs: &[PathBuf],
) -> Result<Located, Vec<PathBuf>> {
    let searched = candidates(importer, path, dirs);
    // A file never imports itself: `import "net"` in a recipe named net.nsr means
    // the next `net` along the path (the standard library's, say).
    let me = importer.and_then(|s| Path::new(s).canonicalize().ok());
    let found = searched
        .iter()
        .find(|p| p.is_file() && (me.is_none() || p.canonicalize().ok() != me));
    match found {
        Some(file) => Ok(Located::File(file.clone())),
        None => match STDLIB
            .iter()
            .find(|(n, _)| stdlib_source(path) == stdlib_source(n))
        {
            Some((name, _)) => Ok(Located::Stdlib(name)),
            None => Err(searched),
        },
    }
}

/// What `nsr run` says about an import found nowhere.
pub fn not_found_message(path: &str, searched: &[PathBuf]) -> String {
    let places: Vec<String> = searched.iter().map(|p| p.display().to_string()).collect();
    format!(
        "no module '{path}': looked for {}, and in the standard library ({})",
        places.join(", "),
        STDLIB
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

impl NsrResolver {
    pub fn new(libs: &[PathBuf], verbose: bool) -> NsrResolver {
        NsrResolver {
            dirs: search_dirs(libs),
            verbose,
            loading: RefCell::new(Vec::new()),
            loaded: RefCell::new(HashMap::new()),
        }
    }
}

impl ModuleResolver for NsrResolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let (key, text) = match locate(source, path, &self.dirs) {
            Ok(Located::File(file)) => {
                let key = file
                    .canonicalize()
                    .unwrap_or_else(|_| file.clone())
                    .display()
                    .to_string();
                if self.verbose && stdlib_source(path).is_some() {
                    crate::output::err(&format!(
                        "nsr: note: module '{path}' comes from {key}, which shadows the standard library's\n"
                    ));
                }
                let text = std::fs::read_to_string(&file).map_err(|e| {
                    import_error(format!("module '{path}': cannot read {key}: {e}"), pos)
                })?;
                (key, text)
            }
            Ok(Located::Stdlib(name)) => (
                stdlib_path(name),
                stdlib_source(name).unwrap_or_default().to_string(),
            ),
            Err(searched) => return Err(import_error(not_found_message(path, &searched), pos)),
        };
        if let Some(m) = self.loaded.borrow().get(&key) {
            return Ok(m.clone());
        }
        if self.loading.borrow().contains(&key) {
            let mut chain = self.loading.borrow().clone();
            chain.push(key.clone());
            return Err(import_error(
                format!("import cycle: {}", chain.join(" -> ")),
                pos,
            ));
        }
        let mut ast: AST = engine
            .compile(&text)
            .map_err(|e| Box::new(EvalAltResult::ErrorInModule(key.clone(), e.into(), pos)))?;
        ast.set_source(key.as_str());
        self.loading.borrow_mut().push(key.clone());
        let result = Module::eval_ast_as_new(Scope::new(), &ast, engine);
        self.loading.borrow_mut().pop();
        let mut module =
            result.map_err(|e| Box::new(EvalAltResult::ErrorInModule(key.clone(), e, pos)))?;
        module.build_index();
        let shared: Shared<Module> = module.into();
        self.loaded.borrow_mut().insert(key, shared.clone());
        Ok(shared)
    }
}

/// The text of module `name` as `nsr doc` and the REPL's `:help` find it: a file in
/// the current directory, a `--lib` directory or `NSR_PATH`, else the standard library.
pub fn find_source(name: &str, libs: &[PathBuf]) -> Option<String> {
    let file = format!("{name}.nsr");
    let mut places = vec![PathBuf::from(&file)];
    places.extend(libs.iter().map(|d| d.join(&file)));
    if let Some(p) = std::env::var_os("NSR_PATH") {
        places.extend(std::env::split_paths(&p).map(|d| d.join(&file)));
    }
    places
        .iter()
        .find(|p| p.is_file())
        .and_then(|p| std::fs::read_to_string(p).ok())
        .or_else(|| stdlib_source(name).map(str::to_string))
}

/// `import "PATH" as ALIAS;` statements in a piece of source, as (PATH, ALIAS).
pub fn imports_in(source: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(i) = rest.find("import") {
        rest = &rest[i + "import".len()..];
        let t = rest.trim_start();
        let Some(t) = t.strip_prefix('"') else {
            continue;
        };
        let Some(end) = t.find('"') else { break };
        let path = &t[..end];
        let after = t[end + 1..].trim_start();
        let Some(after) = after.strip_prefix("as") else {
            continue;
        };
        let alias: String = after
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !alias.is_empty() {
            out.push((path.to_string(), alias));
        }
    }
    out
}

/// Rhai turns its own module-not-found error into one that only names the path: ours
/// travels as a value instead, and becomes a located recipe error.
fn import_error(message: String, pos: Position) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(
        rhai::Dynamic::from(super::values::ImportError(message)),
        pos,
    ))
}

/// A function of a module, as its `///` comment documents it.
#[derive(Debug, Clone, PartialEq)]
pub struct FnDoc {
    pub name: String,
    pub params: String,
    pub doc: String,
}

/// The documented functions of a module's source: `///` lines, then `fn name(params)`.
/// Private functions (`private fn`) are left out.
pub fn fn_docs(source: &str) -> Vec<FnDoc> {
    let mut out = Vec::new();
    let mut doc: Vec<String> = Vec::new();
    for line in source.lines() {
        let t = line.trim();
        if let Some(d) = t.strip_prefix("///") {
            doc.push(d.strip_prefix(' ').unwrap_or(d).to_string());
            continue;
        }
        if let Some(rest) = t.strip_prefix("fn ") {
            if let Some((name, after)) = rest.split_once('(') {
                let params = after.split(')').next().unwrap_or("").trim().to_string();
                out.push(FnDoc {
                    name: name.trim().to_string(),
                    params,
                    doc: doc.join("\n"),
                });
            }
        }
        doc.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_doc_comments_of_public_functions() {
        let src = "/// Adds one.\n/// Really.\nfn inc(x) { x + 1 }\n\nprivate fn hidden() {}\n/// Two args.\nfn pair(a, b) { [a, b] }\n";
        let docs = fn_docs(src);
        assert_eq!(docs.len(), 2);
        assert_eq!(
            docs[0],
            FnDoc {
                name: "inc".into(),
                params: "x".into(),
                doc: "Adds one.\nReally.".into()
            }
        );
        assert_eq!(docs[1].name, "pair");
        assert_eq!(docs[1].params, "a, b");
    }

    #[test]
    fn finds_import_statements() {
        assert_eq!(
            imports_in("import \"net\" as net; let x = 1;\nimport \"lab/topo\" as t;"),
            vec![
                ("net".to_string(), "net".to_string()),
                ("lab/topo".to_string(), "t".to_string())
            ]
        );
        assert!(imports_in("let important = 1;").is_empty());
    }

    #[test]
    fn every_stdlib_function_is_documented() {
        for (name, src) in STDLIB {
            let docs = fn_docs(src);
            assert!(!docs.is_empty(), "stdlib {name} has no functions");
            for d in docs {
                assert!(!d.doc.is_empty(), "{name}::{} has no /// doc", d.name);
            }
        }
    }
}
