//! A lab split across two machines: recipes/vxlan-lab.nsr run once per machine, the
//! two halves joined by a VXLAN tunnel (net::tunnel, the vxlan primitive) over the
//! underlay. The machines are two netns standing in for them, joined by a veth; every
//! packet stays in the test's own namespaces. And vxlan's bad inputs.

mod common;
use common::*;

const RECIPE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/recipes/vxlan-lab.nsr");

/// Two "machines" (netns of the test's own) with an underlay link between them:
/// machine 1's u1 at 10.99.0.1, machine 2's u2 at 10.99.0.2.
fn two_machines(sp: &str) -> (ForeignNetns, ForeignNetns) {
    let m1 = ForeignNetns::new(&format!("{sp}m1"));
    let m2 = ForeignNetns::new(&format!("{sp}m2"));
    let quiet = "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1";
    m2.sh(quiet);
    m1.sh(&format!(
        "{quiet} && ip link add u1 type veth peer name u2 netns {} && ip addr add 10.99.0.1/24 dev u1 && ip link set u1 up && ip link set lo up",
        m2.name
    ));
    m2.sh("ip addr add 10.99.0.2/24 dev u2 && ip link set u2 up && ip link set lo up");
    // Both ends have carrier before the states are taken (the kernel says so a moment
    // after the second end is up).
    for (m, dev) in [(&m1, "u1"), (&m2, "u2")] {
        m.sh(&format!("for i in $(seq 100); do [ \"$(cat /sys/class/net/{dev}/operstate)\" = up ] && exit 0; sleep 0.02; done; exit 1"));
    }
    (m1, m2)
}

#[test]
fn as_root_a_lab_split_across_two_machines_shares_one_segment_through_the_tunnel() {
    let _p = privileged();
    let sp = short_prefix();
    let (m1, m2) = two_machines(&sp);
    let (before1, before2) = (m1.state(), m2.state());
    let env1 = format!("{sp}-vx1");
    // Machine 1's half stays (as it would on its own machine) ...
    let r = nsr(&[
        "run",
        "--keep",
        "--name",
        &env1,
        RECIPE,
        "machine=1",
        "remote=10.99.0.2",
        "dev=u1",
        &format!("ns={}", m1.name),
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_has_all(
        &r.stdout,
        &[
            "machine 1: bridge labbr0, tunnel vx0 (vxlan id 42) to 10.99.0.2",
            "lab host 1: lab11 at 10.60.0.11",
        ],
    );
    assert!(m1
        .sh("ip -d link show vx0")
        .contains("vxlan id 42 remote 10.99.0.2 dev u1"));
    // ... and machine 2's lab host reaches machine 1's over the tunnel, then its half
    // is undone as the run ends.
    let r = nsr(&[
        "run",
        RECIPE,
        "machine=2",
        "remote=10.99.0.1",
        "dev=u2",
        "ping=10.60.0.11",
        &format!("ns={}", m2.name),
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_has_all(&r.stdout, &["1 packets transmitted, 1 packets received"]);
    assert_eq!(m2.state(), before2, "machine 2's half is gone with its run");
    // The kept half is drawn with its tunnel to the other machine.
    let g = nsr(&["graph", "--env", &env1, "--format", "json", "-o", "-"]);
    g.expect_code(0);
    let g: serde_json::Value = serde_json::from_str(&g.stdout).unwrap();
    let t = &g["tunnels"][0];
    assert_eq!(
        (t["id"].as_u64(), t["remote"].as_str(), t["port"].as_u64()),
        (Some(42), Some("10.99.0.2"), Some(4789)),
        "{g}"
    );
    let dot = nsr(&["graph", "--env", &env1, "--format", "dot", "-o", "-"]).stdout;
    assert_has_all(&dot, &["remote 10.99.0.2", "vxlan id 42 port 4789"]);
    nsr(&["down", &env1]).expect_code(0);
    assert_eq!(
        m1.state(),
        before1,
        "machine 1's half is gone after nsr down"
    );
}

#[test]
fn as_root_a_vxlan_over_a_device_that_does_not_exist_is_a_located_error() {
    let _p = privileged();
    let s = Scratch::new("vxbad");
    let sp = short_prefix();
    let text = format!(
        "let n = netns(\"{sp}vxn\");\nn.vxlan(\"vx0\", #{{ id: 7, remote: \"10.99.0.2\", dev: \"nope0\" }});\n"
    );
    let r = run_recipe(&s, "nodev.nsr", &text, &[]);
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[
            "nodev.nsr:2:3",
            "there is no link named 'nope0' in netns",
            "ENODEV",
            "links() lists",
        ],
    );
}

#[test]
fn a_vni_over_24_bits_or_a_remote_that_is_no_address_is_refused_before_anything_is_done() {
    let _s = serial();
    let s = Scratch::new("vxargs");
    for (opts, wanted) in [
        (
            "id: 16777216, remote: \"10.99.0.2\"",
            "id 16777216 is not a VXLAN network identifier (0 to 16777215: 24 bits)",
        ),
        (
            "id: 1, remote: \"machine-b\"",
            "remote 'machine-b' is not an IP address",
        ),
        ("id: 1", "vxlan needs remote"),
        (
            "id: 1, remote: \"10.99.0.2\", color: 3",
            "unknown option 'color' for vxlan (known: id, remote, local, dev, port, ns)",
        ),
    ] {
        let file = s.write("bad.nsr", &format!("vxlan(\"vx0\", #{{ {opts} }});\n"));
        // nsr check sees the literal; the plan (nothing done, no root) stops at it.
        let c = nsr(&["check", &file]);
        c.expect_code(1);
        assert_has_all(&c.stderr, &[&format!("{file}:1:"), wanted]);
        let p = nsr(&["plan", &file]);
        assert_has_all(&p.stdout, &["the recipe fails here", wanted]);
    }
}
