//! `nsr export oci`: a sandbox a recipe makes, written as an OCI runtime bundle, runs
//! under runc and crun as it runs under `nsr run`: the same hostname, the same mounts
//! (targets, types, flags), namespaces that differ from the host's exactly where nsr's
//! sandbox's do, the same uid, the same confinement. Each bundle's config.json
//! validates against the runtime-spec's JSON schema (tests/oci/schema, v1.0.2, what
//! Debian's runc implements). What a bundle cannot say is warned about and annotated;
//! bad requests get clear errors.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

const RECIPES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/recipes");
const VALIDATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oci/validate.py");

/// What the sandbox's command prints about itself, each line tagged.
const PROBE: &str = r#"echo "hostname=$(hostname)"; echo "uid=$(id -u)"; for n in cgroup ipc mnt net pid user uts; do echo "ns $n=$(readlink /proc/self/ns/$n)"; done; while read -r l; do echo "m $l"; done < /proc/self/mountinfo"#;

/// A command's view of itself, parsed from PROBE's output.
#[derive(Debug)]
struct View {
    hostname: String,
    uid: String,
    /// Namespace kind -> whether it is the host's.
    own_ns: BTreeMap<String, bool>,
    /// (mount point, fstype, flags among ro nosuid nodev noexec).
    mounts: Vec<(String, String, String)>,
}

fn view(out: &str) -> View {
    let host_ns = |n: &str| std::fs::read_link(format!("/proc/self/ns/{n}")).unwrap();
    let mut v = View {
        hostname: String::new(),
        uid: String::new(),
        own_ns: BTreeMap::new(),
        mounts: Vec::new(),
    };
    for l in out.lines() {
        if let Some(h) = l.strip_prefix("hostname=") {
            v.hostname = h.to_string();
        } else if let Some(u) = l.strip_prefix("uid=") {
            v.uid = u.to_string();
        } else if let Some(ns) = l.strip_prefix("ns ") {
            let (kind, link) = ns.split_once('=').unwrap();
            let own = std::path::Path::new(link) != host_ns(kind);
            v.own_ns.insert(kind.to_string(), own);
        } else if let Some(m) = l.strip_prefix("m ") {
            let f: Vec<&str> = m.split(' ').collect();
            let dash = f.iter().position(|x| *x == "-").unwrap();
            let flags: Vec<&str> = f[5]
                .split(',')
                .filter(|o| ["ro", "nosuid", "nodev", "noexec"].contains(o))
                .collect();
            v.mounts
                .push((f[4].to_string(), f[dash + 1].to_string(), flags.join(",")));
        }
    }
    assert!(
        !v.uid.is_empty() && !v.mounts.is_empty(),
        "no probe output in:\n{out}"
    );
    v
}

/// The mounts to compare, the visible one at each mount point: without the root (an
/// OCI runtime pivots into a bind mount of it, nsr's chroot has none), the masked and
/// read-only paths (both mask runc's list, nsr with a tmpfs, runc with /dev/null), the
/// device nodes runc binds into a /dev the recipe did not mount; for a sandbox that
/// keeps the host's root, the host's top-level directories (one mount for nsr, a bind
/// each in the bundle) and the copies of the bundle's own mounts a bind of the
/// directory holding it brings along. `flat_rbind`: the runtime's rbind carries no
/// submounts (crun 1.8 here: the host's /dev/pts, /sys/fs/cgroup/* are then left out).
fn compared(
    v: &View,
    config: &serde_json::Value,
    bundle: &str,
    flat_rbind: bool,
) -> BTreeMap<String, (String, String)> {
    let listed = |key: &str| -> Vec<String> {
        config["linux"][key]
            .as_array()
            .map(|a| a.iter().map(|p| p.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let masks: Vec<String> = [listed("maskedPaths"), listed("readonlyPaths")].concat();
    let runc_devices =
        ["null", "zero", "full", "random", "urandom", "tty"].map(|d| format!("/dev/{d}"));
    let (host_dirs, recipe_targets): (Vec<_>, Vec<_>) = config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .partition(|m| m["type"] == "bind" && m["source"] == m["destination"]);
    let dest = |m: &serde_json::Value| m["destination"].as_str().unwrap().to_string();
    let host_dirs: Vec<String> = host_dirs.into_iter().map(dest).collect();
    let recipe_targets: Vec<String> = recipe_targets.into_iter().map(dest).collect();
    let visible: BTreeMap<String, (String, String)> = v
        .mounts
        .iter()
        .map(|(p, t, f)| (p.clone(), (t.clone(), f.clone())))
        .collect();
    visible
        .into_iter()
        .filter(|(p, _)| {
            let under_host_dir = host_dirs.iter().any(|d| p.starts_with(&format!("{d}/")));
            p != "/"
                && !masks.contains(p)
                && !runc_devices.contains(p)
                && !p.starts_with(bundle)
                && (recipe_targets.contains(p)
                    || !(host_dirs.contains(p) || (flat_rbind && under_host_dir)))
        })
        .collect()
}

/// A runtime's container, deleted however the test ends.
struct Container {
    runtime: &'static str,
    name: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new(self.runtime)
            .args(["delete", "--force", &self.name])
            .output();
    }
}

/// Whether this machine's cgroups are hybrid (v1 controllers, a cgroup2 at
/// /sys/fs/cgroup/unified), which crun refuses.
fn hybrid() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some("/sys/fs/cgroup/unified"))
}

/// `runc run -b DIR NAME` (or crun), to its end; its stdout.
fn run_bundle(runtime: &'static str, dir: &str) -> String {
    // A bundle whose root has the host's /dev bound in would let a runtime that set
    // that /dev up replace the host's nodes.
    let dev_before = dev_entries();
    let c = Container {
        runtime,
        name: format!("{}-{runtime}", short_prefix()),
    };
    let mut cmd = if runtime == "crun" && hybrid() {
        // crun refuses a hybrid layout ("drop all controllers from cgroupv2"): in a mount
        // namespace of its own, without the cgroup2 mount (it has only hugetlb here), it
        // sees cgroup v1 and uses it as runc does.
        let mut u = Command::new("unshare");
        u.args([
            "-m",
            "sh",
            "-c",
            "umount /sys/fs/cgroup/unified && exec crun \"$@\"",
            "crun",
        ]);
        u
    } else {
        Command::new(runtime)
    };
    cmd.args(["run", "-b", dir, &c.name])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = wait_bounded(cmd.spawn().unwrap(), Duration::from_secs(30));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        dev_entries(),
        dev_before,
        "{runtime} changed the host's /dev"
    );
    assert!(
        out.status.success(),
        "{runtime} run -b {dir} failed:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn validate(config: &str) {
    let out = run_command({
        let mut c = Command::new("python3");
        c.args([VALIDATE, config]);
        c
    });
    assert_eq!(
        out.code, 0,
        "{config} is not a valid runtime-spec config:\n{}{}",
        out.stdout, out.stderr
    );
}

/// The recipe's text with PROBE run last in its sandbox `box`.
fn with_probe(s: &Scratch, recipe_file: &str) -> String {
    let text = std::fs::read_to_string(recipe_file).unwrap();
    let probe = serde_json::to_string(PROBE).unwrap();
    let name = std::path::Path::new(recipe_file)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    s.write(
        &name,
        &format!("{text}\nprint(box.run({probe}, #{{ check: true }}).stdout);\n"),
    )
}

fn export(recipe: &str, dir: &str, params: &[&str]) -> Run {
    let mut args = vec!["export", "oci", recipe, dir];
    args.extend_from_slice(params);
    nsr(&args)
}

fn config_of(dir: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{dir}/config.json")).unwrap()).unwrap()
}

/// nsr run of the recipe and both runtimes' run of its bundle see the same sandbox.
fn same_under_runtimes(
    s: &Scratch,
    recipe: &str,
    params: &[&str],
    label: &str,
) -> (View, serde_json::Value) {
    let ran = {
        let mut args = vec!["run", recipe];
        args.extend_from_slice(params);
        nsr(&args)
    };
    assert_eq!(
        ran.code, 0,
        "{label}: nsr run failed:\n{}{}",
        ran.stdout, ran.stderr
    );
    let ours = view(&ran.stdout);
    let dir = s.path(&format!("{label}-bundle"));
    export(recipe, &dir, params).expect_code(0);
    validate(&format!("{dir}/config.json"));
    let config = config_of(&dir);
    for runtime in ["runc", "crun"] {
        let theirs = view(&run_bundle(runtime, &dir));
        assert_eq!(
            theirs.hostname, ours.hostname,
            "{label} under {runtime}: hostname"
        );
        assert_eq!(theirs.uid, ours.uid, "{label} under {runtime}: uid inside");
        assert_eq!(
            theirs.own_ns, ours.own_ns,
            "{label} under {runtime}: which namespaces are the host's"
        );
        let flat = runtime == "crun";
        let (a, b) = (
            compared(&ours, &config, &dir, flat),
            compared(&theirs, &config, &dir, flat),
        );
        assert_eq!(
            a,
            b,
            "{label} under {runtime}: mounts differ\n only nsr: {:?}\n only {runtime}: {:?}",
            a.iter()
                .filter(|x| b.get(x.0) != Some(x.1))
                .collect::<Vec<_>>(),
            b.iter()
                .filter(|x| a.get(x.0) != Some(x.1))
                .collect::<Vec<_>>()
        );
    }
    (ours, config)
}

#[test]
fn as_root_each_sandbox_recipe_runs_under_runc_and_crun_as_under_nsr() {
    let s = Scratch::new("export-recipes");
    // rootfs_cache's entries go to a cache of the test's own, cleared at the end.
    let cache = s.path("cache");
    std::env::set_var("NSR_CACHE_DIR", &cache);
    let _p = privileged();
    let root = s.busybox_root("root");
    let tar = s.path("root.tar");
    let status = Command::new("tar")
        .args(["cf", &tar, "-C", &root, "."])
        .status()
        .unwrap();
    assert!(status.success());
    let image = s.docker_save(&tar);
    let dir = s.path("extracted");
    let from_tar = |extra: &[String]| {
        let mut p = vec![format!("dir={dir}"), "cmd=true".into()];
        p.extend_from_slice(extra);
        p
    };
    let cases: [(&str, &str, Vec<String>); 5] = [
        (
            "tutorial-sandbox.nsr",
            "directory",
            vec![format!("root={root}"), "cmd=true".into()],
        ),
        (
            "rootfs-from-tarball.nsr",
            "tar",
            from_tar(&[format!("tar={tar}")]),
        ),
        (
            "rootfs-from-tarball.nsr",
            "image",
            from_tar(&[format!("tar={image}"), "image=yes".into()]),
        ),
        (
            "rootfs-from-tarball.nsr",
            "cached",
            from_tar(&[format!("tar={tar}"), "cached=yes".into()]),
        ),
        ("rootless-sandbox.nsr", "host-root", vec![]),
    ];
    for (recipe, label, params) in &cases {
        let file = with_probe(&s, &format!("{RECIPES}/{recipe}"));
        let params: Vec<&str> = params.iter().map(String::as_str).collect();
        let (v, config) = same_under_runtimes(&s, &file, &params, label);
        assert!(
            v.own_ns["mnt"] && v.own_ns["pid"],
            "{recipe} ({label}): {v:?}"
        );
        if *label == "directory" {
            assert_eq!(
                config["root"]["path"],
                root.as_str(),
                "a directory root is referenced"
            );
        }
    }
    nsr(&["cache", "clear"]).expect_code(0);
}

/// What a confined command says of its confinement, and an attack: a user namespace of
/// its own (how most kernel exploits start), which the default seccomp list refuses.
const CONFINEMENT_PROBE: &str = r#"grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; echo "nofile=$(ulimit -n)"; echo "FOO=$FOO pwd=$(pwd)"; busybox unshare -U true 2>/dev/null; echo "unshare=$?"; "#;

fn confinement_lines(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| {
            [
                "CapEff",
                "CapBnd",
                "NoNewPrivs",
                "Seccomp",
                "nofile=",
                "FOO=",
                "unshare=",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .collect()
}

#[test]
fn as_root_a_sandbox_with_every_feature_runs_confined_alike_under_runc_and_crun() {
    let _p = privileged();
    let s = Scratch::new("export-every");
    let root = s.busybox_root("root");
    let share = s.path("share");
    std::fs::create_dir(&share).unwrap();
    std::fs::write(format!("{share}/shared"), "from the host\n").unwrap();
    std::fs::write(format!("{root}/lower/below"), "in the lower layer\n").unwrap();
    let recipe = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oci/every-feature.nsr");
    let probe = format!("{CONFINEMENT_PROBE}{PROBE}");
    let params = [
        format!("root={root}"),
        format!("share={share}"),
        format!("probe={probe}"),
    ];
    let params: Vec<&str> = params.iter().map(String::as_str).collect();
    let (v, config) = same_under_runtimes(&s, recipe, &params, "every");
    assert_eq!(
        (v.hostname.as_str(), v.uid.as_str()),
        ("every-feature", "1000")
    );
    for target in ["/mnt", "/merged", "/tmp", "/proc", "/sys"] {
        assert!(
            v.mounts.iter().any(|m| m.0 == target),
            "{target} mounted: {v:?}"
        );
    }
    // The spec's own fields say the confinement and limits.
    let r = &config["linux"]["resources"];
    assert_eq!(r["memory"]["limit"], 64 << 20);
    assert_eq!(r["pids"]["limit"], 64);
    assert_eq!(config["process"]["noNewPrivileges"], true);
    assert_eq!(config["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
    assert_eq!(config["process"]["user"]["uid"], 1000);
    let caps = config["process"]["capabilities"]["bounding"]
        .as_array()
        .unwrap();
    assert_eq!(
        caps.len(),
        7,
        "the six kept and SYS_CHROOT after pivot_root: {caps:?}"
    );
    assert!(config["linux"]["seccomp"]["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["names"].as_array().unwrap().iter().any(|n| n == "chroot")));

    // The same confinement, and the attack refused, under nsr and both runtimes; with
    // the command's filter off the same attack succeeds everywhere.
    let ours = nsr(&[&["run", recipe][..], &params].concat()).stdout;
    let dir = s.path("every-bundle");
    let under = |runtime| run_bundle(runtime, &dir);
    let (runc, crun) = (under("runc"), under("crun"));
    let want = confinement_lines(&ours);
    assert!(
        want.contains(&"unshare=1") && want.contains(&"NoNewPrivs:\t1"),
        "{ours}"
    );
    assert!(
        want.contains(&"nofile=256") && want.contains(&"FOO=bar pwd=/tmp"),
        "{ours}"
    );
    assert_eq!(confinement_lines(&runc), want, "runc:\n{runc}");
    assert_eq!(confinement_lines(&crun), want, "crun:\n{crun}");

    let mut off = params.clone();
    off.push("seccomp=none");
    let open = s.path("open-bundle");
    export(recipe, &open, &off).expect_code(0);
    let ours_open = nsr(&[&["run", recipe][..], &off].concat()).stdout;
    assert!(
        confinement_lines(&ours_open).contains(&"unshare=0"),
        "{ours_open}"
    );
    for runtime in ["runc", "crun"] {
        let out = run_bundle(runtime, &open);
        assert!(
            confinement_lines(&out).contains(&"unshare=0"),
            "{runtime}:\n{out}"
        );
    }
}

#[test]
fn what_a_bundle_cannot_say_is_warned_about_and_annotated() {
    let _s = serial();
    let s = Scratch::new("export-warn");
    let dir = s.path("net-bundle");
    let recipe = format!("{RECIPES}/tutorial-network.nsr");
    let r = export(&recipe, &dir, &["--sandbox", "1"]);
    r.expect_code(0);
    validate(&format!("{dir}/config.json"));
    let config = config_of(&dir);
    // The sandbox joins test_net by its path; the network the recipe builds around it,
    // its commands before the last and the other sandboxes are listed, each once, on
    // stderr and in the annotations.
    let ns = config["linux"]["namespaces"].as_array().unwrap();
    assert!(
        ns.iter()
            .any(|n| n["type"] == "network" && n["path"] == "/run/netns/test_net"),
        "{ns:?}"
    );
    let annotated: Vec<&str> = config["annotations"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("dev.nsr.not-exported."))
        .map(|(_, v)| v.as_str().unwrap())
        .collect();
    for wanted in [
        "network: ip netns add test_net",
        "network: ip -n router link add veth0 type veth peer name eth0 netns test_net",
        "network: ip netns exec router iptables -t nat -A POSTROUTING -s 172.16.99.0/24 -o wan0 -j MASQUERADE",
        "network: ip netns exec router sysctl -w net.ipv4.ip_forward=1",
        "sandbox 2 (`nsenter --net=/run/netns/wan unshare --mount --pid --fork`): a bundle holds one sandbox (export it with --sandbox 2)",
    ] {
        assert!(annotated.contains(&wanted), "annotation {wanted:?} in {annotated:#?}");
        assert!(r.stderr.contains(&format!("  - {wanted}\n")), "warning {wanted:?} in:\n{}", r.stderr);
    }
    assert!(
        r.stderr
            .contains(&format!("does not carry {} things", annotated.len())),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("/run/netns/test_net (netns test_net), which the recipe makes"),
        "{}",
        r.stderr
    );
    assert_eq!(config["annotations"]["dev.nsr.recipe"], recipe.as_str());

    // --rootfs references a root instead of making one.
    let given = s.path("given-root");
    let referenced = s.path("referenced");
    let r = export(
        &format!("{RECIPES}/tutorial-sandbox.nsr"),
        &referenced,
        &["root=/nonexistent", "--rootfs", &given],
    );
    r.expect_code(0);
    assert_eq!(config_of(&referenced)["root"]["path"], given.as_str());
    assert!(!std::path::Path::new(&format!("{referenced}/rootfs")).exists());
    validate(&format!("{referenced}/config.json"));

    // A sandbox the recipe does not make, and a choice not made.
    let other = s.path("other");
    let r = export(&recipe, &other, &["--sandbox", "7"]);
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &["--sandbox 7: the recipe makes 3 sandboxes (--sandbox 1 to 3)"],
    );
    let r = export(&format!("{RECIPES}/bridge-lab.nsr"), &other, &[]);
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &["the recipe makes 2 sandboxes: choose one with --sandbox N (1 to 2)"],
    );
    assert!(
        !std::path::Path::new(&other).exists(),
        "nothing written on an error"
    );
}

#[test]
fn bad_requests_get_clear_errors_and_leave_nothing() {
    let _s = serial();
    let s = Scratch::new("export-bad");
    // A bundle directory that has something in it is not touched.
    let full = s.path("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(format!("{full}/mine"), "keep me").unwrap();
    let recipe = s.write(
        "one.nsr",
        "let box = unshare(#{ kinds: [\"mount\", \"uts\"] });\nbox.hostname(\"one\");\n",
    );
    let r = export(&recipe, &full, &[]);
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[&format!("{full} exists and is not an empty directory")],
    );
    assert_eq!(std::fs::read_dir(&full).unwrap().count(), 1);
    // A recipe error is located, as for nsr run; nothing is written.
    let broken = s.write(
        "broken.nsr",
        "let box = unshare(#{ kinds: [\"mount\"] });\nbox.mount(\"proc\", \"/proc\", \"\");\n",
    );
    let out = s.path("out");
    let r = export(&broken, &out, &[]);
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[&format!("{broken}:2:"), "filesystem type is empty"],
    );
    assert!(!std::path::Path::new(&out).exists());
    // No sandbox at all.
    let none = s.write("none.nsr", "print(\"nothing\");\n");
    let r = export(&none, &out, &[]);
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &["the recipe makes no sandbox: nothing to export"],
    );
    // An archive that is not there: the directory export made is gone again.
    let r = export(
        &format!("{RECIPES}/rootfs-from-tarball.nsr"),
        &out,
        &[&format!("tar={}", s.path("missing.tar")), "cmd=true"],
    );
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &["cannot extract the root", "there is no archive at"],
    );
    assert!(
        !std::path::Path::new(&out).exists(),
        "the half-made bundle is removed"
    );
    // The host's / is never a bundle's root: a runtime writes into it.
    let r = export(&recipe, &out, &["--rootfs", "/"]);
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &["/ is the host's root: a runtime writes into a bundle's root"],
    );
    assert!(!std::path::Path::new(&out).exists());
    // A missing recipe or directory argument is a usage error.
    nsr(&["export", "oci", &recipe]).expect_code(2);
}

#[test]
fn doctor_names_the_runtimes_that_run_the_bundles() {
    let _s = serial();
    let r = nsr(&["doctor"]);
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("oci runtime"))
        .unwrap_or_else(|| panic!("{}", r.stdout))
        .to_string();
    // The tests' set-up installs both.
    assert_has_all(
        &line,
        &["ok", "for nsr export oci's bundles: runc (", "crun ("],
    );
}
