//! The host snapshot every privileged test compares (tests/common: HostState) sees each
//! kind of leftover: made by hand here, each must show in the snapshot and go with its
//! removal. A snapshot that lost a section would let every other test pass blind.

mod common;
use common::*;
use std::process::Command;

fn sh(cmd: &str) {
    let st = Command::new("sh").args(["-c", cmd]).status().unwrap();
    assert!(st.success(), "{cmd}");
}

/// Runs its commands on drop: the cleanup happens even when an assertion fails.
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in self.0.iter().rev() {
            let _ = Command::new("sh").args(["-c", c]).status();
        }
    }
}

/// `make` shows in the snapshot (in a line starting with `section`), `unmake` removes it.
fn seen(what: &str, section: &str, make: &str, unmake: &str, cleanup: &mut Cleanup) {
    let before = HostState::take();
    sh(make);
    cleanup.0.push(unmake.to_string());
    let after = HostState::take();
    let new: Vec<_> = after.lines.difference(&before.lines).collect();
    assert!(
        new.iter().any(|l| l.starts_with(section)),
        "{what}: the snapshot did not see it (new lines: {new:#?})"
    );
    sh(unmake);
    cleanup.0.pop();
    before.assert_unchanged(&format!("{what} removed"));
}

#[test]
fn the_host_snapshot_sees_every_kind_of_leftover() {
    let _g = privileged();
    let s = Scratch::new("snapshot");
    let p = short_prefix();
    let mut c = Cleanup(Vec::new());
    let mnt = s.path("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let state = std::env::var("NSR_STATE_DIR").unwrap();
    let cgroup = format!("{}/nsr-{p}-snapshot-0", cgroup2_mount());
    let marker = format!("31.{}", std::process::id());
    // `ip netns add` makes /run/netns a mount of its own the first time: taken back
    // with the last netns when it was not one before.
    let run_netns_was_mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some("/run/netns"));
    let unmount_run_netns = if run_netns_was_mounted {
        String::new()
    } else {
        " && { [ -n \"$(ls -A /run/netns)\" ] || umount /run/netns; }".to_string()
    };
    let cache_existed = std::path::Path::new("/var/cache/nsr/rootfs").exists();
    // A link the rest builds on, there before each snapshot below.
    sh(&format!("ip link add {p}sd type bridge"));
    c.0.push(format!("ip link del {p}sd"));
    let cases: Vec<(&str, &str, String, String)> = vec![
        ("a link", "link: ", format!("ip link add {p}sx type bridge"), format!("ip link del {p}sx")),
        ("a device node", "dev: ", format!("mknod -m 600 /dev/{p}sdev c 1 3"), format!("rm /dev/{p}sdev")),
        ("an address", "addr: ", format!("ip addr add 10.254.77.1/32 dev {p}sd"), format!("ip addr del 10.254.77.1/32 dev {p}sd")),
        ("a route", "route: ", "ip route add blackhole 10.254.78.0/24".into(), "ip route del blackhole 10.254.78.0/24".into()),
        ("a named netns", "netns: ", format!("ip netns add {p}sn"), format!("ip netns del {p}sn{unmount_run_netns}")),
        ("an nft table", "nft: ", format!("nft add table inet {p}st"), format!("nft delete table inet {p}st")),
        ("a mount", "mount: ", format!("mount -t tmpfs tmpfs {mnt}"), format!("umount {mnt}")),
        ("a per-interface sysctl", "sysctl: ", format!("sysctl -qw net.ipv4.conf.{p}sd.proxy_arp=1"), format!("sysctl -qw net.ipv4.conf.{p}sd.proxy_arp=0")),
        ("a cgroup of nsr's", "cgroup: ", format!("mkdir {cgroup}"), format!("rmdir {cgroup}")),
        ("a journal", "state: ", format!("mkdir {state}/{p}-snapshot"), format!("rmdir {state}/{p}-snapshot")),
        (
            "an entry of root's root cache",
            "cache: ",
            format!("mkdir -p /var/cache/nsr/rootfs/{p}-snapshot"),
            // The directories go too when the test made them.
            format!("rmdir /var/cache/nsr/rootfs/{p}-snapshot{}", if cache_existed { "" } else { " /var/cache/nsr/rootfs /var/cache/nsr" }),
        ),
        (
            "a process in namespaces of its own",
            "process: ",
            format!("unshare --uts --fork --kill-child sleep {marker} > /dev/null 2>&1 < /dev/null & echo $! > {}", s.path("pid")),
            // unshare(1) ignores SIGTERM; its child goes with it (--kill-child).
            format!("p=$(cat {}); kill -KILL $p; while [ -e /proc/$p ]; do sleep 0.01; done", s.path("pid")),
        ),
    ];
    for (what, section, make, unmake) in &cases {
        seen(what, section, make, unmake, &mut c);
    }
    // Inside a netns that outlives the test (someone else's, say): its rules too.
    sh(&format!("ip netns add {p}so"));
    c.0.push(format!("ip netns del {p}so{unmount_run_netns}"));
    seen(
        "an nft table inside a named netns",
        &format!("netns {p}so: "),
        &format!("ip netns exec {p}so nft add table inet {p}si"),
        &format!("ip netns exec {p}so nft delete table inet {p}si"),
        &mut c,
    );
    drop(c);
}
