//! Reading namespaces and mounts from /proc, as the tutorial's `ls -l /proc/PID/ns` does.

use crate::ops::kinds::ALL_KINDS;
use crate::ops::run::MountEntry;
use crate::ops::OpError;
use nix::errno::Errno;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;

fn io_errno(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(0))
}

/// Kind name to namespace inode, for every kind the kernel shows for `pid`.
pub fn namespaces(pid: i32) -> Result<BTreeMap<String, u64>, OpError> {
    let mut out = BTreeMap::new();
    for kind in ALL_KINDS {
        let path = format!("/proc/{pid}/ns/{}", kind.proc_file());
        match std::fs::metadata(&path) {
            Ok(m) => {
                out.insert(kind.name().to_string(), m.ino());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && pid_exists(pid) => {} // kernel without this kind
            Err(e) => {
                let err = OpError::os(io_errno(&e), format!("cannot read {path}"));
                return Err(match io_errno(&e) {
                    Errno::ENOENT => err.with_hint(format!("no process has pid {pid}")),
                    Errno::EACCES | Errno::EPERM => err.with_hint(format!(
                        "pid {pid} belongs to another user or to a container nsr may not inspect (ptrace access mode)"
                    )),
                    _ => err,
                });
            }
        }
    }
    Ok(out)
}

fn pid_exists(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Parses /proc/PID/mountinfo (paths are shown relative to that process's root).
pub fn mountinfo(pid: i32) -> Result<Vec<MountEntry>, OpError> {
    read_mountinfo(&format!("/proc/{pid}/mountinfo"))
}

/// The calling process's mount table (/proc/self: right in a child pid namespace too).
pub fn own_mountinfo() -> Result<Vec<MountEntry>, OpError> {
    read_mountinfo("/proc/self/mountinfo")
}

fn read_mountinfo(path: &str) -> Result<Vec<MountEntry>, OpError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| OpError::os(io_errno(&e), format!("cannot read {path}")))?;
    Ok(parse_mountinfo(&text))
}

/// Where the mount `id` is in `mounts` (None: not in this table).
pub fn mount_point_of(mounts: Vec<MountEntry>, id: u64) -> Option<String> {
    mounts
        .into_iter()
        .find(|m| m.id == id)
        .map(|m| m.mount_point)
}

pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(MountEntry {
                id: l.first()?.parse().ok()?,
                parent: l.get(1)?.parse().ok()?,
                mount_point: unescape(l.get(4)?),
                options: l.get(5)?.to_string(),
                fstype: r.first()?.to_string(),
                source: unescape(r.get(1)?),
                super_options: unescape(r.get(2).unwrap_or(&"")),
            })
        })
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as octal escapes.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// When the process started, in clock ticks since boot (field 22 of /proc/PID/stat),
/// while it is alive: None once it has ended, also as a zombie nobody has reaped yet.
/// With the pid it names one process for good (the kernel never reuses both at once).
pub fn start_ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(") ")?.1;
    if after.starts_with('Z') || after.starts_with('X') {
        return None;
    }
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Direct children of `pid`, from /proc/PID/task/*/children.
pub fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    out
}

/// Every descendant of `pid`, children before grandchildren.
pub fn descendants_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for c in children_of(p) {
            if !out.contains(&c) {
                out.push(c);
                frontier.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_lines_with_escapes() {
        let text = "22 1 0:21 / /proc rw,nosuid shared:5 - proc proc rw\n\
                    40 22 0:33 / /tmp/a\\040b rw - tmpfs none rw,size=4k\n";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mount_point, "/proc");
        assert_eq!(m[0].fstype, "proc");
        assert_eq!(m[1].mount_point, "/tmp/a b");
        assert_eq!(m[1].parent, 22);
    }

    #[test]
    fn own_namespaces_are_listed() {
        let ns = namespaces(std::process::id() as i32).unwrap();
        assert!(ns.contains_key("mount") && ns.contains_key("net"));
    }

    #[test]
    fn missing_pid_says_so() {
        let e = namespaces(i32::MAX).unwrap_err();
        assert_eq!(e.errno, Some(Errno::ENOENT));
        assert!(e.hint.unwrap().contains("no process"));
    }
}
