//! The front door, as a new user meets it: the README's commands, help that reads like
//! the rest of the system, recipes that declare what they read, `nsr doctor`, shell
//! completions and the man page.

mod common;

use common::*;
use std::process::{Command, Stdio};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn readme() -> String {
    std::fs::read_to_string(format!("{ROOT}/README.md")).unwrap()
}

/// The fenced blocks of the README that open with ```LANG.
fn readme_blocks(lang: &str) -> Vec<String> {
    let text = readme();
    let fence = format!("```{lang}\n");
    text.split(fence.as_str())
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap().to_string())
        .collect()
}

#[test]
fn ci_runs_the_readme_test_command_and_nothing_else() {
    let readme = readme();
    let setup = readme.split("## Set-up").nth(1).unwrap();
    let commands: Vec<&str> = setup
        .lines()
        .take_while(|l| !l.starts_with("Nothing has to be installed"))
        .filter(|l| l.starts_with("    ") && !l.trim().is_empty())
        .map(str::trim)
        .collect();
    assert_eq!(
        commands,
        ["cargo run --release -- run", "cargo test"],
        "{setup}"
    );
    let ci = std::fs::read_to_string(format!("{ROOT}/.ci/run")).unwrap();
    let steps: Vec<&str> = ci
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        steps,
        [
            "set -euo pipefail",
            "cd \"$(dirname \"$0\")/..\"",
            "export CI=true",
            "exec cargo test"
        ],
        ".ci/run may set CI=true and must run the README's command"
    );
}

#[test]
fn every_subcommand_help_says_nsr_and_the_subcommand() {
    // It runs nsr: not beside a test that counts nsr processes.
    let _g = serial();
    for sub in [
        "run",
        "doc",
        "plan",
        "check",
        "repl",
        "enter",
        "ls",
        "down",
        "gc",
        "cache ls",
        "cache clear",
        "doctor",
        "completions",
        "man",
    ] {
        let mut args: Vec<&str> = sub.split(' ').collect();
        args.push("--help");
        let r = nsr(&args);
        r.expect_code(0);
        assert_line_starts(&r.stdout, &format!("Usage: nsr {sub} "));
    }
}

#[test]
fn every_shipped_recipe_declares_the_parameters_it_reads() {
    // It runs nsr: not beside a test that counts nsr processes.
    let _g = serial();
    for entry in std::fs::read_dir(format!("{ROOT}/recipes")).unwrap() {
        let path = entry.unwrap().path().to_string_lossy().into_owned();
        let r = nsr(&["check", &path]);
        r.expect_code(0);
        assert!(
            !r.stderr.contains("warning"),
            "{path} reads a parameter it does not declare:\n{}",
            r.stderr
        );
    }
    let r = nsr(&[
        "run",
        &format!("{ROOT}/recipes/rootfs-from-tarball.nsr"),
        "--help",
    ]);
    r.expect_code(0);
    for param in ["tar ", "dir ", "cached ", "image ", "cmd "] {
        assert_line_starts(&r.stdout, &format!("  {param}"));
    }
    // The header keeps its own indentation.
    assert_line_starts(&r.stdout, "  docker export");
}

#[test]
fn check_warns_about_a_parameter_read_but_not_declared() {
    // It runs nsr: not beside a test that counts nsr processes.
    let _g = serial();
    let s = Scratch::new("undeclared");
    let body = r#"let a = args.tar;
let b = args.get("dir", "x");
if "cmd" in args { print(args["img"]); }
let c = args.declared;
if true { let args = #{ own: 1 }; print(args.own); }
"#;
    let file = s.write(
        "p.nsr",
        &format!("//! param declared=1: one it declares\n{body}"),
    );
    let r = nsr(&["check", &file]);
    r.expect_code(0);
    for (name, at) in [
        ("tar", ":2:14"),
        ("dir", ":3:18"),
        ("cmd", ":4:4"),
        ("img", ":4:31"),
    ] {
        assert!(
            r.stderr.lines().any(|l| l.contains("warning")
                && l.contains(&format!("p.nsr{at}"))
                && l.contains(&format!("parameter '{name}'"))
                && l.contains(&format!("//! param {name}[=DEFAULT]: WHAT"))),
            "no located warning for {name} at {at}:\n{}",
            r.stderr
        );
    }
    // Neither a declared one nor a variable of the recipe's own named args.
    assert!(
        !r.stderr.contains("'declared'") && !r.stderr.contains("'own'"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("ok, 4 warning(s)"), "{}", r.stderr);

    // Declared, the same reads draw no warning (so the warning above can fail).
    let header = "//! param tar: t\n//! param dir=x: d\n//! param cmd=: c\n//! param img=: i\n//! param declared=1: one\n";
    let file = s.write("q.nsr", &format!("{header}{body}"));
    let r = nsr(&["check", &file]);
    r.expect_code(0);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
}

#[test]
fn the_readme_error_example_is_what_nsr_prints() {
    let _g = serial();
    let s = Scratch::new("readme-error");
    let first = &readme_blocks("rhai")[0];
    std::fs::write(s.dir.join("box.nsr"), first).unwrap();
    let mut cmd = Command::new(NSR);
    cmd.args(["run", "box.nsr", "root=/srv/go_root"])
        .current_dir(&s.dir);
    let r = run_command(cmd);
    r.expect_code(1);
    let errors = readme().split("## Errors").nth(1).unwrap().to_string();
    let shown = errors.split("```\n").nth(1).unwrap();
    let pid = r
        .stderr
        .split("sandbox pid ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .unwrap();
    assert_eq!(r.stderr.replace(pid, "4711"), shown);
}

#[test]
fn the_readme_busybox_root_runs_the_first_example() {
    let _g = serial();
    let s = Scratch::new("readme-root");
    std::fs::write(s.dir.join("box.nsr"), &readme_blocks("rhai")[0]).unwrap();
    let script = readme_blocks("sh")[0].replace("nsr run", &format!("{NSR} run"));
    let mut cmd = Command::new("sh");
    cmd.args(["-ec", &script]).current_dir(&s.dir);
    let r = run_command(cmd);
    r.expect_code(0);
    // `hostname; echo pid $$; ls /` inside the root, then a shell with no terminal ends.
    assert_has_all(&r.stdout, &["inner", "pid 2", "bin", "proc", "tmp"]);
}

// --- nsr doctor ---------------------------------------------------------------

fn doctor_json(as_nobody: bool) -> Vec<serde_json::Value> {
    let mut cmd = if as_nobody {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", NSR]);
        c
    } else {
        Command::new(NSR)
    };
    cmd.args(["doctor", "--json"]);
    let r = run_command(cmd);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("doctor --json parses");
    v["checks"].as_array().unwrap().clone()
}

fn check<'a>(checks: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    checks
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {checks:#?}"))
}

/// v1 controllers mounted, and whether a cgroup2 is, from /proc/self/mountinfo.
fn cgroup_mounts() -> (Vec<String>, Vec<String>) {
    let mut v1 = Vec::new();
    let mut v2 = Vec::new();
    for l in std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
    {
        let point = l.split(' ').nth(4).unwrap().to_string();
        let tail: Vec<&str> = l.split(" - ").nth(1).unwrap().split(' ').collect();
        match tail[0] {
            "cgroup" => v1.extend(
                tail[2]
                    .split(',')
                    .filter(|o| !["rw", "ro", "xattr", "noprefix", "clone_children"].contains(o))
                    .filter(|o| !o.contains('='))
                    .map(str::to_string),
            ),
            "cgroup2" => v2.push(point),
            _ => {}
        }
    }
    (v1, v2)
}

/// `nsr doctor --json` as root of a new user namespace whose own limit on user
/// namespaces is MAX (user.max_user_namespaces is per user namespace).
fn doctor_in_a_user_namespace(max: &str) -> (i32, Vec<serde_json::Value>) {
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--user",
        "--map-root-user",
        "sh",
        "-c",
        &format!("echo {max} > /proc/sys/user/max_user_namespaces && exec {NSR} doctor --json"),
    ]);
    let r = run_command(cmd);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("doctor --json parses");
    (r.code, v["checks"].as_array().unwrap().clone())
}

#[test]
fn doctor_names_the_setting_that_keeps_user_namespaces_away() {
    let _g = serial();
    let (code, checks) = doctor_in_a_user_namespace("0");
    let userns = check(&checks, "user namespaces");
    assert_eq!(userns["status"], "missing", "{userns}");
    assert!(
        userns["detail"].as_str().unwrap().contains("ENOSPC"),
        "{userns}"
    );
    assert_eq!(userns["fix"], "sysctl -w user.max_user_namespaces=15000");
    assert_eq!(code, 1, "something is missing");
    // uid 0 of a user namespace is not the host's root, and doctor says so.
    let root = check(&checks, "root");
    assert_eq!(root["status"], "warn", "{root}");
    assert!(root["detail"].as_str().unwrap().contains("user namespace"));

    // With the limit raised, the same check passes: it can tell the two apart.
    let (_, checks) = doctor_in_a_user_namespace("100");
    assert_eq!(check(&checks, "user namespaces")["status"], "ok");
}

// --- completions and the man page -------------------------------------------

/// What bash's completion function, loaded from `nsr completions bash`, offers for
/// WORDS with the cursor on the last word.
fn bash_complete(words: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source <({NSR} completions bash) || exit 9\n\
         complete -p nsr >/dev/null || exit 8\n\
         COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_TYPE=9; COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}\n\
         $(complete -p nsr | sed -E 's/.*-F ([^ ]+) .*/\\1/') nsr \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words = quoted.join(" "),
        cword = words.len() - 1
    );
    let mut cmd = Command::new("bash");
    cmd.args(["--norc", "-c", &script]).current_dir(ROOT);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = run_command(cmd);
    r.expect_code(0);
    r.stdout
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_subcommands_recipes_and_limits() {
    // It runs nsr: not beside a test that counts nsr processes.
    let _g = serial();
    common::tools::ensure();
    assert_eq!(bash_complete(&["nsr", "ru"], &[]), ["run"]);
    let mut d = bash_complete(&["nsr", "do"], &[]);
    d.sort();
    assert_eq!(d, ["doc", "doctor", "down"]);
    assert_eq!(
        bash_complete(&["nsr", "run", "recipes/tu"], &[]),
        [
            "recipes/tutorial-network.nsr",
            "recipes/tutorial-sandbox.nsr"
        ]
    );
    // Only recipes (and directories to look into), not every file.
    let in_root = bash_complete(&["nsr", "check", ""], &[]);
    assert!(in_root.contains(&"recipes/".to_string()), "{in_root:?}");
    assert!(
        !in_root
            .iter()
            .any(|c| c.ends_with(".toml") || c.ends_with(".md")),
        "{in_root:?}"
    );
    assert_eq!(
        bash_complete(&["nsr", "plan", "--limit", "op"], &[]),
        ["operations="]
    );
    assert!(bash_complete(&["nsr", "run", "recipes/default.nsr", "x="], &[]).is_empty());
    // After the recipe: the parameters it declares.
    let params = bash_complete(&["nsr", "run", "recipes/rootfs-from-tarball.nsr", ""], &[]);
    for p in ["tar=", "dir=", "cached=", "image=", "cmd="] {
        assert!(params.contains(&p.to_string()), "{params:?}");
    }
    assert_eq!(
        bash_complete(&["nsr", "plan", "recipes/bridge-lab.nsr", "pre"], &[]),
        ["prefix="]
    );
}

#[test]
fn tab_in_an_interactive_bash_on_a_terminal_completes_nsr_ru_to_run() {
    // It runs nsr: not beside a test that counts nsr processes.
    let _g = serial();
    common::tools::ensure();
    let dir = std::path::Path::new(NSR)
        .parent()
        .unwrap()
        .display()
        .to_string();
    let mut shell = Command::new("script")
        .args(["-qec", "bash --norc -i", "/dev/null"])
        .env(
            "PATH",
            format!("{dir}:{}", std::env::var("PATH").unwrap_or_default()),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let screen = Screen::follow(shell.stdout.take().unwrap());
    let limit = std::time::Duration::from_secs(15);
    {
        use std::io::Write;
        let mut keys = shell.stdin.take().unwrap();
        let mut typed = |k: &[u8]| {
            keys.write_all(k).unwrap();
            keys.flush().unwrap();
        };
        // Each step once the shell shows it is done with the one before.
        // Its prompt, root's (`bash-5.2# `) or anyone's (`bash-5.2$ `).
        screen.wait_for("bash-", limit);
        typed(b"source <(nsr completions bash); echo sourced-$((1+1))\n");
        screen.wait_for("sourced-2", limit);
        // The user types `nsr ru`, Tab, then the rest of the line.
        typed(b"nsr ru\t");
        screen.wait_for("nsr run ", limit);
        typed(b"--help | head -1\n");
        screen.wait_for("Run a recipe against the kernel", limit);
        typed(b"exit\n");
    }
    let out = wait_bounded(shell, std::time::Duration::from_secs(20));
    assert!(out.status.success(), "{}", screen.text());
    // The nsr that bash asked for candidates may outlive the shell by a moment (it
    // is no child of ours): the test ends once it has.
    wait_until_gone("-- nsr ru", std::time::Duration::from_secs(10));
    let screen = screen.finish();
    assert!(screen.contains("nsr run --help"), "{screen}");
    assert!(
        screen.contains("Run a recipe against the kernel"),
        "{screen}"
    );
}

#[test]
fn zsh_and_fish_load_their_completions() {
    // It runs nsr: not beside a test that counts nsr processes.
    let _g = serial();
    common::tools::ensure();
    let zsh = nsr(&["completions", "zsh"]);
    zsh.expect_code(0);
    assert!(zsh.stdout.contains("compdef"), "{}", zsh.stdout);
    let fish = nsr(&["completions", "fish"]);
    fish.expect_code(0);
    assert!(
        fish.stdout.contains("complete") && fish.stdout.contains("nsr"),
        "{}",
        fish.stdout
    );
    // Each shell parses its script, and fish asks nsr for `nsr ru` and gets run.
    let s = Scratch::new("complete-shells");
    let z = s.write("nsr.zsh", &zsh.stdout);
    let mut c = Command::new("zsh");
    c.args(["-n", &z]);
    run_command(c).expect_code(0);
    let f = s.write("nsr.fish", &fish.stdout);
    let mut c = Command::new("fish");
    c.args([
        "--no-config",
        "-c",
        &format!("source {f}; complete -C 'nsr ru'"),
    ]);
    let r = run_command(c);
    r.expect_code(0);
    assert_line_starts(&r.stdout, "run");
    // fish does not wait for the nsr it asked: the test ends once that has.
    wait_until_gone("-- nsr ru", std::time::Duration::from_secs(10));
}

#[test]
fn the_man_page_renders_without_warnings_with_a_section_per_subcommand() {
    // It runs nsr: not beside a test that counts nsr processes.
    let _g = serial();
    common::tools::ensure();
    let page = nsr(&["man"]);
    page.expect_code(0);
    let render = |program: &str, args: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(program);
        c.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(page.stdout.as_bytes())
            .unwrap();
        Run::from(child.wait_with_output().unwrap())
    };
    let groff = render("groff", &["-man", "-Tutf8", "-ww", "-z"], &[]);
    groff.expect_code(0);
    assert_eq!(groff.stderr, "", "groff warnings");
    let man = render(
        "man",
        &["-l", "-"],
        &[
            ("MANROFFOPT", "-ww"),
            ("MANWIDTH", "100"),
            ("MAN_KEEP_STDERR", "1"),
        ],
    );
    man.expect_code(0);
    assert_eq!(man.stderr, "", "man warnings");
    for section in [
        "NAME",
        "SYNOPSIS",
        "NSR RUN",
        "NSR PLAN",
        "NSR CHECK",
        "NSR DOCTOR",
        "NSR CACHE LS",
        "NSR CACHE CLEAR",
        "NSR COMPLETIONS",
        "EXIT STATUS",
        "ENVIRONMENT",
        "SEE ALSO",
    ] {
        assert_line_starts(&man.stdout, section);
    }
    let words: Vec<&str> = man.stdout.split_whitespace().collect();
    assert!(
        words.join(" ").contains("nsr run [--limit]"),
        "{}",
        man.stdout
    );
}

/// These create namespaces, mounts or netns for real, or become another user: root.
mod as_root {
    use super::*;

    #[test]
    fn bash_completes_the_names_of_kept_environments() {
        let _g = privileged();
        let s = Scratch::new("complete-env");
        let state = s.path("state");
        std::fs::create_dir_all(&state).unwrap();
        let name = format!("{}-kept", prefix());
        let recipe = s.write("k.nsr", "let b = unshare([\"uts\"]);\n");
        let mut run = Command::new(NSR);
        run.args(["run", "--keep", "--name", &name, &recipe])
            .env("NSR_STATE_DIR", &state);
        run_command(run).expect_code(0);
        let offered = bash_complete(&["nsr", "down", ""], &[("NSR_STATE_DIR", &state)]);
        let entered = bash_complete(&["nsr", "enter", "nsrt"], &[("NSR_STATE_DIR", &state)]);
        let mut down = Command::new(NSR);
        down.args(["down", &name]).env("NSR_STATE_DIR", &state);
        run_command(down).expect_code(0);
        assert!(offered.contains(&name), "{offered:?}");
        assert_eq!(entered, std::slice::from_ref(&name));
        // Once it is down, it is no longer offered.
        let after = bash_complete(&["nsr", "down", "nsrt"], &[("NSR_STATE_DIR", &state)]);
        assert!(after.is_empty(), "{after:?}");
    }

    #[test]
    fn doctor_as_an_ordinary_user_says_what_needs_root_and_how() {
        let _g = privileged();
        let checks = doctor_json(true);
        for name in ["root", "/run/netns", "cgroup delegation"] {
            let c = check(&checks, name);
            assert_eq!(c["status"], "warn", "{c}");
            assert!(c["fix"].as_str().is_some_and(|f| !f.is_empty()), "{c}");
        }
        assert!(check(&checks, "root")["detail"]
            .as_str()
            .unwrap()
            .contains("uid 65534"));
        assert!(check(&checks, "root")["fix"]
            .as_str()
            .unwrap()
            .contains("sudo"));
        // As nobody there is no second, "unprivileged" probe: the first one is it.
        assert!(checks.iter().all(|c| c["name"] != "unprivileged userns"));
    }

    #[test]
    fn doctor_reports_what_this_machine_has() {
        let _g = privileged();
        let checks = doctor_json(false);
        for c in &checks {
            assert!(["ok", "warn", "missing"].contains(&c["status"].as_str().unwrap()));
            assert_eq!(c["status"] != "ok", c["fix"].is_string(), "{c}");
        }
        assert_eq!(check(&checks, "root")["status"], "ok");

        // cgroups: the layout and every controller, as /proc and /sys show them.
        let (v1, v2) = cgroup_mounts();
        let detail = check(&checks, "cgroups")["detail"]
            .as_str()
            .unwrap()
            .to_string();
        let kind = match (v1.is_empty(), v2.is_empty()) {
            (true, false) => "v2 (",
            (false, true) => "v1 (",
            _ => "hybrid (",
        };
        assert!(detail.starts_with(kind), "{detail}");
        if !v1.is_empty() {
            assert!(
                detail.contains(&format!("v1: {}", v1.join(", "))),
                "{detail}"
            );
        }
        for point in &v2 {
            let controllers =
                std::fs::read_to_string(format!("{point}/cgroup.controllers")).unwrap_or_default();
            let want = controllers
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(", ");
            assert!(
                detail.contains(&format!("cgroup2 at {point}: {want}")),
                "{detail}"
            );
        }
        // Root may make child groups in its own cgroup of every hierarchy it is in.
        let own_memory = std::fs::read_to_string("/proc/self/cgroup")
            .unwrap()
            .lines()
            .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.to_string()));
        let delegation = check(&checks, "cgroup delegation");
        assert_eq!(delegation["status"], "ok", "{delegation}");
        if let Some(path) = own_memory {
            let d = delegation["detail"].as_str().unwrap();
            assert!(d.contains(&format!("memory:{path}")), "{d}");
        }

        // Landlock: the ABI the kernel answers, and that it is in the LSM list.
        // SAFETY: the version query takes no pointer the kernel writes through.
        let abi = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<u8>(),
                0usize,
                1u32,
            )
        };
        let landlock = check(&checks, "landlock");
        // securityfs, where /sys/kernel/security/lsm lists the LSMs, is not always mounted.
        let lsm = std::fs::read_to_string("/sys/kernel/security/lsm").ok();
        if abi > 0 {
            assert!(
                lsm.as_ref().is_none_or(|l| l.contains("landlock")),
                "{lsm:?}"
            );
            assert!(
                landlock["detail"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("ABI {abi}: ")),
                "{landlock}"
            );
            assert_eq!(landlock["status"], "ok");
        } else {
            assert_eq!(landlock["status"], "missing");
        }

        // seccomp: the actions the kernel lists.
        let actions = std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").unwrap();
        let seccomp = check(&checks, "seccomp")["detail"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(seccomp.contains(actions.trim()), "{seccomp}");

        // User namespaces: what unshare(1) can do, for root and for nobody.
        let can = |as_nobody: bool| {
            let mut c = if as_nobody {
                let mut c = Command::new("setpriv");
                c.args([
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    "unshare",
                ]);
                c
            } else {
                Command::new("unshare")
            };
            c.args(["--user", "true"]).stderr(Stdio::null());
            c.status().unwrap().success()
        };
        let status = |ok: bool, bad: &str| {
            if ok {
                "ok".to_string()
            } else {
                bad.to_string()
            }
        };
        assert_eq!(
            check(&checks, "user namespaces")["status"],
            status(can(false), "missing")
        );
        assert_eq!(
            check(&checks, "unprivileged userns")["status"],
            status(can(true), "warn")
        );
        let max = std::fs::read_to_string("/proc/sys/user/max_user_namespaces").unwrap();
        assert!(check(&checks, "user namespaces")["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("user.max_user_namespaces={}", max.trim())));

        // The text form says the same, one line per check, and a fix under each problem.
        let text = nsr(&["doctor"]);
        for c in &checks {
            let line = format!(
                "{:<8} {:<22} {}",
                c["status"].as_str().unwrap(),
                c["name"].as_str().unwrap(),
                c["detail"].as_str().unwrap()
            );
            assert!(
                text.stdout.lines().any(|l| l == line),
                "{line}\n{}",
                text.stdout
            );
            if let Some(fix) = c["fix"].as_str() {
                assert!(text.stdout.contains(&format!("fix: {fix}")));
            }
        }
        let missing = checks.iter().any(|c| c["status"] == "missing");
        assert_eq!(text.code, i32::from(missing), "{}", text.stdout);
    }
}
