//! A recipe from the command line's words: the file (or the default recipe), its
//! NAME=VALUE parameters, `--lib` directories and `--limit`s, checked before it runs.

use nsr::engine::limits::Limits;
use nsr::engine::{self, Recipe};
use std::collections::BTreeMap;

/// The recipe `nsr run` runs when no file is given: it needs nothing but this binary.
const DEFAULT_RECIPE: &str = include_str!("../../recipes/default.nsr");
const DEFAULT_NAME: &str = "recipes/default.nsr";

/// `--limit NAME=VALUE` words over the default limits.
pub fn parse_limits(words: &[String]) -> Result<Limits, String> {
    let mut limits = Limits::default();
    for w in words {
        limits.set(w)?;
    }
    Ok(limits)
}

/// The recipe with its parameters and `--lib` directories, and the `--limit`s.
pub fn prepare(
    words: &[String],
    limit_words: &[String],
    libs: &[String],
) -> Result<(Recipe, Limits), String> {
    let limits = parse_limits(limit_words)?;
    let mut recipe = read_recipe(words)?;
    recipe.libs = libs.iter().map(std::path::PathBuf::from).collect();
    Ok((recipe, limits))
}

pub fn read_recipe(words: &[String]) -> Result<Recipe, String> {
    let file_given = words
        .first()
        .is_some_and(|w| !w.contains('=') || w.ends_with(".nsr"));
    let (path, source) = if file_given {
        let path = words[0].clone();
        let source = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read recipe {path}: {e}"))?;
        (path, source)
    } else {
        (DEFAULT_NAME.to_string(), DEFAULT_RECIPE.to_string())
    };
    let mut args = BTreeMap::new();
    for pair in words.iter().skip(usize::from(file_given)) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("recipe parameter '{pair}' is not NAME=VALUE"))?;
        if k.is_empty() || !k.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(format!(
                "recipe parameter name '{k}' must be letters, digits and _"
            ));
        }
        if args.insert(k.to_string(), v.to_string()).is_some() {
            return Err(format!("recipe parameter '{k}' is given twice"));
        }
    }
    engine::apply_params(&engine::declared_params(&source), &mut args)?;
    Ok(Recipe {
        path,
        source,
        args,
        ..Default::default()
    })
}

/// The source of a file an error points into (the recipe, a module, the stdlib).
pub fn lookup(recipe: &Recipe) -> impl Fn(&str) -> Option<String> + '_ {
    move |file: &str| {
        if file == recipe.path {
            Some(recipe.source.clone())
        } else {
            std::fs::read_to_string(file)
                .ok()
                .or_else(|| nsr::engine::modules::stdlib_source(file).map(str::to_string))
        }
    }
}

/// The environment a run gets when `--name` does not say: the recipe's file name made
/// safe for a directory name, and, unless the run is kept, nsr's pid.
pub fn environment_name(recipe_path: &str, keep: bool) -> String {
    let stem = std::path::Path::new(recipe_path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "recipe".into());
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if keep {
        stem
    } else {
        format!("{stem}-{}", std::process::id())
    }
}
