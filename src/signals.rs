//! SIGINT, SIGTERM and SIGHUP become a flag and a wake-up pipe, so that the engine can
//! stop between statements and a wait on a sandbox can be interrupted. No threads.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub const HANDLED: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

#[derive(Clone)]
pub struct Signals {
    received: Arc<AtomicUsize>,
    wake: Arc<OwnedFd>,
}

impl Signals {
    /// Installs the handlers. Call once, before any sandbox exists.
    pub fn install() -> std::io::Result<Signals> {
        let received = Arc::new(AtomicUsize::new(0));
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        for sig in HANDLED {
            signal_hook::flag::register_usize(sig, Arc::clone(&received), sig as usize)?;
            signal_hook::low_level::pipe::register(sig, write.try_clone()?)?;
        }
        Ok(Signals {
            received,
            wake: Arc::new(OwnedFd::from(read)),
        })
    }

    /// Signals that never fire, for tests and the plan backend.
    pub fn none() -> Signals {
        let (read, _write) = UnixStream::pair().expect("socketpair");
        Signals {
            received: Arc::new(AtomicUsize::new(0)),
            wake: Arc::new(OwnedFd::from(read)),
        }
    }

    /// The signal received, if any (the last one wins).
    pub fn pending(&self) -> Option<i32> {
        match self.received.load(Ordering::SeqCst) {
            0 => None,
            n => Some(n as i32),
        }
    }

    /// Becomes readable when a signal arrives.
    pub fn wake_fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    pub fn drain(&self) {
        let mut buf = [0u8; 64];
        while let Ok(n) = nix::unistd::read(self.wake.as_fd(), &mut buf) {
            if n == 0 {
                break;
            }
        }
    }

    pub fn flag(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.received)
    }
}

pub fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {sig}"))
}
