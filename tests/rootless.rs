//! Rootless: an unprivileged user gets sandboxes through a user namespace with a root
//! mapping; what needs host privilege fails with a clear message.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;

/// Runs nsr as user nobody on a recipe file, from a copy of the binary nobody may run.
fn as_nobody(s: &Scratch, recipe: &str, params: &[&str]) -> Run {
    let file = s.write("rootless.nsr", recipe);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut args = vec!["run", file.as_str()];
    args.extend_from_slice(params);
    nobody_nsr(s, &args)
}

#[test]
fn an_unprivileged_user_gets_a_sandbox_with_a_root_mapping() {
    let _g = privileged();
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
    let _g = privileged();
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
    let _g = privileged();
    let s = Scratch::new("rootless-eperm");
    let r = as_nobody(&s, "let box = unshare([\"mount\", \"uts\"]);\n", &[]);
    r.expect_code(1);
    for want in ["EPERM", "not root", "map_root: true", "rootless.nsr:1:11"] {
        assert!(r.stderr.contains(want), "{want}:\n{}", r.stderr);
    }
}

#[test]
fn an_unprivileged_range_map_needs_newuidmap_and_says_so() {
    let _g = privileged();
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

/// nsr as nobody with these arguments (a copy of the binary nobody may run).
fn nobody_nsr(s: &Scratch, args: &[&str]) -> Run {
    let mut cmd = nsr_as_nobody(s);
    cmd.args(args);
    run_command(cmd)
}

#[test]
fn an_ordinary_users_sandboxes_are_joined_inspected_kept_entered_and_taken_down() {
    // The holder is not dumpable, so nsr cannot open its /proc/PID/ns or root: the
    // holder hands them over, to nsr when it is ready and to `nsr enter` when kept.
    let _g = privileged();
    let s = Scratch::new("rootless-kept");
    let root = s.busybox_root("root");
    let file = s.write(
        "kept.nsr",
        r#"let box = unshare(#{ kinds: ["mount", "uts", "pid", "user", "net"], map_root: true });
box.hostname("kept-rootless");
box.mount("tmpfs", args.root + "/tmp", "tmpfs");
box.chroot(args.root);
box.run("echo kept-data > /tmp/f", #{ check: true });
let peer = unshare(#{ kinds: ["uts"], user: box, mount: box, net: box });
let seen = peer.run("cat " + args.root + "/tmp/f");
print("peer reads " + seen.stdout + seen.stderr);
let a = box.namespaces();
let b = peer.namespaces();
print("same user " + (a.user == b.user) + ", same mount " + (a.mount == b.mount) + ", same net " + (a.net == b.net) + ", same uts " + (a.uts == b.uts));
"#,
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let name = format!("{}-rootless-kept", prefix());
    let before = HostState::take();
    let r = nobody_nsr(
        &s,
        &[
            "run",
            "--keep",
            "--name",
            &name,
            &file,
            &format!("root={root}"),
        ],
    );
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            "peer reads kept-data",
            "same user true, same mount true, same net true, same uts false",
        ],
    );
    let r = nobody_nsr(
        &s,
        &[
            "enter",
            &name,
            "1",
            "--",
            "sh",
            "-c",
            "hostname; cat /tmp/f; id -u",
        ],
    );
    r.expect_code(0);
    assert_eq!(r.stdout, "kept-rootless\nkept-data\n0\n");
    let r = nobody_nsr(&s, &["enter", &name, "--", "cat", &format!("{root}/tmp/f")]);
    r.expect_code(0);
    assert_eq!(
        r.stdout, "kept-data\n",
        "the second sandbox, in the first's mounts"
    );

    // Another user (root here) who connects to a kept holder's socket gets nothing.
    let holder = alive_sandboxes(&nobody_nsr(&s, &["ls", "--json"]), &name)[0];
    let sock = std::path::Path::new(&std::env::var("NSR_STATE_DIR").unwrap())
        .join(&name)
        .join(format!("sandbox-{holder}.sock"));
    let mut conn = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut conn, &mut got).unwrap();
    assert!(got.is_empty(), "a peer of another user was answered");

    let r = nobody_nsr(&s, &["down", &name]);
    r.expect_code(0);
    assert_has_all(&r.stderr, &["is down"]);
    before.assert_unchanged("after a rootless keep, enter and down");
    assert!(
        !sock.parent().unwrap().exists(),
        "the environment's directory is gone"
    );
}

#[test]
fn an_ordinary_users_kept_sandbox_is_drawn_as_its_plan() {
    // nsr graph --env looks into the sandbox's namespaces from its user namespace (an
    // ordinary user cannot enter them from outside): its hostname and network as planned.
    let _g = privileged();
    let s = Scratch::new("rootless-graph");
    let before = HostState::take();
    let recipe = s.write(
        "rootless-sandbox.nsr",
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/recipes/rootless-sandbox.nsr"
        ))
        .unwrap(),
    );
    std::fs::set_permissions(&recipe, std::fs::Permissions::from_mode(0o644)).unwrap();
    let name = format!("{}-graph", short_prefix());
    nobody_nsr(&s, &["run", "--keep", "--name", &name, &recipe]).expect_code(0);
    let live = nobody_nsr(&s, &["graph", "--env", &name, "--format", "json"]);
    let planned = nobody_nsr(&s, &["graph", &recipe, "--format", "json"]);
    nobody_nsr(&s, &["down", &name]).expect_code(0);
    live.expect_code(0);
    planned.expect_code(0);
    let live: serde_json::Value = serde_json::from_str(&live.stdout).unwrap();
    let planned: serde_json::Value = serde_json::from_str(&planned.stdout).unwrap();
    assert!(!live.to_string().contains("cannot look inside"), "{live}");
    let ids = |g: &serde_json::Value| -> Vec<String> {
        g["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].to_string())
            .collect()
    };
    assert_eq!(ids(&live), ids(&planned));
    for key in ["kinds", "hostname", "netns", "confinement"] {
        assert_eq!(
            live["sandboxes"][0][key], planned["sandboxes"][0][key],
            "{key}: {live}"
        );
    }
    assert_eq!(live["sandboxes"][0]["hostname"], "rootless");
    before.assert_unchanged("after drawing an ordinary user's environment");
}
