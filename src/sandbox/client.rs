//! nsr's side of a sandbox: the held processes, the socket to the holder, and the
//! waits that a signal to nsr can interrupt.

use super::protocol::{recv, recv_fds, send, send_fds, Request, Response};
use crate::fs::root::SavedRoot;
use crate::ops::kinds::NsKind;
use crate::ops::sandbox::SandboxSpec;
use crate::ops::OpError;
use crate::signals::{signal_name, Signals};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// How long a command may take to end after nsr passed it a signal, before SIGKILL.
const SIGNAL_GRACE: Duration = Duration::from_secs(5);
const STOP_GRACE: Duration = Duration::from_secs(3);

pub struct SandboxHandle {
    /// The process nsr forked (like unshare(1) with --fork); nsr reaps it.
    first: Pid,
    /// The process inside the namespaces that serves requests.
    pub holder_pid: i32,
    holder_fd: Option<OwnedFd>,
    pub(super) sock: UnixStream,
    pub own_mount_ns: bool,
    pub own_pid_ns: bool,
    pub own_uts_ns: bool,
    alive: bool,
    /// Where the holder was before each chroot still in place, newest last: kept here,
    /// in nsr, where no process of the sandbox can reach them.
    saved_roots: Vec<SavedRoot>,
    /// The holder's namespaces, which it sent when it was ready: its /proc/PID/ns is
    /// not open to an ordinary user's nsr, since the holder is not dumpable.
    namespaces: Vec<(NsKind, OwnedFd)>,
}

impl SandboxHandle {
    pub fn new(first: Pid, sock: UnixStream, spec: &SandboxSpec) -> SandboxHandle {
        SandboxHandle {
            first,
            holder_pid: first.as_raw(),
            holder_fd: None,
            sock,
            own_mount_ns: spec.has_own_mount_ns(),
            own_pid_ns: spec.has_own_pid_ns(),
            own_uts_ns: spec.has_own_uts_ns(),
            alive: true,
            saved_roots: Vec::new(),
            namespaces: Vec::new(),
        }
    }

    pub fn set_namespaces(&mut self, namespaces: Vec<(NsKind, OwnedFd)>) {
        self.namespaces = namespaces;
    }

    /// A path to the sandbox's namespace of `kind` while it runs, valid in nsr and in
    /// the processes it forks: the fd nsr holds, as /proc/self/fd/N.
    pub fn ns_path(&self, kind: NsKind) -> Option<String> {
        if !self.alive {
            return None;
        }
        self.namespaces
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, fd)| format!("/proc/self/fd/{}", fd.as_raw_fd()))
    }

    /// Kind name to namespace inode, as `ls -l /proc/PID/ns` shows them.
    pub fn namespace_inodes(&self) -> Result<BTreeMap<String, u64>, OpError> {
        let mut out = BTreeMap::new();
        for (kind, fd) in &self.namespaces {
            let st = nix::sys::stat::fstat(fd).map_err(|e| OpError::os(e, "fstat a namespace"))?;
            out.insert(kind.name().to_string(), st.st_ino);
        }
        Ok(out)
    }

    /// Lets go of the namespaces, so that the kernel ends them with the holder.
    fn release_namespaces(&mut self) {
        self.namespaces.clear();
    }

    pub fn set_holder(&mut self, pid: i32) -> Result<(), OpError> {
        self.holder_pid = pid;
        // A pidfd names the holder for good, even after its pid could be reused.
        self.holder_fd = Some(
            crate::sys::pidfd_open(pid).map_err(|e| OpError::os(e, format!("pidfd_open {pid}")))?,
        );
        Ok(())
    }

    pub fn is_alive(&self) -> bool {
        self.alive
    }

    /// Sends a request and waits for the answer. A signal to nsr is passed on to the
    /// holder, which passes it to the running command; if nothing answers within the
    /// grace period the sandbox is killed.
    pub fn request(&mut self, req: &Request, signals: &Signals) -> Result<Response, OpError> {
        self.exchange(req, &[], signals)
    }

    /// chroot in the holder; the root and working directory it leaves come to nsr.
    pub fn chroot(&mut self, path: &str, signals: &Signals) -> Result<(), OpError> {
        match self.request(&Request::Chroot(path.to_string()), signals)? {
            Response::Chrooted => {
                let mut fds = recv_fds(&self.sock, 2).map_err(|e| self.died(e))?;
                let cwd = fds.pop().expect("recv_fds gives exactly two");
                let root = fds.pop().expect("recv_fds gives exactly two");
                self.saved_roots.push(SavedRoot { root, cwd });
                Ok(())
            }
            Response::Failed(w) => Err(w.into()),
            other => Err(OpError::new(format!(
                "the holder answered out of turn: {other:?}"
            ))),
        }
    }

    /// Takes back the newest chroot still in place; false when there is none (a
    /// pivot_root since made them meaningless).
    pub fn unchroot(&mut self, signals: &Signals) -> Result<bool, OpError> {
        let Some(saved) = self.saved_roots.pop() else {
            return Ok(false);
        };
        let answer = self.exchange(
            &Request::Unchroot,
            &[saved.root.as_fd(), saved.cwd.as_fd()],
            signals,
        );
        match answer? {
            Response::Failed(w) => {
                self.saved_roots.push(saved);
                Err(w.into())
            }
            _ => Ok(true),
        }
    }

    /// After pivot_root: earlier chroots point into the detached old root.
    pub fn forget_saved_roots(&mut self) {
        self.saved_roots.clear();
    }

    /// Sends a request (with `fds` after it, for the holder's recv_fds) and waits.
    fn exchange(
        &mut self,
        req: &Request,
        fds: &[std::os::fd::BorrowedFd],
        signals: &Signals,
    ) -> Result<Response, OpError> {
        self.exchange_relaying(req, fds, signals, None)
    }

    /// `exec` of an interactive command: on a pty of nsr's own when nsr has a terminal,
    /// relayed until the command ends (`pty.rs`); else on nsr's own fds.
    pub fn exec(
        &mut self,
        spec: &crate::ops::run::RunSpec,
        take_terminal: bool,
        signals: &Signals,
    ) -> Result<Response, OpError> {
        let Some(mut relay) = super::pty::PtyRelay::open()? else {
            let req = Request::Exec {
                spec: spec.clone(),
                take_terminal,
                pty: false,
            };
            return self.exchange(&req, &[], signals);
        };
        let slave = relay.take_slave().expect("a new relay has its slave");
        let req = Request::Exec {
            spec: spec.clone(),
            take_terminal: false,
            pty: true,
        };
        let answer = self.exchange_relaying(&req, &[slave.as_fd()], signals, Some(&mut relay));
        drop(slave);
        answer
    }

    fn exchange_relaying(
        &mut self,
        req: &Request,
        fds: &[std::os::fd::BorrowedFd],
        signals: &Signals,
        mut relay: Option<&mut super::pty::PtyRelay>,
    ) -> Result<Response, OpError> {
        if !self.alive {
            return Err(OpError::new("the sandbox has already stopped"));
        }
        // Only a command can keep the holder busy for long: only commands are refused
        // after a signal, and only they get the signal passed on.
        let runs_command = matches!(req, Request::Run(_) | Request::Exec { .. });
        if let Some(sig) = signals.pending() {
            // Interrupted already: start nothing new in the sandbox.
            if runs_command {
                return Err(OpError::new(format!(
                    "not started: nsr got {}",
                    signal_name(sig)
                )));
            }
        }
        if let Err(e) = send(&mut self.sock, req) {
            return Err(self.died(e));
        }
        if !fds.is_empty() {
            if let Err(e) = send_fds(&self.sock, fds) {
                return Err(self.died(e));
            }
        }
        let mut deadline: Option<Instant> = None;
        let mut forwarded = 0usize;
        loop {
            let timeout = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    PollTimeout::try_from(left.as_millis().min(60_000) as i32)
                        .unwrap_or(PollTimeout::ZERO)
                }
                None => PollTimeout::NONE,
            };
            let mut fds = vec![PollFd::new(self.sock.as_fd(), PollFlags::POLLIN)];
            if let Some(wake) = signals.wake_fd() {
                fds.push(PollFd::new(wake, PollFlags::POLLIN));
            }
            let own = fds.len();
            if let Some(r) = relay.as_deref() {
                fds.extend(r.poll_fds());
            }
            match poll(&mut fds, timeout) {
                Err(Errno::EINTR) => {}
                Err(e) => return Err(OpError::os(e, "poll")),
                Ok(_) => {}
            }
            let sock_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
            let relay_ready: Vec<bool> = fds[own..]
                .iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect();
            drop(fds);
            if let Some(r) = relay.as_deref_mut() {
                r.pump(&relay_ready);
                if sock_ready {
                    // What the command wrote last, before its end was reported.
                    r.drain_output();
                }
            }
            if sock_ready {
                return match recv::<Response>(&mut self.sock) {
                    Ok(Some(r)) => Ok(r),
                    Ok(None) => {
                        Err(self.died(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)))
                    }
                    Err(e) => Err(self.died(e)),
                };
            }
            signals.drain();
            if let (Some(sig), true) = (signals.pending(), runs_command) {
                if forwarded == 0 {
                    forwarded = sig as usize;
                    if let Ok(s) = Signal::try_from(sig) {
                        let _ = kill(Pid::from_raw(self.holder_pid), s);
                    }
                    deadline = Some(Instant::now() + SIGNAL_GRACE);
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                self.kill_now();
                return Err(OpError::new(format!(
                    "interrupted by {}: the command did not end within {}s, so the sandbox was killed",
                    signal_name(forwarded as i32),
                    SIGNAL_GRACE.as_secs()
                )));
            }
        }
    }

    fn died(&mut self, e: std::io::Error) -> OpError {
        self.kill_now();
        OpError::new(format!(
            "the sandbox's holder process exited unexpectedly ({e})"
        ))
        .with_hint("something inside the sandbox killed its init process, or it ran out of memory")
    }

    /// Stops the sandbox: every process in it, then the holder, then the first child.
    pub fn stop(&mut self) -> Result<(), OpError> {
        self.release_namespaces();
        if !self.alive {
            self.reap_first();
            return Ok(());
        }
        if self.own_pid_ns {
            // PID 1's end is the end of everything in its pid namespace: nothing for the
            // holder to do first.
            let _ = kill(Pid::from_raw(self.holder_pid), Signal::SIGKILL);
        } else {
            self.kill_descendants();
            let _ = send(&mut self.sock, &Request::Shutdown);
        }
        if !self.wait_holder_exit(STOP_GRACE) {
            let _ = kill(Pid::from_raw(self.holder_pid), Signal::SIGKILL);
            if !self.wait_holder_exit(STOP_GRACE) {
                return Err(OpError::new(format!(
                    "holder pid {} did not exit after SIGKILL",
                    self.holder_pid
                )));
            }
        }
        self.alive = false;
        self.reap_first();
        Ok(())
    }

    /// Without a pid namespace the kernel will not end the sandbox's processes with the
    /// holder; the holder is their subreaper, so they are all below it.
    fn kill_descendants(&self) {
        for pid in crate::ns::inspect::descendants_of(self.holder_pid) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }

    fn wait_holder_exit(&self, within: Duration) -> bool {
        let Some(fd) = self.holder_fd.as_ref() else {
            return true;
        };
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let ms = within.as_millis() as i32;
        matches!(poll(&mut fds, PollTimeout::try_from(ms).unwrap_or(PollTimeout::NONE)), Ok(n) if n > 0)
    }

    fn reap_first(&mut self) {
        // The first child ends once the holder has; wait for it so no zombie stays.
        let exited = if self.first.as_raw() == self.holder_pid {
            true // the holder itself, which has exited
        } else {
            match crate::sys::pidfd_open(self.first.as_raw()) {
                Ok(fd) => {
                    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                    let ms = STOP_GRACE.as_millis() as i32;
                    matches!(poll(&mut fds, PollTimeout::try_from(ms).unwrap_or(PollTimeout::NONE)), Ok(n) if n > 0)
                }
                Err(_) => true, // already reaped, or a zombie that waitpid collects now
            }
        };
        if !exited {
            let _ = kill(self.first, Signal::SIGKILL);
        }
        let _ = waitpid(self.first, None);
    }

    /// The environment is kept: the holder (and the first child) outlive nsr, and this
    /// handle lets go of them. `listener`: where the kept holder serves `nsr enter` (none without an environment).
    pub fn detach(
        &mut self,
        listener: Option<&std::os::unix::net::UnixListener>,
        signals: &Signals,
    ) -> Result<(), OpError> {
        if !self.alive {
            return Ok(());
        }
        let req = Request::Detach {
            listener: listener.is_some(),
        };
        let fds: Vec<_> = listener.iter().map(|l| l.as_fd()).collect();
        if let Response::Failed(w) = self.exchange(&req, &fds, signals)? {
            return Err(w.into());
        }
        self.release_namespaces();
        if self.first.as_raw() != self.holder_pid {
            let _ = kill(self.first, Signal::SIGUSR1);
        }
        // Not alive for this handle any more: its Drop leaves the holder be.
        self.alive = false;
        Ok(())
    }

    /// Kills at once, for failures during set-up and as the last resort.
    pub fn kill_now(&mut self) {
        self.release_namespaces();
        if !self.own_pid_ns {
            self.kill_descendants();
        }
        let _ = kill(Pid::from_raw(self.holder_pid), Signal::SIGKILL);
        let _ = kill(self.first, Signal::SIGKILL);
        let _ = waitpid(self.first, None);
        if let Some(fd) = self.holder_fd.as_ref() {
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(2000u16));
        }
        self.alive = false;
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if self.alive {
            self.kill_now();
        }
    }
}
