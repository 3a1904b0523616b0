//! The eight namespace kinds, as unshare(1) names them and as /proc/PID/ns names them.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum NsKind {
    Mount,
    Uts,
    Ipc,
    Net,
    Pid,
    User,
    Cgroup,
    Time,
}

pub const ALL_KINDS: [NsKind; 8] = [
    NsKind::Mount,
    NsKind::Uts,
    NsKind::Ipc,
    NsKind::Net,
    NsKind::Pid,
    NsKind::User,
    NsKind::Cgroup,
    NsKind::Time,
];

impl NsKind {
    /// Accepts the unshare(1) long option names and the /proc/PID/ns file names.
    pub fn parse(s: &str) -> Option<NsKind> {
        Some(match s {
            "mount" | "mnt" => NsKind::Mount,
            "uts" => NsKind::Uts,
            "ipc" => NsKind::Ipc,
            "net" | "network" => NsKind::Net,
            "pid" => NsKind::Pid,
            "user" => NsKind::User,
            "cgroup" => NsKind::Cgroup,
            "time" => NsKind::Time,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            NsKind::Mount => "mount",
            NsKind::Uts => "uts",
            NsKind::Ipc => "ipc",
            NsKind::Net => "net",
            NsKind::Pid => "pid",
            NsKind::User => "user",
            NsKind::Cgroup => "cgroup",
            NsKind::Time => "time",
        }
    }

    /// File name under /proc/PID/ns/.
    pub fn proc_file(self) -> &'static str {
        match self {
            NsKind::Mount => "mnt",
            other => other.name(),
        }
    }

    pub fn clone_flag(self) -> libc::c_int {
        match self {
            NsKind::Mount => libc::CLONE_NEWNS,
            NsKind::Uts => libc::CLONE_NEWUTS,
            NsKind::Ipc => libc::CLONE_NEWIPC,
            NsKind::Net => libc::CLONE_NEWNET,
            NsKind::Pid => libc::CLONE_NEWPID,
            NsKind::User => libc::CLONE_NEWUSER,
            NsKind::Cgroup => libc::CLONE_NEWCGROUP,
            NsKind::Time => 0x80, // CLONE_NEWTIME: only clone3 and unshare accept it
        }
    }

    pub fn unshare_option(self) -> &'static str {
        match self {
            NsKind::Mount => "--mount",
            NsKind::Uts => "--uts",
            NsKind::Ipc => "--ipc",
            NsKind::Net => "--net",
            NsKind::Pid => "--pid",
            NsKind::User => "--user",
            NsKind::Cgroup => "--cgroup",
            NsKind::Time => "--time",
        }
    }
}

impl fmt::Display for NsKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub fn known_kinds_list() -> String {
    ALL_KINDS
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_unshare_and_proc_names() {
        assert_eq!(NsKind::parse("mount"), Some(NsKind::Mount));
        assert_eq!(NsKind::parse("mnt"), Some(NsKind::Mount));
        assert_eq!(NsKind::parse("time"), Some(NsKind::Time));
        assert!(NsKind::parse("mnt ").is_none());
        assert_eq!(NsKind::parse("network"), Some(NsKind::Net));
        assert!(NsKind::parse("cgroups").is_none());
    }

    #[test]
    fn proc_file_names_match_the_kernel() {
        let names: Vec<_> = ALL_KINDS.iter().map(|k| k.proc_file()).collect();
        assert_eq!(
            names,
            ["mnt", "uts", "ipc", "net", "pid", "user", "cgroup", "time"]
        );
    }
}
