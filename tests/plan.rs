//! `nsr plan`: a recipe's steps as the tutorial's commands, and its rollback, without
//! doing anything. The plan of every recipe is stable (golden files in tests/plans/,
//! written by `cargo run --example regenerate`, never by a test); its `--format shell` script, run as root in a
//! fresh namespace, leaves the same kernel state as `nsr run` of the recipe and its
//! teardown leaves nothing; a recipe failing at step k plans the undos `nsr run` does;
//! every primitive renders.

mod common;
use common::*;
use std::process::Command;

const RECIPES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/recipes");
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/plans");

/// Each recipe with the arguments its plan is made with (fixed paths: a plan touches
/// nothing, so they need not exist).
/// The recipes with a golden plan, and the parameters each is planned with: one line
/// each, tab-separated (`cargo run --example regenerate` reads the same file).
fn planned() -> Vec<(String, Vec<String>)> {
    recipes_with_params()
}

/// A test run only compares: golden files are written by `cargo run --example
/// regenerate`, so a run with the old variable set (which made tests rewrite them) fails.
#[test]
fn golden_files_are_not_regenerated_by_a_test_run() {
    // It runs nsr: not beside a test that counts nsr processes.
    let _g = serial();
    assert!(
        std::env::var_os("NSR_REGENERATE").is_none(),
        "NSR_REGENERATE is set: tests never write golden files; run cargo run --example regenerate"
    );
}

fn plan(args: &[&str]) -> Run {
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    nsr(&all)
}

#[test]
fn formats_shell_and_json() {
    // HostState counts nsr processes: no plan runs beside a test that looks.
    let _g = serial();
    let s = Scratch::new("planfmt");
    let file = s.write(
        "f.nsr",
        "let n = netns(\"pf\");\nlet l = veth(\"pfv\", \"eth0\", n);\nl.host.addr(\"10.1.2.1/24\").up();\nlet b = unshare(#{ kinds: [\"mount\", \"pid\"], net: n });\nb.mount(\"tmpfs\", \"/mnt\", \"tmpfs\");\nprint(\"pid \" + b.pid);\n",
    );
    let r = plan(&["--format", "shell", &file]);
    r.expect_code(0);
    assert!(r.stdout.starts_with("#!/bin/sh\n"), "{}", r.stdout);
    assert_has_all(
        &r.stdout,
        &[
            "set -eu",
            "trap 'set +e; eval \"$UNDO\"' EXIT",
            "ip netns add pf\nundo_push 'ip netns del pf\n",
            "RUN_NETNS_WAS=$(if mountpoint -q /run/netns",
            "ip link add pfv type veth peer name eth0 netns pf\nundo_push 'ip link del pfv'",
            "nsenter --net=/run/netns/pf unshare --mount --pid --fork --kill-child sleep infinity &",
            "SANDBOX0_JOB=$! SANDBOX0_PID=$(sandbox_pid $!)",
            "nsenter -t $SANDBOX0_PID -a -r -- mount -t tmpfs tmpfs -o nosuid,nodev /mnt",
            "echo 'pid -1'",
        ],
    );
    let check = Command::new("sh")
        .args(["-n", "-c", &r.stdout])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "sh -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let r = plan(&["--format", "json", &file]);
    r.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["ok"], true);
    let steps = v["steps"].as_array().unwrap();
    let prims: Vec<&str> = steps
        .iter()
        .filter_map(|s| s["primitive"].as_str())
        .collect();
    assert_eq!(prims, ["netns", "veth", "addr", "up", "unshare", "mount"]);
    assert_eq!(steps[4]["reads_back"], "the sandbox's pid");
    assert_eq!(steps[0]["origin"]["line"], 1);
    assert_eq!(steps.last().unwrap()["kind"], "print");
    let rollback: Vec<u64> = v["rollback"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(rollback, [6, 5, 4, 3, 2, 1]);
    // Bad input is reported as for `nsr run`.
    let r = plan(&["--format", "yaml", &file]);
    r.expect_code(2);
    let r = plan(&["/no/such.nsr"]);
    r.expect_code(2);
    assert_has_all(&r.stderr, &["cannot read recipe /no/such.nsr"]);
}

/// The steps of a recipe that stops with an error after `k - 1` of them.
fn failing_recipe(p: &str, dir: &str, k: usize) -> String {
    let steps = [
        format!("let n = netns(\"{p}fk\");"),
        format!("let l = veth(\"{p}fv\", \"eth0\", n);"),
        "l.host.addr(\"10.93.0.1/24\");".to_string(),
        "l.host.up();".to_string(),
        "n.addr(\"eth0\", \"10.93.0.2/24\");".to_string(),
        format!("let d = make_dir(\"{dir}/made\");"),
        "let b = unshare(#{ kinds: [\"mount\", \"uts\", \"pid\"], net: n });".to_string(),
        "b.hostname(\"k\");".to_string(),
        "b.mount(\"tmpfs\", \"/mnt\", \"tmpfs\");".to_string(),
    ];
    let mut text: Vec<String> = steps.iter().take(k - 1).cloned().collect();
    text.push(format!("throw \"stopped before step {k}\";"));
    text.join("\n") + "\n"
}

/// A call of each primitive (with what it needs first), for the test below. A primitive
/// added to nsr without a line here fails it: add one, and make it render in the plan.
const SAMPLES: &[(&str, &str)] = &[
    ("unshare", "unshare([\"uts\"]);"),
    ("hostname", "let b = unshare([\"uts\"]); b.hostname(\"x\");"),
    (
        "limits",
        "let b = unshare(#{ kinds: [\"uts\"], limits: #{ pids: 50 } }); b.limits(#{ pids: 20 });",
    ),
    (
        "usage",
        "let b = unshare(#{ kinds: [\"uts\"], limits: #{ pids: 50 } }); b.usage();",
    ),
    (
        "mount",
        "let b = unshare([\"mount\"]); b.mount(\"tmpfs\", \"/mnt\", \"tmpfs\");",
    ),
    (
        "chroot",
        "let b = unshare([\"mount\"]); b.chroot(\"/srv/r\");",
    ),
    (
        "pivot_root",
        "let b = unshare([\"mount\"]); b.pivot_root(\"/srv/r\");",
    ),
    ("run", "let b = unshare([\"uts\"]); b.run(\"true\");"),
    ("exec", "let b = unshare([\"uts\"]); b.exec(\"true\");"),
    ("namespaces", "namespaces();"),
    ("mountinfo", "let b = unshare([\"mount\"]); b.mountinfo();"),
    ("netns", "netns(\"s\");"),
    ("netns_open", "netns_open(\"s\");"),
    ("veth", "veth(\"a\", \"b\");"),
    ("bridge", "bridge(\"br\");"),
    ("vxlan", "let n = netns(\"pv\");\nn.vxlan(\"vx0\", #{ id: 42, remote: \"10.9.0.2\", dev: \"eth0\" });\n"),
    ("up", "let l = veth(\"a\", \"b\"); l.host.up();"),
    ("down", "let l = veth(\"a\", \"b\"); l.host.down();"),
    ("mtu", "let l = veth(\"a\", \"b\"); l.host.mtu(1400);"),
    (
        "attach",
        "let br = bridge(\"br\"); let l = veth(\"a\", \"b\"); br.attach(l.host);",
    ),
    (
        "detach",
        "let br = bridge(\"br\"); let l = veth(\"a\", \"b\"); br.attach(l.host); l.host.detach();",
    ),
    (
        "move_to",
        "let n = netns(\"s\"); let l = veth(\"a\", \"b\"); l.peer.move_to(n);",
    ),
    (
        "addr",
        "let l = veth(\"a\", \"b\"); l.host.addr(\"10.0.0.1/24\");",
    ),
    ("route", "route(\"10.1.0.0/24\", \"10.0.0.2\");"),
    ("ip_forward", "ip_forward(true);"),
    ("ip6_forward", "ip6_forward(true);"),
    ("masquerade", "masquerade(\"10.0.0.0/24\", \"eth0\");"),
    ("forward", "forward(\"a\", \"eth0\");"),
    ("port_forward", "port_forward(8080, \"10.0.0.2\", 80);"),
    ("links", "links();"),
    ("addrs", "addrs();"),
    ("routes", "routes();"),
    (
        "rootfs_from_tar",
        "rootfs_from_tar(\"/srv/r.tar\", \"/srv/r\");",
    ),
    (
        "rootfs_from_image",
        "rootfs_from_image(\"/srv/i.tar\", \"/srv/r\");",
    ),
    ("rootfs_cache", "rootfs_cache(\"/srv/r.tar\");"),
    ("overlay_root", "overlay_root(\"/srv/lower\", \"/srv/r\");"),
    ("make_dir", "make_dir(\"/srv/new/dir\");"),
    (
        "pasta",
        "let b = unshare([\"mount\", \"net\"]); b.pasta(#{ ports: [8080], outbound: false });",
    ),
];

/// Primitives that ask nothing of the system: computed in the recipe, or a value to
/// call other primitives on.
const PURE: &[&str] = &["cidr_host", "ip_of", "link", "host"];

#[test]
fn every_primitive_renders_in_the_plan() {
    // HostState counts nsr processes: no plan runs beside a test that looks.
    let _g = serial();
    let doc = nsr(&["doc", "--json"]);
    doc.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&doc.stdout).unwrap();
    let mut missing = Vec::new();
    for p in v["primitives"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        if PURE.contains(&name) {
            continue;
        }
        let Some((_, sample)) = SAMPLES.iter().find(|(n, _)| *n == name) else {
            missing.push(name.to_string());
            continue;
        };
        let s = Scratch::new(&format!("prim-{name}"));
        let file = s.write("p.nsr", sample);
        let r = plan(&["--format", "json", &file]);
        r.expect_code(0);
        let plan: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        let step = plan["steps"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|st| st["primitive"] == name)
            .unwrap_or_else(|| panic!("{name}: no step of it in {}", r.stdout));
        let commands = step["commands"].as_array().unwrap();
        assert!(
            !commands.is_empty() && commands.iter().all(|c| !c.as_str().unwrap().is_empty()),
            "{name} renders as commands: {step}"
        );
    }
    assert!(
        missing.is_empty(),
        "primitives without a sample here (add one, and make them render): {missing:?}"
    );
}

/// A snapshot of the kernel state a recipe can change, in the namespace it runs in:
/// links, addresses, routes, nft rules and forwarding of it and of each named netns,
/// and the mount table; indexes, MACs, link groups and table names normalized.
const SNAPSHOT: &str = r#"snap() {
  set +e
  for ns in "" $(ip netns list | cut -d' ' -f1 | sort); do
    if [ -n "$ns" ]; then x="ip netns exec $ns"; echo "== netns $ns"; else x=""; fi
    $x ip -o link show | sed -E 's/^[0-9]+: //; s/@if[0-9]+/@if/; s/\\.*$//; s/ group [^ ]+//; s/NO-CARRIER,//; s/,LOWER_UP//; s/,M-DOWN//; s/ state [A-Z]+//' | sort
    $x ip -o addr show | grep -v ' fe80::' | sed -E 's/^[0-9]+: //; s/ (valid|preferred)_lft.*//; s/\\ *$//; s/ tentative//' | sort
    $x ip route show table all | grep -v fe80 | grep -v 'ff00::/8' | sort
    $x nft list ruleset | sed -E 's/nsr_[a-z0-9]+/nsr_T/; s/counter packets [0-9]+ bytes [0-9]+/counter/'
    $x sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding
  done
  findmnt -rn -o TARGET,FSTYPE | grep -v '^/run/nsr' | sort
}
"#;

/// In a fresh network and mount namespace (a tmpfs on /run): the state before, after
/// `nsr run --keep` of the recipe and after `nsr down`, and the same for the plan's
/// script (sourced, so that the snapshot is taken before its trap tears down).
const COMPARE: &str = r#"set -u
out=$1; nsr=$2; recipe=$3; shift 3
mount -t tmpfs tmpfs /run
ip link set lo up
. "$out/snap.sh"
snap > "$out/init"
"$nsr" run --keep --name planeq "$recipe" "$@" > "$out/run.out" 2>&1
echo $? > "$out/run.code"
snap > "$out/run.state"
# nsr graph's picture of the kept environment, and what the kernel shows without nsr.
"$nsr" graph --env planeq --format json > "$out/env.graph.json" 2> "$out/env.graph.err"
python3 "$KERNEL_VIEW" "$nsr" planeq > "$out/kernel.json" 2> "$out/kernel.err"
# What each sandbox shows from inside, as its commands see it: nsr enter (number i).
i=1
while "$nsr" enter planeq $i -- sh -c "$PROBE" > "$out/run.view.$i" 2> "$out/run.view.err"; do i=$((i + 1)); done
rm -f "$out/run.view.$i"
"$nsr" down planeq > "$out/down.out" 2>&1
snap > "$out/run.after"
"$nsr" plan --format shell "$recipe" "$@" > "$out/plan.sh"
# The script's sandboxes seen the way its own commands run in them: nsenter, chroot.
sh -c '. "$1/snap.sh"; . "$1/plan.sh"; snap > "$1/plan.state"
i=0
while eval "[ -n \"\${SANDBOX${i}_PID:-}\" ]"; do
  eval "pid=\$SANDBOX${i}_PID root=\${SANDBOX${i}_ROOT:-/}"
  nsenter -t "$pid" -a -r -- chroot "$root" sh -c "$PROBE" > "$1/plan.view.$((i + 1))"
  i=$((i + 1))
done' sh "$out" > "$out/plan.out" 2>&1
echo $? > "$out/plan.code"
snap > "$out/plan.after"
"#;

/// Run inside a sandbox: its hostname, its mounts (target, fstype, options; not the
/// masks nsr's confinement puts under /proc and /sys, which the script's plain commands
/// do not have), its root directory, its id maps, and each namespace's inode.
const PROBE: &str = r#"echo "hostname $(hostname)"
[ -r /proc/self/mountinfo ] && awk '{ split($0, t, " - "); split(t[2], f, " "); if ($5 !~ "^/(proc|sys)/") print "mount", $5, f[1], $6 }' /proc/self/mountinfo
echo "root $(ls -a / | tr '\n' ' ')"
[ -r /proc/self/uid_map ] && echo "uid_map $(cat /proc/self/uid_map | tr -s ' ')" && echo "gid_map $(cat /proc/self/gid_map | tr -s ' ')"
for k in mnt uts ipc net pid user time; do echo "ns $k $(readlink /proc/self/ns/$k)"; done
true"#;

#[test]
fn a_plan_needs_no_root_and_touches_nothing() {
    let _g = serial();
    let before = HostState::take();
    // As root, as nobody; as anyone else, as that user.
    let mut cmd = if nix::unistd::geteuid().is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", NSR]);
        c
    } else {
        Command::new(NSR)
    };
    let out = cmd
        .args(["plan", &format!("{RECIPES}/tutorial-network.nsr")])
        .output()
        .unwrap();
    let r = Run::from(out);
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            "ip netns add test_net",
            "ip -n router link add veth0 type veth peer name eth0 netns test_net",
            "nft -f -",
            "sysctl -qw net.ipv4.ip_forward=1",
            "nsenter --net=/run/netns/test_net unshare",
            "reads back the command's exit status and output: a placeholder",
            "ip netns del test_net",
        ],
    );
    before.assert_unchanged("after nsr plan without root");
}

const KERNEL_VIEW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/graph/kernel_view.py");

/// `nsr graph --format json`'s model reduced to what the kernel can be asked about:
/// per namespace its interfaces (kind, up, addresses, bridge), forwarding and the
/// number of nft rules; each sandbox's namespace; the veth pairs, end by end.
fn graph_as_kernel_sees_it(g: &serde_json::Value) -> serde_json::Value {
    let mut namespaces = serde_json::Map::new();
    for n in g["namespaces"].as_array().unwrap() {
        let mut ifaces = serde_json::Map::new();
        for i in n["interfaces"].as_array().unwrap() {
            let mut addrs: Vec<String> = i["addrs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            addrs.sort();
            ifaces.insert(
                i["name"].as_str().unwrap().into(),
                serde_json::json!({ "kind": i["kind"], "up": i["up"], "addrs": addrs, "master": i.get("master").cloned().unwrap_or(serde_json::Value::Null) }),
            );
        }
        let rules: usize = n["nat"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["rules"].as_array().unwrap().len())
            .sum();
        let mut fwd: Vec<&str> = n["forwarding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        fwd.sort();
        namespaces.insert(
            n["id"].as_str().unwrap().into(),
            serde_json::json!({ "interfaces": ifaces, "nat_rules": rules, "forwarding": fwd }),
        );
    }
    let sandboxes: Vec<serde_json::Value> = g["sandboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| serde_json::json!({ "number": s["number"], "netns": s["netns"] }))
        .collect();
    let mut veths: Vec<Vec<String>> = g["veths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let end = |e: &serde_json::Value| {
                format!(
                    "{}/{}",
                    e["ns"].as_str().unwrap(),
                    e["name"].as_str().unwrap()
                )
            };
            let mut pair = vec![end(&v["a"]), end(&v["b"])];
            pair.sort();
            pair
        })
        .collect();
    veths.sort();
    serde_json::json!({ "namespaces": namespaces, "sandboxes": sandboxes, "veths": veths })
}

/// The model without what differs between a plan and a run by nature: the title, the
/// source, pids, and the order of a veth's two ends.
fn graph_without_run_details(g: &serde_json::Value) -> serde_json::Value {
    let mut g = g.clone();
    let o = g.as_object_mut().unwrap();
    o.remove("title");
    o.remove("source");
    for s in o["sandboxes"].as_array_mut().unwrap() {
        s.as_object_mut().unwrap().remove("pid");
    }
    for n in o["namespaces"].as_array_mut().unwrap() {
        for i in n["interfaces"].as_array_mut().unwrap() {
            i["addrs"]
                .as_array_mut()
                .unwrap()
                .sort_by_key(|a| a.to_string());
        }
    }
    let mut veths: Vec<serde_json::Value> = o["veths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let (a, b) = (v["a"].to_string(), v["b"].to_string());
            if a <= b {
                v.clone()
            } else {
                serde_json::json!({ "a": v["b"], "b": v["a"] })
            }
        })
        .collect();
    veths.sort_by_key(|v| v.to_string());
    o.insert("veths".into(), serde_json::Value::Array(veths));
    g
}

/// The plan's picture lists exactly what the kernel shows of the kept run, and the
/// live picture (`--env`) is the plan's.
fn graph_matches_kernel(recipe: &str, planned: &str, live: &str, kernel: &str, live_err: &str) {
    let planned: serde_json::Value = serde_json::from_str(planned).unwrap();
    let live: serde_json::Value = serde_json::from_str(live)
        .unwrap_or_else(|e| panic!("{recipe}: nsr graph --env: {e}: {live_err}"));
    let kernel: serde_json::Value =
        serde_json::from_str(kernel).unwrap_or_else(|e| panic!("{recipe}: the kernel's view: {e}"));
    assert_eq!(
        graph_as_kernel_sees_it(&planned),
        kernel,
        "{recipe}: the plan's picture is not what the kernel shows"
    );
    assert_eq!(
        graph_without_run_details(&live),
        graph_without_run_details(&planned),
        "{recipe}: nsr graph --env draws another picture than the plan's"
    );
}

/// The inode of each of the test process's namespaces, by kind (`mnt`, `net`, ...).
fn host_namespaces() -> std::collections::HashMap<String, String> {
    ["mnt", "uts", "ipc", "net", "pid", "user", "time"]
        .iter()
        .map(|k| {
            let l = std::fs::read_link(format!("/proc/self/ns/{k}")).unwrap();
            (k.to_string(), l.to_string_lossy().into_owned())
        })
        .collect()
}

/// These create namespaces, mounts or netns for real, or become another user: root.
mod as_root {
    use super::*;

    #[test]
    fn the_plan_script_leaves_what_nsr_run_leaves_and_its_teardown_nothing() {
        let _g = privileged();
        let s = Scratch::new("planeq");
        let root = s.busybox_root("bbroot");
        let tar = s.path("bbroot.tar");
        let ok = Command::new("tar")
            .args(["-C", &root, "-cf", &tar, "."])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let before = HostState::take();
        let go_root = s.path("go_root");
        let cases: Vec<(&str, Vec<String>)> = vec![
            ("bridge-lab.nsr", vec![]),
            ("default.nsr", vec![]),
            (
                "rootfs-from-tarball.nsr",
                vec![
                    format!("tar={tar}"),
                    format!("dir={go_root}"),
                    "cmd=ls /".into(),
                ],
            ),
            ("rootless-sandbox.nsr", vec![]),
            ("tutorial-network.nsr", vec![]),
            (
                "tutorial-sandbox.nsr",
                vec![format!("root={root}"), "cmd=ls /".into()],
            ),
            // In the comparison's own netns with only lo: the tunnel's remote is not
            // reachable, so nothing leaves.
            ("vxlan-lab.nsr", vec!["remote=10.99.0.2".into()]),
        ];
        // pasta connects a namespace to the host's network through the host's interface
        // with the default route; the comparison runs in a netns of its own with only lo.
        let not_compared = ["rootless-web.nsr"];
        assert_eq!(
            cases.len() + not_compared.len(),
            planned().len(),
            "every recipe is compared"
        );
        for (recipe, args) in cases {
            let out = s.path(recipe.trim_end_matches(".nsr"));
            std::fs::create_dir_all(&out).unwrap();
            std::fs::write(format!("{out}/snap.sh"), SNAPSHOT).unwrap();
            let status = Command::new("unshare")
                .env("PROBE", PROBE)
                .env("KERNEL_VIEW", KERNEL_VIEW)
                .args([
                    "-n",
                    "-m",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    COMPARE,
                    "sh",
                ])
                .arg(&out)
                .arg(NSR)
                .arg(format!("{RECIPES}/{recipe}"))
                .args(&args)
                .status()
                .unwrap();
            assert!(status.success(), "{recipe}: the comparison itself failed");
            let read = |f: &str| std::fs::read_to_string(format!("{out}/{f}")).unwrap_or_default();
            assert_eq!(
                read("run.code").trim(),
                "0",
                "{recipe}: nsr run --keep: {}",
                read("run.out")
            );
            assert_eq!(
                read("plan.code").trim(),
                "0",
                "{recipe}: the script: {}",
                read("plan.out")
            );
            assert!(
                read("run.state") != read("init")
                    || std::path::Path::new(&format!("{out}/run.view.1")).exists(),
                "{recipe}: the run changed nothing to compare"
            );
            assert_eq!(
                read("plan.state"),
                read("run.state"),
                "{recipe}: the script leaves another state than nsr run (script output: {})",
                read("plan.out")
            );
            // Each sandbox looks the same from inside, with the same namespaces of its
            // own (an inode of the host's, or a new one: the numbers themselves differ).
            let host_ns = host_namespaces();
            let view = |f: &str| -> String {
                read(f)
                    .lines()
                    .map(|l| match l.strip_prefix("ns ") {
                        Some(rest) => {
                            let (k, v) = rest.split_once(' ').unwrap_or((rest, ""));
                            let own = host_ns.get(k).is_none_or(|h| h != v);
                            format!("ns {k} {}", if own { "own" } else { "host's" })
                        }
                        None => l.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let count = |who: &str| {
                (1..)
                    .take_while(|i| std::path::Path::new(&format!("{out}/{who}.view.{i}")).exists())
                    .count()
            };
            assert_eq!(
                count("run"),
                count("plan"),
                "{recipe}: as many sandboxes ({})",
                read("run.view.err")
            );
            for i in 1..=count("run") {
                let run_view = view(&format!("run.view.{i}"));
                assert!(
                    run_view.contains("hostname "),
                    "{recipe} sandbox {i}: {run_view}"
                );
                assert_eq!(
                    view(&format!("plan.view.{i}")),
                    run_view,
                    "{recipe}: sandbox {i} seen from inside"
                );
            }
            let planned_graph = nsr(&[
                &["graph", "--format", "json", &format!("{RECIPES}/{recipe}")][..],
                &args.iter().map(String::as_str).collect::<Vec<_>>()[..],
            ]
            .concat());
            planned_graph.expect_code(0);
            graph_matches_kernel(
                recipe,
                &planned_graph.stdout,
                &read("env.graph.json"),
                &read("kernel.json"),
                &read("env.graph.err"),
            );
            assert_eq!(
                read("run.after"),
                read("init"),
                "{recipe}: nsr down leaves something"
            );
            assert_eq!(
                read("plan.after"),
                read("init"),
                "{recipe}: the script's teardown leaves something"
            );
            assert!(
                !std::path::Path::new(&go_root).exists(),
                "{recipe}: the extracted root is left"
            );
        }
        before.assert_unchanged("after comparing plans with runs");
    }

    #[test]
    fn a_recipe_that_fails_at_step_k_plans_the_undos_nsr_run_performs() {
        let _g = privileged();
        let s = Scratch::new("plank");
        let p = short_prefix();
        let before = HostState::take();
        for k in 1..=10 {
            let file = s.write(&format!("k{k}.nsr"), &failing_recipe(&p, &s.path(""), k));
            let planned = plan(&["--format", "json", &file]);
            planned.expect_code(1);
            let plan: serde_json::Value = serde_json::from_str(&planned.stdout).unwrap();
            assert_eq!(plan["ok"], false);
            assert!(
                plan["error"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("stopped before step {k}")),
                "{}",
                plan["error"]
            );
            let ran = nsr(&["run", "--json", &file]);
            ran.expect_code(1);
            let run: serde_json::Value = serde_json::from_str(ran.stderr.trim()).unwrap();
            let lines = |v: &serde_json::Value| -> Vec<u64> {
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|u| u["origin"]["line"].as_u64().unwrap())
                    .collect()
            };
            let planned_undos = lines(&plan["rollback"]);
            assert_eq!(planned_undos.len(), k - 1, "step {k}: {}", planned.stdout);
            assert_eq!(planned_undos, lines(&run["undone"]), "step {k}");
            before.assert_unchanged(&format!("after the run failing at step {k}"));
        }
    }

    #[test]
    fn every_recipe_has_a_stable_plan() {
        // HostState counts nsr processes: no plan runs beside a test that looks.
        let _g = privileged();
        let mut names: Vec<String> = std::fs::read_dir(RECIPES)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".nsr"))
            .collect();
        names.sort();
        let planned = planned();
        let listed: Vec<String> = planned.iter().map(|(r, _)| r.clone()).collect();
        assert_eq!(names, listed, "every recipe has a golden plan here");
        for (recipe, args) in &planned {
            let path = format!("recipes/{recipe}");
            let mut words = vec![path.as_str()];
            words.extend(args.iter().map(String::as_str));
            let r = plan(&words);
            r.expect_code(0);
            let golden = format!("{GOLDEN}/{}.plan", recipe.trim_end_matches(".nsr"));
            let want = std::fs::read_to_string(&golden)
                .unwrap_or_else(|_| panic!("{golden} is missing: cargo run --example regenerate"));
            assert_eq!(
                r.stdout, want,
                "the plan of {recipe} changed (cargo run --example regenerate if on purpose)"
            );
            // It says what is a placeholder, and shows the rollback.
            assert_has_all(&r.stdout, &["plan of recipes/", "rollback, newest first"]);
        }
    }
}
