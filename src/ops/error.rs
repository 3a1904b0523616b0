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
