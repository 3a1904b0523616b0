//! The tests that need no privileges pass without them: as root (CI runs as root), this
//! runs the test binaries of errors, export, plan, check, modules, editors, lsp, doc and the
//! front door again as nobody, all but their `as_root` tests, in a temporary directory of
//! their own that goes away afterwards.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Test binaries whose tests outside `as_root` need no root.
const UNPRIVILEGED: &[&str] = &[
    "architecture",
    "editors",
    "errors",
    "export",
    "front_door",
    "graph",
    "lsp",
    "modules",
    "plan",
    "stdlib",
    "vxlan",
];

/// The newest build of test binary `name` beside this one (cargo names it NAME-HASH).
fn test_binary(name: &str) -> PathBuf {
    let me = std::env::current_exe().unwrap();
    let deps = me.parent().unwrap();
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(deps)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let file = p.file_name().unwrap().to_string_lossy();
            file.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|hash| hash.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .filter(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .map(|p| (p.metadata().unwrap().modified().unwrap(), p))
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("no test binary {name} in {}", deps.display()))
        .1
}

fn run_as_nobody(binary: &Path, tmp: &Path) -> std::process::Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(binary)
        .args(["--test-threads=1", "--skip", "as_root"])
        .env("TMPDIR", tmp)
        .env("HOME", tmp)
        .env_remove("NSR_STATE_DIR")
        .output()
        .unwrap()
}

#[test]
fn the_tests_that_need_no_root_pass_as_an_ordinary_user() {
    let _g = privileged();
    // What the editor tests load (npm's pinned TextMate engine) is installed by root.
    tools::ensure_npm(&format!(
        "{}/editors/vscode/test",
        env!("CARGO_MANIFEST_DIR")
    ));
    // Mermaid, which tests/graph.rs loads, too.
    tools::ensure_npm(&format!("{}/tests/graph", env!("CARGO_MANIFEST_DIR")));
    let tmp = Scratch::new("nobody");
    std::fs::set_permissions(&tmp.dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    for name in UNPRIVILEGED {
        let out = run_as_nobody(&test_binary(name), &tmp.dir);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{name} as nobody:\n{text}");
        assert!(
            !text.contains(" 0 passed"),
            "{name} ran nothing as nobody:\n{text}"
        );
    }
}

#[test]
fn as_nobody_a_test_that_needs_root_fails_so_the_check_can_fail() {
    let _g = privileged();
    let tmp = Scratch::new("nobody-root");
    std::fs::set_permissions(&tmp.dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(test_binary("errors"))
        .args(["--test-threads=1", "as_root::a_missing_root_directory"])
        .env("TMPDIR", &tmp.dir)
        .env("HOME", &tmp.dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("1 failed"), "{text}");
}
