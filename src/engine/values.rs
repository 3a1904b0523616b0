//! The values recipes hold: a sandbox, the recipe's arguments, a failed primitive.

use crate::ops::SandboxId;
use crate::session::PrimitiveFailure;
use rhai::{Dynamic, Engine, EvalAltResult, Position};
use std::collections::BTreeMap;
use std::rc::Rc;

/// A sandbox as a recipe sees it: the handle for its methods and what it is.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub id: SandboxId,
    pub pid: i64,
    pub kinds: Vec<String>,
}

impl Sandbox {
    pub fn describe(&self) -> String {
        format!("sandbox(pid {}, [{}])", self.pid, self.kinds.join(" "))
    }
}

/// `nsr run FILE key=value ...`, as the recipe's `args`.
#[derive(Debug, Clone, Default)]
pub struct RecipeArgs {
    pub values: Rc<BTreeMap<String, String>>,
}

/// Why an `import` failed: a module nowhere to be found, or an import cycle.
#[derive(Debug, Clone)]
pub struct ImportError(pub String);

/// The token that stops a recipe that went over the memory limit.
#[derive(Debug, Clone, Copy)]
pub struct MemoryLimit;

/// Thrown by `exit(code)`: ends the recipe normally with that status (and teardown).
#[derive(Debug, Clone, Copy)]
pub struct RecipeExit(pub i64);

/// A primitive's failure as a recipe can catch it: `try { ... } catch (e) { print(e.errno) }`.
#[derive(Debug, Clone)]
pub struct PrimitiveError(pub Rc<PrimitiveFailure>);

/// Functions registered here beyond the primitives, as `nsr check` knows them (name and
/// number of parameters, receiver included); a test keeps the list true.
pub const VALUE_FUNCTIONS: &[(&str, usize)] = &[
    ("to_string", 1),
    ("to_debug", 1),
    ("contains", 2),
    ("get", 3),
    ("keys", 1),
    ("exit", 0),
    ("exit", 1),
];

pub fn register_types(engine: &mut Engine) {
    engine
        .register_type_with_name::<Sandbox>("Sandbox")
        .register_get("pid", |s: &mut Sandbox| s.pid)
        .register_get("kinds", |s: &mut Sandbox| {
            s.kinds
                .iter()
                .map(|k| Dynamic::from(k.clone()))
                .collect::<rhai::Array>()
        })
        .register_fn("to_string", |s: &mut Sandbox| s.describe())
        .register_fn("to_debug", |s: &mut Sandbox| s.describe());

    engine
        .register_type_with_name::<RecipeArgs>("Args")
        .register_indexer_get(|a: &mut RecipeArgs, key: &str| -> Result<String, Box<EvalAltResult>> {
            a.values.get(key).cloned().ok_or_else(|| {
                let given: Vec<_> = a.values.keys().cloned().collect();
                format!(
                    "recipe parameter '{key}' was not given: pass it as {key}=VALUE after the recipe file{}",
                    if given.is_empty() { String::new() } else { format!(" (given: {})", given.join(", ")) }
                )
                .into()
            })
        })
        .register_fn("contains", |a: &mut RecipeArgs, key: &str| a.values.contains_key(key))
        .register_fn("get", |a: &mut RecipeArgs, key: &str, default: Dynamic| -> Dynamic {
            a.values.get(key).map(|v| Dynamic::from(v.clone())).unwrap_or(default)
        })
        .register_fn("keys", |a: &mut RecipeArgs| {
            a.values.keys().map(|k| Dynamic::from(k.clone())).collect::<rhai::Array>()
        })
        .register_fn("to_string", |a: &mut RecipeArgs| format!("{:?}", a.values))
        .register_fn("to_debug", |a: &mut RecipeArgs| format!("{:?}", a.values));

    // Rhai's own `exit` value is lost by `run`; this one is told apart from errors, and
    // as a termination it cannot be swallowed by a `try`/`catch`.
    engine.register_fn("exit", |code: i64| -> Result<(), Box<EvalAltResult>> {
        Err(Box::new(EvalAltResult::ErrorTerminated(
            Dynamic::from(RecipeExit(code)),
            Position::NONE,
        )))
    });
    engine.register_fn("exit", || -> Result<(), Box<EvalAltResult>> {
        Err(Box::new(EvalAltResult::ErrorTerminated(
            Dynamic::from(RecipeExit(0)),
            Position::NONE,
        )))
    });

    engine
        .register_type_with_name::<PrimitiveError>("PrimitiveError")
        .register_get("message", |e: &mut PrimitiveError| {
            e.0.error.message.clone()
        })
        .register_get("errno", |e: &mut PrimitiveError| {
            e.0.error
                .errno
                .map(|n| format!("{n:?}"))
                .unwrap_or_default()
        })
        .register_get("hint", |e: &mut PrimitiveError| {
            e.0.error.hint.clone().unwrap_or_default()
        })
        .register_get("call", |e: &mut PrimitiveError| e.0.call.clone())
        .register_fn("to_string", |e: &mut PrimitiveError| failure_line(&e.0))
        .register_fn("to_debug", |e: &mut PrimitiveError| failure_line(&e.0));
}

/// One line: "mount("proc", "/proc", "proc"): cannot ...: EPERM (Operation not permitted)".
pub fn failure_line(f: &PrimitiveFailure) -> String {
    let mut s = format!("{}: {}", f.call, f.error.message);
    if let Some(n) = f.error.errno_text() {
        s.push_str(&format!(": {n}"));
    }
    s
}

pub fn failure_to_rhai(f: PrimitiveFailure, pos: Position) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from(PrimitiveError(Rc::new(f))),
        pos,
    ))
}
