//! Starting a command inside the sandbox, from the holder: captured (`run`) or attached
//! to the caller's terminal (`exec`). The holder stays the command's parent, reaps every
//! orphan and forwards termination signals to the command's process group.

use crate::confine::apply::{Prepared, Stage};
use crate::confine::landlock::Ruleset;
use crate::ops::run::{RunResult, RunSpec};
use crate::ops::OpError;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{pipe2, Pid};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// Each captured stream keeps at most this much; the rest is counted and dropped.
const OUTPUT_LIMIT: usize = 8 << 20;
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// nsr's TERM, read before the holder wipes its inherited environment.
static TERM: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// Keeps TERM for `exec` commands; called once, before the environment is wiped.
pub fn remember_term() {
    let _ = TERM.set(std::env::var("TERM").ok());
}

/// The environment a command starts with: a clean one, as container runtimes give.
fn environment(spec: &RunSpec, with_term: bool) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), DEFAULT_PATH.into()),
        ("HOME".into(), "/root".into()),
    ];
    if with_term {
        if let Some(Some(term)) = TERM.get() {
            env.push(("TERM".into(), term.clone()));
        }
    }
    for (k, v) in &spec.env {
        env.retain(|(ek, _)| ek != k);
        env.push((k.clone(), v.clone()));
    }
    env
}

/// Finds the program as execvp would, but with the command's PATH, inside the current root.
fn find_program(name: &str, env: &[(String, String)]) -> Result<String, OpError> {
    if name.contains('/') {
        return Ok(name.to_string());
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = format!("{dir}/{name}");
        if nix::unistd::access(candidate.as_str(), nix::unistd::AccessFlags::X_OK).is_ok() {
            return Ok(candidate);
        }
    }
    Err(
        OpError::os(Errno::ENOENT, format!("command not found: {name}")).with_hint(format!(
            "no executable '{name}' in PATH={path} inside the sandbox's root"
        )),
    )
}

fn cstrings(items: impl IntoIterator<Item = String>) -> Result<Vec<CString>, OpError> {
    items
        .into_iter()
        .map(|s| {
            CString::new(s).map_err(|_| {
                OpError::new("a command argument or environment entry contains a NUL byte")
            })
        })
        .collect()
}

/// Where a confined command starts beside the holder's own places.
pub struct Places<'a> {
    /// The sandbox's device cgroup (fd of its directory).
    pub cgroup: Option<std::os::fd::BorrowedFd<'a>>,
    /// The commands' hardened mount namespace, root and working directory
    /// (`command_ns.rs`).
    pub mount_ns: Option<[i32; 3]>,
}

pub enum Stdio {
    /// Capture stdout and stderr; stdin is the given text, then end of file.
    Captured,
    /// Inherit the holder's 0, 1, 2 (the caller's pipes or files); take the terminal's
    /// foreground when nsr had it.
    Terminal { take_terminal: bool },
    /// 0, 1, 2 and the controlling terminal are this pty slave of nsr's (`pty.rs`).
    Pty(OwnedFd),
}

/// Runs the command to its end. Returns its status and, when captured, its output.
pub fn run(
    spec: &RunSpec,
    stdio: Stdio,
    sigfd: &SignalFd,
    confine: &Prepared,
    places: Places<'_>,
) -> Result<RunResult, OpError> {
    let Places { cgroup, mount_ns } = places;
    if spec.argv.is_empty() {
        return Err(OpError::new("the command is empty"));
    }
    let env = environment(spec, !matches!(stdio, Stdio::Captured));
    let program = find_program(&spec.argv[0], &env)?;
    let c_program =
        CString::new(program.clone()).map_err(|_| OpError::new("program path contains NUL"))?;
    let argv = cstrings(spec.argv.iter().cloned())?;
    let envp = cstrings(env.iter().map(|(k, v)| format!("{k}={v}")))?;
    let cwd = spec
        .cwd
        .as_ref()
        .map(|c| CString::new(c.clone()))
        .transpose()
        .map_err(|_| OpError::new("cwd contains NUL"))?;

    let ruleset = confine.ruleset()?;
    let pipe = || pipe2(OFlag::O_CLOEXEC).map_err(|e| OpError::os(e, "pipe"));
    let (err_r, err_w) = pipe()?;
    let captured = matches!(stdio, Stdio::Captured);
    let take_terminal = matches!(
        stdio,
        Stdio::Terminal {
            take_terminal: true
        }
    );
    let (in_r, in_w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    let (errout_r, errout_w) = pipe()?;

    let argv_ptrs = null_terminated(&argv);
    let envp_ptrs = null_terminated(&envp);
    let setup = ChildSetup {
        program: &c_program,
        argv: &argv_ptrs,
        envp: &envp_ptrs,
        cwd: cwd.as_ref(),
        err_w: err_w.as_raw_fd(),
        take_terminal,
        stdio: match &stdio {
            Stdio::Captured => Some([in_r.as_raw_fd(), out_w.as_raw_fd(), errout_w.as_raw_fd()]),
            Stdio::Pty(slave) => Some([slave.as_raw_fd(); 3]),
            Stdio::Terminal { .. } => None,
        },
        controlling_tty: matches!(stdio, Stdio::Pty(_)),
        confine,
        ruleset: ruleset.as_ref(),
        cgroup_ns: cgroup.is_some(),
        mount_ns,
    };
    let child = start(&setup, cgroup)?;
    // The command holds the slave now; the holder keeps none of it.
    drop((err_w, in_r, out_w, errout_w, stdio));
    // The error pipe closes on exec; a message on it means exec (or chdir) failed.
    let mut report = [0u8; 8];
    let n = read_full(&err_r, &mut report);
    if n == 8 {
        let stage = i32::from_le_bytes(report[..4].try_into().unwrap_or_default());
        let errno = Errno::from_raw(i32::from_le_bytes(
            report[4..].try_into().unwrap_or_default(),
        ));
        let _ = waitpid(child, None);
        return Err(not_started(stage, errno, spec, &program, confine));
    }
    let stdin_data = spec.stdin.clone().unwrap_or_default().into_bytes();
    supervise(
        child,
        captured.then_some((in_w, out_r, errout_r, stdin_data)),
        sigfd,
    )
}

/// Starts the command's process (in the device cgroup when there is one); returns once
/// it has exec'd or failed to.
fn start(setup: &ChildSetup<'_>, cgroup: Option<BorrowedFd<'_>>) -> Result<Pid, OpError> {
    // vfork-style: the child borrows the holder's memory until it execs, so starting a
    // command does not copy the holder's page tables (a third of `run`'s time with fork).
    let mut stack = vec![0u8; CHILD_STACK];
    // CLONE_VFORK suspends the holder until the child has exec'd or exited; the child
    // runs on its own stack and makes only raw syscalls on memory prepared here.
    match cgroup {
        // Born in the sandbox's device cgroup (see confine/devices.rs).
        // SAFETY: as above; `setup` outlives the child's use of it (vfork).
        Some(cgroup) => unsafe {
            crate::sys::vfork_into_cgroup(
                cgroup,
                &mut stack,
                child_entry,
                setup as *const ChildSetup<'_> as *mut libc::c_void,
            )
            .map(Pid::from_raw)
            .map_err(|e| {
                OpError::os(
                    e,
                    "clone a command process into the sandbox's device cgroup (clone3)",
                )
                .with_hint("devices: \"all\" on unshare starts commands without the device policy")
            })
        },
        // SAFETY: as above.
        None => unsafe {
            nix::sched::clone(
                Box::new(|| child(setup)),
                &mut stack,
                CloneFlags::CLONE_VM | CloneFlags::CLONE_VFORK,
                Some(libc::SIGCHLD),
            )
        }
        .map_err(|e| OpError::os(e, "clone a command process")),
    }
}

/// Why the command did not start, from the stage and errno its process reported.
fn not_started(
    stage: i32,
    errno: Errno,
    spec: &RunSpec,
    program: &str,
    confine: &Prepared,
) -> OpError {
    if let Some(stage) = Stage::from_code(stage) {
        return OpError::os(errno, format!("{}: not started", stage.what()));
    }
    match stage {
        1 => OpError::os(
            errno,
            format!(
                "cannot enter working directory {}",
                spec.cwd.clone().unwrap_or_default()
            ),
        ),
        _ => {
            let e = OpError::os(errno, format!("cannot execute {program}"));
            match errno {
                Errno::ENOENT => e.with_hint("the program or its interpreter (#! line, or the dynamic loader) is missing in the sandbox's root"),
                Errno::EACCES if confine.has_landlock() => e.with_hint("landlock: the program, and its interpreter (#! line, or the dynamic loader), must be beneath an exec path"),
                Errno::EACCES => e.with_hint("the file is not executable, or its filesystem is mounted noexec"),
                _ => e,
            }
        }
    }
}

fn read_full(fd: &OwnedFd, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match nix::unistd::read(fd, &mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    n
}

/// Stack of a command process between clone and exec: it only makes raw syscalls.
const CHILD_STACK: usize = 128 << 10;

fn null_terminated(items: &[CString]) -> Vec<*const libc::c_char> {
    let mut ptrs: Vec<*const libc::c_char> = items.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    ptrs
}

struct ChildSetup<'a> {
    program: &'a CString,
    /// Null-terminated pointer arrays, built before the clone: the child allocates nothing.
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
    cwd: Option<&'a CString>,
    err_w: i32,
    stdio: Option<[i32; 3]>,
    take_terminal: bool,
    /// Make fd 0 (a pty slave) the new session's controlling terminal.
    controlling_tty: bool,
    confine: &'a Prepared,
    ruleset: Option<&'a Ruleset>,
    /// Started in the device cgroup: a cgroup namespace rooted there, so that no write
    /// to a cgroup.procs above can take the command out of it.
    cgroup_ns: bool,
    mount_ns: Option<[i32; 3]>,
}

/// The command process's start on clone3's path: `arg` is the ChildSetup.
extern "C" fn child_entry(arg: *mut libc::c_void) -> ! {
    // SAFETY: vfork_into_cgroup passes the ChildSetup the holder keeps alive (it is
    // suspended) until this process execs or exits.
    child(unsafe { &*(arg as *const ChildSetup<'_>) })
}

fn child(s: &ChildSetup<'_>) -> ! {
    // SAFETY: between clone and exec only raw, async-signal-safe calls are made.
    unsafe {
        if s.stdio.is_some() {
            // A session of its own, without a controlling terminal: a sandboxed command
            // cannot reach the user's terminal (TIOCSTI, bubblewrap CVE-2017-5226).
            libc::setsid();
        } else {
            libc::setpgid(0, 0);
        }
        if s.take_terminal && libc::isatty(0) == 1 {
            libc::signal(libc::SIGTTOU, libc::SIG_IGN);
            libc::tcsetpgrp(0, libc::getpid());
            libc::signal(libc::SIGTTOU, libc::SIG_DFL);
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if let Some(fds) = s.stdio {
            for (target, fd) in fds.iter().enumerate() {
                libc::dup2(*fd, target as i32);
            }
        }
        if s.controlling_tty {
            libc::ioctl(0, libc::TIOCSCTTY, 0);
        }
        let fail = |stage: i32| -> ! {
            let errno = *libc::__errno_location();
            let mut msg = [0u8; 8];
            msg[..4].copy_from_slice(&stage.to_le_bytes());
            msg[4..].copy_from_slice(&errno.to_le_bytes());
            libc::write(s.err_w, msg.as_ptr().cast(), 8);
            libc::_exit(127);
        };
        if let Some(fds) = s.mount_ns {
            if !super::command_ns::CommandNs::enter(fds) {
                fail(Stage::MountNs as i32);
            }
        }
        if let Some(cwd) = s.cwd {
            if libc::chdir(cwd.as_ptr()) != 0 {
                fail(1);
            }
        }
        if s.cgroup_ns && libc::unshare(libc::CLONE_NEWCGROUP) != 0 {
            fail(Stage::CgroupNs as i32);
        }
        crate::sys::restore_open_files_limit();
        if let Err((stage, errno)) = s.confine.enter(s.ruleset) {
            *libc::__errno_location() = errno;
            fail(stage as i32);
        }
        libc::execve(s.program.as_ptr(), s.argv.as_ptr(), s.envp.as_ptr());
        fail(2);
    }
}

/// Signals the holder passes on to the command it is running.
pub fn forwarded_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        set.add(s);
    }
    set
}

/// Reaps every exited child (the holder is init or a subreaper); returns the status of
/// `watched` if it ended. A command stopped by the terminal (Ctrl-Z) is continued: nothing
/// outside the sandbox could resume it, and the terminal would stay with it.
pub fn reap(watched: Option<Pid>) -> Option<WaitStatus> {
    let mut found = None;
    loop {
        match waitpid(
            Pid::from_raw(-1),
            Some(WaitPidFlag::WNOHANG | WaitPidFlag::WUNTRACED),
        ) {
            Ok(WaitStatus::StillAlive) | Err(_) => return found,
            Ok(WaitStatus::Stopped(pid, _)) => {
                let _ = kill(pid, Signal::SIGCONT);
            }
            Ok(st) => {
                if st.pid() == watched {
                    found = Some(st);
                }
            }
        }
    }
}

struct Stream {
    fd: Option<OwnedFd>,
    data: Vec<u8>,
    dropped: usize,
}

impl Stream {
    fn new(fd: OwnedFd) -> Self {
        Stream {
            fd: Some(fd),
            data: Vec::new(),
            dropped: 0,
        }
    }

    fn text(self) -> String {
        let mut s = String::from_utf8_lossy(&self.data).into_owned();
        if self.dropped > 0 {
            s.push_str(&format!(
                "\n[nsr: {} more bytes of output dropped]",
                self.dropped
            ));
        }
        s
    }
}

fn supervise(
    child: Pid,
    pipes: Option<(OwnedFd, OwnedFd, OwnedFd, Vec<u8>)>,
    sigfd: &SignalFd,
) -> Result<RunResult, OpError> {
    let (mut stdin, mut out, mut err, input) = match pipes {
        Some((i, o, e, data)) => (Some(i), Some(Stream::new(o)), Some(Stream::new(e)), data),
        None => (None, None, None, Vec::new()),
    };
    let mut written = 0usize;
    if input.is_empty() {
        stdin = None; // end of file at once
    } else if let Some(w) = stdin.as_ref() {
        // A full pipe must not block the holder while the command's output waits.
        let _ = nix::fcntl::fcntl(w, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
    }
    let mut status: Option<WaitStatus> = None;
    let mut grace_rounds = 0;
    loop {
        let out_open = out.as_ref().is_some_and(|s| s.fd.is_some());
        let err_open = err.as_ref().is_some_and(|s| s.fd.is_some());
        if status.is_some() && (!out_open && !err_open || grace_rounds > 2) {
            break;
        }
        let mut fds = vec![PollFd::new(sigfd.as_fd(), PollFlags::POLLIN)];
        let mut roles = vec![0u8];
        if let Some(s) = out.as_ref().and_then(|s| s.fd.as_ref()) {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
            roles.push(1);
        }
        if let Some(s) = err.as_ref().and_then(|s| s.fd.as_ref()) {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
            roles.push(2);
        }
        if let Some(w) = stdin.as_ref() {
            fds.push(PollFd::new(w.as_fd(), PollFlags::POLLOUT));
            roles.push(3);
        }
        // After the command ended, wait only briefly for output held open by its orphans.
        let timeout = if status.is_some() {
            PollTimeout::from(50u16)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(0) => {
                grace_rounds += 1;
                continue;
            }
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(OpError::os(e, "poll")),
        }
        let ready: Vec<(u8, PollFlags)> = fds
            .iter()
            .zip(&roles)
            .map(|(f, r)| (*r, f.revents().unwrap_or(PollFlags::empty())))
            .collect();
        drop(fds);
        for (role, ev) in ready {
            if ev.is_empty() {
                continue;
            }
            match role {
                0 => {
                    while let Ok(Some(info)) = sigfd.read_signal() {
                        let sig = info.ssi_signo as i32;
                        if sig == libc::SIGCHLD {
                            if let Some(st) = reap(Some(child)) {
                                status = Some(st);
                            }
                        } else if let Ok(sig) = Signal::try_from(sig) {
                            let _ = kill(Pid::from_raw(-child.as_raw()), sig);
                        }
                    }
                }
                1 | 2 => {
                    let stream = if role == 1 {
                        out.as_mut()
                    } else {
                        err.as_mut()
                    };
                    if let Some(s) = stream {
                        drain(s);
                    }
                }
                _ => {
                    if let Some(w) = stdin.as_ref() {
                        match nix::unistd::write(w, &input[written..]) {
                            Ok(n) => written += n,
                            Err(Errno::EAGAIN | Errno::EINTR) => {}
                            Err(_) => written = input.len(),
                        }
                    }
                    if written >= input.len() {
                        stdin = None;
                    }
                }
            }
        }
    }
    let (code, signal) = match status {
        Some(WaitStatus::Exited(_, c)) => (Some(c), None),
        Some(WaitStatus::Signaled(_, s, _)) => (None, Some(s as i32)),
        _ => (None, None),
    };
    Ok(RunResult {
        code,
        signal,
        stdout: out.map(Stream::text).unwrap_or_default(),
        stderr: err.map(Stream::text).unwrap_or_default(),
        oom_killed: false,
        pids_limit_hit: false,
    })
}

fn drain(s: &mut Stream) {
    let Some(fd) = s.fd.as_ref() else { return };
    let mut buf = [0u8; 65536];
    match nix::unistd::read(fd, &mut buf) {
        Ok(0) => s.fd = None,
        Ok(n) => {
            let room = OUTPUT_LIMIT.saturating_sub(s.data.len());
            let keep = n.min(room);
            s.data.extend_from_slice(&buf[..keep]);
            s.dropped += n - keep;
        }
        Err(Errno::EINTR | Errno::EAGAIN) => {}
        Err(_) => s.fd = None,
    }
}
