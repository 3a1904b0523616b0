//! The tree keeps its layers: no file of src/ depends on another that depends back on
//! it, nor does any top-level module (folder) of src/. Read from the code itself: every
//! `crate::`, `super::`, `self::` and child-module path outside comments, strings and
//! unit tests, resolved to the file that defines the module it names. Needs no root.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path (`["ops", "kernel"]`) for each file of the library.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("main.rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into()).collect();
            if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
                parts.pop();
            }
            out.insert(parts, path);
        }
    }
    out
}

/// The code of a file without its comments, string and char literals and unit tests.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(at) => &text[..at],
        None => text,
    };
    let b = text.as_bytes();
    let (mut out, mut i) = (String::with_capacity(b.len()), 0);
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'r' if matches!(b.get(i + 1), Some(b'#') | Some(b'"'))
                && (i == 0 || !is_ident(b[i - 1])) =>
            {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                let close: String = std::iter::once('"')
                    .chain("#".repeat(hashes).chars())
                    .collect();
                let start = i + 2 + hashes;
                i = text[start..]
                    .find(&close)
                    .map_or(b.len(), |at| start + at + close.len());
                out.push_str("\"\"");
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            // A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            b'\'' if b.get(i + 2) == Some(&b'\'') || b.get(i + 1) == Some(&b'\\') => {
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Every path the code names, each as its segments, `use` groups expanded.
fn paths_in(code: &str) -> Vec<Vec<String>> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if is_ident(b[i]) && (i == 0 || !(is_ident(b[i - 1]) || b[i - 1] == b':')) {
            let (path, end) = path_at(code, i);
            out.extend(path);
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// The path (or, with a `{...}` group, the paths) starting at `i`, and where it ends.
fn path_at(code: &str, mut i: usize) -> (Vec<Vec<String>>, usize) {
    let b = code.as_bytes();
    let mut segs = Vec::new();
    loop {
        let start = i;
        while i < b.len() && is_ident(b[i]) {
            i += 1;
        }
        segs.push(code[start..i].to_string());
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if !code[j..].starts_with("::") {
            return (vec![segs], i);
        }
        j += 2;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if b.get(j) == Some(&b'{') {
            let (inner, end) = group_at(code, j + 1);
            let all = inner
                .into_iter()
                .map(|tail| segs.iter().cloned().chain(tail).collect())
                .collect();
            return (all, end);
        }
        if j >= b.len() || !is_ident(b[j]) {
            return (vec![segs], j);
        }
        i = j;
    }
}

/// The paths of a `use` group whose `{` is just before `i`, and the index after its `}`.
fn group_at(code: &str, mut i: usize) -> (Vec<Vec<String>>, usize) {
    let b = code.as_bytes();
    let mut out = Vec::new();
    while i < b.len() {
        match b[i] {
            b'}' => return (out, i + 1),
            c if is_ident(c) => {
                let (paths, end) = path_at(code, i);
                out.extend(paths);
                i = end;
            }
            _ => i += 1,
        }
    }
    (out, i)
}

/// The module (file) a path named in module `from` depends on, if it is one of the
/// crate's: the longest prefix of its absolute path that is a module.
fn resolve(
    from: &[String],
    path: &[String],
    mods: &BTreeMap<Vec<String>, PathBuf>,
) -> Option<Vec<String>> {
    if path.len() < 2 {
        return None; // a bare name: a declaration (`mod x;`) or a local item
    }
    let ups = path.iter().take_while(|s| *s == "super").count();
    let abs: Vec<String> = match path[0].as_str() {
        "crate" => path[1..].to_vec(),
        "self" => from.iter().chain(&path[1..]).cloned().collect(),
        "super" => from[..from.len().checked_sub(ups)?]
            .iter()
            .chain(&path[ups..])
            .cloned()
            .collect(),
        _ => from.iter().chain(path).cloned().collect(),
    };
    let relative = !matches!(path[0].as_str(), "crate" | "self" | "super");
    if relative && !mods.contains_key(&abs[..from.len() + 1]) {
        return None; // another crate's path, or an item's
    }
    (1..=abs.len())
        .rev()
        .map(|n| abs[..n].to_vec())
        .find(|m| mods.contains_key(m))
        .filter(|m| m.as_slice() != from)
}

type Graph = BTreeMap<Vec<String>, BTreeSet<Vec<String>>>;

fn file_graph() -> (Graph, BTreeMap<Vec<String>, PathBuf>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mods = modules(&src);
    let mut graph = Graph::new();
    for (module, file) in &mods {
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let deps = graph.entry(module.clone()).or_default();
        for path in paths_in(&code) {
            if let Some(dep) = resolve(module, &path, &mods) {
                deps.insert(dep);
            }
        }
    }
    (graph, mods)
}

/// Strongly connected components with more than one member (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<Vec<String>>> {
    struct T<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on: BTreeSet<&'a Vec<String>>,
        out: Vec<Vec<Vec<String>>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a Vec<String>) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            if !t.g.contains_key(w) {
                continue;
            }
            if !t.index.contains_key(w) {
                visit(t, w);
                let l = t.low[w].min(t.low[v]);
                t.low.insert(v, l);
            } else if t.on.contains(w) {
                let l = t.index[w].min(t.low[v]);
                t.low.insert(v, l);
            }
        }
        if t.low[v] == t.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                scc.push(w.clone());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                t.out.push(scc);
            }
        }
    }
    let mut t = T {
        g: graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: vec![],
        on: BTreeSet::new(),
        out: vec![],
    };
    for v in graph.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn show(scc: &[Vec<String>], graph: &Graph) -> String {
    let members: BTreeSet<_> = scc.iter().collect();
    let mut lines = Vec::new();
    for m in scc {
        for d in graph
            .get(m)
            .into_iter()
            .flatten()
            .filter(|d| members.contains(d))
        {
            lines.push(format!("  {} -> {}", name(m), name(d)));
        }
    }
    lines.join("\n")
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// Fails with every cycle in `graph`, each with the dependencies that close it.
fn check(graph: &Graph, what: &str) {
    let report: Vec<String> = cycles(graph)
        .iter()
        .map(|scc| {
            let mut members: Vec<String> = scc.iter().map(|m| name(m)).collect();
            members.sort();
            format!(
                "a cycle between {what}: {}\n{}",
                members.join(", "),
                show(scc, graph)
            )
        })
        .collect();
    assert!(report.is_empty(), "{}", report.join("\n\n"));
}

#[test]
fn no_file_of_src_depends_on_one_that_depends_back_on_it() {
    let (graph, _) = file_graph();
    check(&graph, "files");
}

/// The top-level modules and what each of them imports.
fn folder_graph() -> Graph {
    let (files, _) = file_graph();
    let mut graph = Graph::new();
    for (m, deps) in &files {
        let top: Vec<String> = m.iter().take(1).cloned().collect();
        let entry = graph.entry(top.clone()).or_default();
        for d in deps {
            let dt: Vec<String> = d.iter().take(1).cloned().collect();
            if dt != top && !dt.is_empty() && !top.is_empty() {
                entry.insert(dt);
            }
        }
    }
    graph
}

#[test]
fn no_top_level_module_depends_on_one_that_depends_back_on_it() {
    check(&folder_graph(), "folders");
}

#[test]
fn the_vocabulary_and_the_domain_modules_stay_below_the_backends() {
    let graph = folder_graph();
    let deps = |m: &str| graph.get(&vec![m.to_string()]).cloned().unwrap_or_default();
    let ops: Vec<String> = deps("ops").iter().map(|d| name(d)).collect();
    assert_eq!(ops, ["confine"], "ops imports only confine's policy data");
    assert!(deps("output").is_empty(), "output imports nothing of nsr");
    assert!(deps("confine").is_empty(), "confine imports nothing of nsr");
    for domain in ["ns", "fs", "net", "rootfs", "sandbox", "confine", "cgroup"] {
        let d = deps(domain);
        for above in ["backend", "session", "undo", "engine", "journal", "report"] {
            assert!(
                !d.contains(&vec![above.to_string()]),
                "{domain} imports {above}"
            );
        }
    }
}

#[test]
fn the_reader_sees_uses_groups_and_inline_paths_and_finds_a_cycle() {
    let (graph, _) = file_graph();
    let deps = |m: &str| graph[&m.split("::").map(String::from).collect::<Vec<_>>()].clone();
    let of = |m: &str| m.split("::").map(String::from).collect::<Vec<_>>();
    // `use crate::ops::{CutShort, Op, ...}` in a group, and `super::Backend`.
    assert!(deps("backend::kernel").contains(&of("ops")));
    assert!(deps("backend::kernel").contains(&of("backend")));
    // A path written inline in code, not in a `use`.
    assert!(deps("sandbox::holder").contains(&of("fs::masks")));
    let mut g = Graph::new();
    g.entry(of("a")).or_default().insert(of("b"));
    g.entry(of("b")).or_default().insert(of("a"));
    g.entry(of("c")).or_default().insert(of("a"));
    assert_eq!(cycles(&g), vec![vec![of("b"), of("a")]]);
}

/// Every function of src/ with its length in lines, longest first.
fn function_lengths() -> Vec<(usize, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("main.rs")];
    files.extend(modules(&src).into_values());
    let mut out = Vec::new();
    for file in files {
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        let b = code.as_bytes();
        let mut i = 0;
        while let Some(at) = code[i..].find("fn ") {
            let start = i + at;
            i = start + 3;
            if start > 0 && is_ident(b[start - 1]) {
                continue;
            }
            let name: String = code[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // The body: from the first `{` before any `;` to its matching `}`.
            let Some(open) = code[i..].find(['{', ';']).map(|o| i + o) else {
                break;
            };
            if b[open] == b';' {
                continue;
            }
            let (mut depth, mut j) = (0usize, open);
            while j < b.len() {
                match b[j] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            let lines = code[start..j].matches('\n').count() + 1;
            let line = code[..start].matches('\n').count() + 1;
            let rel = file.strip_prefix(&src).unwrap().display();
            out.push((lines, format!("{rel}:{line} {name}")));
        }
    }
    out.sort_by(|a, b| b.cmp(a));
    out
}

/// Functions fit on a screen or two: the longest of src/ is under this many lines.
const LONGEST: usize = 120;

#[test]
fn no_function_of_src_is_longer_than_about_two_screens() {
    let lengths = function_lengths();
    let long: Vec<String> = lengths
        .iter()
        .filter(|(n, _)| *n > LONGEST)
        .map(|(n, f)| format!("  {f}: {n} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "functions over {LONGEST} lines:\n{}",
        long.join("\n")
    );
    // The measure sees real functions: the holder's request loop is one of the longest.
    assert!(
        lengths
            .iter()
            .any(|(n, f)| f.contains("sandbox/holder.rs") && f.ends_with(" handle") && *n > 60),
        "{:?}",
        &lengths[..5]
    );
}
