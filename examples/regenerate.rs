//! `cargo run --example regenerate`: writes every file the tests compare with what nsr
//! makes, and checks nothing (the tests check, and never write):
//! - tests/plans/NAME.plan, the golden plan of each recipe in tests/plans/recipes.tsv
//!   (`nsr plan recipes/NAME.nsr PARAMS...`, as tests/plan.rs runs it);
//! - the editor files generated from the engine (editors/vscode, editors/vim);
//! - docs/tutorial-network.svg, the README's picture (`nsr graph --format svg
//!   recipes/tutorial-network.nsr`, as tests/graph.rs draws it);
//! - src/engine/stdlib_functions.txt, Rhai's standard library by name and arity (Rhai's
//!   `metadata` feature, which this example has as a dev-dependency and nsr has not).
//!
//! Run it after a change that is meant to change them, then read `git diff`.

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn main() {
    let root = Path::new(ROOT);
    for (path, text) in nsr::editors::generated_files() {
        write(&root.join(path), &text);
    }
    let stdlib = nsr::engine::check::stdlib_list(&rhai::Engine::new().gen_fn_signatures(true));
    write(&root.join("src/engine/stdlib_functions.txt"), &stdlib);
    let picture = Command::new(env!("CARGO"))
        .args([
            "run", "--quiet", "--bin", "nsr", "--", "graph", "--format", "svg",
        ])
        .arg("recipes/tutorial-network.nsr")
        .current_dir(root)
        .output()
        .expect("cargo run nsr graph");
    assert!(
        picture.status.success(),
        "nsr graph failed: {}",
        String::from_utf8_lossy(&picture.stderr)
    );
    write(
        &root.join("docs/tutorial-network.svg"),
        &String::from_utf8_lossy(&picture.stdout),
    );
    let list = std::fs::read_to_string(root.join("tests/plans/recipes.tsv"))
        .expect("tests/plans/recipes.tsv");
    for line in list.lines() {
        let mut words = line.split('\t');
        let recipe = words.next().expect("a recipe on each line");
        let out = Command::new(env!("CARGO"))
            .args(["run", "--quiet", "--bin", "nsr", "--", "plan"])
            .arg(format!("recipes/{recipe}"))
            .args(words)
            .current_dir(root)
            .output()
            .expect("cargo run nsr plan");
        assert!(
            out.status.success(),
            "nsr plan recipes/{recipe} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let golden = root.join(format!(
            "tests/plans/{}.plan",
            recipe.trim_end_matches(".nsr")
        ));
        write(&golden, &String::from_utf8_lossy(&out.stdout));
    }
}

fn write(path: &Path, text: &str) {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    let state = if old == text { "unchanged" } else { "written" };
    println!(
        "{state}: {}",
        path.strip_prefix(ROOT).unwrap_or(path).display()
    );
}
