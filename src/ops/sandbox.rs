//! What a recipe asks of `unshare`: which namespaces to create, which to join, and the id maps.

use super::kinds::NsKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Index of a sandbox in the backend, stable for the whole run.
pub type SandboxId = usize;

/// An existing namespace to enter instead of creating one (the tutorial's `setns()`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinTarget {
    /// A namespace file, such as `/run/netns/test_net` or `/proc/1234/ns/net`.
    Path(String),
    /// The namespace of that kind that a process is in.
    Pid(i32),
}

impl JoinTarget {
    pub fn path_for(&self, kind: NsKind) -> String {
        match self {
            JoinTarget::Path(p) => p.clone(),
            JoinTarget::Pid(pid) => format!("/proc/{pid}/ns/{}", kind.proc_file()),
        }
    }
}

/// One line of /proc/PID/uid_map or gid_map: `inside outside count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Propagation {
    /// `mount --make-rprivate /`, what unshare(1) does: nothing leaks to or from the host.
    Private,
    /// `mount --make-rslave /`: host mounts appear inside, nothing goes back out.
    Slave,
    /// Leave the propagation the new mount namespace inherited.
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// Namespaces created anew, in the order the recipe listed them.
    pub create: Vec<NsKind>,
    /// Namespaces joined, by kind.
    pub join: BTreeMap<NsKind, JoinTarget>,
    pub uid_map: Vec<IdRange>,
    pub gid_map: Vec<IdRange>,
    pub propagation: Propagation,
    /// Offsets of a new time namespace's clocks (`unshare --monotonic/--boottime`).
    #[serde(default)]
    pub time_offsets: TimeOffsets,
    /// How the commands the sandbox runs are confined.
    #[serde(default)]
    pub confine: crate::confine::Confinement,
    /// Its cgroup limits. None: it gets only the group that ends all its processes
    /// (cgroup2's, else v1 pids); a map, even empty, also gets memory and pids groups
    /// that count (`usage()`).
    #[serde(default)]
    pub limits: Option<super::limits::CgroupLimits>,
}

/// Seconds added to CLOCK_MONOTONIC and CLOCK_BOOTTIME inside a new time namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeOffsets {
    pub monotonic: i64,
    pub boottime: i64,
}

impl TimeOffsets {
    pub fn is_zero(&self) -> bool {
        self.monotonic == 0 && self.boottime == 0
    }

    /// What /proc/PID/timens_offsets takes: one line per clock, seconds and nanoseconds.
    pub fn proc_text(&self) -> String {
        format!(
            "monotonic {} 0\nboottime {} 0\n",
            self.monotonic, self.boottime
        )
    }
}

impl SandboxSpec {
    pub fn creates(&self, kind: NsKind) -> bool {
        self.create.contains(&kind)
    }

    /// Whether the sandbox sees its own mount table (created or joined).
    pub fn has_own_mount_ns(&self) -> bool {
        self.creates(NsKind::Mount) || self.join.contains_key(&NsKind::Mount)
    }

    pub fn has_own_pid_ns(&self) -> bool {
        self.creates(NsKind::Pid) || self.join.contains_key(&NsKind::Pid)
    }

    pub fn has_own_uts_ns(&self) -> bool {
        self.creates(NsKind::Uts) || self.join.contains_key(&NsKind::Uts)
    }

    /// Checks what can be checked without the kernel.
    pub fn validate(&self) -> Result<(), String> {
        for kind in &self.create {
            if self.join.contains_key(kind) {
                return Err(format!(
                    "namespace kind '{kind}' is both created and joined: choose one"
                ));
            }
        }
        let mut seen = Vec::new();
        for kind in &self.create {
            if seen.contains(kind) {
                return Err(format!("namespace kind '{kind}' is listed twice"));
            }
            seen.push(*kind);
        }
        if !self.time_offsets.is_zero() && !self.creates(NsKind::Time) {
            return Err(
                "monotonic and boottime offsets need a new time namespace: add \"time\" to the kinds"
                    .to_string(),
            );
        }
        if (!self.uid_map.is_empty() || !self.gid_map.is_empty()) && !self.creates(NsKind::User) {
            return Err(
                "uid/gid maps need a new user namespace: add \"user\" to the kinds".to_string(),
            );
        }
        if let Some(l) = &self.limits {
            l.validate()?;
        }
        for (name, map) in [("uid_map", &self.uid_map), ("gid_map", &self.gid_map)] {
            if map.len() > 340 {
                return Err(format!(
                    "{name} has {} lines; the kernel takes at most 340",
                    map.len()
                ));
            }
            for r in map.iter() {
                if r.count == 0 {
                    return Err(format!(
                        "{name} line {} {} 0 maps no ids",
                        r.inside, r.outside
                    ));
                }
                if r.inside.checked_add(r.count).is_none()
                    || r.outside.checked_add(r.count).is_none()
                {
                    return Err(format!(
                        "{name} range {} {} {} overflows",
                        r.inside, r.outside, r.count
                    ));
                }
            }
            for (i, a) in map.iter().enumerate() {
                for b in map.iter().skip(i + 1) {
                    let overlap = |x: u32, y: u32| x < y + b.count && y < x + a.count;
                    if overlap(a.inside, b.inside) || overlap(a.outside, b.outside) {
                        return Err(format!("{name} ranges overlap"));
                    }
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for SandboxSpec {
    /// The unshare(1) command line this spec stands for, as the tutorial would type it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words = self.command_words(&|t, kind| t.path_for(kind), false);
        write!(f, "{}", words.join(" "))
    }
}

impl SandboxSpec {
    /// The words of the command line: namespaces joined come first, with nsenter(1)
    /// (`unshare --net=FILE` would make a new namespace and bind it onto FILE, not join
    /// it), named by `join_path`; then unshare(1) with the new kinds, `--fork` (and
    /// `--kill-child` when asked) for a pid namespace, the propagation when not
    /// unshare's default, the id maps.
    pub fn command_words(
        &self,
        join_path: &dyn Fn(&JoinTarget, NsKind) -> String,
        kill_child: bool,
    ) -> Vec<String> {
        let mut w = Vec::new();
        if !self.join.is_empty() {
            w.push("nsenter".to_string());
            for (kind, target) in &self.join {
                w.push(format!(
                    "{}={}",
                    kind.unshare_option(),
                    join_path(target, *kind)
                ));
            }
        }
        w.push("unshare".to_string());
        w.extend(self.create.iter().map(|k| k.unshare_option().to_string()));
        if self.has_own_pid_ns() {
            w.push("--fork".into());
            if kill_child {
                w.push("--kill-child".into());
            }
        }
        if self.has_own_mount_ns() {
            match self.propagation {
                Propagation::Private => {}
                Propagation::Slave => w.push("--propagation slave".into()),
                Propagation::Unchanged => w.push("--propagation unchanged".into()),
            }
        }
        w.extend(self.map_options());
        if self.time_offsets.monotonic != 0 {
            w.push(format!("--monotonic {}", self.time_offsets.monotonic));
        }
        if self.time_offsets.boottime != 0 {
            w.push(format!("--boottime {}", self.time_offsets.boottime));
        }
        w
    }
}

impl SandboxSpec {
    /// unshare(1)'s options for the id maps: `--map-root-user` for the one-id root map,
    /// else `--map-users=OUTER,INNER,COUNT` per range (and the same for groups).
    pub fn map_options(&self) -> Vec<String> {
        let root_only = |m: &[IdRange], me: u32| {
            m.len() == 1 && m[0].inside == 0 && m[0].count == 1 && m[0].outside == me
        };
        if root_only(&self.uid_map, nix::unistd::geteuid().as_raw())
            && root_only(&self.gid_map, nix::unistd::getegid().as_raw())
        {
            return vec!["--map-root-user".into()];
        }
        let mut out = Vec::new();
        for (opt, map) in [
            ("--map-users", &self.uid_map),
            ("--map-groups", &self.gid_map),
        ] {
            for r in map.iter() {
                out.push(format!("{opt}={},{},{}", r.outside, r.inside, r.count));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(create: &[NsKind]) -> SandboxSpec {
        SandboxSpec {
            create: create.to_vec(),
            join: BTreeMap::new(),
            uid_map: vec![],
            gid_map: vec![],
            propagation: Propagation::Private,
            time_offsets: Default::default(),
            confine: Default::default(),
            limits: Default::default(),
        }
    }

    #[test]
    fn rejects_created_and_joined() {
        let mut s = spec(&[NsKind::Net]);
        s.join
            .insert(NsKind::Net, JoinTarget::Path("/run/netns/x".into()));
        assert!(s
            .validate()
            .unwrap_err()
            .contains("both created and joined"));
    }

    #[test]
    fn maps_need_a_user_namespace() {
        let mut s = spec(&[NsKind::Mount]);
        s.uid_map.push(IdRange {
            inside: 0,
            outside: 1000,
            count: 1,
        });
        assert!(s.validate().unwrap_err().contains("user namespace"));
    }

    #[test]
    fn overlapping_ranges_are_refused() {
        let mut s = spec(&[NsKind::User]);
        s.uid_map.push(IdRange {
            inside: 0,
            outside: 1000,
            count: 10,
        });
        s.uid_map.push(IdRange {
            inside: 5,
            outside: 5000,
            count: 10,
        });
        assert!(s.validate().unwrap_err().contains("overlap"));
        s.uid_map[1].inside = 10;
        assert!(s.validate().is_ok());
    }

    #[test]
    fn renders_as_unshare_command() {
        let mut s = spec(&[NsKind::Mount, NsKind::Pid]);
        s.join
            .insert(NsKind::Net, JoinTarget::Path("/run/netns/test_net".into()));
        assert_eq!(
            s.to_string(),
            "nsenter --net=/run/netns/test_net unshare --mount --pid --fork"
        );
    }
}
