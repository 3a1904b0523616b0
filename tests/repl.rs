//! `nsr repl` on a real pseudo-terminal: type statements, complete with Tab, continue an
//! unfinished block on the next line, undo, save and re-run the saved recipe, interrupt a
//! long command with Ctrl-C, quit, and find the host as it was.

mod common;
use common::*;
use rexpect::session::PtySession;
use std::process::Command;

fn line(p: &mut PtySession, text: &str) {
    p.send_line(text).unwrap();
}

#[test]
fn a_session_is_explored_undone_saved_and_left_clean() {
    let _g = privileged();
    let s = Scratch::new("repl");
    let before = HostState::take();
    let mut p = repl_session(&s, &[]);

    // Outputs are matched on text the typed input cannot contain (the terminal echoes
    // the input, redrawn at each key): `"a" + "b"` typed, `ab` printed.

    // Tab completes a primitive's name.
    p.send("let b = unsh").unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.exp_string("unshare").unwrap();
    repl_stmt(
        &mut p,
        "([\"uts\", \"mount\", \"pid\"]); print(\"made \" + \"b\");",
        "made b",
    );
    repl_stmt(
        &mut p,
        "b.hostname(\"explorer\"); print(\"host\" + \"name set\");",
        "hostname set",
    );
    // A value prints usefully: a sandbox with its namespaces.
    repl_stmt(&mut p, "b", "(own)");

    // An unfinished block continues on the next line.
    line(&mut p, "fn twice(x) {");
    repl_stmt(&mut p, "  x * 2 } print(\"de\" + \"fined\");", "defined");
    repl_stmt(&mut p, "print(\"twice: \" + twice(21));", "twice: 42");

    // A failing statement takes back only what it made.
    line(&mut p, "let c = unshare([\"uts\"]); c.hostname(\"\");");
    p.exp_string("hostname is 1 to 64 bytes").unwrap();
    repl_stmt(&mut p, "", "undid sandbox");

    // Ctrl-C on a half-typed line cancels the line.
    p.send("let n = netns(\"half").unwrap();
    p.flush().unwrap();
    p.send_control('c').unwrap();
    // The REPL marks the cancelled line and reads a new one.
    repl_stmt(&mut p, "", "^C");
    repl_stmt(&mut p, "print(\"after \" + \"cancel\");", "after cancel");

    // :undo takes back the last statement that made something.
    let netns = format!("{}r", short_prefix());
    repl_stmt(
        &mut p,
        &format!("let n = netns(\"{netns}\"); print(\"net\" + \"ns made\");"),
        "netns made",
    );
    repl_stmt(&mut p, ":state", &format!("netns {netns}  ("));
    repl_stmt(&mut p, ":undo", &format!("undid netns {netns}"));

    // Ctrl-C stops a long command in the sandbox, not the session.
    line(&mut p, "print(\"sleep\" + \"ing\"); b.run(\"sleep 30.7\");");
    p.exp_string("sleeping").unwrap();
    // Once the command runs (not before): a Ctrl-C lost would leave it 30 s.
    wait_for_process("sleep 30.7", std::time::Duration::from_secs(15));
    p.send_control('c').unwrap();
    // The command ended by the signal; the statement is cancelled.
    repl_stmt(&mut p, "", "cancelled by SIGINT");
    repl_stmt(
        &mut p,
        "print(\"still \" + b.hostname());",
        "still explorer",
    );

    let saved = s.path("saved.nsr");
    repl_stmt(&mut p, &format!(":save {saved}"), "statement(s) to");
    repl_stmt(&mut p, ":help mount", "Mounts a filesystem in the sandbox");
    line(&mut p, ":quit");
    p.exp_string("undid sandbox").unwrap();
    p.exp_eof().unwrap();
    before.assert_unchanged("after the REPL session");

    // The saved recipe does the same when run.
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(
        !text.contains("netns("),
        "the undone statement is not saved:\n{text}"
    );
    assert!(
        !text.contains("c.hostname(\"\")"),
        "the failed statement is not saved:\n{text}"
    );
    assert!(
        !text.contains("sleep 30.7"),
        "the cancelled statement is not saved:\n{text}"
    );
    let r = nsr(&["run", &saved]);
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            "made b",
            "hostname set",
            "twice: 42",
            "after cancel",
            "still explorer",
        ],
    );
    before.assert_unchanged("after the saved recipe");

    // History persisted.
    let history = std::fs::read_to_string(s.path("history")).unwrap();
    assert!(history.contains("b.hostname(\"explorer\");"), "{history}");
}

#[test]
fn a_recipe_given_to_the_repl_runs_first_and_eof_undoes_it() {
    let _g = privileged();
    let s = Scratch::new("replfile");
    let file = s.write(
        "start.nsr",
        "let box = unshare([\"uts\"]);\nbox.hostname(\"preloaded\");\n",
    );
    let before = HostState::take();
    let more = s.write(
        "more.nsr",
        "box.hostname(\"loaded\");\nprint(\"now \" + box.hostname());\n",
    );
    let mut p = repl_session(&s, &[&file]);
    repl_stmt(
        &mut p,
        "print(\"name: \" + box.hostname())",
        "name: preloaded",
    );
    repl_stmt(&mut p, &format!(":load {more}"), "now loaded");
    repl_stmt(&mut p, ":state", "hostname loaded");
    p.send_control('d').unwrap();
    p.exp_string("undid sandbox").unwrap();
    p.exp_eof().unwrap();
    before.assert_unchanged("after Ctrl-D");
}

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn undo_takes_back_one_network_statement_at_a_time() {
    let _g = privileged();
    let s = Scratch::new("replnet");
    let sp = short_prefix();
    let before = HostState::take();
    let mut p = repl_session(&s, &[]);
    repl_stmt(
        &mut p,
        &format!("let n = netns(\"{sp}u\"); print(\"n\" + \"s ok\");"),
        "ns ok",
    );
    repl_stmt(
        &mut p,
        &format!("let l = veth(\"{sp}v\", \"eth0\", n); l.host.addr(\"10.77.0.1/24\").up(); n.addr(\"eth0\", \"10.77.0.2/24\"); n.up(\"eth0\"); n.route(\"default\", \"10.77.0.1\"); print(\"wired \" + \"up\");"),
        "wired up",
    );
    repl_stmt(
        &mut p,
        "n.ip_forward(true); n.masquerade(\"10.77.0.0/24\", \"eth0\"); print(\"na\" + \"t on\");",
        "nat on",
    );
    repl_stmt(
        &mut p,
        "n.forward(\"eth0\", \"eth0\"); print(\"for\" + \"ward on\");",
        "forward on",
    );
    // A netns prints with its links and addresses.
    repl_stmt(&mut p, "n", "eth0 (up, veth, mtu 1500, 10.77.0.2/24)");
    let rules = || {
        String::from_utf8_lossy(
            &Command::new("ip")
                .args(["netns", "exec", &format!("{sp}u"), "nft", "list", "ruleset"])
                .output()
                .unwrap()
                .stdout,
        )
        .into_owned()
    };
    assert!(rules().contains("iifname \"eth0\" oifname \"eth0\" counter packets 0 bytes 0 accept"));

    // :graph draws the session as the kernel shows it: the host's end of the veth (the
    // only host link it touched), the netns with the other end, forwarding, NAT.
    let picture = s.path("session.json");
    repl_stmt(
        &mut p,
        &format!(":graph {picture}"),
        &format!("wrote {picture}"),
    );
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&picture).unwrap()).unwrap();
    assert_eq!(g["source"], "env");
    let host = &g["namespaces"][0];
    let host_links: Vec<&str> = host["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(host_links, [format!("{sp}v").as_str()], "{g}");
    assert_eq!(host["interfaces"][0]["addrs"][0], "10.77.0.1/24");
    let netns = &g["namespaces"][1];
    assert_eq!(netns["id"], format!("netns:{sp}u"));
    assert_eq!(netns["interfaces"][0]["addrs"][0], "10.77.0.2/24", "{g}");
    assert_eq!(netns["forwarding"][0], "ipv4");
    let nat: Vec<&str> = netns["nat"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["summary"].as_str().unwrap())
        .collect();
    assert_eq!(
        nat,
        ["masquerade 10.77.0.0/24 out eth0", "forward eth0 -> eth0"],
        "{g}"
    );
    assert_eq!(g["veths"].as_array().unwrap().len(), 1, "{g}");

    // Each :undo takes back one statement for real, inside a namespace that stays.
    repl_stmt(&mut p, ":undo", "undid nft rule");
    repl_stmt(&mut p, &format!(":graph {picture}"), "wrote");
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&picture).unwrap()).unwrap();
    assert_eq!(
        g["namespaces"][1]["nat"].as_array().unwrap().len(),
        1,
        "the forward is undone: {g}"
    );
    let r = rules();
    assert!(
        !r.contains("oifname \"eth0\" counter") && r.contains("masquerade"),
        "{r}"
    );
    repl_stmt(&mut p, ":undo", "undid net/ipv4/ip_forward=1");
    assert!(rules().trim().is_empty(), "the table is gone: {}", rules());
    repl_stmt(&mut p, ":undo", &format!("undid veth {sp}v"));
    assert!(!ip(&["-o", "link"]).contains(&format!("{sp}v")));
    let inside = ip(&["-n", &format!("{sp}u"), "-o", "link"]);
    assert!(
        inside.contains("lo") && !inside.contains("eth0"),
        "{inside}"
    );
    assert!(
        ip(&["netns", "list"]).contains(&format!("{sp}u")),
        "the netns statement stays"
    );
    repl_stmt(&mut p, ":undo", &format!("undid netns {sp}u"));
    repl_stmt(&mut p, ":undo", "nothing to undo");
    line(&mut p, ":quit");
    p.exp_eof().unwrap();
    before.assert_unchanged("after undoing a network step by step");
}

#[test]
fn keep_hands_the_session_over_to_an_environment() {
    let _g = privileged();
    let s = Scratch::new("replkeep");
    let before = HostState::take();
    let mut p = repl_session(&s, &[]);
    repl_stmt(&mut p, "let b = unshare([\"uts\", \"mount\"]); b.hostname(\"from-repl\"); print(\"re\" + \"ady\");", "ready");
    line(&mut p, ":keep");
    p.exp_string("is kept").unwrap();
    p.exp_eof().unwrap();
    let ls = nsr(&["ls"]);
    let name = ls
        .stdout
        .lines()
        .find(|l| l.starts_with("repl-") && l.contains("kept"))
        .and_then(|l| l.split_whitespace().next())
        .expect("the kept REPL environment")
        .to_string();
    let r = nsr(&["enter", &name, "--", "hostname"]);
    assert_eq!(r.stdout.trim(), "from-repl");
    nsr(&["down", &name]).expect_code(0);
    before.assert_unchanged("after a kept REPL session taken down");
}

#[test]
fn plan_previews_a_statement_and_does_nothing() {
    let _g = privileged();
    let s = Scratch::new("replplan");
    let before = HostState::take();
    let mut p = repl_session(&s, &[]);
    let name = format!("{}pq", short_prefix());
    repl_stmt(
        &mut p,
        "let b = unshare([\"uts\", \"mount\"]); print(\"made \" + \"b\");",
        "made b",
    );
    // A statement on a live sandbox, previewed: its commands and its undo.
    repl_stmt(
        &mut p,
        ":plan b.mount(\"tmpfs\", \"/mnt\", \"tmpfs\");",
        "umount -l /mnt",
    );
    repl_stmt(
        &mut p,
        &format!(":plan netns(\"{name}\");"),
        "rollback, newest first",
    );
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(
        !String::from_utf8_lossy(&list.stdout).contains(&name),
        ":plan made nothing"
    );
    repl_stmt(&mut p, ":state", "1. sandbox");
    repl_stmt(&mut p, ":plan", ":plan needs a statement");
    repl_stmt(&mut p, ":plan b.mount(", "syntax error");
    line(&mut p, ":quit");
    p.exp_string("undid sandbox").unwrap();
    p.exp_eof().unwrap();
    before.assert_unchanged("after :plan in the REPL");
}

#[test]
fn rollback_takes_everything_back_and_the_session_goes_on() {
    let _g = privileged();
    let s = Scratch::new("replrollback");
    let sp = short_prefix();
    let before = HostState::take();
    let mut p = repl_session(&s, &[]);
    // The REPL is one nsr process more than before; nothing else.
    let open = HostState::take();
    repl_stmt(
        &mut p,
        &format!("let n = netns(\"{sp}r\"); let b = unshare([\"uts\"]); b.hostname(\"rb\"); print(\"ma\" + \"de\");"),
        "made",
    );
    let netns_listed = || {
        String::from_utf8_lossy(
            &Command::new("ip")
                .args(["netns", "list"])
                .output()
                .unwrap()
                .stdout,
        )
        .lines()
        .any(|l| l.split(' ').next() == Some(&format!("{sp}r")))
    };
    assert!(netns_listed());
    repl_stmt(&mut p, ":rollback", "undid netns");
    // Everything is back as it was, while the session is still open ...
    assert!(!netns_listed());
    open.assert_unchanged("after :rollback, the REPL still running");
    // ... and it goes on: the names are free again.
    repl_stmt(
        &mut p,
        &format!("let n = netns(\"{sp}r\"); print(\"ag\" + \"ain\");"),
        "again",
    );
    assert!(netns_listed());
    line(&mut p, ":quit");
    p.exp_eof().unwrap();
    before.assert_unchanged("after the REPL");
}
