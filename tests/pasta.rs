//! Rootless networking through pasta: an ordinary user's sandbox serves a page on a
//! port forwarded from the host's loopback, which the test fetches from the host.
//!
//! The one kind of connection these tests make through pasta is from the host's
//! 127.0.0.1 into the sandbox through a forward. Every sandbox here has `outbound:
//! false` (nsr's rule in its namespace drops every new packet it sends but on
//! loopback, listed before the server starts, never tested by sending one), pasta runs
//! with `--no-map-gw` and `-T none -U none`, and nothing inside connects anywhere but
//! its own loopback.
//!
//! This machine's /dev/net/tun is mode 0600 (udev's default elsewhere is 0666): the
//! rootless tests run nsr in a mount namespace of their own where /dev/net is a tmpfs
//! holding a 0666 tun node, as on a stock Debian, so the host's node is never changed.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

/// A host port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The page at http://127.0.0.1:PORT/, fetched from the host.
fn fetch(port: u16) -> String {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut page = String::new();
    c.read_to_string(&mut page).unwrap();
    page
}

fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).is_ok()
}

/// The pasta (or slirp4netns) processes nsr started that still run.
fn pastas() -> Vec<i32> {
    command_lines()
        .into_iter()
        .filter(|(_, c)| c.starts_with(b"pasta [nsr-") || c.starts_with(b"slirp4netns [nsr-"))
        .map(|(pid, _)| pid)
        .collect()
}

/// The recipe: a sandbox behind pasta with `ports`, no outbound connections, serving
/// `token` with busybox httpd on port 80 inside; it prints what pasta configured and
/// the namespace's ruleset before the server starts, then `then`.
fn web_recipe(kinds: &str, ports: &str, token: &str, then: &str) -> String {
    web_recipe_via("pasta", kinds, ports, token, then)
}

fn web_recipe_via(via: &str, kinds: &str, ports: &str, token: &str, then: &str) -> String {
    format!(
        "let box = unshare(#{{ kinds: {kinds}, map_root: true, net: \"{via}\", ports: {ports}, outbound: false }});\n\
         box.mount(\"tmpfs\", \"/srv\", \"tmpfs\");\n\
         box.run([\"sh\", \"-c\", \"echo {token} > /srv/index.html\"], #{{ check: true }});\n\
         print(\"ADDR \" + box.run([\"ip\", \"-4\", \"-o\", \"addr\", \"show\", \"scope\", \"global\"]).stdout);\n\
         print(\"ROUTE \" + box.run([\"ip\", \"route\", \"show\", \"default\"]).stdout);\n\
         print(\"RULES \" + box.run([\"nft\", \"list\", \"ruleset\"], #{{ privileged: true, check: true }}).stdout);\n\
         box.run([\"busybox\", \"httpd\", \"-p\", \"80\", \"-h\", \"/srv\"], #{{ check: true }});\n\
         {then}\n"
    )
}

const ROOTLESS_KINDS: &str = "[\"user\", \"net\", \"mount\", \"uts\", \"pid\"]";

/// `nsr ARGS` as nobody, with a 0666 /dev/net/tun of its own (see the file's header)
/// and environments in `state`.
fn nobody(s: &Scratch, state: &str, args: &[&str]) -> Command {
    let inner = nsr_as_nobody(s);
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg("mount -t tmpfs -o mode=755 nsr-test-tun /dev/net && mknod -m 666 /dev/net/tun c 10 200 && exec \"$@\"")
        .arg("sh")
        .arg(inner.get_program())
        .args(inner.get_args())
        .args(args)
        .env("NSR_STATE_DIR", state)
        .current_dir(&s.dir);
    cmd
}

/// A state directory nobody may write.
fn nobody_state(s: &Scratch) -> String {
    let dir = private_state(s);
    nix::unistd::chown(
        dir.as_str(),
        Some(nix::unistd::Uid::from_raw(65534)),
        Some(nix::unistd::Gid::from_raw(65534)),
    )
    .unwrap();
    dir
}

/// As nobody, `via`'s sandbox of the web recipe (see `web_recipe`) serving `token` on
/// host port `port`, kept as the environment `web`: what it printed, by section.
struct Served {
    addr: String,
    route: String,
    rules: String,
}

fn serve_kept(s: &Scratch, state: &str, via: &str, port: u16, token: &str) -> Served {
    let recipe = s.write(
        "web.nsr",
        &web_recipe_via(
            via,
            ROOTLESS_KINDS,
            &format!("[#{{ host: {port}, inside: 80 }}]"),
            token,
            "",
        ),
    );
    let r = run_command(nobody(
        s,
        state,
        &["run", "--keep", "--name", "web", &recipe],
    ));
    r.expect_code(0);
    let section = |name: &str| {
        let after = r
            .stdout
            .split(name)
            .nth(1)
            .unwrap_or_else(|| panic!("no {name} in {}", r.stdout));
        after
            .split_once("\n\n")
            .map_or(after, |(s, _)| s)
            .to_string()
    };
    Served {
        addr: section("ADDR "),
        route: section("ROUTE "),
        rules: section("RULES "),
    }
}

#[test]
fn an_ordinary_users_sandbox_serves_a_page_the_host_fetches_through_pasta() {
    let _g = privileged();
    let s = Scratch::new("pasta-web");
    let state = nobody_state(&s);
    let port = free_port();
    let token = format!("{}-served-inside", short_prefix());
    let served = serve_kept(&s, &state, "pasta", port, &token);
    // What pasta configured, seen from inside: an address and a default route.
    assert!(served.addr.contains("inet "), "{}", served.addr);
    assert!(served.route.starts_with("default via "), "{}", served.route);
    // The guard was in place before the server started.
    assert_has_all(&served.rules, &["hook output", "oifname != \"lo\"", "drop"]);
    // The page comes from the sandbox's tmpfs, through the forward.
    let page = fetch(port);
    assert!(page.contains(&token), "{page}");
    assert_eq!(pastas().len(), 1, "one pasta for the kept environment");
    // Only on the host's loopback: the forward is not open to the network.
    let bound = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let hex = format!(":{port:04X} ");
    let lines: Vec<&str> = bound
        .lines()
        .filter(|l| l.contains(&hex) && l.contains(" 0A "))
        .collect();
    assert!(
        !lines.is_empty()
            && lines.iter().all(|l| l
                .split_whitespace()
                .nth(1)
                .unwrap()
                .starts_with("0100007F:")),
        "{lines:?}"
    );
    run_command(nobody(&s, &state, &["down", "web"])).expect_code(0);
    assert!(pastas().is_empty(), "pasta left after nsr down");
    assert!(!listening(port), "port {port} still bound after nsr down");
    assert!(!std::path::Path::new(&format!("{state}/web")).exists());
}

#[test]
fn no_pasta_is_left_after_a_failure_or_a_crash_and_nsr_down() {
    let _g = privileged();
    let s = Scratch::new("pasta-ends");
    let state = nobody_state(&s);
    let port = free_port();
    // A failure after pasta started: rolled back, pasta stopped.
    let failing = s.write(
        "fail.nsr",
        &web_recipe(
            ROOTLESS_KINDS,
            &format!("[{port}]"),
            "x",
            "throw \"the recipe fails after pasta started\";",
        ),
    );
    let r = run_command(nobody(&s, &state, &["run", &failing]));
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &["the recipe fails after pasta started", "undid pasta"],
    );
    assert!(pastas().is_empty());
    assert!(!listening(port));
    // SIGKILL of nsr at the worst moment: pasta started, its pid not yet journaled
    // (step 3: the sandbox, the guard, pasta). nsr down finds it by its name.
    for (crash, name) in [("3", "crash-pasta"), ("4", "crash-later")] {
        let mut cmd = nobody(&s, &state, &["run", "--name", name, &failing]);
        cmd.env("NSR_CRASH_AFTER", crash);
        let r = run_command(cmd);
        assert_eq!(r.code, 137, "nsr was to be killed: {}", r.stderr);
        assert_eq!(
            pastas().len(),
            1,
            "pasta outlives a killed nsr until nsr down"
        );
        let down = run_command(nobody(&s, &state, &["down", name]));
        down.expect_code(0);
        assert!(
            pastas().is_empty(),
            "{crash}: pasta left after nsr down: {}",
            down.stdout
        );
        assert!(!listening(port));
        assert!(!std::path::Path::new(&format!("{state}/{name}")).exists());
    }
}

#[test]
fn two_sandboxes_forward_different_ports_and_the_same_port_twice_is_a_clear_error() {
    let _g = privileged();
    let s = Scratch::new("pasta-two");
    let before = HostState::take();
    let (a, b) = (free_port(), free_port());
    let kinds = "[\"mount\", \"uts\", \"pid\", \"net\"]";
    let serve = |n: &str, port: u16| {
        format!(
            "let {n} = unshare(#{{ kinds: {kinds}, net: \"pasta\", ports: [#{{ host: {port}, inside: 80 }}], outbound: false }});\n\
             {n}.mount(\"tmpfs\", \"/srv\", \"tmpfs\");\n\
             {n}.run([\"sh\", \"-c\", \"echo page-of-{n} > /srv/index.html\"]);\n\
             {n}.run([\"busybox\", \"httpd\", \"-p\", \"80\", \"-h\", \"/srv\"], #{{ check: true }});\n"
        )
    };
    let recipe = s.write(
        "two.nsr",
        &format!("{}{}", serve("one", a), serve("two", b)),
    );
    let r = nsr(&[
        "run",
        "--keep",
        "--name",
        &format!("{}-two", short_prefix()),
        &recipe,
    ]);
    r.expect_code(0);
    assert!(fetch(a).contains("page-of-one"));
    assert!(fetch(b).contains("page-of-two"));
    nsr(&["down", &format!("{}-two", short_prefix())]).expect_code(0);
    // The same host port for a second sandbox: pasta cannot listen, the run says why.
    let twice = s.write(
        "twice.nsr",
        &format!("{}{}", serve("one", a), serve("two", a)),
    );
    let r = nsr(&["run", &twice]);
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[
            "twice.nsr:5:",
            &format!("host port {a}"),
            "in use",
            "EADDRINUSE",
            "pick another host port",
        ],
    );
    assert!(pastas().is_empty());
    // The same port twice in one list is found before anything is made.
    let listed = s.write(
        "listed.nsr",
        &format!("unshare(#{{ kinds: {kinds}, net: \"pasta\", ports: [{a}, #{{ host: {a}, inside: 81 }}] }});\n"),
    );
    let r = nsr(&["run", &listed]);
    r.expect_code(1);
    assert_has_all(&r.stderr, &["listed.nsr:1:1", "forwarded twice"]);
    before.assert_unchanged("after two pasta sandboxes");
}

#[test]
fn without_pasta_on_path_the_error_names_the_package_and_nothing_is_made() {
    let _g = privileged();
    let s = Scratch::new("pasta-missing");
    let before = HostState::take();
    let recipe = s.write(
        "r.nsr",
        "let box = unshare(#{ kinds: [\"mount\", \"net\"], net: \"pasta\", ports: [18999] });\nprint(\"MADE\");\n",
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nsr"));
    cmd.args(["run", &recipe]).env("PATH", "/usr/sbin:/sbin");
    let r = run_command(cmd);
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[
            "r.nsr:1:11",
            "pasta",
            "not on PATH",
            "apt-get install passt",
        ],
    );
    assert!(!r.stdout.contains("MADE"));
    assert!(pastas().is_empty());
    before.assert_unchanged("after pasta was missing");
}

#[test]
fn as_root_a_recipes_netns_gets_pasta_and_a_sandbox_joined_to_it_serves() {
    let _g = privileged();
    let s = Scratch::new("pasta-root");
    let before = HostState::take();
    let port = free_port();
    let lab = format!("{}-pl", short_prefix());
    let recipe = s.write(
        "lab.nsr",
        &format!(
            "let lab = netns(\"{lab}\");\n\
             lab.pasta(#{{ ports: [#{{ host: {port}, inside: 8080 }}], outbound: false }});\n\
             let box = unshare(#{{ kinds: [\"mount\", \"pid\"], net: lab }});\n\
             box.mount(\"tmpfs\", \"/srv\", \"tmpfs\");\n\
             box.run([\"sh\", \"-c\", \"echo joined-netns-page > /srv/index.html\"]);\n\
             box.run([\"busybox\", \"httpd\", \"-p\", \"8080\", \"-h\", \"/srv\"], #{{ check: true }});\n\
             print(box.run([\"ip\", \"-o\", \"route\", \"show\", \"default\"]).stdout);\n"
        ),
    );
    let name = format!("{}-lab", short_prefix());
    let r = nsr(&["run", "--keep", "--name", &name, &recipe]);
    r.expect_code(0);
    assert!(r.stdout.starts_with("default via "), "{}", r.stdout);
    assert!(fetch(port).contains("joined-netns-page"));
    nsr(&["down", &name]).expect_code(0);
    assert!(pastas().is_empty());
    assert!(!listening(port));
    before.assert_unchanged("after pasta in a recipe's netns");
}

#[test]
fn the_plan_shows_the_pasta_command_line_and_its_undo() {
    let _g = serial();
    let s = Scratch::new("pasta-plan");
    let recipe = s.write(
        "r.nsr",
        "let box = unshare(#{ kinds: [\"user\", \"net\", \"mount\"], map_root: true, net: \"pasta\", ports: [#{ host: 8080, inside: 80 }], outbound: false });\n",
    );
    let r = nsr(&["plan", &recipe]);
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            "oifname != \"lo\"",
            "pasta --config-net --no-map-gw -t 127.0.0.1/8080:80 -u none -T none -U none",
            "--netns /proc/$SANDBOX0_PID/ns/net",
            "kill $(cat /tmp/nsr-pasta-$SANDBOX0_PID.pid)",
        ],
    );
    let slirp = s.write(
        "s.nsr",
        "let box = unshare(#{ kinds: [\"mount\", \"net\"], net: \"slirp4netns\", ports: [#{ host: 8080, inside: 80 }] });\n",
    );
    let r = nsr(&["plan", &slirp]);
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            "slirp4netns --configure --mtu=65520 --disable-host-loopback --enable-sandbox",
            "add_hostfwd",
            "\"host_port\": 8080",
        ],
    );
}

#[test]
fn the_rootless_web_recipe_serves_its_page_until_nsr_down() {
    let _g = privileged();
    let s = Scratch::new("pasta-recipe");
    let state = nobody_state(&s);
    let port = free_port();
    let recipe = s.write(
        "rootless-web.nsr",
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/recipes/rootless-web.nsr"
        ))
        .unwrap(),
    );
    let port_arg = format!("port={port}");
    let r = run_command(nobody(
        &s,
        &state,
        &["run", "--keep", "--name", "web", &recipe, &port_arg],
    ));
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            "address: ",
            "route: default via",
            &format!("serving http://127.0.0.1:{port}/"),
        ],
    );
    assert!(fetch(port).contains("hello from rootless-web"));
    // Its picture, read back as its ordinary user: the sandbox's own namespace with pasta
    // and the rule that drops outbound connections, as its plan draws them.
    let live = run_command(nobody(
        &s,
        &state,
        &["graph", "--env", "web", "--format", "json"],
    ));
    let planned = run_command(nobody(
        &s,
        &state,
        &["graph", &recipe, &port_arg, "--format", "json"],
    ));
    live.expect_code(0);
    planned.expect_code(0);
    let live: serde_json::Value = serde_json::from_str(&live.stdout).unwrap();
    let planned: serde_json::Value = serde_json::from_str(&planned.stdout).unwrap();
    let own = |g: &serde_json::Value| {
        g["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == "sandbox:1")
            .cloned()
            .unwrap_or_default()
    };
    let (l, p) = (own(&live), own(&planned));
    assert!(
        l["usernet"]
            .as_str()
            .is_some_and(|u| u.starts_with("pasta")),
        "{live}"
    );
    assert_eq!(l["usernet"], p["usernet"]);
    assert_eq!(l["nat"][0]["summary"], "no outbound connections", "{live}");
    assert_eq!(l["nat"][0]["summary"], p["nat"][0]["summary"]);
    assert_eq!(
        live["sandboxes"][0]["kinds"],
        planned["sandboxes"][0]["kinds"]
    );
    run_command(nobody(&s, &state, &["down", "web"])).expect_code(0);
    assert!(pastas().is_empty());
    assert!(!listening(port));
}

#[test]
fn nsr_gc_stops_a_pasta_no_journal_holds_and_leaves_one_a_journal_holds() {
    let _g = privileged();
    let s = Scratch::new("pasta-gc");
    let state = private_state(&s);
    let recipe = s.write(
        "r.nsr",
        "let box = unshare(#{ kinds: [\"mount\", \"net\"], net: \"pasta\", outbound: false });\n",
    );
    let crash = |name: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nsr"));
        cmd.args(["run", "--name", name, &recipe])
            .env("NSR_STATE_DIR", &state)
            .env("NSR_CRASH_AFTER", "3");
        assert_eq!(run_command(cmd).code, 137);
    };
    let gc = |apply: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nsr"));
        cmd.arg("gc").env("NSR_STATE_DIR", &state);
        if apply {
            cmd.arg("--apply");
        }
        let r = run_command(cmd);
        r.expect_code(0);
        r.stdout + &r.stderr
    };
    crash("held");
    assert_eq!(pastas().len(), 1);
    // Its environment's journal names it: gc leaves it to nsr down.
    assert!(
        !gc(false).contains("pasta process"),
        "gc claims a journaled pasta"
    );
    // The journal lost: gc finds it by its name and stops it.
    std::fs::remove_dir_all(format!("{state}/held")).unwrap();
    assert!(gc(false).contains("pasta process"));
    gc(true);
    assert!(pastas().is_empty(), "gc --apply left pasta running");
    nsr(&["gc", "--apply"]).expect_code(0);
}

/// The attack on `outbound: false`: a command in the sandbox connects to a server
/// across a veth to a second namespace (both made by the test: the packets never leave
/// the machine, nor pass through pasta). Without the protection (`guard` false: no
/// pasta, no rule) the page comes back; with `outbound: false` the connection fails and
/// the rule's counter shows the dropped packets.
fn connect_out(s: &Scratch, guard: bool) -> Run {
    let p = short_prefix();
    let pasta = if guard {
        "client.pasta(#{ outbound: false });\n"
    } else {
        ""
    };
    let recipe = s.write(
        &format!("out-{guard}.nsr"),
        &format!(
            "let client = netns(\"{p}-oc\");\n\
             let server = netns(\"{p}-os\");\n\
             let pair = client.veth(\"{p}c\", \"{p}s\", server);\n\
             pair.host.addr(\"10.233.7.1/24\").up();\n\
             server.addr(\"{p}s\", \"10.233.7.2/24\"); server.up(\"{p}s\"); server.up(\"lo\"); client.up(\"lo\");\n\
             let web = unshare(#{{ kinds: [\"mount\", \"pid\"], net: server }});\n\
             web.mount(\"tmpfs\", \"/srv\", \"tmpfs\");\n\
             web.run([\"sh\", \"-c\", \"echo reached-the-other-namespace > /srv/index.html\"]);\n\
             web.run([\"busybox\", \"httpd\", \"-p\", \"10.233.7.2:80\", \"-h\", \"/srv\"], #{{ check: true }});\n\
             {pasta}\
             let box = unshare(#{{ kinds: [\"mount\", \"pid\"], net: client }});\n\
             print(box.run([\"timeout\", \"3\", \"busybox\", \"wget\", \"-q\", \"-O\", \"-\", \"http://10.233.7.2/\"]).stdout);\n\
             if {guard} {{ print(box.run([\"nft\", \"list\", \"ruleset\"], #{{ privileged: true }}).stdout); }}\n"
        ),
    );
    nsr(&["run", &recipe])
}

#[test]
fn outbound_false_stops_a_connection_out_of_the_sandbox_that_succeeds_without_it() {
    let _g = privileged();
    let s = Scratch::new("pasta-guard");
    let before = HostState::take();
    let open = connect_out(&s, false);
    open.expect_code(0);
    assert!(
        open.stdout.contains("reached-the-other-namespace"),
        "{}",
        open.stdout
    );
    let guarded = connect_out(&s, true);
    guarded.expect_code(0);
    assert!(
        !guarded.stdout.contains("reached-the-other-namespace"),
        "{}",
        guarded.stdout
    );
    let dropped: u64 = guarded
        .stdout
        .split("counter packets ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter in {}", guarded.stdout));
    assert!(dropped > 0, "{}", guarded.stdout);
    assert!(pastas().is_empty());
    before.assert_unchanged("after the outbound attack");
}

#[test]
fn slirp4netns_serves_the_same_way_for_an_ordinary_user_and_nothing_is_left() {
    let _g = privileged();
    let s = Scratch::new("slirp-web");
    let state = nobody_state(&s);
    let port = free_port();
    let served = serve_kept(&s, &state, "slirp4netns", port, "served-by-slirp");
    assert!(
        served.addr.contains("inet 10.0.2.100/24"),
        "{}",
        served.addr
    );
    assert!(
        served.route.starts_with("default via 10.0.2.2"),
        "{}",
        served.route
    );
    assert_has_all(&served.rules, &["hook output", "drop"]);
    assert!(fetch(port).contains("served-by-slirp"));
    run_command(nobody(&s, &state, &["down", "web"])).expect_code(0);
    assert!(pastas().is_empty(), "slirp4netns left after nsr down");
    assert!(!listening(port));
    // A failure after it started, and SIGKILL before its pid is journaled.
    let failing = s.write(
        "fail.nsr",
        &web_recipe_via(
            "slirp4netns",
            ROOTLESS_KINDS,
            &format!("[{port}]"),
            "x",
            "throw \"fails\";",
        ),
    );
    let r = run_command(nobody(&s, &state, &["run", &failing]));
    r.expect_code(1);
    assert_has_all(&r.stderr, &["undid slirp4netns"]);
    assert!(pastas().is_empty());
    let mut cmd = nobody(&s, &state, &["run", "--name", "crash", &failing]);
    cmd.env("NSR_CRASH_AFTER", "3");
    assert_eq!(run_command(cmd).code, 137);
    run_command(nobody(&s, &state, &["down", "crash"])).expect_code(0);
    assert!(
        pastas().is_empty(),
        "slirp4netns left after a crash and nsr down"
    );
    assert!(!listening(port));
    let left: Vec<String> = std::fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("nsr-slirp-"))
        .collect();
    assert!(
        left.is_empty(),
        "slirp4netns's socket directories left: {left:?}"
    );
}

#[test]
fn without_pasta_slirp4netns_is_the_fallback_and_the_run_says_so() {
    let _g = privileged();
    let s = Scratch::new("slirp-fallback");
    let before = HostState::take();
    let port = free_port();
    // A PATH with slirp4netns and not pasta.
    let bin = s.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink("/usr/bin/slirp4netns", format!("{bin}/slirp4netns")).unwrap();
    let recipe = s.write(
        "r.nsr",
        &format!(
            "let box = unshare(#{{ kinds: [\"mount\", \"pid\", \"net\"], net: \"pasta\", ports: [#{{ host: {port}, inside: 80 }}], outbound: false }});\n\
             box.mount(\"tmpfs\", \"/srv\", \"tmpfs\");\n\
             box.run([\"/bin/sh\", \"-c\", \"echo fallback-page > /srv/index.html\"]);\n\
             box.run([\"/bin/busybox\", \"httpd\", \"-p\", \"80\", \"-h\", \"/srv\"], #{{ check: true }});\n"
        ),
    );
    let name = format!("{}-fb", short_prefix());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nsr"));
    cmd.args(["run", "--keep", "--name", &name, &recipe])
        .env("PATH", format!("{bin}:/usr/sbin:/sbin"));
    let r = run_command(cmd);
    r.expect_code(0);
    assert_has_all(
        &r.stderr,
        &[
            "r.nsr:1:11",
            "pasta is not installed: slirp4netns connects the sandbox instead",
        ],
    );
    assert!(fetch(port).contains("fallback-page"));
    nsr(&["down", &name]).expect_code(0);
    assert!(pastas().is_empty());
    before.assert_unchanged("after the slirp4netns fallback");
}
