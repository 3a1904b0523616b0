//! Resource limits through cgroups: a sandbox with `limits` cannot fork past its pids
//! limit, is OOM-killed past its memory limit, gets its CPU share; each is checked
//! against the same command without the limit (so every test can fail). Limits change
//! at run time and are undone; no cgroup is left after any end of a run (normal, a
//! failure at any step, SIGKILL at any step followed by `nsr down`, 20 runs at once);
//! groups of others are never touched; bad limits are located errors.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const KINDS: &str = "[\"mount\", \"uts\", \"ipc\", \"pid\"]";

/// Runs `body` after `let box = unshare(#{ kinds, limits: LIMITS })`; its output.
fn with_limits(s: &Scratch, limits: &str, body: &str) -> Run {
    let recipe = format!("let box = unshare(#{{ kinds: {KINDS}, limits: {limits} }});\n{body}\n");
    run_recipe(s, "limits.nsr", &recipe, &[])
}

/// The value a recipe printed as `KEY=VALUE`.
fn printed(r: &Run, key: &str) -> i64 {
    r.stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {}", r.stdout))
        .trim()
        .parse()
        .unwrap()
}

const FORK_LOOP: &str = r#"
let r = box.run(["sh", "-c", "for i in $(seq 1 60); do sleep 30 & done"], #{ check: false });
print("code=" + r.code);
let u = box.usage();
print("tasks=" + u.pids_current);
print("hits=" + u.pids_limit_hits);
"#;

#[test]
fn a_fork_loop_cannot_pass_the_pids_limit() {
    let _g = privileged();
    let s = Scratch::new("lim-pids");
    let r = with_limits(&s, "#{ pids: 20 }", FORK_LOOP);
    r.expect_code(0);
    assert_ne!(printed(&r, "code"), 0, "the loop saw its forks fail");
    assert!(printed(&r, "tasks") <= 20, "{}", r.stdout);
    assert!(printed(&r, "hits") >= 1, "{}", r.stdout);
    // The control: the same loop without the limit starts all its 60 sleeps.
    let free = with_limits(&s, "#{}", FORK_LOOP);
    free.expect_code(0);
    assert_eq!(printed(&free, "code"), 0);
    assert!(printed(&free, "tasks") > 60, "{}", free.stdout);
    // A recipe that checks its command hears why it failed.
    let checked = with_limits(
        &s,
        "#{ pids: 20 }",
        r#"box.run(["sh", "-c", "for i in $(seq 1 60); do sleep 30 & done"], #{ check: true });"#,
    );
    checked.expect_code(1);
    assert_has_all(&checked.stderr, &["limits.nsr:2:", "pids limit", "EAGAIN"]);
}

const ALLOCATE: &str = r#"
let r = box.run(["dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"], #{ check: false });
print("code=" + r.code);
print("oom=" + if r.oom_killed { 1 } else { 0 });
print("kills=" + box.usage().oom_kills);
"#;

#[test]
fn a_command_past_its_memory_limit_is_oom_killed_and_the_run_says_so() {
    let _g = privileged();
    let s = Scratch::new("lim-mem");
    let r = with_limits(&s, r#"#{ memory: "64M", memory_swap: "0" }"#, ALLOCATE);
    r.expect_code(0);
    assert_eq!(printed(&r, "code"), 128 + 9, "{}", r.stdout);
    assert_eq!(printed(&r, "oom"), 1);
    assert_eq!(printed(&r, "kills"), 1);
    // The control: room for the 200 MB buffer, and it runs.
    let roomy = with_limits(&s, r#"#{ memory: "400M", memory_swap: "0" }"#, ALLOCATE);
    roomy.expect_code(0);
    assert_eq!(printed(&roomy, "code"), 0, "{}", roomy.stdout);
    assert_eq!(printed(&roomy, "oom"), 0);
    assert_eq!(printed(&roomy, "kills"), 0);
    let checked = with_limits(
        &s,
        r#"#{ memory: "64M", memory_swap: "0" }"#,
        r#"box.run(["dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"], #{ check: true });"#,
    );
    checked.expect_code(1);
    assert_has_all(&checked.stderr, &["signal SIGKILL", "OOM killer"]);
}

/// CPU time a 2-second busy loop got, in thousandths of a core, from the sandbox's
/// own usage counter.
const BUSY: &str = r#"
let before = box.usage().cpu_usec;
box.run(["timeout", "2", "sh", "-c", "while :; do :; done"], #{ check: false });
print("millicores=" + (box.usage().cpu_usec - before) / 2000);
"#;

#[test]
fn a_busy_loop_gets_its_cpu_share() {
    let _g = privileged();
    let s = Scratch::new("lim-cpu");
    let half = printed(&with_limits(&s, "#{ cpu: 0.5 }", BUSY), "millicores");
    assert!(
        (400..=600).contains(&half),
        "cpu: 0.5 used {half}/1000 of a core"
    );
    // The control: unlimited, the loop has a whole core.
    let whole = printed(&with_limits(&s, "#{}", BUSY), "millicores");
    assert!(whole >= 800, "unlimited used {whole}/1000 of a core");
}

/// nsr's cgroup in the v1 hierarchy `controller` (where this test runs, as nsr does).
fn own_v1(controller: &str) -> PathBuf {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let path = own
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, names, path) = (f.next()?, f.next()?, f.next()?);
            names
                .split(',')
                .any(|n| n == controller)
                .then(|| path.to_string())
        })
        .unwrap_or_else(|| panic!("no {controller} hierarchy"));
    Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(path.trim_start_matches('/'))
}

/// The one group of nsr's under `dir`.
fn nsr_group(dir: &Path) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("nsr-"))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

#[test]
fn limits_change_at_run_time_and_undo_puts_back_the_old_ones() {
    let _g = privileged();
    let s = Scratch::new("lim-change");
    let mut p = repl_session(&s, &[]);
    let mut stmt = |text: &str, marker: &str| repl_stmt(&mut p, text, marker);
    stmt(
        &format!("let box = unshare(#{{ kinds: {KINDS}, limits: #{{ pids: 100, memory: \"300M\" }} }}); print(\"b\" + \"ox up\");"),
        "box up",
    );
    // A v1 machine has these groups in v1; where cgroup2 holds them this test says so.
    let pids = nsr_group(&own_v1("pids")).join("pids.max");
    let memory = nsr_group(&own_v1("memory")).join("memory.limit_in_bytes");
    let read = |f: &Path| std::fs::read_to_string(f).unwrap().trim().to_string();
    assert_eq!(read(&pids), "100");
    stmt(
        "box.limits(#{ pids: 5, memory: \"100M\" }); print(\"li\" + \"mited\");",
        "limited",
    );
    assert_eq!(read(&pids), "5");
    assert_eq!(read(&memory), (100u64 << 20).to_string());
    // It takes effect: the sixth task cannot start.
    stmt(
        "print(\"code \" + box.run([\"sh\", \"-c\", \"for i in 1 2 3 4 5 6 7 8; do sleep 9 & done\"], #{ check: false }).code);",
        "code 2",
    );
    stmt(":undo", "undid");
    assert_eq!(read(&pids), "100");
    assert_eq!(read(&memory), (300u64 << 20).to_string());
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
    assert!(
        !pids.parent().unwrap().exists(),
        "the group went with the sandbox"
    );
}

#[test]
fn bad_limits_are_located_errors_and_make_nothing() {
    let _g = privileged();
    let s = Scratch::new("lim-bad");
    for (limits, want) in [
        (
            r#"#{ memory: "lots" }"#,
            "limits.memory: 'lots' is not a size",
        ),
        ("#{ cpu: -1 }", "limits.cpu must be more than 0 cores"),
        ("#{ pids: 0 }", "limits.pids must be at least 1"),
        (
            r#"#{ io: #{ "/dev/nsr-no-such-disk": #{ read_bps: "1M" } } }"#,
            "/dev/nsr-no-such-disk: ENOENT",
        ),
        (
            r#"#{ io: #{ "/dev/null": #{ read_bps: "1M" } } }"#,
            "not a block device",
        ),
        ("#{ swap: 1 }", "unknown limit 'swap'"),
        (r#"#{ memory_swap: "1G" }"#, "memory_swap needs memory"),
    ] {
        let r = with_limits(&s, limits, "print(\"made\");");
        r.expect_code(1);
        assert_has_all(&r.stderr, &["limits.nsr:1:11", "unshare", want]);
        assert!(!r.stdout.contains("made"), "{limits}");
        let at = box_limits_error(&s, limits);
        assert_has_all(&at, &["limits.nsr:2:5", want]);
    }
}

#[test]
fn a_limit_on_a_controller_the_sandbox_has_no_group_for_says_how_to_get_one() {
    let _g = privileged();
    let s = Scratch::new("lim-nogroup");
    let r = with_limits(&s, "#{}", "box.limits(#{ cpu: 0.5 });");
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[
            "limits.nsr:2:5",
            "started without a cpu limit",
            "give unshare a cpu limit",
        ],
    );
}

/// The same bad map given to box.limits at run time.
fn box_limits_error(s: &Scratch, limits: &str) -> String {
    let r = with_limits(s, "#{}", &format!("box.limits({limits});"));
    r.expect_code(1);
    r.stderr
}

/// A recipe of every cgroup step, failing after step `args.fail`.
const STEPS: &str = r#"
let fail = parse_int(args.fail);
let box = unshare(#{ kinds: ["mount", "uts", "ipc", "pid"], limits: #{ memory: "200M", pids: 64, cpu: 1.5 } });
if fail == 1 { throw "failing after step 1"; }
box.run(["sh", "-c", "sleep 60 > /dev/null 2>&1 &"]);
if fail == 2 { throw "failing after step 2"; }
box.limits(#{ pids: 32, cpu: 1 });
if fail == 3 { throw "failing after step 3"; }
let second = unshare(#{ kinds: ["uts"], limits: #{ pids: 16 } });
if fail == 4 { throw "failing after step 4"; }
second.limits(#{ pids: 8 });
if fail == 5 { throw "failing after step 5"; }
print(box.usage().pids_current);
"#;

#[test]
fn no_cgroup_is_left_after_a_failure_at_any_step() {
    let _g = privileged();
    let s = Scratch::new("lim-fail");
    let before = HostState::take();
    for k in 1..=6 {
        let r = run_recipe(&s, "steps.nsr", STEPS, &[&format!("fail={k}")]);
        if k == 6 {
            r.expect_code(0);
        } else {
            r.expect_code(1);
            assert!(
                r.stderr.contains(&format!("failing after step {k}")),
                "{}",
                r.stderr
            );
        }
        before.assert_unchanged(&format!("after a failure after step {k}"));
    }
}

#[test]
fn sigkill_at_any_step_then_nsr_down_leaves_no_cgroup() {
    let _g = privileged();
    let s = Scratch::new("lim-crash");
    let sp = short_prefix();
    let file = s.write("steps.nsr", STEPS);
    let before = HostState::take();
    let mut k = 1;
    loop {
        let name = format!("{sp}-l{k}");
        let mut cmd = Command::new(NSR);
        cmd.args(["run", "--name", &name, &file, "fail=0"])
            .env("NSR_CRASH_AFTER", k.to_string());
        let r = run_command(cmd);
        if r.code == 0 {
            // Two sandboxes and two changes of limits (a run makes nothing).
            assert_eq!(k, 5, "actions counted");
            break;
        }
        assert_eq!(r.code, 128 + 9, "crash after action {k}: {}", r.stderr);
        let down = nsr(&["down", &name]);
        down.expect_code(0);
        assert!(!down.stderr.contains("check by hand"), "{}", down.stderr);
        before.assert_unchanged(&format!("SIGKILL after action {k}, then nsr down"));
        k += 1;
    }
}

#[test]
fn twenty_runs_at_once_leave_no_cgroup() {
    let _g = privileged();
    let s = Scratch::new("lim-many");
    let file = s.write(
        "one.nsr",
        &format!(
            "let box = unshare(#{{ kinds: {KINDS}, limits: #{{ memory: \"64M\", pids: 16, cpu: 0.2 }} }});\nbox.run([\"sh\", \"-c\", \"sleep 0.2 & sleep 0.2 & wait\"]);\nprint(box.usage().pids_current);\n"
        ),
    );
    let before = HostState::take();
    let children: Vec<_> = (0..20)
        .map(|_| {
            let child = Command::new(NSR)
                .args(["run", &file])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            started(&child);
            child
        })
        .collect();
    for child in children {
        let out = wait_bounded(child, std::time::Duration::from_secs(60));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    before.assert_unchanged("after 20 runs with limits at once");
}

#[test]
fn groups_of_others_beside_nsrs_are_never_touched() {
    let _g = privileged();
    let s = Scratch::new("lim-others");
    let sp = short_prefix();
    let dirs: Vec<PathBuf> = [
        own_v1("pids"),
        own_v1("memory"),
        PathBuf::from(cgroup2_mount()),
    ]
    .iter()
    .flat_map(|top| [top.join(format!("{sp}-other")), top.join("nsr-web")])
    .collect();
    for d in &dirs {
        std::fs::create_dir(d).unwrap();
    }
    // A process of theirs in one of them.
    let mut theirs = Command::new("sleep").arg("60").spawn().unwrap();
    started(&theirs);
    std::fs::write(dirs[1].join("cgroup.procs"), theirs.id().to_string()).unwrap();
    // A run of nsr's that crashes, then gc and down --all, which take nsr's own.
    let file = s.write("steps.nsr", STEPS);
    let mut cmd = Command::new(NSR);
    cmd.args(["run", "--name", &format!("{sp}-o"), &file, "fail=0"])
        .env("NSR_CRASH_AFTER", "1");
    assert_eq!(run_command(cmd).code, 137);
    nsr(&["gc"]).expect_code(0);
    nsr(&["down", "--all"]).expect_code(0);
    for d in &dirs {
        assert!(d.is_dir(), "{} was removed", d.display());
    }
    assert!(
        theirs.try_wait().unwrap().is_none(),
        "their process was killed"
    );
    theirs.kill().unwrap();
    theirs.wait().unwrap();
    for d in &dirs {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::remove_dir(d).is_err() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

#[test]
fn doctor_says_where_each_controller_is_on_this_machine() {
    let _g = serial();
    let r = nsr(&["doctor"]);
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("resource limits"))
        .unwrap_or_else(|| panic!("{}", r.stdout))
        .to_string();
    // Read here from the kernel's own files: cgroup2 holds a controller when nsr's
    // cgroup passes it on to children, else a v1 hierarchy of it does.
    let unified = cgroup2_mount();
    let enabled = std::fs::read_to_string(Path::new(&unified).join("cgroup.subtree_control"))
        .unwrap_or_default();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for (name, v1) in [
        ("memory", "memory"),
        ("pids", "pids"),
        ("cpu", "cpu"),
        ("io", "blkio"),
    ] {
        let want = if enabled.split_whitespace().any(|c| c == name) {
            format!("{name} v2")
        } else if mounts.lines().any(|l| {
            l.contains(" - cgroup ")
                && l.split(' ')
                    .next_back()
                    .unwrap()
                    .split(',')
                    .any(|o| o == v1)
        }) {
            format!("{name} v1")
        } else {
            format!("no {name}")
        };
        assert!(line.contains(&want), "{want} in {line}");
    }
}

#[test]
fn a_daemon_started_by_nsr_enter_goes_with_the_sandboxs_cgroup() {
    let _g = privileged();
    let s = Scratch::new("lim-daemon");
    let state = private_state(&s);
    let seen = s.path("cgroup-of-daemon");
    let recipe = s.write(
        "keep.nsr",
        "let box = unshare(#{ kinds: [\"uts\"], privileged: true });\n",
    );
    let nsr_in = |args: &[&str]| {
        let mut cmd = Command::new(NSR);
        cmd.args(args).env("NSR_STATE_DIR", &state);
        run_command(cmd)
    };
    nsr_in(&["run", "--keep", "--name", "daemon", &recipe]).expect_code(0);
    // No pid namespace: what `nsr enter` starts is not below the holder, and a new
    // session of its own leaves the enter's tree too. Only the sandbox's cgroup2 group,
    // which enter joined, ties it to the sandbox.
    let daemon = format!(
        "setsid sh -c 'cat /proc/self/cgroup > {seen}; exec sleep 3737' < /dev/null > /dev/null 2>&1 & while [ ! -s {seen} ]; do sleep 0.01; done"
    );
    nsr_in(&["enter", "daemon", "--", "sh", "-c", &daemon]).expect_code(0);
    let cgroup = std::fs::read_to_string(&seen).unwrap();
    assert!(
        cgroup.lines().any(|l| l.starts_with("0::/nsr-")),
        "the daemon is in the sandbox's cgroup2 group: {cgroup}"
    );
    assert!(!processes_with("3737").is_empty(), "the daemon runs");
    // nsr ls shows what the kept sandbox's cgroup counted, the daemon among its tasks.
    let ls = nsr_in(&["ls"]);
    assert!(
        ls.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("sandbox ") && l.contains(" tasks, cpu ")),
        "{}",
        ls.stdout
    );
    nsr_in(&["down", "daemon"]).expect_code(0);
    wait_until_gone("3737", std::time::Duration::from_secs(5));
    assert!(processes_with("3737").is_empty());
}

#[test]
fn an_ordinary_user_without_a_delegated_cgroup_hears_what_limits_need() {
    let _g = privileged();
    let s = Scratch::new("lim-rootless");
    let recipe = s.write(
        "r.nsr",
        "let box = unshare(#{ kinds: [\"user\", \"mount\"], map_root: true, limits: #{ memory: \"64M\" } });\nprint(\"made\");\n",
    );
    let mut cmd = nsr_as_nobody(&s);
    cmd.args(["run", &recipe]);
    let r = run_command(cmd);
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[
            "r.nsr:1:11",
            "cannot make memory cgroups",
            "EACCES",
            "delegated",
        ],
    );
    assert!(!r.stdout.contains("made"));
    // Without limits the same user's sandbox starts (it gets no group it may not make).
    let plain = s.write(
        "plain.nsr",
        "let box = unshare(#{ kinds: [\"user\", \"mount\"], map_root: true });\nprint(box.run([\"true\"]).code);\n",
    );
    let mut cmd = nsr_as_nobody(&s);
    cmd.args(["run", &plain]);
    let r = run_command(cmd);
    r.expect_code(0);
    assert_eq!(r.stdout.trim(), "0");
}

#[test]
fn the_plans_script_makes_limits_and_takes_them_back() {
    let _g = privileged();
    let s = Scratch::new("lim-plan");
    let recipe = s.write(
        "p.nsr",
        "let box = unshare(#{ kinds: [\"uts\"], limits: #{ memory: \"64M\", pids: 50 } });\nbox.limits(#{ pids: 20 });\n",
    );
    let plan = nsr(&["plan", "--format", "shell", &recipe]);
    plan.expect_code(0);
    assert_has_all(
        &plan.stdout,
        &[
            "mkdir ",
            "echo 50 > ",
            "/pids.max",
            "cgroup.procs",
            "echo 20 > ",
            "rmdir",
        ],
    );
    let script = s.write("p.sh", &plan.stdout);
    let out = Command::new("sh").arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn gc_removes_the_groups_of_a_run_that_is_gone_and_ends_what_is_in_them() {
    let _g = privileged();
    // A pid no process has now: the maker of the orphans.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    let name = format!("nsr-{dead}-0000abcd-0");
    let orphans = [
        own_v1("pids").join(&name),
        PathBuf::from(cgroup2_mount()).join(&name),
    ];
    for d in &orphans {
        std::fs::create_dir(d).unwrap();
    }
    // What its run left running in its v1 group (no cgroup.kill there).
    let mut left = Command::new("sleep").arg("3738").spawn().unwrap();
    started(&left);
    std::fs::write(orphans[0].join("cgroup.procs"), left.id().to_string()).unwrap();
    let listed = nsr(&["gc"]);
    for d in &orphans {
        assert!(
            listed.stdout.contains(&format!("cgroup {}", d.display())),
            "{}",
            listed.stdout
        );
    }
    let applied = nsr(&["gc", "--apply"]);
    applied.expect_code(0);
    for d in &orphans {
        assert!(!d.exists(), "{} is left: {}", d.display(), applied.stderr);
    }
    let status = left.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
}

#[test]
fn memory_raised_and_lowered_at_run_time_keeps_its_swap_allowance() {
    let _g = privileged();
    let s = Scratch::new("lim-memsw");
    // v1 refuses a memory limit above memsw (memory and swap together): raising memory
    // raises memsw first, so `memory_swap: "0"` stays no swap at every size.
    let r = with_limits(
        &s,
        r#"#{ memory: "64M", memory_swap: "0" }"#,
        r#"
box.limits(#{ memory: "300M" });
let big = box.run(["dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"], #{ check: false });
print("raised=" + big.code);
box.limits(#{ memory: "32M" });
let small = box.run(["dd", "if=/dev/zero", "of=/dev/null", "bs=50M", "count=1"], #{ check: false });
print("lowered=" + if small.oom_killed { 1 } else { 0 });
"#,
    );
    r.expect_code(0);
    assert_eq!(printed(&r, "raised"), 0, "{}", r.stdout);
    assert_eq!(printed(&r, "lowered"), 1, "{}", r.stdout);
}

/// Reads 8 MiB of a file on the root filesystem's disk with O_DIRECT (no page cache),
/// timed by the recipe.
const READ_DIRECT: &str = r#"
let t = timestamp();
box.run(["dd", "if=" + args.file, "of=/dev/null", "bs=1M", "count=8", "iflag=direct"], #{ check: true });
print("ms=" + (t.elapsed * 1000.0).to_int());
"#;

#[test]
fn reads_from_a_throttled_disk_take_as_long_as_the_limit_says() {
    let _g = privileged();
    let s = Scratch::new("lim-io");
    // The disk under the scratch directory (the test machine's root disk), by number.
    let disk = Command::new("findmnt")
        .args(["-no", "SOURCE", "-T", s.dir.to_str().unwrap()])
        .output()
        .unwrap();
    let disk = String::from_utf8_lossy(&disk.stdout).trim().to_string();
    assert!(
        disk.starts_with("/dev/"),
        "the scratch directory is on a disk: {disk}"
    );
    let file = s.path("data");
    let made = Command::new("dd")
        .args([
            "if=/dev/urandom",
            &format!("of={file}"),
            "bs=1M",
            "count=8",
            "oflag=direct",
        ])
        .output()
        .unwrap();
    assert!(made.status.success());
    let run = |limits: &str| {
        let recipe =
            format!("let box = unshare(#{{ kinds: {KINDS}, limits: {limits} }});\n{READ_DIRECT}");
        let r = run_recipe(&s, "io.nsr", &recipe, &[&format!("file={file}")]);
        r.expect_code(0);
        printed(&r, "ms")
    };
    // 8 MiB at 4 MiB/s: 2 s (the first MiB or so may pass at once: the throttle's slice).
    let throttled = run(&format!(
        "#{{ io: #{{ \"{disk}\": #{{ read_bps: \"4M\" }} }} }}"
    ));
    let free = run("#{}");
    assert!(throttled >= 1500, "throttled read took {throttled} ms");
    assert!(free < 1000, "the control took {free} ms");
}

#[test]
fn a_confined_command_cannot_write_itself_out_of_its_limits() {
    let _g = privileged();
    let s = Scratch::new("lim-escape");
    // The attack: move to the top of the pids and cgroup2 hierarchies (the host's /sys
    // is in the sandbox's view), then fork past the limit. v1 checks no cgroup
    // namespace on such a write: only the confined view's read-only /sys stops it.
    let attack = format!(
        "echo $$ > /sys/fs/cgroup/pids/cgroup.procs; echo $$ > {}/cgroup.procs; for i in $(seq 1 60); do sleep 2 & done; echo all started",
        cgroup2_mount()
    );
    let recipe = s.write(
        "escape.nsr",
        &format!(
            "let confined = unshare(#{{ kinds: {KINDS}, limits: #{{ pids: 20 }} }});\n\
             let privileged = unshare(#{{ kinds: {KINDS}, limits: #{{ pids: 20 }}, privileged: true }});\n\
             let a = confined.run([\"sh\", \"-c\", args.attack], #{{ check: false }});\n\
             let b = privileged.run([\"sh\", \"-c\", args.attack], #{{ check: false }});\n\
             print(\"CONFINED \" + a.stdout + a.stderr);\n\
             print(\"PRIVILEGED \" + b.stdout + b.stderr);\n"
        ),
    );
    let r = nsr(&["run", &recipe, &format!("attack={attack}")]);
    r.expect_code(0);
    let confined = r.stdout.split("PRIVILEGED ").next().unwrap();
    let privileged = r.stdout.split("PRIVILEGED ").nth(1).unwrap();
    assert_has_all(confined, &["Read-only file system", "Cannot fork"]);
    assert!(!confined.contains("all started"), "{confined}");
    // The control: with privileged: true the same command leaves its groups and forks.
    assert!(privileged.contains("all started"), "{privileged}");
}
