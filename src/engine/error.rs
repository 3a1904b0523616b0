//! What went wrong in a recipe, located in its source, before it is rendered.

use super::values::PrimitiveError;
use crate::journal::Origin;
use crate::session::PrimitiveFailure;
use rhai::{EvalAltResult, ParseError, Position};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RecipeError {
    #[error("cannot read {path}: {message}")]
    Unreadable { path: String, message: String },
    #[error("syntax error: {message}")]
    Syntax { origin: Origin, message: String },
    #[error("{}", .0.error.message)]
    Primitive(PrimitiveFailure),
    #[error("{message}")]
    Script {
        origin: Origin,
        message: String,
        hint: Option<String>,
    },
    #[error("interrupted by {signal}")]
    Interrupted {
        signal: String,
        origin: Origin,
        detail: Option<String>,
    },
}

impl RecipeError {
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            RecipeError::Unreadable { .. } => None,
            RecipeError::Syntax { origin, .. }
            | RecipeError::Script { origin, .. }
            | RecipeError::Interrupted { origin, .. } => Some(origin),
            RecipeError::Primitive(f) => Some(&f.origin),
        }
    }
}

pub fn origin_at(file: &str, pos: Position) -> Origin {
    Origin {
        file: file.to_string(),
        line: pos.line().unwrap_or(0),
        column: pos.position().unwrap_or(0),
    }
}

pub fn from_parse(file: &str, e: &ParseError) -> RecipeError {
    let origin = origin_at(file, e.position());
    // Too deep a nesting is the expr-depth limit, not a typo: say which limit it is.
    if matches!(e.err_type(), rhai::ParseErrorType::ExprTooDeep) {
        return RecipeError::Script {
            origin,
            message: format!(
                "syntax error: {} (nested deeper than the expr-depth limit)",
                e.err_type()
            ),
            hint: Some("raise it with --limit expr-depth=N if the recipe really needs more".into()),
        };
    }
    RecipeError::Syntax {
        origin,
        message: e.err_type().to_string(),
    }
}

/// Finds the innermost error (inside function calls and modules) and locates it.
pub fn from_eval(file: &str, err: EvalAltResult, interrupted: Option<String>) -> RecipeError {
    let mut source = file.to_string();
    let mut err = err;
    loop {
        match err {
            EvalAltResult::ErrorInFunctionCall(_, src, inner, _) => {
                if !src.is_empty() {
                    source = src;
                }
                err = *inner;
            }
            EvalAltResult::ErrorInModule(name, inner, _) => {
                // The inner position is in the module's own text.
                if !name.is_empty() {
                    source = name;
                }
                err = *inner;
            }
            _ => break,
        }
    }
    let pos = err.position();
    let origin = origin_at(&source, pos);
    let limit = |what: &str, name: &str| RecipeError::Script {
        origin: origin.clone(),
        message: format!("the recipe went over the {what} limit"),
        hint: Some(format!(
            "raise it with --limit {name}=N if the recipe really needs more"
        )),
    };
    match err {
        EvalAltResult::ErrorRuntime(value, _) if value.is::<super::values::ImportError>() => {
            RecipeError::Script {
                origin,
                message: value.cast::<super::values::ImportError>().0,
                hint: Some("modules are looked for beside the importing recipe, in --lib directories, in NSR_PATH, then in the standard library".into()),
            }
        }
        EvalAltResult::ErrorRuntime(value, _) if value.is::<PrimitiveError>() => {
            let PrimitiveError(f) = value.cast::<PrimitiveError>();
            RecipeError::Primitive((*f).clone())
        }
        EvalAltResult::ErrorRuntime(value, _) => RecipeError::Script {
            origin,
            message: format!("the recipe threw: {}", if value.is_string() { value.into_string().unwrap_or_default() } else { value.to_string() }),
            hint: None,
        },
        EvalAltResult::ErrorTerminated(token, _) if token.is::<super::values::MemoryLimit>() => {
            limit("memory", "memory")
        }
        EvalAltResult::ErrorTerminated(_, _) => RecipeError::Interrupted {
            signal: interrupted.unwrap_or_else(|| "a signal".into()),
            origin,
            detail: None,
        },
        EvalAltResult::ErrorTooManyOperations(_) => limit("operation count", "operations"),
        EvalAltResult::ErrorStackOverflow(_) => limit("call depth", "call-depth"),
        EvalAltResult::ErrorDataTooLarge(ref what, _) => {
            let name = if what.contains("string") || what.contains("String") {
                "string-size"
            } else if what.contains("array") || what.contains("Array") {
                "array-size"
            } else {
                "map-size"
            };
            RecipeError::Script {
                origin,
                message: format!("{what} is over the limit"),
                hint: Some(format!("raise it with --limit {name}=N if the recipe really needs more")),
            }
        }
        EvalAltResult::ErrorTooManyModules(_) => limit("module count", "modules"),
        EvalAltResult::ErrorFunctionNotFound(ref sig, _) => RecipeError::Script {
            origin,
            message: format!("no function {}", sig.trim()),
            hint: Some("check the name and the types of the arguments (`nsr check` lists every unknown call)".into()),
        },
        EvalAltResult::ErrorParsing(ref p, _) => RecipeError::Syntax { origin, message: p.to_string() },
        other => {
            let mut message = other.to_string();
            // Rhai appends " (line L, position C)"; the report shows the position itself.
            if let Some(i) = message.rfind(" (line ") {
                message.truncate(i);
            }
            RecipeError::Script { origin, message, hint: None }
        }
    }
}
