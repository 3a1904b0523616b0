//! Which cgroup hierarchy holds each controller nsr uses, and nsr's own cgroup in each:
//! cgroup2 where nsr's cgroup passes the controller to its children
//! (cgroup.subtree_control), else a v1 hierarchy of it, as runc's fs driver does. A
//! hybrid machine has both: here memory, pids and cpu are v1, and cgroup2 at
//! /sys/fs/cgroup/unified has none of them.

use crate::ops::limits::Controller;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// nsr's own cgroup in one hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnCgroup {
    pub dir: PathBuf,
    /// Whether nsr may make child groups in it (access W_OK: also a read-only cgroupfs).
    pub writable: bool,
}

impl OwnCgroup {
    fn at(dir: PathBuf) -> OwnCgroup {
        let writable = nix::unistd::access(&dir, nix::unistd::AccessFlags::W_OK).is_ok();
        OwnCgroup { dir, writable }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// nsr's cgroup2 cgroup, where cgroup2 is mounted.
    pub unified: Option<OwnCgroup>,
    /// The controllers nsr's cgroup2 cgroup has (cgroup.controllers) ...
    pub v2_available: Vec<String>,
    /// ... and those it passes to child groups (cgroup.subtree_control).
    pub v2_enabled: Vec<String>,
    /// nsr's cgroup in each v1 hierarchy, by controller name (co-mounted controllers,
    /// such as cpu,cpuacct, share one).
    pub v1: BTreeMap<String, OwnCgroup>,
}

/// Where a controller's files are for nsr's sandboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place<'a> {
    V2(&'a OwnCgroup),
    V1(&'a OwnCgroup),
}

impl Place<'_> {
    pub fn own(&self) -> &OwnCgroup {
        match self {
            Place::V2(o) | Place::V1(o) => o,
        }
    }
}

/// One cgroup mount: its super options (None for cgroup2), the part of the hierarchy
/// it shows, and where.
pub struct CgroupMount {
    pub v1_options: Option<Vec<String>>,
    pub root: String,
    pub mount_point: String,
}

/// The cgroup and cgroup2 mounts of a mountinfo text.
pub fn cgroup_mounts(mountinfo: &str) -> Vec<CgroupMount> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 5 || r.len() < 3 {
            continue;
        }
        let v1_options = match r[0] {
            "cgroup2" => None,
            "cgroup" => Some(r[2].split(',').map(str::to_string).collect()),
            _ => continue,
        };
        out.push(CgroupMount {
            v1_options,
            root: l[3].to_string(),
            mount_point: l[4].to_string(),
        });
    }
    out
}

/// The directory of cgroup `path` (as /proc/self/cgroup says it) under `m`.
fn dir_in(m: &CgroupMount, path: &str) -> PathBuf {
    let inside = path.strip_prefix(m.root.as_str()).unwrap_or(path);
    let inside = inside.trim_start_matches('/');
    let top = Path::new(&m.mount_point);
    if inside.is_empty() {
        top.to_path_buf()
    } else {
        top.join(inside)
    }
}

fn words(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

impl Layout {
    /// This process's layout, from /proc/self/mountinfo and /proc/self/cgroup.
    pub fn detect() -> Layout {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let mut layout = Layout::from_text(&mountinfo, &own, &OwnCgroup::at);
        if let Some(u) = &layout.unified {
            layout.v2_available = words(&u.dir.join("cgroup.controllers"));
            layout.v2_enabled = words(&u.dir.join("cgroup.subtree_control"));
        }
        layout
    }

    fn from_text(mountinfo: &str, own: &str, at: &dyn Fn(PathBuf) -> OwnCgroup) -> Layout {
        let mounts = cgroup_mounts(mountinfo);
        let mut layout = Layout::default();
        for line in own.lines() {
            let mut f = line.splitn(3, ':');
            let (Some(_), Some(names), Some(path)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if names.is_empty() {
                if let Some(m) = mounts.iter().find(|m| m.v1_options.is_none()) {
                    layout.unified = Some(at(dir_in(m, path)));
                }
                continue;
            }
            let names: Vec<&str> = names.split(',').collect();
            let mount = mounts.iter().find(|m| {
                m.v1_options
                    .as_ref()
                    .is_some_and(|o| names.iter().all(|n| o.iter().any(|x| x == n)))
            });
            if let Some(m) = mount {
                let own = at(dir_in(m, path));
                for n in names.iter().filter(|n| !n.starts_with("name=")) {
                    layout.v1.insert(n.to_string(), own.clone());
                }
            }
        }
        layout
    }

    /// Where `c` is: cgroup2 when nsr's cgroup passes it on, else its v1 hierarchy.
    /// CPU usage is in every cgroup2 group (cpu.stat), so there it needs nothing.
    pub fn place(&self, c: Controller) -> Option<Place<'_>> {
        if let Some(u) = &self.unified {
            let on_v2 = match c.v2_name() {
                None => true,
                Some(name) => self.v2_enabled.iter().any(|e| e == name),
            };
            if on_v2 {
                return Some(Place::V2(u));
            }
        }
        self.v1.get(c.v1_name()).map(Place::V1)
    }

    /// Why `c` has no place, and what would give it one.
    pub fn missing(&self, c: Controller) -> (String, String) {
        let name = c.v2_name().unwrap_or("cpuacct");
        match &self.unified {
            Some(u) if self.v2_available.iter().any(|a| a == name) => (
                format!(
                    "the {name} controller is not enabled for child groups of nsr's cgroup {} (its cgroup.subtree_control)",
                    u.dir.display()
                ),
                if nix::unistd::geteuid().is_root() {
                    format!("start nsr in a cgroup without other processes and `echo +{name} > cgroup.subtree_control` there (systemd-run --scope -p Delegate=yes nsr ...)")
                } else {
                    "a delegated cgroup: systemd-run --user --scope -p Delegate=yes nsr ... (systemd's user@.service delegates memory, pids and cpu)".to_string()
                },
            ),
            _ => (
                format!("no cgroup hierarchy here has the {name} controller"),
                format!("mount it (cgroup2 with {name} in cgroup.subtree_control, or a v1 hierarchy: mount -t cgroup -o {} cgroup /sys/fs/cgroup/{})", c.v1_name(), c.v1_name()),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTS: &str = "\
30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
31 25 0:27 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
32 25 0:28 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct
33 25 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
34 25 0:30 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
35 25 0:31 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd
";
    const HYBRID_OWN: &str = "\
9:name=systemd:/
8:pids:/
4:memory:/process_api/abc
2:cpuacct:/
1:cpu:/
0::/
";

    fn writable(dir: PathBuf) -> OwnCgroup {
        OwnCgroup {
            dir,
            writable: true,
        }
    }

    #[test]
    fn a_hybrid_machine_has_its_controllers_in_v1() {
        let layout = Layout::from_text(HYBRID_MOUNTS, HYBRID_OWN, &writable);
        let dir = |c| {
            layout
                .place(c)
                .map(|p| (p.own().dir.clone(), matches!(p, Place::V2(_))))
        };
        assert_eq!(
            dir(Controller::Memory),
            Some((
                PathBuf::from("/sys/fs/cgroup/memory/process_api/abc"),
                false
            ))
        );
        assert_eq!(
            dir(Controller::Pids),
            Some((PathBuf::from("/sys/fs/cgroup/pids"), false))
        );
        // Usage is read from cgroup2's cpu.stat, which needs no controller.
        assert_eq!(
            dir(Controller::CpuUsage),
            Some((PathBuf::from("/sys/fs/cgroup/unified"), true))
        );
        assert_eq!(dir(Controller::Io), None);
        assert!(layout
            .missing(Controller::Io)
            .0
            .contains("no cgroup hierarchy"));
        assert!(!layout.v1.contains_key("name=systemd"));
    }

    #[test]
    fn cgroup2_with_enabled_controllers_takes_them() {
        let mounts = "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let mut layout = Layout::from_text(mounts, "0::/user.slice/nsr.scope\n", &writable);
        layout.v2_available = vec!["memory".into(), "pids".into(), "cpu".into()];
        layout.v2_enabled = vec!["memory".into(), "pids".into()];
        let own = PathBuf::from("/sys/fs/cgroup/user.slice/nsr.scope");
        assert!(matches!(layout.place(Controller::Memory), Some(Place::V2(o)) if o.dir == own));
        assert_eq!(layout.place(Controller::Cpu), None);
        let (why, _) = layout.missing(Controller::Cpu);
        assert!(why.contains("not enabled for child groups"), "{why}");
    }

    #[test]
    fn a_container_that_mounts_part_of_a_hierarchy_is_followed() {
        let mounts = "33 25 0:29 /docker/x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let layout = Layout::from_text(mounts, "4:memory:/docker/x/inner\n", &writable);
        assert_eq!(
            layout.v1["memory"].dir,
            PathBuf::from("/sys/fs/cgroup/memory/inner")
        );
    }
}
