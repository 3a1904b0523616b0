//! The cgroup layout (v2, v1 or hybrid), which controllers are where, and whether this
//! user may create child groups in its own cgroups (what resource limits need).

use super::check::{Check, Status};

/// A mounted cgroup hierarchy.
struct Hierarchy {
    /// None for cgroup2.
    v1_controllers: Option<Vec<String>>,
    mount_point: String,
    /// The directory of the hierarchy the mount shows (/ unless a container mounted a part).
    mount_root: String,
}

/// Options of a v1 cgroup mount that are not controllers.
const NOT_CONTROLLERS: [&str; 6] = [
    "rw",
    "ro",
    "xattr",
    "noprefix",
    "clone_children",
    "cpuset_v2_mode",
];

fn hierarchies() -> Vec<Hierarchy> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    crate::cgroup::layout::cgroup_mounts(&text)
        .into_iter()
        .map(|m| Hierarchy {
            v1_controllers: m.v1_options.map(|o| {
                o.into_iter()
                    .filter(|o| !NOT_CONTROLLERS.contains(&o.as_str()) && !o.contains('='))
                    .collect()
            }),
            mount_point: m.mount_point,
            mount_root: m.root,
        })
        .collect()
}

pub fn checks() -> Vec<Check> {
    let all = hierarchies();
    if all.is_empty() {
        return vec![Check::problem(
            "cgroups",
            Status::Missing,
            "no cgroup filesystem is mounted",
            "mount -t cgroup2 none /sys/fs/cgroup",
        )];
    }
    vec![layout(&all), delegation(&all), limits(), device_policy()]
}

/// Where a sandbox's limits go, controller by controller, as `unshare`'s limits will
/// find them (`cgroup::layout`): cgroup2, a v1 hierarchy, or nowhere and why.
fn limits() -> Check {
    use crate::cgroup::layout::{Layout, Place};
    use crate::ops::limits::Controller;
    let layout = Layout::detect();
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for c in [
        Controller::Memory,
        Controller::Pids,
        Controller::Cpu,
        Controller::Io,
    ] {
        match layout.place(c).filter(|p| p.own().writable) {
            Some(Place::V2(own)) => found.push(format!("{c} v2 ({})", own.dir.display())),
            Some(Place::V1(own)) => found.push(format!("{c} v1 ({})", own.dir.display())),
            None => missing.push((c, layout.missing(c))),
        }
    }
    let whole = match &layout.unified {
        Some(u) if u.writable => format!(
            "; each sandbox's processes in a cgroup2 group under {} (cgroup.kill ends them)",
            u.dir.display()
        ),
        _ => String::new(),
    };
    if missing.is_empty() {
        return Check::ok("resource limits", format!("{}{whole}", found.join(", ")));
    }
    let names: Vec<String> = missing.iter().map(|(c, _)| c.to_string()).collect();
    let (_, (why, fix)) = &missing[0];
    Check::problem(
        "resource limits",
        Status::Warn,
        format!(
            "{}{}; no {} limits here: {why}{whole}",
            found.join(", "),
            if found.is_empty() { "" } else { ";" },
            names.join(", ")
        ),
        fix.clone(),
    )
}

/// Where confined commands of root's sandboxes get their device cgroup.
fn device_policy() -> Check {
    let name = "device policy";
    if !nix::unistd::geteuid().is_root() {
        return Check::ok(
            name,
            "not needed for an ordinary user's sandbox (it can make no device node)",
        );
    }
    if !crate::cgroup::devices::clone3_works() {
        return Check::problem(
            name,
            Status::Warn,
            "clone3 is not available: device nodes in a sandbox's root can be opened by its confined root",
            "a kernel of 5.7 or later, and a seccomp profile (of a container nsr runs in) that allows clone3",
        );
    }
    match crate::cgroup::layout::Layout::detect().unified {
        Some(own) if own.writable => Check::ok(
            name,
            format!(
                "confined commands start in a device cgroup inside their sandbox's cgroup2 group under {} (a BPF device program)",
                own.dir.display()
            ),
        ),
        Some(own) => Check::problem(
            name,
            Status::Warn,
            format!(
                "cannot make cgroups in {}: device nodes in a sandbox's root can be opened by its confined root",
                own.dir.display()
            ),
            "a writable cgroup2 filesystem",
        ),
        None => Check::problem(
            name,
            Status::Warn,
            "no cgroup2 hierarchy: device nodes in a sandbox's root can be opened by its confined root",
            "mount -t cgroup2 none /sys/fs/cgroup (or /sys/fs/cgroup/unified beside v1)",
        ),
    }
}

fn layout(all: &[Hierarchy]) -> Check {
    let v1: Vec<&Hierarchy> = all
        .iter()
        .filter(|h| h.v1_controllers.as_ref().is_some_and(|c| !c.is_empty()))
        .collect();
    let v2: Vec<&Hierarchy> = all.iter().filter(|h| h.v1_controllers.is_none()).collect();
    let mut parts = Vec::new();
    if !v1.is_empty() {
        let names: Vec<String> = v1
            .iter()
            .flat_map(|h| h.v1_controllers.clone().unwrap_or_default())
            .collect();
        parts.push(format!("v1: {}", names.join(", ")));
    }
    for h in &v2 {
        let controllers = std::fs::read_to_string(format!("{}/cgroup.controllers", h.mount_point))
            .unwrap_or_default();
        let controllers: Vec<&str> = controllers.split_whitespace().collect();
        parts.push(format!(
            "cgroup2 at {}: {}",
            h.mount_point,
            if controllers.is_empty() {
                "no controllers".to_string()
            } else {
                controllers.join(", ")
            }
        ));
    }
    let kind = match (v1.is_empty(), v2.is_empty()) {
        (true, false) => "v2",
        (false, true) => "v1",
        _ => "hybrid",
    };
    Check::ok("cgroups", format!("{kind} ({})", parts.join("; ")))
}

/// Whether this user may make child groups in its own cgroup of each hierarchy that has
/// controllers (memory, pids, cpu, io): access(W_OK) on the directory, which also
/// catches a read-only cgroupfs.
fn delegation(all: &[Hierarchy]) -> Check {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut writable = Vec::new();
    let mut refused: Vec<(nix::errno::Errno, Vec<String>)> = Vec::new();
    for line in own.lines() {
        let mut f = line.splitn(3, ':');
        let (_, names, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        let hierarchy = all.iter().find(|h| match &h.v1_controllers {
            None => names.is_empty(),
            Some(c) => !names.is_empty() && names.split(',').all(|n| c.iter().any(|x| x == n)),
        });
        let Some(h) = hierarchy else { continue };
        if h.v1_controllers.as_ref().is_some_and(|c| c.is_empty()) {
            continue;
        }
        let inside = path.strip_prefix(h.mount_root.as_str()).unwrap_or(path);
        let dir = format!("{}/{}", h.mount_point, inside.trim_start_matches('/'));
        let label = format!(
            "{}:{path}",
            if names.is_empty() { "cgroup2" } else { names }
        );
        match nix::unistd::access(dir.as_str(), nix::unistd::AccessFlags::W_OK) {
            Ok(()) => writable.push(label),
            Err(e) => {
                // One errno, said once: "pids:/, memory:/x (EACCES: Permission denied)".
                match refused.iter_mut().find(|(errno, _)| *errno == e) {
                    Some((_, labels)) => labels.push(label),
                    None => refused.push((e, vec![label])),
                }
            }
        }
    }
    if refused.is_empty() {
        Check::ok(
            "cgroup delegation",
            format!("may create child groups in {}", writable.join(", ")),
        )
    } else {
        let fix = if nix::unistd::geteuid().is_root() {
            "a writable cgroup filesystem (it is mounted read-only here)".to_string()
        } else {
            "a cgroup delegated to you: systemd-run --user --scope -p Delegate=yes nsr ... (cgroup v2), or as root: mkdir DIR && chown -R $USER DIR".to_string()
        };
        Check::problem(
            "cgroup delegation",
            Status::Warn,
            format!(
                "may not create child groups in {}{}",
                refused
                    .iter()
                    .map(|(e, labels)| format!("{} ({e})", labels.join(", ")))
                    .collect::<Vec<_>>()
                    .join(", "),
                if writable.is_empty() {
                    String::new()
                } else {
                    format!("; may in {}", writable.join(", "))
                }
            ),
            fix,
        )
    }
}
