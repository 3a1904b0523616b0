//! The binary users run is the release build (optimized, `panic = "abort"`, static, no
//! debug assertions), while the other tests drive the debug build. This builds the
//! `smoke` profile (the release profile without optimization, so CI can afford it: see
//! Cargo.toml) and runs every subcommand with it once, as a user would.

mod common;
use common::*;
use std::process::Command;

/// `cargo build --profile smoke` (its own lock: it runs beside this `cargo test`) and
/// the binary's path.
fn smoke_binary() -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(cargo)
        .args(["build", "--quiet", "--profile", "smoke", "--bin", "nsr"])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the smoke build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!("{root}/target/x86_64-unknown-linux-gnu/smoke/nsr")
}

#[test]
fn the_release_build_runs_every_subcommand() {
    let _g = privileged();
    let bin = smoke_binary();
    let s = Scratch::new("release");
    let state = private_state(&s);
    let run = |args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]| -> Run {
        let mut cmd = Command::new(&bin);
        cmd.args(args).env("NSR_STATE_DIR", &state);
        for (k, v) in env {
            cmd.env(k, v);
        }
        match stdin {
            None => run_command(cmd),
            Some(text) => {
                use std::io::Write;
                use std::process::Stdio;
                let mut child = cmd
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(text.as_bytes())
                    .unwrap();
                Run::from(wait_bounded(child, std::time::Duration::from_secs(60)))
            }
        }
    };
    // It is the static binary users get: no program interpreter (PT_INTERP) to load it.
    let elf = std::fs::read(&bin).unwrap();
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    let interp = (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) == 3
    });
    assert!(phnum > 0 && !interp, "{bin} needs a dynamic loader");
    let recipe = s.write(
        "r.nsr",
        "//! param word=hi: what to say\nlet b = unshare([\"uts\", \"pid\", \"mount\"]);\nb.hostname(\"smoke\");\nprint(b.run(\"hostname\").stdout + args.word);\n",
    );
    // The main job, exactly as the README runs it (as root: the network part too).
    let demo = format!("prefix={}-smoke", short_prefix());
    let r = run(&["run", &demo], None, &[]);
    r.expect_code(0);
    assert_has_all(&r.stdout, &["inside the sandbox", "hostname: nsr-demo"]);
    let r = run(&["run", &recipe, "word=there"], None, &[]);
    r.expect_code(0);
    assert_eq!(r.stdout, "smoke\nthere\n");
    // The crash switch of the tests is not in what users run.
    let r = run(&["run", &recipe], None, &[("NSR_CRASH_AFTER", "1")]);
    r.expect_code(0);
    // A bad recipe: a located error, no panic, no backtrace.
    let bad = s.write(
        "bad.nsr",
        "let b = unshare([\"uts\"]);\nb.hostname(\"\");\n",
    );
    let r = run(&["run", &bad], None, &[]);
    r.expect_code(1);
    assert_has_all(&r.stderr, &["bad.nsr:2:3", "rollback: 1 step(s)"]);
    for (args, wants) in [
        (vec!["plan", recipe.as_str()], "hostname smoke"),
        (vec!["check", recipe.as_str()], ""),
        (vec!["doc"], "unshare("),
        (vec!["doc", "net"], "net::p2p"),
        (vec!["doctor"], "root"),
        (vec!["completions", "bash"], "complete"),
        (vec!["man"], ".TH"),
        (vec!["cache", "ls"], "cache:"),
        (vec!["gc"], ""),
        (vec!["ls"], ""),
        (vec!["run", recipe.as_str(), "--help"], "word"),
    ] {
        let r = run(&args, None, &[]);
        r.expect_code(0);
        assert!(r.stdout.contains(wants), "{args:?}:\n{}", r.stdout);
    }
    let r = run(
        &["repl"],
        Some(
            "let b = unshare([\"uts\"]);\nb.hostname(\"in-repl\");\nprint(b.hostname());\n:undo\n",
        ),
        &[],
    );
    r.expect_code(0);
    assert_has_all(&r.stdout, &["in-repl"]);
    assert_has_all(&r.stderr, &["undid hostname in-repl"]);
    let name = format!("{}-release", prefix());
    run(&["run", "--keep", "--name", &name, &recipe], None, &[]).expect_code(0);
    let r = run(&["enter", &name, "--", "hostname"], None, &[]);
    r.expect_code(0);
    assert_eq!(r.stdout.trim(), "smoke");
    run(&["down", &name], None, &[]).expect_code(0);
}
