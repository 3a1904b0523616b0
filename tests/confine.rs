//! A sandbox is confined by default, a place where untrusted code runs: each attack here
//! fails confined and, as the control, succeeds with `privileged: true` on the same
//! machine, so that every test can fail.

mod common;
use common::*;

/// Runs `probe` (a shell command) in a sandbox of `kinds` twice, confined and
/// privileged; returns both outputs (stdout and stderr together).
fn both_ways(s: &Scratch, kinds: &str, extra: &str, probe: &str) -> (String, String) {
    let recipe = s.write(
        "probe.nsr",
        &format!(
            "let confined = unshare(#{{ kinds: {kinds}, privileged: false }});\n\
             let privileged = unshare(#{{ kinds: {kinds}, privileged: true }});\n\
             {extra}\n\
             let a = confined.run(args.probe);\n\
             let b = privileged.run(args.probe);\n\
             print(\"CONFINED \" + a.stdout + a.stderr + \"\\nEND\");\n\
             print(\"PRIVILEGED \" + b.stdout + b.stderr + \"\\nEND\");\n"
        ),
    );
    let r = nsr(&["run", &recipe, &format!("probe={probe}")]);
    r.expect_code(0);
    let part = |tag: &str| {
        let start = r.stdout.find(&format!("{tag} ")).expect(tag) + tag.len() + 1;
        let end = r.stdout[start..].find("\nEND").unwrap() + start;
        r.stdout[start..end].to_string()
    };
    (part("CONFINED"), part("PRIVILEGED"))
}

/// Runs each recipe body (a bad option in it): a located error naming the bad value,
/// and nothing after it runs.
fn each_refused(s: &Scratch, cases: &[(&str, &str)]) {
    for (body, want) in cases {
        let r = run_recipe(s, "bad.nsr", &format!("{body}\nprint(\"made\");\n"), &[]);
        r.expect_code(1);
        assert_has_all(&r.stderr, &["bad.nsr:", want]);
        assert!(!r.stdout.contains("made"), "{body}");
    }
}

/// The capabilities this test process (root on the host) has: what privileged keeps.
fn host_caps() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap()
        .trim()
        .to_string()
}

const KINDS: &str = "[\"mount\", \"uts\", \"ipc\", \"pid\"]";

#[test]
fn a_confined_command_has_the_runtime_capabilities_no_new_privs_and_a_filter() {
    let _g = privileged();
    let s = Scratch::new("confine-status");
    let (confined, privileged) = both_ways(
        &s,
        KINDS,
        "",
        "grep -E '^(CapEff|CapBnd|CapInh|NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\\t' ' '",
    );
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE
    // NET_RAW AUDIT_WRITE SETFCAP: the OCI default without MKNOD and SYS_CHROOT.
    assert_has_all(
        &confined,
        &[
            "CapInh: 00000000a00025fb",
            "CapEff: 00000000a00025fb",
            "CapBnd: 00000000a00025fb",
            "NoNewPrivs: 1",
            "Seccomp: 2",
        ],
    );
    let all = format!("CapEff: {}", host_caps());
    assert_has_all(&privileged, &[&all, "NoNewPrivs: 0", "Seccomp: 0"]);
}

#[test]
fn mounts_and_new_namespaces_are_refused_inside() {
    let _g = privileged();
    let s = Scratch::new("confine-mount");
    let probe = "mount -t tmpfs none /mnt && echo MOUNTED; umount /proc 2>/dev/null; \
                 unshare -U true && echo USERNS; unshare -m true && echo MOUNTNS; \
                 mknod /tmp/nsr-disk b 8 0 && echo MKNOD; rm -f /tmp/nsr-disk; true";
    let (confined, privileged) = both_ways(&s, KINDS, "", probe);
    for got in ["MOUNTED", "USERNS", "MOUNTNS", "MKNOD"] {
        assert!(!confined.contains(got), "{got} confined:\n{confined}");
        assert!(privileged.contains(got), "{got} privileged:\n{privileged}");
    }
    assert_has_all(&confined, &["permission denied", "Operation not permitted"]);
}

/// System calls made from python3 with ctypes: each prints NAME=ok or NAME=ERRNO.
const SYSCALLS: &str = r#"
import ctypes, errno, mmap, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def say(name, r):
    print(name + "=" + ("ok" if r >= 0 else errno.errorcode[ctypes.get_errno()]))
# The shocker escape: a handle of a host file made outside, opened by handle inside.
class Handle(ctypes.Structure):
    _fields_ = [("bytes", ctypes.c_uint), ("type", ctypes.c_int), ("f", ctypes.c_ubyte * 128)]
h = Handle(); h.bytes = 128; mnt = ctypes.c_int()
libc.name_to_handle_at(-100, sys.argv[1].encode(), ctypes.byref(h), ctypes.byref(mnt), 0)
root = os.open("/", os.O_RDONLY)
say("open_by_handle_at", libc.syscall(304, root, ctypes.byref(h), os.O_RDONLY))
say("keyctl", libc.syscall(250, 0, -3, 0))  # KEYCTL_GET_KEYRING_ID, session keyring
attr = (ctypes.c_uint * 5)(2, 4, 4, 1, 0)  # BPF_MAP_TYPE_ARRAY, key 4, value 4, 1 entry
say("bpf", libc.syscall(321, 0, attr, 20))  # BPF_MAP_CREATE
pattr = (ctypes.c_ubyte * 128)(); pattr[0] = 1; pattr[4] = 128  # PERF_TYPE_SOFTWARE, size
say("perf_event_open", libc.syscall(298, pattr, 0, -1, -1, 0))
# The holder, pid 1 of the sandbox: no ptrace, no /proc/1/exe (CVE-2019-5736's way).
r = libc.ptrace(16, 1, 0, 0)  # PTRACE_ATTACH
say("ptrace_holder", r)
if r == 0:
    os.waitpid(1, 0x40000000)  # __WALL: it stops for its tracer
    libc.ptrace(17, 1, 0, 0)  # PTRACE_DETACH
try:
    os.close(os.open("/proc/1/exe", os.O_RDONLY))
    print("holder_exe=ok")
except OSError as e:
    print("holder_exe=" + errno.errorcode[e.errno])
say("pivot_root", libc.syscall(155, b"/", b"/"))
say("umount_proc", libc.umount2(b"/proc", 2))  # MNT_DETACH
# Before the unshare below, which (privileged) leaves this process in a user namespace.
# The 32-bit entry: unshare(CLONE_NEWUSER) through int 0x80, from executable memory.
code = bytes.fromhex("53b836010000bb00000010cd805bc3")
buf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
buf.write(code)
f = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(buf)))
r = f()
print("int80_unshare=" + ("ok" if r == 0 else errno.errorcode.get(-r, str(r))))
# x32: mount(2) with the x32 bit.
say("x32_mount", libc.syscall(0x40000000 | 165, b"none", b"/mnt", b"tmpfs", 0, 0))
# Still allowed: tracing one's own child.
pid = os.fork()
if pid == 0:
    libc.ptrace(0, 0, 0, 0); os.kill(os.getpid(), 19); os._exit(0)
_, st = os.waitpid(pid, os.WUNTRACED)
print("trace_child=" + ("ok" if os.WIFSTOPPED(st) else "no"))
os.kill(pid, 9); os.waitpid(pid, 0)
"#;

#[test]
fn the_filter_refuses_file_handles_keys_bpf_perf_and_the_32_bit_entry() {
    let _g = privileged();
    let s = Scratch::new("confine-syscalls");
    let script = s.write("syscalls.py", SYSCALLS);
    let host_file = s.write("host-only", "HOST\n");
    let probe = format!("/usr/bin/python3 {script} {host_file}");
    // A proc of the sandbox's own: /proc/1 is the holder, not the host's init.
    let own_proc = "confined.mount(\"proc\", \"/proc\", \"proc\");\n\
                    privileged.mount(\"proc\", \"/proc\", \"proc\");";
    let (confined, privileged) = both_ways(&s, KINDS, own_proc, &probe);
    for call in [
        "open_by_handle_at",
        "keyctl",
        "bpf",
        "perf_event_open",
        "int80_unshare",
        "x32_mount",
        "ptrace_holder",
        "pivot_root",
        "umount_proc",
    ] {
        assert!(
            confined.contains(&format!("{call}=EPERM")),
            "{call} confined:\n{confined}"
        );
        assert!(
            !privileged.contains(&format!("{call}=EPERM")),
            "{call} privileged:\n{privileged}"
        );
    }
    // The controls that show each call can succeed here.
    for call in [
        "open_by_handle_at",
        "keyctl",
        "bpf",
        "perf_event_open",
        "int80_unshare",
        "ptrace_holder",
        "holder_exe",
        "umount_proc",
    ] {
        assert!(
            privileged.contains(&format!("{call}=ok")),
            "{call} privileged:\n{privileged}"
        );
    }
    assert!(confined.contains("trace_child=ok"), "{confined}");
    assert!(confined.contains("holder_exe=EACCES"), "{confined}");
}

/// The classic way out of a chroot, by a root that may chroot: chroot into a directory
/// below (leaving the working directory outside it), climb, chroot there.
const DOUBLE_CHROOT: &str = r#"
import os, sys
os.makedirs("/x", exist_ok=True)
try:
    os.chroot("/x")
except OSError as e:
    print("chroot=" + os.strerror(e.errno)); sys.exit(0)
for _ in range(64):
    os.chdir("..")
os.chroot(".")
try:
    print("outside=" + open(sys.argv[1]).read().strip())
except OSError as e:
    print("stayed inside: " + os.strerror(e.errno))
"#;

#[test]
fn a_second_chroot_cannot_lead_out_of_a_chrooted_confined_sandbox() {
    let _g = privileged();
    let s = Scratch::new("confine-chroot");
    let marker = s.write("outside-marker", "OUTSIDE THE ROOT\n");
    // Two roots with the host's /usr (python) bound in read-only.
    let mut roots = Vec::new();
    for name in ["root", "pivoted"] {
        let root = s.busybox_root(name);
        std::fs::create_dir_all(format!("{root}/usr")).unwrap();
        for (link, to) in [("lib", "usr/lib"), ("lib64", "usr/lib64")] {
            std::os::unix::fs::symlink(to, format!("{root}/{link}")).unwrap();
        }
        std::fs::write(format!("{root}/escape.py"), DOUBLE_CHROOT).unwrap();
        roots.push(root);
    }
    let recipe = s.write(
        "c.nsr",
        "let a = unshare(#{ kinds: [\"mount\", \"pid\"] });\n\
         let b = unshare(#{ kinds: [\"mount\", \"pid\"], privileged: true });\n\
         let c = unshare(#{ kinds: [\"mount\", \"pid\"] });\n\
         for x in [a, b] {\n\
           x.mount(\"/usr\", args.root + \"/usr\", \"bind\", #{ readonly: true });\n\
           x.chroot(args.root);\n\
         }\n\
         c.mount(\"/usr\", args.pivoted + \"/usr\", \"bind\", #{ readonly: true });\n\
         c.pivot_root(args.pivoted);\n\
         let cmd = [\"/usr/bin/python3\", \"/escape.py\", args.marker];\n\
         print(\"confined \" + a.run(cmd).stdout);\n\
         print(\"privileged \" + b.run(cmd).stdout);\n\
         print(\"pivoted \" + c.run(cmd).stdout);\n",
    );
    let r = nsr(&[
        "run",
        &recipe,
        &format!("root={}", roots[0]),
        &format!("pivoted={}", roots[1]),
        &format!("marker={marker}"),
    ]);
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            // Confined in a chroot: no CAP_SYS_CHROOT, so no second chroot.
            "confined chroot=Operation not permitted",
            // The control: the same program walks out of the root.
            "privileged outside=OUTSIDE THE ROOT",
            // After pivot_root it may chroot (the runtimes' default set: the first
            // chroot succeeded), and the same walk finds nothing above the root.
            "pivoted stayed inside: No such file or directory",
        ],
    );
}

#[test]
fn resource_limits_apply_to_the_command() {
    let _g = privileged();
    let s = Scratch::new("confine-rlimits");
    let recipe = s.write(
        "r.nsr",
        "let b = unshare(#{ kinds: [\"pid\"], rlimits: #{ nofile: 16, core: 0, fsize: [1024, 4096] } });\n\
         print(b.run(\"ulimit -n; ulimit -c; ulimit -f\").stdout);\n\
         print(b.run([\"/usr/bin/python3\", \"-c\", \"import os\\nfds = []\\ntry:\\n    while True: fds.append(os.open('/dev/null', os.O_RDONLY))\\nexcept OSError as e: print('opened', len(fds) + 3, e.strerror)\"]).stdout);\n\
         print(b.run(\"ulimit -n\", #{ rlimits: #{ nofile: 64 } }).stdout);\n",
    );
    let r = nsr(&["run", &recipe]);
    r.expect_code(0);
    // fsize is counted in 512-byte blocks by the shell's ulimit.
    assert_has_all(
        &r.stdout,
        &["16\n0\n2\n", "opened 16 Too many open files", "64"],
    );
}

#[test]
fn per_command_options_change_one_command_only() {
    let _g = privileged();
    let s = Scratch::new("confine-per-command");
    let recipe = s.write(
        "p.nsr",
        "let b = unshare(#{ kinds: [\"pid\"], privileged: false });\n\
         let st = \"grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\\\\t' ' '\";\n\
         print(\"all \" + b.run(st, #{ caps: \"all\", seccomp: \"none\", no_new_privs: false }).stdout);\n\
         print(\"net \" + b.run(st, #{ caps: [\"NET_ADMIN\"] }).stdout);\n\
         print(\"again \" + b.run(st).stdout);\n",
    );
    let r = nsr(&["run", &recipe]);
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            &format!("all CapEff: {}\nNoNewPrivs: 0\nSeccomp: 0", host_caps()),
            "net CapEff: 0000000000001000\nNoNewPrivs: 1\nSeccomp: 2",
            "again CapEff: 00000000a00025fb",
        ],
    );
}

#[test]
fn bad_confinement_options_get_a_located_error_and_make_nothing() {
    let _g = privileged();
    let s = Scratch::new("confine-bad");
    let before = HostState::take();
    each_refused(
        &s,
        &[
            (
                "unshare(#{ kinds: [\"pid\"], caps: [\"NET_ADMINN\"] });",
                "unknown capability 'NET_ADMINN'",
            ),
            (
                "unshare(#{ kinds: [\"pid\"], seccomp: #{ deny: [\"mountt\"] } });",
                "unknown system call 'mountt'",
            ),
            (
                "unshare(#{ kinds: [\"pid\"], rlimits: #{ nofile: -1 } });",
                "rlimits nofile: -1 is negative",
            ),
            (
                "unshare(#{ kinds: [\"pid\"], rlimits: #{ nofiles: 1 } });",
                "unknown resource limit 'nofiles'",
            ),
            (
                "unshare(#{ kinds: [\"pid\"], privileged: true, caps: \"all\" });",
                "privileged: true turns confinement off",
            ),
            (
                "unshare(#{ kinds: [\"pid\"], seccomp: \"strict\" });",
                "seccomp is \"default\", \"none\" or a map",
            ),
            (
                "let b = unshare([\"pid\"]);\nb.run(\"true\", #{ caps: 5 });",
                "caps must be an array",
            ),
            (
                "unshare(#{ kinds: [\"pid\"], run_as: \"bob\" });",
                "run_as: uid 'bob' is not a number (nsr takes ids by number",
            ),
        ],
    );
    before.assert_unchanged("after bad confinement options");
}

#[test]
fn nsr_enter_confines_its_command_as_the_sandbox_does() {
    let _g = privileged();
    let s = Scratch::new("confine-enter");
    let recipe = s.write(
        "k.nsr",
        "let b = unshare(#{ kinds: [\"uts\", \"pid\", \"mount\"], privileged: false });\n",
    );
    let name = format!("{}-confined", prefix());
    nsr(&["run", "--keep", "--name", &name, &recipe]).expect_code(0);
    // No command ran before the keep: the inherited /proc is hardened at the keep.
    let r = nsr(&["enter", &name, "--", "sh", "-c", "grep -E '^(CapEff|Seccomp):' /proc/self/status | tr -s '\\t' ' '; mount -t tmpfs none /mnt || echo refused; echo x > /proc/sys/kernel/domainname || echo read-only-sysctl"]);
    nsr(&["down", &name]).expect_code(0);
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            "CapEff: 00000000a00025fb",
            "Seccomp: 2",
            "refused",
            "read-only-sysctl",
        ],
    );
}

#[test]
fn an_ordinary_users_sandbox_is_confined_the_same_way() {
    let _g = privileged();
    let s = Scratch::new("confine-rootless");
    let recipe = s.write(
        "r.nsr",
        "let c = unshare(#{ kinds: [\"user\", \"mount\", \"pid\"], map_root: true, privileged: false });\n\
         let p = unshare(#{ kinds: [\"user\", \"mount\", \"pid\"], map_root: true, privileged: true });\n\
         let probe = \"grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\\\\t' ' '; mount -t tmpfs none /mnt && echo MOUNTED\";\n\
         print(\"confined \" + c.run(probe).stdout + c.run(probe).stderr);\n\
         print(\"privileged \" + p.run(probe).stdout);\n",
    );
    let mut cmd = nsr_as_nobody(&s);
    cmd.args(["run", &recipe]);
    let r = run_command(cmd);
    r.expect_code(0);
    let (confined, privileged) = r.stdout.split_once("privileged ").unwrap();
    assert_has_all(
        confined,
        &["NoNewPrivs: 1", "Seccomp: 2", "permission denied"],
    );
    assert!(!confined.contains("MOUNTED"), "{confined}");
    assert_has_all(privileged, &["NoNewPrivs: 0", "MOUNTED"]);
}

#[test]
fn proc_and_sys_are_masked_and_read_only_in_a_confined_sandbox() {
    let _g = privileged();
    let s = Scratch::new("confine-proc");
    let before = HostState::take();
    // domainname is the sandbox's own (a uts namespace): writing it is harmless, and
    // shows whether /proc/sys is writable at all (this kernel has no sysrq-trigger and
    // no kcore; they are in the same lists).
    let probe = "echo nsr-test > /proc/sys/kernel/domainname && echo WROTE-SYSCTL; \
                 echo timer_list $(wc -c < /proc/timer_list); \
                 echo firmware $(ls /sys/firmware | wc -l); \
                 touch /sys/kernel/nsr-test 2>&1 | grep -o 'Read-only file system'; true";
    let (confined, privileged) = both_ways(&s, "[\"mount\", \"uts\", \"pid\"]", "", probe);
    assert!(!confined.contains("WROTE-"), "{confined}");
    assert_has_all(
        &confined,
        &["timer_list 0", "firmware 0", "Read-only file system"],
    );
    assert_has_all(&privileged, &["WROTE-SYSCTL"]);
    assert!(!privileged.contains("timer_list 0"), "{privileged}");
    assert!(!privileged.contains("firmware 0"), "{privileged}");
    // A proc and a sysfs the recipe mounts get the same.
    let recipe = s.write(
        "own.nsr",
        "let c = unshare([\"mount\", \"uts\", \"pid\"]);\n\
         c.mount(\"proc\", \"/proc\", \"proc\");\n\
         c.mount(\"sysfs\", \"/sys\", \"sysfs\");\n\
         let r = c.run(args.probe);\n\
         print(r.stdout + r.stderr);\n",
    );
    let r = nsr(&["run", &recipe, &format!("probe={probe}")]);
    r.expect_code(0);
    assert!(!r.stdout.contains("WROTE-"), "{}", r.stdout);
    assert_has_all(
        &r.stdout,
        &["timer_list 0", "firmware 0", "Read-only file system"],
    );
    before.assert_unchanged("after masking proc and sys");
}

#[test]
fn a_setuid_binary_run_as_a_user_inside_gains_nothing() {
    let _g = privileged();
    let s = Scratch::new("confine-setuid");
    // A setuid-root copy of id(1), as an untrusted root could ship one.
    let suid = s.path("suid-id");
    std::fs::copy("/usr/bin/id", &suid).unwrap();
    std::os::unix::fs::chown(&suid, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&suid, std::os::unix::fs::PermissionsExt::from_mode(0o4755)).unwrap();
    let recipe = s.write(
        "u.nsr",
        "let c = unshare(#{ kinds: [\"mount\", \"pid\"], run_as: \"1000:1000\" });\n\
         let p = unshare(#{ kinds: [\"mount\", \"pid\"], run_as: \"1000:1000\", no_new_privs: false, caps: \"all\", seccomp: \"none\" });\n\
         print(\"confined \" + c.run([args.suid, \"-u\"]).stdout + c.run(\"id -u; id -g; grep CapEff /proc/self/status\").stdout);\n\
         print(\"control \" + p.run([args.suid, \"-u\"]).stdout);\n\
         print(\"groups \" + c.run(\"id -G\", #{ run_as: #{ uid: 1001, groups: [27, 100] } }).stdout);\n",
    );
    let r = nsr(&["run", &recipe, &format!("suid={suid}")]);
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            "confined 1000\n1000\n1000\nCapEff:\t0000000000000000",
            // Without no_new_privs the same binary runs as root: the test can fail.
            "control 0",
            "groups 1001 27 100",
        ],
    );
    let plan = nsr(&["plan", &recipe, &format!("suid={suid}")]);
    assert_has_all(
        &plan.stdout,
        &["setpriv --reuid=1000 --regid=1000 --clear-groups --no-new-privs"],
    );
}

#[test]
fn nsr_check_finds_bad_capability_and_syscall_names_without_running() {
    // It runs nsr: not beside a test that counts nsr processes.
    let _g = serial();
    let s = Scratch::new("confine-check");
    let bad = s.write(
        "bad.nsr",
        "let b = unshare(#{ kinds: [\"pid\"], caps: [\"NET_ADMINN\"] });\nb.run(\"true\", #{ seccomp: #{ deny: [\"mountt\"] } });\n\
         unshare(#{ kinds: [\"pid\"], devices: [\"x 1:3\"] });\n\
         b.run(\"true\", #{ landlock: #{ read: [\"etc\"] } });\n\
         b.run(\"true\", #{ devices: \"all\" });\n",
    );
    let r = nsr(&["check", &bad]);
    r.expect_code(1);
    assert_has_all(
        &r.stderr,
        &[
            // Each on the value it is about.
            "bad.nsr:1:43",
            "unknown capability 'NET_ADMINN'",
            "bad.nsr:2:37",
            "unknown system call 'mountt'",
            "bad.nsr:3:38",
            "devices: 'x 1:3' is not",
            "bad.nsr:4:38",
            "landlock read: 'etc' is not an absolute path",
            "bad.nsr:5:27",
            "devices is an option of unshare",
            "5 problem(s)",
        ],
    );
    let good = s.write(
        "good.nsr",
        "let b = unshare(#{ kinds: [\"pid\", \"mount\"], rlimits: #{ nofile: 16 }, run_as: \"1000:1000\" });\nb.run(\"true\", #{ caps: [\"NET_ADMIN\"], seccomp: \"none\" });\n",
    );
    let r = nsr(&["check", &good]);
    r.expect_code(0);
}

#[test]
fn landlock_limits_a_command_to_the_paths_the_recipe_names() {
    let _g = privileged();
    let s = Scratch::new("confine-landlock");
    let root = s.busybox_root("root");
    std::fs::create_dir_all(s.path("root/tmp")).unwrap();
    std::fs::create_dir_all(s.path("root/root")).unwrap();
    std::fs::write(s.path("root/etc/motd"), "secret\n").unwrap();
    std::fs::write(s.path("root/etc/hostname"), "box\n").unwrap();
    // Paths are the sandbox's: /etc/hostname is the root's own, after the chroot.
    let probe = "cat /etc/hostname; cat /etc/motd || echo MOTD-DENIED; \
                 echo x > /tmp/f && echo TMP-WRITTEN; echo x > /root/f || echo ROOT-DENIED; \
                 ls /bin | grep -q busybox && echo BIN-LISTED; echo y > /bin/f || echo BIN-READ-ONLY";
    let recipe = s.write(
        "l.nsr",
        "let c = unshare(#{ kinds: [\"mount\", \"pid\"], landlock: #{ exec: [\"/bin\"], read: [\"/etc/hostname\"], write: [\"/tmp\"] } });\n\
         let p = unshare(#{ kinds: [\"mount\", \"pid\"], privileged: true });\n\
         c.chroot(args.root);\n\
         p.chroot(args.root);\n\
         let a = c.run(args.probe);\n\
         print(\"CONFINED \" + a.stdout + a.stderr);\n\
         let b = p.run(args.probe);\n\
         print(\"PRIVILEGED \" + b.stdout + b.stderr);\n",
    );
    let r = nsr(&[
        "run",
        &recipe,
        &format!("root={root}"),
        &format!("probe={probe}"),
    ]);
    r.expect_code(0);
    let (confined, privileged) = r.stdout.split_once("PRIVILEGED ").unwrap();
    assert_has_all(
        confined,
        &[
            "box\n",
            "cat: can't open '/etc/motd': Permission denied",
            "MOTD-DENIED",
            "TMP-WRITTEN",
            "ROOT-DENIED",
            "BIN-LISTED",
            "BIN-READ-ONLY",
        ],
    );
    assert!(!confined.contains("secret"), "{confined}");
    // The control: without Landlock every one of them goes through.
    assert_has_all(
        privileged,
        &["box\n", "secret\n", "TMP-WRITTEN", "BIN-LISTED"],
    );
    for denied in ["MOTD-DENIED", "ROOT-DENIED", "BIN-READ-ONLY"] {
        assert!(!privileged.contains(denied), "{privileged}");
    }
    assert!(
        s.dir.join("root/root/f").exists(),
        "the control wrote /root/f"
    );
    // The plan names the rules.
    let plan = nsr(&[
        "plan",
        &recipe,
        &format!("root={root}"),
        &format!("probe={probe}"),
    ]);
    assert_has_all(
        &plan.stdout,
        &["# the next command runs under Landlock: only read /etc/hostname; write /tmp; exec /bin"],
    );
}

#[test]
fn a_program_landlock_does_not_let_run_is_refused_with_a_hint() {
    let _g = privileged();
    let s = Scratch::new("confine-landlock-exec");
    let recipe = s.write(
        "e.nsr",
        "let b = unshare(#{ kinds: [\"pid\"] });\n\
         print(b.run(\"echo in\", #{ landlock: #{ exec: [\"/usr\", \"/bin\", \"/lib\", \"/lib64\"] } }).stdout);\n\
         b.run(\"true\", #{ landlock: #{ read: [\"/bin\", \"/lib\"], write: [\"/tmp\"] } });\n",
    );
    let r = nsr(&["run", &recipe]);
    r.expect_code(1);
    assert_has_all(&r.stdout, &["in\n"]);
    assert_has_all(
        &r.stderr,
        &[
            "e.nsr:3:",
            "cannot execute /bin/sh: EACCES",
            "landlock: the program, and its interpreter",
        ],
    );
}

#[test]
fn bad_landlock_paths_get_a_located_error_and_leave_nothing() {
    let _g = privileged();
    let s = Scratch::new("confine-landlock-bad");
    let before = HostState::take();
    each_refused(
        &s,
        &[
        (
            "let b = unshare(#{ kinds: [\"pid\", \"net\"], landlock: #{ read: [\"/no/such/dir\"] } });\nb.run(\"true\");",
            "landlock: open: /no/such/dir: ENOENT",
        ),
        (
            "unshare(#{ kinds: [\"pid\"], landlock: #{ read: [\"etc\"] } });",
            "landlock read: 'etc' is not an absolute path",
        ),
        (
            "unshare(#{ kinds: [\"pid\"], landlock: #{ exe: [\"/bin\"] } });",
            "unknown landlock option 'exe' (known: read, write, exec)",
        ),
        (
            "unshare(#{ kinds: [\"pid\"], landlock: [\"/bin\"] });",
            "landlock is #{ read: [...], write: [...], exec: [...] }",
        ),
    ]);
    before.assert_unchanged("after bad landlock options");
}

#[test]
fn an_ordinary_users_sandbox_gets_landlock_too() {
    let _g = privileged();
    let s = Scratch::new("confine-landlock-rootless");
    s.write("secret", "hidden\n");
    s.write("open", "shown\n");
    let recipe = s.write(
        "r.nsr",
        "let b = unshare(#{ kinds: [\"user\", \"mount\", \"pid\"], map_root: true });\n\
         let rules = #{ exec: [\"/usr\", \"/bin\", \"/lib\", \"/lib64\"], read: [args.open] };\n\
         let probe = \"cat \" + args.open + \"; cat \" + args.secret + \" || echo SECRET-DENIED\";\n\
         print(\"confined \" + b.run(probe, #{ landlock: rules }).stdout);\n\
         print(\"control \" + b.run(probe).stdout);\n",
    );
    let mut cmd = nsr_as_nobody(&s);
    cmd.args([
        "run",
        &recipe,
        &format!("open={}", s.path("open")),
        &format!("secret={}", s.path("secret")),
    ]);
    let r = run_command(cmd);
    r.expect_code(0);
    let (confined, control) = r.stdout.split_once("control ").unwrap();
    assert_has_all(confined, &["shown", "SECRET-DENIED"]);
    assert!(!confined.contains("hidden"), "{confined}");
    assert_has_all(control, &["shown", "hidden"]);
}

#[test]
fn a_capability_tagged_binary_run_as_a_user_inside_gains_nothing() {
    let _g = privileged();
    let s = Scratch::new("confine-setcap");
    // cat with CAP_DAC_READ_SEARCH in its file capabilities, as an untrusted root could
    // ship it, and a file only root may read.
    let tagged = s.path("capcat");
    std::fs::copy("/usr/bin/cat", &tagged).unwrap();
    let set = std::process::Command::new("setcap")
        .args(["cap_dac_read_search+ep", &tagged])
        .status()
        .unwrap();
    assert!(set.success(), "setcap");
    let secret = s.write("secret", "root only\n");
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let recipe = s.write(
        "c.nsr",
        "let c = unshare(#{ kinds: [\"mount\", \"pid\"], run_as: \"1000:1000\" });\n\
         let n = unshare(#{ kinds: [\"mount\", \"pid\"], run_as: \"1000:1000\", caps: \"all\", seccomp: \"none\" });\n\
         let p = unshare(#{ kinds: [\"mount\", \"pid\"], run_as: \"1000:1000\", no_new_privs: false, caps: \"all\", seccomp: \"none\" });\n\
         let cmd = args.tagged + \" \" + args.secret + \" 2>&1 || echo FAILED\";\n\
         print(\"confined \" + c.run(cmd).stdout);\n\
         print(\"nnp \" + n.run(cmd).stdout);\n\
         print(\"control \" + p.run(cmd).stdout);\n",
    );
    let r = nsr(&[
        "run",
        &recipe,
        &format!("tagged={tagged}"),
        &format!("secret={secret}"),
    ]);
    r.expect_code(0);
    let (confined, rest) = r.stdout.split_once("nnp ").unwrap();
    let (nnp, control) = rest.split_once("control ").unwrap();
    // The default bounding set lacks the file's capability: the kernel refuses the exec.
    assert_has_all(confined, &["Operation not permitted", "FAILED"]);
    // With every capability in the bounding set, no_new_privs alone keeps it from rising.
    assert_has_all(nnp, &["Permission denied", "FAILED"]);
    for out in [confined, nnp] {
        assert!(!out.contains("root only"), "{out}");
    }
    // Without no_new_privs the file's capability is granted: the test can fail.
    assert_has_all(control, &["root only"]);
}

/// A tarball of a busybox root that ships a block device node of the host's (a loop
/// device, which root can open on this machine; the disk itself it cannot).
fn tarball_with_a_host_device(s: &Scratch) -> String {
    let root = s.busybox_root("staging");
    let node = std::ffi::CString::new(format!("{root}/dev/disk")).unwrap();
    std::fs::create_dir_all(format!("{root}/dev")).unwrap();
    // Where the recipe binds the host's /dev/null.
    std::fs::write(format!("{root}/dev/null"), "").unwrap();
    // SAFETY: mknod of a new path in the test's scratch directory.
    let made = unsafe { libc::mknod(node.as_ptr(), libc::S_IFBLK | 0o600, libc::makedev(7, 0)) };
    assert_eq!(made, 0, "mknod");
    let tar = s.path("root.tar");
    let ok = std::process::Command::new("tar")
        .args(["-C", &root, "-cf", &tar, "."])
        .status()
        .unwrap();
    assert!(ok.success());
    tar
}

#[test]
fn a_device_node_a_tarball_ships_cannot_be_opened_by_a_confined_command() {
    let _g = privileged();
    let s = Scratch::new("confine-devices");
    let before = HostState::take();
    let tar = tarball_with_a_host_device(&s);
    let probe = "(exec 3</dev/disk) && echo DISK-OPENED; \
                 echo x > /dev/null && echo NULL-WRITTEN; \
                 mknod /dev/mem2 c 1 1 2>&1; true";
    let recipe = s.write(
        "d.nsr",
        "let root = rootfs_from_tar(args.tar, args.dir);\n\
         let c = unshare(#{ kinds: [\"mount\", \"pid\"] });\n\
         let a = unshare(#{ kinds: [\"mount\", \"pid\"], devices: \"all\" });\n\
         let p = unshare(#{ kinds: [\"mount\", \"pid\"], privileged: true });\n\
         for b in [c, a, p] {\n\
           b.mount(\"/dev/null\", root + \"/dev/null\", \"bind\");\n\
           b.chroot(root);\n\
         }\n\
         print(\"CONFINED \" + c.run(args.probe).stdout + c.run(args.probe).stderr);\n\
         print(\"DEVICES-ALL \" + a.run(args.probe).stdout);\n\
         print(\"PRIVILEGED \" + p.run(args.probe).stdout);\n",
    );
    let r = nsr(&[
        "run",
        &recipe,
        &format!("tar={tar}"),
        &format!("dir={}", s.path("root")),
        &format!("probe={probe}"),
    ]);
    r.expect_code(0);
    let (confined, rest) = r.stdout.split_once("DEVICES-ALL ").unwrap();
    let (all, privileged) = rest.split_once("PRIVILEGED ").unwrap();
    // The extraction made the node, as GNU tar as root would.
    assert_has_all(
        confined,
        &[
            "can't open /dev/disk: Operation not permitted",
            "NULL-WRITTEN",
        ],
    );
    assert!(!confined.contains("DISK-OPENED"), "{confined}");
    // The default capabilities have no MKNOD either.
    assert_has_all(confined, &["mknod: /dev/mem2: Operation not permitted"]);
    // The same confinement without the device policy opens it: the policy is what
    // stops it; and so does privileged.
    assert_has_all(all, &["DISK-OPENED", "NULL-WRITTEN"]);
    assert_has_all(privileged, &["DISK-OPENED"]);
    before.assert_unchanged("after the device policy");
}

#[test]
fn a_confined_command_cannot_leave_its_device_cgroup_nor_open_the_hosts_devices() {
    let _g = privileged();
    let s = Scratch::new("confine-device-cgroup");
    let before = HostState::take();
    let mount = cgroup2_mount();
    // Moving itself to the top cgroup, then the host's loop device, and a pty.
    let probe = format!(
        "grep ^0:: /proc/self/cgroup; echo $$ > {mount}/cgroup.procs && echo MOVED; \
         (exec 3</dev/loop0) && echo LOOP-OPENED; \
         python3 -c 'import os; m, s = os.openpty(); print(\"PTY\", os.ttyname(s))'"
    );
    let recipe = s.write(
        "c.nsr",
        "let c = unshare(#{ kinds: [\"mount\", \"pid\"] });\n\
         let p = unshare(#{ kinds: [\"mount\", \"pid\"], privileged: true });\n\
         let a = c.run(args.probe);\n\
         print(\"CONFINED \" + a.stdout + a.stderr);\n\
         print(\"ONE-PRIVILEGED \" + c.run(args.probe, #{ privileged: true }).stdout);\n\
         print(\"PRIVILEGED \" + p.run(args.probe).stdout);\n",
    );
    let r = nsr(&["run", &recipe, &format!("probe={probe}")]);
    r.expect_code(0);
    let (confined, rest) = r.stdout.split_once("ONE-PRIVILEGED ").unwrap();
    let (one, privileged) = rest.split_once("PRIVILEGED ").unwrap();
    // A cgroup namespace of its own, rooted in the device cgroup; /sys read-only.
    assert_has_all(
        confined,
        &["0::/\n", "Read-only file system", "PTY /dev/pts/"],
    );
    for bad in ["MOVED", "LOOP-OPENED"] {
        assert!(!confined.contains(bad), "{confined}");
    }
    // privileged: true, for the sandbox or one command, starts outside of it.
    for out in [one, privileged] {
        assert_has_all(out, &["LOOP-OPENED", "PTY /dev/pts/"]);
    }
    before.assert_unchanged("after leaving the device cgroup was tried");
}

#[test]
fn device_options_are_checked_and_belong_to_the_sandbox() {
    let _g = privileged();
    let s = Scratch::new("confine-devices-bad");
    each_refused(
        &s,
        &[
            (
                "unshare(#{ kinds: [\"pid\"], devices: [\"c 10\"] });",
                "devices: 'c 10' is not \"c MAJOR:MINOR\"",
            ),
            (
                "unshare(#{ kinds: [\"pid\"], devices: \"none\" });",
                "devices is \"all\", \"standard\" or a list",
            ),
            (
                "let b = unshare([\"pid\"]);\nb.run(\"true\", #{ devices: \"all\" });",
                "devices is an option of unshare",
            ),
        ],
    );
    // An added device opens; the rest stay closed.
    let recipe = s.write(
        "ok.nsr",
        "let b = unshare(#{ kinds: [\"mount\", \"pid\"], devices: [\"b 7:0\"] });\n\
         print(b.run(\"(exec 3</dev/loop0) && echo LOOP0; (exec 4</dev/loop1) && echo LOOP1; true\").stdout);\n",
    );
    let r = nsr(&["run", &recipe]);
    r.expect_code(0);
    assert_has_all(&r.stdout, &["LOOP0"]);
    assert!(!r.stdout.contains("LOOP1"), "{}", r.stdout);
}

#[test]
fn a_sandbox_without_a_mount_namespace_runs_its_commands_in_a_hardened_copy() {
    let _g = privileged();
    let s = Scratch::new("confine-no-mount-ns");
    let before = HostState::take();
    let cgroup2 = cgroup2_mount();
    // kernel.domainname is the sandbox's own (a uts namespace): a write shows whether
    // /proc/sys is writable without touching the host's. The top cgroup.procs is where
    // a privileged command already is.
    let probe = format!(
        "echo nsr-test > /proc/sys/kernel/domainname && echo WROTE-SYSCTL; \
         echo timer_list $(wc -c < /proc/timer_list); \
         echo $$ > {cgroup2}/cgroup.procs && echo MOVED; true"
    );
    let (confined, privileged) = both_ways(&s, "[\"pid\", \"uts\"]", "", &probe);
    for bad in ["WROTE-SYSCTL", "MOVED"] {
        assert!(!confined.contains(bad), "{confined}");
    }
    assert_has_all(&confined, &["timer_list 0", "Read-only file system"]);
    assert_has_all(&privileged, &["WROTE-SYSCTL", "MOVED"]);
    assert!(!privileged.contains("timer_list 0"), "{privileged}");
    // In a chroot, and after a mount of the recipe's (on the host: no mount
    // namespace), the next command's copy has both.
    let root = s.busybox_root("root");
    let mnt = s.path("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let recipe = s.write(
        "chroot.nsr",
        "let b = unshare(#{ kinds: [\"pid\", \"uts\"] });\n\
         print(\"before \" + b.run([\"sh\", \"-c\", \"grep -q \" + args.mnt + \" /proc/self/mountinfo && echo SEEN || echo NOT-SEEN\"]).stdout);\n\
         b.mount(\"tmpfs\", args.mnt, \"tmpfs\");\n\
         print(\"after \" + b.run([\"sh\", \"-c\", \"grep -q \" + args.mnt + \" /proc/self/mountinfo && echo SEEN\"]).stdout);\n\
         b.chroot(args.root);\n\
         print(\"chrooted \" + b.run(\"cat /etc/marker\").stdout);\n\
         let u = unshare(#{ kinds: [\"mount\", \"pid\", \"uts\"], propagation: \"unchanged\" });\n\
         print(\"unchanged \" + u.run(\"wc -c < /proc/timer_list\").stdout);\n",
    );
    let r = nsr(&[
        "run",
        &recipe,
        &format!("root={root}"),
        &format!("mnt={mnt}"),
    ]);
    r.expect_code(0);
    assert_has_all(
        &r.stdout,
        &[
            "before NOT-SEEN",
            "after SEEN",
            "chrooted inside the test root",
            // Its own mount namespace shares the host's propagation: a copy too.
            "unchanged 0",
        ],
    );
    before.assert_unchanged("after commands in hardened copies");
}

#[test]
fn nsr_enter_into_a_sandbox_without_a_mount_namespace_gets_the_hardened_copy() {
    let _g = privileged();
    let s = Scratch::new("confine-enter-copy");
    let before = HostState::take();
    let recipe = s.write(
        "k.nsr",
        "let b = unshare(#{ kinds: [\"uts\", \"pid\"] });\n",
    );
    let name = format!("{}-copy", prefix());
    nsr(&["run", "--keep", "--name", &name, &recipe]).expect_code(0);
    let r = nsr(&[
        "enter",
        &name,
        "--",
        "sh",
        "-c",
        "echo x > /proc/sys/kernel/domainname || echo read-only-sysctl; echo timer_list $(wc -c < /proc/timer_list)",
    ]);
    nsr(&["down", &name]).expect_code(0);
    r.expect_code(0);
    assert_has_all(&r.stdout, &["read-only-sysctl", "timer_list 0"]);
    before.assert_unchanged("after nsr enter and down");
}

#[test]
fn the_commands_copy_sends_no_mask_back_to_a_shared_host_mount() {
    let _g = privileged();
    let s = Scratch::new("confine-shared");
    let root = s.busybox_root("root");
    let proc_in_root = format!("{root}/proc");
    // The host's /proc bound into the root and made shared (as systemd makes mounts):
    // a mount on it in a copy of the namespace that is its peer comes back to the host.
    // Scratch's drop unmounts both.
    s.own_mount(&proc_in_root);
    nix::mount::mount(
        Some("/proc"),
        proc_in_root.as_str(),
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    nix::mount::mount(
        None::<&str>,
        proc_in_root.as_str(),
        None::<&str>,
        nix::mount::MsFlags::MS_SHARED,
        None::<&str>,
    )
    .unwrap();
    let mounts_under = |dir: &str| {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| {
                l.split(' ')
                    .nth(4)
                    .is_some_and(|p| p.starts_with(&format!("{dir}/")))
            })
            .count()
    };
    // The control: a plain copy (unshare -m, propagation unchanged) sends its mount back.
    let ok = std::process::Command::new("unshare")
        .args([
            "-m",
            "--propagation",
            "unchanged",
            "mount",
            "--bind",
            "/dev/null",
        ])
        .arg(format!("{proc_in_root}/timer_list"))
        .status()
        .unwrap();
    assert!(ok.success());
    assert_eq!(mounts_under(&proc_in_root), 1, "the hazard is real here");
    nix::mount::umount2(
        format!("{proc_in_root}/timer_list").as_str(),
        nix::mount::MntFlags::MNT_DETACH,
    )
    .unwrap();
    let before = HostState::take();
    let recipe = s.write(
        "s.nsr",
        "let b = unshare(#{ kinds: [\"pid\", \"uts\"] });\n\
         b.chroot(args.root);\n\
         print(\"timer_list \" + b.run(\"wc -c < /proc/timer_list\").stdout);\n",
    );
    // Masked mounts propagated to the host would stay there after the copy is gone.
    let r = nsr(&["run", &recipe, &format!("root={root}")]);
    r.expect_code(0);
    assert_has_all(&r.stdout, &["timer_list 0"]);
    assert_eq!(
        mounts_under(&proc_in_root),
        0,
        "no mask came back to the host"
    );
    before.assert_unchanged("after masks in the commands' copy");
}
