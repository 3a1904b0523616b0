//! The standard library (stdlib/, written in nsr) against the kernel, and every recipe
//! under recipes/ run end to end; the host snapshot is the same afterwards each time.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

/// Each recipe and the test that runs it end to end; a recipe added without one fails.
const RECIPE_TESTS: &[(&str, &str)] = &[
    (
        "default.nsr",
        "sandbox.rs the_default_recipe_runs_with_nothing_but_the_binary",
    ),
    (
        "tutorial-sandbox.nsr",
        "sandbox.rs the_tutorial_recipe_runs_on_a_busybox_root",
    ),
    (
        "tutorial-network.nsr",
        "network.rs the_tutorial_network_reaches_a_server_through_nat_and_leaves_nothing",
    ),
    (
        "rootfs-from-tarball.nsr",
        "rootfs.rs the_tarball_recipe_runs_the_tutorial_flow_three_ways",
    ),
    (
        "bridge-lab.nsr",
        "stdlib.rs the_bridge_lab_recipe_serves_and_fetches",
    ),
    (
        "rootless-sandbox.nsr",
        "stdlib.rs the_rootless_recipe_runs_as_an_ordinary_user",
    ),
    (
        "rootless-web.nsr",
        "pasta.rs the_rootless_web_recipe_serves_its_page_until_nsr_down",
    ),
    (
        "vxlan-lab.nsr",
        "vxlan.rs as_root_a_lab_split_across_two_machines_shares_one_segment_through_the_tunnel",
    ),
];

#[test]
fn every_recipe_has_a_header_and_an_end_to_end_test() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/recipes");
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".nsr"))
        .collect();
    found.sort();
    let mut covered: Vec<String> = RECIPE_TESTS.iter().map(|(r, _)| r.to_string()).collect();
    covered.sort();
    assert_eq!(
        found, covered,
        "recipes/ and the list of their tests differ"
    );
    for (recipe, test) in RECIPE_TESTS {
        let text = std::fs::read_to_string(format!("{dir}/{recipe}")).unwrap();
        assert!(
            text.starts_with(&format!("// {recipe}: ")),
            "{recipe} starts with a header saying what it shows"
        );
        assert!(text.contains("Run"), "{recipe}'s header says how to run it");
        let (file, name) = test.split_once(' ').unwrap();
        let source =
            std::fs::read_to_string(format!("{}/tests/{file}", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        assert!(
            source.contains(&format!("fn {name}(")),
            "{recipe}: no test {test}"
        );
    }
}

/// These create namespaces, mounts or netns for real, or become another user: root.
mod as_root {
    use super::*;

    #[test]
    fn fs_and_box_make_a_ready_container_from_host_binaries_or_a_root() {
        let _g = privileged();
        let s = Scratch::new("stdbox");
        let root = s.busybox_root("bbroot");
        let before = HostState::take();
        let r = run_recipe(
            &s,
            "box.nsr",
            r#"
    import "box" as box;
    let b = box::ready(#{ dir: args.dir, hostname: "minimal" });
    print(b.run("hostname; ls /dev | tr '\n' ' '; echo; echo ok > /dev/null && echo devnull-ok; cat /proc/1/comm; ls /usr/bin/env; grep -c devpts /proc/self/mounts; touch /usr/x 2>/dev/null || echo usr-read-only; touch /tmp/x && echo tmp-ok", #{ check: true }).stdout);
    let c = box::ready(#{ root: args.root, hostname: "from-root", net: false });
    print(c.run("hostname; ls /bin/busybox", #{ check: true }).stdout);
    "#,
            &[
                &format!("dir={}", s.path("minimal")),
                &format!("root={root}"),
            ],
        );
        r.expect_code(0);
        assert_has_all(
            &r.stdout,
            &[
                "minimal\n",
                // The /dev listing, as words: not matched inside "devnull-ok".
                " null ",
                " ptmx ",
                " pts ",
                " shm ",
                " urandom ",
                "devnull-ok",
                "nsr-holder",
                "/usr/bin/env",
                "usr-read-only",
                "tmp-ok",
                "from-root",
                "/bin/busybox",
            ],
        );
        assert!(
            !std::path::Path::new(&s.path("minimal")).exists(),
            "the minimal root is removed"
        );
        before.assert_unchanged("after box::ready");
    }

    #[test]
    fn net_nat_puts_a_sandbox_behind_a_masquerading_router() {
        let _g = privileged();
        let s = Scratch::new("stdnat");
        let before = HostState::take();
        let r = run_recipe(
            &s,
            "nat.nsr",
            r#"
    import "net" as net;
    let router = netns(args.p + "rt");
    let wan = netns(args.p + "wan");
    let up = net::p2p(router, wan, "198.51.100.0/30");
    let inside = unshare(#{ kinds: ["net", "mount", "pid"] });
    let lan = net::nat(router, inside, "10.93.0.0/30", up.a_dev);
    let server = unshare(#{ kinds: ["mount", "pid"], net: wan });
    server.mount("tmpfs", "/tmp", "tmpfs");
    server.run("mkdir -p /tmp/w/cgi-bin && printf '#!/bin/sh\\necho\\necho $REMOTE_ADDR\\n' > /tmp/w/cgi-bin/ip && chmod +x /tmp/w/cgi-bin/ip && busybox httpd -p 80 -h /tmp/w", #{ check: true });
    let got = inside.run("for i in $(seq 20); do out=$(printf 'GET /cgi-bin/ip HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 1 198.51.100.2 80) && [ -n \"$out\" ] && { echo \"$out\" | tail -n 1; exit 0; }; sleep 0.05; done; exit 1", #{ check: true });
    print("inside " + lan.inside + " seen as " + got.stdout);
    "#,
            &[&format!("p={}", short_prefix())],
        );
        r.expect_code(0);
        assert_has_all(
            &r.stdout,
            &["inside 10.93.0.2/30 seen as [::ffff:198.51.100.1]"],
        );
        before.assert_unchanged("after net::nat");
    }

    #[test]
    fn net_p2p_and_segment_connect_what_they_say() {
        let _g = privileged();
        let s = Scratch::new("stdnet");
        let before = HostState::take();
        let r = run_recipe(
            &s,
            "net.nsr",
            r#"
    import "net" as net;
    let a = netns(args.p + "a");
    let b = netns(args.p + "b");
    let link = net::p2p(a, b, "10.91.0.0/30");
    let again = net::p2p(a, b, "10.91.0.4/30");
    print("p2p " + link.a + " " + link.b + " " + again.a_dev);
    let on_a = unshare(#{ kinds: ["mount", "pid"], net: a });
    on_a.run("busybox ping -q -c 3 -i 0.2 -W 2 10.91.0.2 && busybox ping -q -c 3 -i 0.2 -W 2 10.91.0.6", #{ check: true });
    print("p2p pings");

    let sw = netns(args.p + "sw");
    let hosts = [netns(args.p + "h1"), netns(args.p + "h2"), unshare(#{ kinds: ["net", "mount", "pid"] })];
    let seg = net::segment(sw, hosts, "10.92.0.0/24");
    print("segment " + seg.gateway + " " + seg.hosts);
    let on_h1 = unshare(#{ kinds: ["mount", "pid"], net: hosts[0] });
    on_h1.run("busybox ping -q -c 3 -i 0.2 -W 2 10.92.0.4 && busybox ping -q -c 3 -i 0.2 -W 2 10.92.0.1", #{ check: true });
    print("segment pings");
    "#,
            &[&format!("p={}", short_prefix())],
        );
        r.expect_code(0);
        assert_has_all(
            &r.stdout,
            &[
                "p2p 10.91.0.1/30 10.91.0.2/30 p2p1",
                "p2p pings",
                "segment 10.92.0.1/24 [\"10.92.0.2/24\", \"10.92.0.3/24\", \"10.92.0.4/24\"]",
                "segment pings",
            ],
        );
        before.assert_unchanged("after net::p2p and net::segment");
    }

    #[test]
    fn the_bridge_lab_recipe_serves_and_fetches() {
        let _g = privileged();
        let before = HostState::take();
        let recipe = concat!(env!("CARGO_MANIFEST_DIR"), "/recipes/bridge-lab.nsr");
        let r = nsr(&[
            "run",
            recipe,
            &format!("p={}", short_prefix()),
            "prefix=10.94.0.0/24",
        ]);
        r.expect_code(0);
        assert_has_all(
            &r.stdout,
            &[
                "segment 10.94.0.0/24",
                "client fetched: server saw [::ffff:10.94.0.3]",
            ],
        );
        before.assert_unchanged("after the bridge lab");
    }

    #[test]
    fn the_rootless_recipe_runs_as_an_ordinary_user() {
        let _g = privileged();
        let s = Scratch::new("rootlessrecipe");
        let bin = s.path("nsr");
        std::fs::copy(NSR, &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let before = HostState::take();
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "--",
        ])
        .arg(&bin)
        .args([
            "run",
            concat!(env!("CARGO_MANIFEST_DIR"), "/recipes/rootless-sandbox.nsr"),
            "name=nobodys",
        ])
        .current_dir("/");
        let r = run_command(cmd);
        r.expect_code(0);
        assert_has_all(
            &r.stdout,
            &[
                "uid inside: 0, hostname: nobodys",
                "links: lo",
                "lo is up",
                "private /tmp: writable",
            ],
        );
        before.assert_unchanged("after the rootless recipe");
    }
}
