//! Rollback: a recipe that fails at any step, is interrupted, or is killed leaves the
//! host as it found it.

mod common;
use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::BufReader;

use std::time::{Duration, Instant};

/// Uses every primitive; `gate` throws after step `k`. The comment on each line is the
/// number of undo entries the journal holds once that step is done.
const EVERY_PRIMITIVE: &str = r#"
fn gate(n, k) { if n == k { throw "injected failure at step " + n; } n + 1 }
let k = parse_int(args.k);
let n = 1;
let box = unshare(#{ kinds: ["mount", "uts", "ipc", "pid", "net", "user"], map_root: true }); n = gate(n, k); // 1
box.hostname("sweep"); n = gate(n, k);                                            // 2
let host = unshare(["uts"]); n = gate(n, k);                                      // 3
host.mount("tmpfs", args.hostdir, "tmpfs"); n = gate(n, k);                       // 4
box.mount("tmpfs", args.root + "/tmp", "tmpfs"); n = gate(n, k);                  // 5
box.chroot(args.root); n = gate(n, k);                                            // 6
box.mount("proc", "/proc", "proc"); n = gate(n, k);                               // 7
box.mount("/etc", "/mnt", "bind", #{ readonly: true }); n = gate(n, k);           // 8
box.run("true", #{ check: true }); n = gate(n, k);                                // 8
box.namespaces(); box.mountinfo(); box.hostname(); n = gate(n, k);               // 8
let p = unshare(#{ kinds: ["mount", "pid", "user"], map_root: true }); n = gate(n, k); // 9
p.pivot_root(args.root2); n = gate(n, k);                                         // 10
box.exec(["true"]); n = gate(n, k);                                               // 10
"#;
const UNDO_AFTER_STEP: [usize; 13] = [1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 9, 10, 10];

#[test]
fn failing_at_every_step_rolls_back_exactly_what_was_done() {
    let _g = privileged();
    let s = Scratch::new("sweep");
    let root = s.busybox_root("root");
    let root2 = s.busybox_root("root2");
    let hostdir = s.path("hostdir");
    std::fs::create_dir_all(&hostdir).unwrap();
    let file = s.write("sweep.nsr", EVERY_PRIMITIVE);
    let before = HostState::take();
    for k in 1..=UNDO_AFTER_STEP.len() {
        let ks = format!("k={k}");
        let params = [
            format!("root={root}"),
            format!("root2={root2}"),
            format!("hostdir={hostdir}"),
        ];
        let r = nsr(&["run", &file, &ks, &params[0], &params[1], &params[2]]);
        r.expect_code(1);
        assert!(
            r.stderr.contains(&format!("injected failure at step {k}")),
            "step {k}:\n{}",
            r.stderr
        );
        let want = format!("rollback: {} step(s)", UNDO_AFTER_STEP[k - 1]);
        assert!(
            r.stderr.contains(&want),
            "step {k}: want {want}\n{}",
            r.stderr
        );
        assert!(!r.stderr.contains("FAILED"), "step {k}:\n{}", r.stderr);
        before.assert_unchanged(&format!("failure at step {k}"));
    }
    // And to the end: the same teardown runs.
    let params = [
        format!("root={root}"),
        format!("root2={root2}"),
        format!("hostdir={hostdir}"),
    ];
    let r = nsr(&[
        "run", "-v", &file, "k=0", &params[0], &params[1], &params[2],
    ]);
    r.expect_code(0);
    assert_has_all(&r.stderr, &["teardown: 10 step(s)"]);
    before.assert_unchanged("complete run");
}

/// Starts a recipe that prints "ready" and then blocks; returns the child and its stdout reader.
fn start_blocking(
    file: &str,
    params: &[String],
) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let mut args = vec!["run".to_string(), file.to_string()];
    args.extend_from_slice(params);
    let (child, line, out) = start_nsr(&args);
    assert_eq!(line.trim(), "ready");
    (child, out)
}

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

const BLOCKING: &str = r#"
let box = unshare(#{ kinds: ["mount", "uts", "pid", "user"], map_root: true });
box.mount("tmpfs", "/tmp", "tmpfs");
let host = unshare(["uts"]);
host.mount("tmpfs", args.hostdir, "tmpfs");
print("ready");
box.run(["sleep", args.marker]);
print("not reached");
"#;

fn interrupted_run_rolls_back(sig: Signal, code: i32) {
    let s = Scratch::new(&format!("sig{}", sig as i32));
    let hostdir = s.path("hostdir");
    std::fs::create_dir_all(&hostdir).unwrap();
    let marker = format!("{}.{}", 4000 + sig as i32, std::process::id());
    let file = s.write("b.nsr", BLOCKING);
    let before = HostState::take();
    let (child, _out) = start_blocking(
        &file,
        &[format!("hostdir={hostdir}"), format!("marker={marker}")],
    );
    wait_for("the command to start", Duration::from_secs(10), || {
        !processes_with(&marker).is_empty()
    });
    let sent = Instant::now();
    kill(Pid::from_raw(child.id() as i32), sig).unwrap();
    let out = wait_bounded(child, Duration::from_secs(15));
    let took = sent.elapsed();
    let r = Run::from(out);
    r.expect_code(code);
    assert!(took < Duration::from_secs(5), "rollback took {took:?}");
    assert!(
        r.stderr
            .contains(&format!("interrupted by {}", sig.as_str())),
        "{}",
        r.stderr
    );
    assert_has_all(&r.stderr, &["rollback: 4 step(s)"]);
    assert!(
        processes_with(&marker).is_empty(),
        "the sandbox's command outlived the run"
    );
    before.assert_unchanged(sig.as_str());
}

#[test]
fn sigint_mid_command_rolls_back() {
    let _g = privileged();
    interrupted_run_rolls_back(Signal::SIGINT, 130);
}

#[test]
fn sigterm_mid_command_rolls_back() {
    let _g = privileged();
    interrupted_run_rolls_back(Signal::SIGTERM, 143);
}

#[test]
fn sigterm_during_a_script_loop_rolls_back() {
    let _g = privileged();
    let s = Scratch::new("loop");
    let file = s.write(
        "l.nsr",
        "let box = unshare([\"uts\", \"mount\"]);\nprint(\"ready\");\nloop { }\n",
    );
    let before = HostState::take();
    let (child, _out) = start_blocking(&file, &[]);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let r = Run::from(wait_bounded(child, Duration::from_secs(15)));
    r.expect_code(143);
    assert_has_all(&r.stderr, &["interrupted by SIGTERM", "l.nsr:3:"]);
    assert_has_all(&r.stderr, &["rollback: 1 step(s)"]);
    before.assert_unchanged("loop");
}

#[test]
fn a_command_that_ignores_signals_is_killed_after_the_grace_period() {
    let _g = privileged();
    let s = Scratch::new("stubborn");
    let marker = format!("{}.5", std::process::id());
    let file = s.write(
        "s.nsr",
        "let box = unshare([\"uts\"]);\nprint(\"ready\");\nbox.run([\"sh\", \"-c\", \"trap '' INT TERM; sleep \" + args.marker + \"; true\"]);\n",
    );
    let before = HostState::take();
    let (child, _out) = start_blocking(&file, &[format!("marker={marker}")]);
    wait_for("the command to start", Duration::from_secs(10), || {
        !processes_with(&marker).is_empty()
    });
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let r = Run::from(wait_bounded(child, Duration::from_secs(20)));
    r.expect_code(130);
    assert_has_all(&r.stderr, &["did not end within 5s"]);
    assert!(
        processes_with(&marker).is_empty(),
        "the stubborn command outlived the run"
    );
    before.assert_unchanged("stubborn command");
}

#[test]
fn sigkill_of_nsr_takes_the_sandboxes_processes_with_it_and_down_the_rest() {
    let _g = privileged();
    let s = Scratch::new("kill9");
    let marker = format!("{}.9", std::process::id());
    let file = s.write(
        "k.nsr",
        r#"let a = unshare(#{ kinds: ["mount", "pid", "user"], map_root: true });
let b = unshare(["uts"]);
print("ready");
a.run(["sh", "-c", "sleep " + args.marker + " & sleep " + args.marker]);
"#,
    );
    let before = HostState::take();
    let (child, _out) = start_blocking(&file, &[format!("marker={marker}")]);
    wait_for("the command to start", Duration::from_secs(10), || {
        processes_with(&marker).len() >= 2
    });
    let pid = child.id();
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    let _ = wait_bounded(child, Duration::from_secs(5));
    // The kernel ends them at once (the holder's parent-death signal, then the pid
    // namespace's teardown): no grace period to wait for. 3 s is headroom for a busy
    // 2-core CI machine; a sandbox that outlived nsr would go on sleeping for hours.
    wait_for(
        "the sandbox's processes to die",
        Duration::from_secs(3),
        || processes_with(&marker).is_empty(),
    );
    // What outlives the processes, the device cgroup of the confined sandbox (empty
    // now), is in the run's journal (which outlives it too): `nsr down` takes it back,
    // as after any crash.
    let left = HostState::take();
    let outlived: Vec<_> = left.lines.difference(&before.lines).collect();
    assert!(
        outlived
            .iter()
            .all(|l| l.starts_with("cgroup: ") || l.starts_with("state: ")),
        "only cgroups and the journal outlive the processes: {outlived:?}"
    );
    assert!(
        outlived
            .iter()
            .any(|l| l.starts_with("state: ") && l.ends_with(&format!("/k-{pid}"))),
        "{outlived:?}"
    );
    nsr(&["down", &format!("k-{pid}")]).expect_code(0);
    before.assert_unchanged("SIGKILL, then nsr down");
}

#[test]
fn a_runaway_recipe_hits_its_limit_and_still_rolls_back() {
    let _g = privileged();
    let s = Scratch::new("runaway");
    let before = HostState::take();
    let r = run_recipe(
        &s,
        "r.nsr",
        "let box = unshare([\"uts\"]);\nlet x = 0;\nloop { x += 1; }\n",
        &["--limit", "operations=100000"],
    );
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &["operation count limit", "--limit operations=N"],
    );
    assert_has_all(&r.stderr, &["rollback: 1 step(s)"]);
    before.assert_unchanged("runaway");
}

#[test]
fn without_a_pid_namespace_background_processes_are_stopped_too() {
    let _g = privileged();
    let s = Scratch::new("nopidns");
    let marker = format!("{}.77", std::process::id());
    let before = HostState::take();
    let r = run_recipe(
        &s,
        "b.nsr",
        "let box = unshare([\"uts\"]);\nbox.run([\"sh\", \"-c\", \"setsid sleep \" + args.marker + \" > /dev/null 2>&1 < /dev/null &\"]);\n",
        &[&format!("marker={marker}")],
    );
    r.expect_code(0);
    assert!(
        processes_with(&marker).is_empty(),
        "a daemon of the sandbox outlived it"
    );
    before.assert_unchanged("no pid namespace");
}

#[test]
fn hostile_recipes_hit_a_named_limit_and_roll_back() {
    let _g = privileged();
    let s = Scratch::new("dos");
    let before = HostState::take();
    let deep = format!("let x = {}1{};\n", "(".repeat(100_000), ")".repeat(100_000));
    let cases: [(&str, String, &[&str]); 6] = [
        ("nested parentheses", deep, &["syntax error", "Expression exceeds maximum complexity", "--limit expr-depth=N"]),
        ("string doubling", "let b = unshare([\"uts\"]);\nlet s = \"x\";\nloop { s += s; }\n".into(), &["Length of string", "string-size"]),
        ("array growth", "let b = unshare([\"uts\"]);\nlet a = [];\nloop { a.push(1); }\n".into(), &["Size of array", "array-size"]),
        // Rhai checks a map's size when the map is used, not at each `m[k] = v`: a
        // map growing in a loop is stopped by the operation count (or memory) limit.
        ("map growth", "let b = unshare([\"uts\"]);\nlet m = #{};\nlet i = 0;\nloop { m[\"k\" + i] = i; i += 1; }\n".into(), &["operation count", "--limit operations"]),
        ("endless loop", "let b = unshare([\"uts\"]);\nloop { }\n".into(), &["operation count", "--limit operations"]),
        ("deep recursion", "let b = unshare([\"uts\"]);\nfn f(n) { f(n + 1) }\nf(0);\n".into(), &["call depth", "--limit call-depth"]),
    ];
    for (what, text, wants) in cases {
        let start = std::time::Instant::now();
        let r = run_recipe(&s, "dos.nsr", &text, &[]);
        let took = start.elapsed();
        r.expect_code(1);
        // Not a speed measurement: the limit ends it rather than the machine's memory
        // or the test's timeout (array growth takes about 10 s in a debug build).
        assert!(
            took < std::time::Duration::from_secs(60),
            "{what} took {took:?}"
        );
        for w in wants {
            assert!(r.stderr.contains(w), "{what}: {w}\n{}", r.stderr);
        }
        if text.contains("unshare") {
            assert!(
                r.stderr.contains("rollback: 1 step(s)"),
                "{what}:\n{}",
                r.stderr
            );
        }
    }
    // A memory limit stops growth that no size limit sees.
    let r = run_recipe(
        &s,
        "mem.nsr",
        "let b = unshare([\"uts\"]);\nlet m = #{};\nlet i = 0;\nloop { m[\"k\" + i] = \"0123456789abcdef\" + i; i += 1; }\n",
        &["--limit", "memory=16", "--limit", "operations=100000000"],
    );
    r.expect_code(1);
    assert_has_all(&r.stderr, &["memory limit", "rollback: 1 step(s)"]);
    // The map-size limit names itself where the map is used.
    let r = run_recipe(
        &s,
        "map.nsr",
        "let b = unshare([\"uts\"]);\nlet m = #{};\nlet i = 0;\nwhile i < 50 { m[\"k\" + i] = i; i += 1; }\nprint(m.len());\n",
        &["--limit", "map-size=10"],
    );
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[
            "Size of object map is over the limit",
            "rollback: 1 step(s)",
        ],
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    before.assert_unchanged("hostile recipes");
}
