//! `nsr down` and `nsr ls`/`enter` after things went away behind nsr's back: a link that
//! vanished after a crash, a kept environment whose holder was killed.

mod common;

use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::process::Command;

#[test]
fn down_after_a_crash_takes_an_address_of_a_vanished_link_as_gone_with_it() {
    let _g = privileged();
    let s = Scratch::new("vanished");
    let sp = short_prefix();
    let file = s.write(
        "v.nsr",
        "let pair = veth(args.p + \"a\", args.p + \"b\");\npair.host.addr(\"10.97.0.1/24\").up();\nlet h = unshare([\"uts\"]);\nprint(\"made\");\nh.run(\"sleep 30\");\n",
    );
    let name = format!("{}-vanished", prefix());
    let before = HostState::take();
    let p_arg = format!("p={sp}");
    let (mut child, line, _out) = start_nsr(&[
        "run",
        "--name",
        name.as_str(),
        file.as_str(),
        p_arg.as_str(),
    ]);
    assert_eq!(line.trim(), "made");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    let _ = child.wait();
    // The link goes before `down` gets to its address (as when its netns went).
    let gone = Command::new("ip")
        .args(["link", "del", &format!("{sp}a")])
        .status()
        .unwrap();
    assert!(gone.success());
    let r = nsr(&["down", &name]);
    r.expect_code(0);
    assert!(!r.stderr.contains("FAILED"), "{}", r.stderr);
    assert!(r.stderr.contains("is down"), "{}", r.stderr);
    before.assert_unchanged("after the vanished link's environment went down");
}

#[test]
fn a_kept_environment_whose_holder_was_killed_is_left_over_and_enter_says_why() {
    let _g = privileged();
    let s = Scratch::new("killed-holder");
    let file = s.write(
        "k.nsr",
        "let b = unshare([\"uts\", \"mount\"]);\nb.hostname(\"kept\");\n",
    );
    let name = format!("{}-dead", prefix());
    nsr(&["run", "--keep", "--name", &name, &file]).expect_code(0);
    let holder = alive_sandboxes(&nsr(&["ls", "--json"]), &name)[0];
    let text = nsr(&["ls"]);
    assert!(
        text.stdout
            .lines()
            .any(|l| l.starts_with(&name) && l.contains(" kept ")),
        "{}",
        text.stdout
    );
    kill(Pid::from_raw(holder), Signal::SIGKILL).unwrap();
    // Gone once init has reaped it (it is no child of ours): then ls must see it so.
    let start = std::time::Instant::now();
    while std::path::Path::new(&format!("/proc/{holder}")).exists() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "holder {holder} lives on"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let text = nsr(&["ls"]);
    assert!(
        text.stdout
            .lines()
            .any(|l| l.starts_with(&name) && l.contains("LEFT OVER")),
        "{}",
        text.stdout
    );
    let r = nsr(&["enter", &name, "--", "true"]);
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[
            "no longer running",
            "holder was killed",
            &format!("nsr down {name}"),
        ],
    );
    nsr(&["down", &name]).expect_code(0);
}
