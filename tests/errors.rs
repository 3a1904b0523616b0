//! Bad input: every mistake gives a located, actionable error, never a panic, and
//! leaves nothing behind.

mod common;
use common::*;

/// Runs a recipe that must fail with status 1, and returns its stderr.
fn fails(s: &Scratch, text: &str, params: &[&str]) -> String {
    let before = HostState::take();
    let r = run_recipe(s, "bad.nsr", text, params);
    r.expect_code(1);
    before.assert_unchanged("bad input");
    r.stderr
}

#[test]
fn a_syntax_error_is_located_with_its_source_line() {
    let _g = serial();
    let s = Scratch::new("syntax");
    let e = fails(&s, "let box = unshare([\"uts\"]);\nlet x = ;\n", &[]);
    assert_has_all(
        &e,
        &["error: syntax error", "bad.nsr:2:9", "2 | let x = ;", "^"],
    );
    assert!(
        !e.contains("rollback"),
        "nothing ran, so nothing is rolled back:\n{e}"
    );
}

#[test]
fn check_reports_every_syntax_error_and_unknown_call_without_running() {
    let _g = serial();
    let s = Scratch::new("check");
    let file = s.write(
        "c.nsr",
        "let box = unshare([\"uts\"]);\nlet a = ;\nbox.hostname(\"x\");\nlet b = (;\nbox.mout(\"proc\", \"/proc\", \"proc\");\nunshare([\"uts\"], 5);\nbox.chroot();\n",
    );
    let before = HostState::take();
    let r = nsr(&["check", &file]);
    r.expect_code(1);
    assert_has_all(&r.stderr, &["c.nsr:2:", "c.nsr:4:", "problem(s)"]);
    before.assert_unchanged("check");

    let file = s.write("d.nsr", "let box = unshare([\"uts\"]);\nbox.mout(\"proc\", \"/proc\", \"proc\");\nunshare([\"uts\"], 5);\nbox.chroot();\nnosuch();\n");
    let r = nsr(&["check", &file]);
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[
            "no function mout",
            "did you mean mount?",
            "d.nsr:2:5",
            "no function unshare with 2",
            "d.nsr:3:1",
            "chroot takes 1 argument",
            "no function nosuch",
            "4 problem(s)",
        ],
    );

    let good = s.write("g.nsr", "fn f(b) { b.hostname(\"x\") }\nlet box = unshare([\"uts\"]);\nf(box);\nprint(box.run(\"true\").code);\n");
    let r = nsr(&["check", &good]);
    r.expect_code(0);
    assert_eq!(r.stderr, format!("{good}: ok\n"));
    assert!(nsr_processes().is_empty());
}

#[test]
fn check_finds_imports_option_keys_and_values_the_kernel_would_refuse() {
    let _g = serial();
    let s = Scratch::new("check-literals");
    s.write("beside.nsr", "fn f() { 1 }\n");
    s.write("broken.nsr", "fn g() {\n  let = 1;\n}\n");
    let file = s.write(
        "l.nsr",
        "import \"beside\" as b;\nimport \"net\" as net;\nimport \"nowhere\" as n;\nlet box = unshare(#{ kinds: [\"mount\"], map_rot: true });\nbox.mount(\"tmpfs\", \"/t\", \"tmpfs\", #{ readonyl: true });\nveth(\"a-name-that-is-too-long\", \"b\");\nroute(\"10.1.2.3/16\", \"eth0\");\nhost().addr(\"eth0\", \"10.0.0.300/24\");\nnet::p2pp(1, 2, 3);\nb::f(1);\nb::f();\nimport \"broken\" as broken;\n",
    );
    let before = HostState::take();
    let r = nsr(&["check", &file]);
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[
            "l.nsr:3:8",
            "no module 'nowhere': looked for",
            "l.nsr:4:40",
            "unknown option 'map_rot' for unshare",
            "did you mean map_root?",
            "l.nsr:5:38",
            "did you mean readonly?",
            "l.nsr:6:6",
            "Linux allows at most 15",
            "l.nsr:7:7",
            "has host bits set; the network is 10.1.0.0/16",
            "l.nsr:8:21",
            "is not an IPv4 or IPv6 address",
            "module 'net' has no function p2pp with 3 argument(s)",
            "did you mean net::p2p?",
            "module 'b' has no function f with 1 argument(s)",
            "b::f()",
            "l.nsr:12:8",
            "module 'broken' does not parse:",
            "broken.nsr:2:7",
            "9 problem(s)",
        ],
    );
    assert!(
        !r.stderr.contains("no module 'beside'"),
        "the module beside is found:\n{}",
        r.stderr
    );
    before.assert_unchanged("check");
}

#[test]
fn an_unknown_namespace_kind_names_the_known_ones() {
    let _g = serial();
    let s = Scratch::new("kind");
    let e = fails(&s, "let box = unshare([\"mount\", \"pdi\"]);\n", &[]);
    assert_has_all(
        &e,
        &[
            "unshare: unknown namespace kind 'pdi'",
            "mount uts ipc net pid user cgroup time",
            "bad.nsr:1:11",
            "call: unshare([\"mount\", \"pdi\"])",
        ],
    );
}

#[test]
fn mount_targets_outside_the_root_or_through_symlinks_are_refused() {
    let _g = serial();
    let s = Scratch::new("escape");
    let root = s.busybox_root("root");
    std::os::unix::fs::symlink("/", format!("{root}/evil")).unwrap();
    std::os::unix::fs::symlink("../../..", format!("{root}/up")).unwrap();
    let prelude = "let box = unshare(#{ kinds: [\"mount\", \"pid\", \"user\"], map_root: true });\nbox.chroot(args.root);\n";
    let p = format!("root={root}");
    let e = fails(
        &s,
        &format!("{prelude}box.mount(\"tmpfs\", \"/../../etc\", \"tmpfs\");\n"),
        &[&p],
    );
    assert_has_all(
        &e,
        &[
            "climbs above the sandbox's root",
            "bad.nsr:3:5",
            "rollback: 2 step(s)",
        ],
    );
    let e = fails(
        &s,
        &format!("{prelude}box.mount(\"tmpfs\", \"/evil\", \"tmpfs\");\n"),
        &[&p],
    );
    assert_has_all(&e, &["mount target /evil is a symlink (to /)", "ELOOP"]);
    let e = fails(
        &s,
        &format!("{prelude}box.mount(\"tmpfs\", \"/up\", \"tmpfs\");\n"),
        &[&p],
    );
    assert_has_all(&e, &["is a symlink"]);
    let e = fails(
        &s,
        &format!("{prelude}box.mount(\"tmpfs\", \"relative/x\", \"tmpfs\");\n"),
        &[&p],
    );
    assert_has_all(&e, &["is not absolute"]);
    let e = fails(
        &s,
        &format!("{prelude}box.mount(\"tmpfs\", \"/no/such/dir\", \"tmpfs\");\n"),
        &[&p],
    );
    assert_has_all(
        &e,
        &["ENOENT", "create /no/such/dir in the sandbox's root first"],
    );
    let e = fails(
        &s,
        &format!("{prelude}box.mount(\"/no/source\", \"/mnt\", \"bind\");\n"),
        &[&p],
    );
    assert_has_all(&e, &["cannot open bind source /no/source", "ENOENT"]);
    let e = fails(
        &s,
        &format!("{prelude}box.mount(\"x\", \"/mnt\", \"nosuchfs\");\n"),
        &[&p],
    );
    assert_has_all(
        &e,
        &["ENODEV", "does not know the filesystem type 'nosuchfs'"],
    );
    // Nothing was created through the symlinks on the host.
    assert!(!std::path::Path::new("/no/such/dir").exists());
}

#[test]
fn bad_usage_exits_2_and_help_follows_clap() {
    let _g = serial();
    nsr(&["run", "/nonexistent/recipe.nsr"]).expect_code(2);
    let s = Scratch::new("usage");
    let f = s.write("ok.nsr", "print(1);\n");
    let r = nsr(&["run", &f, "noequals"]);
    r.expect_code(2);
    assert!(r.stderr.contains("is not NAME=VALUE"));
    nsr(&["run", &f, "a=1", "a=2"]).expect_code(2);
    nsr(&["frobnicate"]).expect_code(2);
    let r = nsr(&["run", &f, "--limit", "speed=3"]);
    r.expect_code(2);
    assert!(r.stderr.contains("unknown limit 'speed'"));
    let r = nsr(&["--help"]);
    r.expect_code(0);
    assert_has_all(&r.stdout, &["Usage: nsr", "run", "check"]);
    let r = nsr(&["run", "--help"]);
    r.expect_code(0);
    assert_has_all(&r.stdout, &["--limit <NAME=VALUE>"]);
    nsr(&["--version"]).expect_code(0);
}

/// These create namespaces, mounts or netns for real, or become another user: root.
mod as_root {
    use super::*;

    #[test]
    fn a_missing_command_and_a_failed_check_are_clear() {
        let _g = privileged();
        let s = Scratch::new("cmd");
        let e = fails(
            &s,
            "let box = unshare([\"uts\"]);\nbox.run([\"no-such-program\"]);\n",
            &[],
        );
        assert_has_all(
            &e,
            &[
                "command not found: no-such-program",
                "ENOENT",
                "bad.nsr:2:5",
            ],
        );
        let e = fails(
            &s,
            "let box = unshare([\"uts\"]);\nbox.run(\"echo boom >&2; exit 3\", #{ check: true });\n",
            &[],
        );
        assert_has_all(&e, &["exit status 3", "stderr: boom"]);
    }

    #[test]
    fn a_missing_recipe_parameter_names_itself() {
        let _g = privileged();
        let s = Scratch::new("param");
        let e = fails(
            &s,
            "let box = unshare([\"uts\"]);\nbox.chroot(args.tar);\n",
            &["other=1"],
        );
        assert_has_all(
            &e,
            &[
                "recipe parameter 'tar' was not given",
                "tar=VALUE",
                "given: other",
                "bad.nsr:2:",
            ],
        );
    }

    #[test]
    fn a_missing_root_directory_gives_enoent_and_a_hint() {
        let _g = privileged();
        let s = Scratch::new("noroot");
        let e = fails(
            &s,
            "let box = unshare([\"mount\", \"pid\"]);\nbox.chroot(\"/nonexistent/root\");\n",
            &[],
        );
        assert_has_all(
            &e,
            &[
                "chroot: chroot /nonexistent/root: ENOENT (No such file or directory)",
                "bad.nsr:2:5",
                "hint:",
                "rollback: 1 step(s)",
            ],
        );
        let file = s.write("file", "not a directory");
        let e = fails(
            &s,
            &format!("let box = unshare([\"mount\"]);\nbox.chroot(\"{file}\");\n"),
            &[],
        );
        assert_has_all(&e, &["ENOTDIR", "is not a directory"]);
    }

    #[test]
    fn a_thrown_error_in_a_function_is_located_there() {
        let _g = privileged();
        let s = Scratch::new("throw");
        let e = fails(&s, "fn setup(b) {\n    b.mount(\"tmpfs\", \"/nope\", \"tmpfs\");\n}\nlet box = unshare([\"mount\"]);\nsetup(box);\n", &[]);
        assert_has_all(
            &e,
            &[
                "bad.nsr:2:7",
                "b.mount(\"tmpfs\", \"/nope\", \"tmpfs\");",
                "rollback: 1 step(s)",
            ],
        );
    }

    #[test]
    fn primitives_that_would_change_the_host_are_refused() {
        let _g = privileged();
        let s = Scratch::new("hostsafe");
        let e = fails(
            &s,
            "let box = unshare([\"ipc\"]);\nbox.hostname(\"oops\");\n",
            &[],
        );
        assert_has_all(&e, &["would rename the host", "add \"uts\""]);
        let e = fails(
            &s,
            "let box = unshare([\"uts\"]);\nbox.pivot_root(\"/tmp\");\n",
            &[],
        );
        assert_has_all(&e, &["would change the host's root", "add \"mount\""]);
    }

    #[test]
    fn wrong_argument_types_are_reported_by_name() {
        let _g = privileged();
        let s = Scratch::new("types");
        let e = fails(
            &s,
            "let box = unshare([\"mount\"]);\nbox.mount(1, 2, 3);\n",
            &[],
        );
        assert_has_all(
            &e,
            &["no function mount", "bad.nsr:2:5", "rollback: 1 step(s)"],
        );
        let e = fails(&s, "let box = unshare(#{ kinds: \"mount\" });\n", &[]);
        assert_has_all(&e, &["kinds must be an array, not a string"]);
        let e = fails(
            &s,
            "let box = unshare(#{ kinds: [\"user\"], uid_map: [[0, 1000]] });\n",
            &[],
        );
        assert_has_all(&e, &["[inside, outside, count]"]);
        let e = fails(&s, "let box = unshare([\"mount\"]);\nbox.run([]);\n", &[]);
        assert_has_all(&e, &["the command is empty"]);
        let e = fails(&s, "let box = unshare([\"mount\"]);\nbox.mount(\"proc\", \"/proc\", \"proc\", #{ readonly: \"yes\" });\n", &[]);
        assert_has_all(&e, &["readonly must be true or false"]);
        let e = fails(
            &s,
            "let box = unshare(#{ kinds: [\"mount\"], mapp_root: true });\n",
            &[],
        );
        assert_has_all(&e, &["unknown option 'mapp_root'"]);
    }
}
