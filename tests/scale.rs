//! Labs at scale against the real kernel: a lab of hundreds of hosts builds and goes
//! away where the open-file limit is the common default of 1024 (each host is a netns
//! nsr would otherwise hold an fd and a route socket on), and the commands nsr starts
//! keep the soft limit they would have had. Speed is measured in benches/topology.sh,
//! never here.

mod common;
use common::*;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// A switch netns with a bridge and N hosts, each a netns with a veth to it, an address,
/// links up and a default route; then host 1 pings the last host across the bridge.
const LAB: &str = r#"
let n = parse_int(args.n);
let p = args.p;
let sw = netns(p + "sw");
let br = sw.bridge("br0");
br.addr("10.201.0.1/16").up();
fn host_addr(i) { "10.201." + (i / 250) + "." + (i % 250 + 2) }
for i in 1..=n {
    let h = netns(p + "h" + i);
    let l = sw.veth(p + "v" + i, "eth0", h);
    br.attach(l.host).up();
    h.addr("eth0", host_addr(i) + "/16");
    h.up("eth0");
    h.up("lo");
    h.route("default", "10.201.0.1");
}
let first = unshare(#{ kinds: ["mount", "pid"], net: netns_open(p + "h1") });
let r = first.run("busybox ping -c 1 -W 2 " + host_addr(n));
print("ping ok=" + r.ok);
print("last host links: " + netns_open(p + "h" + n).links().len());
"#;

/// `nsr ARGS` with RLIMIT_NOFILE set to soft/hard before it starts.
fn nsr_with_nofile(soft: u64, hard: u64, args: &[&str]) -> Run {
    let mut cmd = Command::new(NSR);
    cmd.args(args);
    // SAFETY: setrlimit on the child before its exec.
    unsafe {
        cmd.pre_exec(move || {
            let l = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &l) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    run_command(cmd)
}

#[test]
fn as_root_a_600_host_lab_builds_and_goes_under_a_limit_of_1024_open_files() {
    let _g = privileged();
    let s = Scratch::new("scale");
    let recipe = s.write("lab.nsr", LAB);
    let p = format!("p={}", short_prefix());
    // The hard limit is 1024 too: nsr cannot raise its way out, it must not hold a
    // namespace fd and a socket per host (1,200 fds).
    let r = nsr_with_nofile(1024, 1024, &["run", &recipe, "n=600", &p]);
    r.expect_code(0);
    assert_has_all(&r.stdout, &["ping ok=true", "last host links: 2"]);
    assert!(!r.stderr.contains("EMFILE"), "{}", r.stderr);
}

#[test]
fn as_root_commands_keep_the_soft_limit_nsr_was_started_with() {
    let _g = privileged();
    let s = Scratch::new("nofile");
    // No pid namespace: the command's parent is the sandbox's holder, an nsr process,
    // which runs with the raised limit.
    let recipe = s.write(
        "limits.nsr",
        r#"
let box = unshare(["mount", "uts"]);
print(box.run("echo soft=$(ulimit -Sn) hard=$(ulimit -Hn)").stdout);
print(box.run("grep 'Max open files' /proc/$PPID/limits").stdout);
"#,
    );
    let r = nsr_with_nofile(1024, 4096, &["run", &recipe]);
    r.expect_code(0);
    assert_has_all(&r.stdout, &["soft=1024 hard=4096"]);
    let holder = r
        .stdout
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_else(|| panic!("no limits line: {}", r.stdout));
    let numbers: Vec<&str> = holder.split_whitespace().skip(3).take(2).collect();
    assert_eq!(
        numbers,
        ["4096", "4096"],
        "nsr raised its own soft limit: {holder}"
    );
}

/// Netns `p + "a"`, then enough others that nsr closes its handle on it; then someone
/// else deletes it and makes another of that name; then the recipe uses it again.
const REPLACED: &str = r#"
let p = args.p;
let a = netns(p + "a");
a.up("lo");
for i in 1..=80 { netns(p + "f" + i); }
let other = unshare(#{ kinds: ["uts"], privileged: true });
other.run("ip netns del " + p + "a && ip netns add " + p + "a", #{ check: true });
print("replaced");
a.links();
"#;

#[test]
fn as_root_a_netns_replaced_under_its_name_is_neither_used_nor_deleted() {
    let _g = privileged();
    let s = Scratch::new("replaced");
    let recipe = s.write("replaced.nsr", REPLACED);
    let p = short_prefix();
    let theirs = format!("{p}a");
    // iproute2, which makes the replacement, leaves /run/netns a mount point: a netns of
    // the test's own, made first and dropped last, takes it back as the test found it.
    let _keep = ForeignNetns::new(&format!("{p}keep"));
    let r = nsr(&["run", &recipe, &format!("p={p}")]);
    // The replacement is someone else's: the test takes it down, whatever happened.
    let still_there = std::path::Path::new(&format!("/run/netns/{theirs}")).exists();
    let _ = Command::new("ip").args(["netns", "del", &theirs]).status();
    r.expect_code(1);
    assert_has_all(&r.stdout, &["replaced"]);
    assert_has_all(
        &r.stderr,
        &["replaced.nsr:9:3", "ESTALE", "another network namespace"],
    );
    assert!(
        still_there,
        "the rollback deleted a netns the run did not make: {}",
        r.stderr
    );
}
