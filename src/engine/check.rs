//! `nsr check`: every syntax error and every call of a function that does not exist,
//! found without running anything.

use super::call::PrimitiveDoc;
use super::closest::closest;
use super::error::{from_parse, origin_at, RecipeError};
use super::modules;
use super::recipe::{declared_params, Recipe};
use super::values::VALUE_FUNCTIONS;
use crate::journal::Origin;
use rhai::{ASTNode, Engine, Expr, OptimizationLevel, Scope, Stmt, AST};
use std::collections::{HashMap, HashSet};

/// Names the language handles itself, which no signature lists.
const KEYWORDS: [&str; 12] = [
    "print",
    "debug",
    "type_of",
    "Fn",
    "call",
    "curry",
    "is_def_var",
    "is_def_fn",
    "is_shared",
    "this",
    "exit",
    "throw",
];

/// What `nsr check` found: errors (the recipe cannot run as written) and warnings.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub errors: Vec<RecipeError>,
    pub warnings: Vec<(Origin, String)>,
}

/// Reports syntax errors one after another: after each, the offending line is blanked
/// and the recipe parsed again, so one run shows them all (at most 50); then calls of
/// unknown functions, and parameters read but not declared (warnings).
pub fn check(
    engine: &mut Engine,
    recipe: &Recipe,
    scope: &Scope,
    primitives: &[PrimitiveDoc],
) -> CheckReport {
    engine.set_optimization_level(OptimizationLevel::None);
    let mut errors = Vec::new();
    let mut lines: Vec<String> = recipe.source.lines().map(str::to_string).collect();
    let mut blanked = HashSet::new();
    let ast = loop {
        match engine.compile_with_scope(scope, lines.join("\n")) {
            Ok(ast) => break Some(ast),
            Err(e) => {
                let line = e.position().line().unwrap_or(0);
                errors.push(from_parse(&recipe.path, &e));
                if line == 0 || line > lines.len() || !blanked.insert(line) || errors.len() >= 50 {
                    break None;
                }
                lines[line - 1].clear();
            }
        }
    };
    let mut warnings = Vec::new();
    if let Some(ast) = ast {
        errors.extend(unknown_calls(&ast, &recipe.path, primitives));
        errors.extend(super::check_literals::bad_literals(&ast, &recipe.path));
        let (functions, import_errors) = imported_modules(engine, &ast, recipe);
        errors.extend(import_errors);
        errors.extend(unknown_module_functions(&functions, &ast, recipe));
        warnings = undeclared_params(&ast, recipe);
    }
    CheckReport { errors, warnings }
}

/// The modules the recipe imports, by alias, with their public functions; and an error
/// at each import of a module found nowhere `nsr run` would look (beside the recipe, in
/// a `--lib` directory, in `NSR_PATH`, in the standard library) or whose file does not
/// parse.
fn imported_modules(
    engine: &Engine,
    ast: &AST,
    recipe: &Recipe,
) -> (HashMap<String, Vec<modules::FnDoc>>, Vec<RecipeError>) {
    let dirs = modules::search_dirs(&recipe.libs);
    let mut functions = HashMap::new();
    let mut errors = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let Some(ASTNode::Stmt(Stmt::Import(x, _))) = path.last() else {
            return true;
        };
        let Expr::StringConstant(module, pos) = &x.0 else {
            return true;
        };
        let source = match modules::locate(Some(&recipe.path), module, &dirs) {
            Ok(modules::Located::File(f)) => std::fs::read_to_string(&f).ok().map(|s| (s, Some(f))),
            Ok(modules::Located::Stdlib(n)) => {
                modules::stdlib_source(n).map(|s| (s.to_string(), None))
            }
            Err(searched) => {
                errors.push(RecipeError::Script {
                    origin: origin_at(&recipe.path, *pos),
                    message: modules::not_found_message(module, &searched),
                    hint: Some(format!(
                        "put {module}.nsr beside the recipe, or name its directory with --lib DIR or NSR_PATH"
                    )),
                });
                None
            }
        };

        let Some((source, file)) = source else {
            return true;
        };
        if let (Some(file), Err(e)) = (&file, engine.compile(&source)) {
            let at = e.position();
            errors.push(RecipeError::Script {
                origin: origin_at(&recipe.path, *pos),
                message: format!(
                    "module '{module}' does not parse: {}:{}:{}: {}",
                    file.display(),
                    at.line().unwrap_or(0),
                    at.position().unwrap_or(0),
                    e.err_type()
                ),
                hint: Some(format!(
                    "nsr check {} shows each of its problems",
                    file.display()
                )),
            });
        }
        functions.insert(x.1.name.to_string(), modules::fn_docs(&source));
        true
    });
    (functions, errors)
}

/// `alias::name(...)` where the module imported as `alias` has no public function
/// `name` taking that many arguments (Rhai finds that only when the call runs).
fn unknown_module_functions(
    functions: &HashMap<String, Vec<modules::FnDoc>>,
    ast: &AST,
    recipe: &Recipe,
) -> Vec<RecipeError> {
    let mut errors = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let Some(ASTNode::Expr(Expr::FnCall(call, pos))) = path.last() else {
            return true;
        };
        let [alias] = call.namespace.path.as_slice() else {
            return true;
        };
        let Some(fns) = functions.get(alias.name.as_str()) else {
            return true;
        };
        let arity =
            |f: &modules::FnDoc| f.params.split(',').filter(|p| !p.trim().is_empty()).count();
        if fns
            .iter()
            .any(|f| f.name == call.name.as_str() && arity(f) == call.args.len())
        {
            return true;
        }
        let names: Vec<String> = fns.iter().map(|f| f.name.clone()).collect();
        let hint = match fns.iter().find(|f| f.name == call.name.as_str()) {
            Some(f) => format!("{}::{}({})", alias.name, f.name, f.params),
            None => match closest(&call.name, names.iter()) {
                Some(near) => format!("did you mean {}::{near}?", alias.name),
                None => format!("the module has: {}", names.join(", ")),
            },
        };
        errors.push(RecipeError::Script {
            origin: origin_at(&recipe.path, *pos),
            message: format!(
                "module '{}' has no function {} with {} argument(s)",
                alias.name,
                call.name,
                call.args.len()
            ),
            hint: Some(hint),
        });
        true
    });
    errors
}

/// `args.NAME`, `args["NAME"]`, `args.get("NAME", ...)` and `"NAME" in args` for a NAME
/// the header does not declare with `//! param NAME[=DEFAULT]: WHAT`: `--help` would not
/// list it and `nsr run` would not say it is missing.
fn undeclared_params(ast: &AST, recipe: &Recipe) -> Vec<(Origin, String)> {
    let declared: HashSet<String> = declared_params(&recipe.source)
        .into_iter()
        .map(|d| d.name)
        .collect();
    let mut found: Vec<(Origin, String)> = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let Some(ASTNode::Expr(expr)) = path.last() else {
            return true;
        };
        if let Some((name, pos)) = param_read(expr) {
            if !declared.contains(name.as_str()) && !found.iter().any(|(_, n)| *n == name) {
                found.push((origin_at(&recipe.path, pos), name));
            }
        }
        true
    });
    found
        .into_iter()
        .map(|(origin, name)| {
            let text = format!(
                "the recipe reads parameter '{name}' but does not declare it: add `//! param {name}[=DEFAULT]: WHAT` to its header (then `nsr run FILE --help` lists it)"
            );
            (origin, text)
        })
        .collect()
}

/// The parameter name an expression reads from `args`, and where.
fn param_read(expr: &Expr) -> Option<(String, rhai::Position)> {
    // The recipe's own `args` is found in the scope at run time (no index); a variable
    // the recipe declared itself with `let args` has one.
    let is_args =
        |e: &Expr| matches!(e, Expr::Variable(v, None, _) if v.1 == "args" && v.0.is_none());
    let literal = |e: &Expr| match e {
        Expr::StringConstant(s, pos) => Some((s.to_string(), *pos)),
        _ => None,
    };
    match expr {
        Expr::Dot(x, _, _) if is_args(&x.lhs) => match &x.rhs {
            Expr::Property(p, pos) => Some((p.2.to_string(), *pos)),
            Expr::MethodCall(f, _) if f.name == "get" => f.args.first().and_then(literal),
            _ => None,
        },
        Expr::Index(x, _, _) if is_args(&x.lhs) => literal(&x.rhs),
        // `"NAME" in args` is contains(args, "NAME").
        Expr::FnCall(f, _) if f.name == "contains" && f.args.len() == 2 && is_args(&f.args[0]) => {
            literal(&f.args[1])
        }
        _ => None,
    }
}

/// Rhai's standard library, `name arity` per line, as the engine of the rhai version in
/// Cargo.lock lists it (a test keeps it true; the runtime engine is built without the
/// `metadata` feature that could list it, because that feature slows every start).
const STDLIB_FUNCTIONS: &str = include_str!("stdlib_functions.txt");

/// The names of Rhai's standard library functions (for completion in the REPL).
pub fn stdlib_names() -> Vec<String> {
    let mut names: Vec<String> = STDLIB_FUNCTIONS
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|n| n.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Function name to the argument counts it accepts (methods count their receiver).
fn known_functions(ast: &AST, primitives: &[PrimitiveDoc]) -> HashMap<String, HashSet<usize>> {
    let mut known: HashMap<String, HashSet<usize>> = HashMap::new();
    let mut add = |name: &str, arity: usize| {
        known.entry(name.to_string()).or_default().insert(arity);
    };
    for line in STDLIB_FUNCTIONS.lines() {
        if let Some((name, arity)) = line.split_once(' ') {
            if let Ok(arity) = arity.parse() {
                add(name, arity);
            }
        }
    }
    for p in primitives {
        add(p.name, p.params.len());
    }
    for (name, arity) in VALUE_FUNCTIONS {
        add(name, *arity);
    }
    for f in ast.iter_functions() {
        add(f.name, f.params.len());
    }
    known
}

/// src/engine/stdlib_functions.txt from Rhai's own signatures (`gen_fn_signatures`,
/// which needs Rhai's `metadata` feature: the tests and `cargo run --example
/// regenerate` have it, nsr does not): one `NAME ARITY` a line, sorted.
pub fn stdlib_list(signatures: &[String]) -> String {
    let mut lines: Vec<String> = signatures
        .iter()
        .filter_map(|s| parse_signature(s))
        .filter(|(n, _)| !n.contains('$'))
        .map(|(n, a)| format!("{n} {a}"))
        .collect();
    lines.sort();
    lines.dedup();
    lines.join("\n") + "\n"
}

/// "mount(sandbox: Sandbox, source: &str) -> ()" to ("mount", 2).
fn parse_signature(sig: &str) -> Option<(String, usize)> {
    let open = sig.find('(')?;
    let name = sig[..open].trim();
    let name = name.rsplit(' ').next()?.to_string();
    let mut depth = 0usize;
    let mut arity = 0usize;
    let mut any = false;
    for c in sig[open + 1..].chars() {
        match c {
            '(' | '<' | '[' => depth += 1,
            '>' | ']' => depth = depth.saturating_sub(1),
            ')' if depth == 0 => break,
            ')' => depth -= 1,
            ',' if depth == 0 => arity += 1,
            c if !c.is_whitespace() => any = true,
            _ => {}
        }
    }
    Some((name, if any { arity + 1 } else { 0 }))
}

fn unknown_calls(ast: &AST, file: &str, primitives: &[PrimitiveDoc]) -> Vec<RecipeError> {
    let known = known_functions(ast, primitives);
    let mut errors = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        let (call, pos, is_method) = match path.last() {
            Some(ASTNode::Expr(Expr::FnCall(f, pos))) => (f, *pos, false),
            Some(ASTNode::Expr(Expr::MethodCall(f, pos))) => (f, *pos, true),
            _ => return true,
        };
        let name = call.name.as_str();
        let is_identifier = name
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_');
        if call.op_token.is_some()
            || !is_identifier
            || call.is_qualified()
            || KEYWORDS.contains(&name)
        {
            return true;
        }
        let arity = call.args.len() + usize::from(is_method);
        let ok = known
            .get(name)
            .is_some_and(|arities| arities.contains(&arity));
        if !ok {
            let hint = match known.get(name) {
                Some(arities) => {
                    let mut a: Vec<_> = arities
                        .iter()
                        .map(|n| n.saturating_sub(usize::from(is_method)))
                        .collect();
                    a.sort();
                    format!(
                        "{name} takes {} argument(s)",
                        a.iter()
                            .map(|n| n.to_string())
                            .collect::<Vec<_>>()
                            .join(" or ")
                    )
                }
                None => match closest(name, known.keys()) {
                    Some(near) => format!("did you mean {near}?"),
                    None => "`nsr --help` and the README list the primitives".into(),
                },
            };
            errors.push(RecipeError::Script {
                origin: origin_at(file, pos),
                message: format!("no function {name} with {} argument(s)", call.args.len()),
                hint: Some(hint),
            });
        }
        true
    });
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::recording::RecordingBackend;
    use crate::engine::limits::Limits;
    use crate::session::Session;
    use crate::signals::Signals;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Regenerated (only written, never checked there) by `cargo run --example regenerate`.
    #[test]
    fn stdlib_list_matches_the_rhai_version_in_use() {
        let expected = stdlib_list(&Engine::new().gen_fn_signatures(true));
        assert!(
            STDLIB_FUNCTIONS == expected,
            "src/engine/stdlib_functions.txt is stale: cargo run --example regenerate"
        );
    }

    #[test]
    fn every_function_nsr_registers_is_known_to_check() {
        let session = Rc::new(RefCell::new(Session::new(Box::new(
            RecordingBackend::default(),
        ))));
        let (engine, primitives) =
            crate::engine::build_engine(session, &Limits::default(), &Signals::none());
        let ast = engine.compile("").unwrap();
        let known = known_functions(&ast, &primitives);
        for line in stdlib_list(&engine.gen_fn_signatures(false)).lines() {
            let (name, arity) = line.split_once(' ').unwrap();
            let arity: usize = arity.parse().unwrap();
            assert!(
                known.get(name).is_some_and(|a| a.contains(&arity)),
                "{name} with {arity} parameter(s) is registered but unknown to `nsr check`"
            );
        }
        assert!(primitives
            .iter()
            .any(|p| p.name == "mount" && p.params.len() == 5));
    }

    #[test]
    fn signatures_parse_to_name_and_arity() {
        assert_eq!(
            parse_signature("mount(sandbox: Sandbox, source: &str) -> ()"),
            Some(("mount".into(), 2))
        );
        assert_eq!(
            parse_signature("namespaces() -> Map"),
            Some(("namespaces".into(), 0))
        );
        assert_eq!(
            parse_signature("f(a: HashMap<K, V>, b) -> x"),
            Some(("f".into(), 2))
        );
        assert_eq!(parse_signature("pub fn g(x: i64)"), Some(("g".into(), 1)));
    }
}
