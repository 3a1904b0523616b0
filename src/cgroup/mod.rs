//! The cgroups nsr makes for sandboxes, below nsr's own cgroup in each hierarchy
//! (`layout.rs`): a sandbox's groups and limits (`sandbox.rs`), the device cgroup of its
//! confined commands (`devices.rs`), and their removal (every process in them killed
//! first). Each is named `nsr-<nsr's pid>-<tag>-<n>`, so that nothing of anyone else's
//! is ever taken for one.

pub mod devices;
pub mod layout;
pub mod planner;
pub mod sandbox;

use crate::ops::OpError;
use nix::errno::Errno;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Makes the cgroup `path` (which must not exist) and returns an fd of its directory
/// (what clone3's CLONE_INTO_CGROUP and BPF_PROG_ATTACH take).
pub fn create(path: &Path) -> Result<OwnedFd, OpError> {
    let shown = path.display();
    std::fs::create_dir(path).map_err(|e| {
        OpError::os(
            Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            format!("cannot make cgroup {shown}"),
        )
    })?;
    open_dir(path).map_err(|e| OpError::os(e, format!("cannot open cgroup {shown}")))
}

fn open_dir(path: &Path) -> Result<OwnedFd, Errno> {
    let fd = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    Ok(fd)
}

/// The end of a sandbox's device group's name (`<sandbox's group>-commands`, inside it).
pub const DEVICE_GROUP_SUFFIX: &str = "-commands";

/// Whether `path` is the device group of a sandbox (by its name).
pub fn is_device_group(path: &Path) -> bool {
    path.to_string_lossy().ends_with(DEVICE_GROUP_SUFFIX)
}

/// Whether `path` is one of nsr's cgroups by its name (what an undo or gc may
/// remove): `nsr-<pid>-<8 hex digits>-<n>`, or a sandbox's device group below it
/// (`...-commands`); a group someone else named `nsr-web` is not.
pub fn is_ours(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let name = name.strip_suffix(DEVICE_GROUP_SUFFIX).unwrap_or(name);
    let parts: Vec<&str> = name.split('-').collect();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    matches!(parts.as_slice(), ["nsr", pid, tag, n]
        if digits(pid) && digits(n) && tag.len() == 8 && tag.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The pid of the nsr that made cgroup `name`, for `nsr gc`.
pub fn maker_pid(name: &str) -> Option<i32> {
    name.strip_prefix("nsr-")?.split('-').next()?.parse().ok()
}

/// Removes one of nsr's cgroups: with `kill`, every process still in it is killed
/// first (cgroup.kill); without, a cgroup with processes stays (EBUSY). True when it
/// was there to remove.
pub fn remove(path: &Path, kill: bool) -> Result<bool, OpError> {
    if !is_ours(path) {
        return Err(OpError::new(format!(
            "{} is not a cgroup of nsr's: left alone",
            path.display()
        )));
    }
    if !path.exists() {
        return Ok(false);
    }
    // A killed process leaves its cgroup when it is reaped, a moment later.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut killed = false;
    loop {
        let gone =
            std::fs::remove_dir(path).map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)));
        match gone {
            Ok(()) => return Ok(true),
            Err(Errno::ENOENT) => return Ok(false),
            // Usually empty already (its processes ended with the sandbox's pid
            // namespace); else cgroup.kill (cgroup2, Linux 5.14+) ends what is left,
            // its child groups' processes too; v1 has none: each is killed by pidfd.
            Err(Errno::EBUSY) if kill && Instant::now() < deadline => {
                if !killed {
                    killed = std::fs::write(path.join("cgroup.kill"), "1").is_ok();
                }
                if !killed {
                    kill_listed(path);
                }
                remove_children(path);
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => {
                return Err(
                    OpError::os(e, format!("cannot remove cgroup {}", path.display()))
                        .with_hint("processes are still in it (cgroup.procs lists them)"),
                )
            }
        }
    }
}

/// Kills every process `path`'s cgroup.procs lists: each by a pidfd taken while it is
/// still listed, so that a pid reused by a process elsewhere is never signalled.
fn kill_listed(path: &Path) {
    let procs = path.join("cgroup.procs");
    let listed = |pid: i32| {
        std::fs::read_to_string(&procs)
            .is_ok_and(|t| t.lines().any(|l| l.trim().parse() == Ok(pid)))
    };
    let text = std::fs::read_to_string(&procs).unwrap_or_default();
    for pid in text.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let Ok(fd) = crate::sys::pidfd_open(pid) else {
            continue;
        };
        if listed(pid) {
            let _ = crate::sys::pidfd_kill(&fd);
        }
    }
}

/// Removes nsr's groups below `path` (a sandbox's device group below its group).
fn remove_children(path: &Path) {
    for child in ours_under(path) {
        let _ = std::fs::remove_dir(child);
    }
}

/// nsr's own cgroup in every hierarchy (each once), where `nsr gc` looks for groups.
pub fn own_cgroups() -> Vec<PathBuf> {
    let layout = layout::Layout::detect();
    let mut out: Vec<PathBuf> = layout.unified.into_iter().map(|u| u.dir).collect();
    for own in layout.v1.into_values() {
        if !out.contains(&own.dir) {
            out.push(own.dir);
        }
    }
    out
}

/// nsr's cgroups under `dir` (one level), for `nsr gc`.
pub fn ours_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && is_ours(p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_nsr_named_cgroups_are_taken_for_nsrs() {
        assert!(is_ours(Path::new("/sys/fs/cgroup/nsr-12-0000abcd-0")));
        assert!(is_ours(Path::new(
            "/x/nsr-12-0000abcd-0/nsr-12-0000abcd-0-commands"
        )));
        assert!(!is_ours(Path::new("/sys/fs/cgroup/system.slice")));
        assert!(!is_ours(Path::new("/sys/fs/cgroup/nsr-web")));
        assert!(!is_ours(Path::new("/sys/fs/cgroup/nsr-12-ab-0")));
        assert_eq!(maker_pid("nsr-12-ab-0"), Some(12));
        assert_eq!(maker_pid("nsr-x"), None);
        assert!(remove(Path::new("/sys/fs/cgroup/user.slice"), true).is_err());
    }
}
