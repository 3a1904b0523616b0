//! Networking against the real kernel: named netns, veth pairs, bridges, addresses,
//! routes, forwarding and NAT. Every packet stays between namespaces the test (or its
//! recipe) created: a "wan" netns with a server stands for the internet.

mod common;
use common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::process::Command;
use std::time::Duration;

const TUTORIAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/recipes/tutorial-network.nsr");

#[test]
fn the_tutorial_network_reaches_a_server_through_nat_and_leaves_nothing() {
    let _g = privileged();
    let before = HostState::take();
    let p = format!("prefix={}", short_prefix());
    let r = nsr(&["run", TUTORIAL, &p]);
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            "default via 172.16.99.1 dev eth0",
            // The server saw the router's wan address: the masquerade really happened.
            "the server saw the sandbox as: 203.0.113.1",
            // And the port forward brought the server's request to the sandbox.
            "the sandbox saw the server as: 203.0.113.2",
            // A port forward also catches the router's own connections to its address.
            "from the router itself, the sandbox saw: 203.0.113.1",
        ],
    );
    before.assert_unchanged("after the tutorial network recipe");
}

/// A sandbox behind a router netns, a wan netns with a server; `nat` says whether the
/// router masquerades. Prints what the sandbox's fetch got.
const NAT_WORLD: &str = r#"
let p = args.p;
let lan = netns(p + "lan");
let router = netns(p + "rt");
let wan = netns(p + "wan");
let inside = router.veth(p + "in", "eth0", lan);
inside.host.addr("10.66.0.1/24").up();
lan.addr("eth0", "10.66.0.2/24"); lan.up("eth0"); lan.up("lo");
lan.route("default", "10.66.0.1");
let outside = router.veth(p + "out", "eth0", wan);
outside.host.addr("198.51.100.1/24").up();
wan.addr("eth0", "198.51.100.2/24"); wan.up("eth0"); wan.up("lo");
router.ip_forward(true);
let server = unshare(#{ kinds: ["mount", "pid"], net: wan });
server.mount("tmpfs", "/tmp", "tmpfs");
server.run("mkdir -p /tmp/w/cgi-bin && printf '#!/bin/sh\\necho\\necho $REMOTE_ADDR\\n' > /tmp/w/cgi-bin/ip && chmod +x /tmp/w/cgi-bin/ip && busybox httpd -p 80 -h /tmp/w", #{ check: true });
let client = unshare(#{ kinds: ["mount", "pid"], net: lan });
fn fetch(box) {
    box.run("for i in $(seq 10); do out=$(printf 'GET /cgi-bin/ip HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 1 198.51.100.2 80) && [ -n \"$out\" ] && { echo \"$out\" | tail -n 1; exit 0; }; sleep 0.05; done; exit 1")
}
let before = fetch(client);
print("without nat: ok=" + before.ok);
router.masquerade("10.66.0.0/24", p + "out");
let after = fetch(client);
print("with nat: ok=" + after.ok + " seen=" + after.stdout);
"#;

#[test]
fn only_the_masquerade_makes_the_server_reachable_and_it_sees_the_router() {
    let _g = privileged();
    let s = Scratch::new("natworld");
    let before = HostState::take();
    let p = format!("p={}", short_prefix());
    let r = run_recipe(&s, "nat.nsr", NAT_WORLD, &[&p]);
    r.expect_code(0);
    // wan has no route back to 10.66.0.0/24: unreachable until the router masquerades.
    assert_has_all(
        &r.stdout,
        &[
            "without nat: ok=false",
            "with nat: ok=true seen=[::ffff:198.51.100.1]",
        ],
    );
    before.assert_unchanged("after the NAT world");
}

/// The tutorial's network steps, each followed by `gate`, which throws at step k. The
/// comment is the number of journal entries once the step is done.
const NETWORK_STEPS: &str = r#"
fn gate(n, k) { if n == k { throw "injected failure at step " + n; } n + 1 }
let k = parse_int(args.k);
let p = args.p;
let n = 1;
let net = netns(p + "net"); n = gate(n, k);                                   // 1
let router = netns(p + "rt"); n = gate(n, k);                                 // 2
let link = router.veth(p + "v0", "eth0", net); n = gate(n, k);                // 3
link.host.addr("172.16.99.1/24"); n = gate(n, k);                             // 4
link.host.up(); n = gate(n, k);                                               // 5
net.addr("eth0", "172.16.99.100/24"); n = gate(n, k);                         // 6
net.up("eth0"); net.up("lo"); n = gate(n, k);                                 // 8
net.route("default", "172.16.99.1"); n = gate(n, k);                          // 9
router.ip_forward(true); n = gate(n, k);                                      // 10
router.masquerade("172.16.99.0/24", p + "v0"); n = gate(n, k);                // 11
router.forward(p + "v0", p + "v0"); n = gate(n, k);                           // 12
let br = bridge(p + "br"); n = gate(n, k);                                    // 13
let pair = veth(p + "h0", p + "h1"); n = gate(n, k);                          // 14
br.attach(pair.host); n = gate(n, k);                                         // 15
pair.peer.move_to(net); n = gate(n, k);                                       // 16
let box = unshare(#{ kinds: ["mount", "pid"], net: net }); n = gate(n, k);    // 17
box.run("busybox ping -q -c 3 -i 0.2 -W 2 172.16.99.1", #{ check: true }); n = gate(n, k); // 17
box.links(); net.addrs(); routes(); n = gate(n, k);                           // 17
"#;
const UNDO_AFTER_STEP: [usize; 18] = [
    1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 17, 17,
];

#[test]
fn failing_at_every_network_step_rolls_back_exactly_what_was_done() {
    let _g = privileged();
    let s = Scratch::new("netsweep");
    let file = s.write("sweep.nsr", NETWORK_STEPS);
    let p = format!("p={}", short_prefix());
    let before = HostState::take();
    for k in 1..=UNDO_AFTER_STEP.len() + 1 {
        let ks = format!("k={k}");
        let r = nsr(&["run", &file, &ks, &p]);
        if k > UNDO_AFTER_STEP.len() {
            r.expect_code(0);
        } else {
            r.expect_code(1);
            let want = format!("rollback: {} step(s)", UNDO_AFTER_STEP[k - 1]);
            assert!(
                r.stderr.contains(&want),
                "step {k}: want {want}\n{}",
                r.stderr
            );
        }
        assert!(!r.stderr.contains("FAILED"), "step {k}:\n{}", r.stderr);
        before.assert_unchanged(&format!("network failure at step {k}"));
    }
}

#[test]
fn sigint_in_the_middle_of_a_network_recipe_rolls_it_back() {
    let _g = privileged();
    let s = Scratch::new("netsigint");
    let file = s.write(
        "int.nsr",
        r#"
let net = netns(args.p + "net");
let l = veth(args.p + "v0", "eth0", net);
l.host.addr("10.55.0.1/24").up();
net.addr("eth0", "10.55.0.2/24"); net.up("eth0");
net.ip_forward(true);
net.masquerade("10.55.0.0/24", "eth0");
let box = unshare(#{ kinds: ["mount", "pid"], net: net });
print("ready");
box.run("sleep 30");
"#,
    );
    let before = HostState::take();
    let p = format!("p={}", short_prefix());
    let (child, line, _) = start_nsr(&["run", &file, &p]);
    assert_eq!(line.trim(), "ready");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let r = Run::from(wait_bounded(child, Duration::from_secs(20)));
    r.expect_code(130);
    assert_has_all(&r.stderr, &["SIGINT", "undid netns"]);
    before.assert_unchanged("after SIGINT");
    // It rolled back itself: no environment is left for `nsr down`.
    let ls = nsr(&["ls"]);
    assert!(ls.stdout.contains("no environments"), "{}", ls.stdout);
}

/// Sets up a sandbox network, says "ready", waits for the gate file, then pings again.
const HOLDING: &str = r#"
let net = netns(args.p + "net");
let l = veth(args.p + "v0", "eth0", net);
l.host.addr(args.net + ".1/24").up();
net.addr("eth0", args.net + ".2/24"); net.up("eth0");
let box = unshare(#{ kinds: ["mount", "pid"], net: net });
box.run("busybox ping -q -c 3 -i 0.2 -W 2 " + args.net + ".1", #{ check: true });
print("ready");
box.run("while [ ! -e " + args.gate + " ]; do sleep 0.02; done");
box.run("busybox ping -q -c 3 -i 0.2 -W 2 " + args.net + ".1", #{ check: true });
print("still fine");
"#;

#[test]
fn runs_side_by_side_do_not_interfere_and_a_name_clash_fails_cleanly() {
    let _g = privileged();
    let s = Scratch::new("sidebyside");
    let file = s.write("hold.nsr", HOLDING);
    let gate = s.path("gate");
    let before = HostState::take();
    let start = |prefix: &str, net: &str| {
        let (child, line, out) = start_nsr(&[
            "run".to_string(),
            file.clone(),
            format!("p={prefix}"),
            format!("net={net}"),
            format!("gate={gate}"),
        ]);
        assert_eq!(line.trim(), "ready");
        (child, out)
    };
    let a = format!("{}a", short_prefix());
    let b = format!("{}b", short_prefix());
    let (run_a, mut out_a) = start(&a, "10.61.0");
    let (run_b, mut out_b) = start(&b, "10.62.0");

    // The same names as run A while A is up: refused, and A's resources are left alone.
    let clash = nsr(&[
        "run",
        &file,
        &format!("p={a}"),
        "net=10.63.0",
        &format!("gate={gate}"),
    ]);
    clash.expect_code(1);
    assert_has_all(
        &clash.stderr,
        &[
            "network namespace '",
            "already exists",
            "EEXIST",
            "hold.nsr:2:",
        ],
    );
    assert!(!clash.stderr.contains("FAILED"), "{}", clash.stderr);

    std::fs::write(&gate, "").unwrap();
    for (child, out) in [(run_a, &mut out_a), (run_b, &mut out_b)] {
        let mut rest = String::new();
        std::io::Read::read_to_string(out, &mut rest).unwrap();
        let r = Run::from(wait_bounded(child, Duration::from_secs(20)));
        r.expect_code(0);
        assert!(rest.contains("still fine"), "{rest}\n{}", r.stderr);
    }
    before.assert_unchanged("after two runs side by side and a clash");
}

#[test]
fn a_bridge_lab_connects_sandboxes_and_inspection_shows_it() {
    let _g = privileged();
    let s = Scratch::new("lab");
    let before = HostState::take();
    let r = run_recipe(
        &s,
        "lab.nsr",
        r#"
let p = args.p;
let sw = netns(p + "sw");
let br = sw.bridge("br0");
br.up();
let hosts = [];
for i in 1..=2 {
    let h = netns(p + "h" + i);
    let l = sw.veth("port" + i, "eth0", h);
    br.attach(l.host).up();
    h.addr("eth0", "10.9.0." + i + "/24");
    h.up("eth0");
    hosts.push(h);
}
// A third host is a sandbox with a network namespace of its own.
let box = unshare(#{ kinds: ["net", "mount", "pid"] });
let l3 = sw.veth("port3", "eth0", box);
br.attach(l3.host).up();
box.addr("eth0", "10.9.0.3/24");
box.addr("eth0", "fd09::3/64");
box.up("eth0");
box.mtu("eth0", 1400);
box.route("10.99.0.0/16", "10.9.0.1");
box.route("fd10::/64", #{ via: "fd09::1", metric: 7 });
let h1 = unshare(#{ kinds: ["mount", "pid"], net: hosts[0] });
h1.run("busybox ping -q -c 3 -i 0.2 -W 2 10.9.0.2 && busybox ping -q -c 3 -i 0.2 -W 2 10.9.0.3", #{ check: true });
print("pings ok");
for l in sw.links() {
    if l.name.starts_with("port") { print(l.name + " master=" + (l.master == br_index(sw)) + " up=" + l.up); }
}
fn br_index(ns) { for l in ns.links() { if l.name == "br0" { return l.index; } } -1 }
for a in box.addrs() { if a.dev == "eth0" && a.family == "inet" { print("addr " + a.addr); } }
for a in box.addrs() { if a.addr == "fd09::3/64" { print("addr6 " + a.addr); } }
for r in box.routes() { if r.via != () { print("route " + r.dest + " via " + r.via + " dev " + r.dev + " metric " + r.metric); } }
for l in box.links() { if l.name == "eth0" { print("mtu " + l.mtu + " kind " + l.kind); } }
"#,
        &[&format!("p={}", short_prefix())],
    );
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            "pings ok",
            "port1 master=true up=true",
            "port2 master=true up=true",
            "port3 master=true up=true",
            "addr 10.9.0.3/24",
            "addr6 fd09::3/64",
            "route 10.99.0.0/16 via 10.9.0.1 dev eth0 metric",
            "route fd10::/64 via fd09::1 dev eth0 metric 7",
            "mtu 1400 kind veth",
        ],
    );
    before.assert_unchanged("after the bridge lab");
}

#[test]
fn in_a_netns_it_did_not_create_nsr_undoes_exactly_its_own_changes() {
    let _g = privileged();
    let s = Scratch::new("foreign");
    let sp = short_prefix();
    let x = ForeignNetns::new(&format!("{sp}x"));
    // What was there before nsr: a link with an address, a route, a firewall that drops
    // forwarded packets by default (as Docker's does), forwarding off.
    x.sh("ip link add keep0 type veth peer name keep1 && ip addr add 10.44.0.1/24 dev keep0 && ip link set keep0 up && ip link set keep1 up && ip route add 10.45.0.0/24 via 10.44.0.2 && printf 'table ip filter {\\n chain FORWARD {\\n type filter hook forward priority 0; policy drop;\\n }\\n}\\n' | nft -f -");
    let inside = x.state();
    let before = HostState::take();
    let r = run_recipe(
        &s,
        "foreign.nsr",
        r#"
let x = netns_open(args.x);
let other = netns(args.p + "o");
let v = x.veth("nv0", "nv1");
v.host.addr("10.46.0.1/24").up().mtu(1400);
v.peer.up();
x.route("10.47.0.0/24", "nv0");
x.ip_forward(true);
x.ip6_forward(true);
x.masquerade("10.46.0.0/24", "keep0");
x.forward("nv0", "keep0");
x.port_forward(#{ port: 8080, to: "10.46.0.2", to_port: 80, proto: "tcp", iface: "keep0" });
let br = x.bridge("nbr0");
br.attach(v.host);
v.host.detach();
br.attach(v.host);
v.peer.move_to(other);
// A pair made elsewhere with one end moved into x: undo moves it back out of x.
// (Not from the host: the kernel would give x a peer id in the host for good.)
let o2 = netns(args.p + "o2");
let h = o2.veth("ma", "mb");
h.peer.move_to(x).down();
print("links in x: " + x.links().len());
"#,
        &[&format!("p={sp}"), &format!("x={}", x.name)],
    );
    r.expect_code(0);
    // The foreign drop policy is named, and left as it was.
    assert_has_all(
        &r.stderr,
        &["warning", "table ip filter chain FORWARD", "policy drop"],
    );
    assert_eq!(
        x.state(),
        inside,
        "the netns nsr did not create is as it was"
    );
    before.assert_unchanged("after working in a foreign netns");

    // lo, keep0, keep1, nv0 and nbr0, and mb moved in; nv1 moved out to `other`.
    assert!(r.stdout.contains("links in x: 6\n"), "{}", r.stdout);

    // And what nsr did not create, it does not change.
    let r = run_recipe(
        &s,
        "touch.nsr",
        "let x = netns_open(args.x);\nx.down(\"keep0\");\n",
        &[&format!("x={}", x.name)],
    );
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[
            "touch.nsr:2:3",
            "down(\"keep0\")",
            "was not created by this recipe",
            "EPERM",
            "hint:",
        ],
    );
    assert_eq!(x.state(), inside);
}

#[test]
fn bad_network_input_gets_a_located_error_and_touches_nothing() {
    let _g = privileged();
    let s = Scratch::new("netbad");
    let sp = short_prefix();
    let x = ForeignNetns::new(&format!("{sp}taken"));
    let before = HostState::take();
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            "veth(\"abcdefghijklmnop\", \"b\");".into(),
            vec!["bad.nsr:1:1", "abcdefghijklmnop", "16 bytes", "at most 15"],
        ),
        (
            format!("let n = netns(\"{sp}n\");\nn.addr(\"lo\", \"10.0.0.300/24\");"),
            vec!["bad.nsr:2:3", "10.0.0.300", "not an IPv4 or IPv6 address"],
        ),
        (
            format!("let n = netns(\"{sp}n\");\nn.addr(\"lo\", \"10.0.0.1\");"),
            vec!["bad.nsr:2:3", "CIDR", "10.0.0.1/24"],
        ),
        (
            format!("let n = netns(\"{sp}n\");\nn.addr(\"lo\", \"10.1.0.1/24\");\nn.route(\"default\", \"10.2.0.1\");"),
            vec!["bad.nsr:3:3", "gateway 10.2.0.1 is outside every connected prefix", "10.1.0.0/24", "ENETUNREACH", "hint:"],
        ),
        (
            format!("let n = netns(\"{sp}n\");\nn.route(\"10.3.0.1/16\", \"lo\");"),
            vec!["bad.nsr:2:3", "host bits", "10.3.0.0/16"],
        ),
        (
            format!("netns(\"{}\");", x.name),
            vec!["bad.nsr:1:1", "already exists", "EEXIST", "never takes over"],
        ),
        (
            format!("let n = netns(\"{sp}n\");\nn.veth(\"lo\", \"x0\");"),
            vec!["bad.nsr:2:3", "a link named 'lo' already exists", "EEXIST", "hint:"],
        ),
        (
            "link(\"lo\").down();".into(),
            vec!["bad.nsr:1:", "was not created by this recipe", "EPERM"],
        ),
        (
            format!("netns_open(\"{sp}missing\");"),
            vec!["bad.nsr:1:1", "no network namespace named", "ENOENT", "ip netns list"],
        ),
        (
            "netns(\"../etc\");".into(),
            vec!["bad.nsr:1:1", "not a netns name"],
        ),
        (
            format!("let n = netns(\"{sp}n\");\nn.port_forward(70000, \"10.0.0.2\", 80);"),
            vec!["bad.nsr:2:3", "70000", "1 to 65535"],
        ),
        (
            format!("let n = netns(\"{sp}n\");\nn.masquerade(\"10.0.0.0/40\", \"eth0\");"),
            vec!["bad.nsr:2:3", "10.0.0.0/40", "CIDR"],
        ),
        (
            format!("let n = netns(\"{sp}n\");\nlet v = veth(\"{sp}v\", \"{sp}w\");\nv.peer.move_to(\"nowhere\");"),
            vec!["bad.nsr:3:8", "must be a netns, a sandbox or host()"],
        ),
        (
            format!("let n = netns(\"{sp}n\");\nn.up(\"eth9\");"),
            vec!["bad.nsr:2:3", "no link named 'eth9'", "ENODEV"],
        ),
    ];
    for (recipe, wanted) in cases {
        let r = run_recipe(&s, "bad.nsr", &recipe, &[]);
        r.expect_code(1);
        assert_has_all(&r.stderr, &wanted);
        assert!(!r.stderr.contains("FAILED"), "{}", r.stderr);
        before.assert_unchanged(&recipe);
    }
}

#[test]
fn a_closed_stdout_does_not_stop_the_rollback() {
    let _g = privileged();
    let s = Scratch::new("pipe");
    let file = s.write(
        "pipe.nsr",
        "let n = netns(args.p + \"pipe\");\nfor i in 0..5000 { print(\"line \" + i); }\n",
    );
    let before = HostState::take();
    // `head` closes the pipe after one line; nsr must still undo what it made.
    let mut cmd = Command::new("bash");
    cmd.args([
        "-c",
        &format!(
            "set -o pipefail; {NSR} run {file} p={} | head -n 1",
            short_prefix()
        ),
    ]);
    let r = run_command(cmd);
    r.expect_code(0);
    assert_eq!(r.stdout.trim(), "line 0");
    before.assert_unchanged("after a run whose stdout was closed");
}

#[test]
fn nat_needs_no_nft_program_nsr_speaks_nfnetlink_itself() {
    let _g = privileged();
    let s = Scratch::new("nonft");
    let before = HostState::take();
    // The sandbox lists the rules with the real nft; nsr itself is told nft is missing.
    let file = s.write(
        "nat.nsr",
        "let n = netns(args.p + \"nonft\");\nn.masquerade(\"10.0.0.0/24\", \"eth0\");\nlet b = unshare(#{ kinds: [\"mount\"], net: n, privileged: true });\nprint(b.run(\"/usr/sbin/nft list ruleset\").stdout);\n",
    );
    let mut cmd = Command::new(NSR);
    cmd.args(["run", &file, &format!("p={}", short_prefix())])
        .env("NSR_NFT", "/nonexistent/nft");
    let r = run_command(cmd);
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &["ip saddr 10.0.0.0/24 oifname \"eth0\" masquerade"],
    );
    before.assert_unchanged("after a NAT rule without nft");
}

/// Every shape of rule nsr makes, as the recipe primitives that make them.
const EVERY_RULE: &str = r#"
let n = netns(args.p + "rules");
n.masquerade("10.0.0.7/24", "eth0");
n.masquerade("172.16.99.1/20", "eth0");
n.masquerade("0.0.0.0/0", "wan0");
n.masquerade("fd00:1::5/64", "eth0");
n.masquerade("fd00:2::/60", "eth0");
n.forward("veth0", "eth0");
n.port_forward(8080, "10.0.0.2", 80);
n.port_forward(#{ port: 5353, to: "fd00::2", to_port: 53, proto: "udp", iface: "veth0" });
let b = unshare(#{ kinds: ["mount"], net: n, privileged: true });
print(b.run("nft list ruleset").stdout);
"#;

/// The same rules in nft's words, as `nsr plan` writes them.
const EVERY_RULE_NFT: &str = r#"create table inet T
add chain inet T postrouting { type nat hook postrouting priority srcnat; policy accept; }
add chain inet T forward { type filter hook forward priority filter; policy accept; }
add chain inet T prerouting { type nat hook prerouting priority dstnat; policy accept; }
add chain inet T output { type nat hook output priority -100; policy accept; }
add rule inet T postrouting ip saddr 10.0.0.0/24 oifname "eth0" masquerade
add rule inet T postrouting ip saddr 172.16.96.0/20 oifname "eth0" masquerade
add rule inet T postrouting ip saddr 0.0.0.0/0 oifname "wan0" masquerade
add rule inet T postrouting ip6 saddr fd00:1::/64 oifname "eth0" masquerade
add rule inet T postrouting ip6 saddr fd00:2::/60 oifname "eth0" masquerade
add rule inet T forward iifname "veth0" oifname "eth0" counter accept
add rule inet T prerouting tcp dport 8080 dnat ip to 10.0.0.2:80
add rule inet T output fib daddr type local tcp dport 8080 dnat ip to 10.0.0.2:80
add rule inet T prerouting iifname "veth0" udp dport 5353 dnat ip6 to [fd00::2]:53
"#;

#[test]
fn the_rules_nsr_sends_itself_are_the_ones_nft_makes_of_their_text() {
    let _g = privileged();
    let s = Scratch::new("rules");
    let file = s.write("rules.nsr", EVERY_RULE);
    let r = nsr(&["run", &file, &format!("p={}", short_prefix())]);
    r.expect_code(0);
    let table = |listing: &str| -> String {
        let start = listing.find("table inet ").expect("a table");
        let body = &listing[start..];
        let name_end = body.find(" {").unwrap();
        format!("table inet T{}", body[name_end..].trim_end())
    };
    let ours = table(&r.stdout);
    let theirs = {
        let ns = ForeignNetns::new(&format!("{}nft", short_prefix()));
        let script = s.write("rules.nft", EVERY_RULE_NFT);
        ns.sh(&format!("nft -f {script} && nft list ruleset"))
    };
    assert_eq!(ours, table(&theirs), "nsr's rules against nft's");
}

#[test]
fn the_tutorial_recipe_cut_short_anywhere_leaves_nothing() {
    let _g = privileged();
    let before = HostState::take();
    let p = format!("prefix={}", short_prefix());
    // The operation limit stops the recipe between any two of its ~410 operations, so the
    // cut falls before, inside and after each primitive in turn.
    let mut cut = 0;
    for n in (5..=430).step_by(7) {
        let limit = format!("operations={n}");
        let r = nsr(&["run", "--limit", &limit, TUTORIAL, &p]);
        if r.code == 0 {
            break;
        }
        r.expect_code(1);
        assert!(
            r.stderr.contains("operation count limit"),
            "{n}:\n{}",
            r.stderr
        );
        assert!(!r.stderr.contains("FAILED"), "{n}:\n{}", r.stderr);
        before.assert_unchanged(&format!("tutorial cut after {n} operations"));
        cut += 1;
    }
    assert!(cut > 40, "the sweep cut the recipe only {cut} times");
}

#[test]
fn iproute2_sees_the_namespaces_nsr_makes() {
    let _g = privileged();
    let s = Scratch::new("visible");
    let before = HostState::take();
    let sp = short_prefix();
    let r = run_recipe(
        &s,
        "visible.nsr",
        r#"
let n = netns(args.p + "vis");
let l = veth(args.p + "v", "eth0", n);
n.addr("eth0", "10.71.0.2/24");
// A sandbox that shares the host's mount and network namespaces runs the host's ip;
// privileged, since `ip netns exec` enters a namespace and mounts /sys.
let shell = unshare(#{ kinds: ["uts"], privileged: true });
let out = shell.run("ip netns list; ip -n " + n.name + " -o addr show dev eth0; ip netns exec " + n.name + " ip -o link show eth0; ls " + n.path, #{ check: true });
print(out.stdout);
"#,
        &[&format!("p={sp}")],
    );
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            &format!("{sp}vis"),
            "eth0    inet 10.71.0.2/24",
            "eth0@if",
            &format!("/run/netns/{sp}vis"),
        ],
    );
    before.assert_unchanged("after a netns that ip could see");
}

#[test]
fn links_and_routes_made_on_the_host_are_removed_exactly() {
    let _g = privileged();
    let s = Scratch::new("hostside");
    let before = HostState::take();
    let sp = short_prefix();
    // Both ends stay on the host: nothing to release with a namespace, every undo is real.
    // No packet is sent: the route only points at the recipe's own link.
    let r = run_recipe(
        &s,
        "host.nsr",
        r#"
let pair = veth(args.p + "ha", args.p + "hb");
pair.host.addr("198.18.7.1/30").up().mtu(1400);
pair.peer.up();
link(args.p + "hb").addr("fd18::2/64");
route("198.18.8.0/24", "198.18.7.2");
host().route("198.18.9.0/24", #{ dev: args.p + "ha", metric: 5 });
let br = bridge(args.p + "br");
br.attach(pair.peer);
for r in routes() { if r.dest.starts_with("198.18.") { print(r.dest + " " + r.dev); } }
for l in links() { if l.name == args.p + "ha" { print("mtu " + l.mtu); } }
"#,
        &[&format!("p={sp}")],
    );
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            &format!("198.18.8.0/24 {sp}ha"),
            &format!("198.18.9.0/24 {sp}ha"),
            "mtu 1400",
        ],
    );
    before.assert_unchanged("after links and routes on the host");
}

/// Binds a socket to the IPv6 address $1 and says so, or prints the error.
const BIND6: &str = "import socket, sys\ns = socket.socket(socket.AF_INET6)\ntry:\n    s.bind((sys.argv[1], 0)); print('bound', sys.argv[1])\nexcept OSError as e:\n    print('unbound', sys.argv[1], e.strerror)";

#[test]
fn an_ipv6_address_is_usable_by_the_next_command_and_nodad_skips_the_check() {
    let _g = privileged();
    let s = Scratch::new("dad");
    let before = HostState::take();
    let r = run_recipe(
        &s,
        "dad.nsr",
        &format!(
            r#"let p = args.p;
let a = netns(p + "da");
let b = netns(p + "db");
a.veth("eth0", "eth0", b);
// Added while its link is down: the check starts with the link, and is waited for then.
a.addr("eth0", "fd00:99::1/64");
a.up("eth0");
b.up("eth0");
b.addr("eth0", "fd00:99::2/64", #{{ nodad: true }});
let sa = unshare(#{{ kinds: ["mount", "pid"], net: a }});
let sb = unshare(#{{ kinds: ["mount", "pid"], net: b }});
let src = {BIND6:?};
let bind = ["/usr/bin/python3", "-c", src];
print(sa.run(bind + ["fd00:99::1"]).stdout);
print(sb.run(bind + ["fd00:99::2"]).stdout);
print("flags " + sb.run("ip -6 addr show dev eth0 | grep -o 'fd00:99::2/64.*'").stdout);
// The control: an address added by ip(8) and bound at once is not usable yet.
print(sa.run(["sh", "-c", "ip addr add fd00:99::11/64 dev eth0 && /usr/bin/python3 -c \"$0\" fd00:99::11", src], #{{ caps: ["NET_ADMIN"] }}).stdout);
"#
        ),
        &[&format!("p={}", short_prefix())],
    );
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            "bound fd00:99::1",
            "bound fd00:99::2",
            "unbound fd00:99::11 Cannot assign requested address",
        ],
    );
    let flags = r.stdout.lines().find(|l| l.starts_with("flags ")).unwrap();
    assert!(flags.contains("nodad"), "{flags}");
    let plan = nsr(&["plan", &s.path("dad.nsr"), &format!("p={}", short_prefix())]);
    assert_has_all(&plan.stdout, &["addr add fd00:99::2/64 dev eth0 nodad"]);
    before.assert_unchanged("after the IPv6 recipe");
}

#[test]
fn an_ipv6_address_another_host_has_fails_with_dadfailed() {
    let _g = privileged();
    let s = Scratch::new("dadfailed");
    let before = HostState::take();
    let r = run_recipe(
        &s,
        "dup.nsr",
        r#"let p = args.p;
let a = netns(p + "fa");
let b = netns(p + "fb");
a.veth("eth0", "eth0", b);
a.up("eth0");
b.up("eth0");
a.addr("eth0", "fd00:98::1/64", #{ nodad: true });
b.addr("eth0", "fd00:98::1/64");
let sb = unshare(#{ kinds: ["mount"], net: b });
sb.run(["true"]);
print("not reached");
"#,
        &[&format!("p={}", short_prefix())],
    );
    r.expect_code(1);
    assert!(!r.stdout.contains("not reached"), "{}", r.stdout);
    assert_has_all(
        &r.stderr,
        &[
            "dup.nsr:10:4",
            "fd00:98::1/64 on eth0",
            "dadfailed",
            "EADDRINUSE",
            "give each end its own",
        ],
    );
    let bad = run_recipe(
        &s,
        "bad.nsr",
        "let a = netns(args.p + \"ba\");\na.addr(\"lo\", \"fd00::1/64\", #{ nodad: 1 });\n",
        &[&format!("p={}", short_prefix())],
    );
    bad.expect_code(1);
    assert_has_all(&bad.stderr, &["bad.nsr:2:3", "nodad is true or false"]);
    before.assert_unchanged("after the duplicate address");
}

/// What a command (`ip` itself, not nsr's inspection) says inside a netns, through a
/// sandbox in it.
const IP_SAYS: &str = r#"
fn says(box, cmd) { let r = box.run(cmd); let s = r.stdout; s.trim(); s }
fn ip_says(box, words) { says(box, "ip " + words) }
fn one_line(text) { let s = text; s.replace("\n", " | "); s }
"#;

#[test]
fn link_state_bridge_ports_and_v6_routes_reach_the_kernel() {
    let _g = privileged();
    let s = Scratch::new("linkstate");
    let before = HostState::take();
    let sp = short_prefix();
    let recipe = format!(
        "{IP_SAYS}{}",
        r#"
let p = args.p;
let a = netns(p + "a");
let b = netns(p + "b");
let look = unshare(#{ kinds: ["mount"], net: a, privileged: true });
let v = a.veth(p + "v", "eth0", b);
v.host.up();
print("up: " + ip_says(look, "-o link show dev " + p + "v"));
v.host.down();
print("down: " + ip_says(look, "-o link show dev " + p + "v"));
a.up("lo");
a.down("lo");
print("lo: " + ip_says(look, "-o link show dev lo"));
a.link(p + "v").mtu(1400).up();
print("by name: " + ip_says(look, "-o link show dev " + p + "v"));
let br = a.bridge(p + "br");
br.attach(v.host);
print("attached: " + ip_says(look, "-o link show master " + p + "br"));
v.host.detach();
print("detached: [" + ip_says(look, "-o link show master " + p + "br") + "]");
a.addr(p + "v", "2001:db8:5::1/64", #{ nodad: true });
a.route("default", #{ via: "2001:db8:5::2", v6: true });
a.route("2001:db8:9::/64", #{ via: "2001:db8:5::2", metric: 7 });
print("v6: " + one_line(ip_says(look, "-6 route show")));
print("v4: [" + ip_says(look, "-4 route show") + "]");
"#
    );
    let r = run_recipe(&s, "l.nsr", &recipe, &[&format!("p={sp}")]);
    r.expect_code(0);
    let line = |key: &str| -> String {
        r.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}: ")))
            .unwrap_or_else(|| panic!("no {key} in:\n{}", r.stdout))
            .to_string()
    };
    let flags = |l: &str| l.split(['<', '>']).nth(1).unwrap_or("").to_string();
    assert!(
        flags(&line("up")).split(',').any(|f| f == "UP"),
        "{}",
        r.stdout
    );
    assert!(
        !flags(&line("down")).split(',').any(|f| f == "UP"),
        "{}",
        r.stdout
    );
    assert!(
        !flags(&line("lo")).split(',').any(|f| f == "UP"),
        "{}",
        r.stdout
    );
    assert!(line("by name").contains(" mtu 1400 "), "{}", r.stdout);
    assert!(flags(&line("by name")).split(',').any(|f| f == "UP"));
    assert!(
        line("attached").contains(&format!("{sp}v@"))
            && line("attached").contains(&format!("master {sp}br")),
        "{}",
        r.stdout
    );
    assert_eq!(line("detached"), "[]");
    let v6 = line("v6");
    assert_has_all(
        &v6,
        &[
            "2001:db8:9::/64 via 2001:db8:5::2 dev ",
            "metric 7",
            "default via 2001:db8:5::2 dev ",
        ],
    );
    // A v6 default route is not an IPv4 one.
    assert_eq!(line("v4"), "[]");
    before.assert_unchanged("link state");
}

/// Writes a UDP server (answers "seen ADDR" to each datagram) and a client (tries TRIES
/// times, 0.2 s apart; prints the answer or "no answer") into the scratch directory.
fn udp_scripts(s: &Scratch) -> (String, String) {
    let server = s.write(
        "udp_server.py",
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('0.0.0.0', 53))\nwhile True:\n    d, a = s.recvfrom(100)\n    s.sendto(('seen ' + a[0]).encode(), a)\n",
    );
    let client = s.write(
        "udp_client.py",
        "import socket, sys\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.settimeout(0.2)\nfor i in range(int(sys.argv[3])):\n    s.sendto(b'hi', (sys.argv[1], int(sys.argv[2])))\n    try:\n        print(s.recv(100).decode())\n        sys.exit(0)\n    except socket.timeout:\n        pass\nprint('no answer')\n",
    );
    (server, client)
}

#[test]
fn forward_rules_count_the_traffic_they_match_and_a_udp_port_forward_on_one_iface() {
    let _g = privileged();
    let s = Scratch::new("fwdtraffic");
    let (server, client) = udp_scripts(&s);
    let before = HostState::take();
    let sp = short_prefix();
    let recipe = format!(
        "{IP_SAYS}{}",
        r#"
let p = args.p;
let a = netns(p + "a");
let r = netns(p + "r");
let b = netns(p + "b");
let ra = r.veth(p + "ra", "eth0", a);
ra.host.addr("10.71.1.1/24").up();
a.addr("eth0", "10.71.1.2/24"); a.up("eth0"); a.route("default", "10.71.1.1");
let rb = r.veth(p + "rb", "eth0", b);
rb.host.addr("10.71.2.1/24").up();
b.addr("eth0", "10.71.2.2/24"); b.up("eth0"); b.route("default", "10.71.2.1");
r.up("lo");
r.ip_forward(true);
r.forward(p + "ra", p + "rb");
r.forward(p + "rb", p + "ra");
r.forward(p + "rb", p + "nowhere");
r.port_forward(#{ port: 5353, to: "10.71.2.2", to_port: 53, proto: "udp", iface: p + "ra" });
let in_a = unshare(#{ kinds: ["mount", "pid"], net: a });
// Privileged: it lists the ruleset, which needs CAP_NET_ADMIN.
let in_r = unshare(#{ kinds: ["mount", "pid"], net: r, privileged: true });
let in_b = unshare(#{ kinds: ["mount", "pid"], net: b });
in_b.run("setsid python3 " + args.server + " > /dev/null 2>&1 < /dev/null &", #{ check: true });
let ping = in_a.run("busybox ping -c 3 -W 2 10.71.2.2");
print("ping: " + ping.ok);
for l in says(in_r, "nft list ruleset").split("\n") { if l.contains("counter") { print("rule:" + l); } }
let via = in_a.run("python3 " + args.client + " 10.71.1.1 5353 25");
print("udp from a: " + via.stdout);
let own = in_r.run("python3 " + args.client + " 10.71.1.1 5353 5");
print("udp from the router itself: " + own.stdout);
let tcp = in_a.run("busybox nc -w 1 10.71.1.1 5353 < /dev/null");
print("tcp from a: " + tcp.code);
"#
    );
    let r = run_recipe(
        &s,
        "f.nsr",
        &recipe,
        &[
            &format!("p={sp}"),
            &format!("server={server}"),
            &format!("client={client}"),
        ],
    );
    r.expect_code(0);
    assert_has_all(&r.stdout, &["ping: true"]);
    // Each rule counted exactly the packets it is for: three echo requests one way,
    // three replies the other, nothing for an interface that does not exist.
    let counted = |from: &str, to: &str| -> String {
        let want = format!("iifname \"{sp}{from}\" oifname \"{sp}{to}\" counter packets ");
        r.stdout
            .lines()
            .find_map(|l| {
                l.split_once(&want)
                    .map(|(_, n)| n.split(' ').next().unwrap().to_string())
            })
            .unwrap_or_else(|| panic!("no rule {from} -> {to}:\n{}", r.stdout))
    };
    assert_eq!(counted("ra", "rb"), "3", "{}", r.stdout);
    assert_eq!(counted("rb", "ra"), "3", "{}", r.stdout);
    assert_eq!(counted("rb", "nowhere"), "0", "{}", r.stdout);
    // The UDP forward on iface ra reaches b's server, which sees a's own address ...
    assert_has_all(&r.stdout, &["udp from a: seen 10.71.1.2\n"]);
    // ... while the router's own datagram to that address is not forwarded (iface),
    // and TCP to the port is not either (proto: "udp"): nothing listens on r.
    assert_has_all(
        &r.stdout,
        &["udp from the router itself: no answer\n", "tcp from a: 1"],
    );
    before.assert_unchanged("forward counters and a udp port forward");
}

#[test]
fn ip_forward_and_ip6_forward_change_the_namespace_and_are_restored() {
    let _g = privileged();
    let s = Scratch::new("hostfwd");
    // In a network namespace of the test's own, which is "the host" for this nsr: the
    // real host's forwarding stays untouched (turning on IPv6 forwarding there would
    // join the all-routers group on its uplink).
    let file = s.write(
        "f.nsr",
        r#"let here = unshare(#{ kinds: ["uts"], privileged: true });
ip_forward(true);
ip6_forward(false);
let set = here.run("cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding").stdout;
set.replace("\n", " ");
print("set: " + set);
"#,
    );
    let script = format!(
        "echo 1 > /proc/sys/net/ipv6/conf/all/forwarding; \
         echo before: $(cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding); \
         {NSR} run {file} || exit 9; \
         echo after: $(cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding)"
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--net", "--", "sh", "-c", &script]);
    let r = run_command(cmd);
    r.expect_code(0);
    assert_has_all(&r.stdout, &["before: 0 1\n", "set: 1 0 \n", "after: 0 1\n"]);
}
