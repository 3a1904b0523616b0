//! The holder: the process that keeps a sandbox's namespaces alive and does, inside
//! them, what nsr asks over its socket. In a new pid namespace it is PID 1: it reaps
//! every zombie and forwards termination signals to the command it runs.

use super::command_ns::CommandNs;
use super::process::{self, forwarded_signals, Stdio};
use super::protocol::{recv, send, send_with_fds, Request, Response, Startup};
use crate::confine::apply::Prepared;
use crate::confine::Confinement;
use crate::fs::mounting;
use crate::fs::root;
use crate::ops::kinds::{NsKind, ALL_KINDS};
use crate::ops::OpError;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};

/// CAP_SYS_CHROOT's number.
const SYS_CHROOT: u32 = 18;

pub struct Holder {
    own_pid_ns: bool,
    harden_mounts: bool,
    /// Confined commands run in a hardened copy of the holder's mount namespace
    /// (`command_ns.rs`): the sandbox has none to harden in place.
    wants_command_ns: bool,
    command_ns: Option<CommandNs>,
    /// The inherited /proc and /sys still to harden.
    inherited: crate::fs::masks::Inherited,
    /// Why hardening them failed, said to the first command (and `nsr enter`).
    harden_error: Option<OpError>,
    /// How the sandbox's commands are confined, and that made ready once.
    confine: Confinement,
    prepared: Prepared,
    /// Where confined commands start (see `Setup::device_cgroup`).
    device_cgroup: Option<OwnedFd>,
    /// The holder's own namespaces, opened before any chroot: handed to nsr when it is
    /// ready and to `nsr enter` when it is kept.
    namespaces: Vec<(NsKind, OwnedFd)>,
    sock: UnixStream,
    sigfd: SignalFd,
    own_uts_ns: bool,
    /// A termination signal nsr passed on while no command ran: the command it was
    /// meant for must not start.
    pending_signal: Option<i32>,
}

/// Sets the holder up and serves until nsr asks it to stop or goes away. Never returns.
/// What a holder is told about its sandbox when it starts.
pub struct Setup<'a> {
    pub own_pid_ns: bool,
    pub own_uts_ns: bool,
    pub confine: &'a Confinement,
    /// Mask and make read-only what runc does in every /proc and /sys of the sandbox's
    /// own mount namespace (confined, and its mounts do not propagate to the host).
    pub harden_mounts: bool,
    /// The cgroup (an fd nsr opened, inherited) whose device program confines the
    /// sandbox's commands.
    pub device_cgroup: Option<std::os::fd::RawFd>,
}

impl Setup<'_> {
    pub fn of(
        spec: &crate::ops::sandbox::SandboxSpec,
        own_pid_ns: bool,
        device_cgroup: Option<std::os::fd::RawFd>,
    ) -> Setup<'_> {
        Setup {
            device_cgroup,
            own_pid_ns,
            own_uts_ns: spec.has_own_uts_ns(),
            confine: &spec.confine,
            harden_mounts: !spec.confine.is_privileged()
                && spec.creates(crate::ops::kinds::NsKind::Mount)
                && spec.propagation != crate::ops::sandbox::Propagation::Unchanged,
        }
    }
}

pub fn run(sock: UnixStream, s: Setup<'_>) -> ! {
    let own_pid_ns = s.own_pid_ns;
    match setup(sock, s) {
        Ok(mut h) => {
            h.serve();
            shutdown(own_pid_ns)
        }
        Err(_) => unsafe_exit(1),
    }
}

fn setup(sock: UnixStream, s: Setup<'_>) -> Result<Holder, OpError> {
    let Setup {
        own_pid_ns,
        own_uts_ns,
        confine,
        harden_mounts,
        device_cgroup,
    } = s;
    let wants_command_ns = !confine.is_privileged() && !harden_mounts;
    // Not dumpable: a sandbox's processes can neither open /proc/1/{fd,cwd,root,mem,
    // environ} nor ptrace the holder unless they have CAP_SYS_PTRACE over nsr's user
    // namespace, which a user namespace of the sandbox's own never gives. (Commands
    // exec, which makes them dumpable again.) Nor can an ordinary user's nsr open its
    // /proc/PID/ns: the holder hands its namespaces over instead.
    crate::sys::set_dumpable(false);
    // SAFETY: plain prctl/setpgid calls on this process.
    unsafe {
        // Out of nsr's process group: a Ctrl-C on the terminal reaches nsr, which decides.
        libc::setpgid(0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        // `ps` shows what this process is (its command line is still nsr's).
        libc::prctl(libc::PR_SET_NAME, c"nsr-holder".as_ptr());
        if !own_pid_ns {
            // Orphans of the sandbox's commands come back to us, so teardown finds them.
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1);
        }
    }
    let areas = StatAreas::read();
    hide_command_line(areas.args);
    // nsr's environment (the user's, with whatever secrets it holds) is not the
    // sandbox's business: nothing of it stays readable at /proc/1/environ.
    process::remember_term();
    hide_environment(areas.env);
    let mut mask = forwarded_signals();
    mask.add(Signal::SIGCHLD);
    mask.thread_set_mask()
        .map_err(|e| OpError::os(e, "sigprocmask"))?;
    let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .map_err(|e| OpError::os(e, "signalfd"))?;
    // Not even the user's terminal: a process of the sandbox could open it through
    // /proc/1/fd/0 and push keystrokes into it. Interactive commands get a pty of nsr's
    // own (pty.rs); pipes and files stay, for commands that inherit them.
    let_go_of_the_terminal();
    // No host fd other than those may reach the sandbox (runc CVE-2024-21626).
    let mut keep = vec![sock.as_raw_fd(), sigfd.as_fd().as_raw_fd()];
    keep.extend(device_cgroup);
    keep.sort();
    crate::sys::close_fds_except(3, &keep);
    // SAFETY: inherited from nsr for this process, and kept open just above.
    let device_cgroup = device_cgroup.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    let namespaces = open_own_namespaces()?;
    let names = namespaces
        .iter()
        .map(|(k, _)| k.name().to_string())
        .collect();
    let fds: Vec<_> = namespaces.iter().map(|(_, fd)| fd.as_fd()).collect();
    send_with_fds(&sock, &Startup::Ready { namespaces: names }, &fds)
        .map_err(|e| OpError::new(format!("cannot report ready: {e}")))?;
    // The /proc and /sys this mount namespace inherited, hardened before the first
    // command (or `nsr enter`) can reach them: right after Ready, while nsr journals
    // the sandbox and goes on with the recipe, so that the masks cost a start next to
    // nothing. A failure is the first command's.
    let mut inherited = if harden_mounts {
        crate::fs::masks::Inherited::find()
    } else {
        crate::fs::masks::Inherited::default()
    };
    let harden_error = inherited.harden_if_reachable().err();
    Ok(Holder {
        harden_error,
        own_pid_ns,
        harden_mounts,
        wants_command_ns,
        command_ns: None,
        inherited,
        confine: confine.clone(),
        // The seccomp filter is compiled here, once, not for every command.
        prepared: Prepared::new(confine),
        device_cgroup,
        namespaces,
        sock,
        sigfd,
        own_uts_ns,
        pending_signal: None,
    })
}

impl Holder {
    fn serve(&mut self) {
        loop {
            let mut fds = [
                PollFd::new(self.sock.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.sigfd.as_fd(), PollFlags::POLLIN),
            ];
            if poll(&mut fds, PollTimeout::NONE).is_err() {
                continue;
            }
            let sock_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
            let sig_ready = fds[1].revents().is_some_and(|r| !r.is_empty());
            if sig_ready {
                // Idle: reap zombies; remember a termination signal for the next command.
                while let Ok(Some(info)) = self.sigfd.read_signal() {
                    if info.ssi_signo as i32 != libc::SIGCHLD {
                        self.pending_signal = Some(info.ssi_signo as i32);
                    }
                }
                process::reap(None);
            }
            if !sock_ready {
                continue;
            }
            let req: Request = match recv(&mut self.sock) {
                Ok(Some(r)) => r,
                _ => return, // nsr is gone: the sandbox goes with it
            };
            if matches!(req, Request::Shutdown) {
                let _ = send(&mut self.sock, &Response::Done);
                return;
            }
            if let Request::Detach { listener } = req {
                let listener = match listener {
                    true => match super::protocol::recv_fds(&self.sock, 1) {
                        Ok(mut fds) => fds.pop().map(UnixListener::from),
                        Err(_) => return,
                    },
                    false => None,
                };
                // What `nsr enter` will start must not find them unhardened either.
                let confined = !self.confine.is_privileged();
                let hardened = self
                    .harden()
                    .and_then(|()| self.ensure_command_ns(confined));
                if let Err(e) = hardened {
                    let _ = send(&mut self.sock, &Response::Failed(e.into()));
                    continue;
                }
                // SAFETY: prctl on this process only.
                unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0) };
                let _ = send(&mut self.sock, &Response::Done);
                self.detached(listener);
            }
            let resp = match self.handle(req) {
                Ok(Some(resp)) => resp,
                Ok(None) => continue,
                Err(e) => Response::Failed(e.into()),
            };
            if send(&mut self.sock, &resp).is_err() {
                return;
            }
        }
    }

    /// The answer to a request; None when the handler has sent it already (with fds).
    fn handle(&mut self, req: Request) -> Result<Option<Response>, OpError> {
        // Anything but a command may change what the holder sees: the commands' copy
        // of it is made again when the next one starts.
        if !matches!(
            req,
            Request::Run(_) | Request::Exec { .. } | Request::GetHostname | Request::SetHostname(_)
        ) {
            self.command_ns = None;
        }
        Ok(Some(match req {
            Request::SetHostname(name) => {
                if !self.own_uts_ns {
                    return Err(OpError::new("this sandbox shares the host's uts namespace"));
                }
                nix::unistd::sethostname(&name)
                    .map_err(|e| OpError::os(e, format!("sethostname {name}")))?;
                Response::Done
            }
            Request::GetHostname => Response::Text(
                nix::unistd::gethostname()
                    .map_err(|e| OpError::os(e, "gethostname"))?
                    .to_string_lossy()
                    .into_owned(),
            ),
            Request::Mount(spec) => Response::Mounted {
                mount: mounting::mount(&spec, self.harden_mounts)?,
            },
            Request::Umount { path, mount } => {
                Response::Unmounted(mounting::try_unmount_at(&path, mount)?)
            }
            Request::Chroot(path) => {
                let saved = root::chroot_to(&path)?;
                // Handed to nsr and closed here: the old root must not stay reachable
                // from the sandbox through this process's fds.
                send(&mut self.sock, &Response::Chrooted)
                    .and_then(|_| {
                        super::protocol::send_fds(
                            &self.sock,
                            &[saved.root.as_fd(), saved.cwd.as_fd()],
                        )
                    })
                    .map_err(|e| OpError::new(format!("cannot hand the old root to nsr: {e}")))?;
                return Ok(None);
            }
            Request::Unchroot => {
                let mut fds = super::protocol::recv_fds(&self.sock, 2)
                    .map_err(|e| OpError::new(format!("no previous root from nsr: {e}")))?;
                let saved = root::SavedRoot {
                    cwd: fds.pop().expect("two fds"),
                    root: fds.pop().expect("two fds"),
                };
                root::unchroot(&saved)?;
                Response::Done
            }
            Request::PivotRoot(path) => {
                root::pivot_root(&path)?;
                // With the old root detached, a second chroot leads nowhere: commands may
                // chroot (as the container runtimes' default set allows).
                if let crate::confine::Caps::Only(mask) = self.confine.caps {
                    self.confine.caps = crate::confine::Caps::Only(mask | 1 << SYS_CHROOT);
                    self.prepared = Prepared::new(&self.confine);
                }
                Response::Done
            }
            Request::Exec {
                spec,
                take_terminal,
                pty,
            } => {
                // The fd comes first, whatever the answer: the stream must stay in step.
                let stdio = if pty {
                    let mut fds = super::protocol::recv_fds(&self.sock, 1)
                        .map_err(|e| OpError::new(format!("no terminal from nsr: {e}")))?;
                    Stdio::Pty(fds.pop().expect("one fd"))
                } else {
                    Stdio::Terminal { take_terminal }
                };
                if let Some(sig) = self.pending_signal.take() {
                    return Err(OpError::new(format!(
                        "not started: the sandbox got {} first",
                        crate::signals::signal_name(sig)
                    )));
                }
                Response::Ran(self.start(&spec, stdio)?)
            }
            Request::Run(_) if self.pending_signal.is_some() => {
                let sig = self.pending_signal.take().unwrap_or(0);
                return Err(OpError::new(format!(
                    "not started: the sandbox got {} first",
                    crate::signals::signal_name(sig)
                )));
            }
            Request::Run(spec) => Response::Ran(self.start(&spec, Stdio::Captured)?),

            Request::Rootfs(op) => {
                let (text, undo, warnings) = crate::rootfs::kernel::apply(&op)?;
                Response::Rootfs {
                    text,
                    undo,
                    warnings,
                }
            }
            Request::RootfsUndo(undo) => match crate::rootfs::kernel::undo_apply(&undo)? {
                crate::ops::UndoOutcome::AlreadyGone => Response::AlreadyGone,
                _ => Response::Done,
            },
            Request::Shutdown | Request::Detach { .. } => Response::Done,
        }))
    }
}

impl Holder {
    /// The inherited /proc and /sys hardened (done at the start, or now), or why not.
    fn harden(&mut self) -> Result<(), OpError> {
        match self.harden_error.clone() {
            Some(e) => Err(e),
            None => self.inherited.harden_if_reachable(),
        }
    }

    /// Runs one command (`run` or `exec`) to its end: the inherited mounts hardened,
    /// its confinement (its own options over the sandbox's), and where it starts (the
    /// device cgroup and the commands' mount namespace, when the sandbox has them).
    fn start(
        &mut self,
        spec: &crate::ops::run::RunSpec,
        stdio: Stdio,
    ) -> Result<crate::ops::run::RunResult, OpError> {
        self.harden()?;
        let per_command = self.per_command(spec);
        let confine = per_command.as_ref().unwrap_or(&self.prepared);
        let (devices, confined) = (confine.limits_devices(), !confine.is_privileged());
        self.ensure_command_ns(confined)?;
        let places = process::Places {
            cgroup: self
                .device_cgroup
                .as_ref()
                .filter(|_| devices)
                .map(|fd| fd.as_fd()),
            mount_ns: self
                .command_ns
                .as_ref()
                .filter(|_| confined)
                .map(|ns| ns.raw()),
        };
        let confine = per_command.as_ref().unwrap_or(&self.prepared);
        process::run(spec, stdio, &self.sigfd, confine, places)
    }

    /// Makes the commands' mount namespace if the sandbox needs one and has none now.
    fn ensure_command_ns(&mut self, confined: bool) -> Result<(), OpError> {
        if confined && self.wants_command_ns && self.command_ns.is_none() {
            self.command_ns = Some(CommandNs::make()?);
        }
        Ok(())
    }

    /// A command's own confinement, when its options change the sandbox's.
    fn per_command(&self, spec: &crate::ops::run::RunSpec) -> Option<Prepared> {
        (!spec.confine.is_empty()).then(|| Prepared::new(&spec.confine.apply_to(&self.confine)))
    }

    /// A kept environment: no nsr to serve; keep reaping, hand the namespaces to each
    /// `nsr enter` on `listener`, and end on a termination signal (what `nsr down`
    /// sends, after SIGKILL when it must).
    fn detached(&mut self, listener: Option<UnixListener>) -> ! {
        // Let go of the terminal or pipes nsr was started with: whoever reads them must
        // see their end when nsr ends.
        match nix::fcntl::open(
            "/dev/null",
            nix::fcntl::OFlag::O_RDWR,
            nix::sys::stat::Mode::empty(),
        ) {
            Ok(null) => {
                for fd in 0..3 {
                    // SAFETY: dup2 onto the standard descriptors of this process.
                    unsafe { libc::dup2(null.as_raw_fd(), fd) };
                }
            }
            // A root without /dev/null (the holder may be chrooted): close them instead.
            Err(_) => {
                for fd in 0..3 {
                    // SAFETY: closing this process's own standard descriptors.
                    unsafe { libc::close(fd) };
                }
            }
        }
        // And of the socket: nsr is gone for good.
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
        if let Some(l) = &listener {
            let _ = l.set_nonblocking(true);
        }
        loop {
            let mut fds = vec![PollFd::new(self.sigfd.as_fd(), PollFlags::POLLIN)];
            if let Some(l) = &listener {
                fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
            }
            let _ = poll(&mut fds, PollTimeout::NONE);
            drop(fds);
            if let Some(l) = &listener {
                while let Ok((conn, _)) = l.accept() {
                    self.hand_over_namespaces(&conn);
                }
            }
            while let Ok(Some(info)) = self.sigfd.read_signal() {
                if info.ssi_signo as i32 != libc::SIGCHLD {
                    shutdown(self.own_pid_ns);
                }
            }
            process::reap(None);
        }
    }
}

impl Holder {
    /// What `nsr enter` joins: the namespaces and the current root. Only for a peer of
    /// the holder's own user (the socket is also in a directory only it may enter); and
    /// only what the sandbox's processes have already, so a process of the sandbox that
    /// finds the socket gains nothing.
    fn hand_over_namespaces(&self, conn: &UnixStream) {
        let _ = conn.set_nonblocking(false);
        let _ = conn.set_write_timeout(Some(std::time::Duration::from_secs(1)));
        let peer = nix::sys::socket::getsockopt(conn, nix::sys::socket::sockopt::PeerCredentials);
        if !peer.is_ok_and(|c| c.uid() == nix::unistd::geteuid().as_raw()) {
            return;
        }
        let Ok(root) = nix::fcntl::open(
            "/",
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        ) else {
            return;
        };
        let names = self
            .namespaces
            .iter()
            .map(|(k, _)| k.name().to_string())
            .collect();
        // With a commands' mount namespace, that one and its root stand for the
        // holder's: `nsr enter` starts its command where `run` would.
        let copy = self.command_ns.as_ref().map(|c| c.ns_and_root());
        let mut fds: Vec<_> = self
            .namespaces
            .iter()
            .map(|(kind, fd)| match (kind, copy) {
                (NsKind::Mount, Some((ns, _))) => ns,
                _ => fd.as_fd(),
            })
            .collect();
        fds.push(copy.map(|(_, root)| root).unwrap_or(root.as_fd()));
        // Last, when there is one: `nsr enter` starts its command in it.
        fds.extend(self.device_cgroup.as_ref().map(|fd| fd.as_fd()));
        let answer = Response::Namespaces {
            names,
            confine: self.confine.clone(),
            device_cgroup: self.device_cgroup.is_some(),
        };
        let _ = send_with_fds(conn, &answer, &fds);
    }
}

/// Each namespace this process is in, as the kernel shows it in /proc/self/ns.
fn open_own_namespaces() -> Result<Vec<(NsKind, OwnedFd)>, OpError> {
    let mut out = Vec::new();
    for kind in ALL_KINDS {
        let path = format!("/proc/self/ns/{}", kind.proc_file());
        match nix::fcntl::open(
            path.as_str(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        ) {
            Ok(fd) => out.push((kind, fd)),
            Err(nix::errno::Errno::ENOENT) => {} // a kernel without this kind
            Err(e) => return Err(OpError::os(e, format!("cannot open {path}"))),
        }
    }
    Ok(out)
}

/// Ends the sandbox's processes, then the holder. As PID 1 its exit ends the whole pid
/// namespace; as a subreaper it kills the children it still has first. nsr does the same
/// from the host before asking for shutdown (the holder may have no /proc in its root);
/// this covers the holder's own end when nsr is gone.
fn shutdown(own_pid_ns: bool) -> ! {
    if !own_pid_ns {
        kill_children();
    }
    unsafe_exit(0)
}

fn kill_children() {
    for _ in 0..50 {
        let children = crate::ns::inspect::children_of(std::process::id() as i32);
        if children.is_empty() {
            return;
        }
        for pid in children {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(-1), None);
        process::reap(None);
    }
}

/// The holder is a fork of nsr: without this, the sandbox would read nsr's command line
/// (recipe parameters included) in /proc/1/cmdline. Overwrites the argument area in place.
/// Replaces each of fds 0-2 that is a terminal with /dev/null (or closes it).
fn let_go_of_the_terminal() {
    let null = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    );
    for fd in 0..3 {
        // SAFETY: terminal queries and dup2/close on this process's standard descriptors.
        unsafe {
            if libc::isatty(fd) != 1 {
                continue;
            }
            match &null {
                Ok(n) => libc::dup2(n.as_raw_fd(), fd),
                Err(_) => libc::close(fd),
            };
        }
    }
}

/// [start, end) of this process's argument area (fields 48, 49 of /proc/self/stat)
/// and of its environment area (fields 50, 51), read once.
struct StatAreas {
    args: Option<(usize, usize)>,
    env: Option<(usize, usize)>,
}

impl StatAreas {
    fn read() -> StatAreas {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        // Fields after the command name, which may hold spaces: arg_start is field 48.
        let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = rest.split(' ').collect();
        let area = |first: usize| -> Option<(usize, usize)> {
            let start = fields.get(first)?.parse::<usize>().ok()?;
            let end = fields.get(first + 1)?.parse::<usize>().ok()?;
            (start != 0 && end > start).then_some((start, end))
        };
        StatAreas {
            args: area(45),
            env: area(47),
        }
    }
}

/// Empties the environment: libc's list first (nothing may read the area after), then
/// the area /proc/PID/environ shows.
fn hide_environment(area: Option<(usize, usize)>) {
    // SAFETY: the holder is single-threaded; clearenv only drops libc's list.
    unsafe { libc::clearenv() };
    if let Some((start, end)) = area {
        // SAFETY: [env_start, env_end) is this process's own environment area, on its
        // stack and writable; nothing refers to it once the list is cleared.
        unsafe { std::ptr::write_bytes(start as *mut u8, 0, end - start) };
    }
}

fn hide_command_line(area: Option<(usize, usize)>) {
    let name = b"nsr-holder";
    let Some((start, end)) = area else {
        return;
    };
    if end <= start + name.len() {
        return;
    }
    // SAFETY: [arg_start, arg_end) is this process's own argument area, on its stack and
    // writable; the holder is single-threaded and never reads its arguments again.
    unsafe {
        std::ptr::write_bytes(start as *mut u8, 0, end - start);
        std::ptr::copy_nonoverlapping(name.as_ptr(), start as *mut u8, name.len());
    }
}

pub fn unsafe_exit(code: i32) -> ! {
    // SAFETY: _exit skips atexit handlers and stdio flushing that belong to the parent nsr.
    unsafe { libc::_exit(code) }
}
