//! The cgroups of one sandbox: planned before it starts (so that the journal names
//! them before they exist), made with their limits, joined by the sandbox's first
//! process before it does anything else (so the holder and all it starts are in them),
//! changed at run time, read for usage, and removed with whatever still runs in them.

use super::layout::{Layout, Place};
use crate::ops::limits::{CgroupLimits, Controller};
use crate::ops::OpError;
use nix::errno::Errno;
use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// The groups of one sandbox, each named `nsr-<nsr's pid>-<tag>-<n>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxGroups {
    /// Its cgroup2 group (every process of the sandbox; cgroup.kill ends them all).
    pub unified: Option<PathBuf>,
    /// The child of `unified` its confined commands start in (the device program).
    pub devices: Option<PathBuf>,
    /// Where each controller's files are, and whether that is cgroup2 (`unified`).
    pub by_controller: BTreeMap<Controller, (PathBuf, bool)>,
}

fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// The controllers a sandbox with a limits map gets a group for when it can (its
/// usage); the others only when a limit asks for them.
const COUNTED: [Controller; 3] = [Controller::Memory, Controller::Pids, Controller::CpuUsage];

impl SandboxGroups {
    /// Where sandbox `name`'s groups go on `layout`. A controller a limit needs and the
    /// machine does not give nsr is an error; one only counted is left out. Without
    /// limits (None) a sandbox gets only what ends all its processes at once: its
    /// cgroup2 group, else a v1 pids group (each v1 group costs its start ~0.3 ms).
    pub fn plan(
        layout: &Layout,
        name: &str,
        limits: Option<&CgroupLimits>,
        devices: bool,
    ) -> Result<SandboxGroups, OpError> {
        let mut groups = SandboxGroups::default();
        let unified = layout.unified.as_ref().filter(|u| u.writable);
        if let Some(u) = unified {
            let dir = u.dir.join(name);
            if devices {
                groups.devices = Some(dir.join(format!("{name}{}", super::DEVICE_GROUP_SUFFIX)));
            }
            groups.unified = Some(dir);
        }
        let wanted = limits.map(|l| l.controllers()).unwrap_or_default();
        let mut all: Vec<Controller> = match (limits, &groups.unified) {
            (Some(_), _) => COUNTED.to_vec(),
            (None, Some(_)) => vec![Controller::CpuUsage],
            (None, None) => vec![Controller::Pids],
        };
        for c in &wanted {
            if !all.contains(c) {
                all.push(*c);
            }
        }
        for c in all {
            let needed = wanted.contains(&c);
            let place = layout.place(c).filter(|p| p.own().writable);
            let (dir, v2) = match (place, &groups.unified) {
                (Some(Place::V2(_)), Some(dir)) => (dir.clone(), true),
                (Some(Place::V1(own)), _) => (own.dir.join(name), false),
                _ if !needed => continue,
                _ => return Err(missing(layout, c)),
            };
            groups.by_controller.insert(c, (dir, v2));
        }
        Ok(groups)
    }

    pub fn is_empty(&self) -> bool {
        self.unified.is_none() && self.v1().is_empty()
    }

    /// Its groups in v1 hierarchies, each once (co-mounted controllers share one).
    pub fn v1(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for (dir, v2) in self.by_controller.values() {
            if !v2 && !out.contains(dir) {
                out.push(dir.clone());
            }
        }
        out
    }

    /// Every group, in the order to remove them (a child before its parent).
    pub fn removal_order(&self) -> Vec<String> {
        self.devices
            .iter()
            .chain(&self.unified)
            .chain(&self.v1())
            .map(|p| p.to_string_lossy().into_owned())
            .collect()
    }

    fn is_v2(&self, c: Controller) -> bool {
        self.by_controller.get(&c).is_some_and(|(_, v2)| *v2)
    }

    /// The limit files `limits` writes, each with its full path.
    pub fn limit_files(&self, limits: &CgroupLimits) -> Result<Vec<(PathBuf, String)>, OpError> {
        limits
            .writes(&|c| self.is_v2(c))
            .into_iter()
            .map(|w| match self.by_controller.get(&w.controller) {
                Some((dir, _)) => Ok((dir.join(w.file), w.value)),
                None => Err(OpError::new(format!(
                    "the sandbox has no {} cgroup: it started without a {} limit",
                    w.controller, w.controller
                ))
                .with_hint(format!(
                    "give unshare a {} limit (a generous one) to change it later",
                    w.controller
                ))),
            })
            .collect()
    }
}

fn missing(layout: &Layout, c: Controller) -> OpError {
    let own = layout.place(c).map(|p| p.own().dir.clone());
    match own {
        Some(dir) => OpError::os(
            Errno::EACCES,
            format!("cannot make {c} cgroups in {}", dir.display()),
        )
        .with_hint(if nix::unistd::geteuid().is_root() {
            "the cgroup filesystem is mounted read-only here".to_string()
        } else {
            "resource limits need a cgroup delegated to you: systemd-run --user --scope -p Delegate=yes nsr ... (cgroup v2), or run as root".to_string()
        }),
        None => {
            let (why, hint) = layout.missing(c);
            OpError::new(why).with_hint(hint)
        }
    }
}

/// What `create` made: the cgroup2 group's directory, which the sandbox's first process
/// is cloned into; the files it writes "0" to (v1's `tasks`: a thread moving itself
/// takes no global lock, where a write to cgroup.procs waits for an RCU grace period);
/// the device group's directory (what clone3 and the device program take).
pub struct Made {
    pub unified: Option<OwnedFd>,
    pub tasks: Vec<OwnedFd>,
    pub devices: Option<OwnedFd>,
}

/// Makes the groups with their limits. On failure nothing of them is left.
pub fn create(groups: &SandboxGroups, limits: &CgroupLimits) -> Result<Made, OpError> {
    let made = make(groups, limits);
    if made.is_err() {
        let _ = remove_all(&groups.removal_order());
    }
    made
}

fn make(groups: &SandboxGroups, limits: &CgroupLimits) -> Result<Made, OpError> {
    let (mut unified, mut devices) = (None, None);
    for dir in groups
        .unified
        .iter()
        .chain(&groups.devices)
        .chain(&groups.v1())
    {
        let fd = super::create(dir)?;
        if Some(dir) == groups.devices.as_ref() {
            devices = Some(fd);
        } else if Some(dir) == groups.unified.as_ref() {
            unified = Some(fd);
        }
    }
    for (file, value) in groups.limit_files(limits)? {
        write_limit(&file, &value)?;
    }
    let mut joined: Vec<PathBuf> = groups.v1().iter().map(|d| d.join("tasks")).collect();
    if let (Some(dir), false) = (&groups.unified, super::devices::clone3_works()) {
        // No clone3 to be born in it: the first process moves there itself.
        unified = None;
        joined.push(dir.join("cgroup.procs"));
    }
    let tasks = joined
        .iter()
        .map(|path| {
            std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map(OwnedFd::from)
                .map_err(|e| OpError::os(errno_of(&e), format!("cannot open {}", path.display())))
        })
        .collect::<Result<_, _>>()?;
    Ok(Made {
        unified,
        tasks,
        devices,
    })
}

/// Writes one limit file; the kernel's EINVAL names what it refused.
pub fn write_limit(file: &Path, value: &str) -> Result<(), OpError> {
    std::fs::write(file, value).map_err(|e| {
        let err = OpError::os(
            errno_of(&e),
            format!("cannot write {value} to {}", file.display()),
        );
        match e.raw_os_error() {
            Some(libc::EINVAL) if file.ends_with("memory.limit_in_bytes") => err.with_hint(
                "v1 memory cannot be limited below what the group uses now, or above its memory_swap total",
            ),
            Some(libc::EBUSY) => err.with_hint("the group uses more than the new limit allows"),
            Some(libc::EINVAL) => err.with_hint("the kernel refused the value (a device that is not a block device, or a value out of range)"),
            Some(libc::ENOENT) => err.with_hint("this kernel's cgroup has no such file (swap accounting off? boot with swapaccount=1)"),
            _ => err,
        }
    })
}

/// Removes every group in `paths` (as `removal_order` gives them), killing what still
/// runs in them. True when any was there to remove.
pub fn remove_all(paths: &[String]) -> Result<bool, OpError> {
    let mut any = false;
    let mut first_error = None;
    for p in paths {
        match super::remove(Path::new(p), true) {
            Ok(removed) => any |= removed,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(any),
    }
}

/// What changing a running sandbox's limits writes, in order, and the (file, old value)
/// pairs that undo it. On v1, memsw (memory and swap together) may never be below the
/// memory limit: a new memory limit keeps the swap allowance it had, and whichever of the
/// two grows is written first.
pub type Changes = (Vec<(PathBuf, String)>, Vec<(String, String)>);

pub fn changes(groups: &SandboxGroups, limits: &CgroupLimits) -> Result<Changes, OpError> {
    let mut limits = limits.clone();
    let v1_memory = groups
        .by_controller
        .get(&Controller::Memory)
        .filter(|(_, v2)| !v2)
        .map(|(d, _)| d.clone());
    let mut memsw_grows = false;
    if let (Some(dir), Some(mem)) = (&v1_memory, limits.memory) {
        let read = |f: &str| counter(dir, f, None).map(|v| v as u64);
        let (old_mem, old_memsw) = (
            read("memory.limit_in_bytes"),
            read("memory.memsw.limit_in_bytes"),
        );
        if let (Some(old_mem), Some(old_memsw), None) = (old_mem, old_memsw, limits.memory_swap) {
            // Unlimited is the page-rounded i64::MAX: no swap allowance to keep.
            if old_memsw < (1 << 62) {
                limits.memory_swap = Some(old_memsw.saturating_sub(old_mem));
            }
        }
        let new_memsw = limits.memory_swap.map(|s| mem.saturating_add(s));
        memsw_grows = new_memsw.is_some_and(|n| old_memsw.is_some_and(|o| n > o));
    }
    let mut files = groups.limit_files(&limits)?;
    if memsw_grows {
        let at = |name: &str| files.iter().position(|(f, _)| f.ends_with(name));
        if let (Some(m), Some(sw)) = (
            at("memory.limit_in_bytes"),
            at("memory.memsw.limit_in_bytes"),
        ) {
            files.swap(m, sw);
        }
    }
    let mut restore = Vec::new();
    for (file, value) in &files {
        let old = std::fs::read_to_string(file)
            .map_err(|e| OpError::os(errno_of(&e), format!("cannot read {}", file.display())))?;
        restore.push((
            file.to_string_lossy().into_owned(),
            restore_value(file, value, &old),
        ));
    }
    // Undone in reverse: what was written last goes back first.
    restore.reverse();
    Ok((files, restore))
}

/// What writes back `old` (a file's whole text before `new` was written to it). Files
/// with a line per device take one line: the device's old line, or its removal.
pub fn restore_value(file: &Path, new: &str, old: &str) -> String {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let per_device = name == "io.max" || name.ends_with("_device");
    if !per_device {
        return old.trim().to_string();
    }
    let device = new.split_whitespace().next().unwrap_or("");
    let before = old
        .lines()
        .find(|l| l.split_whitespace().next() == Some(device));
    match (before, name == "io.max") {
        (Some(line), _) => line.trim().to_string(),
        (None, true) => format!("{device} rbps=max wbps=max riops=max wiops=max"),
        (None, false) => format!("{device} 0"),
    }
}

/// Writes back what `set_limits` returned.
pub fn restore(files: &[(String, String)]) -> Result<(), OpError> {
    for (file, value) in files {
        let file = Path::new(file);
        if !file.parent().is_some_and(super::is_ours) {
            return Err(OpError::new(format!(
                "{} is not in a cgroup of nsr's: left alone",
                file.display()
            )));
        }
        match write_limit(file, value) {
            // The group went with its sandbox: nothing to write back.
            Err(e) if e.errno == Some(Errno::ENOENT) && !file.exists() => {}
            other => other?,
        }
    }
    Ok(())
}

/// One counter of a cgroup file: a whole file's number, or `key N` in a flat keyed
/// file (memory.events, cpu.stat, memory.oom_control).
fn counter(dir: &Path, file: &str, key: Option<&str>) -> Option<i64> {
    let text = std::fs::read_to_string(dir.join(file)).ok()?;
    match key {
        None => text.trim().parse().ok(),
        Some(k) => text.lines().find_map(|l| {
            let (name, v) = l.split_once(' ')?;
            (name == k).then(|| v.trim().parse().ok())?
        }),
    }
}

/// The two counters a command's end is judged by: OOM kills and forks refused at the
/// pids limit (two files, where `usage` reads them all).
pub fn run_counters(groups: &SandboxGroups) -> (i64, i64) {
    let dir = |c| {
        groups
            .by_controller
            .get(&c)
            .map(|(d, v2)| (d.as_path(), *v2))
    };
    let oom = match dir(Controller::Memory) {
        Some((d, true)) => counter(d, "memory.events", Some("oom_kill")),
        Some((d, false)) => counter(d, "memory.oom_control", Some("oom_kill")),
        None => None,
    };
    let pids = dir(Controller::Pids).and_then(|(d, _)| counter(d, "pids.events", Some("max")));
    (oom.unwrap_or(0), pids.unwrap_or(0))
}

/// What the groups at `paths` have counted, by name, from whichever files each has
/// (so a kept environment's journal, which has only the paths, gives the same).
pub fn usage(paths: &[String]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let mut put = |k: &str, v: Option<i64>| {
        if let Some(v) = v {
            out.entry(k.to_string()).or_insert(v);
        }
    };
    for p in paths.iter().map(Path::new) {
        if super::is_device_group(p) {
            continue;
        }
        // cgroup2
        put("memory_current", counter(p, "memory.current", None));
        put("memory_peak", counter(p, "memory.peak", None));
        put("oom_kills", counter(p, "memory.events", Some("oom_kill")));
        put("cpu_usec", counter(p, "cpu.stat", Some("usage_usec")));
        put(
            "cpu_throttled_usec",
            counter(p, "cpu.stat", Some("throttled_usec")),
        );
        // cgroup v1
        put("memory_current", counter(p, "memory.usage_in_bytes", None));
        put("memory_peak", counter(p, "memory.max_usage_in_bytes", None));
        put(
            "oom_kills",
            counter(p, "memory.oom_control", Some("oom_kill")),
        );
        put(
            "cpu_usec",
            counter(p, "cpuacct.usage", None).map(|ns| ns / 1000),
        );
        put(
            "cpu_throttled_usec",
            counter(p, "cpu.stat", Some("throttled_time")).map(|ns| ns / 1000),
        );
        // both
        put("pids_current", counter(p, "pids.current", None));
        put("pids_limit_hits", counter(p, "pids.events", Some("max")));
    }
    // A cgroup2 group without the pids controller still lists its tasks.
    if let Some(dir) = paths
        .iter()
        .map(Path::new)
        .find(|p| p.join("cgroup.threads").exists())
    {
        let mut tasks = 0;
        for d in std::iter::once(dir.to_path_buf()).chain(super::ours_under(dir)) {
            let text = std::fs::read_to_string(d.join("cgroup.threads")).unwrap_or_default();
            tasks += text.lines().count() as i64;
        }
        out.entry("pids_current".into()).or_insert(tasks);
    }
    out
}

/// The limits set in the groups at `paths` now, read back from their files (a value at
/// the kernel's "no limit" is none); None when no limit is set.
pub fn limits_now(paths: &[String]) -> Option<CgroupLimits> {
    let mut l = CgroupLimits::default();
    // v1's "no memory limit": the largest page-aligned i64.
    let bounded = |v: i64| (v > 0 && v < 0x7FFF_FFFF_FFFF_F000).then_some(v as u64);
    for p in paths.iter().map(Path::new) {
        if super::is_device_group(p) {
            continue;
        }
        let memory =
            counter(p, "memory.max", None).or_else(|| counter(p, "memory.limit_in_bytes", None));
        l.memory = l.memory.or(memory.and_then(bounded));
        l.pids = l.pids.or(counter(p, "pids.max", None).map(|v| v as u64));
        let v2_cpu = std::fs::read_to_string(p.join("cpu.max"))
            .ok()
            .and_then(|t| {
                let (quota, period) = t.trim().split_once(' ')?;
                Some((quota.parse::<i64>().ok()?, period.parse::<i64>().ok()?))
            });
        let v1_cpu =
            counter(p, "cpu.cfs_quota_us", None).zip(counter(p, "cpu.cfs_period_us", None));
        if let Some((quota, period)) = v2_cpu.or(v1_cpu).filter(|(q, p)| *q > 0 && *p > 0) {
            l.cpu_millis = l.cpu_millis.or(Some((quota * 1000 / period) as u64));
        }
    }
    (l != CgroupLimits::default()).then_some(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::layout::OwnCgroup;

    fn hybrid() -> Layout {
        let own = |d: &str| OwnCgroup {
            dir: PathBuf::from(d),
            writable: true,
        };
        Layout {
            unified: Some(own("/sys/fs/cgroup/unified")),
            v2_available: vec!["hugetlb".into()],
            v2_enabled: vec![],
            v1: [
                ("memory", own("/sys/fs/cgroup/memory/api")),
                ("pids", own("/sys/fs/cgroup/pids")),
                ("cpu", own("/sys/fs/cgroup/cpu")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        }
    }

    #[test]
    fn a_sandbox_without_limits_gets_groups_to_count_and_to_kill() {
        let g = SandboxGroups::plan(&hybrid(), "nsr-1-a-0", Some(&CgroupLimits::default()), true)
            .unwrap();
        assert_eq!(
            g.removal_order(),
            [
                "/sys/fs/cgroup/unified/nsr-1-a-0/nsr-1-a-0-commands",
                "/sys/fs/cgroup/unified/nsr-1-a-0",
                "/sys/fs/cgroup/memory/api/nsr-1-a-0",
                "/sys/fs/cgroup/pids/nsr-1-a-0",
            ]
        );
    }

    #[test]
    fn a_sandbox_without_a_limits_map_gets_only_the_group_that_ends_it() {
        let g = SandboxGroups::plan(&hybrid(), "n", None, false).unwrap();
        assert_eq!(g.removal_order(), ["/sys/fs/cgroup/unified/n"]);
        let mut v1_only = hybrid();
        v1_only.unified = None;
        let g = SandboxGroups::plan(&v1_only, "n", None, false).unwrap();
        assert_eq!(g.removal_order(), ["/sys/fs/cgroup/pids/n"]);
    }

    #[test]
    fn a_limit_the_machine_cannot_give_is_an_error_before_anything_is_made() {
        let cpu = CgroupLimits {
            cpu_millis: Some(500),
            ..Default::default()
        };
        let g = SandboxGroups::plan(&hybrid(), "n", Some(&cpu), false).unwrap();
        assert!(g.v1().contains(&PathBuf::from("/sys/fs/cgroup/cpu/n")));
        let io = CgroupLimits {
            io: vec![Default::default()],
            ..Default::default()
        };
        let e = SandboxGroups::plan(&hybrid(), "n", Some(&io), false).unwrap_err();
        assert!(e.to_string().contains("io controller"), "{e}");
        let mut read_only = hybrid();
        read_only.v1.get_mut("cpu").unwrap().writable = false;
        let e = SandboxGroups::plan(&read_only, "n", Some(&cpu), false).unwrap_err();
        assert_eq!(e.errno, Some(Errno::EACCES));
        // Without a limit, a group nsr may not make is left out.
        let g =
            SandboxGroups::plan(&read_only, "n", Some(&CgroupLimits::default()), false).unwrap();
        assert!(!g.v1().contains(&PathBuf::from("/sys/fs/cgroup/cpu/n")));
    }

    #[test]
    fn limits_change_only_what_a_sandbox_has_a_group_for() {
        let g = SandboxGroups::plan(&hybrid(), "n", Some(&CgroupLimits::default()), false).unwrap();
        let cpu = CgroupLimits {
            cpu_millis: Some(500),
            ..Default::default()
        };
        let e = g.limit_files(&cpu).unwrap_err();
        assert!(e.to_string().contains("started without a cpu limit"), "{e}");
        let mem = CgroupLimits {
            memory: Some(1 << 20),
            ..Default::default()
        };
        assert_eq!(
            g.limit_files(&mem).unwrap(),
            [(
                PathBuf::from("/sys/fs/cgroup/memory/api/n/memory.limit_in_bytes"),
                "1048576".to_string()
            )]
        );
    }

    #[test]
    fn a_device_line_is_restored_as_it_was_or_removed() {
        let v1 = Path::new("/x/blkio.throttle.read_bps_device");
        assert_eq!(restore_value(v1, "8:0 100", "8:0 5\n8:16 7\n"), "8:0 5");
        assert_eq!(restore_value(v1, "8:0 100", ""), "8:0 0");
        let v2 = Path::new("/x/io.max");
        assert_eq!(
            restore_value(v2, "8:0 rbps=1", ""),
            "8:0 rbps=max wbps=max riops=max wiops=max"
        );
        assert_eq!(restore_value(Path::new("/x/pids.max"), "5", "max\n"), "max");
    }
}
