use nix::errno::Errno;
use thiserror::Error;

/// Why an operation failed: the OS error when there is one, and what a user can do.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{message}")]
pub struct OpError {
    pub errno: Option<Errno>,
    pub message: String,
    pub hint: Option<String>,
}

impl OpError {
    pub fn new(message: impl Into<String>) -> Self {
        OpError {
            errno: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn os(errno: Errno, message: impl Into<String>) -> Self {
        OpError {
            errno: Some(errno),
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// "EPERM (Operation not permitted)".
    pub fn errno_text(&self) -> Option<String> {
        self.errno.map(|e| format!("{e:?} ({})", e.desc()))
    }
}

/// A Landlock ruleset that could not be built for a command, in the words of the run.
impl From<crate::confine::landlock::BuildError> for OpError {
    fn from(e: crate::confine::landlock::BuildError) -> OpError {
        let errno = nix::errno::Errno::from_raw(e.errno);
        match e.path {
            Some(p) => OpError::os(errno, format!("landlock: {}: {p}", e.what)).with_hint(
                "every landlock path must exist inside the sandbox's root when the command starts",
            ),
            None => OpError::os(errno, format!("landlock: {}", e.what)),
        }
    }
}
