//! What every end-to-end test needs: the built binary, recipes written to a scratch
//! directory, busybox roots, and a snapshot of host state to compare before and after.
#![allow(dead_code)]

pub mod lsp;
pub mod tools;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

pub const NSR: &str = env!("CARGO_BIN_EXE_nsr");
/// Every resource a test makes is named with this prefix and the test process's pid.
pub const PREFIX: &str = "nsrt";

static SERIAL: Mutex<()> = Mutex::new(());
static SWEEP: Once = Once::new();

/// Tests compare host snapshots, so they run one at a time within a test binary. Needs no
/// privileges: a test that needs root takes `privileged()` instead.
pub fn serial() -> MutexGuard<'static, ()> {
    tools::ensure();
    SWEEP.call_once(|| {
        if nix::unistd::geteuid().is_root() {
            sweep();
        }
        // A failing test must not leave what it started running: the panic stops it.
        let earlier = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            stop_what_tests_started();
            earlier(info);
        }));
        // Environments (nsr's journals on disk) of the tests' runs go to a directory of
        // their own, swept with the rest; tests of environments set their own.
        let state = std::env::temp_dir().join(format!("{}-state", prefix()));
        // Shared by root's runs and the rootless tests' (as nobody), like /tmp.
        let _ = std::fs::create_dir_all(&state);
        let _ = std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o1777));
        std::env::set_var("NSR_STATE_DIR", &state);
    });
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// For a test that creates namespaces, mounts, links or netns for real: root (CI runs
/// as root), the programs the tests drive, one test at a time, and a host snapshot
/// taken now and compared when the test ends (after its scratch directories and
/// guards, declared later, are gone): every such test checks it left nothing.
pub fn privileged() -> Privileged {
    require_root();
    let lock = serial();
    Privileged {
        before: Some(HostState::take()),
        _lock: lock,
    }
}

pub struct Privileged {
    before: Option<HostState>,
    _lock: MutexGuard<'static, ()>,
}

impl Drop for Privileged {
    fn drop(&mut self) {
        // A failing test has said why already; its leftovers are the sweep's.
        if std::thread::panicking() {
            return;
        }
        if let Some(before) = self.before.take() {
            before.assert_unchanged("at the end of the test, against its start");
        }
    }
}

pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the end-to-end tests run as root (CI does)"
    );
}

pub fn prefix() -> String {
    format!("{PREFIX}{}", std::process::id())
}

/// A prefix short enough for interface names (15 bytes): `nsrt` and 4 digits of the pid.
pub fn short_prefix() -> String {
    format!("{PREFIX}{}", std::process::id() % 10000)
}

/// The children tests started in the background (nsr runs waiting for a signal or a
/// gate, terminals) and the state directories of their own with kept environments:
/// what a failing test's panic stops and takes down.
static STARTED: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static PRIVATE_STATES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Remembers a child to stop should the test fail before it ends.
pub fn started(child: &Child) {
    if let Ok(mut v) = STARTED.lock() {
        v.push(child.id() as i32);
    }
}

/// A state directory of the test's own (environments only it sees), in `s`: should the
/// test fail, its environments are taken down (`down --all`) before `s` is removed.
pub fn private_state(s: &Scratch) -> String {
    let dir = s.path("state");
    std::fs::create_dir_all(&dir).unwrap();
    if let Ok(mut v) = PRIVATE_STATES.lock() {
        v.push(dir.clone());
    }
    dir
}

fn is_our_child(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let ppid = stat
        .rsplit_once(") ")
        .and_then(|(_, r)| r.split_whitespace().nth(1))
        .and_then(|p| p.parse::<u32>().ok());
    ppid == Some(std::process::id())
}

fn stop_what_tests_started() {
    use nix::sys::signal::{kill, Signal};
    use nix::sys::wait::{waitpid, WaitPidFlag};
    use nix::unistd::Pid;
    // try_lock: a panic while one is held must not hang the hook.
    let pids: Vec<i32> = STARTED.try_lock().map(|v| v.clone()).unwrap_or_default();
    for pid in pids.into_iter().filter(|p| is_our_child(*p)) {
        // SIGTERM: nsr rolls back as a user's Ctrl-C would; SIGKILL after 10 s.
        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        let start = Instant::now();
        while is_our_child(pid) && start.elapsed() < Duration::from_secs(10) {
            if let Ok(st) = waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
                if st != nix::sys::wait::WaitStatus::StillAlive {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if is_our_child(pid) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
        }
    }
    let states: Vec<String> = PRIVATE_STATES
        .try_lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    for dir in states.into_iter().filter(|d| Path::new(d).exists()) {
        let _ = Command::new(NSR)
            .args(["down", "--all", "-q"])
            .env("NSR_STATE_DIR", &dir)
            .output();
    }
}

/// Removes what an earlier, killed test run may have left: only names with our prefix.
fn sweep() {
    if let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") {
        let mut points: Vec<String> = text
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .filter(|p| {
                p.split(&format!("/{PREFIX}"))
                    .nth(1)
                    .is_some_and(left_by_a_dead_run)
            })
            .collect();
        points.reverse();
        for p in points {
            let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
    // Containers the OCI tests started under runc or crun (named with the prefix).
    for runtime in ["runc", "crun"] {
        if let Ok(out) = Command::new(runtime).args(["list", "-q"]).output() {
            for name in String::from_utf8_lossy(&out.stdout).lines() {
                if name.strip_prefix(PREFIX).is_some_and(left_by_a_dead_run) {
                    let _ = Command::new(runtime)
                        .args(["delete", "--force", name])
                        .output();
                }
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir("/run/netns") {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.strip_prefix(PREFIX).is_some_and(left_by_a_dead_run) {
                let _ = Command::new("ip").args(["netns", "del", &name]).status();
            }
        }
    }
    if let Ok(out) = Command::new("ip").args(["-o", "link", "show"]).output() {
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            let name = l
                .split(": ")
                .nth(1)
                .unwrap_or("")
                .split('@')
                .next()
                .unwrap_or("");
            if name.strip_prefix(PREFIX).is_some_and(left_by_a_dead_run) {
                let _ = Command::new("ip").args(["link", "del", name]).status();
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let dead = name.strip_prefix(PREFIX).is_some_and(left_by_a_dead_run);
            // Environments an earlier, killed test run kept or left (in its state
            // directory, or in a test's own inside its scratch): take them down.
            let state = if name.ends_with("-state") {
                Some(e.path())
            } else {
                Some(e.path().join("state"))
            };
            if let Some(state) = state.filter(|p| dead && p.is_dir()) {
                let _ = Command::new(NSR)
                    .args(["down", "--all"])
                    .env("NSR_STATE_DIR", state)
                    .output();
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.strip_prefix(PREFIX).is_some_and(left_by_a_dead_run) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Whether a name after the prefix (`12345-state`, `1234x`) belongs to a test run that
/// has ended: its pid (or, for the short prefix, the pid's last four digits) is no
/// other live test binary's. The sweep leaves a concurrent run's resources alone.
fn left_by_a_dead_run(rest: &str) -> bool {
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let Ok(n) = digits.parse::<u32>() else {
        return true;
    };
    let tests: Vec<u32> = command_lines()
        .into_iter()
        .filter(|(_, c)| String::from_utf8_lossy(c).contains("/deps/"))
        .map(|(pid, _)| pid as u32)
        .collect();
    // A live test binary with that pid, or, for the short prefix, one whose pid ends
    // in these digits.
    !tests
        .iter()
        .any(|pid| *pid == n || (digits.len() <= 4 && pid % 10000 == n))
}

/// Each recipe under recipes/ with the parameters its golden plan is made with
/// (tests/plans/recipes.tsv).
pub fn recipes_with_params() -> Vec<(String, Vec<String>)> {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/plans/recipes.tsv"
    ))
    .unwrap()
    .lines()
    .map(|l| {
        let mut words = l.split('\t').map(str::to_string);
        (words.next().unwrap(), words.collect())
    })
    .collect()
}

/// A scratch directory that is removed, with anything mounted under it, on drop.
pub struct Scratch {
    pub dir: PathBuf,
    /// Mounts the test itself made under `dir` (its set-up): unmounted on drop without
    /// complaint, unlike anything else found mounted there.
    own_mounts: std::cell::RefCell<Vec<String>>,
}

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("{}-{name}", prefix()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch {
            dir,
            own_mounts: Default::default(),
        }
    }

    /// Says that the test itself mounted something at `path` (and all under it).
    pub fn own_mount(&self, path: &str) {
        self.own_mounts.borrow_mut().push(path.to_string());
    }

    pub fn path(&self, rel: &str) -> String {
        self.dir.join(rel).to_string_lossy().into_owned()
    }

    pub fn write(&self, rel: &str, text: &str) -> String {
        let p = self.dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    }

    /// A `docker save` archive (image.tar) whose one layer is the tarball `layer`.
    pub fn docker_save(&self, layer: &str) -> String {
        std::fs::create_dir_all(self.path("image/l")).unwrap();
        std::fs::copy(layer, self.path("image/l/layer.tar")).unwrap();
        self.write("image/c.json", "{}");
        self.write(
            "image/manifest.json",
            r#"[{"Config":"c.json","RepoTags":["bb:1"],"Layers":["l/layer.tar"]}]"#,
        );
        let image = self.path("image.tar");
        let ok = Command::new("tar")
            .args(["-C", &self.path("image"), "-cf", &image])
            .args(["manifest.json", "c.json", "l"])
            .status()
            .unwrap()
            .success();
        assert!(ok, "tar of the image");
        image
    }

    /// A root filesystem of busybox-static: enough for a shell and the usual tools.
    pub fn busybox_root(&self, rel: &str) -> String {
        tools::ensure();
        let root = self.dir.join(rel);
        for d in [
            "bin",
            "proc",
            "sys",
            "tmp",
            "dev/pts",
            "dev/mqueue",
            "etc",
            "mnt",
            "lower",
            "upper",
            "work",
            "merged",
            "oldroot",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let busybox = ["/usr/bin/busybox", "/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("busybox-static is installed (tools::ensure installs it)");
        std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
        for tool in [
            "sh", "ls", "cat", "hostname", "mount", "id", "echo", "sleep", "true", "false", "grep",
            "wc", "touch", "readlink", "awk", "ps", "env", "pwd", "mkdir", "stat", "kill", "head",
            "tr", "sort",
        ] {
            let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(tool));
        }
        std::fs::write(root.join("etc/marker"), "inside the test root\n").unwrap();
        root.to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let dir = self.dir.to_string_lossy().into_owned();
        let mut left = Vec::new();
        if let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") {
            let mut points: Vec<String> = text
                .lines()
                .filter_map(|l| l.split(' ').nth(4))
                .filter(|p| p.starts_with(&format!("{dir}/")) || *p == dir)
                .map(str::to_string)
                .collect();
            points.reverse();
            let own = self.own_mounts.borrow();
            for p in points {
                let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
                if !own
                    .iter()
                    .any(|o| p == *o || p.starts_with(&format!("{o}/")))
                {
                    left.push(p);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        // A mount left in a scratch directory is a leak the cleanup would hide: said,
        // unless the test already failed (then it is cleaned up quietly).
        if !left.is_empty() && !std::thread::panicking() {
            panic!("mounts left under {dir} when the test ended: {left:?}");
        }
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(out: Output) -> Run {
        use std::os::unix::process::ExitStatusExt;
        let code = out
            .status
            .code()
            .unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0));
        Run {
            code,
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    /// Fails with the whole output when the run did not end as expected.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "exit status\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "a panic:\n{}",
            self.stderr
        );
        self
    }
}

pub fn nsr(args: &[&str]) -> Run {
    let mut cmd = Command::new(NSR);
    cmd.args(args);
    run_command(cmd)
}

/// The holder pids of a kept environment's live sandboxes, from `ls --json` as `nsr`
/// (or whoever `ls` runs as) lists them.
pub fn alive_sandboxes(ls: &Run, name: &str) -> Vec<i32> {
    let envs: serde_json::Value = serde_json::from_str(&ls.stdout).unwrap();
    let env = envs
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no environment {name} in:\n{}", ls.stdout))
        .clone();
    env["alive_sandboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_i64().unwrap() as i32)
        .collect()
}

/// A command that runs nsr as user nobody in `s`'s directory, from a copy of the
/// binary in `s` (nobody may not reach the one under target/); add nsr's arguments.
pub fn nsr_as_nobody(s: &Scratch) -> Command {
    let bin = s.path("nsr");
    if !Path::new(&bin).exists() {
        std::fs::copy(NSR, &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(bin)
        .current_dir(&s.dir);
    cmd
}

/// The REPL's prompt.
pub const REPL_PROMPT: &str = "nsr> ";

/// `nsr repl ARGS` on a pseudo-terminal in `s`, with a history file of its own, once it
/// shows its first prompt.
pub fn repl_session(s: &Scratch, args: &[&str]) -> rexpect::session::PtySession {
    let mut cmd = Command::new(NSR);
    cmd.arg("repl")
        .args(args)
        .env("NSR_HISTORY", s.path("history"))
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .current_dir(&s.dir);
    let mut p = rexpect::session::spawn_command(cmd, Some(20_000)).unwrap();
    p.exp_string(REPL_PROMPT).unwrap();
    p
}

/// Types a statement, waits for `marker` in its output, then for the next prompt: the
/// line editor discards what is typed before it reads again, so typing waits for it.
pub fn repl_stmt(p: &mut rexpect::session::PtySession, text: &str, marker: &str) {
    if !text.is_empty() {
        p.send_line(text).unwrap();
    }
    p.exp_string(marker).unwrap();
    p.exp_string(REPL_PROMPT).unwrap();
}

/// Runs a command with no input and its output captured, for at most a minute.
pub fn run_command(mut cmd: Command) -> Run {
    tools::ensure();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Run::from(wait_bounded(child, Duration::from_secs(60)))
}

/// Runs `nsr ARGS` on a real pseudo-terminal (script(1)); stdin is piped so a test can
/// type into it. The child's stdout is the terminal's output.
pub fn nsr_on_terminal(args: &str) -> Child {
    tools::ensure();
    let child = Command::new("script")
        .args(["-qec", &format!("{NSR} {args}"), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    started(&child);
    child
}

/// What a terminal program has printed so far, read as it comes (a thread of its own):
/// the readiness signal of a test that types into a shell (its prompt, an echo).
pub struct Screen {
    seen: std::sync::Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Screen {
    pub fn follow(mut out: impl Read + Send + 'static) -> Screen {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let shared = seen.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                shared.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Screen {
            seen,
            reader: Some(reader),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).replace('\r', "")
    }

    /// Waits until `needle` shows; panics after `limit` with what the screen shows.
    pub fn wait_for(&self, needle: &str, limit: Duration) {
        let start = Instant::now();
        while !self.text().contains(needle) {
            assert!(
                start.elapsed() < limit,
                "no {needle:?} within {limit:?} on:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything, once the program has closed its output.
    pub fn finish(mut self) -> String {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.text()
    }
}

/// Starts `nsr ARGS` with its output piped and reads the first line it prints (a recipe
/// saying it is ready, or where it waits); returns the child, that line, and the rest
/// of its stdout.
pub fn start_nsr<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (Child, String, BufReader<ChildStdout>) {
    let mut child = Command::new(NSR)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    started(&child);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    (child, line, out)
}

/// Asserts that some line of `text` starts with `prefix`.
pub fn assert_line_starts(text: &str, prefix: &str) {
    assert!(
        text.lines().any(|l| l.starts_with(prefix)),
        "no line starting {prefix:?} in:\n{text}"
    );
}

/// Asserts that `text` contains every one of `wanted`, showing the whole text if not.
pub fn assert_has_all(text: &str, wanted: &[&str]) {
    for w in wanted {
        assert!(text.contains(w), "missing {w:?} in:\n{text}");
    }
}

/// Writes the recipe to the scratch directory and runs it with its parameters.
pub fn run_recipe(scratch: &Scratch, name: &str, text: &str, params: &[&str]) -> Run {
    let file = scratch.write(name, text);
    let mut args = vec!["run", file.as_str()];
    args.extend_from_slice(params);
    nsr(&args)
}

/// Waits until a process runs with exactly this command line (its argv, space-joined):
/// the readiness signal of a test that must act while a command runs. Give the command
/// an argument no other process has (`sleep 31.7`). Panics after `limit`.
pub fn wait_for_process(argv: &str, limit: Duration) -> i32 {
    let want: Vec<u8> = argv.split(' ').flat_map(|a| a.bytes().chain([0])).collect();
    let start = Instant::now();
    loop {
        if let Some((pid, _)) = command_lines().into_iter().find(|(_, c)| *c == want) {
            return pid;
        }
        assert!(
            start.elapsed() < limit,
            "no process `{argv}` within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for a child, killing it (by pid: we started it) if it takes too long.
pub fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(p) = out_pipe.as_mut() {
            let _ = p.read_to_end(&mut s);
        }
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.read_to_end(&mut s);
        }
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// A normalized snapshot of what a recipe may touch on the host: links, addresses,
/// routes, named netns, mounts, forwarding sysctls, hostname, and nsr processes.
#[derive(Debug, PartialEq, Eq)]
pub struct HostState {
    pub lines: BTreeSet<String>,
}

/// Each entry of the host's /dev: name, symlink or node, mode, owner, device number.
pub fn dev_entries() -> BTreeSet<String> {
    use std::os::unix::fs::MetadataExt;
    let dir = std::fs::read_dir("/dev").expect("host snapshot: /dev");
    dir.flatten()
        .filter_map(|e| {
            let m = std::fs::symlink_metadata(e.path()).ok()?;
            let kind = if m.file_type().is_symlink() {
                "link"
            } else {
                "node"
            };
            Some(format!(
                "{} {kind} {:o} {}:{} {}",
                e.file_name().to_string_lossy(),
                m.mode(),
                m.uid(),
                m.gid(),
                m.rdev()
            ))
        })
        .collect()
}

impl HostState {
    pub fn take() -> HostState {
        let mut lines = BTreeSet::new();
        for (section, args) in [
            ("link", vec!["-o", "link", "show"]),
            ("addr", vec!["-o", "addr", "show"]),
            ("route", vec!["route", "show", "table", "all"]),
            ("netns", vec!["netns", "list"]),
        ] {
            // A section that cannot be read fails the snapshot: it must not vanish.
            let out = Command::new("ip").args(&args).output();
            let out = match out {
                Ok(o) if o.status.success() => o,
                other => panic!("host snapshot: ip {} failed: {other:?}", args.join(" ")),
            };
            for l in String::from_utf8_lossy(&out.stdout).lines() {
                // A netns gets an id in the host once a link pairs across to it;
                // the kernel keeps it until that netns dies: not a leftover.
                let l = match (section, l.split_once(" (id: ")) {
                    ("netns", Some((name, _))) => name,
                    _ => l,
                };
                lines.insert(format!("{section}: {}", normalize_ip_line(l)));
            }
        }
        // The host's device nodes: a runtime or a bind of /dev into a root must not
        // replace one (runc turns a root's /dev/ptmx into a symlink).
        lines.extend(dev_entries().into_iter().map(|e| format!("dev: {e}")));
        // Only root may list the ruleset; an ordinary user's snapshot says it has none.
        if nix::unistd::geteuid().is_root() {
            let out = match Command::new("nft").args(["list", "ruleset"]).output() {
                Ok(o) if o.status.success() => o,
                other => panic!("host snapshot: nft list ruleset failed: {other:?}"),
            };
            for (i, l) in String::from_utf8_lossy(&out.stdout).lines().enumerate() {
                lines.insert(format!("nft: {i:04} {}", l.trim()));
            }
        } else {
            lines.insert("nft: (not root: not listed)".into());
        }
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        for l in mountinfo.lines() {
            let f: Vec<&str> = l.split(' ').collect();
            let tail = l.split(" - ").nth(1).unwrap_or("");
            lines.insert(format!("mount: {} {} {}", f[4], f[5], tail));
        }
        for k in [
            "net/ipv4/ip_forward",
            "net/ipv4/conf/all/forwarding",
            "net/ipv6/conf/all/forwarding",
        ] {
            let v = std::fs::read_to_string(format!("/proc/sys/{k}")).unwrap_or_default();
            lines.insert(format!("sysctl: {k}={}", v.trim()));
        }
        // What lives inside each named netns (a foreign one a recipe worked in, or one
        // a test left): its nft ruleset and forwarding.
        if nix::unistd::geteuid().is_root() {
            for ns in named_netns() {
                let out = Command::new("ip")
                    .args(["netns", "exec", &ns, "sh", "-c", "nft list ruleset; cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding"])
                    .output();
                if let Ok(o) = out {
                    for (i, l) in String::from_utf8_lossy(&o.stdout).lines().enumerate() {
                        lines.insert(format!("netns {ns}: {i:04} {}", l.trim()));
                    }
                }
            }
        }
        lines.insert(format!(
            "hostname: {}",
            nix::unistd::gethostname().unwrap().to_string_lossy()
        ));
        for pid in nsr_processes() {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            lines.insert(format!("process: nsr pid {pid}: {}", cmd.trim()));
        }
        // Any other process in a namespace not the test's: what a sandbox, the plan
        // script's `unshare ... sleep infinity` or an escaped child left running.
        for (pid, cmd) in processes_in_other_namespaces() {
            lines.insert(format!("process: {pid} {cmd} (in namespaces of its own)"));
        }
        // Every journal in the tests' state directory: an environment left behind.
        if let Some(state) = std::env::var_os("NSR_STATE_DIR") {
            if let Ok(entries) = std::fs::read_dir(state) {
                for e in entries.flatten() {
                    lines.insert(format!("state: {}", e.path().display()));
                }
            }
        }
        // Root's cache of extracted roots (and NSR_CACHE_DIR's): an entry left there.
        let mut caches = vec![PathBuf::from("/var/cache/nsr/rootfs")];
        caches.extend(std::env::var_os("NSR_CACHE_DIR").map(PathBuf::from));
        for dir in caches {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.flatten() {
                    lines.insert(format!("cache: {}", e.path().display()));
                }
            }
        }
        // Per-interface forwarding and the like, where a recipe's undo could slip.
        for family in ["ipv4", "ipv6"] {
            let Ok(entries) = std::fs::read_dir(format!("/proc/sys/net/{family}/conf")) else {
                continue;
            };
            for e in entries.flatten() {
                for key in [
                    "forwarding",
                    "proxy_arp",
                    "rp_filter",
                    "accept_ra",
                    "disable_ipv6",
                ] {
                    if let Ok(v) = std::fs::read_to_string(e.path().join(key)) {
                        let iface = e.file_name().to_string_lossy().into_owned();
                        lines.insert(format!("sysctl: {family}/conf/{iface}/{key}={}", v.trim()));
                    }
                }
            }
        }
        // The device cgroups of sandboxes, in every hierarchy (any depth nsr uses).
        for m in mountinfo.lines().filter(|l| l.contains(" - cgroup")) {
            let top = m.split(' ').nth(4).unwrap_or("");
            for dir in cgroup_dirs(Path::new(top), 4) {
                lines.insert(format!("cgroup: {}", dir.display()));
            }
        }
        HostState { lines }
    }

    /// Asserts that nothing changed since `self` was taken, listing the difference.
    pub fn assert_unchanged(&self, context: &str) {
        // Processes may take a moment to be reaped by their parents.
        let mut after = HostState::take();
        for _ in 0..50 {
            if after == *self {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
            let next = HostState::take();
            if next == *self {
                return;
            }
            after = next;
        }
        let gone: Vec<_> = self.lines.difference(&after.lines).collect();
        let new: Vec<_> = after.lines.difference(&self.lines).collect();
        panic!("host state changed ({context})\nremoved: {gone:#?}\nadded: {new:#?}");
    }
}

fn normalize_ip_line(l: &str) -> String {
    let mut words: Vec<&str> = l.split_whitespace().collect();
    // Counters and interface indexes change without anything being left behind.
    if words
        .first()
        .is_some_and(|w| w.ends_with(':') && w[..w.len() - 1].parse::<u32>().is_ok())
    {
        words.remove(0);
    }
    let mut out = Vec::new();
    let mut skip = false;
    for w in words {
        if skip {
            skip = false;
            continue;
        }
        if ["valid_lft", "preferred_lft", "qlen", "state"].contains(&w) {
            skip = true;
            continue;
        }
        out.push(w);
    }
    out.join(" ")
}

/// Processes running the nsr binary other than the test itself.
/// Every process's pid and command line (argv, NUL-separated), but this test's own.
pub fn command_lines() -> Vec<(i32, Vec<u8>)> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter_map(|pid| Some((pid, std::fs::read(format!("/proc/{pid}/cmdline")).ok()?)))
        .collect()
}

pub fn nsr_processes() -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        if let Ok(exe) = std::fs::read_link(e.path().join("exe")) {
            if exe.to_string_lossy().trim_end_matches(" (deleted)")
                == std::fs::canonicalize(NSR).unwrap().to_string_lossy()
            {
                out.push(pid);
            }
        }
    }
    out
}

/// The names in /run/netns.
fn named_netns() -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Every user process (pid, command line) with a namespace that is not this test's.
pub fn processes_in_other_namespaces() -> Vec<(i32, String)> {
    const KINDS: [&str; 7] = ["mnt", "net", "pid", "uts", "ipc", "user", "cgroup"];
    let ns_of = |pid: &str| -> Option<Vec<PathBuf>> {
        KINDS
            .iter()
            .map(|k| std::fs::read_link(format!("/proc/{pid}/ns/{k}")).ok())
            .collect()
    };
    let Some(ours) = ns_of("self") else {
        return Vec::new();
    };
    command_lines()
        .into_iter()
        // Kernel threads have no command line.
        .filter(|(_, cmd)| !cmd.is_empty())
        .filter(|(pid, _)| ns_of(&pid.to_string()).is_some_and(|n| n != ours))
        .map(|(pid, cmd)| {
            (
                pid,
                String::from_utf8_lossy(&cmd)
                    .replace('\0', " ")
                    .trim()
                    .to_string(),
            )
        })
        .collect()
}

/// Waits until no process's command line (words joined by spaces) contains `needle`:
/// what a shell started for a test and did not wait for has ended. Panics after `limit`.
pub fn wait_until_gone(needle: &str, limit: Duration) {
    let start = Instant::now();
    while command_lines().iter().any(|(_, c)| {
        String::from_utf8_lossy(c)
            .replace('\0', " ")
            .contains(needle)
    }) {
        assert!(
            start.elapsed() < limit,
            "`{needle}` still runs after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Pids of processes whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<i32> {
    command_lines()
        .into_iter()
        .filter(|(_, cmd)| {
            // The marker as a word of a command, not inside nsr's own `marker=` argument.
            String::from_utf8_lossy(cmd)
                .split('\0')
                .any(|arg| arg == marker || (arg.contains(marker) && !arg.contains('=')))
        })
        .map(|(pid, _)| pid)
        .collect()
}

fn is_mount_point(path: &str) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(path))
}

/// A named netns made by iproute2 (not by nsr), as a host would already have one.
/// Dropping it deletes it and takes back the /run/netns mount if iproute2 made it here.
pub struct ForeignNetns {
    pub name: String,
    unmount_after: bool,
    /// iproute2 makes /run/netns and leaves it: removed after when it made it.
    rmdir_after: bool,
}

impl ForeignNetns {
    pub fn new(name: &str) -> ForeignNetns {
        let unmount_after = !is_mount_point("/run/netns");
        let rmdir_after = !Path::new("/run/netns").exists();
        let ok = Command::new("ip")
            .args(["netns", "add", name])
            .status()
            .unwrap()
            .success();
        assert!(ok, "ip netns add {name}");
        ForeignNetns {
            name: name.to_string(),
            unmount_after,
            rmdir_after,
        }
    }

    /// Runs `ip netns exec NAME sh -c SCRIPT` and returns its stdout.
    pub fn sh(&self, script: &str) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "sh", "-c", script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Everything a recipe could change inside the namespace.
    pub fn state(&self) -> String {
        self.sh("ip -o link show | sed 's/^[0-9]*: //'; ip -o addr show | sed 's/^[0-9]*: //' | sed 's/valid_lft.*//'; ip route show table all; nft list ruleset; sysctl net.ipv4.ip_forward net.ipv6.conf.all.forwarding")
    }
}

impl Drop for ForeignNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let empty = std::fs::read_dir("/run/netns")
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if self.unmount_after && empty && is_mount_point("/run/netns") {
            let _ = nix::mount::umount2("/run/netns", nix::mount::MntFlags::MNT_DETACH);
        }
        if self.rmdir_after && empty {
            let _ = std::fs::remove_dir("/run/netns");
        }
    }
}

/// Where the cgroup2 hierarchy is mounted on this machine.
pub fn cgroup2_mount() -> String {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .find(|l| l.contains(" - cgroup2 "))
        .map(|l| l.split(' ').nth(4).unwrap().to_string())
        .expect("a cgroup2 mount")
}

/// The cgroups named like nsr's (`nsr-...`) under `dir`, `depth` levels down.
fn cgroup_dirs(dir: &Path, depth: u32) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if e.file_name().to_string_lossy().starts_with("nsr-") {
            out.push(p.clone());
        }
        if depth > 1 {
            out.extend(cgroup_dirs(&p, depth - 1));
        }
    }
    out
}
