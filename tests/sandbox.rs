//! The sandbox primitives against the real kernel, as a user's recipes use them.

mod common;
use common::*;

/// Recipes in these tests use `out(r)`: a command's stdout without the final newline
/// (Rhai's `trim` trims in place and returns nothing).
fn run_recipe_with(s: &Scratch, name: &str, body: &str, params: &[&str]) -> Run {
    let text = format!("fn out(r) {{ let s = r.stdout; s.trim(); s }}\n{body}");
    run_recipe(s, name, &text, params)
}

#[test]
fn a_sandbox_has_its_own_hostname_and_the_host_keeps_its_own() {
    let _g = privileged();
    let s = Scratch::new("hostname");
    let before = HostState::take();
    let r = run_recipe_with(
        &s,
        "h.nsr",
        r#"let box = unshare(["uts"]);
box.hostname("inner-host");
print("inside=" + out(box.run(["hostname"])));
print("getter=" + box.hostname());"#,
        &[],
    );
    r.expect_code(0);
    assert_has_all(&r.stdout, &["inside=inner-host"]);
    assert!(r.stdout.contains("getter=inner-host"));
    before.assert_unchanged("hostname");
}

#[test]
fn the_holder_is_pid_1_and_reaps_orphans() {
    let _g = privileged();
    let s = Scratch::new("pid1");
    let root = s.busybox_root("root");
    // busybox sh gives a background job /dev/null as its stdin: an empty file will do.
    std::fs::write(format!("{root}/dev/null"), "").unwrap();
    let r = run_recipe_with(
        &s,
        "p.nsr",
        r#"let box = unshare(#{ kinds: ["mount", "pid"] });
box.chroot(args.root);
box.mount("proc", "/proc", "proc");
print("ppid=" + out(box.run("echo $PPID")));
// An orphan that exits at once is reparented to PID 1, which must reap it: its /proc
// entry (a zombie keeps one) goes. 5 s is headroom; an unreaped zombie stays forever.
// (One command: what a command leaves running is stopped when it ends.)
let z = box.run("(sh -c 'echo $$ > /tmp/orphan; exit 0' &); i=0; until [ -s /tmp/orphan ] && [ ! -e /proc/$(cat /tmp/orphan) ]; do i=$((i+1)); [ $i -gt 500 ] && { grep -l '^State:.*Z' /proc/[0-9]*/status; exit 1; }; sleep 0.01; done");
print("reaped=" + z.code + " zombies=[" + out(z) + "]");
print("visible=" + out(box.run("ls /proc | grep -c '^[0-9]'")));"#,
        &[&format!("root={root}")],
    );
    r.expect_code(0);
    assert_has_all(&r.stdout, &["ppid=1"]);
    assert_has_all(&r.stdout, &["reaped=0 zombies=[]"]);
    let visible: usize = r
        .stdout
        .split("visible=")
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        visible <= 4,
        "only the sandbox's processes are visible: {visible}"
    );
}

#[test]
fn namespace_inodes_differ_from_the_host_for_exactly_the_kinds_asked() {
    let _g = privileged();
    let s = Scratch::new("kinds");
    let all = [
        "mount", "uts", "ipc", "net", "pid", "user", "cgroup", "time",
    ];
    for kinds in [vec!["uts"], vec!["mount", "pid", "net"], all.to_vec()] {
        let list = kinds
            .iter()
            .map(|k| format!("\"{k}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let r = run_recipe(
            &s,
            "k.nsr",
            &format!(
                r#"let box = unshare(#{{ kinds: [{list}], map_root: {} }});
let host = namespaces();
let own = box.namespaces();
for k in own.keys() {{ print(k + "=" + if own[k] == host[k] {{ "shared" }} else {{ "new" }}); }}"#,
                kinds.contains(&"user")
            ),
            &[],
        );
        r.expect_code(0);
        for k in all {
            let expected = if kinds.contains(&k) { "new" } else { "shared" };
            assert!(
                r.stdout.contains(&format!("{k}={expected}")),
                "{k} should be {expected} for {kinds:?}:\n{}",
                r.stdout
            );
        }
    }
}

#[test]
fn proc_is_mounted_in_the_sandbox_only() {
    let _g = privileged();
    let s = Scratch::new("proc");
    let target = s.path("procdir");
    std::fs::create_dir_all(&target).unwrap();
    let before = HostState::take();
    let r = run_recipe_with(
        &s,
        "m.nsr",
        &format!(
            r#"let box = unshare(["mount", "pid"]);
box.mount("proc", "{target}", "proc");
// A second sandbox shares the host's mount namespace: it is the host's view.
let host = unshare(["uts"]);
print("sandbox=" + box.mountinfo().filter(|m| m.target == "{target}").len());
print("host=" + host.mountinfo().filter(|m| m.target == "{target}").len());
print("fstype=" + box.mountinfo().filter(|m| m.target == "{target}")[0].fstype);"#
        ),
        &[],
    );
    r.expect_code(0);
    assert_has_all(&r.stdout, &["sandbox=1", "host=0", "fstype=proc"]);
    before.assert_unchanged("proc mount");
}

#[test]
fn chroot_sees_only_the_new_root() {
    let _g = privileged();
    let s = Scratch::new("chroot");
    let root = s.busybox_root("root");
    let r = run_recipe_with(
        &s,
        "c.nsr",
        r#"let box = unshare(#{ kinds: ["mount", "pid", "user"], map_root: true });
box.chroot(args.root);
print("marker=" + out(box.run("cat /etc/marker")));
print("ls=" + out(box.run("ls / | tr '\n' ' '")));"#,
        &[&format!("root={root}")],
    );
    r.expect_code(0);
    assert_has_all(&r.stdout, &["marker=inside the test root"]);
    assert!(
        !r.stdout.contains("usr"),
        "the host's /usr must not be visible: {}",
        r.stdout
    );
}

#[test]
fn pivot_root_replaces_the_root_and_hides_the_old_one() {
    let _g = privileged();
    let s = Scratch::new("pivot");
    let root = s.busybox_root("root");
    let before = HostState::take();
    let r = run_recipe_with(
        &s,
        "p.nsr",
        r#"let box = unshare(#{ kinds: ["mount", "pid", "user"], map_root: true });
box.mount("proc", args.root + "/proc", "proc");
box.pivot_root(args.root);
print("marker=" + out(box.run("cat /etc/marker")));
let points = box.run("awk '{print $5}' /proc/self/mountinfo").stdout;
// The confined sandbox's masks are mounts below /proc (README, Confinement).
let sorted = points.split("\n").filter(|l| l != "" && !l.starts_with("/proc/"));
sorted.sort();
print("points=" + sorted);
print("masks=" + points.contains("/proc/sys"));
print("host_paths=" + points.contains("/tmp/"));"#,
        &[&format!("root={root}")],
    );
    r.expect_code(0);
    assert_has_all(&r.stdout, &["marker=inside the test root"]);
    assert_has_all(&r.stdout, &["points=[\"/\", \"/proc\"]"]);
    assert_has_all(&r.stdout, &["host_paths=false", "masks=true"]);
    before.assert_unchanged("pivot_root");
}

#[test]
fn every_mount_kind_works_and_is_undone() {
    let _g = privileged();
    let s = Scratch::new("mounts");
    let root = s.busybox_root("root");
    let before = HostState::take();
    let r = run_recipe_with(
        &s,
        "m.nsr",
        r#"let box = unshare(#{ kinds: ["mount", "uts", "ipc", "net", "pid", "user"], map_root: true });
box.chroot(args.root);
box.mount("proc", "/proc", "proc");
box.mount("sysfs", "/sys", "sysfs", #{ readonly: true });
box.mount("tmpfs", "/tmp", "tmpfs", #{ data: "size=1m,mode=1777" });
box.mount("devpts", "/dev/pts", "devpts", #{ data: "newinstance,ptmxmode=0666" });
box.mount("mqueue", "/dev/mqueue", "mqueue");
box.mount("/etc", "/mnt", "bind", #{ readonly: true });
box.run("mkdir /tmp/up /tmp/wk", #{ check: true });
box.mount("overlay", "/merged", "overlay", #{ lower: ["/etc"], upper: "/tmp/up", work: "/tmp/wk" });
let info = box.mountinfo();
for m in info { print("mount " + m.target + " " + m.fstype + " " + m.options); }
print("ro_write=" + box.run("touch /mnt/x").code);
box.run("echo new > /merged/created", #{ check: true });
print("upper=" + out(box.run("cat /tmp/up/created")));
print("lower_untouched=" + box.run("ls /etc").stdout.contains("created"));"#,
        &[&format!("root={root}")],
    );
    r.expect_code(0);
    for (target, fstype) in [
        ("/proc", "proc"),
        ("/sys", "sysfs"),
        ("/tmp", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/mqueue", "mqueue"),
        ("/merged", "overlay"),
    ] {
        assert!(
            r.stdout.contains(&format!("mount {target} {fstype} ")),
            "{target} {fstype}:\n{}",
            r.stdout
        );
    }
    assert_line_starts(&r.stdout, "mount /sys sysfs ro,");
    assert_line_starts(&r.stdout, "mount /proc proc rw,nosuid,nodev,noexec");
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("mount /mnt ") && l.contains(" ro")),
        "{}",
        r.stdout
    );
    assert_has_all(&r.stdout, &["ro_write=1"]);
    assert_has_all(&r.stdout, &["upper=new"]);
    assert_has_all(&r.stdout, &["lower_untouched=false"]);
    before.assert_unchanged("mounts");
}

#[test]
fn mounts_in_the_host_mount_namespace_are_undone_exactly() {
    let _g = privileged();
    let s = Scratch::new("hostmount");
    let dir = s.path("t");
    std::fs::create_dir_all(&dir).unwrap();
    let before = HostState::take();
    let r = run_recipe_with(
        &s,
        "h.nsr",
        &format!(
            r#"let box = unshare(["uts"]);
box.mount("tmpfs", "{dir}", "tmpfs");
box.mount("tmpfs", "{dir}", "tmpfs");
print("stacked=" + box.mountinfo().filter(|m| m.target == "{dir}").len());"#
        ),
        &["-v"],
    );
    r.expect_code(0);
    assert_has_all(&r.stdout, &["stacked=2"]);
    before.assert_unchanged("host-namespace mounts");
}

/// An undo takes back the mount nsr made, found by its ID, never "whatever is at that
/// path": with a foreign mount put over nsr's during the run, the rollback refuses
/// (the path no longer leads to nsr's mount) and the foreign mount survives; once it
/// is gone, `nsr down` takes back nsr's own. A path-based umount would have removed
/// the foreign one.
#[test]
fn a_mount_is_undone_by_its_id_never_by_its_path() {
    let _g = privileged();
    let s = Scratch::new("mountid");
    let dir = s.path("t");
    std::fs::create_dir_all(&dir).unwrap();
    let before = HostState::take();
    let r = run_recipe_with(
        &s,
        "id.nsr",
        &format!(
            r#"let box = unshare(#{{ kinds: ["uts"], privileged: true }});
box.mount("tmpfs", "{dir}", "tmpfs");
box.run(["sh", "-c", "mount -t tmpfs nsrt-foreign {dir} && touch {dir}/foreign-marker"], #{{ check: true }});"#
        ),
        &[],
    );
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[
            "FAILED to undo mount tmpfs on",
            "another mount covers it",
            "EBUSY",
        ],
    );
    assert!(
        std::path::Path::new(&format!("{dir}/foreign-marker")).exists(),
        "the foreign mount on top survives the rollback"
    );
    // The foreign mount goes by its owner's hand; then what nsr left, by `nsr down`.
    nix::mount::umount(dir.as_str()).unwrap();
    let ls = nsr(&["ls", "--json"]);
    let envs: serde_json::Value = serde_json::from_str(&ls.stdout).unwrap();
    let left: Vec<String> = envs
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["recipe"].as_str().is_some_and(|p| p.ends_with("id.nsr")))
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left.len(), 1, "{}", ls.stdout);
    nsr(&["down", &left[0]]).expect_code(0);
    before.assert_unchanged("after the foreign mount and nsr down");
}

#[test]
fn joining_namespaces_by_path_by_pid_and_by_sandbox() {
    let _g = privileged();
    let s = Scratch::new("join");
    // A persistent network namespace, as `ip netns add` makes one, but bound in the
    // scratch directory so that nothing is left in /run/netns.
    let nsfile = s.path("netns");
    std::fs::write(&nsfile, "").unwrap();
    s.own_mount(&nsfile);
    let made = std::process::Command::new("unshare")
        .arg(format!("--net={nsfile}"))
        .arg("true")
        .status()
        .unwrap();
    assert!(made.success());
    let before = HostState::take();
    let ino = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&nsfile).unwrap().ino()
    };
    let r = run_recipe_with(
        &s,
        "j.nsr",
        &format!(
            r#"let a = unshare(#{{ kinds: ["uts", "mount", "pid", "user"], map_root: true, net: "{nsfile}" }});
print("net=" + a.namespaces().net);
let b = unshare(#{{ kinds: ["mount"], uts: a.pid }});
print("uts_same=" + (b.namespaces().uts == a.namespaces().uts));
let c = unshare(#{{ kinds: ["mount"], join: #{{ ipc: a }} }});
print("ipc_same=" + (c.namespaces().ipc == a.namespaces().ipc));"#
        ),
        &[],
    );
    r.expect_code(0);
    assert_has_all(&r.stdout, &[&format!("net={ino}")]);
    assert_has_all(&r.stdout, &["uts_same=true", "ipc_same=true"]);
    before.assert_unchanged("joins");
}

#[test]
fn run_returns_status_output_and_takes_env_cwd_stdin() {
    let _g = privileged();
    let s = Scratch::new("run");
    let root = s.busybox_root("root");
    let r = run_recipe_with(
        &s,
        "r.nsr",
        r#"let box = unshare(#{ kinds: ["mount", "pid", "user"], map_root: true });
box.chroot(args.root);
let r = box.run(["sh", "-c", "echo out; echo err >&2; exit 7"]);
let e = r.stderr; e.trim();
print("code=" + r.code + " ok=" + r.ok + " out=" + out(r) + " err=" + e);
print("env=" + out(box.run("echo $GREETING", #{ env: #{ GREETING: "hi" } })));
print("cwd=" + out(box.run("pwd", #{ cwd: "/etc" })));
print("stdin=" + box.run(["cat"], #{ stdin: "typed" }).stdout);
let k = box.run(["sh", "-c", "kill -9 $$"]);
print("signal=" + k.signal + " code=" + k.code);"#,
        &[&format!("root={root}")],
    );
    r.expect_code(0);
    for want in [
        "code=7 ok=false out=out err=err",
        "env=hi",
        "cwd=/etc",
        "stdin=typed",
        "signal=SIGKILL code=137",
    ] {
        assert!(r.stdout.contains(want), "{want}:\n{}", r.stdout);
    }
}

#[test]
fn exec_hands_over_the_terminal_and_returns_the_status() {
    let _g = privileged();
    let s = Scratch::new("exec");
    let file = s.write(
        "e.nsr",
        r#"let box = unshare(#{ kinds: ["mount", "uts", "pid", "user"], map_root: true });
box.hostname("ttybox");
let code = box.exec(["sh", "-c", "test -t 0 && echo tty-yes; hostname; exit 5"]);
print("exec-code=" + code);"#,
    );
    // script(1) gives the recipe a real pseudo-terminal.
    let out = wait_bounded(
        nsr_on_terminal(&format!("run {file}")),
        std::time::Duration::from_secs(20),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("tty-yes") && text.contains("ttybox") && text.contains("exec-code=5"),
        "{text}"
    );
}

#[test]
fn a_shell_that_exits_with_a_status_gives_it_back_as_unshare_does() {
    let _g = privileged();
    let s = Scratch::new("exec-status");
    let last = s.write(
        "last.nsr",
        "let box = unshare(#{ kinds: [\"mount\", \"uts\", \"pid\"] });\nbox.exec([\"sh\"]);\n",
    );
    // The user types `exit 3` at the sandbox's shell, on a real terminal, once the
    // shell shows its prompt.
    let mut child = nsr_on_terminal(&format!("run {last}"));
    let screen = Screen::follow(child.stdout.take().unwrap());
    screen.wait_for("# ", std::time::Duration::from_secs(15));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"echo in-the-$((1+1))-shell; exit 3\n")
            .unwrap();
    }
    let out = wait_bounded(child, std::time::Duration::from_secs(20));
    let text = screen.finish();
    assert!(text.contains("in-the-2-shell"), "{text}");
    assert_eq!(out.status.code(), Some(3), "{text}");

    // A step after exec makes the recipe's status its own again (0), and exit(N) wins.
    let after = s.write(
        "after.nsr",
        "let box = unshare([\"uts\"]);\nbox.exec([\"sh\", \"-c\", \"exit 3\"]);\nbox.hostname(\"later\");\n",
    );
    nsr(&["run", &after]).expect_code(0);
    let explicit = s.write(
        "explicit.nsr",
        "let box = unshare([\"uts\"]);\nbox.exec([\"sh\", \"-c\", \"exit 3\"]);\nexit(7);\n",
    );
    nsr(&["run", &explicit]).expect_code(7);
    let quiet = s.write(
        "ok.nsr",
        "let box = unshare([\"uts\"]);\nbox.exec([\"sh\", \"-c\", \"exit 0\"]);\n",
    );
    nsr(&["run", &quiet]).expect_code(0);
}

#[test]
fn the_default_recipe_runs_with_nothing_but_the_binary() {
    let _g = privileged();
    let before = HostState::take();
    // Every line labelled, and the same on every run but for pids and inode numbers.
    let expected = "inside the sandbox (pid N on the host):
hostname: nsr-demo
my pid: 2 (pid 1: nsr-holder)
uid: 0
links: lo
its namespaces (inode, new or the host's):
  cgroup: N  new
  ipc: N  new
  mount: N  new
  net: N  new
  pid: N  new
  time: N  shared with the host
  user: N  new
  uts: N  new
a sandbox joined to netns PREFIX-net (like nsenter --net=/run/netns/PREFIX-net unshare ...):
  address 127.0.0.1/8 on lo
  address 172.16.99.100/24 on eth0
  route default via 172.16.99.1 dev eth0
  route 172.16.99.0/24 dev eth0
";
    for _ in 0..3 {
        // Names of the test's own, so that a user's run of the default recipe (its
        // fixed names) can share the machine.
        let prefix = format!("{}-demo", short_prefix());
        let r = nsr(&["run", &format!("prefix={prefix}")]);
        r.expect_code(0);
        // Inode numbers and the holder's pid on the host (any length: pids wrap) vary.
        let words: Vec<&str> = r.stdout.split(' ').collect();
        let numbers_out: String = words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let digits = w.trim_end_matches('\n');
                let host_pid = i > 0 && words[i - 1].ends_with("(pid");
                if (digits.len() > 3 || host_pid)
                    && !digits.is_empty()
                    && digits.chars().all(|c| c.is_ascii_digit())
                {
                    w.replacen(digits, "N", 1)
                } else {
                    w.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(numbers_out, expected.replace("PREFIX", &prefix));
    }
    before.assert_unchanged("default recipe");
}

#[test]
fn the_tutorial_recipe_runs_on_a_busybox_root() {
    let _g = privileged();
    let s = Scratch::new("tutorial");
    let root = s.busybox_root("go_root");
    let recipe = concat!(env!("CARGO_MANIFEST_DIR"), "/recipes/tutorial-sandbox.nsr");
    let before = HostState::take();
    let r = nsr(&[
        "run",
        recipe,
        &format!("root={root}"),
        "cmd=hostname; echo pid=$$; cat /etc/marker; ls /proc | grep -c '^[0-9]'; exit 4",
    ]);
    // The recipe ends with exec: its command's status is nsr's, as with unshare(1).
    r.expect_code(4);
    for want in [
        "tutorial\n",
        "pid=2\n",
        "inside the test root\n",
        "the shell exited with status 4",
    ] {
        assert!(r.stdout.contains(want), "{want:?}:\n{}", r.stdout);
    }
    before.assert_unchanged("tutorial recipe");
}

#[test]
fn commands_get_no_host_fds_no_host_cwd_and_no_terminal() {
    let _g = privileged();
    let s = Scratch::new("hygiene");
    let root = s.busybox_root("root");
    let file = s.write(
        "h.nsr",
        r#"let box = unshare(#{ kinds: ["mount", "pid", "user"], map_root: true });
box.chroot(args.root);
box.mount("proc", "/proc", "proc");
// ls lists its own fds: 0, 1, 2, and the directory it is reading.
print(box.run(["ls", "-l", "/proc/self/fd"]).stdout);
print(box.run(["readlink", "/proc/self/cwd"]).stdout);
let host = unshare(["uts"]);
print("tty: " + host.run("echo leaked > /dev/tty && echo reached").stderr);"#,
    );
    // A real terminal, so that a command which could reach it would show it.
    let out = wait_bounded(
        nsr_on_terminal(&format!("run {file} root={root}")),
        std::time::Duration::from_secs(20),
    );
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let entries: Vec<&str> = text.lines().filter(|l| l.starts_with('l')).collect();
    let names: Vec<&str> = entries
        .iter()
        .map(|l| l.split(" -> ").next().unwrap().rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["0", "1", "2", "3"],
        "only stdio and ls's own directory fd:\n{text}"
    );
    for e in &entries[..3] {
        assert!(e.contains(" -> pipe:"), "stdio is nsr's pipes: {e}");
    }
    assert!(text.lines().any(|l| l == "/"), "cwd is the root:\n{text}");
    assert!(
        !text.contains("leaked") && !text.contains("reached") && text.contains("tty: "),
        "{text}"
    );
}

#[test]
fn a_recursive_bind_brings_submounts_and_a_plain_bind_does_not() {
    let _g = privileged();
    let s = Scratch::new("rbind");
    let root = s.busybox_root("root");
    let r = run_recipe_with(
        &s,
        "b.nsr",
        r#"let box = unshare(#{ kinds: ["mount", "pid", "user"], map_root: true });
box.mount("tmpfs", args.root + "/tmp", "tmpfs");
box.run("mkdir -p " + args.root + "/tmp/sub && echo deep > " + args.root + "/tmp/f", #{ check: true });
box.mount("tmpfs", args.root + "/tmp/sub", "tmpfs");
box.run("echo below > " + args.root + "/tmp/sub/g", #{ check: true });
box.chroot(args.root);
box.mount("/tmp", "/mnt", "rbind", #{ readonly: true });
box.run("mkdir -p /lower", #{ check: true });
box.mount("/tmp", "/lower", "bind");
print("rbind=" + out(box.run("cat /mnt/sub/g")));
print("bind=" + out(box.run("cat /lower/sub/g 2>/dev/null || echo missing")));
print("ro=" + box.run("touch /mnt/sub/x").code);"#,
        &[&format!("root={root}")],
    );
    r.expect_code(0);
    assert_has_all(&r.stdout, &["rbind=below", "bind=missing", "ro=1"]);
}

#[test]
fn an_interactive_shell_gets_ctrl_c_and_the_run_ends_with_it() {
    use std::io::Write;
    let _g = privileged();
    let s = Scratch::new("interactive");
    let root = s.busybox_root("root");
    let recipe = concat!(env!("CARGO_MANIFEST_DIR"), "/recipes/tutorial-sandbox.nsr");
    let before = HostState::take();
    let mut child = nsr_on_terminal(&format!("run {recipe} root={root}"));
    let mut input = child.stdin.take().unwrap();
    // Typed as a person would: a long command, Ctrl-C once it runs, then more, then
    // exit. Were the Ctrl-C lost, `sleep 30.3` would outlast the 20 s bound below.
    let mut typed = |keys: &str| {
        input.write_all(keys.as_bytes()).unwrap();
        input.flush().unwrap();
    };
    typed("sleep 30.3\n");
    wait_for_process("sleep 30.3", std::time::Duration::from_secs(15));
    typed("\x03");
    typed("echo still-here\n");
    typed("exit 3\n");
    let r = Run::from(wait_bounded(child, std::time::Duration::from_secs(20)));
    let text = r.stdout.replace('\r', "");
    assert!(
        text.contains("still-here") && text.contains("the shell exited with status 3"),
        "{text}"
    );
    before.assert_unchanged("interactive shell");
}

#[test]
fn explicit_id_maps_and_a_time_namespace() {
    let _g = privileged();
    let s = Scratch::new("maps");
    let root = s.busybox_root("root");
    let r = run_recipe_with(
        &s,
        "m.nsr",
        r#"let box = unshare(#{ kinds: ["user", "mount", "pid", "time"], uid_map: [[0, 0, 1], [1, 100000, 1000]], gid_map: [[0, 0, 1], [1, 100000, 1000]] });
box.chroot(args.root);
box.mount("proc", "/proc", "proc");
print("uid_map=" + out(box.run("cat /proc/self/uid_map | tr -s ' ' | tr '\n' ';'")));
print("id=" + out(box.run("id -u")));
print("time_new=" + (box.namespaces().time != namespaces().time));"#,
        &[&format!("root={root}")],
    );
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &["uid_map=0 0 1; 1 100000 1000;", "id=0", "time_new=true"],
    );
}

#[test]
fn the_sandbox_cannot_read_nsrs_command_line() {
    let _g = privileged();
    let s = Scratch::new("cmdline");
    let r = run_recipe_with(
        &s,
        "c.nsr",
        r#"let box = unshare(["mount", "pid"]);
box.mount("proc", "/proc", "proc");
print("init=" + out(box.run("tr '\\0' ' ' < /proc/1/cmdline")));"#,
        &["secret=hunter2"],
    );
    r.expect_code(0);
    assert_has_all(&r.stdout, &["init=nsr-holder"]);
    assert!(
        !r.stdout.contains("hunter2") && !r.stdout.contains("c.nsr"),
        "{}",
        r.stdout
    );
}

#[test]
fn ctrl_z_does_not_leave_an_attached_command_stopped() {
    use std::io::Write;
    let _g = privileged();
    let s = Scratch::new("ctrlz");
    let file = s.write("z.nsr", "let box = unshare([\"uts\", \"pid\"]);\nprint(\"status=\" + box.exec([\"sleep\", \"1.37\"]));\n");
    let mut child = nsr_on_terminal(&format!("run {file}"));
    let mut input = child.stdin.take().unwrap();
    // Ctrl-Z while the command runs (not before it starts).
    wait_for_process("sleep 1.37", std::time::Duration::from_secs(15));
    input.write_all(b"\x1a").unwrap();
    input.flush().unwrap();
    let r = Run::from(wait_bounded(child, std::time::Duration::from_secs(15)));
    drop(input);
    assert!(
        r.stdout.contains("status=0"),
        "the command was left stopped:\n{}",
        r.stdout
    );
}

#[test]
fn a_time_namespace_takes_monotonic_and_boottime_offsets() {
    let _g = privileged();
    let s = Scratch::new("timens");
    let clocks = "import time; print(time.clock_gettime(time.CLOCK_MONOTONIC), time.clock_gettime(time.CLOCK_BOOTTIME))";
    let r = run_recipe_with(
        &s,
        "t.nsr",
        &format!(
            r#"let box = unshare(#{{ kinds: ["time", "mount", "pid"], monotonic: 86400, boottime: -5 }});
let host = unshare(["uts"]);
let probe = ["/usr/bin/python3", "-c", {clocks:?}];
print("inside " + out(box.run(probe)));
print("host " + out(host.run(probe)));
print("uptime " + out(box.run(["cat", "/proc/uptime"])));"#
        ),
        &[],
    );
    r.expect_code(0);
    let clocks_of = |who: &str| -> Vec<f64> {
        r.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{who} ")))
            .unwrap_or_else(|| panic!("no {who} line:\n{}", r.stdout))
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let (inside, host) = (clocks_of("inside"), clocks_of("host"));
    let monotonic = inside[0] - host[0];
    let boottime = inside[1] - host[1];
    assert!(
        (monotonic - 86400.0).abs() < 5.0,
        "monotonic offset {monotonic}"
    );
    assert!((boottime + 5.0).abs() < 5.0, "boottime offset {boottime}");
    // /proc/uptime inside reads the namespace's boot time.
    let uptime: f64 = clocks_of("uptime")[0];
    assert!(
        (uptime - inside[1]).abs() < 5.0,
        "{uptime} vs {}",
        inside[1]
    );
    // nsr plan writes what unshare(1) takes.
    let file = s.path("t.nsr");
    let plan = nsr(&["plan", &file]);
    plan.expect_code(0);
    assert_has_all(&plan.stdout, &["--monotonic 86400", "--boottime -5"]);
}

#[test]
fn clock_offsets_need_a_time_namespace_and_whole_seconds() {
    let _g = privileged();
    let s = Scratch::new("timens-bad");
    let r = run_recipe(
        &s,
        "a.nsr",
        "unshare(#{ kinds: [\"pid\"], monotonic: 5 });\n",
        &[],
    );
    r.expect_code(1);
    assert_has_all(&r.stderr, &["a.nsr:1:1", "time namespace", "add \"time\""]);
    let r = run_recipe(
        &s,
        "b.nsr",
        "unshare(#{ kinds: [\"time\"], boottime: \"soon\" });\n",
        &[],
    );
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &["b.nsr:1:1", "boottime is a whole number of seconds"],
    );
    let r = run_recipe(
        &s,
        "c.nsr",
        "let b = unshare(#{ kinds: [\"time\"], boottime: -100000000000 });\nb.run([\"true\"]);\n",
        &[],
    );
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &["c.nsr:1:9", "time namespace's offsets", "ERANGE"],
    );
}

/// The undos that act inside a sandbox, seen from inside it while it still runs: each
/// statement is taken back with the REPL's `:undo` and the sandbox is asked again.
#[test]
fn undos_inside_a_running_sandbox_restore_its_hostname_root_and_mounts() {
    let _g = privileged();
    let s = Scratch::new("undoin");
    let root = s.busybox_root("root");
    let before = HostState::take();
    let input = format!(
        r#"fn out(r) {{ let s = r.stdout; s.trim(); s }}
let box = unshare(#{{ kinds: ["mount", "uts", "pid"], privileged: true }});
print("host-name=" + box.hostname());
box.hostname("undo-me");
print("set=" + box.hostname());
:undo
print("back=" + box.hostname());
box.mount("tmpfs", "/mnt", "tmpfs");
print("mounted=" + out(box.run("grep -c ' /mnt ' /proc/self/mountinfo")));
:undo
print("unmounted=" + out(box.run("grep -c ' /mnt ' /proc/self/mountinfo")));
box.chroot("{root}");
print("chrooted=" + out(box.run("cat /etc/marker")));
:undo
print("unchrooted=" + box.run("cat /etc/marker").code);
"#
    );
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(NSR);
    cmd.arg("repl")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = wait_bounded(child, std::time::Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    assert_has_all(
        &stdout,
        &[
            &format!("host-name={host}\n"),
            "set=undo-me\n",
            &format!("back={host}\n"),
            "mounted=1\n",
            "unmounted=0\n",
            "chrooted=inside the test root\n",
            // Back at the old root, the test root's marker is not at /etc/marker.
            "unchrooted=1\n",
        ],
    );
    assert_has_all(
        &stderr,
        &["undid hostname undo-me", "undid mount", "undid chroot"],
    );
    before.assert_unchanged("after undos inside a running sandbox");
}

/// The inode of `/proc/PID/ns/KIND`, read by the test itself (not through nsr).
fn ns_inode(pid: &str, kind: &str) -> String {
    let kind = if kind == "mount" { "mnt" } else { kind };
    let link = std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap();
    let text = link.to_string_lossy().into_owned();
    text.split('[')
        .nth(1)
        .unwrap()
        .trim_end_matches(']')
        .to_string()
}

#[test]
fn box_kinds_and_namespaces_of_a_pid_are_what_proc_shows() {
    use std::io::BufRead;
    let _g = privileged();
    let s = Scratch::new("nsof");
    let gate = s.path("gate");
    let file = s.write(
        "n.nsr",
        r#"let box = unshare(["uts", "ipc", "pid"]);
print("kinds=" + box.kinds);
print("holder=" + box.pid);
let of_pid = namespaces(box.pid);
let own = box.namespaces();
for k in ["uts", "ipc", "pid", "net", "mount"] { print(k + "=" + of_pid[k] + " " + own[k]); }
print("self-net=" + namespaces()["net"]);
print("end");
box.run("while [ ! -e " + args.gate + " ]; do sleep 0.02; done");
"#,
    );
    let (child, first, mut out) = start_nsr(&["run", &file, &format!("gate={gate}")]);
    let mut text = first;
    while !text.ends_with("end\n") {
        let mut l = String::new();
        assert!(out.read_line(&mut l).unwrap() > 0, "{text}");
        text.push_str(&l);
    }
    let value = |key: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in {text}"))
            .to_string()
    };
    assert_eq!(value("kinds"), r#"["uts", "ipc", "pid"]"#);
    let holder = value("holder");
    let me = std::process::id().to_string();
    for kind in ["uts", "ipc", "pid", "net", "mount"] {
        let proc_says = ns_inode(&holder, kind);
        // Both of nsr's answers are what /proc says of the holder ...
        assert_eq!(value(kind), format!("{proc_says} {proc_says}"), "{kind}");
        // ... which is new for the kinds asked and the host's for the others.
        let own = ["uts", "ipc", "pid"].contains(&kind);
        assert_eq!(proc_says != ns_inode(&me, kind), own, "{kind}");
    }
    assert_eq!(value("self-net"), ns_inode(&me, "net"));
    std::fs::write(&gate, "").unwrap();
    Run::from(wait_bounded(child, std::time::Duration::from_secs(20))).expect_code(0);
}

#[test]
fn mount_options_and_the_default_flags_are_what_the_kernel_applies() {
    let _g = privileged();
    let s = Scratch::new("mountopts");
    let root = s.busybox_root("root");
    std::fs::create_dir_all(s.path("root/opt/sub")).unwrap();
    let before = HostState::take();
    let r = run_recipe_with(
        &s,
        "o.nsr",
        r#"let box = unshare(#{ kinds: ["mount", "pid", "ipc"], privileged: true });
box.chroot(args.root);
box.mount("sysfs", "/sys", "sysfs");
box.mount("mqueue", "/dev/mqueue", "mqueue");
box.mount("tmpfs", "/tmp", "tmpfs");
box.mount("tmpfs", "/mnt", "tmpfs", #{ nosuid: true, nodev: true, noexec: true });
box.mount("tmpfs", "/opt/sub", "tmpfs");
box.run("echo deep > /opt/sub/f", #{ check: true });
box.mount("/opt", "/lower", "bind", #{ recursive: true });
box.mount("/opt", "/upper", "bind");
for m in box.mountinfo() { print("mount " + m.target + " " + m.options); }
box.run("mkdir /tmp/x /mnt/x && cp /bin/busybox /tmp/x/ && cp /bin/busybox /mnt/x/", #{ check: true });
print("exec-tmp=" + box.run("/tmp/x/busybox true").code);
print("exec-mnt=" + box.run("/mnt/x/busybox true").code);
print("recursive=" + out(box.run("cat /lower/sub/f")));
print("plain=" + box.run("cat /upper/sub/f").code);"#,
        &[&format!("root={root}")],
    );
    r.expect_code(0);
    let options = |target: &str| -> String {
        r.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("mount {target} ")))
            .unwrap_or_else(|| panic!("no mount at {target}:\n{}", r.stdout))
            .to_string()
    };
    let flags = |target: &str| -> Vec<String> {
        let o = options(target);
        ["nosuid", "nodev", "noexec"]
            .iter()
            .filter(|f| o.split(',').any(|w| w == **f))
            .map(|f| f.to_string())
            .collect()
    };
    // As container runtimes mount them: sysfs and mqueue all three, tmpfs not noexec.
    assert_eq!(flags("/sys"), ["nosuid", "nodev", "noexec"]);
    assert_eq!(flags("/dev/mqueue"), ["nosuid", "nodev", "noexec"]);
    assert_eq!(flags("/tmp"), ["nosuid", "nodev"]);
    assert_eq!(flags("/mnt"), ["nosuid", "nodev", "noexec"]);
    // noexec is enforced, not only listed: 126 is the shell's "cannot execute".
    assert_has_all(
        &r.stdout,
        &["exec-tmp=0", "exec-mnt=126", "recursive=deep", "plain=1"],
    );
    before.assert_unchanged("mount options");
}

#[test]
fn propagation_private_slave_and_unchanged_behave_as_unshare_says() {
    let _g = privileged();
    let s = Scratch::new("propagation");
    let dir = s.path("shared");
    for d in ["from-host", "from-slave", "from-same", "from-private"] {
        std::fs::create_dir_all(format!("{dir}/{d}")).unwrap();
    }
    // A shared mount on the host, as systemd makes / on most machines.
    let sh = |c: &str| {
        let st = std::process::Command::new("sh")
            .args(["-c", c])
            .status()
            .unwrap();
        assert!(st.success(), "{c}");
    };
    s.own_mount(&dir);
    sh(&format!(
        "mount --bind {dir} {dir} && mount --make-shared {dir}"
    ));
    let before = HostState::take();
    let r = run_recipe_with(
        &s,
        "p.nsr",
        r#"let d = args.dir;
let host = unshare(#{ kinds: ["uts"], privileged: true });
let isolated = unshare(["mount"]);
let slave = unshare(#{ kinds: ["mount"], propagation: "slave" });
let same = unshare(#{ kinds: ["mount"], propagation: "unchanged" });
fn seen(box, d, what) { let r = box.run("grep -c ' " + d + "/" + what + " ' /proc/self/mountinfo"); let s = r.stdout; s.trim(); s }
host.mount("tmpfs", d + "/from-host", "tmpfs");
slave.mount("tmpfs", d + "/from-slave", "tmpfs");
same.mount("tmpfs", d + "/from-same", "tmpfs");
isolated.mount("tmpfs", d + "/from-private", "tmpfs");
for who in [["host", host], ["private", isolated], ["slave", slave], ["same", same]] {
    let line = who[0] + ":";
    for what in ["from-host", "from-slave", "from-same", "from-private"] { line += " " + what + "=" + seen(who[1], d, what); }
    print(line);
}"#,
        &[&format!("dir={dir}")],
    );
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            // The host sees only its own and what the unchanged (shared) copy mounted.
            "host: from-host=1 from-slave=0 from-same=1 from-private=0",
            // private: nothing comes in, nothing goes out.
            "private: from-host=0 from-slave=0 from-same=0 from-private=1",
            // slave: the host's come in (and the shared copy's, through the host).
            "slave: from-host=1 from-slave=1 from-same=1 from-private=0",
            "same: from-host=1 from-slave=0 from-same=1 from-private=0",
        ],
    );
    // The mount that propagated to the host went with the run.
    before.assert_unchanged("propagation");
}

#[test]
fn sighup_reaches_the_running_command_and_the_run_ends_with_129() {
    let _g = privileged();
    let s = Scratch::new("sighup");
    let hup = s.path("hup");
    let marker = format!("31.{}", std::process::id());
    let file = s.write(
        "h.nsr",
        r#"let box = unshare(#{ kinds: ["mount", "pid", "uts"] });
box.mount("tmpfs", "/mnt", "tmpfs");
print("ready");
box.run("trap 'echo got-hup > " + args.hup + "; exit 7' HUP; sleep " + args.marker + " & wait");
print("not reached");
"#,
    );
    let before = HostState::take();
    let (child, line, _out) = start_nsr(&[
        "run",
        &file,
        &format!("hup={hup}"),
        &format!("marker={marker}"),
    ]);
    assert_eq!(line.trim(), "ready");
    wait_for_process(
        &format!("sleep {marker}"),
        std::time::Duration::from_secs(15),
    );
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    let r = Run::from(wait_bounded(child, std::time::Duration::from_secs(20)));
    r.expect_code(129);
    assert_has_all(&r.stderr, &["interrupted by SIGHUP", "rollback:"]);
    assert!(!r.stdout.contains("not reached"), "{}", r.stdout);
    assert!(
        processes_with(&marker).is_empty(),
        "the command outlived the run"
    );
    // The command's own trap ran: the signal was passed on, not only acted on by nsr.
    assert_eq!(std::fs::read_to_string(&hup).unwrap(), "got-hup\n");
    before.assert_unchanged("SIGHUP");
}
