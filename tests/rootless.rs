//! Rootless: an unprivileged user gets sandboxes through a user namespace with a root
//! mapping; what needs host privilege fails with a clear message.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

const NOBODY: u32 = 65534;

/// Runs nsr as user nobody on a recipe file, from a copy of the binary nobody may run.
fn as_nobody(s: &Scratch, recipe: &str, params: &[&str]) -> Run {
    let bin = s.path("nsr");
    if !std::path::Path::new(&bin).exists() {
        std::fs::copy(NSR, &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let file = s.write("rootless.nsr", recipe);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid",
        &NOBODY.to_string(),
        "--regid",
        &NOBODY.to_string(),
        "--clear-groups",
        "--",
    ])
    .arg(&bin)
    .arg("run")
    .arg(&file)
    .args(params)
    .current_dir(&s.dir);
    run_command(cmd)
}

#[test]
fn an_unprivileged_user_gets_a_sandbox_with_a_root_mapping() {
    let _g = serial();
    let s = Scratch::new("rootless");
    let root = s.busybox_root("root");
    let before = HostState::take();
    let r = as_nobody(
        &s,
        r#"let box = unshare(#{ kinds: ["mount", "uts", "ipc", "pid", "net", "user"], map_root: true });
box.hostname("rootless");
box.mount("proc", args.root + "/proc", "proc");
box.chroot(args.root);
box.mount("tmpfs", "/tmp", "tmpfs");
let r = box.run("id -u; hostname; echo $PPID; cat /etc/marker; touch /tmp/ok && echo wrote");
print(r.stdout);"#,
        &[&format!("root={root}")],
    );
    r.expect_code(0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        &lines[..5],
        ["0", "rootless", "1", "inside the test root", "wrote"],
        "{}",
        r.stdout
    );
    before.assert_unchanged("rootless sandbox");
}

#[test]
fn the_default_recipe_runs_rootless() {
    let _g = serial();
    let s = Scratch::new("rootless-default");
    let r = as_nobody(
        &s,
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/recipes/default.nsr"))
            .unwrap(),
        &[],
    );
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &["uid: 0", "my pid: 2", "network part skipped", "need root"],
    );
}

#[test]
fn without_a_user_namespace_an_unprivileged_user_is_told_why() {
    let _g = serial();
    let s = Scratch::new("rootless-eperm");
    let r = as_nobody(&s, "let box = unshare([\"mount\", \"uts\"]);\n", &[]);
    r.expect_code(1);
    for want in ["EPERM", "not root", "map_root: true", "rootless.nsr:1:11"] {
        assert!(r.stderr.contains(want), "{want}:\n{}", r.stderr);
    }
}

#[test]
fn an_unprivileged_range_map_needs_newuidmap_and_says_so() {
    let _g = serial();
    let s = Scratch::new("rootless-map");
    let r = as_nobody(&s, "let box = unshare(#{ kinds: [\"user\"], uid_map: [[0, 100000, 65536]], gid_map: [[0, 100000, 65536]] });\n", &[]);
    r.expect_code(1);
    assert_has_all(&r.stderr, &["newuidmap"]);
    assert!(
        !r.stderr.contains("rollback: 1"),
        "a sandbox that failed to start is not in the journal:\n{}",
        r.stderr
    );
}
