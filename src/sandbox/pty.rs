//! A pseudo-terminal of nsr's own for an interactive command (`exec`, `nsr enter`), as
//! `docker run -t` and `machinectl shell` do: the command gets the pty's slave as its
//! controlling terminal and nsr relays bytes, the window size and end of input between
//! it and the user's terminal. No sandboxed process ever holds an fd of the user's
//! terminal, so it cannot push input into it (TIOCSTI, bubblewrap's CVE-2017-5226) or
//! reconfigure it; the user's terminal is in raw mode meanwhile (Ctrl-C, Ctrl-Z reach
//! the command through its own pty's line discipline) and is restored afterwards.

use crate::ops::OpError;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags};
use nix::sys::termios::{self, SetArg, Termios};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

pub struct PtyRelay {
    master: OwnedFd,
    slave: Option<OwnedFd>,
    /// The user's terminal (the first of fds 0-2 that is one).
    tty: RawFd,
    /// Its settings before raw mode, restored on drop.
    saved: Option<Termios>,
    /// Relay fd 0 to the command (nsr is in the terminal's foreground, or 0 is a pipe).
    read_stdin: bool,
    /// SIGWINCH arrives here while the relay lives.
    winch: UnixStream,
    winch_id: signal_hook::SigId,
}

fn isatty(fd: RawFd) -> bool {
    // SAFETY: isatty only queries the fd.
    unsafe { libc::isatty(fd) == 1 }
}

fn in_foreground(fd: RawFd) -> bool {
    // SAFETY: plain terminal queries.
    unsafe { libc::tcgetpgrp(fd) == libc::getpgrp() }
}

fn winsize(fd: RawFd) -> Option<libc::winsize> {
    // SAFETY: winsize is plain integers; all zero is a valid value.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ fills the struct it is given.
    (unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0).then_some(ws)
}

fn os(e: impl Into<Errno>, what: &str) -> OpError {
    OpError::os(e.into(), what)
}

impl PtyRelay {
    /// A pty for an interactive command, when nsr has a terminal on fd 0, 1 or 2; None
    /// otherwise (pipes and files are passed on as they are: nothing to inject into).
    pub fn open() -> Result<Option<PtyRelay>, OpError> {
        let Some(tty) = (0..3).find(|fd| isatty(*fd)) else {
            return Ok(None);
        };
        // SAFETY: the fd is one of this process's standard descriptors, open for the call.
        let tty_fd = unsafe { BorrowedFd::borrow_raw(tty) };
        let settings = termios::tcgetattr(tty_fd).ok();
        let pty = nix::pty::openpty(winsize(tty).as_ref(), settings.as_ref())
            .map_err(|e| os(e, "openpty"))?;
        let foreground = in_foreground(tty);
        let read_stdin = !isatty(0) || foreground;
        let saved = match (&settings, foreground && isatty(0)) {
            (Some(old), true) => {
                let mut raw = old.clone();
                termios::cfmakeraw(&mut raw);
                termios::tcsetattr(tty_fd, SetArg::TCSADRAIN, &raw)
                    .map_err(|e| os(e, "cannot put the terminal in raw mode"))?;
                Some(old.clone())
            }
            _ => None,
        };
        let (winch, notify) = UnixStream::pair()
            .map_err(|e| os(Errno::from_raw(e.raw_os_error().unwrap_or(0)), "socketpair"))?;
        let _ = winch.set_nonblocking(true);
        let winch_id = signal_hook::low_level::pipe::register(libc::SIGWINCH, notify)
            .map_err(|e| os(Errno::from_raw(e.raw_os_error().unwrap_or(0)), "SIGWINCH"))?;
        // SAFETY: fcntl on an fd this function owns. Close-on-exec: no command keeps it.
        unsafe {
            libc::fcntl(pty.master.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK);
            libc::fcntl(pty.master.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
            libc::fcntl(pty.slave.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
        }
        Ok(Some(PtyRelay {
            master: pty.master,
            slave: Some(pty.slave),
            tty,
            saved,
            read_stdin,
            winch,
            winch_id,
        }))
    }

    /// The slave end, for the command (nsr keeps no copy).
    pub fn take_slave(&mut self) -> Option<OwnedFd> {
        self.slave.take()
    }

    /// The fds to poll besides nsr's own: the pty's output, fd 0, window changes.
    pub fn poll_fds(&self) -> Vec<PollFd<'_>> {
        let mut fds = vec![
            PollFd::new(self.master.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.winch.as_fd(), PollFlags::POLLIN),
        ];
        if self.read_stdin {
            // SAFETY: fd 0 stays open while nsr runs.
            fds.push(PollFd::new(
                unsafe { BorrowedFd::borrow_raw(0) },
                PollFlags::POLLIN,
            ));
        }
        fds
    }

    /// Moves what is ready, as `poll_fds` reported it (`ready[i]` for its i-th fd).
    pub fn pump(&mut self, ready: &[bool]) {
        if ready.first() == Some(&true) {
            self.drain_output();
        }
        if ready.get(1) == Some(&true) {
            let mut buf = [0u8; 64];
            while matches!(nix::unistd::read(self.winch.as_fd(), &mut buf), Ok(n) if n > 0) {}
            if let Some(ws) = winsize(self.tty) {
                // SAFETY: TIOCSWINSZ on the master; the kernel tells the command (SIGWINCH).
                unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
            }
        }
        if ready.get(2) == Some(&true) {
            let mut buf = [0u8; 4096];
            // SAFETY: fd 0 stays open while nsr runs.
            let stdin = unsafe { BorrowedFd::borrow_raw(0) };
            match nix::unistd::read(stdin, &mut buf) {
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Ok(0) | Err(_) => {
                    // End of input: the command reads end of file (VEOF) and fd 0 is
                    // no longer watched.
                    self.read_stdin = false;
                    write_all(self.master.as_fd(), &[4]);
                }
                Ok(n) => write_all(self.master.as_fd(), &buf[..n]),
            }
        }
    }

    /// Copies everything the command wrote so far to nsr's fd 1.
    pub fn drain_output(&mut self) {
        let mut buf = [0u8; 16384];
        loop {
            match nix::unistd::read(self.master.as_fd(), &mut buf) {
                Ok(n) if n > 0 => {
                    // SAFETY: fd 1 stays open while nsr runs.
                    write_all(unsafe { BorrowedFd::borrow_raw(1) }, &buf[..n]);
                }
                // EIO: no process holds the slave any more; EAGAIN: nothing more now.
                _ => break,
            }
        }
    }
}

fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) if n > 0 => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => std::thread::sleep(std::time::Duration::from_millis(1)),
            _ => break,
        }
    }
}

impl Drop for PtyRelay {
    fn drop(&mut self) {
        signal_hook::low_level::unregister(self.winch_id);
        if let Some(old) = &self.saved {
            // SAFETY: the terminal fd is one of nsr's standard descriptors.
            let fd = unsafe { BorrowedFd::borrow_raw(self.tty) };
            let _ = termios::tcsetattr(fd, SetArg::TCSADRAIN, old);
        }
    }
}
