//! pasta, the process that connects a namespace to the host's network in user mode:
//! started against namespace fds nsr holds, stopped by pidfd after checking that the
//! pid still names the process nsr started.
//!
//! pasta daemonizes once it is ready (the interface is configured, every forwarded
//! port is bound): the process nsr starts writes the daemon's pid to the pid file (a
//! pipe of nsr's, `-P /proc/self/fd/N`) and exits 0, or exits non-zero with the reason
//! on stderr. So waiting for that first process is the readiness check, without
//! polling. Its argv[0], `pasta [nsr-PID-TAG-N]`, names the daemon uniquely: `nsr down`
//! finds it by that name when nsr was killed before it learnt the pid.

use crate::ns::inspect::start_ticks;
use crate::ops::pasta::{PastaProcess, PastaSpec, UserNet};
use crate::ops::OpError;
use nix::errno::Errno;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The hint for a machine without pasta.
pub const INSTALL_HINT: &str =
    "install it: apt-get install passt (Debian/Ubuntu), dnf install passt (Fedora), or slirp4netns, the fallback; or set NSR_PASTA to its path";

/// pasta on PATH (`NSR_PASTA` names it explicitly).
pub fn find() -> Result<PathBuf, OpError> {
    let missing = |what: String| OpError::os(Errno::ENOENT, what).with_hint(INSTALL_HINT);
    if let Some(p) = std::env::var_os("NSR_PASTA") {
        let p = PathBuf::from(p);
        return match p.is_file() {
            true => Ok(p),
            false => Err(missing(format!(
                "NSR_PASTA names {}, which is not a file",
                p.display()
            ))),
        };
    }
    on_path("pasta").ok_or_else(|| {
        missing(
            "pasta (user-mode networking, package passt) is not on PATH, nor is slirp4netns: net: \"pasta\" needs one of them"
                .into(),
        )
    })
}

/// A program in a directory of PATH.
pub fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The argv[0] of the `n`-th user-mode network process of this run (`tag` tells runs
/// with a reused pid apart).
pub fn process_name(via: UserNet, tag: &str, n: usize) -> String {
    format!("{} [nsr-{}-{tag}-{n}]", via.program(), std::process::id())
}

/// Starts pasta for the namespace `netns` (entered through `userns` first when given)
/// and returns once it is ready, or with pasta's own reason when it is not.
pub fn start(
    pasta: &Path,
    spec: &PastaSpec,
    name: &str,
    netns: BorrowedFd<'_>,
    userns: Option<BorrowedFd<'_>>,
) -> Result<PastaProcess, OpError> {
    let (pid_read, pid_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| OpError::os(e, "cannot make a pipe for pasta's pid"))?;
    let root = nix::unistd::geteuid().is_root();
    let mut cmd = Command::new(pasta);
    cmd.arg0(name).args(spec.options());
    if root {
        cmd.args(["--runas", "0:0"]);
    }
    cmd.args(["--netns", &fd_path(netns.as_raw_fd())]);
    if let Some(u) = userns {
        cmd.args(["--userns", &fd_path(u.as_raw_fd())]);
    }
    cmd.args(["-P", &fd_path(pid_write.as_raw_fd())])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    pass_fds(&mut cmd, netns, userns, pid_write.as_fd(), false);
    let out = cmd
        .output()
        .map_err(|e| OpError::new(format!("cannot start {}: {e}", pasta.display())))?;
    drop(pid_write);
    if !out.status.success() {
        return Err(failure(&String::from_utf8_lossy(&out.stderr)));
    }
    let pid = read_pid(pid_read)?;
    let start = start_ticks(pid)
        .filter(|_| argv0(pid).as_deref() == Some(name))
        .ok_or_else(|| OpError::new("pasta said it was ready, then its process was gone"))?;
    Ok(PastaProcess {
        name: name.to_string(),
        pid,
        start,
        ports: spec.ports.clone(),
    })
}

/// Between fork and exec: the namespace fds and the report fd stay open across exec
/// (they are how the program names the namespaces and says it is ready); with
/// `new_session` the program also leaves nsr's session, so that a Ctrl-C on the
/// terminal reaches nsr, which rolls back, and not the program.
pub(super) fn pass_fds(
    cmd: &mut Command,
    netns: BorrowedFd<'_>,
    userns: Option<BorrowedFd<'_>>,
    report: BorrowedFd<'_>,
    new_session: bool,
) {
    let fds: Vec<i32> = [Some(netns), userns, Some(report)]
        .into_iter()
        .flatten()
        .map(|fd| fd.as_raw_fd())
        .collect();
    // SAFETY: between fork and exec the child only calls setsid and clears
    // close-on-exec on fds it owns.
    unsafe {
        cmd.pre_exec(move || {
            crate::sys::restore_open_files_limit();
            if new_session {
                libc::setsid();
            }
            for fd in &fds {
                if libc::fcntl(*fd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

fn fd_path(fd: i32) -> String {
    format!("/proc/self/fd/{fd}")
}

/// What pasta's first process wrote to the pid file before it exited: the daemon's pid.
fn read_pid(fd: OwnedFd) -> Result<i32, OpError> {
    // The daemon holds the pipe's write end too (inherited): read what is there, no EOF.
    nix::fcntl::fcntl(
        &fd,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .map_err(|e| OpError::os(e, "cannot read pasta's pid"))?;
    let mut text = String::new();
    let _ = std::fs::File::from(fd).read_to_string(&mut text);
    text.trim()
        .parse()
        .ok()
        .filter(|p: &i32| *p > 0)
        .ok_or_else(|| OpError::new(format!("pasta wrote no pid (it wrote '{}')", text.trim())))
}

/// pasta's reason for not starting, as a located error with what to do about it.
fn failure(stderr: &str) -> OpError {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains("bytes to syslog"))
        .collect();
    let said = lines
        .last()
        .copied()
        .unwrap_or("pasta exited without saying why");
    if let Some(spec) = said
        .strip_prefix("Failed to bind any port for '")
        .and_then(|r| r.split('\'').next())
    {
        let port = spec.split('/').nth(1).unwrap_or(spec);
        let host_port = port.split(':').next().unwrap_or(port);
        return OpError::os(
            Errno::EADDRINUSE,
            format!("pasta cannot listen on host port {host_port} ({spec}): the port is in use"),
        )
        .with_hint(format!(
            "another sandbox's forward or a server on the host has it (ss -ltnup 'sport = :{host_port}' shows which); pick another host port"
        ));
    }
    if said.contains("tun") {
        return OpError::os(Errno::EACCES, format!("pasta: {said}")).with_hint(
            "pasta opens /dev/net/tun as you: it must exist and be crw-rw-rw- (udev's default; as root: chmod 0666 /dev/net/tun); nsr doctor checks it",
        );
    }
    if said.contains("namespace") {
        return OpError::os(Errno::EPERM, format!("pasta: {said}")).with_hint(
            "pasta enters the namespace as you: as an ordinary user, the sandbox needs a user namespace of its own (kinds: [\"user\", \"net\", ...])",
        );
    }
    OpError::new(format!("pasta did not start: {said}"))
}

fn argv0(pid: i32) -> Option<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let first = cmdline.split(|b| *b == 0).next()?;
    Some(String::from_utf8_lossy(first).into_owned())
}

/// The live processes named `name` (argv[0]) whose program is pasta: the one a run
/// started, found without its pid.
pub fn find_named(name: &str) -> Vec<(i32, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| argv0(*pid).as_deref() == Some(name) && is_usernet_program(*pid))
        .filter_map(|pid| Some((pid, start_ticks(pid)?)))
        .collect()
}

/// Every live pasta process an nsr run of this user started: (pid, start time, name,
/// the pid of the nsr that started it), for `nsr gc`. Another user's are theirs: their
/// journals, which this user cannot read, may hold them.
pub fn all_of_nsr() -> Vec<(i32, u64, String, i32)> {
    use std::os::unix::fs::MetadataExt;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = nix::unistd::geteuid().as_raw();
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| std::fs::metadata(format!("/proc/{pid}")).is_ok_and(|m| m.uid() == me))
        .filter_map(|pid| {
            let name = argv0(pid)?;
            let maker = name
                .strip_prefix("pasta [nsr-")?
                .split('-')
                .next()?
                .parse()
                .ok()?;
            if !is_usernet_program(pid) {
                return None;
            }
            Some((pid, start_ticks(pid)?, name, maker))
        })
        .collect()
}

/// pasta's program is passt (pasta is a link to it), maybe its `.avx2` build; or it is
/// slirp4netns.
fn is_usernet_program(pid: i32) -> bool {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    ["pasta", "passt", "slirp4netns"]
        .iter()
        .any(|p| comm.starts_with(p))
}

/// Stops the pasta process `p` names (SIGTERM, SIGKILL after 2 s): true when one was
/// running, false when it had ended. A pid that now names another process (another
/// start time or name) is never signalled.
pub fn stop(p: &PastaProcess) -> Result<bool, OpError> {
    let targets = match p.pid {
        0 => find_named(&p.name),
        pid => vec![(pid, p.start)],
    };
    let mut stopped = false;
    for (pid, start) in targets {
        stopped |= stop_one(pid, start, &p.name)?;
    }
    Ok(stopped)
}

fn stop_one(pid: i32, start: u64, name: &str) -> Result<bool, OpError> {
    let fd = match crate::sys::pidfd_open(pid) {
        Ok(fd) => fd,
        Err(Errno::ESRCH) => return Ok(false),
        Err(e) => return Err(OpError::os(e, format!("cannot open pasta's process {pid}"))),
    };
    // Checked after the pidfd is open: the pidfd now names this process for good.
    if start_ticks(pid) != Some(start) || argv0(pid).as_deref() != Some(name) {
        return Ok(false);
    }
    for (signal, wait) in [(libc::SIGTERM, 2000), (libc::SIGKILL, 2000)] {
        match crate::sys::pidfd_signal(&fd, signal) {
            Ok(()) => {}
            Err(Errno::ESRCH) => return Ok(true),
            Err(e) => return Err(OpError::os(e, format!("cannot stop pasta (pid {pid})"))),
        }
        if exited(&fd, Duration::from_millis(wait)) {
            // slirp4netns is nsr's child (pasta daemonizes): reap it. Any other pid is
            // not ours to wait for (ECHILD).
            let _ = nix::sys::wait::waitpid(
                nix::unistd::Pid::from_raw(pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
            return Ok(true);
        }
    }
    Err(OpError::os(
        Errno::ETIMEDOUT,
        format!("pasta (pid {pid}) did not end after SIGKILL"),
    ))
}

/// Waits until the pidfd's process has ended (the pidfd turns readable).
fn exited(fd: &OwnedFd, wait: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one valid pollfd.
    let r = unsafe { libc::poll(&mut pfd, 1, wait.as_millis() as i32) };
    r > 0
}

/// `pasta --version`'s first line with a version in it, for `nsr doctor`.
pub fn version(program: &std::path::Path) -> Option<String> {
    let out = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.contains("syslog"))
        .map(str::to_string)
}
