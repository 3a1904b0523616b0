//! Writes a new user namespace's uid and gid maps, from the parent side, as
//! `unshare --map-root-user` and newuidmap(1) do.

use crate::ops::sandbox::IdRange;
use crate::ops::OpError;
use nix::errno::Errno;
use nix::unistd::{getegid, geteuid};
use std::process::Command;

fn render(map: &[IdRange]) -> String {
    map.iter()
        .map(|r| format!("{} {} {}\n", r.inside, r.outside, r.count))
        .collect()
}

fn write_proc(pid: i32, file: &str, text: &str) -> Result<(), OpError> {
    std::fs::write(format!("/proc/{pid}/{file}"), text).map_err(|e| {
        let errno = Errno::from_raw(e.raw_os_error().unwrap_or(0));
        let err = OpError::os(errno, format!("cannot write {file} '{}'", text.trim().replace('\n', ", ")));
        if errno == Errno::EPERM {
            err.with_hint("without root, a user namespace can map only your own uid and gid (use map_root: true), or install the uidmap package for newuidmap/newgidmap ranges from /etc/subuid")
        } else {
            err
        }
    })
}

/// Whether an unprivileged writer may write this map itself (one line, own id).
fn is_own_id_only(map: &[IdRange], own: u32) -> bool {
    map.len() == 1 && map[0].outside == own && map[0].count == 1
}

fn via_helper(helper: &str, pid: i32, map: &[IdRange]) -> Result<(), OpError> {
    let mut cmd = Command::new(helper);
    cmd.arg(pid.to_string());
    for r in map {
        cmd.args([
            r.inside.to_string(),
            r.outside.to_string(),
            r.count.to_string(),
        ]);
    }
    let out = cmd.output().map_err(|e| {
        OpError::os(
            Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            format!("cannot run {helper}"),
        )
        .with_hint("mapping ranges without root needs newuidmap/newgidmap: apt-get install uidmap")
    })?;
    if !out.status.success() {
        return Err(OpError::new(format!(
            "{helper} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
        .with_hint("check that /etc/subuid and /etc/subgid grant you the ranges asked for"));
    }
    Ok(())
}

/// Writes the maps of the user namespace that process `pid` has just created.
/// `deny_setgroups` is what --map-root-user does; it is required when an
/// unprivileged process writes its own gid map.
pub fn write_maps(
    pid: i32,
    uid_map: &[IdRange],
    gid_map: &[IdRange],
    deny_setgroups: bool,
) -> Result<(), OpError> {
    let root = geteuid().is_root();
    let (uid, gid) = (geteuid().as_raw(), getegid().as_raw());
    if !uid_map.is_empty() {
        if root || is_own_id_only(uid_map, uid) {
            write_proc(pid, "uid_map", &render(uid_map))?;
        } else {
            via_helper("newuidmap", pid, uid_map)?;
        }
    }
    if !gid_map.is_empty() {
        let direct = root || is_own_id_only(gid_map, gid);
        if deny_setgroups || (!root && direct) {
            write_proc(pid, "setgroups", "deny")?;
        }
        if direct {
            write_proc(pid, "gid_map", &render(gid_map))?;
        } else {
            via_helper("newgidmap", pid, gid_map)?;
        }
    }
    Ok(())
}

/// `--map-root-user`: the caller's uid and gid become 0 inside.
pub fn root_maps() -> (Vec<IdRange>, Vec<IdRange>) {
    (
        vec![IdRange {
            inside: 0,
            outside: geteuid().as_raw(),
            count: 1,
        }],
        vec![IdRange {
            inside: 0,
            outside: getegid().as_raw(),
            count: 1,
        }],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_kernel_map_lines() {
        let m = [
            IdRange {
                inside: 0,
                outside: 1000,
                count: 1,
            },
            IdRange {
                inside: 1,
                outside: 100000,
                count: 65536,
            },
        ];
        assert_eq!(render(&m), "0 1000 1\n1 100000 65536\n");
        assert!(is_own_id_only(&m[..1], 1000));
        assert!(!is_own_id_only(&m, 1000));
    }
}
