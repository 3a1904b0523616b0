//! Environments: every run's journal on disk, so that `nsr down` takes back what a run
//! killed with SIGKILL made, at any step; `nsr ls`; names used once at a time; many
//! environments in parallel; a damaged journal.

mod common;
use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Every kind of thing a run can make; after step K it says so and waits to be killed.
const EVERY_KIND: &str = r#"
let hold = unshare(["uts"]);
fn wait_here(hold, n, k, gate) {
    if n == k {
        print("step " + n);
        hold.run("while [ ! -e " + gate + " ]; do sleep 0.02; done");
    }
    n + 1
}
let k = parse_int(args.k);
let p = args.p;
let n = 1;
let net = netns(p + "k"); n = wait_here(hold, n, k, args.gate);
let l = veth(p + "kv", "eth0", net); n = wait_here(hold, n, k, args.gate);
l.host.addr("10.98.0.1/24").up(); n = wait_here(hold, n, k, args.gate);
net.addr("eth0", "10.98.0.2/24"); net.up("eth0"); n = wait_here(hold, n, k, args.gate);
route("10.99.7.0/24", "10.98.0.2"); n = wait_here(hold, n, k, args.gate);
net.ip_forward(true); n = wait_here(hold, n, k, args.gate);
net.masquerade("10.98.0.0/24", "eth0"); n = wait_here(hold, n, k, args.gate);
let root = rootfs_from_tar(args.tar, args.dir + "/root"); n = wait_here(hold, n, k, args.gate);
let made = make_dir(args.dir + "/made/deep"); n = wait_here(hold, n, k, args.gate);
hold.mount("tmpfs", made, "tmpfs"); n = wait_here(hold, n, k, args.gate);
let ov = overlay_root(root, args.dir + "/ov"); n = wait_here(hold, n, k, args.gate);
let box = unshare(#{ kinds: ["mount", "pid", "net"] }); n = wait_here(hold, n, k, args.gate);
let b = bridge(p + "kb"); n = wait_here(hold, n, k, args.gate);
"#;
const STEPS: usize = 13;

/// `nsr run` of EVERY_KIND as environment `name`, once it has said it reached step `k`.
fn start_at_step(name: &str, file: &str, k: usize, tar: &str, s: &Scratch) -> std::process::Child {
    let (child, line) = start(&[
        "run".into(),
        "--name".into(),
        name.into(),
        file.into(),
        format!("k={k}"),
        format!("p={}", short_prefix()),
        format!("tar={tar}"),
        format!("dir={}", s.dir.display()),
        format!("gate={}", s.path("gate-never")),
    ]);
    assert_eq!(line.trim(), format!("step {k}"));
    child
}

/// Environment `name` as `nsr ls --json` shows it.
fn listed(name: &str) -> serde_json::Value {
    let ls = nsr(&["ls", "--json"]);
    let envs: serde_json::Value = serde_json::from_str(&ls.stdout).unwrap();
    envs.as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .expect("listed")
        .clone()
}

fn start(args: &[String]) -> (std::process::Child, String) {
    let (child, line, _) = start_nsr(args);
    (child, line)
}

#[test]
fn after_sigkill_at_any_step_nsr_down_leaves_the_host_as_it_was() {
    let _g = privileged();
    let s = Scratch::new("kill9");
    let (tar, _) = busybox_archives(&s);
    let file = s.write("every.nsr", EVERY_KIND);
    let before = HostState::take();
    for k in 1..=STEPS {
        let name = format!("{}-k{k}", short_prefix());
        let mut child = start_at_step(&name, &file, k, &tar, &s);
        kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
        let _ = child.wait();
        let ls = nsr(&["ls"]);
        assert!(
            ls.stdout.contains(&name) && ls.stdout.contains("LEFT OVER"),
            "{}",
            ls.stdout
        );
        let r = nsr(&["down", &name]);
        r.expect_code(0);
        assert!(
            r.stderr.contains(&format!("environment {name} is down")),
            "{}",
            r.stderr
        );
        before.assert_unchanged(&format!("SIGKILL after step {k}, then nsr down"));
        for leftover in ["root", "made", "ov", ".ov.nsr-overlay"] {
            assert!(
                !s.dir.join(leftover).exists(),
                "step {k}: {leftover} is left"
            );
        }
    }
}

/// Every kind of action a run can take, including the ones that change a namespace nsr
/// did not make (a link moved into it, a route through its device, its forwarding
/// sysctl, a NAT table) and the host's own mount table; no pauses: it is cut short by
/// `NSR_CRASH_AFTER`.
const EVERY_ACTION: &str = r#"
let p = args.p;
let f = netns_open(args.f);
let net = netns(p + "c");
let l = veth(p + "cv", "eth0", net);
l.host.addr("10.98.1.1/24").up();
net.addr("eth0", "10.98.1.2/24");
net.up("eth0");
route("10.99.8.0/24", "10.98.1.2");
net.ip_forward(true);
net.masquerade("10.98.1.0/24", "eth0");
net.vxlan(p + "cx", #{ id: 77, remote: "10.98.1.1", dev: "eth0" });
vxlan(p + "hx", #{ id: 78, remote: "10.98.1.2", dev: p + "cv" });
let m = veth(p + "cm", p + "cn");
m.peer.move_to(f);
f.addr(p + "cn", "10.54.1.1/24");
f.up(p + "cn");
f.route("10.55.1.0/24", "10.54.0.2");
f.ip_forward(true);
f.masquerade("10.54.0.0/24", "d0");
f.port_forward(#{ port: 8080, to: "10.54.0.9", to_port: 80 });
let hold = unshare(["uts"]);
let root = rootfs_from_tar(args.tar, args.dir + "/root");
let made = make_dir(args.dir + "/made/deep");
hold.mount("tmpfs", made, "tmpfs");
let ov = overlay_root(root, args.dir + "/ov");
let cached = rootfs_cache(args.tar);
let img = rootfs_from_image(args.image, args.dir + "/img");
let b = bridge(p + "cb");
b.up();
let box = unshare(#{ kinds: ["mount", "uts", "pid", "net"] });
box.hostname("crashbox");
box.mount("tmpfs", "/mnt", "tmpfs");
box.chroot(root);
let user = unshare(#{ kinds: ["user", "mount"], map_root: true });
user.rootfs_from_tar(args.tar, args.dir + "/uroot");
print("all done");
"#;

/// A busybox archive and a `docker save` archive of it, for the recipes above.
fn busybox_archives(s: &Scratch) -> (String, String) {
    let tar = s.path("bb.tar");
    let ok = Command::new("tar")
        .args(["-C", "/", "-cf", &tar, "bin/busybox"])
        .status()
        .unwrap()
        .success()
        || Command::new("tar")
            .args(["-C", "/", "-cf", &tar, "usr/bin/busybox"])
            .status()
            .unwrap()
            .success();
    assert!(ok);
    let image = s.docker_save(&tar);
    (tar, image)
}

#[test]
fn a_crash_inside_any_action_is_taken_back_by_nsr_down() {
    let _g = privileged();
    let s = Scratch::new("crash");
    let sp = short_prefix();
    let (tar, image) = busybox_archives(&s);
    let foreign = ForeignNetns::new(&format!("{sp}f"));
    // No IPv6 link-local addresses still being checked (DAD) when the state is taken.
    foreign.sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 && ip link add d0 type veth peer name d1 && ip addr add 10.54.0.1/24 dev d0 && ip link set d0 up && ip link set d1 up && ip link set lo up");
    let file = s.write("every-action.nsr", EVERY_ACTION);
    let cache = s.path("cache");
    let before = HostState::take();
    let foreign_before = foreign.state();
    let run = |k: u32| {
        let mut cmd = Command::new(NSR);
        cmd.args(["run", "--name", &format!("{sp}-c{k}"), &file])
            .arg(format!("p={sp}"))
            .arg(format!("f={}", foreign.name))
            .arg(format!("tar={tar}"))
            .arg(format!("image={image}"))
            .arg(format!("dir={}", s.dir.display()))
            .env("NSR_CACHE_DIR", &cache)
            .env("NSR_CRASH_AFTER", k.to_string());
        run_command(cmd)
    };
    let mut k = 1;
    loop {
        let r = run(k);
        if r.code == 0 {
            // Past the last action: the run ended by itself and took everything back.
            assert_eq!(r.stdout.trim(), "all done");
            assert!(k > 30, "only {k} actions were counted");
            break;
        }
        assert_eq!(r.code, 128 + 9, "crash after action {k}: {}", r.stderr);
        let name = format!("{sp}-c{k}");
        assert!(
            nsr(&["ls"]).stdout.contains(&name),
            "crash after action {k}: listed"
        );
        let down = nsr(&["down", &name]);
        down.expect_code(0);
        assert!(
            !down.stderr.contains("check by hand"),
            "crash after action {k}: {}",
            down.stderr
        );
        before.assert_unchanged(&format!("crash after action {k}, then nsr down"));
        assert_eq!(
            foreign.state(),
            foreign_before,
            "crash after action {k}: the foreign namespace changed"
        );
        for leftover in ["root", "made", "ov", ".ov.nsr-overlay", "img", "uroot"] {
            assert!(
                !s.dir.join(leftover).exists(),
                "crash after action {k}: {leftover} is left"
            );
        }
        let partials: Vec<_> = std::fs::read_dir(&cache)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        assert!(partials.is_empty(), "crash after action {k}: {partials:?}");
        k += 1;
    }
}

#[test]
fn sigint_or_sigterm_at_any_step_rolls_back_without_down() {
    let _g = privileged();
    let s = Scratch::new("sigstep");
    let (tar, _) = busybox_archives(&s);
    let file = s.write("every.nsr", EVERY_KIND);
    let before = HostState::take();
    for k in 1..=STEPS {
        for (signal, code) in [(Signal::SIGINT, 130), (Signal::SIGTERM, 143)] {
            let name = format!("{}-s{k}", short_prefix());
            let child = start_at_step(&name, &file, k, &tar, &s);
            kill(Pid::from_raw(child.id() as i32), signal).unwrap();
            let r = Run::from(wait_bounded(child, Duration::from_secs(20)));
            r.expect_code(code);
            assert!(
                !nsr(&["ls"]).stdout.contains(&name),
                "{signal} after step {k}: the environment is gone"
            );
            before.assert_unchanged(&format!("{signal} after step {k}"));
        }
    }
}

#[test]
fn a_running_environment_is_listed_kept_from_down_and_its_name_is_taken() {
    let _g = privileged();
    let s = Scratch::new("envlive");
    let gate = s.path("gate");
    let file = s.write("live.nsr", "let n = netns(args.p + \"live\");\nlet h = unshare([\"uts\"]);\nprint(\"up\");\nh.run(\"while [ ! -e \" + args.gate + \" ]; do sleep 0.02; done\");\n");
    let name = format!("{}-live", short_prefix());
    let before = HostState::take();
    let (child, line) = start(&[
        "run".into(),
        "--name".into(),
        name.clone(),
        file.clone(),
        format!("p={}", short_prefix()),
        format!("gate={gate}"),
    ]);
    assert_eq!(line.trim(), "up");
    let me = listed(&name);
    assert_eq!(me["running"], true);
    assert_eq!(me["resources"], 2);
    let r = nsr(&["down", &name]);
    r.expect_code(1);
    assert_has_all(&r.stderr, &["is in use", "EBUSY"]);
    let r = nsr(&["run", "--name", &name, &file, "p=x", "gate=y"]);
    r.expect_code(2);
    assert_has_all(&r.stderr, &[&format!("environment '{name}' is in use")]);
    std::fs::write(&gate, "").unwrap();
    let out = wait_bounded(child, Duration::from_secs(20));
    assert!(out.status.success());
    assert!(
        !nsr(&["ls"]).stdout.contains(&name),
        "a clean end removes the environment"
    );
    before.assert_unchanged("after a listed run");
}

#[test]
fn a_run_writes_its_journal_from_its_first_action_on() {
    let _g = privileged();
    let s = Scratch::new("envlazy");
    let gate = s.path("gate");
    // Half a second of work that makes nothing, then a sandbox that waits for the gate.
    let file = s.write(
        "lazy.nsr",
        "print(\"thinking\");\nlet t = timestamp();\nwhile t.elapsed < 0.5 {}\nlet h = unshare([\"uts\"]);\nprint(\"made\");\nh.run(\"while [ ! -e \" + args.gate + \" ]; do sleep 0.02; done\");\n",
    );
    let journals = || -> Vec<String> {
        let dir = std::env::var("NSR_STATE_DIR").unwrap();
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("lazy-"))
            .collect()
    };
    let (child, line, mut out) = start_nsr(&["run".to_string(), file, format!("gate={gate}")]);
    assert_eq!(line.trim(), "thinking");
    assert!(
        journals().is_empty(),
        "no journal before the first action: {:?}",
        journals()
    );
    let mut next = String::new();
    std::io::BufRead::read_line(&mut out, &mut next).unwrap();
    assert_eq!(next.trim(), "made");
    assert_eq!(journals().len(), 1, "the sandbox is journaled");
    std::fs::write(&gate, "").unwrap();
    let done = wait_bounded(child, Duration::from_secs(20));
    assert!(done.status.success());
    assert!(journals().is_empty(), "a clean end removes it");
}

#[test]
fn many_environments_run_in_parallel_without_cross_talk() {
    let _g = privileged();
    let s = Scratch::new("parallel");
    let file = s.write("par.nsr", "let n = netns(args.p);\nlet l = veth(args.p + \"v\", \"eth0\", n);\nl.host.addr(args.ip + \".1/30\").up();\nn.addr(\"eth0\", args.ip + \".2/30\"); n.up(\"eth0\");\nlet b = unshare(#{ kinds: [\"mount\", \"pid\"], net: n });\nb.run(\"busybox ping -q -c 3 -i 0.2 -W 2 \" + args.ip + \".1\", #{ check: true });\nprint(\"ok \" + args.p);\n");
    let before = HostState::take();
    let children: Vec<_> = (0..20)
        .map(|i| {
            Command::new(NSR)
                .args([
                    "run",
                    "--name",
                    &format!("{}-par{i}", short_prefix()),
                    &file,
                ])
                .arg(format!("p={}p{i}", short_prefix()))
                .arg(format!("ip=10.97.{i}"))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let r = Run::from(wait_bounded(c, Duration::from_secs(60)));
        r.expect_code(0);
        assert_eq!(r.stdout.trim(), format!("ok {}p{i}", short_prefix()));
    }
    assert!(!nsr(&["ls"]).stdout.contains("-par"));
    before.assert_unchanged("after 20 environments in parallel");
}

#[test]
fn a_damaged_journal_is_named_and_its_readable_part_undone() {
    let _g = privileged();
    let s = Scratch::new("damaged");
    let file = s.write("d.nsr", "let n = netns(args.p + \"d\");\nlet h = unshare([\"uts\"]);\nprint(\"made\");\nh.run(\"sleep 30\");\n");
    let name = format!("{}-dmg", short_prefix());
    let before = HostState::take();
    let (mut child, line) = start(&[
        "run".into(),
        "--name".into(),
        name.clone(),
        file,
        format!("p={}", short_prefix()),
    ]);
    assert_eq!(line.trim(), "made");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    let _ = child.wait();
    // Someone removed the netns by hand meanwhile: its undo is not an error.
    let ok = Command::new("ip")
        .args(["netns", "del", &format!("{}d", short_prefix())])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let state = std::env::var("NSR_STATE_DIR").unwrap();
    let journal = format!("{state}/{name}/journal.jsonl");
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text.push_str("{\"t\":\"done\",\"seq\":99,\"what\":\"cut sh");
    std::fs::write(&journal, text).unwrap();
    let r = nsr(&["down", &name]);
    r.expect_code(0);
    assert_has_all(
        &r.stderr,
        &[
            &format!("{journal}:"),
            "unreadable record",
            &format!("netns {}d was already gone", short_prefix()),
            "is down",
        ],
    );
    before.assert_unchanged("after down of a damaged journal");
}

#[test]
fn a_kept_environment_is_entered_and_taken_down() {
    let _g = privileged();
    let s = Scratch::new("keep");
    let sp = short_prefix();
    let file = s.write(
        "keep.nsr",
        "let n = netns(args.p + \"keep\");\nlet box = unshare(#{ kinds: [\"mount\", \"uts\", \"pid\"], net: n });\nbox.hostname(\"kept-box\");\nbox.mount(\"tmpfs\", \"/mnt\", \"tmpfs\");\nbox.run(\"echo kept-data > /mnt/f\", #{ check: true });\nlet other = unshare([\"uts\"]);\nother.hostname(\"second\");\n",
    );
    let name = format!("{sp}-kept");
    let before = HostState::take();
    let r = nsr(&["run", "--keep", "--name", &name, &file, &format!("p={sp}")]);
    r.expect_code(0);
    assert_has_all(
        &r.stderr,
        &[
            &format!("environment {name} is kept"),
            &format!("nsr enter {name}"),
        ],
    );
    // It outlives the run that made it.
    let me = listed(&name);
    assert_eq!(me["kept"], true);
    assert_eq!(me["running"], false);
    assert_eq!(me["alive_sandboxes"].as_array().unwrap().len(), 2);
    let r = nsr(&[
        "enter",
        &name,
        "1",
        "--",
        "sh",
        "-c",
        "hostname; cat /mnt/f; echo pid $$; ip -o link | wc -l",
    ]);
    r.expect_code(0);
    assert_eq!(r.stdout, "kept-box\nkept-data\npid 3\n1\n");
    let r = nsr(&["enter", &name, "--", "hostname"]);
    assert_eq!(r.stdout.trim(), "second", "the last sandbox by default");
    let r = nsr(&["enter", &name, "--", "sh", "-c", "exit 7"]);
    r.expect_code(7);
    let r = nsr(&["enter", &name, "9"]);
    r.expect_code(1);
    assert_has_all(&r.stderr, &["has sandboxes 1 to 2"]);
    let r = nsr(&["down", &name]);
    r.expect_code(0);
    assert_has_all(&r.stderr, &[&format!("undid netns {sp}keep"), "is down"]);
    before.assert_unchanged("after keep, enter and down");
    let r = nsr(&["enter", &name]);
    r.expect_code(1);
    assert_has_all(&r.stderr, &["there is no environment"]);
    let r = nsr(&["down", &name]);
    r.expect_code(1);
    assert_has_all(&r.stderr, &["there is no environment", "ENOENT", "nsr ls"]);
    let r = nsr(&["run", "--name", "no/such name", &file]);
    r.expect_code(2);
    assert_has_all(&r.stderr, &["is not an environment name"]);
}

/// The gc scenario, run by `sh` inside a bubble of the test's own (below): a run killed
/// with SIGKILL, a kept environment, a kept sandbox whose journal is lost, a foreign
/// cgroup beside nsr's; then `gc`, `gc --apply`, `down` of the kept one, `gc` again.
const GC_SCENARIO: &str = r#"
set -u
cg=$BUBBLE
mkdir "$cg" && echo $$ > "$cg/cgroup.procs" || exit 90
echo "bubble: $cg"
ip link set lo up
holders() { grep -lx nsr-holder /proc/[0-9]*/comm 2>/dev/null | wc -l; }
"$NSR" run --name "$P-gc" "$DIR/gc.nsr" p="$P" lower="$DIR/lower" ov="$DIR/ov" > "$DIR/made.out" 2>&1 &
child=$!
until grep -q made "$DIR/made.out"; do sleep 0.02; done
kill -9 $child; wait $child
echo "killed: $child"
"$NSR" run -q --keep --name "$P-gck" "$DIR/kept.nsr" p="$P" || exit 91
"$NSR" run -q --keep --name "$P-lost" "$DIR/lost.nsr" || exit 92
# The journals are lost: only nsr's marks can tell what is its own.
rm -r "$NSR_STATE_DIR/$P-gc" "$NSR_STATE_DIR/$P-lost"
mkdir "$cg/$P-not-nsrs"
echo "holders before: $(holders)"
echo "== gc"; "$NSR" gc
echo "== apply"; "$NSR" gc --apply
echo "holders after: $(holders)"
"$NSR" down -q "$P-gck" || exit 93
echo "== again"; "$NSR" gc
echo "foreign kept: $(test -d "$cg/$P-not-nsrs" && echo yes)"
rmdir "$cg/$P-not-nsrs"
"#;

#[test]
fn gc_finds_what_nsr_left_without_a_journal_and_removes_it() {
    let _g = privileged();
    let s = Scratch::new("gc");
    let sp = short_prefix();
    s.write(
        "gc.nsr",
        "let pair = veth(args.p + \"g0\", args.p + \"g1\");\npair.host.up();\nmasquerade(\"10.96.0.0/24\", args.p + \"g0\");\noverlay_root(args.lower, args.ov);\nlet h = unshare([\"uts\"]);\nprint(\"made\");\nh.run(\"sleep 30\");\n",
    );
    s.write("kept.nsr", "veth(args.p + \"k0\", args.p + \"k1\");\n");
    s.write("lost.nsr", "unshare([\"uts\", \"pid\"]);\n");
    std::fs::create_dir(s.path("lower")).unwrap();
    std::fs::create_dir(s.path("state")).unwrap();
    let before = HostState::take();
    // gc looks at the whole machine it sees. The test's bubble (net, mount, pid
    // namespaces, a /proc of its own, a cgroup2 child of its own) is that machine, so
    // the host's other environments, a user's lab or a concurrent test run are out of
    // its sight and its --apply.
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let own = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap()
        .trim_matches('/')
        .to_string();
    let bubble = format!("{}/{own}/{sp}-bubble", cgroup2_mount()).replace("//", "/");
    // Its processes end with its pid namespace; whatever happens, its cgroup (with any
    // cgroup nsr left in it) goes when the test does.
    struct RemoveTree(String);
    impl Drop for RemoveTree {
        fn drop(&mut self) {
            if let Ok(entries) = std::fs::read_dir(&self.0) {
                for e in entries.flatten().filter(|e| e.path().is_dir()) {
                    let _ = std::fs::remove_dir(e.path());
                }
            }
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let bubble_guard = RemoveTree(bubble.clone());
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--net",
        "--mount",
        "--pid",
        "--fork",
        "--mount-proc",
        "--",
        "sh",
        "-c",
        GC_SCENARIO,
    ])
    .env("NSR", NSR)
    .env("P", &sp)
    .env("DIR", &s.dir)
    .env("BUBBLE", &bubble)
    .env("NSR_STATE_DIR", s.path("state"));
    let r = run_command(cmd);
    drop(bubble_guard);
    assert!(
        !std::path::Path::new(&bubble).exists(),
        "the bubble's cgroup is left"
    );
    r.expect_code(0);
    let section = |name: &str| -> String {
        r.stdout
            .split(&format!("== {name}\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("no section {name}:\n{}\n{}", r.stdout, r.stderr))
            .split("\n== ")
            .next()
            .unwrap()
            .to_string()
    };
    let killed = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("killed: "))
        .unwrap()
        .to_string();
    let gc = section("gc");
    assert_has_all(
        &gc,
        &[
            "nftables table inet nsr_",
            &format!("overlay root mounted on {}", s.path("ov")),
            // The confined sandbox's device cgroup, left empty by the SIGKILL.
            &format!("cgroup {bubble}/nsr-{killed}-"),
            // The kept sandbox whose journal is gone.
            "sandbox holder process ",
        ],
    );
    assert!(!gc.contains("not-nsrs"), "{gc}");
    let ends = [format!("link {sp}g0 (host)"), format!("link {sp}g1 (host)")];
    assert_eq!(
        ends.iter().filter(|e| gc.contains(e.as_str())).count(),
        1,
        "one end of the pair is listed (the other goes with it): {gc}"
    );
    // A kept environment's pair is its own, not an orphan, whichever end gc looks at.
    assert!(!gc.contains(&format!("{sp}k")), "{gc}");
    let apply = section("apply");
    assert!(!apply.contains(&format!("{sp}k")), "{apply}");
    assert_has_all(
        &apply,
        &[
            "removed link",
            "removed nftables table",
            "removed cgroup",
            "removed sandbox holder process",
        ],
    );
    assert_has_all(
        &r.stdout,
        &[
            // The lost sandbox's holder (the kept environment has none), stopped by gc.
            "holders before: 1\n",
            "holders after: 0\n",
            "foreign kept: yes\n",
        ],
    );
    assert!(
        section("again").contains("nothing of nsr's is left"),
        "{}",
        r.stdout
    );
    before.assert_unchanged("after gc --apply in its bubble");
}

#[test]
fn quiet_prints_only_errors_in_every_subcommand() {
    let _g = privileged();
    let s = Scratch::new("quiet");
    let ok = s.write(
        "ok.nsr",
        "//! param word=hi: what to say\nlet b = unshare([\"uts\"]);\nb.hostname(\"q\");\nprint(args.word);\n",
    );
    let warns = s.write("warns.nsr", "print(args.undeclared);\n");
    let fails = s.write(
        "fails.nsr",
        "let b = unshare([\"uts\"]);\nb.hostname(\"q\");\nb.run([\"false\"], #{ check: true });\n",
    );
    let name = format!("{}-quiet", prefix());
    let quiet = |args: &[&str]| {
        let mut all = vec!["-q"];
        all.extend_from_slice(args);
        nsr(&all)
    };
    let silent = |what: &str, r: &Run, code: i32| {
        r.expect_code(code);
        assert_eq!(r.stderr, "", "nsr -q {what} wrote to stderr");
    };
    let r = quiet(&["run", &ok]);
    silent("run", &r, 0);
    assert_eq!(r.stdout, "hi\n", "a recipe's own output stays");
    silent("run -v", &quiet(&["-v", "run", &ok]), 0);
    silent(
        "run --keep",
        &quiet(&["run", "--keep", "--name", &name, &ok]),
        0,
    );
    silent("ls", &quiet(&["ls"]), 0);
    silent("enter", &quiet(&["enter", &name, "--", "true"]), 0);
    silent("down", &quiet(&["down", &name]), 0);
    silent("check", &quiet(&["check", &ok]), 0);
    silent("check (a warning)", &quiet(&["check", &warns]), 0);
    silent(
        "run (a warning)",
        &quiet(&["run", &warns, "undeclared=x"]),
        0,
    );
    silent("plan", &quiet(&["plan", &ok]), 0);
    silent("gc", &quiet(&["gc"]), 0);
    // An error is still said, and only the error: not the rollback that went well.
    let r = quiet(&["run", &fails]);
    r.expect_code(1);
    assert_has_all(&r.stderr, &["fails.nsr:3:3", "exit status 1"]);
    assert!(!r.stderr.contains("rollback"), "{}", r.stderr);
    let r = quiet(&["down", "no-such-env"]);
    r.expect_code(1);
    assert_has_all(&r.stderr, &["there is no environment"]);
    // Without -q the same runs say what they did.
    let r = nsr(&["run", "--keep", "--name", &name, &ok]);
    assert_has_all(&r.stderr, &["is kept"]);
    let r = nsr(&["down", &name]);
    assert_has_all(&r.stderr, &["is down"]);
    let r = nsr(&["run", &fails]);
    assert_has_all(&r.stderr, &["rollback: 2 step(s)"]);
}

#[test]
fn enter_picks_a_sandbox_by_pid_and_down_all_takes_every_environment_down() {
    let _g = privileged();
    let s = Scratch::new("downall");
    let state = private_state(&s);
    let file = s.write(
        "two.nsr",
        // The first in a user namespace with a /proc of its own pid namespace (where
        // `nsr enter` once read its own namespaces too late, and failed with EPERM).
        "let a = unshare(#{ kinds: [\"uts\", \"pid\", \"user\", \"mount\"], map_root: true });\na.hostname(\"first\");\na.mount(\"proc\", \"/proc\", \"proc\");\nlet b = unshare([\"uts\", \"pid\"]);\nb.hostname(\"second\");\n",
    );
    // A state directory of the test's own: --all means every environment in it.
    let with_state = |args: &[&str]| {
        let mut cmd = Command::new(NSR);
        cmd.args(args).env("NSR_STATE_DIR", &state);
        run_command(cmd)
    };
    let before = HostState::take();
    let names = [format!("{}-one", prefix()), format!("{}-two", prefix())];
    for n in &names {
        with_state(&["run", "--keep", "--name", n, &file]).expect_code(0);
    }
    let ls = with_state(&["ls", "--json"]);
    let pids = alive_sandboxes(&ls, &names[0]);
    assert_eq!(pids.len(), 2, "{}", ls.stdout);
    // By default the last sandbox; by number or by pid the one asked for.
    let hostname_in = |which: &[&str]| {
        let mut args = vec!["enter", names[0].as_str()];
        args.extend_from_slice(which);
        args.extend_from_slice(&["--", "hostname"]);
        let r = with_state(&args);
        r.expect_code(0);
        r.stdout.trim().to_string()
    };
    assert_eq!(hostname_in(&[]), "second");
    assert_eq!(hostname_in(&["1"]), "first");
    let first = pids[0].to_string();
    let second = pids[1].to_string();
    assert_eq!(hostname_in(&[&first]), "first");
    assert_eq!(hostname_in(&[&second]), "second");
    let r = with_state(&["enter", &names[0], "999999", "--", "true"]);
    r.expect_code(1);
    assert_has_all(&r.stderr, &["999999"]);
    let r = with_state(&["down", "--all"]);
    r.expect_code(0);
    for n in &names {
        assert!(r.stderr.contains(n.as_str()), "{}", r.stderr);
    }
    let ls = with_state(&["ls", "--json"]);
    assert_eq!(ls.stdout.trim(), "[]");
    before.assert_unchanged("after down --all");
}
