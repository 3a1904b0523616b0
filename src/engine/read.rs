//! Reading one recipe value as the type an option wants, or saying what it got instead.

use rhai::{Array, Dynamic};

type Res<T> = Result<T, String>;

pub(super) fn type_name(d: &Dynamic) -> &'static str {
    let n = d.type_name();
    match n {
        "i64" => "an integer",
        "f64" => "a decimal number",
        "bool" => "a boolean",
        "string" | "ImmutableString" => "a string",
        "array" => "an array",
        "map" => "a map",
        "()" => "nothing (unit)",
        _ => "a value of another type",
    }
}

pub fn string(d: &Dynamic, what: &str) -> Res<String> {
    d.clone()
        .into_string()
        .map_err(|_| format!("{what} must be a string, not {}", type_name(d)))
}

pub(super) fn boolean(d: &Dynamic, what: &str) -> Res<bool> {
    d.as_bool()
        .map_err(|_| format!("{what} must be true or false, not {}", type_name(d)))
}

pub(super) fn array(d: &Dynamic, what: &str) -> Res<Array> {
    d.clone()
        .into_array()
        .map_err(|_| format!("{what} must be an array, not {}", type_name(d)))
}
