//! editors/: the TextMate grammar (VS Code) and the Vim syntax are generated from the
//! engine and must not drift from it; the real TextMate engine and a headless Vim
//! colour the recipes under recipes/ as intended.

mod common;

use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn generated() -> Vec<(String, String)> {
    nsr::editors::generated_files()
        .into_iter()
        .map(|(path, text)| (format!("{ROOT}/{path}"), text))
        .collect()
}

#[test]
fn editor_files_match_the_engine() {
    for (path, text) in generated() {
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == text,
            "{path} is stale (a primitive or stdlib function changed): cargo run --example regenerate"
        );
    }
}

#[test]
fn every_primitive_is_in_both_editors() {
    let meta = nsr::editors::metadata();
    let grammar = std::fs::read_to_string(format!(
        "{ROOT}/editors/vscode/syntaxes/nsr.tmLanguage.json"
    ))
    .unwrap();
    let vim = std::fs::read_to_string(format!("{ROOT}/editors/vim/syntax/nsr.vim")).unwrap();
    for p in &meta.primitives {
        assert!(
            grammar.contains(&format!("|{}|", p.name))
                || grammar.contains(&format!("({}|", p.name))
                || grammar.contains(&format!("|{})", p.name)),
            "{} missing from the grammar",
            p.name
        );
        assert!(
            vim.contains(&format!("\\|{}\\|", p.name))
                || vim.contains(&format!("\\({}\\|", p.name))
                || vim.contains(&format!("\\|{}\\)", p.name)),
            "{} missing from the Vim syntax",
            p.name
        );
    }
    for m in &meta.modules {
        assert!(
            grammar.contains(&m.name) && vim.contains(&m.name),
            "module {}",
            m.name
        );
    }
}

type Token = (usize, usize, String, Vec<String>);

fn tokenize(files: &[&str]) -> serde_json::Map<String, serde_json::Value> {
    let dir = format!("{ROOT}/editors/vscode/test");
    common::tools::ensure_npm(&dir);
    let out = Command::new("node")
        .arg(format!("{dir}/tokenize.js"))
        .arg(format!(
            "{ROOT}/editors/vscode/syntaxes/nsr.tmLanguage.json"
        ))
        .args(files)
        .output()
        .expect("node runs (tools::ensure installs nodejs)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tokens(all: &serde_json::Map<String, serde_json::Value>, file: &str) -> Vec<Token> {
    serde_json::from_value(all[file].clone()).unwrap()
}

/// The innermost scope of the first token with this text (on this line, if given).
fn scope_of(toks: &[Token], text: &str, line: Option<usize>) -> String {
    toks.iter()
        .find(|t| t.2.trim() == text && line.is_none_or(|l| t.0 == l))
        .map(|t| t.3.last().cloned().unwrap_or_default())
        .unwrap_or_else(|| panic!("no token {text:?}"))
}

#[test]
fn the_textmate_grammar_colours_the_recipes() {
    let recipes: Vec<String> = std::fs::read_dir(format!("{ROOT}/recipes"))
        .unwrap()
        .flatten()
        .map(|e| e.path().display().to_string())
        .collect();
    let refs: Vec<&str> = recipes.iter().map(String::as_str).collect();
    let all = tokenize(&refs);
    for file in &recipes {
        let toks = tokens(&all, file);
        assert!(!toks.is_empty(), "{file}");
        // The header is comment, whatever it says.
        assert!(
            toks[0].3.last().unwrap().starts_with("comment.line"),
            "{file}: {:?}",
            toks[0]
        );
    }
    let net = format!("{ROOT}/recipes/tutorial-network.nsr");
    let t = tokens(&all, &net);
    assert_eq!(scope_of(&t, "let", None), "keyword.other.nsr");
    assert_eq!(scope_of(&t, "if", None), "keyword.control.nsr");
    assert_eq!(
        scope_of(&t, "netns", None),
        "support.function.primitive.nsr"
    );
    assert_eq!(
        scope_of(&t, "masquerade", None),
        "support.function.primitive.nsr"
    );
    assert_eq!(
        scope_of(&t, "172.16.99.1/24", None),
        "string.quoted.double.nsr"
    );
    assert_eq!(scope_of(&t, "8080", None), "constant.numeric.nsr");
    assert_eq!(scope_of(&t, "fn", None), "keyword.other.nsr");
    assert_eq!(
        scope_of(
            &t,
            "http_get",
            Some(t.iter().find(|x| x.2 == "fn").unwrap().0)
        ),
        "entity.name.function.nsr"
    );
    let lab = format!("{ROOT}/recipes/bridge-lab.nsr");
    let t = tokens(&all, &lab);
    assert_eq!(
        scope_of(
            &t,
            "net",
            Some(t.iter().find(|x| x.2 == "segment").unwrap().0)
        ),
        "entity.name.namespace.stdlib.nsr"
    );
    assert_eq!(scope_of(&t, "segment", None), "support.function.stdlib.nsr");
    assert_eq!(scope_of(&t, "import", None), "keyword.other.import.nsr");
    assert!(t
        .iter()
        .any(|x| x.3.last().unwrap() == "comment.line.documentation.nsr"
            && x.2.starts_with("//! param")));
    // A variable named like a primitive is a variable when it is not called.
    let def = format!("{ROOT}/recipes/default.nsr");
    let t = tokens(&all, &def);
    assert_eq!(scope_of(&t, "host", None), "variable.other.nsr");
}

/// The values of Vim expressions once FILE is open in a headless Vim with editors/vim
/// on its runtime path.
fn vim_eval(file: &str, exprs: &[String]) -> Vec<String> {
    common::tools::ensure();
    let out = std::env::temp_dir().join(format!("nsr-vim-{}.txt", std::process::id()));
    let status = Command::new("vim")
        .args(["-es", "-N", "-u", "NONE", "-i", "NONE", "--not-a-term"])
        .arg("--cmd")
        .arg(format!("set rtp^={ROOT}/editors/vim"))
        .args(["-c", "filetype plugin indent on", "-c", "syntax on"])
        .arg("-c")
        .arg(format!("edit {file}"))
        .arg("-c")
        .arg(format!(
            "call writefile([{}], '{}')",
            exprs.join(", "),
            out.display()
        ))
        .args(["-c", "qa!"])
        .status()
        .expect("vim runs (tools::ensure installs it)");
    assert!(status.success() || out.exists());
    let text = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    text.lines().map(str::to_string).collect()
}

/// The Vim syntax group at (line, column) of FILE.
fn vim_groups(file: &str, spots: &[(usize, usize)]) -> Vec<String> {
    let calls: Vec<String> = spots
        .iter()
        .map(|(l, c)| format!("synIDattr(synID({l}, {c}, 1), 'name')"))
        .collect();
    vim_eval(file, &calls)
}

/// (line, column) of the first occurrence of `needle` in `file`, 1-based.
fn find(file: &str, needle: &str) -> (usize, usize) {
    let text = std::fs::read_to_string(file).unwrap();
    for (i, l) in text.lines().enumerate() {
        if let Some(c) = l.find(needle) {
            return (i + 1, c + 1);
        }
    }
    panic!("{needle:?} not in {file}");
}

#[test]
fn vim_colours_the_recipes() {
    let net = format!("{ROOT}/recipes/tutorial-network.nsr");
    let lab = format!("{ROOT}/recipes/bridge-lab.nsr");
    let spots = [
        (1, 1),
        find(&net, "let test_net"),
        find(&net, "netns(p"),
        find(&net, "\"172.16.99.1/24\""),
        {
            let (l, c) = find(&net, "(8080");
            (l, c + 1)
        },
        find(&net, "if uplink"),
        find(&net, "fn http_get"),
    ];
    let g = vim_groups(&net, &spots);
    assert_eq!(
        g,
        vec![
            "nsrComment",
            "nsrKeyword",
            "nsrPrimitive",
            "nsrString",
            "nsrNumber",
            "nsrConditional",
            "nsrKeyword"
        ],
        "{net}"
    );
    let spots = [
        find(&lab, "//! param"),
        find(&lab, "net::segment"),
        find(&lab, "segment(sw"),
    ];
    let g = vim_groups(&lab, &spots);
    assert_eq!(g, vec!["nsrDocComment", "nsrModule", "nsrModuleFunction"]);
    // The filetype, comment and indent settings come with it.
    let settings = ["&filetype", "&commentstring", "&cindent", "&shiftwidth"].map(String::from);
    assert_eq!(vim_eval(&lab, &settings), vec!["nsr", "// %s", "1", "4"]);
}
