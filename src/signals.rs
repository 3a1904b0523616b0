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
    /// None for `Signals::none()`, which never fires.
    wake: Option<Arc<OwnedFd>>,
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
            wake: Some(Arc::new(OwnedFd::from(read))),
        })
    }

    /// Signals that never fire, for tests and the plan backend.
    pub fn none() -> Signals {
        Signals {
            received: Arc::new(AtomicUsize::new(0)),
            wake: None,
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
    pub fn wake_fd(&self) -> Option<BorrowedFd<'_>> {
        self.wake.as_ref().map(|w| w.as_fd())
    }

    pub fn drain(&self) {
        let Some(wake) = self.wake.as_ref() else {
            return;
        };
        let mut buf = [0u8; 64];
        while let Ok(n) = nix::unistd::read(wake.as_fd(), &mut buf) {
            if n == 0 {
                break;
            }
        }
    }

    /// Forgets a handled signal (the REPL goes on after a Ctrl-C).
    pub fn clear(&self) {
        self.received.store(0, Ordering::SeqCst);
        self.drain();
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
