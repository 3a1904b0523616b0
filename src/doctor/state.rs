//! nsr's own state on this machine: /run/netns (shared with iproute2), the environments'
//! journals, the cache of extracted roots.

use super::check::{Check, Status};
use std::path::Path;

/// Whether `path` is a mount point, and then its propagation ("shared" or "private").
fn mount_propagation(path: &str) -> Option<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(path))
        .map(|l| {
            // Optional fields (shared:N, master:N) sit between the options and " - ".
            let before = l.split(" - ").next().unwrap_or("");
            if before.contains("shared:") {
                "shared".to_string()
            } else {
                "private".to_string()
            }
        })
}

pub fn run_netns() -> Check {
    let dir = "/run/netns";
    if !nix::unistd::geteuid().is_root() {
        return Check::problem(
            "/run/netns",
            Status::Warn,
            "named network namespaces (netns(), veth, NAT) need root",
            "run as root for named network namespaces",
        );
    }
    if !Path::new(dir).exists() {
        return Check::ok("/run/netns", "absent (netns() makes it, and takes it back)");
    }
    let names: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let mount = match mount_propagation(dir) {
        Some(kind) => format!("a {kind} mount"),
        None => "a directory (not a mount yet)".into(),
    };
    let list = if names.is_empty() {
        "no named netns".to_string()
    } else {
        format!("{} named netns: {}", names.len(), names.join(", "))
    };
    match nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK) {
        Ok(()) => Check::ok("/run/netns", format!("{mount}, {list}")),
        Err(e) => Check::problem(
            "/run/netns",
            Status::Warn,
            format!("{mount}, {list}; not writable ({e}): netns() needs root"),
            "run as root for named network namespaces",
        ),
    }
}

pub fn environments() -> Check {
    let base = crate::env::store::base_dir();
    let envs = crate::env::recover::list();
    let left: Vec<&str> = envs
        .iter()
        .filter(|e| !e.running && !e.kept)
        .map(|e| e.name.as_str())
        .collect();
    let running = envs.iter().filter(|e| e.running).count();
    let kept = envs.iter().filter(|e| e.kept && !e.running).count();
    let summary = format!(
        "{}: {running} running, {kept} kept, {} left over",
        base.display(),
        left.len()
    );
    if !left.is_empty() {
        return Check::problem(
            "environments",
            Status::Warn,
            format!("{summary} ({})", left.join(", ")),
            "nsr down --all (undoes what killed runs left)",
        );
    }
    let writable = first_existing(&base)
        .map(|d| nix::unistd::access(&d, nix::unistd::AccessFlags::W_OK).is_ok())
        .unwrap_or(false);
    if writable {
        Check::ok("environments", summary)
    } else {
        Check::problem(
            "environments",
            Status::Missing,
            format!("{summary}; cannot write there, so no run can journal"),
            "NSR_STATE_DIR=a directory of yours",
        )
    }
}

pub fn cache() -> Check {
    let dir = crate::rootfs::cache::dir();
    match crate::rootfs::cache::list() {
        Ok(entries) => {
            let bytes: u64 = entries.iter().map(|e| e.bytes).sum();
            Check::ok(
                "root cache",
                format!(
                    "{}: {} root(s), {:.1} MB (nsr cache ls, nsr cache clear)",
                    dir.display(),
                    entries.len(),
                    bytes as f64 / 1e6
                ),
            )
        }
        Err(e) => Check::problem(
            "root cache",
            Status::Warn,
            format!("{}: {}", dir.display(), e.message),
            "NSR_CACHE_DIR=a directory of yours",
        ),
    }
}

/// The directory itself or its nearest existing parent (where it would be created).
fn first_existing(p: &Path) -> Option<std::path::PathBuf> {
    p.ancestors().find(|a| a.exists()).map(Path::to_path_buf)
}
