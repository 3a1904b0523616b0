//! One line of `nsr doctor`: what was checked, how it stands, and the fix.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Works.
    Ok,
    /// Works in part, or only as root, or a later feature will need it.
    Warn,
    /// Something nsr uses is absent or disabled.
    Missing,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Missing => "missing",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// A short name: "user namespaces", "cgroups", "landlock".
    pub name: &'static str,
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// For a problem: the command or setting that fixes it.
    pub fix: Option<String>,
}

impl Check {
    pub(super) fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    pub(super) fn problem(
        name: &'static str,
        status: Status,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name,
            status,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// A /proc/sys value, trimmed; None when the file does not exist on this kernel.
pub(super) fn sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/sys/{path}"))
        .ok()
        .map(|s| s.trim().to_string())
}
