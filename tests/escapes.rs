//! A chrooted sandbox cannot reach outside its root through nsr's own processes: not
//! through the holder's fds, working directory or root (/proc/1/... and its host pid),
//! nor through nsr's (visible without a pid namespace). The class of runc's
//! CVE-2024-21626. Each case runs the same probe, which a control shows can find a way
//! out when one is there.

mod common;

use common::*;
use std::process::Command;

/// Looks through /proc/PID/{root,cwd,fd/*} of nsr's processes (comm nsr or nsr-holder,
/// PID 1, and every pid in $TARGETS) for the host-only marker, by its host path and by
/// its path from nsr's working directory; with $ENVIRON=1, also whether their environ
/// can be read. Prints CONFINED, or ESCAPE and every way out it found.
const PROBE: &str = r#"found=""
for p in /proc/[0-9]* $(for t in $TARGETS; do echo /proc/$t; done); do
  c=$(cat $p/comm 2>/dev/null)
  case "$c" in
    nsr|nsr-holder) ;;
    *) [ "$p" = /proc/1 ] || case " $TARGETS " in *" ${p#/proc/} "*) ;; *) continue;; esac;;
  esac
  for l in $p/root $p/cwd $p/fd/*; do
    for t in "$l$MARKER" "$l/host-only/marker"; do
      if cat "$t" 2>/dev/null | grep -q HOST-ONLY; then found="$found $t"; fi
    done
  done
  if [ "$ENVIRON" = 1 ] && cat $p/environ >/dev/null 2>&1; then found="$found $p/environ"; fi
done
if [ -n "$found" ]; then echo "ESCAPE:$found"; else echo CONFINED; fi
"#;

struct World {
    s: Scratch,
    root: String,
    marker: String,
}

/// A busybox root, and beside it (outside it) a marker only the host can see.
fn world(name: &str) -> World {
    let s = Scratch::new(name);
    let root = s.busybox_root("root");
    let marker = s.write("host-only/marker", "HOST-ONLY\n");
    World { s, root, marker }
}

impl World {
    /// Runs RECIPE with nsr's working directory beside the marker, so that an fd of
    /// nsr's cwd would also lead to it.
    fn run(&self, recipe: &str) -> Run {
        let file = self.s.write("probe.nsr", recipe);
        let mut cmd = Command::new(NSR);
        cmd.args(["run", &file, &format!("root={}", self.root)])
            .current_dir(&self.s.dir);
        run_command(cmd)
    }

    fn probe_call(&self, environ: bool) -> String {
        self.probe_with_targets(environ, "")
    }

    /// The probe, also looking at the processes TARGETS names ("self": the probe's own).
    fn probe_with_targets(&self, environ: bool, targets: &str) -> String {
        format!(
            "box.run({:?}, #{{ env: #{{ MARKER: {:?}, ENVIRON: \"{}\", TARGETS: {:?} }} }})",
            PROBE,
            self.marker,
            u8::from(environ),
            targets
        )
    }
}

/// The probe's verdict in a chrooted sandbox of KINDS, with /proc mounted inside by
/// the sandbox (own mount namespace) or, without one, by the test beforehand.
fn confined_after_chroot(kinds: &str, userns: bool) -> String {
    let _g = privileged();
    let w = world("escape");
    let own_mount = kinds.contains("\"mount\"");
    let own_pid = kinds.contains("\"pid\"");
    if !own_mount {
        // The host's proc, as a sandbox without a mount namespace would find it.
        let proc_dir = format!("{}/proc", w.root);
        w.s.own_mount(&proc_dir);
        nix::mount::mount(
            Some("proc"),
            proc_dir.as_str(),
            Some("proc"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
    }
    let map = if userns { ", map_root: true" } else { "" };
    // A new proc needs a pid namespace of the sandbox's own; without one the sandbox
    // binds the host's /proc into its root before the chroot.
    let (before, after) = match (own_mount, own_pid) {
        (true, true) => ("", "box.mount(\"proc\", \"/proc\", \"proc\");\n"),
        (true, false) => (
            "box.mount(\"/proc\", args.root + \"/proc\", \"rbind\");\n",
            "",
        ),
        (false, _) => ("", ""),
    };
    let recipe = format!(
        "let box = unshare(#{{ kinds: {kinds}{map} }});\n{before}box.chroot(args.root);\n{after}let r = {};\nprint(r.stdout);\n",
        w.probe_call(userns)
    );
    let r = w.run(&recipe);
    r.expect_code(0);
    r.stdout
}

#[test]
fn the_holder_keeps_nothing_outside_the_root_with_pid_mount_and_user_namespaces() {
    let out = confined_after_chroot("[\"mount\", \"pid\", \"user\"]", true);
    assert_eq!(out.trim(), "CONFINED");
}

#[test]
fn without_a_pid_namespace_neither_nsr_nor_the_holder_leads_out() {
    // The sandbox sees nsr's process and the holder by their host pids.
    let out = confined_after_chroot("[\"mount\", \"user\"]", true);
    assert_eq!(out.trim(), "CONFINED");
}

#[test]
fn without_a_mount_namespace_the_host_pids_lead_nowhere_either() {
    let out = confined_after_chroot("[\"pid\", \"user\"]", true);
    assert_eq!(out.trim(), "CONFINED");
}

#[test]
fn an_ordinary_users_sandbox_is_confined_too() {
    // nsr as nobody: the same user as the sandbox's processes, outside its user namespace.
    let _g = privileged();
    let w = world("escape-rootless");
    let recipe = w.s.write(
        "rootless.nsr",
        &format!(
            "let box = unshare(#{{ kinds: [\"mount\", \"pid\", \"user\"], map_root: true }});\nbox.chroot(args.root);\nbox.mount(\"proc\", \"/proc\", \"proc\");\nprint({}.stdout);\n",
            w.probe_call(true)
        ),
    );
    let mut cmd = nsr_as_nobody(&w.s);
    cmd.args(["run", &recipe, &format!("root={}", w.root)])
        .env("NSR_SECRET", "in nsr's environment");
    let r = run_command(cmd);
    r.expect_code(0);
    assert_eq!(r.stdout.trim(), "CONFINED");
}

#[test]
fn a_root_sandbox_in_a_pid_namespace_finds_no_outside_fd_in_its_init() {
    // Real root (CAP_SYS_PTRACE) can open /proc/1/fd of anything: only what the holder
    // holds matters, and it holds nothing outside the root.
    let out = confined_after_chroot("[\"mount\", \"pid\"]", false);
    assert_eq!(out.trim(), "CONFINED");
}

#[test]
fn after_pivot_root_and_nested_chroots_the_holder_is_still_confined() {
    let _g = privileged();
    let w = world("escape-pivot");
    std::fs::create_dir_all(format!("{}/inner/bin", w.root)).unwrap();
    std::fs::create_dir_all(format!("{}/inner/proc", w.root)).unwrap();
    std::fs::copy(
        format!("{}/bin/busybox", w.root),
        format!("{}/inner/bin/busybox", w.root),
    )
    .unwrap();
    for t in ["sh", "cat", "grep"] {
        std::os::unix::fs::symlink("busybox", format!("{}/inner/bin/{t}", w.root)).unwrap();
    }
    let pivot = format!(
        "let box = unshare(#{{ kinds: [\"mount\", \"pid\", \"user\"], map_root: true }});\nbox.mount(\"proc\", args.root + \"/proc\", \"proc\");\nbox.pivot_root(args.root);\nprint({}.stdout);\n",
        w.probe_call(true)
    );
    let r = w.run(&pivot);
    r.expect_code(0);
    assert_eq!(r.stdout.trim(), "CONFINED");
    // Two chroots, one inside the other: neither old root stays in the holder.
    let nested = format!(
        "let box = unshare(#{{ kinds: [\"mount\", \"pid\", \"user\"], map_root: true }});\nbox.chroot(args.root);\nbox.chroot(\"/inner\");\nbox.mount(\"proc\", \"/proc\", \"proc\");\nprint({}.stdout);\n",
        w.probe_call(true)
    );
    let r = w.run(&nested);
    r.expect_code(0);
    assert_eq!(r.stdout.trim(), "CONFINED");
}

#[test]
fn the_probe_finds_a_way_out_when_there_is_one() {
    let _g = privileged();
    let w = world("escape-control");
    // 1. A sandbox that did not chroot: its own root is the host's.
    let recipe = format!(
        "let box = unshare(#{{ kinds: [\"mount\", \"pid\", \"user\"], map_root: true }});\nbox.mount(\"proc\", \"/proc\", \"proc\");\nprint({}.stdout);\n",
        w.probe_with_targets(true, "self")
    );
    let r = w.run(&recipe);
    r.expect_code(0);
    assert!(
        r.stdout.contains("ESCAPE:") && r.stdout.contains("/proc/self/root"),
        "{}",
        r.stdout
    );
    // 2. On the host, a process that holds an fd of the directory beside the marker and
    // has it as its working directory, as the holder once did with its old root.
    let dir = std::fs::File::open(&w.s.dir).unwrap();
    let me = std::process::id().to_string();
    let mut probe = Command::new("sh");
    probe
        .args(["-c", PROBE])
        .env("MARKER", &w.marker)
        .env("ENVIRON", "1")
        .env("TARGETS", &me)
        .current_dir("/");
    let r = run_command(probe);
    drop(dir);
    assert!(r.stdout.contains("ESCAPE:"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("/proc/{me}/fd/")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!("/proc/{me}/environ")),
        "{}",
        r.stdout
    );
}

#[test]
fn after_a_chroot_undone_in_the_repl_the_holder_is_still_confined() {
    let _g = privileged();
    let w = world("escape-repl");
    std::fs::create_dir_all(format!("{}/inner/proc", w.root)).unwrap();
    std::fs::write(format!("{}/probe.sh", w.root), PROBE).unwrap();
    let mut p = repl_session(&w.s, &[]);
    let mut stmt = |text: &str, marker: &str| repl_stmt(&mut p, text, marker);
    stmt(
        "let b = unshare(#{ kinds: [\"mount\", \"pid\", \"user\"], map_root: true }); print(\"made \" + \"b\");",
        "made b",
    );
    stmt(
        &format!("b.chroot({:?}); print(\"in \" + \"root\");", w.root),
        "in root",
    );
    stmt(
        "b.chroot(\"/inner\"); print(\"in \" + \"inner\");",
        "in inner",
    );
    stmt(":undo", "undid chroot /inner");
    stmt(
        "b.mount(\"proc\", \"/proc\", \"proc\"); print(\"proc \" + \"mounted\");",
        "proc mounted",
    );
    p.send_line(&format!(
        "print(\"verdict \" + b.run([\"sh\", \"/probe.sh\"], #{{ env: #{{ MARKER: {:?}, ENVIRON: \"1\", TARGETS: \"\" }} }}).stdout);",
        w.marker
    ))
    .unwrap();
    let (_, verdict) = p.exp_regex("verdict [A-Z]+[^\r\n]*").unwrap();
    p.exp_string(REPL_PROMPT).unwrap();
    p.send_line(":quit").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(verdict, "verdict CONFINED");
}

/// Reads the memory of process $1 for the secret (given reversed as $2, so that the
/// reader's own arguments do not hold it) and tries to trace it. Prints
/// `mem:FOUND|notfound|ERRNO ptrace:ATTACHED|ERRNO`.
const MEMORY_ATTACK: &str = r#"
import ctypes, errno, sys
pid, want = int(sys.argv[1]), sys.argv[2][::-1].encode()
out = []
try:
    maps = open(f"/proc/{pid}/maps").read().splitlines()
    mem = open(f"/proc/{pid}/mem", "rb", buffering=0)
    found = False
    for line in maps:
        span, perms = line.split()[:2]
        if "r" not in perms:
            continue
        start, end = (int(x, 16) for x in span.split("-"))
        try:
            mem.seek(start)
            found = found or want in mem.read(end - start)
        except OSError:
            pass
    out.append("mem:" + ("FOUND" if found else "notfound"))
except OSError as e:
    out.append("mem:" + errno.errorcode[e.errno])
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
    out.append("ptrace:ATTACHED")
    libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
else:
    out.append("ptrace:" + errno.errorcode[ctypes.get_errno()])
print(" ".join(out))
"#;

/// The memory attack from inside a sandbox of an ordinary user (or root) on the holder,
/// PID 1, whose memory is a copy of nsr's (the recipe's parameters in it); and, as the
/// control, on a process of the sandbox's own that holds the same secret.
fn memory_attack(as_nobody: bool) -> (String, String) {
    let _g = privileged();
    let s = Scratch::new("escape-memory");
    let attack = s.write("attack.py", MEMORY_ATTACK);
    let secret = "SEKRIT-7c1f-in-nsrs-heap";
    let reversed: String = secret.chars().rev().collect();
    // The control's target says it holds the secret by making this file (in /tmp:
    // the sandbox's root may be nobody, who cannot write in the scratch directory).
    let ready = format!("/tmp/{}-target-ready", prefix());
    let recipe = s.write(
        "memory.nsr",
        &format!(
            r#"let box = unshare(#{{ kinds: ["mount", "pid", "user"], map_root: true }});
box.mount("proc", "/proc", "proc");
let holder = box.run(["/usr/bin/python3", {attack:?}, "1", {reversed:?}]);
let control = box.run(["sh", "-c", "rm -f {ready}; /usr/bin/python3 -c 'import sys, time; s = sys.argv[1][::-1]; open(\"{ready}\", \"w\").close(); time.sleep(30)' {reversed} & while [ ! -e {ready} ]; do sleep 0.01; done; /usr/bin/python3 {attack} $! {reversed}; kill $!; rm -f {ready}"]);
print("holder " + holder.stdout + holder.stderr);
print("control " + control.stdout + control.stderr);
"#
        ),
    );
    let mut cmd = if as_nobody {
        nsr_as_nobody(&s)
    } else {
        Command::new(NSR)
    };
    cmd.args(["run", &recipe, &format!("secret={secret}")])
        .current_dir(&s.dir);
    let r = run_command(cmd);
    r.expect_code(0);
    let line = |what: &str| {
        r.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{what} ")))
            .unwrap_or_else(|| panic!("no {what} line:\n{}", r.stdout))
            .trim()
            .to_string()
    };
    (line("holder"), line("control"))
}

#[test]
fn an_ordinary_users_holder_can_be_neither_read_nor_traced_from_inside() {
    let (holder, control) = memory_attack(true);
    assert_eq!(control, "mem:FOUND ptrace:ATTACHED", "the attack works");
    assert_eq!(holder, "mem:EACCES ptrace:EPERM");
}

#[test]
fn a_root_users_holder_can_be_neither_read_nor_traced_from_a_user_namespace() {
    let (holder, control) = memory_attack(false);
    assert_eq!(control, "mem:FOUND ptrace:ATTACHED", "the attack works");
    assert_eq!(holder, "mem:EACCES ptrace:EPERM");
}
